/* test_planner_skyline.c - lowest first by valleys (planner_skyline.c) against its definition. */
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

/* True when x comes before y in leaf order: earlier first slot, then the
 * larger k1, k2, then the lower index. */
static bool leaf_before(const struct sky *s, const struct order_key *k, uint32_t x, uint32_t y)
{
    if (s->lo[x] != s->lo[y])
        return s->lo[x] < s->lo[y];
    if (k[x].k1 != k[y].k1)
        return k[x].k1 > k[y].k1;
    if (k[x].k2 != k[y].k2)
        return k[x].k2 > k[y].k2;
    return x < y;
}

/* The definition, O(n x slots) a step: the skyline as one height a slot;
 * the lowest slot, leftmost, and the maximal run at its height around it
 * are the valley; of the unplaced buffers whose slots lie inside it, the
 * first in leaf order (VALLEY_FIRST) or the largest size x slots, the first
 * in leaf order among equals (VALLEY_AREA), goes at the valley's height
 * (aligned); when none fits the valley rises to its lower neighbour. */
static uint64_t reference(const struct sky *s, const struct plan_buffer *b, size_t n,
                          const struct order_key *k, enum valley_choice choice,
                          uint32_t *order, uint64_t *off)
{
    size_t slots = 0, placed = 0;
    uint64_t *h, pk = 0;
    bool *done = calloc(n, sizeof(*done));

    for (size_t i = 0; i < n; i++)
        slots = s->hi[i] > slots ? s->hi[i] : slots;
    h = calloc(slots, sizeof(*h));
    ck_assert(done && h);
    while (placed < n) {
        size_t a = 0, e, best = SIZE_MAX;
        for (size_t t = 1; t < slots; t++)
            if (h[t] < h[a])
                a = t;
        for (e = a; e < slots && h[e] == h[a]; e++)
            ;
        while (a > 0 && h[a - 1] == h[e - 1])
            a--;
        for (size_t i = 0; i < n; i++) {
            double area, best_area;
            if (done[i] || s->lo[i] < a || s->hi[i] > e)
                continue;
            if (best == SIZE_MAX) {
                best = i;
                continue;
            }
            area = (double)b[i].bytes * (double)(s->hi[i] - s->lo[i]);
            best_area = (double)b[best].bytes * (double)(s->hi[best] - s->lo[best]);
            if (choice == VALLEY_AREA && area != best_area) {
                if (area > best_area)
                    best = i;
            } else if (leaf_before(s, k, (uint32_t)i, (uint32_t)best)) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            uint64_t lh = a > 0 ? h[a - 1] : UINT64_MAX, rh = e < slots ? h[e] : UINT64_MAX;
            uint64_t nh = lh < rh ? lh : rh;
            ck_assert_uint_ne(nh, UINT64_MAX);
            for (size_t t = a; t < e; t++)
                h[t] = nh;
            continue;
        }
        {
            uint64_t al = align_of(&b[best]), o = align_up(h[a], al);
            off[best] = o;
            order[placed++] = (uint32_t)best;
            done[best] = true;
            for (size_t t = s->lo[best]; t < s->hi[best]; t++)
                h[t] = o + b[best].bytes;
            pk = o + b[best].bytes > pk ? o + b[best].bytes : pk;
        }
    }
    free(h);
    free(done);
    return pk;
}

/* Random problems, some crowded, some long-lived, many equal sizes and
 * lifetimes (so equal areas, whose tie the leaf order breaks), mixed
 * alignments: both choices give the definition's order and offsets, and a
 * valid plan. */
START_TEST(test_valleys_match_their_definition_for_both_choices)
{
    for (uint64_t seed = 1; seed <= 60; seed++) {
        size_t n = 1 + (size_t)(seed * 37 % 400);
        uint64_t horizon = 2 + seed % 300;
        struct plan_buffer *b = malloc(n * sizeof(*b));
        struct order_key *k = malloc(n * sizeof(*k));
        uint32_t *order = malloc(n * sizeof(*order)), *ref_order = malloc(n * sizeof(*order));
        uint64_t *off = malloc(n * sizeof(*off)), *ref_off = malloc(n * sizeof(*off));
        struct sky s;
        char err[256];

        ck_assert(b && k && order && ref_order && off && ref_off);
        rng_state = seed * 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = rnd() % horizon;
            uint64_t span = seed % 3 == 0 ? 1 + rnd() % horizon : 1 + rnd() % 6;
            b[i] = (struct plan_buffer){lo, lo + span, 1 + rnd() % (seed % 2 ? 4 : 1000),
                                        seed % 4 == 1 ? (uint64_t)1 << (rnd() % 4) : 0, 0};
            /* ORDER_LIFE's tie keys, which the valleys make themselves */
            k[i] = (struct order_key){(double)span, (double)b[i].bytes, 0, (uint32_t)i};
        }
        ck_assert_int_eq(planner_sky_init(&s, b, n), 0);
        for (int c = 0; c < 2; c++) {
            enum valley_choice choice = c ? VALLEY_AREA : VALLEY_FIRST;
            uint64_t pk = 0, work = 0, ref_pk;
            ck_assert_int_eq(
                planner_sky_valleys(&s, b, n, ORDER_LIFE, NULL, choice, order, off, &pk, &work),
                0);
            ref_pk = reference(&s, b, n, k, choice, ref_order, ref_off);
            ck_assert_msg(pk == ref_pk, "seed %" PRIu64 " choice %d: peak %" PRIu64
                          ", definition %" PRIu64, seed, c, pk, ref_pk);
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg(order[i] == ref_order[i], "seed %" PRIu64 " choice %d: step %zu",
                              seed, c, i);
                ck_assert_uint_eq(off[i], ref_off[i]);
                b[i].off = off[i];
            }
            ck_assert_msg(planner_verify(b, n, pk, err, sizeof(err)) == 0, "%s", err);
            ck_assert_uint_gt(work, 0);
        }
        planner_sky_free(&s);
        free(ref_off);
        free(off);
        free(ref_order);
        free(order);
        free(k);
        free(b);
    }
}
END_TEST

/* The two choices differ where it matters: a valley [0, 4) holding a short
 * buffer that starts first and a long one of larger area; the first choice
 * takes the early one, the area choice the large one. */
START_TEST(test_valleys_area_choice_takes_the_largest_area_first)
{
    struct plan_buffer b[3] = {
        {0, 1, 10, 0, 0}, /* earliest start, area 10 */
        {1, 4, 8, 0, 0},  /* area 24 */
        {3, 4, 1, 0, 0},  /* marks slot 3's end: slots 0..4 */
    };
    uint32_t order[3];
    uint64_t off[3], pk, work = 0;
    struct sky s;

    ck_assert_int_eq(planner_sky_init(&s, b, 3), 0);
    ck_assert_int_eq(
        planner_sky_valleys(&s, b, 3, ORDER_LIFE, NULL, VALLEY_FIRST, order, off, &pk, &work), 0);
    ck_assert_uint_eq(order[0], 0);
    ck_assert_int_eq(
        planner_sky_valleys(&s, b, 3, ORDER_LIFE, NULL, VALLEY_AREA, order, off, &pk, &work), 0);
    ck_assert_uint_eq(order[0], 1);
    ck_assert_uint_eq(off[1], 0);
    planner_sky_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("planner_skyline");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_valleys_match_their_definition_for_both_choices);
    tcase_add_test(tc, test_valleys_area_choice_takes_the_largest_area_first);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
