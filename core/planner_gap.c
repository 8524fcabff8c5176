/* planner_gap.c - the gap engine: one greedy pass placing buffers in a given order.
 *
 * It finds the placed buffers overlapping a new one in time with a segment
 * tree over buffers sorted by lower holding the largest upper among placed
 * buffers in each subtree (prefix of leaves with lower < upper_i, subtrees
 * whose max upper <= lower_i skipped): a pass costs O(n log n + overlapping
 * pairs). From GAP_TREE_MIN buffers on, the occupied offsets over a
 * buffer's lifetime come instead from planner_gap_tree.c, a few merged
 * intervals where the neighbours are hundreds (the same gaps, so the same
 * plan, 3-10x faster on the largest traces). greedy-size is one pass of it;
 * the portfolio runs it with several orderings.
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void planner_engine_free(struct engine *e)
{
    free(e->by_low);
    free(e->leaf_of);
    free(e->seg);
    free(e->leaf_span);
    free(e->off);
    free(e->nb);
    free(e->tmp);
    free(e->wu);
    planner_gap_tree_free(e->tree);
}

/* From GAP_TREE_MIN buffers on the pass asks the occupancy tree, so the
 * neighbour scan's arrays (by_low, leaf_of, seg, leaf_span: 44 bytes a
 * buffer) are not allocated at all. */
int planner_engine_init(struct engine *e, const struct plan_buffer *b, size_t n,
                        const struct sky *s)
{
    struct event *ev;
    size_t k;

    memset(e, 0, sizeof(*e));
    e->b = b;
    e->n = n;
    e->off = malloc(n * sizeof(*e->off) + 1);
    e->nb_cap = 64;
    e->nb = malloc(e->nb_cap * sizeof(*e->nb));
    e->tmp = malloc(e->nb_cap * sizeof(*e->tmp));
    if (!e->off || !e->nb || !e->tmp)
        goto err;
    if (n >= GAP_TREE_MIN) {
        if (planner_gap_tree_new(b, n, s, &e->tree) < 0)
            goto err;
        return 0;
    }
    for (e->leaves = 1; e->leaves < n; e->leaves *= 2)
        ;
    e->by_low = malloc(n * sizeof(*e->by_low) + 1);
    e->leaf_of = malloc(n * sizeof(*e->leaf_of) + 1);
    e->seg = calloc(2 * e->leaves, sizeof(*e->seg));
    e->leaf_span = malloc(n * sizeof(*e->leaf_span) + 1);
    e->wu = malloc(n * sizeof(*e->wu) + 1);
    ev = malloc(n * sizeof(*ev) + 1);
    if (!e->by_low || !e->leaf_of || !e->seg || !e->leaf_span || !e->wu || !ev) {
        free(ev);
        goto err;
    }
    (void)planner_horizon(b, n, &e->lo, &e->hi);
    for (k = 0; k < n; k++)
        ev[k] = (struct event){b[k].lower, 0, (uint32_t)k};
    if (planner_sort_events(ev, n) < 0) {
        free(ev);
        goto err;
    }
    for (k = 0; k < n; k++) {
        e->by_low[k] = ev[k].idx;
        e->leaf_of[ev[k].idx] = (uint32_t)k;
    }
    free(ev);
    return 0;
err:
    planner_engine_free(e);
    return -ENOMEM;
}

static int nb_push(struct engine *e, uint64_t off, uint64_t end)
{
    if (e->nb_n == e->nb_cap) {
        struct span *p = realloc(e->nb, 2 * e->nb_cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        e->nb = p;
        p = realloc(e->tmp, 2 * e->nb_cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        e->tmp = p;
        e->nb_cap *= 2;
    }
    e->nb[e->nb_n++] = (struct span){off, end};
    return 0;
}

/* Collect placed buffers among leaves [lo, hi) of node with position < r and
 * upper > low. */
static int collect(struct engine *e, size_t node, size_t lo, size_t hi, size_t r, uint64_t low)
{
    if (lo >= r || e->seg[node] <= low)
        return 0;
    if (hi - lo == 1) {
        e->work++;
        if (e->nb_n == e->nb_cap)
            return nb_push(e, e->leaf_span[lo].off, e->leaf_span[lo].end);
        e->nb[e->nb_n++] = e->leaf_span[lo];
        return 0;
    }
    size_t mid = lo + (hi - lo) / 2;
    int rc = collect(e, 2 * node, lo, mid, r, low);
    if (rc == 0)
        rc = collect(e, 2 * node + 1, mid, hi, r, low);
    return rc;
}

static void span_sort(struct span *s, size_t n);

/* LSD radix sort of e->nb by offset, a byte a pass, skipping the bytes in
 * which all offsets agree (the high ones, mostly, and the low ones that
 * alignment zeroes): one read computes every byte's histogram, then one
 * scatter a byte that varies. */
static void radix_sort(struct engine *e)
{
    uint64_t all_or = 0, all_and = UINT64_MAX, diff;
    struct span *src = e->nb, *dst = e->tmp, *t;
    size_t i, n = e->nb_n, d, nd = 0;
    uint32_t cnt[8][256];
    unsigned shifts[8];

    for (i = 0; i < n; i++) {
        all_or |= src[i].off;
        all_and &= src[i].off;
    }
    diff = all_or ^ all_and;
    for (d = 0; d < 8; d++)
        if ((diff >> (8 * d)) & 0xff)
            shifts[nd++] = 8 * (unsigned)d;
    if (nd == 0)
        return;
    memset(cnt, 0, nd * sizeof(cnt[0]));
    for (i = 0; i < n; i++) {
        uint64_t o = src[i].off;
        for (d = 0; d < nd; d++)
            cnt[d][(o >> shifts[d]) & 0xff]++;
    }
    for (d = 0; d < nd; d++) {
        uint32_t sum = 0;
        for (i = 0; i < 256; i++) {
            uint32_t c = cnt[d][i];
            cnt[d][i] = sum;
            sum += c;
        }
    }
    for (d = 0; d < nd; d++) {
        unsigned sh = shifts[d];
        uint32_t *c = cnt[d];
        for (i = 0; i < n; i++)
            dst[c[(src[i].off >> sh) & 0xff]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != e->nb) {
        e->tmp = e->nb;
        e->nb = src;
    }
}

/* Number of buffers with lower < t. */
static size_t count_lower_below(const struct engine *e, uint64_t t)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->b[e->by_low[mid]].lower < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A whole-horizon buffer placed at [off, end): into the runs, merged with
 * those it touches (it overlaps none: it went into a gap). */
static void wu_add(struct engine *e, uint64_t off, uint64_t end)
{
    size_t lo = 0, hi = e->wu_n;
    while (lo < hi) { /* the first run above it */
        size_t mid = lo + (hi - lo) / 2;
        if (e->wu[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool left = lo > 0 && e->wu[lo - 1].end == off;
    bool right = lo < e->wu_n && e->wu[lo].off == end;
    e->w_placed++;
    if (left && right) {
        e->wu[lo - 1].end = e->wu[lo].end;
        memmove(e->wu + lo, e->wu + lo + 1, (e->wu_n - lo - 1) * sizeof(*e->wu));
        e->wu_n--;
    } else if (left) {
        e->wu[lo - 1].end = end;
    } else if (right) {
        e->wu[lo].off = off;
    } else {
        memmove(e->wu + lo + 1, e->wu + lo, (e->wu_n - lo) * sizeof(*e->wu));
        e->wu[lo] = (struct span){off, end};
        e->wu_n++;
    }
}

/* One greedy pass over order[0..n) with a placement rule. Stops early (and
 * returns 1) once the peak exceeds cutoff. Returns 0 with *peak, 1, or
 * -ENOMEM. e->off holds the offsets. */
int planner_engine_pass(struct engine *e, const uint32_t *order, enum rule rule,
                        uint64_t cutoff, uint64_t *peak)
{
    uint64_t pk = 0;
    size_t k;

    if (e->tree) {
        planner_gap_tree_clear(e->tree);
    } else {
        memset(e->seg, 0, 2 * e->leaves * sizeof(*e->seg));
        e->wu_n = e->w_placed = 0;
    }
    for (k = 0; k < e->n; k++) {
        uint32_t x = order[k];
        const struct plan_buffer *bx = &e->b[x];
        uint64_t al = align_of(bx), cand = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
        size_t i, j, leaf, nw = e->tree ? 0 : e->wu_n;
        bool whole = !e->tree && bx->lower == e->lo && bx->upper == e->hi;
        int rc;

        e->nb_n = 0;
        e->work++;
        if (e->tree) {
            rc = planner_gap_tree_collect(e, x);
        } else {
            rc = collect(e, 1, 0, e->leaves, count_lower_below(e, bx->upper), bx->lower);
            e->work += e->w_placed; /* as if their leaves were visited too */
        }
        if (rc < 0)
            return rc;
        /* The radix sort's histograms pay from 64 of the tree's intervals,
         * from some 512 of the neighbours collect finds (measured: a
         * 100-200 neighbour sort was most of greedy-size's pass on
         * mobilenet_v2, and the tree's passes slowed 1.6x at 512). */
        if (e->nb_n > (e->tree ? 64u : 512u))
            radix_sort(e);
        else
            span_sort(e->nb, e->nb_n);
        /* The neighbours and the whole-horizon runs, merged by offset: the
         * gaps between runs are those between their buffers (inside a run
         * there are none), so the plan is the same. */
        for (i = 0, j = 0; i < e->nb_n || j < nw;) {
            const struct span *sp =
                j == nw || (i < e->nb_n && e->nb[i].off < e->wu[j].off) ? &e->nb[i++] : &e->wu[j++];
            uint64_t a = align_up(cand, al);
            if (sp->off >= a && sp->off - a >= bx->bytes) {
                uint64_t gap = sp->off - cand;
                if (rule == RULE_FIRST_FIT) {
                    best = a;
                    break;
                }
                if (gap < best_gap) {
                    best_gap = gap;
                    best = a;
                }
            }
            if (sp->end > cand)
                cand = sp->end;
        }
        if (best == UINT64_MAX)
            best = align_up(cand, al);
        e->off[x] = best;
        if (best + bx->bytes > pk) {
            pk = best + bx->bytes;
            if (pk > cutoff)
                return 1;
        }
        if (e->tree) {
            rc = planner_gap_tree_place(e->tree, x, best, best + bx->bytes);
            if (rc < 0)
                return rc;
            continue;
        }
        if (whole) {
            wu_add(e, best, best + bx->bytes);
            continue;
        }
        e->leaf_span[e->leaf_of[x]] = (struct span){best, best + bx->bytes};
        leaf = e->leaves + e->leaf_of[x];
        for (; leaf >= 1 && e->seg[leaf] < bx->upper; leaf /= 2)
            e->seg[leaf] = bx->upper;
    }
    *peak = pk;
    return 0;
}

/* Sort spans by offset: quicksort (median of three, loop on the larger
 * part, recurse on the smaller: depth O(log n)), insertion sort below 16. */
static void span_sort(struct span *s, size_t n)
{
    while (n > 16) {
        size_t i = 0, j = n - 1, m = n / 2;
        uint64_t a = s[0].off, b = s[m].off, c = s[n - 1].off, piv;
        piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        for (;;) {
            struct span t;
            while (s[i].off < piv)
                i++;
            while (s[j].off > piv)
                j--;
            if (i >= j)
                break;
            t = s[i];
            s[i] = s[j];
            s[j] = t;
            i++;
            j--;
        }
        /* [0, j] <= piv <= [j + 1, n) */
        if (j + 1 < n - j - 1) {
            span_sort(s, j + 1);
            s += j + 1;
            n -= j + 1;
        } else {
            span_sort(s + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct span x = s[i];
        size_t j = i;
        while (j > 0 && s[j - 1].off > x.off) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = x;
    }
}
