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
#include <string.h>

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

/* What the buffers live throughout add at every time, taken out of the
 * sweep (a model's weights, half of its buffers): their plain sum, their
 * exponents' counts, and for each kept alignment their rounded sum and
 * largest pad. */
struct whole {
    uint64_t plain, sum[N_KEPT], pad[N_KEPT];
    uint32_t live_cnt[64];
    bool any;
};

/* The value at a time: with g the smallest exponent live, the sums of the
 * largest kept alignment at most 2^g, less the largest pad (of the heap's,
 * the ones gone dropped, and of *w's); the plain load where none is kept. */
static inline uint64_t value(uint64_t plain, uint64_t live_mask, const uint64_t *sum,
                             struct pad_heap *heap, const bool *dead, const unsigned *kept,
                             size_t n_kept, const struct whole *w)
{
    unsigned g = (unsigned)__builtin_ctzll(live_mask);
    size_t k;
    for (k = n_kept; k-- > 0;)
        if (kept[k] <= g)
            break;
    if (k >= n_kept)
        return plain;
    uint64_t pad = w->pad[k];
    while (heap[k].n > 0 && dead[heap[k].v[0].idx])
        heap_pop(&heap[k]);
    if (heap[k].n > 0 && heap[k].v[0].pad > pad)
        pad = heap[k].v[0].pad;
    uint64_t v = sum[k] - pad; /* no pad live: 0 */
    return v < plain ? plain : v; /* below plain only when saturated */
}

/* The sweep over b[0..n) (none of them in *w) with *w live throughout,
 * from t0 on: *lb the largest value at a start (and at t0, when nothing of
 * b starts with *w). */
static int sweep(const struct plan_buffer *b, size_t n, const unsigned *kept, size_t n_kept,
                 const struct whole *w, uint64_t t0, uint64_t *lb)
{
    struct event *ev;
    struct pad_heap heap[N_KEPT] = {{0}};
    uint64_t sum[N_KEPT], plain = w->plain, live_mask = 0, best = 0;
    uint32_t live_cnt[64] = {0};
    size_t i, k;
    bool *dead = NULL;
    int rc = -ENOMEM;

    memcpy(sum, w->sum, sizeof(sum));
    if (w->any) {
        memcpy(live_cnt, w->live_cnt, sizeof(live_cnt));
        for (k = 0; k < 64; k++)
            if (live_cnt[k])
                live_mask |= (uint64_t)1 << k;
    }
    ev = planner_make_events(b, n);
    if (!ev)
        return -ENOMEM;
    if (n_kept > 0) {
        dead = calloc(n + 1, sizeof(*dead));
        if (!dead)
            goto out;
        for (k = 0; k < n_kept; k++) {
            heap[k].v = malloc((n + 1) * sizeof(*heap[k].v));
            if (!heap[k].v)
                goto out;
        }
    }
    /* The ones live throughout alone (nothing else starts as they do: no
     * event at t0, and none before it) */
    if (w->any && (n == 0 || ev[0].t > t0))
        best = value(plain, live_mask, sum, heap, dead, kept, n_kept, w);
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
            uint64_t v = value(plain, live_mask, sum, heap, dead, kept, n_kept, w);
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

int planner_bound(const struct plan_buffer *b, size_t n, uint64_t *lb)
{
    unsigned kept[N_KEPT];
    size_t n_kept = 0, i, k, n_whole;
    uint64_t lo, hi;
    struct whole w;
    int rc;

    *lb = 0;
    if (n == 0)
        return 0;
    memset(&w, 0, sizeof(w));
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
    n_whole = planner_horizon(b, n, &lo, &hi);
    /* Few of them: not worth a copy of the rest. */
    if (n_whole * 8 < n || n_whole == n)
        return sweep(b, n, kept, n_kept, &w, lo, lb);
    struct plan_buffer *rest = malloc((n - n_whole) * sizeof(*rest));
    size_t m = 0;
    if (rest == NULL)
        return -ENOMEM;
    w.any = true;
    for (i = 0; i < n; i++) {
        if (b[i].lower != lo || b[i].upper != hi) {
            rest[m++] = b[i];
            continue;
        }
        unsigned e = exp_of(&b[i]);
        uint64_t s = b[i].bytes;
        w.plain = sat_add(w.plain, s);
        w.live_cnt[e]++;
        for (k = 0; k < n_kept && kept[k] <= e; k++) {
            uint64_t r = round_sat(s, kept[k]);
            w.sum[k] = sat_add(w.sum[k], r);
            if (r - s > w.pad[k])
                w.pad[k] = r - s;
        }
    }
    rc = sweep(rest, m, kept, n_kept, &w, lo, lb);
    free(rest);
    return rc;
}

uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n)
{
    uint64_t lb = 0;
    planner_bound(b, n, &lb);
    return lb;
}
