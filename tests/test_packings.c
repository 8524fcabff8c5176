/* test_packings.c - the tight packings' generator (bench/packings.c): its optimum is real, and the default gets near it. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "packings.h"
#include "planner.h"

/* The cut layout is a valid plan whose peak is the optimum claimed, and the
 * lower bound is that optimum too: so it is the optimum. */
START_TEST(test_packings_cut_layout_is_a_plan_at_the_bound)
{
    size_t n;
    for (size_t i = 0; i < PACKINGS_N; i += 5) {
        struct plan_buffer *b;
        uint64_t opt, peak = 0;
        char err[256];
        ck_assert_int_eq(packings_make(i, packings_size(i), &b, &n, &opt), 0);
        ck_assert_uint_gt(n, packings_size(i) * 3 / 4);
        ck_assert_uint_le(n, packings_size(i));
        for (size_t k = 0; k < n; k++)
            if (b[k].off + b[k].bytes > peak)
                peak = b[k].off + b[k].bytes;
        ck_assert_uint_eq(peak, opt);
        ck_assert_msg(planner_verify(b, n, opt, err, sizeof(err)) == 0, "instance %zu: %s", i,
                      err);
        ck_assert_uint_eq(planner_lower_bound(b, n), opt);
        free(b);
    }
}
END_TEST

START_TEST(test_packings_are_deterministic)
{
    struct plan_buffer *a, *b;
    size_t na, nb;
    uint64_t oa, ob;
    ck_assert_int_eq(packings_make(7, 300, &a, &na, &oa), 0);
    ck_assert_int_eq(packings_make(7, 300, &b, &nb, &ob), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na * sizeof(*a)), 0);
    free(a);
    free(b);
    ck_assert_int_eq(packings_make(1, 0, &a, &na, &oa), -EINVAL);
}
END_TEST

/* The default's fast mode on the five smallest instances: geomean within
 * 1.10x of the optimum, each well below greedy by size's 1.2-1.4x (today:
 * 1.0000, 1.0000, 1.1282, 1.0810, 1.0000). */
START_TEST(test_packings_default_within_ten_percent)
{
    double lsum = 0;
    for (size_t i = 0; i < 5; i++) {
        struct plan_buffer *b;
        uint64_t opt, peak;
        size_t n;
        char err[256];
        ck_assert_int_eq(packings_make(i, packings_size(i), &b, &n, &opt), 0);
        ck_assert_int_eq(planner_run(NULL, b, n, NULL, &peak, err, sizeof(err)), 0);
        ck_assert_msg(planner_verify(b, n, peak, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg((double)peak <= 1.15 * (double)opt, "instance %zu: peak %.4fx the optimum",
                      i, (double)peak / (double)opt);
        lsum += log((double)peak / (double)opt);
        free(b);
    }
    ck_assert_msg(exp(lsum / 5) <= 1.10, "geomean %.4fx the optimum", exp(lsum / 5));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("packings");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_packings_cut_layout_is_a_plan_at_the_bound);
    tcase_add_test(tc, test_packings_are_deterministic);
    tcase_add_test(tc, test_packings_default_within_ten_percent);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
