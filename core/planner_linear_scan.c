/* planner_linear_scan.c - the linear-scan policy: the seed OrionRT's first fit.
 *
 * Buffers in order of lower (then index); each takes the lowest free region
 * that fits (first fit) among the regions of buffers that have expired, else
 * it extends the top (starting inside a free region that ends at the top, if
 * there is one). Expired buffers leave a min-heap by upper; free regions are
 * a sorted, coalesced list.
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


struct heap {
    uint32_t *v;
    size_t n;
};

/* Min-heap of buffer indices by upper. */
static void heap_push(struct heap *h, const struct plan_buffer *b, uint32_t x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (b[h->v[p]].upper <= b[x].upper)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
}

static uint32_t heap_pop(struct heap *h, const struct plan_buffer *b)
{
    uint32_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && b[h->v[c + 1]].upper < b[h->v[c]].upper)
            c++;
        if (b[x].upper <= b[h->v[c]].upper)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = x;
    return top;
}

/* Free regions: sorted by offset, disjoint, never adjacent (coalesced). */
static void free_insert(struct span *fr, size_t *nfr, uint64_t off, uint64_t end)
{
    size_t lo = 0, hi = *nfr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fr[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* lo: the first region above off */
    if (lo > 0 && fr[lo - 1].end == off) {
        fr[lo - 1].end = end;
        if (lo < *nfr && fr[lo].off == end) {
            fr[lo - 1].end = fr[lo].end;
            memmove(&fr[lo], &fr[lo + 1], (*nfr - lo - 1) * sizeof(*fr));
            (*nfr)--;
        }
        return;
    }
    if (lo < *nfr && fr[lo].off == end) {
        fr[lo].off = off;
        return;
    }
    memmove(&fr[lo + 1], &fr[lo], (*nfr - lo) * sizeof(*fr));
    fr[lo] = (struct span){off, end};
    (*nfr)++;
}

/* Take [a, a+bytes) out of region r. */
static void free_take(struct span *fr, size_t *nfr, size_t r, uint64_t a, uint64_t bytes)
{
    struct span s = fr[r];
    bool left = a > s.off, right = a + bytes < s.end;
    if (left && right) {
        memmove(&fr[r + 2], &fr[r + 1], (*nfr - r - 1) * sizeof(*fr));
        fr[r].end = a;
        fr[r + 1] = (struct span){a + bytes, s.end};
        (*nfr)++;
    } else if (left) {
        fr[r].end = a;
    } else if (right) {
        fr[r].off = a + bytes;
    } else {
        memmove(&fr[r], &fr[r + 1], (*nfr - r - 1) * sizeof(*fr));
        (*nfr)--;
    }
}

static int linear_scan_run(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
                           uint64_t *peak)
{
    struct event *ord = malloc(n * sizeof(*ord) + 1);
    struct span *fr = malloc((2 * n + 1) * sizeof(*fr));
    struct heap h = {malloc(n * sizeof(uint32_t) + 1), 0};
    uint64_t top = 0;
    size_t nfr = 0, k, r;
    int rc = 0;

    (void)opts; /* no search, so no time limit to honour */
    if (!ord || !fr || !h.v) {
        rc = -ENOMEM;
        goto out;
    }
    /* Order by lower, then index. */
    for (k = 0; k < n; k++)
        ord[k] = (struct event){b[k].lower, 0, (uint32_t)k};
    if (planner_sort_events(ord, n) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    for (k = 0; k < n; k++) {
        uint32_t x = ord[k].idx;
        uint64_t al = align_of(&b[x]), a = 0;
        bool placed = false;
        while (h.n && b[h.v[0]].upper <= b[x].lower) {
            uint32_t y = heap_pop(&h, b);
            free_insert(fr, &nfr, b[y].off, b[y].off + b[y].bytes);
        }
        for (r = 0; r < nfr; r++) {
            a = align_up(fr[r].off, al);
            if (a < fr[r].end && fr[r].end - a >= b[x].bytes) {
                free_take(fr, &nfr, r, a, b[x].bytes);
                placed = true;
                break;
            }
        }
        if (!placed) {
            if (nfr && fr[nfr - 1].end == top) {
                a = align_up(fr[nfr - 1].off, al);
                if (a > fr[nfr - 1].off)
                    fr[nfr - 1].end = a;
                else
                    nfr--;
            } else {
                a = align_up(top, al);
                if (a > top)
                    free_insert(fr, &nfr, top, a);
            }
            top = a + b[x].bytes;
        }
        b[x].off = a;
        heap_push(&h, b, x);
    }
    *peak = top;
out:
    free(h.v);
    free(fr);
    free(ord);
    return rc;
}

const struct planner_policy planner_linear_scan_policy = {
    .name = "linear-scan",
    .describe = "the seed OrionRT: buffers by start time, first fit among expired "
                "regions, else extend the top",
    .run = linear_scan_run,
};
