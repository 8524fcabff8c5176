/* test_client_sharing.c - zero-copy among real processes: a named buffer read
 * byte for byte, graph export/import, plans that fit the arena, and a
 * SIGKILLed client that leaves nothing behind.
 *
 * Each test starts its own daemon (harness_fixture.h). Helper processes are
 * forked (they connect on their own) and report through exit codes and pipes;
 * they never call ck_assert. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "client_checks.h"

/* --- zero-copy among four processes ------------------------------------- */

#define ZC_NAME "zero-copy"
#define ZC_FILL (192u << 10)
#define ZC_REGION (16u << 10)
#define ZC_READERS 3
#define ZC_BYTES (ZC_FILL + ZC_READERS * ZC_REGION)

struct zc_arg {
    int idx;
    int report_fd; /* write end: the offset this reader saw */
};

static int zc_reader(void *p)
{
    struct zc_arg *a = p;
    orion_client *c = child_connect();
    if (!c)
        return 10;
    orion_buffer *b = NULL;
    int rc = orion_buffer_wait(c, ZC_NAME, 10000, &b);
    if (rc != 0)
        return 11;
    if (orion_buffer_size(b) < ZC_BYTES)
        return 12;
    const uint8_t *bytes = orion_buffer_ptr(b);
    if ((const uint8_t *)orion_client_arena_base(c) + orion_buffer_offset(b) != bytes)
        return 13;
    for (uint64_t i = 0; i < ZC_FILL; i++)
        if (bytes[i] != pat(1, i))
            return 14;
    uint8_t *mine = (uint8_t *)bytes + ZC_FILL + (size_t)a->idx * ZC_REGION;
    for (uint64_t i = 0; i < ZC_REGION; i++)
        mine[i] = pat(100 + (uint64_t)a->idx, i);
    uint64_t off = orion_buffer_offset(b);
    write_pipe(a->report_fd, &off, sizeof off);
    if (orion_buffer_release(b) != 0)
        return 15;
    orion_client_close(c);
    return 0;
}

START_TEST(test_named_buffer_is_shared_byte_for_byte_among_processes)
{
    harness_fixture_start(NULL);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t kids[ZC_READERS];
    struct zc_arg args[ZC_READERS];
    /* The readers start first and wait for the seal. */
    for (int i = 0; i < ZC_READERS; i++) {
        args[i].idx = i;
        args[i].report_fd = pfd[1];
        kids[i] = harness_fork(zc_reader, &args[i]);
        ck_assert_int_gt(kids[i], 0);
    }
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    ck_assert_int_eq(orion_buffer_create(c, ZC_NAME, ZC_BYTES, &b), 0);
    ck_assert_str_eq(orion_buffer_name(b), ZC_NAME);
    ck_assert_uint_ge(orion_buffer_size(b), ZC_BYTES);
    uint8_t *bytes = orion_buffer_ptr(b);
    ck_assert_ptr_eq(bytes, (uint8_t *)orion_client_arena_base(c) + orion_buffer_offset(b));
    for (uint64_t i = 0; i < ZC_FILL; i++)
        bytes[i] = pat(1, i);
    memset(bytes + ZC_FILL, 0, ZC_READERS * ZC_REGION);
    ck_assert_int_eq(orion_buffer_seal(b), 0);
    for (int i = 0; i < ZC_READERS; i++) {
        char what[32];
        snprintf(what, sizeof what, "reader %d", i);
        assert_child_ok(kids[i], what);
    }
    /* Every reader saw the same offset, and its writes are in our mapping
     * with no call in between. */
    for (int i = 0; i < ZC_READERS; i++) {
        uint64_t off;
        ck_assert_int_eq(read_pipe(pfd[0], &off, sizeof off, 1000), 0);
        ck_assert_uint_eq(off, orion_buffer_offset(b));
    }
    for (int r = 0; r < ZC_READERS; r++)
        for (uint64_t i = 0; i < ZC_REGION; i++)
            if (bytes[ZC_FILL + (size_t)r * ZC_REGION + i] != pat(100 + (uint64_t)r, i))
                ck_abort_msg("reader %d's byte %llu not seen by the creator", r,
                             (unsigned long long)i);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
    close(pfd[0]);
    close(pfd[1]);
}
END_TEST

/* --- graphs ------------------------------------------------------------- */

#define XFER_NAME "stage1/out"
#define XFER_BYTES 4096u

struct xfer_arg {
    int ready_fd; /* write: offset of the export */
    int go_fd;    /* read: parent is done */
};

/* Register a graph exporting XFER_NAME, fill it, report, wait, exit. */
static int exporter(void *p)
{
    struct xfer_arg *a = p;
    orion_client *c = child_connect();
    if (!c)
        return 20;
    orion_graph *g = NULL;
    if (orion_graph_new("producer", &g) != 0)
        return 21;
    uint64_t in = 1, out = 2;
    if (add_t(g, 1, 256, ORION_TENSOR_INPUT, NULL) || add_t(g, 2, XFER_BYTES, ORION_TENSOR_EXPORT, XFER_NAME) ||
        orion_graph_add_op(g, "produce", &in, 1, &out, 1))
        return 22;
    orion_plan *plan = NULL;
    if (orion_graph_register(c, g, &plan) != 0)
        return 23;
    uint8_t *x = orion_plan_tensor(plan, 2);
    if (!x)
        return 24;
    for (uint64_t i = 0; i < XFER_BYTES; i++)
        x[i] = pat(7, i);
    struct orion_tensor_placement tp;
    if (orion_plan_tensor_at(plan, 1, &tp) != 0 || tp.id != 2)
        return 25;
    write_pipe(a->ready_fd, &tp.offset, sizeof tp.offset);
    char go;
    if (a->go_fd >= 0)
        (void)!read(a->go_fd, &go, 1);
    else
        pause(); /* until killed */
    orion_plan_release(plan);
    orion_graph_free(g);
    orion_client_close(c);
    return 0;
}

static orion_plan *register_importer(orion_client *c, orion_graph **gout)
{
    orion_graph *g = graph_or_die();
    uint64_t in = 1, out = 2;
    ck_assert_int_eq(add_t(g, 1, XFER_BYTES, ORION_TENSOR_IMPORT, XFER_NAME), 0);
    ck_assert_int_eq(add_t(g, 2, 256, ORION_TENSOR_OUTPUT, NULL), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "consume", &in, 1, &out, 1), 0);
    orion_plan *plan = NULL;
    int rc = orion_graph_register(c, g, &plan);
    ck_assert_msg(rc == 0, "import graph: %d %s", rc, orion_client_error(c));
    *gout = g;
    return plan;
}

START_TEST(test_exported_tensor_is_read_by_importing_process)
{
    harness_fixture_start(NULL);
    int ready[2], go[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    struct xfer_arg a = { ready[1], go[0] };
    pid_t kid = harness_fork(exporter, &a);
    ck_assert_int_gt(kid, 0);
    uint64_t off = 0;
    ck_assert_msg(read_pipe(ready[0], &off, sizeof off, 10000) == 0, "exporter never ready");

    orion_client *c = connect_ok();
    orion_graph *g;
    orion_plan *plan = register_importer(c, &g);
    struct orion_tensor_placement tp;
    ck_assert_int_eq(orion_plan_tensor_at(plan, 0, &tp), 0);
    ck_assert_uint_eq(tp.id, 1);
    ck_assert_uint_eq(tp.offset, off); /* the same bytes, not a copy */
    const uint8_t *x = orion_plan_tensor(plan, 1);
    ck_assert_ptr_eq(x, (uint8_t *)orion_client_arena_base(c) + off);
    for (uint64_t i = 0; i < XFER_BYTES; i++)
        if (x[i] != pat(7, i))
            ck_abort_msg("imported byte %llu differs", (unsigned long long)i);
    write_pipe(go[1], "g", 1);
    assert_child_ok(kid, "exporter");
    ck_assert_int_eq(orion_plan_release(plan), 0);
    orion_graph_free(g);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

START_TEST(test_exported_buffer_outlives_dead_exporter_while_held)
{
    harness_fixture_start(NULL);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    struct xfer_arg a = { ready[1], -1 };
    pid_t kid = harness_fork(exporter, &a);
    ck_assert_int_gt(kid, 0);
    uint64_t off = 0;
    ck_assert_msg(read_pipe(ready[0], &off, sizeof off, 10000) == 0, "exporter never ready");
    orion_client *c = connect_ok();
    orion_graph *g;
    orion_plan *plan = register_importer(c, &g);

    kill(kid, SIGKILL);
    int st;
    ck_assert_int_eq(harness_wait(kid, 5000, &st), 0);
    /* The exporter's graph goes; the buffer stays while our graph holds it. */
    struct orion_stats s = { 0 };
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    do {
        ck_assert_int_eq(orion_client_stats(c, &s), 0);
        if (s.clients == 1 && s.graphs == 1)
            break;
        usleep(5000);
    } while (harness_now_ms() < deadline);
    ck_assert_uint_eq(s.clients, 1);
    ck_assert_uint_eq(s.graphs, 1);
    ck_assert_uint_eq(s.buffers, 1);
    ck_assert_uint_ge(s.used_bytes, XFER_BYTES);
    const uint8_t *x = orion_plan_tensor(plan, 1);
    for (uint64_t i = 0; i < XFER_BYTES; i++)
        if (x[i] != pat(7, i))
            ck_abort_msg("byte %llu changed after the exporter died", (unsigned long long)i);
    /* Our release is the last hold: everything goes. */
    ck_assert_int_eq(orion_plan_release(plan), 0);
    orion_graph_free(g);
    assert_clean_via(c, 1);
    orion_buffer *b = NULL;
    ck_assert_int_eq(orion_buffer_open(c, XFER_NAME, &b), -ENOENT);
    orion_client_close(c);
}
END_TEST

/* A random DAG, deterministic: op k reads 1-3 earlier tensors, writes one. */
#define DAG_OPS 40
#define DAG_T (DAG_OPS + 1)

struct dag {
    uint64_t bytes[DAG_T];
    enum orion_tensor_kind kind[DAG_T];
    uint64_t in[DAG_OPS][3];
    size_t n_in[DAG_OPS];
    uint32_t first[DAG_T], last[DAG_T]; /* computed here, independently */
};

static void make_dag(struct dag *d)
{
    uint64_t s = 12345;
#define RND() (s = s * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(s >> 33))
    for (int t = 0; t < DAG_T; t++) {
        d->bytes[t] = 64 * (1 + RND() % 512);
        d->kind[t] = ORION_TENSOR_INTERMEDIATE;
    }
    d->kind[0] = ORION_TENSOR_INPUT;
    d->kind[DAG_T - 1] = ORION_TENSOR_OUTPUT;
    for (int k = 0; k < DAG_OPS; k++) {
        /* op k writes tensor k+1; reads among tensors 0..k, biased recent */
        d->n_in[k] = 1 + RND() % 3;
        for (size_t j = 0; j < d->n_in[k]; j++) {
            uint32_t back = RND() % 6;
            d->in[k][j] = back > (uint32_t)k ? 0 : (uint64_t)k - back;
            for (size_t q = 0; q < j; q++)
                if (d->in[k][q] == d->in[k][j]) { /* read each tensor once */
                    j--;
                    d->n_in[k]--;
                    break;
                }
        }
    }
    for (int t = 0; t < DAG_T; t++) {
        d->first[t] = t == 0 ? 0 : (uint32_t)(t - 1);
        d->last[t] = d->first[t];
    }
    for (int k = 0; k < DAG_OPS; k++)
        for (size_t j = 0; j < d->n_in[k]; j++)
            if (d->last[d->in[k][j]] < (uint32_t)k)
                d->last[d->in[k][j]] = (uint32_t)k;
    d->last[DAG_T - 1] = DAG_OPS - 1;
#undef RND
}

START_TEST(test_plan_pointers_are_in_arena_and_live_tensors_do_not_overlap)
{
    harness_fixture_start(NULL);
    static struct dag d;
    make_dag(&d);
    orion_client *c = connect_ok();
    orion_graph *g = graph_or_die();
    for (int t = 0; t < DAG_T; t++)
        ck_assert_int_eq(add_t(g, 1000 + (uint64_t)t, d.bytes[t], d.kind[t], NULL), 0);
    for (int k = 0; k < DAG_OPS; k++) {
        uint64_t ins[3], out = 1000 + (uint64_t)k + 1;
        for (size_t j = 0; j < d.n_in[k]; j++)
            ins[j] = 1000 + d.in[k][j];
        ck_assert_int_eq(orion_graph_add_op(g, "op", ins, d.n_in[k], &out, 1), 0);
    }
    orion_plan *p = NULL;
    int rc = orion_graph_register(c, g, &p);
    ck_assert_msg(rc == 0, "register: %d %s", rc, orion_client_error(c));
    ck_assert_uint_eq(orion_plan_tensor_count(p), DAG_T);

    uint8_t *base = orion_client_arena_base(c);
    uint64_t arena = orion_client_arena_bytes(c);
    struct orion_tensor_placement pl[DAG_T];
    for (int t = 0; t < DAG_T; t++) {
        ck_assert_int_eq(orion_plan_tensor_at(p, (size_t)t, &pl[t]), 0);
        ck_assert_uint_eq(pl[t].id, 1000 + (uint64_t)t);
        ck_assert_uint_eq(pl[t].bytes, d.bytes[t]);
        ck_assert_msg(pl[t].first_op == d.first[t] && pl[t].last_op == d.last[t],
                      "tensor %d: lifetime [%u,%u], expected [%u,%u]", t, pl[t].first_op,
                      pl[t].last_op, d.first[t], d.last[t]);
        ck_assert_uint_eq(pl[t].offset % 64, 0);
        ck_assert_uint_le(pl[t].offset + pl[t].bytes, arena);
        ck_assert_ptr_eq(orion_plan_tensor(p, pl[t].id), base + pl[t].offset);
        ck_assert_uint_ge(pl[t].offset, orion_plan_workspace_offset(p));
        ck_assert_uint_le(pl[t].offset + pl[t].bytes,
                          orion_plan_workspace_offset(p) + orion_plan_peak_bytes(p));
    }
    ck_assert_ptr_null(orion_plan_tensor(p, 999999));
    ck_assert_int_eq(orion_plan_tensor_at(p, DAG_T, &pl[0]), -ERANGE);
    ck_assert_int_eq(orion_plan_tensor_at(p, 0, &pl[0]), 0);

    /* Tensors live at the same time never share a byte. */
    for (int i = 0; i < DAG_T; i++)
        for (int j = i + 1; j < DAG_T; j++) {
            bool live_together = d.first[i] <= d.last[j] && d.first[j] <= d.last[i];
            bool bytes_overlap = pl[i].offset < pl[j].offset + pl[j].bytes &&
                                 pl[j].offset < pl[i].offset + pl[i].bytes;
            ck_assert_msg(!(live_together && bytes_overlap),
                          "tensors %d and %d live together and overlap", i, j);
        }
    /* The lower bound, computed here: the largest sum of live sizes. */
    uint64_t lb = 0, total = 0;
    for (int k = 0; k < DAG_OPS; k++) {
        uint64_t sum = 0;
        for (int t = 0; t < DAG_T; t++)
            if (d.first[t] <= (uint32_t)k && (uint32_t)k <= d.last[t])
                sum += d.bytes[t];
        if (sum > lb)
            lb = sum;
    }
    for (int t = 0; t < DAG_T; t++)
        total += d.bytes[t];
    ck_assert_uint_eq(orion_plan_lower_bound_bytes(p), lb);
    ck_assert_uint_ge(orion_plan_peak_bytes(p), lb);
    ck_assert_uint_le(orion_plan_peak_bytes(p), total);
    ck_assert_ptr_nonnull(orion_plan_policy(p));

    /* Run the graph: every op checks its inputs still hold what their
     * writer put there, then writes its output. */
    uint8_t *t0 = orion_plan_tensor(p, 1000);
    for (uint64_t i = 0; i < d.bytes[0]; i++)
        t0[i] = pat(1000, i);
    for (int k = 0; k < DAG_OPS; k++) {
        for (size_t j = 0; j < d.n_in[k]; j++) {
            uint64_t t = d.in[k][j];
            const uint8_t *x = orion_plan_tensor(p, 1000 + t);
            for (uint64_t i = 0; i < d.bytes[t]; i++)
                if (x[i] != pat(1000 + t, i))
                    ck_abort_msg("op %d: input tensor %llu overwritten at byte %llu", k,
                                 (unsigned long long)t, (unsigned long long)i);
        }
        uint64_t o = (uint64_t)k + 1;
        uint8_t *y = orion_plan_tensor(p, 1000 + o);
        for (uint64_t i = 0; i < d.bytes[o]; i++)
            y[i] = pat(1000 + o, i);
    }
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.graphs, 1);
    ck_assert_uint_ge(st.used_bytes, orion_plan_peak_bytes(p));
    ck_assert_int_eq(orion_plan_release(p), 0);
    ck_assert_int_eq(orion_plan_release(NULL), 0);
    orion_graph_free(g);
    orion_graph_free(NULL);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- a client killed in the middle of its work -------------------------- */

static int hoarder(void *p)
{
    int ready_fd = *(int *)p;
    orion_client *c = child_connect();
    if (!c)
        return 30;
    orion_graph *g = NULL;
    uint64_t a = 1, b = 2, x = 3;
    if (orion_graph_new("hoard", &g) || add_t(g, 1, 64 << 10, ORION_TENSOR_INPUT, NULL) ||
        add_t(g, 2, 128 << 10, ORION_TENSOR_INTERMEDIATE, NULL) ||
        add_t(g, 3, 32 << 10, ORION_TENSOR_EXPORT, "hoarded-export") ||
        orion_graph_add_op(g, "a", &a, 1, &b, 1) || orion_graph_add_op(g, "b", &b, 1, &x, 1))
        return 31;
    orion_plan *p1 = NULL;
    if (orion_graph_register(c, g, &p1) != 0)
        return 32;
    orion_buffer *b1 = NULL, *b2 = NULL, *b3 = NULL;
    if (orion_buffer_create(c, "hoard-unsealed", 256 << 10, &b1) ||
        orion_buffer_create(c, "hoard-sealed", 16 << 10, &b2) || orion_buffer_seal(b2) ||
        orion_buffer_open(c, "hoard-sealed", &b3))
        return 33;
    write_pipe(ready_fd, "r", 1);
    for (;;)
        pause();
}

START_TEST(test_sigkilled_client_leaves_nothing_allocated)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    assert_clean_via(c, 1);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t kid = harness_fork(hoarder, &ready[1]);
    ck_assert_int_gt(kid, 0);
    char r;
    ck_assert_msg(read_pipe(ready[0], &r, 1, 10000) == 0, "hoarder never ready");
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.clients, 2);
    ck_assert_uint_eq(st.graphs, 1);
    ck_assert_uint_eq(st.buffers, 3);
    ck_assert_uint_ge(st.used_bytes, (64 + 128 + 32 + 256 + 16) << 10);
    kill(kid, SIGKILL);
    int ws;
    ck_assert_int_eq(harness_wait(kid, 5000, &ws), 0);
    ck_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    assert_clean_via(c, 1);
    /* And the names are free for the next one. */
    orion_buffer *b = NULL;
    ck_assert_int_eq(orion_buffer_open(c, "hoard-sealed", &b), -ENOENT);
    ck_assert_int_eq(orion_buffer_create(c, "hoarded-export", 64, &b), 0);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    orion_client_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = harness_fixture_tcase("sharing", 60);
    tcase_add_test(tc, test_named_buffer_is_shared_byte_for_byte_among_processes);
    tcase_add_test(tc, test_exported_tensor_is_read_by_importing_process);
    tcase_add_test(tc, test_exported_buffer_outlives_dead_exporter_while_held);
    tcase_add_test(tc, test_plan_pointers_are_in_arena_and_live_tensors_do_not_overlap);
    tcase_add_test(tc, test_sigkilled_client_leaves_nothing_allocated);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
