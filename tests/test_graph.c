/* test_graph.c - the planning pipeline: liveness, plan, verify, per kind,
 * under every policy, on the seed's example, the example graphs and the
 * public model graphs. Every plan is checked here again, independently of
 * planner_verify. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "planner.h"
#include "graph_json.h"
#include "layer_dag.h"

#define T(id_, bytes_, kind_) {(id_), (bytes_), 0, (kind_), NULL, NULL}
#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static char err[1024];

static int ranges_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

static int in_workspace(enum tensor_kind k)
{
    return k != TENSOR_EXPORT && k != TENSOR_IMPORT;
}

/* Check p against g from first principles: offsets aligned, in [0, peak);
 * tensors live at a common op disjoint in bytes; export/import off the
 * workspace; the lower bound is the largest sum of bytes live at one op. */
static void check_plan(const struct graph *g, const struct graph_plan *p, const char *what)
{
    uint64_t top = 0, lb = 0;

    ck_assert_uint_eq(p->n_tensors, g->n_tensors);
    ck_assert_ptr_nonnull(p->policy);
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        uint64_t align = t->align ? t->align : TENSOR_ALIGN_DEFAULT;

        ck_assert_uint_le(p->live[i].first, p->live[i].last);
        ck_assert_uint_lt(p->live[i].last, g->n_ops);
        if (!in_workspace(t->kind)) {
            ck_assert_msg(p->off[i] == GRAPH_OFF_NONE, "%s: tensor %llu has an offset", what,
                          (unsigned long long)t->id);
            continue;
        }
        ck_assert_msg(p->off[i] != GRAPH_OFF_NONE, "%s: tensor %llu has no offset", what,
                      (unsigned long long)t->id);
        ck_assert_msg(p->off[i] % align == 0, "%s: tensor %llu misaligned", what,
                      (unsigned long long)t->id);
        ck_assert_msg(p->off[i] + t->bytes <= p->peak_bytes, "%s: tensor %llu beyond peak",
                      what, (unsigned long long)t->id);
        if (p->off[i] + t->bytes > top)
            top = p->off[i] + t->bytes;
        for (uint32_t j = i + 1; j < g->n_tensors; j++) {
            const struct graph_tensor *u = &g->tensors[j];
            if (!in_workspace(u->kind))
                continue;
            if (p->live[i].first > p->live[j].last || p->live[j].first > p->live[i].last)
                continue;
            ck_assert_msg(!ranges_overlap(p->off[i], t->bytes, p->off[j], u->bytes),
                          "%s: tensors %llu and %llu are live together and overlap", what,
                          (unsigned long long)t->id, (unsigned long long)u->id);
        }
    }
    ck_assert_uint_eq(top, p->peak_bytes);
    /* The bound by its definition (planner.h): at each op, sizes rounded
     * up to the smallest alignment live there, less the largest rounding. */
    for (uint32_t op = 0; op < g->n_ops; op++) {
        uint64_t sum = 0, gmin = UINT64_MAX, pad = 0;
        for (int pass = 0; pass < 2; pass++)
            for (uint32_t i = 0; i < g->n_tensors; i++) {
                const struct graph_tensor *t = &g->tensors[i];
                uint64_t a = t->align ? t->align : TENSOR_ALIGN_DEFAULT, r;
                if (!in_workspace(t->kind) || p->live[i].first > op || op > p->live[i].last)
                    continue;
                if (pass == 0) {
                    gmin = a < gmin ? a : gmin;
                    continue;
                }
                r = (t->bytes + gmin - 1) / gmin * gmin;
                sum += r;
                pad = r - t->bytes > pad ? r - t->bytes : pad;
            }
        if (sum - pad > lb)
            lb = sum - pad;
    }
    ck_assert_uint_eq(p->lower_bound_bytes, lb);
    ck_assert_uint_ge(p->peak_bytes, p->lower_bound_bytes);
}

/* The seed README's example: op0 writes t0; op1 t0 -> t1; op2 t1 -> t2;
 * op3 reads t2. t0 [0,1], t1 [1,2], t2 [2,3]: at most two tensors of S
 * bytes are live at once, so the bound is 2S, and a plan of 2S must put t0
 * and t2 on the same bytes (both avoid t1). */
START_TEST(test_graph_seed_example_shares_bytes_under_every_policy)
{
    static const uint64_t t0[] = {0}, t1[] = {1}, t2[] = {2};
    const uint64_t S = 4096;
    const struct graph_tensor ts[] = {T(0, S, TENSOR_INTERMEDIATE),
                                      T(1, S, TENSOR_INTERMEDIATE),
                                      T(2, S, TENSOR_INTERMEDIATE)};
    const struct graph_op ops[] = {
        {"op0", NULL, 0, t0, 1},
        {"op1", t0, 1, t1, 1},
        {"op2", t1, 1, t2, 1},
        {"op3", t2, 1, NULL, 0},
    };
    const struct graph g = {"seed", ts, N(ts), ops, N(ops)};

    ck_assert_uint_gt(planner_policy_count(), 0);
    for (size_t k = 0; k < planner_policy_count(); k++) {
        const char *pol = planner_policy_name(k);
        struct graph_plan p;

        ck_assert_msg(graph_plan_build(&g, NULL, pol, NULL, &p, err, sizeof(err)) == 0,
                      "%s: %s", pol, err);
        check_plan(&g, &p, pol);
        ck_assert_str_eq(p.policy, pol);
        ck_assert_uint_eq(p.live[0].first, 0);
        ck_assert_uint_eq(p.live[0].last, 1);
        ck_assert_uint_eq(p.live[1].first, 1);
        ck_assert_uint_eq(p.live[1].last, 2);
        ck_assert_uint_eq(p.live[2].first, 2);
        ck_assert_uint_eq(p.live[2].last, 3);
        ck_assert_uint_eq(p.lower_bound_bytes, 2 * S);
        ck_assert_msg(p.peak_bytes == 2 * S, "%s: peak %llu", pol,
                      (unsigned long long)p.peak_bytes);
        ck_assert_msg(ranges_overlap(p.off[0], S, p.off[2], S), "%s: t0 and t2 do not share",
                      pol);
        ck_assert(p.plan_ms >= 0);
        graph_plan_free(&p);
    }
}
END_TEST

START_TEST(test_graph_null_policy_means_the_default)
{
    static const uint64_t a[] = {1}, b[] = {2};
    const struct graph_tensor ts[] = {T(1, 100, TENSOR_INPUT), T(2, 100, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"f", a, 1, b, 1}};
    const struct graph g = {"g", ts, 2, ops, 1};
    struct graph_plan p;

    ck_assert_int_eq(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)), 0);
    ck_assert_str_eq(p.policy, planner_default_policy());
    check_plan(&g, &p, "default");
    graph_plan_free(&p);
}
END_TEST

/* Persistent tensors live for the whole run, so under every policy they
 * share bytes with nothing, however short-lived the others are. */
START_TEST(test_graph_persistent_never_shares_bytes)
{
    static const uint64_t in0[] = {1, 9}, o0[] = {2}, in1[] = {2, 8}, o1[] = {3};
    static const uint64_t in2[] = {3}, o2[] = {4}, in3[] = {4, 9}, o3[] = {5};
    const struct graph_tensor ts[] = {
        T(1, 1000, TENSOR_INPUT),        T(2, 5000, TENSOR_INTERMEDIATE),
        T(3, 5000, TENSOR_INTERMEDIATE), T(4, 5000, TENSOR_INTERMEDIATE),
        T(5, 10, TENSOR_OUTPUT),         T(8, 300, TENSOR_PERSISTENT),
        T(9, 700, TENSOR_PERSISTENT),
    };
    const struct graph_op ops[] = {{"a", in0, 2, o0, 1}, {"b", in1, 2, o1, 1},
                                   {"c", in2, 1, o2, 1}, {"d", in3, 2, o3, 1}};
    const struct graph g = {"g", ts, N(ts), ops, N(ops)};

    for (size_t k = 0; k < planner_policy_count(); k++) {
        const char *pol = planner_policy_name(k);
        struct graph_plan p;

        ck_assert_msg(graph_plan_build(&g, NULL, pol, NULL, &p, err, sizeof(err)) == 0,
                      "%s: %s", pol, err);
        check_plan(&g, &p, pol);
        for (uint32_t i = 0; i < N(ts); i++) {
            if (ts[i].kind != TENSOR_PERSISTENT)
                continue;
            ck_assert_uint_eq(p.live[i].first, 0);
            ck_assert_uint_eq(p.live[i].last, N(ops) - 1);
            for (uint32_t j = 0; j < N(ts); j++)
                ck_assert_msg(j == i || !ranges_overlap(p.off[i], ts[i].bytes, p.off[j],
                                                        ts[j].bytes),
                              "%s: persistent %llu shares bytes with %llu", pol,
                              (unsigned long long)ts[i].id, (unsigned long long)ts[j].id);
        }
        graph_plan_free(&p);
    }
}
END_TEST

START_TEST(test_graph_export_and_import_get_no_workspace_offset)
{
    static const uint64_t in0[] = {1, 2}, o0[] = {3}, in1[] = {3}, o1[] = {4};
    struct graph_tensor ts[] = {T(1, 1 << 20, TENSOR_IMPORT), T(2, 64, TENSOR_INPUT),
                                T(3, 128, TENSOR_INTERMEDIATE), T(4, 1 << 20, TENSOR_EXPORT)};
    const struct graph_op ops[] = {{"a", in0, 2, o0, 1}, {"b", in1, 1, o1, 1}};
    const struct graph g = {"g", ts, N(ts), ops, N(ops)};
    struct graph_plan p;

    ts[0].share = "up/in";
    ts[3].share = "down/out";
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)) == 0, "%s",
                  err);
    check_plan(&g, &p, "shared");
    ck_assert(p.off[0] == GRAPH_OFF_NONE);
    ck_assert(p.off[3] == GRAPH_OFF_NONE);
    /* The megabyte tensors are not in the workspace: 64 + 128 at op 0. */
    ck_assert_uint_eq(p.lower_bound_bytes, 64 + 128);
    ck_assert_uint_lt(p.peak_bytes, 1 << 20);
    /* Lifetimes are still given: import from the start, export to the end. */
    ck_assert_uint_eq(p.live[0].first, 0);
    ck_assert_uint_eq(p.live[0].last, 0);
    ck_assert_uint_eq(p.live[3].first, 1);
    ck_assert_uint_eq(p.live[3].last, 1);
    graph_plan_free(&p);
}
END_TEST

START_TEST(test_graph_with_only_shared_tensors_has_empty_workspace)
{
    static const uint64_t in0[] = {1}, o0[] = {2};
    struct graph_tensor ts[] = {T(1, 4096, TENSOR_IMPORT), T(2, 4096, TENSOR_EXPORT)};
    const struct graph_op ops[] = {{"copy", in0, 1, o0, 1}};
    const struct graph g = {"g", ts, 2, ops, 1};
    struct graph_plan p;

    ts[0].share = "a";
    ts[1].share = "b";
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(p.peak_bytes, 0);
    ck_assert_uint_eq(p.lower_bound_bytes, 0);
    ck_assert(p.off[0] == GRAPH_OFF_NONE && p.off[1] == GRAPH_OFF_NONE);
    graph_plan_free(&p);
}
END_TEST

START_TEST(test_graph_refuses_workspace_size_overflow)
{
    static const uint64_t in0[] = {1, 2}, o0[] = {3};
    const struct graph_tensor ts[] = {T(1, (uint64_t)1 << 63, TENSOR_INPUT),
                                      T(2, (uint64_t)1 << 63, TENSOR_PERSISTENT),
                                      T(3, 64, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"add", in0, 2, o0, 1}};
    const struct graph g = {"g", ts, 3, ops, 1};
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    struct graph_plan p;

    lim.max_tensor_bytes = UINT64_MAX;
    ck_assert_int_eq(graph_plan_build(&g, &lim, NULL, NULL, &p, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "overflow") != NULL && strstr(err, "tensor id 2") != NULL, "%s",
                  err);
    /* With the default limits the same sizes are refused per tensor. */
    ck_assert_int_eq(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "tensor id 1") != NULL && strstr(err, "limit") != NULL, "%s",
                  err);
}
END_TEST

START_TEST(test_graph_passes_liveness_errors_through)
{
    static const uint64_t a[] = {1}, b[] = {2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INTERMEDIATE), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"RELU", a, 1, b, 1}};
    const struct graph g = {"g", ts, 2, ops, 1};
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    struct graph_plan p;

    ck_assert_int_eq(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "op 0") && strstr(err, "RELU") && strstr(err, "tensor id 1"),
                  "%s", err);
    lim.max_tensors = 1;
    ck_assert_int_eq(graph_plan_build(&g, &lim, NULL, NULL, &p, err, sizeof(err)), -E2BIG);
    ck_assert_msg(strstr(err, "max_tensors") != NULL, "%s", err);
    lim = (struct graph_limits)GRAPH_LIMITS_DEFAULT;
    lim.max_ops = 0;
    ck_assert_int_eq(graph_plan_build(&g, &lim, NULL, NULL, &p, err, sizeof(err)), -E2BIG);
    ck_assert_msg(strstr(err, "max_ops") != NULL, "%s", err);
}
END_TEST

START_TEST(test_graph_refuses_unknown_policy_naming_it)
{
    static const uint64_t a[] = {1}, b[] = {2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"f", a, 1, b, 1}};
    const struct graph g = {"g", ts, 2, ops, 1};
    struct graph_plan p;

    ck_assert_int_eq(graph_plan_build(&g, NULL, "no-such-policy", NULL, &p, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "no-such-policy") != NULL, "%s", err);
    ck_assert_msg(strstr(err, planner_default_policy()) != NULL, "does not list: %s", err);
    graph_plan_free(&p); /* zeroed on failure: freeing it is harmless */
    graph_plan_free(NULL);
}
END_TEST

START_TEST(test_graph_alignment_is_honoured)
{
    static const uint64_t in0[] = {1}, o0[] = {2, 3}, in1[] = {2, 3}, o1[] = {4};
    struct graph_tensor ts[] = {T(1, 10, TENSOR_INPUT), T(2, 10, TENSOR_INTERMEDIATE),
                                T(3, 10, TENSOR_INTERMEDIATE), T(4, 10, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"a", in0, 1, o0, 2}, {"b", in1, 2, o1, 1}};
    const struct graph g = {"g", ts, 4, ops, 2};

    ts[1].align = 4096;
    ts[2].align = 1;
    ts[3].align = 256;
    for (size_t k = 0; k < planner_policy_count(); k++) {
        struct graph_plan p;
        ck_assert_int_eq(graph_plan_build(&g, NULL, planner_policy_name(k), NULL, &p, err,
                                          sizeof(err)),
                         0);
        check_plan(&g, &p, planner_policy_name(k)); /* checks alignment */
        graph_plan_free(&p);
    }
}
END_TEST

/* The directory this file is in (CTest passes ORION_SOURCE_DIR; a run by
 * hand may not). */
static const char *test_dir(void)
{
    static char dir[2048];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", __FILE__);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    return dir;
}

/* Plan every *.json in dir with every policy; returns how many files. */
static int plan_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4096];
        struct graph_json *gj;

        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ck_assert_msg(graph_json_load(path, &gj, err, sizeof(err)) == 0, "%s", err);
        for (size_t k = 0; k < planner_policy_count(); k++) {
            const char *pol = planner_policy_name(k);
            struct graph_plan p;
            char what[4200];

            snprintf(what, sizeof(what), "%s [%s]", path, pol);
            ck_assert_msg(graph_plan_build(graph_json_graph(gj), NULL, pol, NULL, &p, err,
                                           sizeof(err)) == 0,
                          "%s: %s", what, err);
            check_plan(graph_json_graph(gj), &p, what);
            graph_plan_free(&p);
        }
        graph_json_free(gj);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_graph_example_graphs_plan_and_verify_under_every_policy)
{
    const char *src = getenv("ORION_SOURCE_DIR");
    char dir[4096];

    if (src != NULL)
        snprintf(dir, sizeof(dir), "%s/examples/graphs", src);
    else
        snprintf(dir, sizeof(dir), "%s/../examples/graphs", test_dir());
    ck_assert_msg(plan_dir(dir) >= 4, "fewer than 4 graphs in %s", dir);
}
END_TEST

START_TEST(test_graph_bench_graphs_plan_and_verify_under_every_policy)
{
    const char *data = getenv("ORION_BENCH_DATA");
    char dir[4096];
    int n;

    if (data != NULL)
        snprintf(dir, sizeof(dir), "%s/graphs", data);
    else
        snprintf(dir, sizeof(dir), "%s/../../shared/bench/graphs", test_dir());
    n = plan_dir(dir);
    if (n < 0) {
        printf("test_graph: %s absent: skipping the public model graphs\n", dir);
        return;
    }
    ck_assert_msg(n > 0, "no graphs in %s", dir);
}
END_TEST

/* bench_rtt's random DAG of 100 layers (each reads one to three of the six
 * latest tensors), its first intermediate 64 bytes larger: greedy-size's
 * pass ends 1% above the bound, and the default gets there with the
 * search's first dive, its second pass (before the dive it took six, the
 * skyline's four passes by valleys missing it). */
START_TEST(test_graph_default_reaches_the_bound_of_a_layer_dag_at_its_second_pass)
{
    struct graph g = layer_dag();
    struct graph_tensor *t = (struct graph_tensor *)g.tensors;
    t[1].bytes += 64;
    struct graph_plan p, q;
    struct planner_stats st;
    struct planner_opts o = {.stats = &st};
    ck_assert_msg(graph_plan_build(&g, NULL, "greedy-size", NULL, &q, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_gt(q.peak_bytes, q.lower_bound_bytes);
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, &o, &p, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(p.peak_bytes, p.lower_bound_bytes);
    ck_assert_uint_eq(st.passes, 2);
    graph_plan_free(&p);
    graph_plan_free(&q);
}
END_TEST

/* The same DAG with persistent tensors (a model's weights, stacked apart
 * from the rest): the plan still reaches the bound. The bound that
 * graph_plan_solve hands the planner is the whole problem's; the rest,
 * planned on its own, must not take it for its own (it would stop at
 * greedy-size's pass, 1% above the rest's bound). */
START_TEST(test_graph_default_reaches_the_bound_of_a_layer_dag_with_weights)
{
    struct graph d = layer_dag();
    struct graph_tensor t[LAYER_DAG_TENSORS + 3];
    memcpy(t, d.tensors, sizeof(struct graph_tensor) * LAYER_DAG_TENSORS);
    t[1].bytes += 64;
    for (uint64_t k = 0; k < 3; k++)
        t[LAYER_DAG_TENSORS + k] = (struct graph_tensor){
            .id = 1000 + k, .bytes = (1 + k) * 65536 + 64, .kind = TENSOR_PERSISTENT};
    struct graph g = d;
    g.tensors = t;
    g.n_tensors = LAYER_DAG_TENSORS + 3;
    struct graph_plan p, q;
    ck_assert_msg(graph_plan_build(&g, NULL, "greedy-size", NULL, &q, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_gt(q.peak_bytes, q.lower_bound_bytes);
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, NULL, &p, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(p.peak_bytes, p.lower_bound_bytes);
    graph_plan_free(&p);
    graph_plan_free(&q);
}
END_TEST

/* planner_opts.no_search: a graph the default plans at its bound with
 * greedy-size's pass or the dive plans as without it; one that needs a
 * search (12 tensors whose bound, 1024, only the search reaches) gives up
 * with -EAGAIN, naming why, and leaves the prepared problem as it was, so
 * that solving it again without the option (the daemon: on its pool)
 * finds the plan at the bound. */
START_TEST(test_graph_no_search_gives_up_where_a_search_is_needed_and_keeps_the_problem)
{
    static const uint64_t sizes[12] = {512, 128, 128, 128, 256, 64, 320, 256, 448, 256, 256, 64};
    static uint64_t in[11][2] = {{0}, {0}, {1, 0}, {0}, {4}, {2, 3}, {6}, {3, 5}, {6, 8}, {6, 9},
                                 {6, 9}};
    static const uint32_t n_in[11] = {1, 1, 2, 1, 1, 2, 1, 2, 2, 2, 2};
    static uint64_t out[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    struct graph_tensor tt[12];
    struct graph_op ops[11];
    struct planner_opts ns = {.no_search = true};
    struct graph_plan p, q;

    for (uint32_t k = 0; k < 12; k++)
        tt[k] = (struct graph_tensor){k, sizes[k], 0,
                                      k == 0    ? TENSOR_INPUT
                                      : k == 11 ? TENSOR_OUTPUT
                                                : TENSOR_INTERMEDIATE,
                                      NULL, NULL};
    for (uint32_t k = 0; k < 11; k++)
        ops[k] = (struct graph_op){"op", in[k], n_in[k], &out[k], 1};
    struct graph hard = {"hard", tt, 12, ops, 11};
    ck_assert_int_eq(graph_plan_prepare(&hard, NULL, NULL, &p, err, sizeof(err)), 0);
    size_t n_buf = p.n_buf;
    ck_assert_uint_gt(n_buf, 0);
    ck_assert_int_eq(graph_plan_solve(&p, &ns, NULL, err, sizeof(err)), -EAGAIN);
    ck_assert_msg(strstr(err, "needs a search") != NULL, "%s", err);
    ck_assert_uint_eq(p.n_buf, n_buf); /* the problem kept, offsets not yet made */
    ck_assert_ptr_null(p.off);
    ck_assert_msg(graph_plan_solve(&p, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(p.lower_bound_bytes, 1024);
    ck_assert_uint_eq(p.peak_bytes, 1024);
    check_plan(&hard, &p, "hard");
    graph_plan_free(&p);

    /* the layer DAG reaches its bound at the dive: no_search changes nothing */
    struct graph g = layer_dag();
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, &ns, &p, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(graph_plan_build(&g, NULL, NULL, NULL, &q, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(p.peak_bytes, p.lower_bound_bytes);
    ck_assert_uint_eq(p.peak_bytes, q.peak_bytes);
    ck_assert_int_eq(memcmp(p.off, q.off, g.n_tensors * sizeof(*p.off)), 0);
    graph_plan_free(&p);
    graph_plan_free(&q);
    /* 200 buffers all live together: 19,900 overlapping pairs, more than a
     * pass without a search visits; given back at once, though greedy-size
     * plans them at the bound */
    {
        struct plan_buffer pb[200];
        uint64_t peak;
        for (uint32_t k = 0; k < 200; k++)
            pb[k] = (struct plan_buffer){.lower = k % 7, .upper = 1000 + k % 5, .bytes = 64};
        ck_assert_int_eq(planner_run(NULL, pb, 200, &ns, &peak, err, sizeof(err)), -EAGAIN);
        ck_assert_msg(planner_run(NULL, pb, 200, NULL, &peak, err, sizeof(err)) == 0, "%s", err);
        ck_assert_uint_eq(peak, 200 * 64);
    }
    /* with a time limit, no_search does not apply: it searches */
    struct planner_opts tl = {.time_limit_s = 0.5, .no_search = true};
    ck_assert_msg(graph_plan_build(&hard, NULL, NULL, &tl, &p, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(p.peak_bytes, 1024);
    graph_plan_free(&p);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_graph_seed_example_shares_bytes_under_every_policy);
    tcase_add_test(tc, test_graph_default_reaches_the_bound_of_a_layer_dag_at_its_second_pass);
    tcase_add_test(tc, test_graph_default_reaches_the_bound_of_a_layer_dag_with_weights);
    tcase_add_test(tc, test_graph_no_search_gives_up_where_a_search_is_needed_and_keeps_the_problem);
    tcase_add_test(tc, test_graph_null_policy_means_the_default);
    tcase_add_test(tc, test_graph_persistent_never_shares_bytes);
    tcase_add_test(tc, test_graph_export_and_import_get_no_workspace_offset);
    tcase_add_test(tc, test_graph_with_only_shared_tensors_has_empty_workspace);
    tcase_add_test(tc, test_graph_refuses_workspace_size_overflow);
    tcase_add_test(tc, test_graph_passes_liveness_errors_through);
    tcase_add_test(tc, test_graph_refuses_unknown_policy_naming_it);
    tcase_add_test(tc, test_graph_alignment_is_honoured);
    tcase_add_test(tc, test_graph_example_graphs_plan_and_verify_under_every_policy);
    tcase_add_test(tc, test_graph_bench_graphs_plan_and_verify_under_every_policy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(graph_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
