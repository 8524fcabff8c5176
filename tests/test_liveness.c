/* test_liveness.c - lifetimes of each kind, every class of invalid graph
 * (code and message), and linear time on a million tensors. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liveness.h"

#define T(id_, bytes_, kind_) {(id_), (bytes_), 0, (kind_), NULL, NULL}
#define OP(name_, in_, out_)                                                                \
    {(name_), (in_), sizeof(in_) / sizeof((in_)[0]), (out_), sizeof(out_) / sizeof((out_)[0])}
#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static char err[512];

/* Expect code, and every one of the NULL-terminated substrings in err. */
static void expect_refused(const struct graph *g, const struct graph_limits *lim, int code,
                           const char *const *words)
{
    struct tensor_live live[64];
    int rc;

    ck_assert_uint_le(g->n_tensors, 64);
    err[0] = '\0';
    rc = liveness_compute(g, lim, live, err, sizeof(err));
    ck_assert_msg(rc == code, "expected %d, got %d (%s)", code, rc, err);
    for (size_t i = 0; words[i] != NULL; i++)
        ck_assert_msg(strstr(err, words[i]) != NULL, "message \"%s\" lacks \"%s\"", err,
                      words[i]);
}

#define REFUSED(g, lim, code, ...)                                                          \
    do {                                                                                    \
        const char *const w_[] = {__VA_ARGS__, NULL};                                       \
        expect_refused((g), (lim), (code), w_);                                             \
    } while (0)

/* The seed README's example: op0 writes t0; op1 t0 -> t1; op2 t1 -> t2; op3 reads t2. */
START_TEST(test_liveness_seed_example_intervals)
{
    static const uint64_t none[] = {0}, t0[] = {10}, t1[] = {11}, t2[] = {12};
    const struct graph_tensor ts[] = {T(10, 64, TENSOR_INTERMEDIATE),
                                      T(11, 64, TENSOR_INTERMEDIATE),
                                      T(12, 64, TENSOR_INTERMEDIATE)};
    const struct graph_op ops[] = {
        {"op0", none, 0, t0, 1},
        OP("op1", t0, t1),
        OP("op2", t1, t2),
        {"op3", t2, 1, none, 0},
    };
    const struct graph g = {"seed", ts, N(ts), ops, N(ops)};
    struct tensor_live live[3];

    ck_assert_int_eq(liveness_compute(&g, NULL, live, err, sizeof(err)), 0);
    ck_assert_uint_eq(live[0].first, 0);
    ck_assert_uint_eq(live[0].last, 1);
    ck_assert_uint_eq(live[1].first, 1);
    ck_assert_uint_eq(live[1].last, 2);
    ck_assert_uint_eq(live[2].first, 2);
    ck_assert_uint_eq(live[2].last, 3);
}
END_TEST

/* Every kind on one graph of five ops. */
START_TEST(test_liveness_intervals_stretch_by_kind)
{
    static const uint64_t in0[] = {1, 2}, out0[] = {3};
    static const uint64_t in1[] = {3, 7}, out1[] = {4};
    static const uint64_t in2[] = {3}, out2[] = {5};
    static const uint64_t in3[] = {5}, out3[] = {6};
    static const uint64_t in4[] = {2}, out4[] = {2};
    struct graph_tensor ts[] = {
        T(1, 16, TENSOR_INPUT),        T(2, 16, TENSOR_PERSISTENT),
        T(3, 16, TENSOR_INTERMEDIATE), T(4, 16, TENSOR_INTERMEDIATE),
        T(5, 16, TENSOR_OUTPUT),       T(6, 16, TENSOR_EXPORT),
        T(7, 16, TENSOR_IMPORT),       T(8, 16, TENSOR_INPUT),
    };
    const struct graph_op ops[] = {OP("a", in0, out0), OP("b", in1, out1), OP("c", in2, out2),
                                   OP("d", in3, out3), OP("e", in4, out4)};
    struct tensor_live live[8];
    /* [first, last] per tensor, by the rules in liveness.h. */
    const uint32_t want[8][2] = {
        {0, 0}, /* input read by op 0 only */
        {0, 4}, /* persistent: whole run (also updated in place by op 4) */
        {0, 2}, /* written by 0, last read by 2 */
        {1, 1}, /* written by 1, never read */
        {2, 4}, /* output written by 2: to the end */
        {3, 4}, /* export written by 3: to the end */
        {0, 1}, /* import read by 1: from the start */
        {0, 0}, /* input no op touches */
    };

    ts[5].share = "stage/out";
    ts[6].share = "stage/in";
    const struct graph g = {"kinds", ts, N(ts), ops, N(ops)};
    ck_assert_msg(liveness_compute(&g, NULL, live, err, sizeof(err)) == 0, "%s", err);
    for (int k = 0; k < 8; k++) {
        ck_assert_msg(live[k].first == want[k][0] && live[k].last == want[k][1],
                      "tensor %d: [%u, %u], want [%u, %u]", k, live[k].first, live[k].last,
                      want[k][0], want[k][1]);
    }
}
END_TEST

START_TEST(test_liveness_persistent_may_be_written_by_several_ops)
{
    static const uint64_t s[] = {5};
    const struct graph_tensor ts[] = {T(5, 32, TENSOR_PERSISTENT)};
    const struct graph_op ops[] = {OP("upd0", s, s), OP("upd1", s, s), OP("upd2", s, s)};
    const struct graph g = {"state", ts, 1, ops, 3};
    struct tensor_live live[1];

    ck_assert_msg(liveness_compute(&g, NULL, live, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(live[0].first, 0);
    ck_assert_uint_eq(live[0].last, 2);
}
END_TEST

START_TEST(test_liveness_rejects_empty_graph)
{
    static const uint64_t o[] = {1};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {{"w", NULL, 0, o, 1}};
    const struct graph no_ops = {"g", ts, 1, ops, 0};
    const struct graph no_tensors = {"g", ts, 0, ops, 1};

    REFUSED(&no_ops, NULL, -EINVAL, "empty graph", "0 ops");
    REFUSED(&no_tensors, NULL, -EINVAL, "empty graph", "0 tensors");
}
END_TEST

START_TEST(test_liveness_rejects_duplicate_tensor_id)
{
    static const uint64_t o[] = {77};
    const struct graph_tensor ts[] = {T(77, 8, TENSOR_OUTPUT), T(3, 8, TENSOR_INPUT),
                                      T(77, 8, TENSOR_INPUT)};
    const struct graph_op ops[] = {{"w", NULL, 0, o, 1}};
    const struct graph g = {"g", ts, 3, ops, 1};

    REFUSED(&g, NULL, -EINVAL, "tensor id 77", "tensors[2]", "duplicate", "tensors[0]");
}
END_TEST

START_TEST(test_liveness_rejects_unknown_tensor_id_in_inputs_and_outputs)
{
    static const uint64_t in_bad[] = {1, 999}, out_ok[] = {2};
    static const uint64_t in_ok[] = {1}, out_bad[] = {4242, 2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops_a[] = {OP("CONV_2D", in_bad, out_ok)};
    const struct graph_op ops_b[] = {OP("fine", in_ok, out_ok), OP("ADD", in_ok, out_bad)};
    const struct graph a = {"g", ts, 2, ops_a, 1};
    const struct graph b = {"g", ts, 2, ops_b, 2};

    REFUSED(&a, NULL, -EINVAL, "op 0", "CONV_2D", "unknown tensor id 999", "input 1");
    REFUSED(&b, NULL, -EINVAL, "op 1", "ADD", "unknown tensor id 4242", "output 0");
}
END_TEST

/* Ids 0..n-1 in order need no map: an id is its index, and n (one past the
 * last) or more is unknown. */
START_TEST(test_liveness_dense_ids_resolve_by_index_and_refuse_past_the_end)
{
    static const uint64_t in[] = {0}, mid[] = {1}, out[] = {2}, past[] = {3};
    const struct graph_tensor ts[] = {T(0, 8, TENSOR_INPUT), T(1, 16, TENSOR_INTERMEDIATE),
                                      T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("a", in, mid), OP("b", mid, out)};
    const struct graph_op bad[] = {OP("a", in, mid), OP("b", mid, past)};
    const struct graph g = {"g", ts, 3, ops, 2};
    const struct graph gb = {"g", ts, 3, bad, 2};
    struct tensor_live live[3];
    char msg[256] = "";
    ck_assert_int_eq(liveness_compute(&g, NULL, live, msg, sizeof(msg)), 0);
    ck_assert_uint_eq(live[1].first, 0);
    ck_assert_uint_eq(live[1].last, 1);
    REFUSED(&gb, NULL, -EINVAL, "op 1", "unknown tensor id 3", "output 0");
}
END_TEST

START_TEST(test_liveness_rejects_tensor_written_by_two_ops)
{
    static const uint64_t in[] = {1}, out[] = {2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_INTERMEDIATE)};
    const struct graph_op ops[] = {OP("first", in, out), OP("second", in, out)};
    const struct graph g = {"g", ts, 2, ops, 2};

    REFUSED(&g, NULL, -EINVAL, "op 1", "second", "tensor id 2", "op 0", "first");
}
END_TEST

START_TEST(test_liveness_rejects_tensor_written_twice_by_one_op)
{
    static const uint64_t in[] = {1}, out[] = {2, 2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("SPLIT", in, out)};
    const struct graph g = {"g", ts, 2, ops, 1};

    REFUSED(&g, NULL, -EINVAL, "op 0", "SPLIT", "tensor id 2", "twice");
}
END_TEST

START_TEST(test_liveness_rejects_read_before_write)
{
    static const uint64_t in[] = {1}, mid[] = {2};
    const enum tensor_kind kinds[] = {TENSOR_INTERMEDIATE, TENSOR_OUTPUT, TENSOR_EXPORT};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, kinds[i])};
        /* op 1 reads tensor 2, which only op 2 writes. */
        const struct graph_op ops[] = {
            {"prep", in, 1, NULL, 0},
            {"MUL", mid, 1, NULL, 0},
            {"late", in, 1, mid, 1},
        };
        const struct graph g = {"g", ts, 2, ops, 3};

        if (kinds[i] == TENSOR_EXPORT)
            ts[1].share = "x";
        REFUSED(&g, NULL, -EINVAL, "op 1", "MUL", "tensor id 2", "before");
    }
}
END_TEST

START_TEST(test_liveness_rejects_op_reading_its_own_first_write)
{
    static const uint64_t io[] = {2};
    const struct graph_tensor ts[] = {T(2, 8, TENSOR_INTERMEDIATE)};
    const struct graph_op ops[] = {OP("INPLACE", io, io)};
    const struct graph g = {"g", ts, 1, ops, 1};

    REFUSED(&g, NULL, -EINVAL, "op 0", "INPLACE", "tensor id 2", "before");
}
END_TEST

START_TEST(test_liveness_allows_reading_inputs_imports_and_persistents_unwritten)
{
    static const uint64_t in[] = {1, 2, 3}, out[] = {4};
    struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_IMPORT),
                                T(3, 8, TENSOR_PERSISTENT), T(4, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("f", in, out)};
    struct tensor_live live[4];

    ts[1].share = "up";
    const struct graph g = {"g", ts, 4, ops, 1};
    ck_assert_msg(liveness_compute(&g, NULL, live, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(test_liveness_rejects_untouched_intermediate_and_unwritten_output)
{
    static const uint64_t in[] = {1}, out[] = {2};
    struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT),
                                T(3, 8, TENSOR_INTERMEDIATE)};
    const struct graph_op ops[] = {OP("f", in, out)};
    const struct graph g = {"g", ts, 3, ops, 1};

    REFUSED(&g, NULL, -EINVAL, "tensor id 3", "tensors[2]", "no op touches");

    ts[2].kind = TENSOR_OUTPUT;
    REFUSED(&g, NULL, -EINVAL, "tensor id 3", "output", "no op writes");
    /* Read but never written is caught earlier, as a read before the write. */
    ts[2].kind = TENSOR_EXPORT;
    ts[2].share = "never";
    REFUSED(&g, NULL, -EINVAL, "tensor id 3", "export", "no op writes");
}
END_TEST

START_TEST(test_liveness_rejects_bad_bytes_and_align)
{
    static const uint64_t in[] = {1}, out[] = {2};
    struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("f", in, out)};
    const struct graph g = {"g", ts, 2, ops, 1};
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;

    ts[1].bytes = 0;
    REFUSED(&g, NULL, -EINVAL, "tensor id 2", "bytes is 0");
    ts[1].bytes = ((uint64_t)1 << 44) + 1; /* the default limit is 2^44 */
    REFUSED(&g, NULL, -EINVAL, "tensor id 2", "17592186044417", "17592186044416");
    ts[1].bytes = (uint64_t)1 << 44;
    ck_assert_int_eq(liveness_compute(&g, NULL, (struct tensor_live[2]){{0, 0}}, err,
                                      sizeof(err)),
                     0);
    lim.max_tensor_bytes = 4096;
    ts[1].bytes = 4097;
    REFUSED(&g, &lim, -EINVAL, "tensor id 2", "4097", "4096");
    ts[1].bytes = 8;

    ts[0].align = 48;
    REFUSED(&g, NULL, -EINVAL, "tensor id 1", "align 48", "power of two");
    ts[0].align = (uint64_t)1 << 21; /* default max_align is 1 MiB */
    REFUSED(&g, NULL, -EINVAL, "tensor id 1", "align 2097152", "1048576");
    ts[0].align = 1;
    ck_assert_int_eq(liveness_compute(&g, NULL, (struct tensor_live[2]){{0, 0}}, err,
                                      sizeof(err)),
                     0);
}
END_TEST

START_TEST(test_liveness_rejects_share_name_misuse)
{
    static const uint64_t in[] = {1}, out[] = {2};
    struct graph_tensor ts[] = {T(1, 8, TENSOR_IMPORT), T(2, 8, TENSOR_EXPORT)};
    const struct graph_op ops[] = {OP("f", in, out)};
    const struct graph g = {"g", ts, 2, ops, 1};

    ts[0].share = "a";
    REFUSED(&g, NULL, -EINVAL, "tensor id 2", "export", "share name");
    ts[1].share = "";
    REFUSED(&g, NULL, -EINVAL, "tensor id 2", "export", "share name");
    ts[1].share = "b";
    ts[0].share = NULL;
    REFUSED(&g, NULL, -EINVAL, "tensor id 1", "import", "share name");
    ts[0].share = "a";
    ck_assert_int_eq(liveness_compute(&g, NULL, (struct tensor_live[2]){{0, 0}}, err,
                                      sizeof(err)),
                     0);
    ts[0].kind = TENSOR_INPUT;
    REFUSED(&g, NULL, -EINVAL, "tensor id 1", "\"a\"", "input");
    ts[0].kind = TENSOR_PERSISTENT;
    REFUSED(&g, NULL, -EINVAL, "tensor id 1", "\"a\"", "persistent");
}
END_TEST

START_TEST(test_liveness_rejects_unknown_kind)
{
    static const uint64_t in[] = {1}, out[] = {2};
    struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("f", in, out)};
    const struct graph g = {"g", ts, 2, ops, 1};

    ts[1].kind = (enum tensor_kind)9;
    REFUSED(&g, NULL, -EINVAL, "tensor id 2", "unknown kind 9");
}
END_TEST

START_TEST(test_liveness_refuses_counts_over_limits_with_e2big)
{
    static const uint64_t in[] = {1, 1, 1}, out[] = {2};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT), T(2, 8, TENSOR_OUTPUT)};
    const struct graph_op ops[] = {OP("f", in, out), OP("g", in, in)};
    const struct graph g = {"g", ts, 2, ops, 1};
    const struct graph g2 = {"g", ts, 2, ops, 2};
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;

    lim.max_tensors = 1;
    REFUSED(&g, &lim, -E2BIG, "2 tensors", "max_tensors", "limit of 1");
    lim = (struct graph_limits)GRAPH_LIMITS_DEFAULT;
    lim.max_ops = 1;
    REFUSED(&g2, &lim, -E2BIG, "2 ops", "max_ops", "limit of 1");
    lim = (struct graph_limits)GRAPH_LIMITS_DEFAULT;
    lim.max_op_refs = 3;
    REFUSED(&g, &lim, -E2BIG, "op 0", "(f)", "4 inputs + outputs", "limit of 3",
            "max_op_refs");
    lim.max_op_refs = 4;
    ck_assert_int_eq(liveness_compute(&g, &lim, (struct tensor_live[2]){{0, 0}}, err,
                                      sizeof(err)),
                     0);
}
END_TEST

/* A chain of n tensors: t0 input, op i reads t_i and writes t_{i+1}, the last
 * an output. Ids are i * an odd constant (distinct, spread over 64 bits) or,
 * with `shifted`, i << 24 (low bits all zero, bad for a weak hash). */
struct chain {
    struct graph g;
    struct graph_tensor *ts;
    struct graph_op *ops;
    uint64_t *ids;
    struct tensor_live *live;
};

static void chain_make(struct chain *c, uint32_t n, int shifted)
{
    c->ts = calloc(n, sizeof(*c->ts));
    c->ops = calloc(n - 1, sizeof(*c->ops));
    c->ids = calloc(n, sizeof(*c->ids));
    c->live = calloc(n, sizeof(*c->live));
    ck_assert(c->ts && c->ops && c->ids && c->live);
    for (uint32_t i = 0; i < n; i++) {
        c->ids[i] = shifted ? (uint64_t)i << 24 : (uint64_t)i * 0x9e3779b97f4a7c15ull;
        c->ts[i] = (struct graph_tensor){c->ids[i], 64, 0, TENSOR_INTERMEDIATE, NULL, NULL};
    }
    c->ts[0].kind = TENSOR_INPUT;
    c->ts[n - 1].kind = TENSOR_OUTPUT;
    for (uint32_t i = 0; i + 1 < n; i++)
        c->ops[i] = (struct graph_op){NULL, &c->ids[i], 1, &c->ids[i + 1], 1};
    c->g = (struct graph){"chain", c->ts, n, c->ops, n - 1};
}

static void chain_free(struct chain *c)
{
    free(c->ts);
    free(c->ops);
    free(c->ids);
    free(c->live);
}

static double chain_seconds(struct chain *c)
{
    struct timespec a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_msg(liveness_compute(&c->g, NULL, c->live, err, sizeof(err)) == 0, "%s", err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Linear time: a million tensors (and a million ops) take ~0.1 s natively
 * and a few seconds under valgrind; a quadratic pass (5e11 probes) would take
 * minutes, so 15 s separates the two on any machine this runs on. The time of
 * an eighth of the graph is printed beside it for the record. */
START_TEST(test_liveness_million_tensors_validate_in_linear_time)
{
    const uint32_t big = 1000000, small = big / 8;
    int shifted = _i;
    struct chain cs, cb;
    double ts, tb;

    chain_make(&cs, small, shifted);
    chain_make(&cb, big, shifted);
    ts = chain_seconds(&cs);
    tb = chain_seconds(&cb);
    ck_assert_uint_eq(cb.live[0].first, 0);
    ck_assert_uint_eq(cb.live[0].last, 0);
    ck_assert_uint_eq(cb.live[500000].first, 499999);
    ck_assert_uint_eq(cb.live[500000].last, 500000);
    ck_assert_uint_eq(cb.live[big - 1].first, big - 2);
    ck_assert_uint_eq(cb.live[big - 1].last, big - 2);
    printf("liveness: %u tensors %.1f ms, %u tensors %.1f ms (%s ids)\n", small, ts * 1e3, big,
           tb * 1e3, shifted ? "shifted" : "spread");
    ck_assert_msg(tb < 15.0, "%u tensors took %.3f s", big, tb);
    chain_free(&cs);
    chain_free(&cb);
}
END_TEST

START_TEST(test_liveness_rejects_null_arrays)
{
    static const uint64_t in[] = {1};
    const struct graph_tensor ts[] = {T(1, 8, TENSOR_INPUT)};
    const struct graph_op ops[] = {{"f", NULL, 1, in, 0}};
    const struct graph g = {"g", ts, 1, ops, 1};
    const struct graph nt = {"g", NULL, 1, ops, 1};

    REFUSED(&g, NULL, -EINVAL, "op 0", "NULL");
    REFUSED(&nt, NULL, -EINVAL, "NULL");
    ck_assert_int_eq(liveness_compute(NULL, NULL, (struct tensor_live[1]){{0, 0}}, err,
                                      sizeof(err)),
                     -EINVAL);
}
END_TEST

static Suite *liveness_suite(void)
{
    Suite *s = suite_create("liveness");
    TCase *tc = tcase_create("core");
    TCase *big = tcase_create("big");

    tcase_add_test(tc, test_liveness_seed_example_intervals);
    tcase_add_test(tc, test_liveness_intervals_stretch_by_kind);
    tcase_add_test(tc, test_liveness_persistent_may_be_written_by_several_ops);
    tcase_add_test(tc, test_liveness_rejects_empty_graph);
    tcase_add_test(tc, test_liveness_rejects_duplicate_tensor_id);
    tcase_add_test(tc, test_liveness_rejects_unknown_tensor_id_in_inputs_and_outputs);
    tcase_add_test(tc, test_liveness_dense_ids_resolve_by_index_and_refuse_past_the_end);
    tcase_add_test(tc, test_liveness_rejects_tensor_written_by_two_ops);
    tcase_add_test(tc, test_liveness_rejects_tensor_written_twice_by_one_op);
    tcase_add_test(tc, test_liveness_rejects_read_before_write);
    tcase_add_test(tc, test_liveness_rejects_op_reading_its_own_first_write);
    tcase_add_test(tc, test_liveness_allows_reading_inputs_imports_and_persistents_unwritten);
    tcase_add_test(tc, test_liveness_rejects_untouched_intermediate_and_unwritten_output);
    tcase_add_test(tc, test_liveness_rejects_bad_bytes_and_align);
    tcase_add_test(tc, test_liveness_rejects_share_name_misuse);
    tcase_add_test(tc, test_liveness_rejects_unknown_kind);
    tcase_add_test(tc, test_liveness_refuses_counts_over_limits_with_e2big);
    tcase_add_test(tc, test_liveness_rejects_null_arrays);
    suite_add_tcase(s, tc);

    tcase_set_timeout(big, 120);
    tcase_add_loop_test(big, test_liveness_million_tensors_validate_in_linear_time, 0, 2);
    suite_add_tcase(s, big);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(liveness_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
