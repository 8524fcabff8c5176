/* test_planner_dive.c - the search's first dive on the skyline (planner_dive.c). */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "planner_internal.h"

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

/* Random lifetimes over a horizon of 4/3 n, most short, a few up to 200
 * long, sizes 1-64 KiB (the family where the dive reaches the bound and the
 * valleys do not, one seed in five). */
static void gen(struct plan_buffer *b, size_t n, uint64_t seed, bool aligned)
{
    rng_state = 0x9e3779b97f4a7c15ULL * seed + 3;
    for (size_t i = 0; i < n; i++) {
        /* one draw a statement: the order of two in one expression is the
         * compiler's (a sanitizer build drew other problems) */
        uint64_t lo = rnd() % (n * 4 / 3);
        uint64_t a = rnd(), c = rnd();
        uint64_t span = 1 + a % (1 + c % 200);
        uint64_t sz = (1 + rnd() % 64) << 10;
        b[i] = (struct plan_buffer){lo, lo + span, sz, aligned ? (uint64_t)1 << (rnd() % 14) : 0,
                                    0};
    }
}

/* Largest load over each buffer's lifetime (the preorder's T), O(n x slots). */
static void loads(const struct plan_buffer *b, size_t n, const struct sky *s, uint64_t *load)
{
    size_t slots = 0;
    uint64_t *tot;
    for (size_t i = 0; i < n; i++)
        slots = s->hi[i] > slots ? s->hi[i] : slots;
    tot = calloc(slots + 1, sizeof(*tot));
    ck_assert_ptr_nonnull(tot);
    for (size_t i = 0; i < n; i++)
        for (size_t t = s->lo[i]; t < s->hi[i]; t++)
            tot[t] += b[i].bytes;
    for (size_t i = 0; i < n; i++) {
        load[i] = 0;
        for (size_t t = s->lo[i]; t < s->hi[i]; t++)
            load[i] = tot[t] > load[i] ? tot[t] : load[i];
    }
    free(tot);
}

struct run {
    uint32_t *pre, *order;
    uint64_t *off, *load;
    struct order_key *kk;
};

static struct run run_new(size_t n)
{
    struct run r = {malloc(n * sizeof(uint32_t)), malloc(n * sizeof(uint32_t)),
                    malloc(n * sizeof(uint64_t)), malloc(n * sizeof(uint64_t)),
                    malloc(n * sizeof(struct order_key))};
    ck_assert(r.pre && r.order && r.off && r.load && r.kk);
    return r;
}

static void run_free(struct run *r)
{
    free(r->pre);
    free(r->order);
    free(r->off);
    free(r->load);
    free(r->kk);
}

/* The dive at cap with the portfolio's preorder (TWA, W by time); on
 * success the plan is checked: every buffer once in order[], offsets in b,
 * valid, at most cap. */
static int dive(struct plan_buffer *b, size_t n, struct sky *s, struct run *r, uint64_t cap,
                uint64_t work_cap, uint64_t *peak)
{
    char err[256];
    int rc;
    loads(b, n, s, r->load);
    planner_preorder(b, n, s, r->load, 0, true, r->kk, r->pre);
    rc = planner_sky_dive(s, b, n, r->pre, cap, r->order, r->off, peak, work_cap);
    if (rc == 0) {
        bool *seen = calloc(n, sizeof(*seen));
        ck_assert_ptr_nonnull(seen);
        for (size_t i = 0; i < n; i++) {
            ck_assert(!seen[r->order[i]]);
            seen[r->order[i]] = true;
            b[i].off = r->off[i];
        }
        free(seen);
        ck_assert_uint_le(*peak, cap);
        ck_assert_msg(planner_verify(b, n, *peak, err, sizeof(err)) == 0, "%s", err);
    }
    return rc;
}

/* Two instances where both valley passes leave holes at the peak and the
 * dive fits the bound exactly: seed 9 (valleys 1.064 and 1.009 x the
 * bound) by its tie rule alone, seed 21 (1.036, 1.016) only with its
 * refusals too (without them it ends in a dead end); and the default
 * policy, for which the problems are large (GAP_TREE_MIN buffers on), ends
 * at the bound with it. */
START_TEST(test_dive_reaches_the_bound_where_the_valleys_leave_holes)
{
    static const uint64_t seeds[] = {9, 21};
    for (size_t q = 0; q < sizeof(seeds) / sizeof(seeds[0]); q++) {
        size_t n = 2500;
        struct plan_buffer *b = malloc(n * sizeof(*b));
        struct planner_stats st = {0};
        struct planner_opts o = {.stats = &st};
        struct run r = run_new(n);
        struct sky s;
        uint64_t lb, pk = 0, work = 0;
        char err[256];

        ck_assert_ptr_nonnull(b);
        ck_assert_uint_ge(n, GAP_TREE_MIN);
        gen(b, n, seeds[q], false);
        lb = planner_lower_bound(b, n);
        ck_assert_int_eq(planner_sky_init(&s, b, n), 0);
        loads(b, n, &s, r.load);
        ck_assert_int_eq(planner_sky_valleys(&s, b, n, ORDER_LIFE, r.load, VALLEY_FIRST, r.order,
                                             r.off, &pk, &work), 0);
        ck_assert_uint_gt(pk, lb);
        ck_assert_int_eq(planner_sky_valleys(&s, b, n, ORDER_LIFE, r.load, VALLEY_AREA, r.order,
                                             r.off, &pk, &work), 0);
        ck_assert_uint_gt(pk, lb);
        ck_assert_int_eq(dive(b, n, &s, &r, lb, UINT64_MAX, &pk), 0);
        ck_assert_uint_eq(pk, lb);
        /* below the bound nothing fits: it gives up, as it does out of work */
        ck_assert_int_eq(dive(b, n, &s, &r, lb - 1, UINT64_MAX, &pk), 1);
        ck_assert_int_eq(dive(b, n, &s, &r, lb, 0, &pk), 1);
        planner_sky_free(&s);

        ck_assert_int_eq(planner_run(NULL, b, n, &o, &pk, err, sizeof(err)), 0);
        ck_assert_msg(planner_verify(b, n, pk, err, sizeof(err)) == 0, "%s", err);
        ck_assert_uint_eq(pk, lb);
        ck_assert(st.at_bound);
        run_free(&r);
        free(b);
    }
}
END_TEST

/* Random problems, aligned or not, small and crowded or large: the dive
 * returns a valid plan within cap, or gives up; with room to spare (cap
 * twice the bound) it never refuses, so it is the valleys' lowest first
 * and always ends. */
START_TEST(test_dive_plans_are_valid_or_it_gives_up)
{
    for (uint64_t seed = 1; seed <= 40; seed++) {
        size_t n = 50 + (size_t)(seed * 131 % 3000);
        struct plan_buffer *b = malloc(n * sizeof(*b));
        struct run r = run_new(n);
        struct sky s;
        uint64_t lb, pk = 0;
        int rc;

        ck_assert_ptr_nonnull(b);
        gen(b, n, seed, seed % 2 == 0);
        lb = planner_lower_bound(b, n);
        ck_assert_int_eq(planner_sky_init(&s, b, n), 0);
        rc = dive(b, n, &s, &r, lb, UINT64_MAX, &pk);
        ck_assert(rc == 0 || rc == 1);
        if (rc == 0)
            ck_assert_uint_eq(pk, lb);
        ck_assert_int_eq(dive(b, n, &s, &r, 2 * lb, UINT64_MAX, &pk), 0);
        planner_sky_free(&s);
        run_free(&r);
        free(b);
    }
}
END_TEST

/* planner_sky_at (the bottom-up query) against its definition: the highest
 * end of the placed buffers overlapping x, aligned; after random
 * placements through planner_sky_put. */
START_TEST(test_sky_at_is_the_highest_overlapping_end)
{
    for (uint64_t seed = 1; seed <= 30; seed++) {
        size_t n = 1 + (size_t)(seed * 53 % 500);
        struct plan_buffer *b = malloc(n * sizeof(*b));
        uint64_t *end = calloc(n, sizeof(*end));
        struct sky s;

        ck_assert(b && end);
        gen(b, n, seed, true);
        ck_assert_int_eq(planner_sky_init(&s, b, n), 0);
        ck_assert_int_eq(planner_sky_tree(&s), 0);
        planner_sky_clear(&s);
        for (size_t k = 0; k < n; k++) {
            uint32_t x = (uint32_t)(rnd() % n);
            uint64_t want = 0;
            for (size_t y = 0; y < n; y++)
                if (end[y] && s.lo[y] < s.hi[x] && s.lo[x] < s.hi[y] && end[y] > want)
                    want = end[y];
            ck_assert_uint_eq(planner_sky_at(&s, b, x), align_up(want, align_of(&b[x])));
            if (!end[x]) {
                end[x] = align_up(want, align_of(&b[x])) + b[x].bytes;
                planner_sky_put(&s, x, end[x]);
            }
        }
        planner_sky_free(&s);
        free(end);
        free(b);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("planner_dive");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_dive_reaches_the_bound_where_the_valleys_leave_holes);
    tcase_add_test(tc, test_dive_plans_are_valid_or_it_gives_up);
    tcase_add_test(tc, test_sky_at_is_the_highest_overlapping_end);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
