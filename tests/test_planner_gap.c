/* test_planner_gap.c - the gap engine's occupancy tree (planner_gap_tree.c) gives greedy-size's plans. */
#include <check.h>
#include <stdbool.h>
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

static const struct plan_buffer *cmp_b;

static int by_size(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    if (cmp_b[a].bytes != cmp_b[b].bytes)
        return cmp_b[a].bytes > cmp_b[b].bytes ? -1 : 1;
    return a < b ? -1 : a > b;
}

struct sp {
    uint64_t off, end;
};

static int by_off(const void *pa, const void *pb)
{
    const struct sp *a = pa, *b = pb;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* TFLite's greedy by size, by its definition: O(n^2), every placed
 * neighbour listed and sorted by offset (ties in any order: the gaps are
 * the same). */
static uint64_t reference(struct plan_buffer *b, size_t n)
{
    uint32_t *order = malloc(n * sizeof(*order));
    bool *placed = calloc(n, sizeof(*placed));
    struct sp *nb = malloc(n * sizeof(*nb));
    uint64_t peak = 0;
    ck_assert(order && placed && nb);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    cmp_b = b;
    qsort(order, n, sizeof(*order), by_size);
    for (size_t k = 0; k < n; k++) {
        struct plan_buffer *x = &b[order[k]];
        uint64_t al = x->align > 1 ? x->align : 1, cand = 0, best = UINT64_MAX,
                 best_gap = UINT64_MAX;
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (placed[j] && b[j].lower < x->upper && x->lower < b[j].upper)
                nb[m++] = (struct sp){b[j].off, b[j].off + b[j].bytes};
        qsort(nb, m, sizeof(*nb), by_off);
        for (size_t i = 0; i < m; i++) {
            uint64_t a = (cand + al - 1) & ~(al - 1);
            if (nb[i].off >= a && nb[i].off - a >= x->bytes && nb[i].off - cand < best_gap) {
                best_gap = nb[i].off - cand;
                best = a;
            }
            if (nb[i].end > cand)
                cand = nb[i].end;
        }
        if (best == UINT64_MAX)
            best = (cand + al - 1) & ~(al - 1);
        x->off = best;
        placed[order[k]] = true;
        if (best + x->bytes > peak)
            peak = best + x->bytes;
    }
    free(nb);
    free(placed);
    free(order);
    return peak;
}

/* Above GAP_TREE_MIN (2,048) buffers the engine uses the tree: the plan is
 * the reference's, offset for offset, on layer-like and on random problems
 * with mixed alignments and many equal sizes. */
START_TEST(test_greedy_size_large_matches_reference)
{
    size_t n = 3000;
    struct plan_buffer *b = malloc(n * sizeof(*b)), *r = malloc(n * sizeof(*r));
    char err[256];
    ck_assert(b && r);
    for (int round = 0; round < 3; round++) {
        uint64_t peak, rpeak;
        rng_state = 0x1234567ULL + (uint64_t)round;
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = round == 0 ? i : rnd() % 5000;
            uint64_t span = round == 2 ? 1 + rnd() % 4000 : 1 + rnd() % 40;
            b[i] = (struct plan_buffer){.lower = lo,
                                        .upper = lo + span,
                                        .bytes = (1 + rnd() % 8) * (round == 1 ? 96 : 1000),
                                        .align = (uint64_t)1 << (rnd() % 8)};
        }
        memcpy(r, b, n * sizeof(*b));
        ck_assert_int_eq(planner_run("greedy-size", b, n, NULL, &peak, err, sizeof(err)), 0);
        rpeak = reference(r, n);
        ck_assert_uint_eq(peak, rpeak);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(b[i].off == r[i].off, "round %d buffer %zu: %llu, reference %llu",
                          round, i, (unsigned long long)b[i].off, (unsigned long long)r[i].off);
        ck_assert_int_eq(planner_verify(b, n, peak, err, sizeof(err)), 0);
    }
    free(b);
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("planner_gap");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_greedy_size_large_matches_reference);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
