/* test_planner_lns.c - ruin and recreate (core/planner_lns.c): valid plans, never worse, and deterministic (with a time limit the default runs the repair instead: test_planner_repair.c). */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "packings.h"
#include "planner.h"
#include "planner_internal.h"
#include "slowdown.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t max_end(const struct plan_buffer *b, size_t n)
{
    uint64_t pk = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i].off + b[i].bytes > pk)
            pk = b[i].off + b[i].bytes;
    return pk;
}

/* Problem `which`: a tight packing (even) or random buffers with mixed
 * alignments (odd), planned by greedy-size; *start its peak. */
static struct plan_buffer *start_plan(uint64_t which, size_t *n, uint64_t *start)
{
    struct plan_buffer *b;
    uint64_t opt, peak;
    char err[256];

    if (which % 2 == 0) {
        ck_assert_int_eq(packings_make(which, 150 + 40 * which, &b, n, &opt), 0);
    } else {
        static const uint64_t aligns[] = {0, 1, 8, 64, 256};
        rng_state = which * 0x9e3779b97f4a7c15ULL + 1;
        *n = 50 + (size_t)(rnd() % 300);
        b = malloc(*n * sizeof(*b));
        ck_assert_ptr_nonnull(b);
        for (size_t i = 0; i < *n; i++) {
            uint64_t lo = rnd() % 200;
            b[i] = (struct plan_buffer){.lower = lo,
                                        .upper = lo + 1 + rnd() % 40,
                                        .bytes = 1 + rnd() % 5000,
                                        .align = aligns[rnd() % 5]};
        }
    }
    ck_assert_int_eq(planner_run("greedy-size", b, *n, NULL, &peak, err, sizeof(err)), 0);
    *start = peak;
    return b;
}

/* Runs planner_lns on b's plan with a work budget; b[].off and the return
 * get its plan and peak. */
static uint64_t run_lns(struct plan_buffer *b, size_t n, uint64_t start, uint64_t work_cap,
                        double deadline, uint64_t seed)
{
    struct sky s;
    uint64_t *off = malloc(n * sizeof(*off) + 1), peak = start, work = 0;
    ck_assert_ptr_nonnull(off);
    ck_assert_int_eq(planner_sky_init(&s, b, n), 0);
    for (size_t i = 0; i < n; i++)
        off[i] = b[i].off;
    ck_assert_int_eq(planner_lns(b, n, &s, off, &peak, planner_lower_bound(b, n), work_cap,
                                 deadline, seed, &work),
                     0);
    for (size_t i = 0; i < n; i++)
        b[i].off = off[i];
    planner_sky_free(&s);
    free(off);
    return peak;
}

START_TEST(test_planner_lns_plans_are_valid_and_never_worse_than_the_start)
{
    size_t improved = 0;
    for (uint64_t which = 0; which < 12; which++) {
        size_t n;
        uint64_t start, peak;
        char err[256];
        struct plan_buffer *b = start_plan(which, &n, &start);
        peak = run_lns(b, n, start, 5000000, HUGE_VAL, which);
        ck_assert_msg(planner_verify(b, n, peak, err, sizeof(err)) == 0, "problem %" PRIu64
                      ": %s", which, err);
        ck_assert_uint_eq(max_end(b, n), peak);
        ck_assert_uint_le(peak, start);
        improved += peak < start;
        free(b);
    }
    /* greedy-size leaves room on these: the search finds some */
    ck_assert_uint_ge(improved, 6);
}
END_TEST

/* With a deadline the steps differ (ruins picked by quickselect, fewer
 * restarts): the plans must still be valid and never worse, and greedy-size
 * leaves room the search finds. */
START_TEST(test_planner_lns_with_a_deadline_plans_are_valid_and_never_worse)
{
    size_t improved = 0;
    for (uint64_t which = 0; which < 8; which++) {
        size_t n;
        uint64_t start, peak;
        char err[256];
        struct plan_buffer *b = start_plan(which, &n, &start);
        peak = run_lns(b, n, start, UINT64_MAX, planner_now_s() + 0.2 * test_slowdown(), which);
        ck_assert_msg(planner_verify(b, n, peak, err, sizeof(err)) == 0, "problem %" PRIu64
                      ": %s", which, err);
        ck_assert_uint_eq(max_end(b, n), peak);
        ck_assert_uint_le(peak, start);
        improved += peak < start;
        free(b);
    }
    ck_assert_uint_ge(improved, 4);
}
END_TEST

START_TEST(test_planner_lns_without_a_deadline_is_deterministic)
{
    for (uint64_t which = 0; which < 4; which++) {
        size_t n, n2;
        uint64_t start, start2, p1, p2, opt;
        struct plan_buffer *a = start_plan(which, &n, &start);
        struct plan_buffer *c = start_plan(which, &n2, &start2);
        p1 = run_lns(a, n, start, 3000000, HUGE_VAL, 7);
        p2 = run_lns(c, n2, start2, 3000000, HUGE_VAL, 7);
        ck_assert_uint_eq(p1, p2);
        ck_assert_int_eq(memcmp(a, c, n * sizeof(*a)), 0);
        free(a);
        free(c);
        /* the default policy too, which runs it in its fast mode */
        if (which % 2 == 0) {
            char err[256];
            ck_assert_int_eq(packings_make(which + 5, packings_size(which + 5), &a, &n, &opt), 0);
            ck_assert_int_eq(packings_make(which + 5, packings_size(which + 5), &c, &n2, &opt), 0);
            ck_assert_int_eq(planner_run(NULL, a, n, NULL, &p1, err, sizeof(err)), 0);
            ck_assert_int_eq(planner_run(NULL, c, n2, NULL, &p2, err, sizeof(err)), 0);
            ck_assert_uint_eq(p1, p2);
            ck_assert_int_eq(memcmp(a, c, n * sizeof(*a)), 0);
            free(a);
            free(c);
        }
    }
}
END_TEST

/* The fast mode's ruin and recreate takes the default below greedy-size on
 * the tight packings by far (greedy-size: 1.2-1.5x the optimum). */
START_TEST(test_planner_lns_takes_the_default_near_the_optimum)
{
    for (size_t i = 9; i < PACKINGS_N; i += 8) {
        struct plan_buffer *b;
        uint64_t opt, peak, greedy;
        size_t n;
        char err[256];
        ck_assert_int_eq(packings_make(i, packings_size(i), &b, &n, &opt), 0);
        ck_assert_int_eq(planner_run("greedy-size", b, n, NULL, &greedy, err, sizeof(err)), 0);
        ck_assert_int_eq(planner_run(NULL, b, n, NULL, &peak, err, sizeof(err)), 0);
        ck_assert_msg(planner_verify(b, n, peak, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg((double)peak <= 1.20 * (double)opt && peak < greedy,
                      "instance %zu: default %.4fx, greedy-size %.4fx", i,
                      (double)peak / (double)opt, (double)greedy / (double)opt);
        free(b);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("planner_lns");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_planner_lns_plans_are_valid_and_never_worse_than_the_start);
    tcase_add_test(tc, test_planner_lns_with_a_deadline_plans_are_valid_and_never_worse);
    tcase_add_test(tc, test_planner_lns_without_a_deadline_is_deterministic);
    tcase_add_test(tc, test_planner_lns_takes_the_default_near_the_optimum);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
