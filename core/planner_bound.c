/* planner_bound.c - the lower bound: the largest live set at one time, with the padding alignment forces.
 *
 * At a time t let G be the smallest alignment among the buffers live then.
 * Every one of them starts at a multiple of G, so in any plan the distance
 * from one to the next above it is a multiple of G and at least its size:
 * each takes up at least round_up(size, G) except the topmost, which needs
 * only its size. So the peak is at least
 *     sum over live i of round_up(s_i, G)  -  max over live i of the pad
 *     round_up(s_i, G) - s_i,
 * which is the plain load when G is 1. Sweeping the events in time order,
 * the sums are kept for each of the few smallest alignments the problem
 * has, and the largest pad by a max-heap with lazy deletion (holding only
 * the pads above 0: sizes that are multiples of the alignment, most of a
 * model's, cost no heap work); at a time
 * whose G is not among those kept, the largest kept one below it is used
 * (a weaker but still valid bound). O(n log n).
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define N_KEPT 4 /* alignments (exponents > 0) whose sums the sweep keeps */

struct pad_heap {
    struct pad_item { uint64_t pad; uint32_t idx; } *v;
    size_t n;
};

static void heap_push(struct pad_heap *h, uint64_t pad, uint32_t idx)
{
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2].pad < pad) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = (struct pad_item){pad, idx};
}

static void heap_pop(struct pad_heap *h)
{
    struct pad_item last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].pad > h->v[c].pad)
            c++;
        if (h->v[c].pad <= last.pad)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
}

static unsigned exp_of(const struct plan_buffer *b)
{
    return (unsigned)__builtin_ctzll(align_of(b));
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* Round up without wrapping: the bound is public and may see unvalidated
 * buffers; planner_run's never come near. */
static uint64_t round_sat(uint64_t v, unsigned e)
{
    uint64_t a = (uint64_t)1 << e;
    return v > UINT64_MAX - (a - 1) ? UINT64_MAX : align_up(v, a);
}

int planner_bound(const struct plan_buffer *b, size_t n, uint64_t *lb)
{
    struct event *ev;
    struct pad_heap heap[N_KEPT] = {{0}};
    uint64_t sum[N_KEPT] = {0}, plain = 0, live_mask = 0, best = 0;
    uint32_t live_cnt[64] = {0};
    unsigned kept[N_KEPT];
    size_t n_kept = 0, i, k;
    bool *dead = NULL;
    int rc = -ENOMEM;

    *lb = 0;
    if (n == 0)
        return 0;
    /* The smallest N_KEPT distinct exponents above 0, ascending. */
    for (i = 0; i < n; i++) {
        unsigned e = exp_of(&b[i]);
        size_t j;
        if (e == 0)
            continue;
        for (j = 0; j < n_kept && kept[j] < e; j++)
            ;
        if (j < n_kept && kept[j] == e)
            continue;
        if (j == N_KEPT)
            continue;
        if (n_kept < N_KEPT)
            n_kept++;
        for (k = n_kept - 1; k > j; k--)
            kept[k] = kept[k - 1];
        kept[j] = e;
    }
    ev = planner_make_events(b, n);
    if (!ev)
        return -ENOMEM;
    if (n_kept > 0) {
        dead = calloc(n, sizeof(*dead));
        if (!dead)
            goto out;
        for (k = 0; k < n_kept; k++) {
            heap[k].v = malloc(n * sizeof(*heap[k].v));
            if (!heap[k].v)
                goto out;
        }
    }
    for (i = 0; i < 2 * n; i++) {
        uint32_t x = ev[i].idx;
        unsigned e = exp_of(&b[x]);
        uint64_t s = b[x].bytes;
        if (ev[i].start) {
            plain = sat_add(plain, s);
            if (live_cnt[e]++ == 0)
                live_mask |= (uint64_t)1 << e;
            /* Only kept alignments at or below the buffer's own: a sum
             * is used only while nothing less aligned is live. */
            for (k = 0; k < n_kept && kept[k] <= e; k++) {
                uint64_t r = round_sat(s, kept[k]);
                sum[k] = sat_add(sum[k], r);
                if (r > s) /* a pad of 0 is never the largest that counts */
                    heap_push(&heap[k], r - s, x);
            }
        } else {
            plain -= s < plain ? s : plain;
            if (--live_cnt[e] == 0)
                live_mask &= ~((uint64_t)1 << e);
            for (k = 0; k < n_kept && kept[k] <= e; k++) {
                uint64_t r = round_sat(s, kept[k]);
                sum[k] -= r < sum[k] ? r : sum[k];
            }
            if (dead)
                dead[x] = true;
        }
        /* Evaluate once a time's starts are all in (ends sort first). */
        if (ev[i].start && (i + 1 == 2 * n || ev[i + 1].t != ev[i].t)) {
            unsigned g = (unsigned)__builtin_ctzll(live_mask);
            uint64_t v = plain;
            for (k = n_kept; k-- > 0;)
                if (kept[k] <= g)
                    break;
            if (k < n_kept) {
                while (heap[k].n > 0 && dead[heap[k].v[0].idx])
                    heap_pop(&heap[k]);
                v = sum[k] - (heap[k].n > 0 ? heap[k].v[0].pad : 0); /* empty: no pad live */
                if (v < plain)
                    v = plain; /* only when saturated */
            }
            if (v > best)
                best = v;
        }
    }
    *lb = best;
    rc = 0;
out:
    for (k = 0; k < n_kept; k++)
        free(heap[k].v);
    free(dead);
    free(ev);
    return rc;
}

uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n)
{
    uint64_t lb = 0;
    planner_bound(b, n, &lb);
    return lb;
}
