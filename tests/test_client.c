/* test_client.c - liborion-client against a real orionrtd, with real client
 * processes: zero-copy sharing, graph export/import, crash clean-up, waits,
 * fork safety, the examples and orionctl.
 *
 * Each test starts its own daemon (harness.h). Helper processes are forked
 * (they connect on their own) and report through exit codes and pipes; they
 * never call ck_assert. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "harness_fixture.h"

#define ARENA_16M ((uint64_t)16 << 20)
#define CHILD_MS 15000

static orion_client *connect_ok(void)
{
    orion_client *c = NULL;
    char err[256] = "";
    int rc = orion_client_connect(D.socket_path, &c, err, sizeof err);
    ck_assert_msg(rc == 0 && c, "connect %s: %d %s", D.socket_path, rc, err);
    return c;
}

/* Poll until the daemon's figures are back to empty with `clients` clients
 * (c's own connection included). */
static void assert_clean_via(orion_client *c, uint32_t clients)
{
    struct orion_stats st = { 0 };
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    for (;;) {
        int rc = orion_client_stats(c, &st);
        ck_assert_msg(rc == 0, "stats: %d %s", rc, orion_client_error(c));
        if (st.used_bytes == 0 && st.graphs == 0 && st.buffers == 0 && st.allocations == 0 &&
            st.clients == clients)
            return;
        ck_assert_msg(harness_now_ms() < deadline,
                      "not clean: used_bytes=%llu graphs=%u buffers=%u allocations=%llu "
                      "clients=%u (want %u)",
                      (unsigned long long)st.used_bytes, st.graphs, st.buffers,
                      (unsigned long long)st.allocations, st.clients, clients);
        usleep(5000);
    }
}

/* Read n bytes from a pipe within timeout_ms. Returns 0 or -1. */
static int read_pipe(int fd, void *buf, size_t n, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - harness_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static void write_pipe(int fd, const void *buf, size_t n)
{
    ssize_t w = write(fd, buf, n);
    (void)w;
}

static void assert_child_ok(pid_t pid, const char *what)
{
    int st;
    int rc = harness_wait(pid, CHILD_MS * harness_slowdown(), &st);
    char buf[64];
    ck_assert_msg(rc == 0, "%s: did not finish", what);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", what,
                  harness_status_str(st, buf, sizeof buf));
}

/* A child's own connection; NULL on failure. */
static orion_client *child_connect(void)
{
    orion_client *c = NULL;
    if (orion_client_connect(D.socket_path, &c, NULL, 0) != 0)
        return NULL;
    return c;
}

/* A byte pattern nobody would produce by accident. */
static uint8_t pat(uint64_t seed, uint64_t i)
{
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 17));
}

/* ===================================================================== */

START_TEST(test_connect_stats_and_close)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    ck_assert_uint_eq(orion_client_arena_bytes(c), ARENA_16M);
    uint8_t *base = orion_client_arena_base(c);
    ck_assert_ptr_nonnull(base);
    base[0] = 1; /* mapped read-write */
    base[ARENA_16M - 1] = 2;
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.arena_bytes, ARENA_16M);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.free_bytes, ARENA_16M);
    ck_assert_uint_eq(st.largest_free_bytes, ARENA_16M);
    assert_clean_via(c, 1);
    orion_client_close(c);
    orion_client_close(NULL);

    /* A second connection sees the first gone. */
    c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

START_TEST(test_connect_to_missing_socket_fails_with_message)
{
    orion_client *c = (orion_client *)&c; /* must be reset to NULL */
    char err[256] = "";
    int rc = orion_client_connect("/nonexistent-orion-dir/sock", &c, err, sizeof err);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "/nonexistent-orion-dir/sock"), "message: %s", err);
    ck_assert_str_ne(orion_strerror(rc), "");
}
END_TEST

/* orionrtd over --max-clients: orion_client_connect says why, and a place
 * freed is taken. */
START_TEST(test_connect_over_max_clients_is_ebusy_naming_the_limit)
{
    const char *extra[] = { HARNESS_FLAG_MAX_CLIENTS, "1", NULL };
    harness_fixture_start(extra);
    /* The harness's readiness probe may still be counted for a moment. */
    orion_client *a = NULL;
    char err[256] = "";
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    int rc;
    while ((rc = orion_client_connect(D.socket_path, &a, err, sizeof err)) == -EBUSY &&
           harness_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(rc == 0, "first connect: %s", err);

    orion_client *b = (orion_client *)&b;
    rc = orion_client_connect(D.socket_path, &b, err, sizeof err);
    ck_assert_msg(rc == -EBUSY, "second connect: %d %s", rc, err);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err, "too many clients: 1 connected, the limit is 1"), "message: %s",
                  err);

    orion_client_close(a);
    deadline = harness_now_ms() + 3000 * harness_slowdown();
    while ((rc = orion_client_connect(D.socket_path, &b, err, sizeof err)) == -EBUSY &&
           harness_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(rc == 0, "connect after a close: %s", err);
    orion_client_close(b);
}
END_TEST

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

static orion_graph *graph_or_die(void)
{
    orion_graph *g = NULL;
    ck_assert_int_eq(orion_graph_new("test", &g), 0);
    return g;
}

static int add_t(orion_graph *g, uint64_t id, uint64_t bytes, enum orion_tensor_kind kind,
                 const char *share)
{
    struct orion_tensor_desc t = { .id = id, .bytes = bytes, .align = 0, .kind = kind,
                                   .share = share, .name = NULL };
    return orion_graph_add_tensor(g, &t);
}

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

START_TEST(test_invalid_graph_error_names_op_and_tensor)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_graph *g = graph_or_die();
    uint64_t in = 1, mid = 4242, out = 3;
    ck_assert_int_eq(add_t(g, 1, 256, ORION_TENSOR_INPUT, NULL), 0);
    ck_assert_int_eq(add_t(g, 4242, 256, ORION_TENSOR_INTERMEDIATE, NULL), 0);
    ck_assert_int_eq(add_t(g, 3, 256, ORION_TENSOR_OUTPUT, NULL), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "early_reader", &mid, 1, &out, 1), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "late_writer", &in, 1, &mid, 1), 0);
    orion_plan *p = (orion_plan *)&p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_msg(strstr(orion_client_error(c), "4242") &&
                      strstr(orion_client_error(c), "early_reader"),
                  "error: %s", orion_client_error(c));
    orion_graph_free(g);
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

/* --- waits -------------------------------------------------------------- */

START_TEST(test_buffer_wait_times_out)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    int64_t t0 = harness_now_ms();
    ck_assert_int_eq(orion_buffer_wait(c, "nobody-makes-this", 150, &b), -ETIMEDOUT);
    int64_t dt = harness_now_ms() - t0;
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 3000 * harness_slowdown());
    t0 = harness_now_ms();
    ck_assert_int_eq(orion_buffer_wait(c, "nobody-makes-this", 0, &b), -ETIMEDOUT);
    ck_assert_int_lt(harness_now_ms() - t0, 1000 * harness_slowdown());
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

#define LATE_BYTES 10000u

static int late_producer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    orion_buffer *b = NULL;
    if (orion_buffer_create(c, "late", LATE_BYTES, &b) != 0)
        return 41;
    uint8_t *x = orion_buffer_ptr(b);
    for (uint64_t i = 0; i < LATE_BYTES; i++)
        x[i] = pat(3, i);
    usleep(200 * 1000);
    if (orion_buffer_seal(b) != 0)
        return 42;
    /* Keep it until the consumer has opened and let go of it. */
    if (orion_buffer_wait_unused(b, 10000) != 0)
        return 43;
    orion_buffer_release(b);
    orion_client_close(c);
    return 0;
}

START_TEST(test_buffer_wait_returns_when_producer_seals)
{
    harness_fixture_start(NULL);
    int64_t t0 = harness_now_ms();
    pid_t kid = harness_fork(late_producer, NULL);
    ck_assert_int_gt(kid, 0);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    int rc = orion_buffer_wait(c, "late", 10000, &b);
    ck_assert_msg(rc == 0, "wait: %d %s", rc, orion_client_error(c));
    ck_assert_int_ge(harness_now_ms() - t0, 190);
    ck_assert_uint_ge(orion_buffer_size(b), LATE_BYTES);
    const uint8_t *x = orion_buffer_ptr(b);
    for (uint64_t i = 0; i < LATE_BYTES; i++)
        if (x[i] != pat(3, i))
            ck_abort_msg("byte %llu differs", (unsigned long long)i);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    assert_child_ok(kid, "producer");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* Static: the quitter leaves them behind on purpose, and valgrind should
 * see them as still reachable rather than lost. */
static orion_client *quitter_client;
static orion_buffer *quitter_buffer;

static int unsealed_quitter(void *p)
{
    (void)p;
    orion_client *c = quitter_client = child_connect();
    if (!c)
        return 50;
    if (orion_buffer_create(c, "abandoned", 4096, &quitter_buffer) != 0)
        return 51;
    usleep(150 * 1000);
    /* Leave without sealing or releasing: the process exit closes the
     * connection, as a crash would. (Releasing first would end the buffer
     * itself, and a wait for a name that does not exist just goes on.) */
    return 0;
}

START_TEST(test_buffer_wait_fails_epipe_when_creator_leaves_unsealed)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    pid_t kid = harness_fork(unsealed_quitter, NULL);
    ck_assert_int_gt(kid, 0);
    /* Wait until it exists, so that our wait sees its creator leave. */
    orion_buffer *b = NULL;
    int64_t deadline = harness_now_ms() + 5000;
    struct orion_stats st = { 0 };
    while (st.buffers == 0 && harness_now_ms() < deadline) {
        ck_assert_int_eq(orion_client_stats(c, &st), 0);
        usleep(2000);
    }
    ck_assert_uint_eq(st.buffers, 1);
    ck_assert_int_eq(orion_buffer_wait(c, "abandoned", 10000, &b), -EPIPE);
    assert_child_ok(kid, "creator");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- fork safety -------------------------------------------------------- */

static int use_parents_client(void *p)
{
    orion_client *c = p;
    struct orion_stats st;
    if (orion_client_stats(c, &st) != -ECHILD)
        return 60;
    orion_buffer *b = NULL;
    if (orion_buffer_create(c, "from-child", 64, &b) != -ECHILD)
        return 61;
    return 0;
}

START_TEST(test_forked_child_using_parents_client_gets_echild)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    pid_t kid = harness_fork(use_parents_client, c);
    ck_assert_int_gt(kid, 0);
    assert_child_ok(kid, "child");
    /* The parent's connection is unharmed and nothing was created. */
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.buffers, 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

static int sleep_with_inherited_socket(void *p)
{
    int fd = *(int *)p;
    char c;
    ssize_t r = read(fd, &c, 1); /* until the parent says so, or dies */
    (void)r;
    return 0;
}

/* A child forked after connect holds a copy of the socket; the parent's
 * close must still end the connection, and so release what it held. */
START_TEST(test_close_releases_at_once_while_forked_child_lives)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t kid = harness_fork(sleep_with_inherited_socket, &go[0]);
    ck_assert_int_gt(kid, 0);
    orion_client_close(c);
    Orion__StatsReply st;
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, 0, 3000, &st);
    write_pipe(go[1], "x", 1);
    close(go[0]);
    close(go[1]);
    assert_child_ok(kid, "child");
    ck_assert_msg(rc == 0, "after close: %u clients", st.clients);
}
END_TEST

/* --- the examples and orionctl ------------------------------------------ */

static char env_socket[160];

static const char *const *socket_env(void)
{
    static const char *env[2];
    snprintf(env_socket, sizeof env_socket, "ORION_SOCKET=%s", D.socket_path);
    env[0] = env_socket;
    env[1] = NULL;
    return env;
}

/* The value after "checksum=" on its line, or NULL. */
static char *checksum_of(const char *out)
{
    const char *p = strstr(out, "checksum=");
    if (!p)
        return NULL;
    p += strlen("checksum=");
    size_t n = strcspn(p, " \t\r\n");
    return n ? strndup(p, n) : NULL;
}

#if defined(PRODUCER_PATH) && defined(CONSUMER_PATH)
START_TEST(test_producer_and_consumer_examples_print_matching_checksums)
{
    harness_fixture_start(NULL);
    char cons_out[128];
    harness_daemon_path(&D, "consumer.out", cons_out, sizeof cons_out);
    const char *cons_argv[] = { CONSUMER_PATH, "--socket", D.socket_path, "--timeout-ms",
                                "10000", "example-frame", NULL };
    pid_t cons = harness_spawn(cons_argv, socket_env(), cons_out);
    ck_assert_int_gt(cons, 0);
    const char *prod_argv[] = { PRODUCER_PATH, "--socket", D.socket_path, "--timeout-ms",
                                "10000", "example-frame", "1M", NULL };
    int st;
    char *prod_out = NULL, *prod_err = NULL;
    int rc = harness_run_capture(prod_argv, socket_env(), CHILD_MS * harness_slowdown(), &st,
                                 &prod_out, &prod_err);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer failed: %s%s", prod_out,
                  prod_err);
    int cst;
    ck_assert_int_eq(harness_wait(cons, CHILD_MS * harness_slowdown(), &cst), 0);
    FILE *f = fopen(cons_out, "r");
    ck_assert_ptr_nonnull(f);
    char cbuf[8192];
    size_t n = fread(cbuf, 1, sizeof cbuf - 1, f);
    cbuf[n] = '\0';
    fclose(f);
    unlink(cons_out);
    ck_assert_msg(WIFEXITED(cst) && WEXITSTATUS(cst) == 0, "consumer failed: %s", cbuf);
    char *a = checksum_of(prod_out), *b = checksum_of(cbuf);
    ck_assert_msg(a && b, "no checksum= line: producer \"%s\" consumer \"%s\"", prod_out, cbuf);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(prod_out);
    free(prod_err);
    orion_client *c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST
#endif

#ifdef ORIONCTL_PATH
static json_t *run_orionctl_json(const char *const *argv)
{
    int st;
    char *out = NULL, *err = NULL;
    int rc = harness_run_capture(argv, socket_env(), CHILD_MS * harness_slowdown(), &st, &out,
                                 &err);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "orionctl %s failed: %s%s", argv[3],
                  out, err);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    ck_assert_msg(j != NULL, "orionctl %s: not JSON (%s): %s", argv[3], jerr.text, out);
    free(out);
    free(err);
    return j;
}

static uint64_t juint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "key \"%s\" missing or not an integer", key);
    ck_assert_int_ge(json_integer_value(v), 0);
    return (uint64_t)json_integer_value(v);
}

START_TEST(test_orionctl_stats_json_has_documented_keys)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    ck_assert_int_eq(orion_buffer_create(c, "visible", 100000, &b), 0);
    struct orion_stats mine;
    ck_assert_int_eq(orion_client_stats(c, &mine), 0);

    const char *argv[] = { ORIONCTL_PATH, "--socket", D.socket_path, "stats", "--json", NULL };
    json_t *j = run_orionctl_json(argv);
    ck_assert(json_is_object(j));
    ck_assert_uint_eq(juint(j, "arena_bytes"), ARENA_16M);
    ck_assert_uint_eq(juint(j, "used_bytes"), mine.used_bytes);
    ck_assert_uint_eq(juint(j, "free_bytes"), ARENA_16M - mine.used_bytes);
    ck_assert_uint_le(juint(j, "largest_free_bytes"), juint(j, "free_bytes"));
    ck_assert_uint_eq(juint(j, "buffers"), 1);
    ck_assert_uint_eq(juint(j, "graphs"), 0);
    ck_assert_uint_eq(juint(j, "clients"), 2); /* us and orionctl */
    ck_assert_uint_eq(juint(j, "allocations"), mine.allocations);
    json_t *fr = json_object_get(j, "fragmentation");
    ck_assert_msg(json_is_number(fr), "fragmentation missing");
    ck_assert(json_number_value(fr) >= 0.0 && json_number_value(fr) <= 1.0);
    json_decref(j);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    orion_client_close(c);
}
END_TEST

START_TEST(test_orionctl_register_json_prints_peak_and_lower_bound)
{
    harness_fixture_start(NULL);
    char path[128];
    harness_daemon_path(&D, "chain.json", path, sizeof path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    /* Live sizes per op: {1,2} 5120, {2,3} 6144, {3,4} 2560. */
    fputs("{\"name\": \"chain\", \"tensors\": ["
          "{\"id\": 1, \"bytes\": 1024, \"kind\": \"input\"},"
          "{\"id\": 2, \"bytes\": 4096},"
          "{\"id\": 3, \"bytes\": 2048},"
          "{\"id\": 4, \"bytes\": 512, \"kind\": \"output\"}],"
          "\"ops\": ["
          "{\"name\": \"conv\", \"inputs\": [1], \"outputs\": [2]},"
          "{\"name\": \"relu\", \"inputs\": [2], \"outputs\": [3]},"
          "{\"name\": \"pool\", \"inputs\": [3], \"outputs\": [4]}]}\n",
          f);
    fclose(f);
    const char *argv[] = { ORIONCTL_PATH, "--socket", D.socket_path, "register", "--json",
                           path, NULL };
    json_t *j = run_orionctl_json(argv);
    unlink(path);
    uint64_t lb = juint(j, "lower_bound_bytes");
    ck_assert_uint_eq(lb, 6144);
    ck_assert_uint_ge(juint(j, "peak_bytes"), lb);
    ck_assert_uint_le(juint(j, "peak_bytes"), 1024 + 4096 + 2048 + 512);
    json_t *t = json_object_get(j, "tensors");
    ck_assert_msg(json_is_array(t) && json_array_size(t) == 4, "tensors: not 4 placements");
    const uint64_t bytes[4] = { 1024, 4096, 2048, 512 };
    uint64_t off[4];
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(t, i);
        ck_assert_uint_eq(juint(e, "id"), i + 1);
        ck_assert_uint_eq(juint(e, "bytes"), bytes[i]);
        off[i] = juint(e, "offset");
        ck_assert_uint_eq(off[i] % 64, 0);
        ck_assert_uint_le(off[i] + bytes[i], ARENA_16M);
    }
    /* Neighbours in the chain are live together: their bytes are apart. */
    for (size_t i = 0; i + 1 < 4; i++)
        ck_assert_msg(off[i] + bytes[i] <= off[i + 1] || off[i + 1] + bytes[i + 1] <= off[i],
                      "tensors %zu and %zu overlap", i + 1, i + 2);
    json_decref(j);
    /* orionctl has exited: its registration went with it. */
    orion_client *c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST
#endif

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc;

    tc = harness_fixture_tcase("basics", 30);
    tcase_add_test(tc, test_connect_stats_and_close);
    tcase_add_test(tc, test_connect_to_missing_socket_fails_with_message);
    tcase_add_test(tc, test_connect_over_max_clients_is_ebusy_naming_the_limit);
    tcase_add_test(tc, test_invalid_graph_error_names_op_and_tensor);
    tcase_add_test(tc, test_forked_child_using_parents_client_gets_echild);
    tcase_add_test(tc, test_close_releases_at_once_while_forked_child_lives);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("sharing", 60);
    tcase_add_test(tc, test_named_buffer_is_shared_byte_for_byte_among_processes);
    tcase_add_test(tc, test_exported_tensor_is_read_by_importing_process);
    tcase_add_test(tc, test_exported_buffer_outlives_dead_exporter_while_held);
    tcase_add_test(tc, test_plan_pointers_are_in_arena_and_live_tensors_do_not_overlap);
    tcase_add_test(tc, test_sigkilled_client_leaves_nothing_allocated);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("waits", 30);
    tcase_add_test(tc, test_buffer_wait_times_out);
    tcase_add_test(tc, test_buffer_wait_returns_when_producer_seals);
    tcase_add_test(tc, test_buffer_wait_fails_epipe_when_creator_leaves_unsealed);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("tools", 60);
#if defined(PRODUCER_PATH) && defined(CONSUMER_PATH)
    tcase_add_test(tc, test_producer_and_consumer_examples_print_matching_checksums);
#endif
#ifdef ORIONCTL_PATH
    tcase_add_test(tc, test_orionctl_stats_json_has_documented_keys);
    tcase_add_test(tc, test_orionctl_register_json_prints_peak_and_lower_bound);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_fixture_run(client_suite());
}
