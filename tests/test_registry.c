/* test_registry.c - Check suite "registry": named buffers, holds, seal and
 * waits (daemon/registry.c), over a real buddy allocator.
 *
 * Expected figures come from the case's own arithmetic (sizes rounded to the
 * 4 KiB block) or from a shadow model of holds kept by the test.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buddy.h"
#include "registry.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)
#define ARENA (1 * MiB)
#define BLOCK (4 * KiB)

static buddy *B;
static struct registry *R;
static struct reg_owner O1, O2, O3;
static char err[512];

static void setup(void)
{
    ck_assert_int_eq(buddy_create(ARENA, BLOCK, &B), 0);
    ck_assert_int_eq(registry_new(B, &R), 0);
    memset(&O1, 0, sizeof(O1));
    memset(&O2, 0, sizeof(O2));
    memset(&O3, 0, sizeof(O3));
    O1.id = 1;
    O2.id = 2;
    O3.id = 3;
    err[0] = '\0';
}

static void teardown(void)
{
    registry_free(R);
    buddy_destroy(B);
}

static uint64_t used(void)
{
    struct buddy_stats st;
    buddy_stats_get(B, &st);
    return st.used_bytes;
}

static void assert_buddy_ok(void)
{
    char e[256] = "";
    if (buddy_check(B, e, sizeof(e)) != 0)
        ck_abort_msg("buddy_check: %s", e);
}

static struct reg_buffer *create(const char *name, uint64_t bytes, struct reg_owner *o)
{
    struct reg_buffer *b = NULL;
    int rc = registry_create(R, name, bytes, 0, o, REG_HOLD_CONN, 0, &b, err, sizeof(err));
    ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, err);
    return b;
}

/* A wait's outcome, recorded by the callback. */
struct outcome {
    int calls;
    int status;
    struct reg_buffer *buf;
};

static void record_cb(struct reg_wait *w, int status, struct reg_buffer *b)
{
    struct outcome *o = w->data;
    o->calls++;
    o->status = status;
    o->buf = b;
}

static void wait_init(struct reg_wait *w, struct reg_owner *o, enum reg_wait_for what,
                      struct outcome *out)
{
    memset(w, 0, sizeof(*w));
    memset(out, 0, sizeof(*out));
    w->owner = o;
    w->what = what;
    w->cb = record_cb;
    w->data = out;
}

/* ------------------------------------------------------------------------- */

START_TEST(test_registry_name_rules)
{
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    long_name[255] = '\0';
    ck_assert(registry_name_valid(long_name));
    long_name[255] = 'a';
    long_name[256] = '\0';
    ck_assert(!registry_name_valid(long_name));
    ck_assert(registry_name_valid("frames/0:camera"));
    ck_assert(!registry_name_valid(""));
    ck_assert(!registry_name_valid(NULL));
    ck_assert(!registry_name_valid("has space"));
    ck_assert(!registry_name_valid("tab\there"));
    ck_assert(!registry_name_valid("caf\xc3\xa9"));
    ck_assert(!registry_name_valid("del\x7f"));
}
END_TEST

START_TEST(test_registry_create_allocates_rounded_block_and_counts_creator_bytes)
{
    struct reg_buffer *b = create("a", 5000, &O1);
    ck_assert_uint_eq(b->bytes, 5000);
    ck_assert_uint_eq(b->alloc_bytes, 2 * BLOCK); /* 5000 rounded up to 4 KiB blocks */
    ck_assert_uint_eq(O1.used_bytes, 2 * BLOCK);
    ck_assert_uint_eq(used(), 2 * BLOCK);
    ck_assert_uint_eq(b->off % 64, 0);
    ck_assert(!b->sealed);
    ck_assert_uint_eq(b->n_holders, 1);
    ck_assert_uint_eq(registry_holds(b, &O1, REG_HOLD_CONN), 1);
    ck_assert_uint_eq(registry_count(R), 1);
    ck_assert_ptr_eq(registry_find(R, "a"), b);
    ck_assert_ptr_null(registry_find(R, "b"));
    assert_buddy_ok();
}
END_TEST

START_TEST(test_registry_create_refuses_bad_arguments_and_duplicates)
{
    struct reg_buffer *b = NULL;
    create("dup", 100, &O1);
    ck_assert_int_eq(registry_create(R, "dup", 100, 0, &O2, REG_HOLD_CONN, 0, &b, err,
                                     sizeof(err)), -EEXIST);
    ck_assert_ptr_nonnull(strstr(err, "dup"));
    ck_assert_int_eq(registry_create(R, "bad name", 100, 0, &O2, REG_HOLD_CONN, 0, &b, err,
                                     sizeof(err)), -EINVAL);
    ck_assert_int_eq(registry_create(R, "zero", 0, 0, &O2, REG_HOLD_CONN, 0, &b, err,
                                     sizeof(err)), -EINVAL);
    ck_assert_int_eq(registry_create(R, "align3", 100, 3, &O2, REG_HOLD_CONN, 0, &b, err,
                                     sizeof(err)), -EINVAL);
    ck_assert_int_eq(registry_create(R, "align2M", 100, 2 * MiB, &O2, REG_HOLD_CONN, 0, &b, err,
                                     sizeof(err)), -EINVAL);
    /* Failed creates leave nothing: one buffer, one block, O2 charged nothing. */
    ck_assert_uint_eq(registry_count(R), 1);
    ck_assert_uint_eq(used(), BLOCK);
    ck_assert_uint_eq(O2.used_bytes, 0);
    ck_assert_ptr_null(b);
}
END_TEST

START_TEST(test_registry_create_honours_large_alignment)
{
    create("pad", 100, &O1); /* occupies offset 0 */
    struct reg_buffer *b = NULL;
    ck_assert_int_eq(registry_create(R, "big-align", 100, 64 * KiB, &O1, REG_HOLD_CONN, 0, &b,
                                     err, sizeof(err)), 0);
    ck_assert_uint_eq(b->off % (64 * KiB), 0);
    ck_assert_uint_ne(b->off, 0);
    assert_buddy_ok();
}
END_TEST

START_TEST(test_registry_arena_exhaustion_is_enospc_naming_sizes)
{
    struct reg_buffer *b = NULL;
    create("half", ARENA / 2, &O1);
    int rc = registry_create(R, "too-big", ARENA / 2 + 1, 0, &O1, REG_HOLD_CONN, 0, &b, err,
                             sizeof(err));
    ck_assert_int_eq(rc, -ENOSPC);
    char asked[64], freeb[64];
    snprintf(asked, sizeof(asked), "%llu", (unsigned long long)(ARENA / 2 + BLOCK));
    snprintf(freeb, sizeof(freeb), "%llu free", (unsigned long long)(ARENA / 2));
    ck_assert_msg(strstr(err, asked) && strstr(err, freeb), "message: %s", err);
    ck_assert_int_eq(registry_create(R, "way-too-big", 4 * ARENA, 0, &O1, REG_HOLD_CONN, 0, &b,
                                     err, sizeof(err)), -ENOSPC);
    ck_assert_uint_eq(registry_count(R), 1);
    ck_assert_uint_eq(O1.used_bytes, ARENA / 2);
}
END_TEST

START_TEST(test_registry_client_limit_counts_what_the_creator_allocated)
{
    struct reg_buffer *b = NULL;
    uint64_t limit = 3 * BLOCK;
    ck_assert_int_eq(registry_create(R, "a", 2 * BLOCK, 0, &O1, REG_HOLD_CONN, limit, &b, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(registry_create(R, "b", 2 * BLOCK, 0, &O1, REG_HOLD_CONN, limit, &b, err,
                                     sizeof(err)), -ENOSPC);
    ck_assert_msg(strstr(err, "limit") != NULL, "message: %s", err);
    /* Another owner has its own budget. */
    ck_assert_int_eq(registry_create(R, "b", 2 * BLOCK, 0, &O2, REG_HOLD_CONN, limit, &b, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(registry_create(R, "c", BLOCK, 0, &O1, REG_HOLD_CONN, limit, &b, err,
                                     sizeof(err)), 0);
    ck_assert_uint_eq(O1.used_bytes, 3 * BLOCK);
    /* Freeing gives the budget back. */
    ck_assert_int_eq(registry_release(R, registry_find(R, "a"), &O1, REG_HOLD_CONN), 0);
    ck_assert_uint_eq(O1.used_bytes, BLOCK);
    ck_assert_int_eq(registry_create(R, "d", 2 * BLOCK, 0, &O1, REG_HOLD_CONN, limit, &b, err,
                                     sizeof(err)), 0);
}
END_TEST

START_TEST(test_registry_last_release_frees_bytes_and_name)
{
    struct reg_buffer *b = create("x", 100, &O1);
    ck_assert_int_eq(registry_hold(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_int_eq(registry_hold(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_uint_eq(b->n_holders, 2);
    ck_assert_uint_eq(registry_holds(b, &O2, REG_HOLD_CONN), 2);
    ck_assert_int_eq(registry_release(R, b, &O1, REG_HOLD_CONN), 0);
    ck_assert_int_eq(registry_release(R, b, &O1, REG_HOLD_CONN), -ENOENT);
    ck_assert_uint_eq(O1.used_bytes, BLOCK); /* still allocated: O2 holds it */
    ck_assert_int_eq(registry_release(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_ptr_nonnull(registry_find(R, "x"));
    ck_assert_int_eq(registry_release(R, b, &O2, REG_HOLD_CONN), 0); /* the last hold */
    ck_assert_ptr_null(registry_find(R, "x"));
    ck_assert_uint_eq(registry_count(R), 0);
    ck_assert_uint_eq(used(), 0);
    ck_assert_uint_eq(O1.used_bytes, 0);
    create("x", 100, &O3); /* the name is free again */
    assert_buddy_ok();
}
END_TEST

START_TEST(test_registry_graph_and_connection_holds_are_counted_apart)
{
    struct reg_buffer *b = NULL;
    ck_assert_int_eq(registry_create(R, "exp", 100, 0, &O1, REG_HOLD_GRAPH, 0, &b, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(registry_release(R, b, &O1, REG_HOLD_CONN), -ENOENT);
    ck_assert_int_eq(registry_hold(R, b, &O1, REG_HOLD_CONN), 0);
    ck_assert_uint_eq(b->n_holders, 1);
    ck_assert_int_eq(registry_release(R, b, &O1, REG_HOLD_GRAPH), 0);
    ck_assert_ptr_eq(registry_find(R, "exp"), b); /* the connection hold keeps it */
    ck_assert_int_eq(registry_release(R, b, &O1, REG_HOLD_CONN), 0);
    ck_assert_ptr_null(registry_find(R, "exp"));
}
END_TEST

START_TEST(test_registry_seal_only_by_creator_and_once)
{
    struct reg_buffer *b = create("s", 100, &O1);
    ck_assert_int_eq(registry_hold(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_int_eq(registry_seal(R, b, &O2), -EPERM);
    ck_assert(!b->sealed);
    ck_assert_int_eq(registry_seal(R, b, &O1), 0);
    ck_assert(b->sealed);
    ck_assert_int_eq(registry_seal(R, b, &O1), -EALREADY);
}
END_TEST

START_TEST(test_registry_wait_sealed_resolves_on_seal_with_a_hold)
{
    struct reg_wait w;
    struct outcome out;
    struct reg_buffer *got = NULL;
    wait_init(&w, &O2, REG_WAIT_SEALED, &out);
    /* Not there yet: a non-blocking check times out, a blocking one pends. */
    ck_assert_int_eq(registry_wait(R, &w, "later", false, &got), -ETIMEDOUT);
    ck_assert_int_eq(registry_wait(R, &w, "later", true, &got), REG_WAIT_PENDING);
    struct reg_buffer *b = create("later", 100, &O1);
    ck_assert_int_eq(out.calls, 0); /* exists, unsealed */
    ck_assert_int_eq(registry_seal(R, b, &O1), 0);
    ck_assert_int_eq(out.calls, 1);
    ck_assert_int_eq(out.status, 0);
    ck_assert_ptr_eq(out.buf, b);
    ck_assert_uint_eq(registry_holds(b, &O2, REG_HOLD_CONN), 1);
    ck_assert_uint_eq(b->n_holders, 2);
    /* Already sealed: satisfied at once, one more hold. */
    struct outcome out2;
    wait_init(&w, &O3, REG_WAIT_SEALED, &out2);
    ck_assert_int_eq(registry_wait(R, &w, "later", false, &got), 0);
    ck_assert_ptr_eq(got, b);
    ck_assert_int_eq(out2.calls, 0);
    ck_assert_uint_eq(registry_holds(b, &O3, REG_HOLD_CONN), 1);
}
END_TEST

START_TEST(test_registry_wait_sealed_hears_epipe_when_creator_leaves_unsealed)
{
    struct reg_wait w;
    struct outcome out;
    struct reg_buffer *got = NULL;
    struct reg_buffer *b = create("p", 100, &O1);
    ck_assert_int_eq(registry_hold(R, b, &O3, REG_HOLD_CONN), 0); /* keeps it alive */
    wait_init(&w, &O2, REG_WAIT_SEALED, &out);
    ck_assert_int_eq(registry_wait(R, &w, "p", true, &got), REG_WAIT_PENDING);
    registry_owner_gone(R, &O1);
    ck_assert_int_eq(out.calls, 1);
    ck_assert_int_eq(out.status, -EPIPE);
    ck_assert(b->orphaned);
    ck_assert_uint_eq(registry_holds(b, &O2, REG_HOLD_CONN), 0);
    /* Later waits on the orphan fail at once rather than wait for ever. */
    struct outcome out2;
    wait_init(&w, &O2, REG_WAIT_SEALED, &out2);
    ck_assert_int_eq(registry_wait(R, &w, "p", true, &got), -EPIPE);
    ck_assert_int_eq(out2.calls, 0);
}
END_TEST

START_TEST(test_registry_wait_sealed_by_unsealing_creator_is_edeadlk)
{
    struct reg_wait w;
    struct outcome out;
    struct reg_buffer *got = NULL;
    struct reg_buffer *b = create("own", 100, &O1);
    wait_init(&w, &O1, REG_WAIT_SEALED, &out);
    ck_assert_int_eq(registry_wait(R, &w, "own", true, &got), -EDEADLK);
    ck_assert(!w.pending);
    ck_assert_int_eq(registry_wait(R, &w, "own", false, &got), -ETIMEDOUT);
    /* Another connection may wait for it. */
    wait_init(&w, &O2, REG_WAIT_SEALED, &out);
    ck_assert_int_eq(registry_wait(R, &w, "own", true, &got), REG_WAIT_PENDING);
    ck_assert_int_eq(registry_seal(R, b, &O1), 0);
    ck_assert_int_eq(out.calls, 1);
    ck_assert_int_eq(out.status, 0);
}
END_TEST

START_TEST(test_registry_wait_unused_needs_a_hold_and_fires_on_last_other_release)
{
    struct reg_wait w;
    struct outcome out;
    struct reg_buffer *got = NULL;
    struct reg_buffer *b = create("u", 100, &O1);
    wait_init(&w, &O2, REG_WAIT_UNUSED, &out);
    ck_assert_int_eq(registry_wait(R, &w, "u", true, &got), -ENOENT); /* O2 holds nothing */
    wait_init(&w, &O1, REG_WAIT_UNUSED, &out);
    /* Nobody else ever held it: not yet "unused by the others". */
    ck_assert_int_eq(registry_wait(R, &w, "u", false, &got), -ETIMEDOUT);
    ck_assert_int_eq(registry_hold(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_int_eq(registry_hold(R, b, &O3, REG_HOLD_GRAPH), 0);
    ck_assert_int_eq(registry_wait(R, &w, "u", true, &got), REG_WAIT_PENDING);
    ck_assert_int_eq(registry_release(R, b, &O2, REG_HOLD_CONN), 0);
    ck_assert_int_eq(out.calls, 0); /* O3's graph still holds it */
    ck_assert_int_eq(registry_release(R, b, &O3, REG_HOLD_GRAPH), 0);
    ck_assert_int_eq(out.calls, 1);
    ck_assert_int_eq(out.status, 0);
    ck_assert_ptr_eq(out.buf, b);
    /* Now satisfied at once. */
    struct outcome out2;
    wait_init(&w, &O1, REG_WAIT_UNUSED, &out2);
    ck_assert_int_eq(registry_wait(R, &w, "u", false, &got), 0);
}
END_TEST

START_TEST(test_registry_wait_cancel_and_owner_gone_withdraw_waits_silently)
{
    struct reg_wait w1, w2;
    struct outcome o1, o2;
    struct reg_buffer *got = NULL;
    wait_init(&w1, &O2, REG_WAIT_SEALED, &o1);
    wait_init(&w2, &O3, REG_WAIT_SEALED, &o2);
    ck_assert_int_eq(registry_wait(R, &w1, "n", true, &got), REG_WAIT_PENDING);
    ck_assert_int_eq(registry_wait(R, &w2, "n", true, &got), REG_WAIT_PENDING);
    registry_wait_cancel(R, &w1);
    registry_wait_cancel(R, &w1); /* no-op */
    registry_owner_gone(R, &O3);
    ck_assert(!w1.pending);
    ck_assert(!w2.pending);
    struct reg_buffer *b = create("n", 100, &O1);
    ck_assert_int_eq(registry_seal(R, b, &O1), 0);
    ck_assert_int_eq(o1.calls, 0);
    ck_assert_int_eq(o2.calls, 0);
    ck_assert_uint_eq(b->n_holders, 1);
}
END_TEST

/* Many connections waiting on one name (and more on another, ahead of them
 * in the registry's list): one seal wakes each of the first exactly once,
 * with its own hold, and none of the others; a creator leaving unsealed
 * tells each of its waiters -EPIPE exactly once. And quickly: the seal took
 * ~0.5 s of CPU when each wake rescanned the list from its head and each new
 * hold walked all the buffer's holders; it takes ~1 ms in one pass. The bound
 * leaves room for sanitizer builds and slow machines ($ORION_TEST_SLOWDOWN). */
#define MANY_WAITERS 20000
#define OTHER_WAITERS 5000
#define SEAL_CPU_MS_MAX 100

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

START_TEST(test_registry_seal_wakes_many_waiters_each_once_in_one_pass)
{
    size_t n = MANY_WAITERS + OTHER_WAITERS;
    struct reg_owner *own = calloc(n, sizeof(*own));
    struct reg_wait *w = calloc(n, sizeof(*w));
    struct outcome *out = calloc(n, sizeof(*out));
    ck_assert(own != NULL && w != NULL && out != NULL);
    struct reg_buffer *got = NULL;
    for (size_t i = 0; i < n; i++) {
        own[i].id = 100 + i;
        wait_init(&w[i], &own[i], REG_WAIT_SEALED, &out[i]);
        const char *name = i < MANY_WAITERS ? "many" : "other";
        ck_assert_int_eq(registry_wait(R, &w[i], name, true, &got), REG_WAIT_PENDING);
    }
    struct reg_buffer *b = create("many", 100, &O1);
    double t0 = thread_cpu_ms();
    ck_assert_int_eq(registry_seal(R, b, &O1), 0);
    double spent = thread_cpu_ms() - t0;
    const char *slow = getenv("ORION_TEST_SLOWDOWN");
    int factor = slow != NULL && atoi(slow) > 0 ? atoi(slow) : 1;
    ck_assert_msg(spent < (double)SEAL_CPU_MS_MAX * factor,
                  "waking %d waiters took %.1f ms of CPU (bound %d ms)", MANY_WAITERS, spent,
                  SEAL_CPU_MS_MAX * factor);
    for (size_t i = 0; i < MANY_WAITERS; i++) {
        ck_assert_msg(out[i].calls == 1, "waiter %zu called %d times", i, out[i].calls);
        ck_assert_int_eq(out[i].status, 0);
        ck_assert_ptr_eq(out[i].buf, b);
        ck_assert(!w[i].pending);
        ck_assert_uint_eq(registry_holds(b, &own[i], REG_HOLD_CONN), 1);
    }
    ck_assert_uint_eq(b->n_holders, MANY_WAITERS + 1);
    for (size_t i = MANY_WAITERS; i < n; i++) {
        ck_assert_int_eq(out[i].calls, 0);
        ck_assert(w[i].pending);
    }
    /* The creator of "other" leaves before sealing: -EPIPE for each. */
    struct reg_buffer *b2 = create("other", 100, &O2);
    ck_assert_int_eq(registry_hold(R, b2, &O3, REG_HOLD_CONN), 0); /* keeps it alive */
    registry_owner_gone(R, &O2);
    for (size_t i = MANY_WAITERS; i < n; i++) {
        ck_assert_msg(out[i].calls == 1, "waiter %zu called %d times", i, out[i].calls);
        ck_assert_int_eq(out[i].status, -EPIPE);
        ck_assert(!w[i].pending);
    }
    for (size_t i = 0; i < MANY_WAITERS; i++) {
        ck_assert_int_eq(out[i].calls, 1);
        registry_owner_gone(R, &own[i]);
    }
    ck_assert_uint_eq(b->n_holders, 1);
    free(out);
    free(w);
    free(own);
}
END_TEST

START_TEST(test_registry_owner_gone_drops_every_hold_and_exported_buffers_live_on)
{
    struct reg_buffer *kept = NULL, *gone = NULL;
    ck_assert_int_eq(registry_create(R, "kept", 100, 0, &O1, REG_HOLD_GRAPH, 0, &kept, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(registry_create(R, "gone", 9000, 0, &O1, REG_HOLD_CONN, 0, &gone, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(registry_hold(R, gone, &O1, REG_HOLD_CONN), 0);
    ck_assert_int_eq(registry_hold(R, kept, &O2, REG_HOLD_GRAPH), 0);
    ck_assert_uint_eq(registry_owner_conn_holds(&O1), 2);
    ck_assert_uint_eq(used(), BLOCK + 3 * BLOCK);
    registry_owner_gone(R, &O1);
    ck_assert_ptr_null(registry_find(R, "gone"));
    ck_assert_ptr_eq(registry_find(R, "kept"), kept);
    ck_assert_ptr_null(kept->creator);
    ck_assert_uint_eq(kept->n_holders, 1);
    ck_assert_uint_eq(used(), BLOCK);
    ck_assert_int_eq(registry_seal(R, kept, &O1), -EPERM); /* creator gone */
    registry_owner_gone(R, &O2);
    ck_assert_uint_eq(registry_count(R), 0);
    ck_assert_uint_eq(used(), 0);
    assert_buddy_ok();
}
END_TEST

/* Random operations by four owners against a shadow table of hold counts:
 * a buffer exists exactly while the shadow says someone holds it, the
 * allocator's used bytes are the sum of the live buffers' blocks, and each
 * owner's used_bytes is the sum of the live buffers it created (while alive). */
START_TEST(test_registry_random_ops_match_shadow_model)
{
    enum { N_OWN = 4, N_NAMES = 12, STEPS = 4000 };
    struct reg_owner own[N_OWN];
    uint64_t conn[N_NAMES][N_OWN], graph[N_NAMES][N_OWN];
    int creator[N_NAMES];
    uint64_t size[N_NAMES];
    bool alive[N_OWN];
    memset(conn, 0, sizeof(conn));
    memset(graph, 0, sizeof(graph));
    for (int o = 0; o < N_OWN; o++) {
        memset(&own[o], 0, sizeof(own[o]));
        own[o].id = 100 + (uint64_t)o;
        alive[o] = true;
    }
    for (int n = 0; n < N_NAMES; n++)
        creator[n] = -1;
    unsigned seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        int o = (int)(r % N_OWN), n = (int)((r / N_OWN) % N_NAMES), op = (int)((r / 64) % 6);
        char name[16];
        snprintf(name, sizeof(name), "n%d", n);
        if (!alive[o]) {
            memset(&own[o], 0, sizeof(own[o]));
            own[o].id = 100 + (uint64_t)step * N_OWN + (uint64_t)o; /* a new connection */
            alive[o] = true;
        }
        struct reg_buffer *b = registry_find(R, name);
        uint64_t total = 0;
        for (int k = 0; k < N_OWN; k++)
            total += conn[n][k] + graph[n][k];
        ck_assert_msg((b != NULL) == (total > 0), "step %d: %s exists=%d holds=%llu", step,
                      name, b != NULL, (unsigned long long)total);
        enum reg_hold_kind kind = (r & 1) ? REG_HOLD_GRAPH : REG_HOLD_CONN;
        uint64_t (*tab)[N_OWN] = kind == REG_HOLD_CONN ? conn : graph;
        switch (op) {
        case 0: {
            uint64_t bytes = 1 + (r % (40 * KiB));
            struct reg_buffer *nb = NULL;
            int rc = registry_create(R, name, bytes, 0, &own[o], kind, 0, &nb, err, sizeof(err));
            if (b != NULL) {
                ck_assert_int_eq(rc, -EEXIST);
            } else if (rc == 0) {
                tab[n][o] = 1;
                creator[n] = o;
                size[n] = nb->alloc_bytes;
                ck_assert_uint_eq(size[n], (bytes + BLOCK - 1) / BLOCK * BLOCK);
            } else {
                ck_assert_int_eq(rc, -ENOSPC);
            }
            break;
        }
        case 1:
        case 2:
            if (b != NULL) {
                ck_assert_int_eq(registry_hold(R, b, &own[o], kind), 0);
                tab[n][o]++;
            }
            break;
        case 3:
        case 4:
            if (b != NULL) {
                int rc = registry_release(R, b, &own[o], kind);
                ck_assert_int_eq(rc, tab[n][o] > 0 ? 0 : -ENOENT);
                if (rc == 0)
                    tab[n][o]--;
            }
            break;
        case 5:
            if ((r >> 20) % 8 == 0) {
                registry_owner_gone(R, &own[o]);
                for (int k = 0; k < N_NAMES; k++) {
                    conn[k][o] = graph[k][o] = 0;
                    if (creator[k] == o)
                        creator[k] = -1;
                }
                alive[o] = false;
            }
            break;
        }
        /* Byte accounting. */
        uint64_t sum = 0, per[N_OWN] = {0};
        for (int k = 0; k < N_NAMES; k++) {
            uint64_t t = 0;
            for (int q = 0; q < N_OWN; q++)
                t += conn[k][q] + graph[k][q];
            if (t == 0) {
                creator[k] = -1;
                continue;
            }
            sum += size[k];
            if (creator[k] >= 0)
                per[creator[k]] += size[k];
        }
        ck_assert_uint_eq(used(), sum);
        for (int q = 0; q < N_OWN; q++)
            if (alive[q])
                ck_assert_uint_eq(own[q].used_bytes, per[q]);
    }
    assert_buddy_ok();
    for (int o = 0; o < N_OWN; o++)
        registry_owner_gone(R, &own[o]);
    ck_assert_uint_eq(registry_count(R), 0);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_registry_name_rules);
    tcase_add_test(tc, test_registry_create_allocates_rounded_block_and_counts_creator_bytes);
    tcase_add_test(tc, test_registry_create_refuses_bad_arguments_and_duplicates);
    tcase_add_test(tc, test_registry_create_honours_large_alignment);
    tcase_add_test(tc, test_registry_arena_exhaustion_is_enospc_naming_sizes);
    tcase_add_test(tc, test_registry_client_limit_counts_what_the_creator_allocated);
    tcase_add_test(tc, test_registry_last_release_frees_bytes_and_name);
    tcase_add_test(tc, test_registry_graph_and_connection_holds_are_counted_apart);
    tcase_add_test(tc, test_registry_seal_only_by_creator_and_once);
    tcase_add_test(tc, test_registry_wait_sealed_resolves_on_seal_with_a_hold);
    tcase_add_test(tc, test_registry_wait_sealed_hears_epipe_when_creator_leaves_unsealed);
    tcase_add_test(tc, test_registry_wait_sealed_by_unsealing_creator_is_edeadlk);
    tcase_add_test(tc, test_registry_wait_unused_needs_a_hold_and_fires_on_last_other_release);
    tcase_add_test(tc, test_registry_wait_cancel_and_owner_gone_withdraw_waits_silently);
    tcase_add_test(tc, test_registry_seal_wakes_many_waiters_each_once_in_one_pass);
    tcase_add_test(tc, test_registry_owner_gone_drops_every_hold_and_exported_buffers_live_on);
    tcase_add_test(tc, test_registry_random_ops_match_shadow_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
