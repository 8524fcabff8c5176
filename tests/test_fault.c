/* test_fault.c - Check suite "fault": allocation-failure injection (core/fault.h)
 * walks every unwind path. For n = 1, 2, ... the n-th allocation fails: the
 * caller gets -ENOMEM, nothing leaks (the ASan build's LeakSanitizer checks
 * this suite and the daemon under test at their exit), and everything works
 * again afterwards. Built only with -DORION_FAULT_INJECTION=ON (the
 * sanitizer build of scripts/test.sh). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buddy.h"
#include "fault.h"
#include "graph.h"
#include "harness.h"
#include "registry.h"

#define REPLY_MS 5000
/* More than any of the requests below allocates: a loop that reaches it has
 * stopped failing. */
#define N_MAX 5000

/* ---- the core ----------------------------------------------------------- */

/* in(1) -> a(2) -> b(3) -> out(4), with a skip from a to out. */
static const struct graph_tensor core_t[] = {
    {1, 1024, 0, TENSOR_INPUT, NULL, "in"},
    {2, 4096, 0, TENSOR_INTERMEDIATE, NULL, "a"},
    {3, 2048, 256, TENSOR_INTERMEDIATE, NULL, "b"},
    {4, 512, 0, TENSOR_OUTPUT, NULL, "out"},
};
static const uint64_t i1[] = {1}, o1[] = {2}, i2[] = {2}, o2[] = {3}, i3[] = {2, 3}, o3[] = {4};
static const struct graph_op core_o[] = {
    {"conv", i1, 1, o1, 1},
    {"relu", i2, 1, o2, 1},
    {"add", i3, 2, o3, 1},
};
static const struct graph core_g = {"fault", core_t, 4, core_o, 3};

static void plan_under_faults(const char *policy)
{
    int n;
    for (n = 1; n < N_MAX; n++) {
        struct graph_plan p;
        char err[256] = "";
        ck_assert_int_eq(fault_arm((uint64_t)n), 0);
        uint64_t before = fault_injected();
        int rc = graph_plan_build(&core_g, NULL, policy, NULL, &p, err, sizeof err);
        bool failed = fault_injected() > before;
        fault_arm(0);
        if (!failed) {
            ck_assert_msg(rc == 0, "n=%d: no injected failure, yet %d: %s", n, rc, err);
            ck_assert_uint_gt(p.peak_bytes, 0);
            graph_plan_free(&p);
            break;
        }
        /* A failed allocation may be one a policy can do without (a search
         * that gives up); then the plan is still a valid one. */
        if (rc == 0) {
            graph_plan_free(&p);
            continue;
        }
        ck_assert_msg(rc == -ENOMEM, "n=%d: %d (%s), want -ENOMEM", n, rc, err);
        ck_assert_msg(err[0] != '\0', "n=%d: -ENOMEM without a message", n);
    }
    ck_assert_msg(n > 1 && n < N_MAX, "graph_plan_build(%s) allocated %d times", policy, n);
}

START_TEST(test_fault_graph_plan_build_every_allocation)
{
    plan_under_faults(NULL);
    plan_under_faults("greedy-size");
    plan_under_faults("linear-scan");
}
END_TEST

START_TEST(test_fault_registry_create_every_allocation)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(1 << 20, 4096, &b), 0);
    struct registry *r;
    ck_assert_int_eq(registry_new(b, &r), 0);
    struct reg_owner o = {.id = 1};
    int n;
    for (n = 1; n < N_MAX; n++) {
        struct reg_buffer *rb = NULL;
        char err[256] = "";
        fault_arm((uint64_t)n);
        uint64_t before = fault_injected();
        int rc = registry_create(r, "fault/buf", 8192, 0, &o, REG_HOLD_CONN, 0, &rb, err,
                                 sizeof err);
        bool failed = fault_injected() > before;
        fault_arm(0);
        if (!failed) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_msg(rc == -ENOMEM, "n=%d: %d (%s)", n, rc, err);
        ck_assert_ptr_null(registry_find(r, "fault/buf"));
        ck_assert_uint_eq(registry_count(r), 0);
        ck_assert_uint_eq(o.used_bytes, 0);
    }
    ck_assert_msg(n > 1 && n < N_MAX, "registry_create allocated %d times", n);
    registry_owner_gone(r, &o);
    struct buddy_stats st;
    buddy_stats_get(b, &st);
    ck_assert_uint_eq(st.used_bytes, 0);
    registry_free(r);
    buddy_destroy(b);
}
END_TEST

/* ---- the daemon --------------------------------------------------------- */

static struct harness_daemon D;
static uint64_t next_id = 1;

static void start_daemon(void)
{
    char *why = NULL;
    if (harness_daemon_start_explained(&D, NULL, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
}

/* A daemon that leaks (LeakSanitizer) or errs fails the test here. */
static void stop_daemon(void)
{
    char *why = NULL;
    int rc = harness_daemon_finish(&D, &why);
    ck_assert_msg(rc == 0, "%s", why ? why : "out of memory");
    free(why);
}

static Orion__Response *call(int fd, Orion__Request *req)
{
    int err = 0;
    req->request_id = next_id++;
    Orion__Response *r = harness_call(fd, req, REPLY_MS, &err);
    ck_assert_msg(r != NULL, "no reply to request %d: %s", (int)req->body_case, strerror(-err));
    ck_assert_uint_eq(r->request_id, req->request_id);
    return r;
}

static void arm(int fd, uint64_t n)
{
    Orion__FaultInject fi = ORION__FAULT_INJECT__INIT;
    fi.countdown = n;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_FAULT_INJECT;
    req.fault_inject = &fi;
    Orion__Response *r = call(fd, &req);
    if (n == 0 && r->body_case == ORION__RESPONSE__BODY_ERROR && r->error->code == -ENOMEM) {
        /* A countdown the request before did not use up failed this one's
         * decoding; it fails once only. */
        orion__response__free_unpacked(r, NULL);
        r = call(fd, &req);
    }
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_OK, "FaultInject refused: %s",
                  r->body_case == ORION__RESPONSE__BODY_ERROR ? r->error->message : "?");
    orion__response__free_unpacked(r, NULL);
}

static Orion__StatsReply stats_on(int fd)
{
    Orion__StatsReply st;
    int rc = harness_stats(D.socket_path, fd, &st);
    ck_assert_msg(rc == 0, "stats failed: %s", strerror(-rc));
    return st;
}

/* A graph with a workspace, an export and an import of "fault/in". */
static Orion__Response *register_graph(int fd)
{
    static const struct { uint64_t id, bytes; int kind; const char *share; } t[] = {
        {1, 1024, ORION__TENSOR_KIND__INPUT, NULL},
        {2, 4096, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
        {3, 2048, ORION__TENSOR_KIND__EXPORT, "fault/out"},
        {4, 1024, ORION__TENSOR_KIND__IMPORT, "fault/in"},
        {5, 512, ORION__TENSOR_KIND__OUTPUT, NULL},
    };
    Orion__Tensor tens[5], *tp[5];
    for (int i = 0; i < 5; i++) {
        orion__tensor__init(&tens[i]);
        tens[i].id = t[i].id;
        tens[i].bytes = t[i].bytes;
        tens[i].kind = (Orion__TensorKind)t[i].kind;
        tens[i].share = (char *)(t[i].share ? t[i].share : "");
        tp[i] = &tens[i];
    }
    uint64_t in0[] = {1, 4}, out0[] = {2}, in1[] = {2}, out1[] = {3, 5};
    Orion__Op ops[2], *op[2];
    for (int i = 0; i < 2; i++) {
        orion__op__init(&ops[i]);
        op[i] = &ops[i];
    }
    ops[0].name = "first";
    ops[0].inputs = in0;
    ops[0].n_inputs = 2;
    ops[0].outputs = out0;
    ops[0].n_outputs = 1;
    ops[1].name = "second";
    ops[1].inputs = in1;
    ops[1].n_inputs = 1;
    ops[1].outputs = out1;
    ops[1].n_outputs = 2;
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.name = "fault";
    rg.n_tensors = 5;
    rg.tensors = tp;
    rg.n_ops = 2;
    rg.ops = op;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    return call(fd, &req);
}

/* A chain of CHAIN_TENSORS tensors: planned on the thread pool. */
#define CHAIN_TENSORS 300
static Orion__Response *register_chain(int fd)
{
    Orion__Request *req = harness_chain_request(CHAIN_TENSORS, "fault-chain", 1024, 7, true);
    ck_assert_ptr_nonnull(req);
    Orion__Response *r = call(fd, req);
    harness_chain_free(req);
    return r;
}

static Orion__Response *create_buffer(int fd, const char *name, uint64_t bytes)
{
    Orion__BufferCreate bc = ORION__BUFFER_CREATE__INIT;
    bc.name = (char *)name;
    bc.bytes = bytes;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_CREATE;
    req.buffer_create = &bc;
    return call(fd, &req);
}

/* Run one request on a fresh connection with the n-th allocation failing.
 * Returns true once the request succeeded (n is past its allocations). */
enum what { GRAPH, CHAIN, BUFFER };

static bool one_under_fault(int n, enum what what, const Orion__StatsReply *base)
{
    int fd = harness_session(D.socket_path);
    ck_assert_msg(fd >= 0, "n=%d: connect+hello failed: %s", n, strerror(-fd));
    arm(fd, (uint64_t)n);
    bool graph = what != BUFFER;
    Orion__Response *r = what == GRAPH   ? register_graph(fd)
                         : what == CHAIN ? register_chain(fd)
                                         : create_buffer(fd, "fault/buf", 8192);
    bool ok = r->body_case != ORION__RESPONSE__BODY_ERROR;
    if (!ok) {
        ck_assert_msg(r->error->code == -ENOMEM, "n=%d: error %d (%s), want -ENOMEM", n,
                      r->error->code, r->error->message);
        ck_assert_msg(strstr(r->error->message, "out of memory") != NULL, "n=%d: message '%s'", n,
                      r->error->message);
    } else {
        ck_assert_int_eq(r->body_case, graph ? ORION__RESPONSE__BODY_REGISTER_GRAPH
                                             : ORION__RESPONSE__BODY_BUFFER);
    }
    orion__response__free_unpacked(r, NULL);
    arm(fd, 0);
    Orion__StatsReply st = stats_on(fd);
    if (!ok) {
        /* Nothing of the failed request is left. */
        ck_assert_msg(st.used_bytes == base->used_bytes && st.graphs == base->graphs &&
                      st.buffers == base->buffers,
                      "n=%d: used_bytes %llu graphs %u buffers %u after -ENOMEM, want %llu %u %u",
                      n, (unsigned long long)st.used_bytes, st.graphs, st.buffers,
                      (unsigned long long)base->used_bytes, base->graphs, base->buffers);
    }
    close(fd);
    return ok;
}

static void walk(enum what what)
{
    start_daemon();
    /* The buffer the graph imports, held by a connection of its own. */
    int holder = harness_session(D.socket_path);
    ck_assert_int_ge(holder, 0);
    Orion__Response *r = create_buffer(holder, "fault/in", 4096);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    orion__response__free_unpacked(r, NULL);
    Orion__StatsReply base = stats_on(holder);
    int n;
    for (n = 1; n < N_MAX && !one_under_fault(n, what, &base); n++) {
        /* The daemon keeps serving everybody else. */
        ck_assert_msg(harness_daemon_alive(&D), "n=%d: daemon died", n);
    }
    ck_assert_msg(n > 1 && n < N_MAX, "request allocated %d times", n);
    Orion__StatsReply last;
    int rc = harness_wait_stats(D.socket_path, base.used_bytes, 0, 1, base.allocations, 1, 3000,
                                &last);
    ck_assert_msg(rc == 0, "not back to the base after %d runs: used %llu graphs %u buffers %u",
                  n, (unsigned long long)last.used_bytes, last.graphs, last.buffers);
    close(holder);
    stop_daemon();
}

START_TEST(test_fault_daemon_register_every_allocation)
{
    walk(GRAPH);
}
END_TEST

START_TEST(test_fault_daemon_register_on_pool_every_allocation)
{
    walk(CHAIN);
}
END_TEST

START_TEST(test_fault_daemon_buffer_create_every_allocation)
{
    walk(BUFFER);
}
END_TEST

static Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fault_graph_plan_build_every_allocation);
    tcase_add_test(tc, test_fault_registry_create_every_allocation);
    suite_add_tcase(s, tc);
    tc = tcase_create("daemon");
    tcase_set_timeout(tc, 120 * harness_slowdown());
    tcase_add_test(tc, test_fault_daemon_register_every_allocation);
    tcase_add_test(tc, test_fault_daemon_register_on_pool_every_allocation);
    tcase_add_test(tc, test_fault_daemon_buffer_create_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
