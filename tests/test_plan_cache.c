/* test_plan_cache.c - the plan cache: hits, misses, LRU eviction by entries and bytes, graph_plan_build_cached. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "plan_cache.h"

/* Problem number k: three buffers, sizes depending on k; offsets a plan. */
static void problem(struct plan_buffer *b, uint64_t k)
{
    b[0] = (struct plan_buffer){0, 2, 100 + k, 64, 0};
    b[1] = (struct plan_buffer){1, 3, 200, 64, 0};
    b[2] = (struct plan_buffer){2, 4, 50, 64, 0};
    b[0].off = 0;
    b[1].off = 128 + 64 * ((100 + k) / 64);
    b[2].off = 0;
}

static struct plan_cache *make(size_t entries, size_t bytes)
{
    struct plan_cache *c;
    ck_assert_int_eq(plan_cache_new(entries, bytes, &c), 0);
    return c;
}

START_TEST(test_plan_cache_hit_returns_the_plan_put)
{
    struct plan_cache *c = make(8, 1 << 20);
    struct plan_buffer b[3], q[3];
    struct plan_cache_stats st;
    uint64_t peak = 0, lb = 0;
    problem(b, 1);
    ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, 999, 77), 0);
    problem(q, 1);
    memset(&q[0].off, 0xff, sizeof(q[0].off));
    q[1].off = q[2].off = 12345;
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, q, 3, &peak, &lb), 1);
    ck_assert_uint_eq(peak, 999);
    ck_assert_uint_eq(lb, 77);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(q[i].off, b[i].off);
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 0);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.bytes, plan_cache_entry_bytes(3));
    plan_cache_free(c);
}
END_TEST

/* Any difference in the key is a miss: sizes, lifetimes, alignment,
 * count, policy, time limit. */
START_TEST(test_plan_cache_a_different_problem_or_policy_is_a_miss)
{
    struct plan_cache *c = make(8, 1 << 20);
    struct plan_buffer b[3], q[3];
    struct plan_cache_stats st;
    uint64_t peak, lb;
    problem(b, 1);
    ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, 999, 77), 0);
    ck_assert_int_eq(plan_cache_get(c, "greedy-size", 0, b, 3, &peak, &lb), 0);
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 1.0, b, 3, &peak, &lb), 0);
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, b, 2, &peak, &lb), 0);
    problem(q, 2);
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, q, 3, &peak, &lb), 0);
    problem(q, 1);
    q[2].align = 128;
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, q, 3, &peak, &lb), 0);
    problem(q, 1);
    q[1].upper = 4;
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, q, 3, &peak, &lb), 0);
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 0);
    ck_assert_uint_eq(st.misses, 6);
    plan_cache_free(c);
}
END_TEST

/* At max_entries the least recently used goes: a get makes an entry recent. */
START_TEST(test_plan_cache_evicts_the_least_recently_used_by_entries)
{
    struct plan_cache *c = make(3, 1 << 20);
    struct plan_buffer b[3];
    struct plan_cache_stats st;
    uint64_t peak, lb;
    for (uint64_t k = 0; k < 3; k++) {
        problem(b, k);
        ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, k, 77), 0);
    }
    problem(b, 0);
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, b, 3, &peak, &lb), 1); /* 0 now recent */
    problem(b, 3);
    ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, 3, 77), 0);    /* evicts 1 */
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(st.evictions, 1);
    problem(b, 1);
    ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, b, 3, &peak, &lb), 0);
    for (uint64_t k = 0; k < 4; k += (k == 0 ? 2 : 1)) {
        problem(b, k);
        ck_assert_int_eq(plan_cache_get(c, "portfolio", 0, b, 3, &peak, &lb), 1);
        ck_assert_uint_eq(peak, k);
    }
    plan_cache_free(c);
}
END_TEST

/* max_bytes bounds the sum of entry sizes; a plan larger than all of it
 * is refused and changes nothing; putting an equal key replaces. */
START_TEST(test_plan_cache_keeps_within_max_bytes)
{
    size_t one = plan_cache_entry_bytes(3);
    struct plan_cache *c = make(100, 2 * one + one / 2);
    struct plan_buffer b[3], *big;
    struct plan_cache_stats st;
    for (uint64_t k = 0; k < 5; k++) {
        problem(b, k);
        ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, k, 77), 0);
        plan_cache_get_stats(c, &st);
        ck_assert_uint_le(st.bytes, st.max_bytes);
    }
    ck_assert_uint_eq(st.entries, 2);
    ck_assert_uint_eq(st.evictions, 3);
    problem(b, 4);
    ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, b, 3, 44, 77), 0); /* replace */
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 2);
    ck_assert_uint_eq(st.evictions, 3);
    big = calloc(64, sizeof(*big));
    ck_assert_ptr_nonnull(big);
    for (int i = 0; i < 64; i++)
        big[i] = (struct plan_buffer){0, 1, 1, 0, (uint64_t)i};
    ck_assert_int_eq(plan_cache_put(c, "portfolio", 0, big, 64, 64, 77), -E2BIG);
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 2);
    free(big);
    plan_cache_free(c);
    ck_assert_int_eq(plan_cache_new(0, 10, &c), -EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(plan_cache_new(10, 0, &c), -EINVAL);
    plan_cache_free(NULL);
}
END_TEST

/* Through the pipeline: the second build of one graph is a hit with the
 * same offsets and peak; another policy is a miss. */
START_TEST(test_graph_plan_build_cached_reuses_the_plan)
{
    static const uint64_t in0[] = {1}, out0[] = {2}, in1[] = {2}, out1[] = {3};
    struct graph_tensor t[3] = {
        {1, 1000, 0, TENSOR_INPUT, NULL, NULL},
        {2, 30, 0, TENSOR_INTERMEDIATE, NULL, NULL},
        {3, 500, 0, TENSOR_OUTPUT, NULL, NULL},
    };
    struct graph_op ops[2] = {{NULL, in0, 1, out0, 1}, {NULL, in1, 1, out1, 1}};
    struct graph g = {"g", t, 3, ops, 2};
    struct plan_cache *c = make(8, 1 << 20);
    struct graph_plan p1, p2, p3;
    struct plan_cache_stats st;
    char err[256];
    ck_assert_int_eq(graph_plan_build_cached(&g, NULL, NULL, NULL, c, &p1, err, sizeof(err)), 0);
    ck_assert(!p1.cached);
    ck_assert_int_eq(graph_plan_build_cached(&g, NULL, NULL, NULL, c, &p2, err, sizeof(err)), 0);
    ck_assert(p2.cached);
    ck_assert_uint_eq(p2.peak_bytes, p1.peak_bytes);
    ck_assert_uint_gt(p1.lower_bound_bytes, 0); /* kept with the plan, not recomputed */
    ck_assert_uint_eq(p2.lower_bound_bytes, p1.lower_bound_bytes);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(p2.off[i], p1.off[i]);
    ck_assert_int_eq(
        graph_plan_build_cached(&g, NULL, "greedy-size", NULL, c, &p3, err, sizeof(err)), 0);
    ck_assert(!p3.cached);
    plan_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 2);
    ck_assert_uint_eq(st.entries, 2);
    graph_plan_free(&p1);
    graph_plan_free(&p2);
    graph_plan_free(&p3);
    plan_cache_free(c);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("plan_cache");
    TCase *t = tcase_create("core");
    tcase_add_test(t, test_plan_cache_hit_returns_the_plan_put);
    tcase_add_test(t, test_plan_cache_a_different_problem_or_policy_is_a_miss);
    tcase_add_test(t, test_plan_cache_evicts_the_least_recently_used_by_entries);
    tcase_add_test(t, test_plan_cache_keeps_within_max_bytes);
    tcase_add_test(t, test_graph_plan_build_cached_reuses_the_plan);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
