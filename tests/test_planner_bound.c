/* test_planner_bound.c - the alignment-aware lower bound and the default's early stop. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static uint64_t al(const struct plan_buffer *b)
{
    return b->align > 1 ? b->align : 1;
}

/* The bound by its definition, O(n^2): at every start time, G = the
 * smallest alignment live, sum of sizes rounded up to G, less the largest
 * rounding. */
static uint64_t brute_bound(const struct plan_buffer *b, size_t n)
{
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = b[i].lower, g = UINT64_MAX, sum = 0, pad = 0;
        for (size_t j = 0; j < n; j++)
            if (b[j].lower <= t && t < b[j].upper && al(&b[j]) < g)
                g = al(&b[j]);
        for (size_t j = 0; j < n; j++)
            if (b[j].lower <= t && t < b[j].upper) {
                uint64_t r = (b[j].bytes + g - 1) / g * g;
                sum += r;
                if (r - b[j].bytes > pad)
                    pad = r - b[j].bytes;
            }
        if (sum - pad > best)
            best = sum - pad;
    }
    return best;
}

/* The optimum of a small problem by enumeration: every order, each buffer
 * at the lowest aligned offset above the earlier ones it overlaps in time
 * (some order gives every optimum). */
static void opt_rec(const struct plan_buffer *b, size_t n, uint64_t *off, unsigned used,
                    size_t depth, uint64_t peak, uint64_t *best)
{
    if (peak >= *best)
        return;
    if (depth == n) {
        *best = peak;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t o = 0;
        if (used & (1u << i))
            continue;
        for (size_t j = 0; j < n; j++)
            if ((used & (1u << j)) && b[i].lower < b[j].upper && b[j].lower < b[i].upper &&
                off[j] + b[j].bytes > o)
                o = off[j] + b[j].bytes;
        off[i] = (o + al(&b[i]) - 1) / al(&b[i]) * al(&b[i]);
        opt_rec(b, n, off, used | (1u << i), depth + 1,
                off[i] + b[i].bytes > peak ? off[i] + b[i].bytes : peak, best);
    }
}

static uint64_t brute_optimum(const struct plan_buffer *b, size_t n)
{
    uint64_t off[16], best = UINT64_MAX;
    opt_rec(b, n, off, 0, 0, 0, &best);
    return best;
}

/* Plan a copy with the default, verify it, return the peak and the stats. */
static uint64_t plan_default(const struct plan_buffer *src, size_t n, double limit,
                             struct planner_stats *st)
{
    struct plan_buffer *b = malloc(n * sizeof(*b));
    struct planner_opts o = {.time_limit_s = limit, .stats = st};
    uint64_t peak;
    char err[256];
    ck_assert_ptr_nonnull(b);
    memcpy(b, src, n * sizeof(*b));
    ck_assert_int_eq(planner_run(NULL, b, n, &o, &peak, err, sizeof(err)), 0);
    ck_assert_msg(planner_verify(b, n, peak, err, sizeof(err)) == 0, "%s", err);
    free(b);
    return peak;
}

/* The case: two 16-byte tensors aligned to 64, live together. No
 * plan is below 64 + 16, the bound says so, and the default stops there
 * without a search. */
START_TEST(test_bound_two_aligned_tensors_is_the_optimum_and_the_search_stops)
{
    struct plan_buffer b[2] = {{0, 1, 16, 64, 0}, {0, 1, 16, 64, 0}};
    struct planner_stats st;
    ck_assert_uint_eq(planner_lower_bound(b, 2), 80);
    ck_assert_uint_eq(plan_default(b, 2, 0, &st), 80);
    ck_assert_uint_eq(st.lower_bound, 80);
    ck_assert_uint_eq(st.at_bound, 1);
    ck_assert_uint_eq(st.search_nodes, 0);
    /* even with a time limit: a plan at the bound is proven optimal */
    ck_assert_uint_eq(plan_default(b, 2, 5.0, &st), 80);
    ck_assert_uint_eq(st.search_nodes, 0);
}
END_TEST

/* Mixed alignments: G is the smallest live (64 here, not 256), so a 256-
 * aligned buffer of 1 byte rounds to 64; with an unaligned buffer live the
 * bound is the plain sum. */
START_TEST(test_bound_uses_the_smallest_alignment_live)
{
    struct plan_buffer b[3] = {{0, 2, 1, 256, 0}, {0, 2, 1, 64, 0}, {1, 2, 1, 0, 0}};
    ck_assert_uint_eq(planner_lower_bound(b, 2), 65);
    ck_assert_uint_eq(planner_lower_bound(b, 3), 65); /* at t=1: plain 3 < 65 at t=0 */
    b[2].lower = 0;
    ck_assert_uint_eq(planner_lower_bound(b, 3), 3);
    ck_assert_uint_eq(brute_bound(b, 3), 3);
}
END_TEST

/* The sweep agrees with the definition on random problems, with many
 * alignments (more distinct ones than the sweep keeps sums for: it may
 * then be lower, never higher). */
START_TEST(test_bound_agrees_with_its_definition_on_random_problems)
{
    static const uint64_t aligns[] = {0, 4, 16, 64, 256, 4096};
    for (uint64_t seed = 1; seed <= 300; seed++) {
        size_t n = 1 + (size_t)(seed % 60);
        struct plan_buffer b[60];
        size_t n_al = seed % 2 ? 4 : 6; /* 4: at most 3 exponents above 0 */
        rng_state = seed * 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = rnd() % 20;
            b[i] = (struct plan_buffer){lo, lo + 1 + rnd() % 8, 1 + rnd() % 5000,
                                        aligns[1 + rnd() % (n_al - 1)], 0};
            if (seed % 5 == 0 && rnd() % 4 == 0)
                b[i].align = 0;
            if (seed % 3 == 0 && rnd() % 2 == 0) { /* live throughout, as weights are */
                b[i].lower = 0;
                b[i].upper = 30;
            }
        }
        /* some with nothing else starting when the weights do */
        if (seed % 6 == 0)
            for (size_t i = 0; i < n; i++)
                if (b[i].lower == 0 && b[i].upper != 30) {
                    b[i].lower = 1;
                    b[i].upper += b[i].upper == 1;
                }
        uint64_t lb = planner_lower_bound(b, n), want = brute_bound(b, n);
        if (n_al == 4)
            ck_assert_msg(lb == want, "seed %" PRIu64 ": %" PRIu64 " != %" PRIu64, seed, lb,
                          want);
        else
            ck_assert_msg(lb <= want, "seed %" PRIu64 ": %" PRIu64 " > %" PRIu64, seed, lb,
                          want);
    }
}
END_TEST

/* The bound is a bound: never above the true optimum (enumerated), and
 * the default's plan is never below it. */
START_TEST(test_bound_is_never_above_the_optimum)
{
    static const uint64_t aligns[] = {0, 8, 64, 256};
    size_t tight = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        size_t n = 3 + (size_t)(seed % 5);
        struct plan_buffer b[8];
        struct planner_stats st;
        rng_state = seed * 0x2545f4914f6cdd1dULL + 7;
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = rnd() % 4;
            b[i] = (struct plan_buffer){lo, lo + 1 + rnd() % 3, 1 + rnd() % 300,
                                        aligns[rnd() % 4], 0};
        }
        uint64_t lb = planner_lower_bound(b, n), opt = brute_optimum(b, n);
        ck_assert_msg(lb <= opt, "seed %" PRIu64 ": bound %" PRIu64 " > optimum %" PRIu64, seed,
                      lb, opt);
        ck_assert_uint_ge(plan_default(b, n, 0, &st), lb);
        tight += lb == opt;
    }
    ck_assert_uint_ge(tight, 20); /* and often exact */
}
END_TEST

/* A small graph's shape: persistent tensors (whole horizon) of sizes no
 * multiple of 64, and a chain of intermediates. The persistent ones are
 * stacked without search and the plan is at the bound. */
START_TEST(test_default_stacks_persistent_tensors_and_reaches_the_bound)
{
    struct plan_buffer b[40];
    struct planner_stats st;
    size_t n = 0;
    rng_state = 99;
    for (int i = 0; i < 15; i++)
        b[n++] = (struct plan_buffer){0, 20, 1 + rnd() % 3000, 64, 0};
    for (uint64_t t = 0; t < 19; t++)
        b[n++] = (struct plan_buffer){t, t + 2, 1 + rnd() % 5000, 64, 0};
    uint64_t lb = planner_lower_bound(b, n);
    ck_assert_uint_eq(plan_default(b, n, 0, &st), lb);
    ck_assert_uint_eq(st.at_bound, 1);
}
END_TEST

/* Early stop by work, not by clock: where greedy-size's pass is at the
 * bound the default makes that one pass and no search, so its work is
 * that of one pass; a hard problem above the bound spends its budget. */
START_TEST(test_default_stops_after_one_pass_when_greedy_is_at_the_bound)
{
    size_t n = 2000;
    struct plan_buffer *b = malloc(n * sizeof(*b));
    struct planner_stats st, hard;
    ck_assert_ptr_nonnull(b);
    /* a chain: each buffer overlaps the next only; sizes decreasing, so
     * greedy by size stacks each pair at the bound */
    for (size_t i = 0; i < n; i++)
        b[i] = (struct plan_buffer){i, i + 2, 64 * (n - i), 0, 0};
    uint64_t peak = plan_default(b, n, 0, &st);
    ck_assert_uint_eq(peak, planner_lower_bound(b, n));
    ck_assert_uint_eq(st.passes, 1);
    ck_assert_uint_eq(st.search_nodes, 0);
    ck_assert_uint_le(st.work, 8 * n); /* one pass: a few units a buffer */
    /* crowded random lifetimes, until one ends above the bound: it searches */
    rng_state = 4242;
    for (int tries = 0; tries < 50; tries++) {
        for (size_t i = 0; i < 300; i++) {
            uint64_t lo = rnd() % 40;
            b[i] = (struct plan_buffer){lo, lo + 1 + rnd() % 10, 1 + rnd() % 100000, 0, 0};
        }
        peak = plan_default(b, 300, 0, &hard);
        if (peak > hard.lower_bound)
            break;
    }
    ck_assert_uint_gt(peak, hard.lower_bound);
    ck_assert_uint_gt(hard.passes, 1);
    ck_assert_uint_gt(hard.work, st.work);
    free(b);
}
END_TEST

static Suite *bound_suite(void)
{
    Suite *s = suite_create("planner_bound");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_bound_two_aligned_tensors_is_the_optimum_and_the_search_stops);
    tcase_add_test(t, test_bound_uses_the_smallest_alignment_live);
    tcase_add_test(t, test_bound_agrees_with_its_definition_on_random_problems);
    tcase_add_test(t, test_bound_is_never_above_the_optimum);
    tcase_add_test(t, test_default_stacks_persistent_tensors_and_reaches_the_bound);
    tcase_add_test(t, test_default_stops_after_one_pass_when_greedy_is_at_the_bound);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bound_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
