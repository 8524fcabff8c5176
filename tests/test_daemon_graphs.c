/* test_daemon_graphs.c - graphs over a raw socket: register, place, release, every
 * class of invalid graph, arena exhaustion, the per-connection limit.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_checks.h"

START_TEST(test_register_places_tensors_in_workspace_and_release_frees)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Response *r = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "refused: %d %s",
                  code_of(r), msg_of(r));
    Orion__RegisterGraphReply *g = r->register_graph;
    ck_assert_uint_eq(g->n_tensors, 4);
    /* Lower bound of the chain: the largest sum of live sizes at one op.
     * The input lives from the start to its last read, the output from its
     * write to the end: op0 {1,2}: 5120, op1 {2,3}: 6144, op2 {3,4}: 2560. */
    ck_assert_uint_eq(g->lower_bound_bytes, 4096 + 2048);
    ck_assert_uint_ge(g->peak_bytes, g->lower_bound_bytes);
    ck_assert_uint_lt(g->workspace_offset, ARENA_16M);
    ck_assert_uint_eq(g->workspace_offset % 64, 0);
    for (size_t i = 0; i < 4; i++) {
        Orion__TensorPlacement *t = g->tensors[i];
        ck_assert_uint_eq(t->id, chain_t[i].id);
        ck_assert_uint_eq(t->bytes, chain_t[i].bytes);
        ck_assert_uint_eq(t->offset % 64, 0);
        ck_assert_uint_ge(t->offset, g->workspace_offset);
        ck_assert_uint_le(t->offset + t->bytes, g->workspace_offset + g->peak_bytes);
    }
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.graphs, 1);
    ck_assert_uint_ge(st.used_bytes, g->peak_bytes);
    ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.arena_bytes);
    uint64_t id = g->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(fd, id), 0);
    /* Released twice, or someone else's id: -EINVAL. */
    ck_assert_int_eq(release_graph(fd, id), -EINVAL);
    assert_clean(1);
    close(fd);
}
END_TEST

/* A quiet release is answered only when refused: the next reply on the
 * stream is the next request's, and a refused one is an Error with the
 * release's own id. */
START_TEST(test_quiet_release_answers_only_a_refusal)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Response *r = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    uint64_t id = r->register_graph->graph_id;
    orion__response__free_unpacked(r, NULL);
    for (int round = 0; round < 2; round++) {
        Orion__ReleaseGraph rel = ORION__RELEASE_GRAPH__INIT;
        rel.graph_id = id; /* the second time: no longer registered */
        rel.quiet = true;
        Orion__Request req = ORION__REQUEST__INIT;
        req.request_id = 9000 + (uint64_t)round;
        req.body_case = ORION__REQUEST__BODY_RELEASE_GRAPH;
        req.release_graph = &rel;
        ck_assert_int_eq(harness_send_request(fd, &req), 0);
        Orion__Stats sb = ORION__STATS__INIT;
        Orion__Request sr = ORION__REQUEST__INIT;
        sr.request_id = 9100 + (uint64_t)round;
        sr.body_case = ORION__REQUEST__BODY_STATS;
        sr.stats = &sb;
        ck_assert_int_eq(harness_send_request(fd, &sr), 0);
        Orion__Response *a = harness_recv_response(fd, REPLY_MS, NULL, NULL, NULL);
        ck_assert_ptr_nonnull(a);
        if (round == 0) {
            /* Done, unanswered: the stats come first, and see it gone. */
            ck_assert_uint_eq(a->request_id, 9100);
            ck_assert_int_eq(a->body_case, ORION__RESPONSE__BODY_STATS);
            ck_assert_uint_eq(a->stats->graphs, 0);
            ck_assert_uint_eq(a->stats->used_bytes, 0);
        } else {
            ck_assert_uint_eq(a->request_id, 9001);
            ck_assert_int_eq(a->body_case, ORION__RESPONSE__BODY_ERROR);
            ck_assert_int_eq(a->error->code, -EINVAL);
            ck_assert_ptr_nonnull(strstr(a->error->message, "is not registered"));
            Orion__Response *b = harness_recv_response(fd, REPLY_MS, NULL, NULL, NULL);
            ck_assert_ptr_nonnull(b);
            ck_assert_uint_eq(b->request_id, 9101);
            orion__response__free_unpacked(b, NULL);
        }
        orion__response__free_unpacked(a, NULL);
    }
    assert_clean(1);
    close(fd);
}
END_TEST

/* The same frame registered again (a replica, a worker's loop) reuses the
 * graph and plan decoded the first time: the same plan in a workspace of
 * its own, counted as a plan reuse; and what is per registration is still
 * checked: an export whose name is taken is refused, and nothing is lost. */
static const struct tspec exp_t[3] = {
    { 1, 1024, 0, ORION__TENSOR_KIND__INPUT, NULL },
    { 2, 4096, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL },
    { 3, 2048, 0, ORION__TENSOR_KIND__EXPORT, "replica/out" },
};
static const struct ospec exp_o[2] = {
    { "a", { 1 }, 1, { 2 }, 1 },
    { "b", { 2 }, 1, { 3 }, 1 },
};

START_TEST(test_same_frame_again_reuses_the_plan_and_places_anew)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    uint64_t hits0 = stats_on(a).plan_cache_hits;
    Orion__Response *r1 = do_register(a, chain_t, 4, chain_o, 3, NULL);
    Orion__Response *r2 = do_register(b, chain_t, 4, chain_o, 3, NULL);
    ck_assert_int_eq(r1->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    ck_assert_int_eq(r2->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    const Orion__RegisterGraphReply *g1 = r1->register_graph, *g2 = r2->register_graph;
    ck_assert_uint_ne(g1->graph_id, g2->graph_id);
    ck_assert_uint_ne(g1->workspace_offset, g2->workspace_offset);
    ck_assert_uint_eq(g1->peak_bytes, g2->peak_bytes);
    ck_assert_uint_eq(g1->lower_bound_bytes, g2->lower_bound_bytes);
    ck_assert_str_eq(g1->policy, g2->policy);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(g2->tensors[i]->id, g1->tensors[i]->id);
        ck_assert_uint_eq(g2->tensors[i]->offset - g2->workspace_offset,
                          g1->tensors[i]->offset - g1->workspace_offset);
        ck_assert_uint_eq(g2->tensors[i]->first_op, g1->tensors[i]->first_op);
        ck_assert_uint_eq(g2->tensors[i]->last_op, g1->tensors[i]->last_op);
    }
    Orion__StatsReply st = stats_on(b);
    ck_assert_uint_eq(st.plan_cache_hits, hits0 + 1);
    ck_assert_uint_eq(st.graphs, 2);
    ck_assert_uint_ge(st.used_bytes, 2 * g1->peak_bytes);
    orion__response__free_unpacked(r1, NULL);
    orion__response__free_unpacked(r2, NULL);

    /* An export: the second registration of the same bytes is refused at
     * placing (the name is taken), and holds nothing. */
    Orion__Response *e1 = do_register(a, exp_t, 3, exp_o, 2, NULL);
    ck_assert_int_eq(e1->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    Orion__Response *e2 = do_register(b, exp_t, 3, exp_o, 2, NULL);
    ck_assert_int_eq(code_of(e2), -EEXIST);
    ck_assert_ptr_nonnull(strstr(msg_of(e2), "replica/out"));
    ck_assert_uint_eq(stats_on(b).graphs, 3);
    ck_assert_int_eq(release_graph(a, e1->register_graph->graph_id), 0);
    orion__response__free_unpacked(e1, NULL);
    orion__response__free_unpacked(e2, NULL);
    /* Released: the same bytes register again. */
    Orion__Response *e3 = do_register(b, exp_t, 3, exp_o, 2, NULL);
    ck_assert_int_eq(e3->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    orion__response__free_unpacked(e3, NULL);
    close(a);
    close(b);
    int c = session();
    assert_clean(1);
    close(c);
}
END_TEST

/* A 12-tensor graph whose plan needs a search: greedy-size's pass and the
 * search's first dive leave it above its bound of 1024 bytes (found by
 * trying random layer graphs; the search reaches 1024). */
static const struct tspec hard_t[12] = {
    {0, 512, 0, ORION__TENSOR_KIND__INPUT, NULL},
    {1, 128, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {2, 128, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {3, 128, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {4, 256, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {5, 64, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {6, 320, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {7, 256, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {8, 448, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {9, 256, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {10, 256, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL},
    {11, 64, 0, ORION__TENSOR_KIND__OUTPUT, NULL},
};
static const struct ospec hard_o[11] = {
    {"op", {0}, 1, {1}, 1},    {"op", {0}, 1, {2}, 1},    {"op", {1, 0}, 2, {3}, 1},
    {"op", {0}, 1, {4}, 1},    {"op", {4}, 1, {5}, 1},    {"op", {2, 3}, 2, {6}, 1},
    {"op", {6}, 1, {7}, 1},    {"op", {3, 5}, 2, {8}, 1}, {"op", {6, 8}, 2, {9}, 1},
    {"op", {6, 9}, 2, {10}, 1}, {"op", {6, 9}, 2, {11}, 1},
};

/* The log line of the registration of a graph of `tensors` tensors. */
static char *registered_line(const char *log, unsigned tensors)
{
    char what[64];
    snprintf(what, sizeof what, "'test-graph': %u tensors,", tensors);
    const char *at = strstr(log, what);
    ck_assert_msg(at != NULL, "no registration of %u tensors in the log: %s", tensors, log);
    const char *end = strchr(at, '\n');
    return strndup(at, end != NULL ? (size_t)(end - at) : strlen(at));
}

/* A small graph is planned on the event loop, but not searched there: one
 * whose plan needs a search goes to the thread pool (the log says so) and
 * is answered with the search's plan; an easy one stays on the loop. */
START_TEST(test_a_graph_that_needs_a_search_is_planned_on_the_pool)
{
    harness_fixture_start(NULL);
    int fd = session();
    uint64_t misses0 = stats_on(fd).plan_cache_misses;
    Orion__Response *easy = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    Orion__Response *hard = do_register(fd, hard_t, 12, hard_o, 11, NULL);
    ck_assert_msg(easy->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "refused: %s",
                  msg_of(easy));
    ck_assert_msg(hard->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "refused: %s",
                  msg_of(hard));
    const Orion__RegisterGraphReply *g = hard->register_graph;
    ck_assert_uint_eq(g->lower_bound_bytes, 1024);
    ck_assert_uint_eq(g->peak_bytes, 1024);
    for (size_t i = 0; i < 12; i++) {
        ck_assert_uint_ge(g->tensors[i]->offset, g->workspace_offset);
        ck_assert_uint_le(g->tensors[i]->offset + g->tensors[i]->bytes,
                          g->workspace_offset + g->peak_bytes);
    }
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.graphs, 2);
    ck_assert_uint_eq(st.plan_cache_misses, misses0 + 2); /* one each, the pool's retry none */
    char *log = harness_daemon_log(&D);
    ck_assert_ptr_nonnull(log);
    char *l_easy = registered_line(log, 4), *l_hard = registered_line(log, 12);
    ck_assert_msg(strstr(l_hard, "(thread pool)") != NULL, "%s", l_hard);
    ck_assert_msg(strstr(l_easy, "(thread pool)") == NULL, "%s", l_easy);
    free(l_easy);
    free(l_hard);
    free(log);
    ck_assert_int_eq(release_graph(fd, easy->register_graph->graph_id), 0);
    ck_assert_int_eq(release_graph(fd, g->graph_id), 0);
    orion__response__free_unpacked(easy, NULL);
    orion__response__free_unpacked(hard, NULL);
    assert_clean(1);
    close(fd);
}
END_TEST

/* A client that leaves while its graph's search is on the pool leaves
 * nothing behind: twenty connections each send the hard graph with every
 * size scaled by another factor (the same problem at another scale, so each
 * needs the search and misses the caches) and close at once, some before
 * the pool is done; the daemon serves on and holds nothing. */
START_TEST(test_a_client_leaving_while_its_search_runs_leaves_nothing)
{
    harness_fixture_start(NULL);
    struct tspec t[12];
    memcpy(t, hard_t, sizeof(t));
    for (int i = 0; i < 20; i++) {
        int fd = session();
        for (size_t k = 0; k < 12; k++)
            t[k].bytes = hard_t[k].bytes * (uint64_t)(i + 2);
        send_register(fd, t, 12, hard_o, 11, NULL);
        close(fd);
    }
    int fd = session();
    Orion__Response *r = do_register(fd, hard_t, 12, hard_o, 11, NULL);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "refused: %s",
                  msg_of(r));
    ck_assert_int_eq(release_graph(fd, r->register_graph->graph_id), 0);
    orion__response__free_unpacked(r, NULL);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_release_of_another_connections_graph_is_refused)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    Orion__Response *r = do_register(a, chain_t, 4, chain_o, 3, NULL);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    uint64_t id = r->register_graph->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(b, id), -EINVAL);
    ck_assert_uint_eq(stats_on(b).graphs, 1);
    close(a);
    assert_clean(1);
    close(b);
}
END_TEST

/* One invalid graph per class: refused with the code and a message naming
 * the op and tensor; the connection stays usable and nothing leaks. */
struct bad_graph {
    const char *what;
    struct tspec t[10];
    size_t nt;
    struct ospec o[4];
    size_t no;
    const char *policy;
    int code;
    const char *needles[3];
};

#define IN ORION__TENSOR_KIND__INPUT
#define OUT ORION__TENSOR_KIND__OUTPUT
#define MID ORION__TENSOR_KIND__INTERMEDIATE

static const struct bad_graph bad_graphs[] = {
    { "unknown tensor id",
      { { 1, 256, 0, IN, NULL }, { 2, 256, 0, OUT, NULL } }, 2,
      { { "op_reads_ghost", { 1, 4242 }, 2, { 2 }, 1 } }, 1,
      NULL, -EINVAL, { "4242", "op_reads_ghost" } },
    { "duplicate tensor id",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, OUT, NULL }, { 4242, 512, 0, OUT, NULL } }, 3,
      { { "op_dup", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "tensor written twice",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, MID, NULL }, { 2, 256, 0, OUT, NULL } }, 3,
      { { "first_writer", { 1 }, 1, { 4242 }, 1 },
        { "second_writer", { 1 }, 1, { 4242 }, 1 },
        { "reader", { 4242 }, 1, { 2 }, 1 } }, 3,
      NULL, -EINVAL, { "4242", "second_writer" } },
    { "read before written",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, MID, NULL }, { 2, 256, 0, OUT, NULL } }, 3,
      { { "early_reader", { 4242 }, 1, { 2 }, 1 },
        { "late_writer", { 1 }, 1, { 4242 }, 1 } }, 2,
      NULL, -EINVAL, { "4242", "early_reader" } },
    { "zero size",
      { { 1, 256, 0, IN, NULL }, { 4242, 0, 0, OUT, NULL } }, 2,
      { { "op_zero", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "size that overflows",
      { { 1, 256, 0, IN, NULL }, { 4242, UINT64_MAX - 63, 0, OUT, NULL } }, 2,
      { { "op_huge", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "alignment not a power of two",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 96, OUT, NULL } }, 2,
      { { "op_align", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "empty graph", { { 0 } }, 0, { { 0 } }, 0, NULL, -EINVAL, { NULL } },
    { "more tensors than --max-tensors 8",
      { { 1, 64, 0, IN, NULL }, { 2, 64, 0, MID, NULL }, { 3, 64, 0, MID, NULL },
        { 4, 64, 0, MID, NULL }, { 5, 64, 0, MID, NULL }, { 6, 64, 0, MID, NULL },
        { 7, 64, 0, MID, NULL }, { 8, 64, 0, MID, NULL }, { 9, 64, 0, OUT, NULL } }, 9,
      { { "op_many", { 1 }, 1, { 2, 3, 4, 5, 6, 7, 8, 9 }, 8 } }, 1,
      NULL, -E2BIG, { "8", "9" } },
    { "unknown policy",
      { { 1, 256, 0, IN, NULL }, { 2, 256, 0, OUT, NULL } }, 2,
      { { "op", { 1 }, 1, { 2 }, 1 } }, 1,
      "no-such-policy", -EINVAL, { "no-such-policy" } },
    { "import of an unpublished name",
      { { 4242, 256, 0, ORION__TENSOR_KIND__IMPORT, "nobody-exports-this" },
        { 2, 256, 0, OUT, NULL } }, 2,
      { { "op_import", { 4242 }, 1, { 2 }, 1 } }, 1,
      NULL, -ENOENT, { "nobody-exports-this" } },
    { "export without a name",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, ORION__TENSOR_KIND__EXPORT, "" } }, 2,
      { { "op_export", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
};

START_TEST(test_invalid_graph_is_refused_with_named_message_and_nothing_leaks)
{
    const struct bad_graph *bg = &bad_graphs[_i];
    const char *extra[] = { HARNESS_FLAG_MAX_TENSORS, "8", NULL };
    harness_fixture_start(extra);
    int fd = session();
    Orion__Response *r = do_register(fd, bg->t, bg->nt, bg->o, bg->no, bg->policy);
    ck_assert_msg(code_of(r) == bg->code, "%s: code %d (%s), want %d", bg->what, code_of(r),
                  msg_of(r), bg->code);
    for (int k = 0; k < 3 && bg->needles[k]; k++)
        ck_assert_msg(strstr(msg_of(r), bg->needles[k]), "%s: message \"%s\" lacks \"%s\"",
                      bg->what, msg_of(r), bg->needles[k]);
    orion__response__free_unpacked(r, NULL);
    /* Same connection still usable, and nothing was left behind. */
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.graphs, 0);
    ck_assert_uint_eq(st.buffers, 0);
    ck_assert_uint_eq(st.allocations, 0);
    register_chain_ok(fd);
    /* A second, well-behaved client is served. */
    int fd2 = session();
    register_chain_ok(fd2);
    close(fd2);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_arena_exhaustion_is_enospc_with_nothing_half_made)
{
    const char *extra[] = { HARNESS_FLAG_ARENA, "1M", NULL };
    harness_fixture_start(extra);
    int fd = session();
    ck_assert_int_eq(buf_code(fd, CREATE, "half", 512 << 10, 0), 0);
    Orion__StatsReply before = stats_on(fd);
    ck_assert_uint_eq(before.arena_bytes, 1 << 20);

    ck_assert_int_eq(buf_code(fd, CREATE, "too-big", 768 << 10, 0), -ENOSPC);
    /* A graph whose export fits but whose workspace does not: the export's
     * name must not survive the failure. */
    const struct tspec t[] = {
        { 1, 4096, 0, IN, NULL },
        { 2, 768 << 10, 0, ORION__TENSOR_KIND__PERSISTENT, NULL },
        { 3, 4096, 0, ORION__TENSOR_KIND__EXPORT, "exported-then-failed" },
    };
    const struct ospec o[] = { { "op", { 1, 2 }, 2, { 3 }, 1 } };
    Orion__Response *r = do_register(fd, t, 3, o, 1, NULL);
    ck_assert_msg(code_of(r) == -ENOSPC, "code %d: %s", code_of(r), msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(buf_code(fd, OPEN, "exported-then-failed", 0, 0), -ENOENT);

    Orion__StatsReply after = stats_on(fd);
    ck_assert_uint_eq(after.used_bytes, before.used_bytes);
    ck_assert_uint_eq(after.allocations, before.allocations);
    ck_assert_uint_eq(after.buffers, before.buffers);
    ck_assert_uint_eq(after.graphs, 0);
    /* Freeing the half makes room. */
    ck_assert_int_eq(buf_code(fd, RELEASE, "half", 0, 0), 0);
    ck_assert_int_eq(buf_code(fd, CREATE, "now-fits", 768 << 10, 0), 0);
    ck_assert_int_eq(buf_code(fd, RELEASE, "now-fits", 0, 0), 0);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_client_limit_is_enospc_per_connection)
{
    const char *extra[] = { HARNESS_FLAG_CLIENT_LIMIT, "64K", NULL };
    harness_fixture_start(extra);
    int a = session(), b = session();
    ck_assert_int_eq(buf_code(a, CREATE, "a1", 48 << 10, 0), 0);
    Orion__StatsReply before = stats_on(a);
    ck_assert_int_eq(buf_code(a, CREATE, "a2", 32 << 10, 0), -ENOSPC);
    const struct tspec t[] = { { 1, 32 << 10, 0, IN, NULL }, { 2, 64, 0, OUT, NULL } };
    const struct ospec o[] = { { "op", { 1 }, 1, { 2 }, 1 } };
    Orion__Response *r = do_register(a, t, 2, o, 1, NULL);
    ck_assert_msg(code_of(r) == -ENOSPC, "code %d: %s", code_of(r), msg_of(r));
    orion__response__free_unpacked(r, NULL);
    Orion__StatsReply after = stats_on(a);
    ck_assert_uint_eq(after.used_bytes, before.used_bytes);
    ck_assert_uint_eq(after.buffers, before.buffers);
    /* The limit is per connection: b has its own 64K. */
    ck_assert_int_eq(buf_code(b, CREATE, "b1", 48 << 10, 0), 0);
    close(a);
    close(b);
    assert_clean(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("graphs", 30);
    tcase_add_test(tc, test_register_places_tensors_in_workspace_and_release_frees);
    tcase_add_test(tc, test_a_graph_that_needs_a_search_is_planned_on_the_pool);
    tcase_add_test(tc, test_a_client_leaving_while_its_search_runs_leaves_nothing);
    tcase_add_test(tc, test_release_of_another_connections_graph_is_refused);
    tcase_add_test(tc, test_quiet_release_answers_only_a_refusal);
    tcase_add_test(tc, test_same_frame_again_reuses_the_plan_and_places_anew);
    tcase_add_loop_test(tc, test_invalid_graph_is_refused_with_named_message_and_nothing_leaks,
                        0, (int)(sizeof bad_graphs / sizeof bad_graphs[0]));
    tcase_add_test(tc, test_arena_exhaustion_is_enospc_with_nothing_half_made);
    tcase_add_test(tc, test_client_limit_is_enospc_per_connection);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
