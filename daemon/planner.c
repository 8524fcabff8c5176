/* planner.c - policies, lower bound, plan verification.
 *
 * Policies:
 *   linear-scan  the seed OrionRT: buffers in order of lower (then index);
 *                each takes the lowest free region that fits (first fit)
 *                among the regions of buffers that have expired, else it
 *                extends the top (starting inside a free region that ends
 *                at the top, if there is one).
 *   greedy-size  TensorFlow Lite's GreedyMemoryPlanner: size descending
 *                (ties: lower index first); each buffer goes into the
 *                smallest gap between already placed buffers whose
 *                lifetimes overlap its own, else above all of them.
 *   portfolio    the default. (1) "lowest first" on a skyline (canonical
 *                placements, as in MiniMalloc) with four tie rules; (2)
 *                greedy gap filling with several orderings x best/first fit
 *                while a work budget lasts (the first two always, below
 *                GAP_CAP overlapping pairs; the first is greedy-size's own
 *                pass, so the default never ends above it there); (3) on problems of at most
 *                BNB_MAX_N buffers, a MiniMalloc-style branch and bound at
 *                the lower bound, one round with a small node and work
 *                limit; (4) iterated greedy on the best skyline order for
 *                what is left of the work budget. All of it deterministic.
 *                With a time limit, (3) goes on in rounds with doubling
 *                node limits, each try at the lowest cap not proven
 *                impossible and one between it and the best plan found
 *                (halfway, closer to the best after a try runs out of
 *                nodes), then (4), until the deadline or a proven optimum.
 *
 * Engines: the gap engine finds the placed buffers overlapping a new one in
 * time with a segment tree over buffers sorted by lower holding the largest
 * upper among placed buffers in each subtree (prefix of leaves with lower <
 * upper_i, subtrees whose max upper <= lower_i skipped): a pass costs
 * O(n log n + overlapping pairs). The skyline engine is O(n log T) a pass.
 */
#include "planner.h"
#include "errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX

static uint64_t align_of(const struct plan_buffer *b)
{
    return b->align > 1 ? b->align : 1;
}

/* Round v up to a multiple of a (a power of two); callers made sure that no
 * value they pass can overflow (see validate()). */
static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Every buffer sane, and the sum of bytes plus worst alignment padding fits
 * in uint64, so no offset a policy computes can overflow. */
static int validate(const struct plan_buffer *b, size_t n, char *err, size_t err_len)
{
    uint64_t total = 0;
    size_t i;

    if (n >= NONE) {
        errmsg_set(err, err_len, "too many buffers: %zu (at most %u)", n, NONE - 1);
        return -EINVAL;
    }
    for (i = 0; i < n; i++) {
        uint64_t a = align_of(&b[i]);
        if (b[i].bytes == 0) {
            errmsg_set(err, err_len, "buffer %zu: size is 0", i);
            return -EINVAL;
        }
        if (b[i].upper <= b[i].lower) {
            errmsg_set(err, err_len,
                    "buffer %zu: upper %" PRIu64 " is not above lower %" PRIu64
                    " (upper is exclusive)",
                    i, b[i].upper, b[i].lower);
            return -EINVAL;
        }
        if (a & (a - 1)) {
            errmsg_set(err, err_len, "buffer %zu: alignment %" PRIu64 " is not a power of two", i,
                    b[i].align);
            return -EINVAL;
        }
        if (b[i].bytes > UINT64_MAX - total || a - 1 > UINT64_MAX - total - b[i].bytes) {
            errmsg_set(err, err_len, "buffer %zu: total size overflows 64 bits", i);
            return -EINVAL;
        }
        total += b[i].bytes + (a - 1);
    }
    return 0;
}

/* ---- events: the time sweep shared by the lower bound and verify -------- */

struct event {
    uint64_t t;
    uint32_t start; /* 0: an end, sorted before a start at the same time */
    uint32_t idx;
};

/* Sort events by time: LSD radix, a byte a pass, skipping bytes in which
 * all times agree. Stable, so what the caller's order put first among
 * equal times stays first. Returns 0 or -ENOMEM. */
static int sort_events(struct event *ev, size_t m)
{
    struct event *tmp, *src = ev, *dst;
    uint64_t all_or = 0, all_and = UINT64_MAX;
    size_t i, cnt[256];
    unsigned shift;

    if (m < 2)
        return 0;
    tmp = malloc(m * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    dst = tmp;
    for (i = 0; i < m; i++) {
        all_or |= ev[i].t;
        all_and &= ev[i].t;
    }
    for (shift = 0; shift < 64; shift += 8) {
        size_t sum = 0;
        struct event *t;
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        memset(cnt, 0, sizeof(cnt));
        for (i = 0; i < m; i++)
            cnt[(src[i].t >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            size_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < m; i++)
            dst[cnt[(src[i].t >> shift) & 0xff]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != ev)
        memcpy(ev, src, m * sizeof(*ev));
    free(tmp);
    return 0;
}

/* Starts and ends of all buffers in time order; at equal times ends come
 * before starts (half-open lifetimes), then by index. */
static struct event *make_events(const struct plan_buffer *b, size_t n)
{
    struct event *ev;
    size_t i;
    if (n > SIZE_MAX / 2 / sizeof(*ev))
        return NULL;
    ev = malloc(2 * n * sizeof(*ev) + 1);
    if (!ev)
        return NULL;
    for (i = 0; i < n; i++) {
        ev[i] = (struct event){b[i].upper, 0, (uint32_t)i};
        ev[n + i] = (struct event){b[i].lower, 1, (uint32_t)i};
    }
    if (sort_events(ev, 2 * n) < 0) {
        free(ev);
        return NULL;
    }
    return ev;
}

uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n)
{
    struct event *ev = make_events(b, n);
    uint64_t cur = 0, best = 0;
    size_t k;

    if (!ev)
        return 0;
    for (k = 0; k < 2 * n; k++) {
        uint64_t s = b[ev[k].idx].bytes;
        if (ev[k].start) {
            cur = s > UINT64_MAX - cur ? UINT64_MAX : cur + s;
            if (cur > best)
                best = cur;
        } else {
            cur -= s < cur ? s : cur;
        }
    }
    free(ev);
    return best;
}

/* ---- verify -------------------------------------------------------------
 * Sweep time; the live buffers, keyed by the rank of their offset among all
 * offsets, sit in a Fenwick tree of counts. If the live set is disjoint, a
 * new buffer can only collide with its neighbours in offset order, so each
 * start checks the nearest live buffer below and above: O(n log n). */

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static void fw_add(int32_t *fw, size_t m, size_t i, int32_t d)
{
    for (i++; i <= m; i += i & (~i + 1))
        fw[i] += d;
}

static int32_t fw_sum(const int32_t *fw, size_t i) /* count of ranks < i */
{
    int32_t s = 0;
    for (; i > 0; i -= i & (~i + 1))
        s += fw[i];
    return s;
}

static size_t fw_kth(const int32_t *fw, size_t m, int32_t k) /* rank of the k-th, k >= 1 */
{
    size_t pos = 0, step = 1;
    while (step * 2 <= m)
        step *= 2;
    for (; step; step /= 2) {
        if (pos + step <= m && fw[pos + step] < k) {
            pos += step;
            k -= fw[pos];
        }
    }
    return pos;
}

static size_t rank_of(const uint64_t *v, size_t m, uint64_t x)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int overlap_msg(const struct plan_buffer *b, size_t i, size_t j, char *err, size_t len)
{
    if (i > j) {
        size_t t = i;
        i = j;
        j = t;
    }
    errmsg_set(err, len,
            "buffers %zu and %zu overlap: bytes [%" PRIu64 ", %" PRIu64 ") and [%" PRIu64
            ", %" PRIu64 "), times [%" PRIu64 ", %" PRIu64 ") and [%" PRIu64 ", %" PRIu64 ")",
            i, j, b[i].off, b[i].off + b[i].bytes, b[j].off, b[j].off + b[j].bytes, b[i].lower,
            b[i].upper, b[j].lower, b[j].upper);
    return -EINVAL;
}

int planner_verify(const struct plan_buffer *b, size_t n, uint64_t peak, char *err,
                   size_t err_len)
{
    struct event *ev = NULL;
    uint64_t *offs = NULL;
    int32_t *fw = NULL;
    uint32_t *slot = NULL;
    size_t i, m = 0, k;
    int rc = 0;

    for (i = 0; i < n; i++) {
        if (b[i].bytes == 0 || b[i].upper <= b[i].lower) {
            errmsg_set(err, err_len, "buffer %zu: empty size or lifetime", i);
            return -EINVAL;
        }
        if (b[i].align > 1 && (b[i].align & (b[i].align - 1))) {
            errmsg_set(err, err_len, "buffer %zu: alignment %" PRIu64 " is not a power of two", i,
                    b[i].align);
            return -EINVAL;
        }
        if (b[i].off % align_of(&b[i])) {
            errmsg_set(err, err_len, "buffer %zu: offset %" PRIu64 " is not a multiple of %" PRIu64,
                    i, b[i].off, b[i].align);
            return -EINVAL;
        }
        if (b[i].off > peak || b[i].bytes > peak - b[i].off) {
            errmsg_set(err, err_len,
                    "buffer %zu: [%" PRIu64 ", +%" PRIu64 ") is beyond the peak %" PRIu64, i,
                    b[i].off, b[i].bytes, peak);
            return -EINVAL;
        }
    }
    if (n == 0)
        return 0;
    if (n >= NONE) {
        errmsg_set(err, err_len, "too many buffers: %zu", n);
        return -EINVAL;
    }
    ev = make_events(b, n);
    offs = malloc(n * sizeof(*offs));
    slot = malloc(n * sizeof(*slot));
    fw = calloc(n + 1, sizeof(*fw));
    if (!ev || !offs || !slot || !fw) {
        errmsg_set(err, err_len, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        offs[i] = b[i].off;
        slot[i] = NONE;
    }
    qsort(offs, n, sizeof(*offs), u64_cmp);
    for (i = 0; i < n; i++)
        if (i == 0 || offs[i] != offs[m - 1])
            offs[m++] = offs[i];

    for (k = 0; k < 2 * n; k++) {
        size_t x = ev[k].idx, r = rank_of(offs, m, b[x].off);
        int32_t below, total;
        if (!ev[k].start) {
            if (slot[r] == x) {
                slot[r] = NONE;
                fw_add(fw, m, r, -1);
            }
            continue;
        }
        if (slot[r] != NONE) {
            rc = overlap_msg(b, x, slot[r], err, err_len);
            goto out;
        }
        below = fw_sum(fw, r);
        total = fw_sum(fw, m);
        if (below > 0) {
            size_t j = slot[fw_kth(fw, m, below)];
            if (b[j].off + b[j].bytes > b[x].off) {
                rc = overlap_msg(b, x, j, err, err_len);
                goto out;
            }
        }
        if (total > below) {
            size_t j = slot[fw_kth(fw, m, below + 1)];
            if (b[x].off + b[x].bytes > b[j].off) {
                rc = overlap_msg(b, x, j, err, err_len);
                goto out;
            }
        }
        slot[r] = (uint32_t)x;
        fw_add(fw, m, r, 1);
    }
out:
    free(fw);
    free(slot);
    free(offs);
    free(ev);
    return rc;
}

/* ---- linear-scan ------------------------------------------------------- */

struct span {
    uint64_t off, end;
};

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

struct order_key {
    double k1, k2, k3;
    uint32_t idx;
};

/* Descending k1, k2, k3; then ascending index. */
static int key_cmp(const void *pa, const void *pb)
{
    const struct order_key *a = pa, *b = pb;
    if (a->k1 != b->k1)
        return a->k1 > b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2 ? -1 : 1;
    if (a->k3 != b->k3)
        return a->k3 > b->k3 ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
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

static int plan_linear_scan(struct plan_buffer *b, size_t n, uint64_t *peak)
{
    struct event *ord = malloc(n * sizeof(*ord) + 1);
    struct span *fr = malloc((2 * n + 1) * sizeof(*fr));
    struct heap h = {malloc(n * sizeof(uint32_t) + 1), 0};
    uint64_t top = 0;
    size_t nfr = 0, k, r;
    int rc = 0;

    if (!ord || !fr || !h.v) {
        rc = -ENOMEM;
        goto out;
    }
    /* Order by lower, then index. */
    for (k = 0; k < n; k++)
        ord[k] = (struct event){b[k].lower, 0, (uint32_t)k};
    if (sort_events(ord, n) < 0) {
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

/* ---- the greedy engine -------------------------------------------------- */

enum rule { RULE_BEST_FIT, RULE_FIRST_FIT };

struct engine {
    const struct plan_buffer *b;
    size_t n, leaves;
    uint32_t *by_low;     /* buffer indices by lower (then index) */
    uint32_t *leaf_of;    /* leaf_of[i]: position of buffer i in by_low */
    uint64_t *seg;        /* max upper of placed buffers in each subtree */
    uint64_t *off;        /* the pass's offsets */
    struct span *nb;      /* placed neighbours of the buffer being placed */
    struct span *tmp;     /* radix sort scratch, nb_cap long */
    size_t nb_n, nb_cap;
    uint64_t work;        /* leaves visited + buffers placed, summed over passes */
};

static void engine_free(struct engine *e)
{
    free(e->by_low);
    free(e->leaf_of);
    free(e->seg);
    free(e->off);
    free(e->nb);
    free(e->tmp);
}

static int engine_init(struct engine *e, const struct plan_buffer *b, size_t n)
{
    struct event *ev;
    size_t k;

    memset(e, 0, sizeof(*e));
    e->b = b;
    e->n = n;
    for (e->leaves = 1; e->leaves < n; e->leaves *= 2)
        ;
    e->by_low = malloc(n * sizeof(*e->by_low) + 1);
    e->leaf_of = malloc(n * sizeof(*e->leaf_of) + 1);
    e->seg = calloc(2 * e->leaves, sizeof(*e->seg));
    e->off = malloc(n * sizeof(*e->off) + 1);
    e->nb_cap = 64;
    e->nb = malloc(e->nb_cap * sizeof(*e->nb));
    e->tmp = malloc(e->nb_cap * sizeof(*e->tmp));
    ev = malloc(n * sizeof(*ev) + 1);
    if (!e->by_low || !e->leaf_of || !e->seg || !e->off || !e->nb || !e->tmp || !ev) {
        free(ev);
        engine_free(e);
        return -ENOMEM;
    }
    for (k = 0; k < n; k++)
        ev[k] = (struct event){b[k].lower, 0, (uint32_t)k};
    if (sort_events(ev, n) < 0) {
        free(ev);
        engine_free(e);
        return -ENOMEM;
    }
    for (k = 0; k < n; k++) {
        e->by_low[k] = ev[k].idx;
        e->leaf_of[ev[k].idx] = (uint32_t)k;
    }
    free(ev);
    return 0;
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
        uint32_t j = e->by_low[lo];
        e->work++;
        return nb_push(e, e->off[j], e->off[j] + e->b[j].bytes);
    }
    size_t mid = lo + (hi - lo) / 2;
    int rc = collect(e, 2 * node, lo, mid, r, low);
    if (rc == 0)
        rc = collect(e, 2 * node + 1, mid, hi, r, low);
    return rc;
}

static void span_sort(struct span *s, size_t n);

/* LSD radix sort of e->nb by offset, a byte a pass, skipping the bytes in
 * which all offsets agree (the high ones, mostly). */
static void radix_sort(struct engine *e)
{
    uint64_t all_or = 0, all_and = UINT64_MAX;
    struct span *src = e->nb, *dst = e->tmp, *t;
    size_t i, n = e->nb_n, cnt[256];
    unsigned shift;

    for (i = 0; i < n; i++) {
        all_or |= src[i].off;
        all_and &= src[i].off;
    }
    for (shift = 0; shift < 64; shift += 8) {
        size_t sum = 0;
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        memset(cnt, 0, sizeof(cnt));
        for (i = 0; i < n; i++)
            cnt[(src[i].off >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            size_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[cnt[(src[i].off >> shift) & 0xff]++] = src[i];
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

/* One greedy pass over order[0..n) with a placement rule. Stops early (and
 * returns 1) once the peak exceeds cutoff. Returns 0 with *peak, 1, or
 * -ENOMEM. e->off holds the offsets. */
static int engine_pass(struct engine *e, const uint32_t *order, enum rule rule, uint64_t cutoff,
                       uint64_t *peak)
{
    uint64_t pk = 0;
    size_t k;

    memset(e->seg, 0, 2 * e->leaves * sizeof(*e->seg));
    for (k = 0; k < e->n; k++) {
        uint32_t x = order[k];
        const struct plan_buffer *bx = &e->b[x];
        uint64_t al = align_of(bx), cand = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
        size_t i, leaf;
        int rc;

        e->nb_n = 0;
        e->work++;
        rc = collect(e, 1, 0, e->leaves, count_lower_below(e, bx->upper), bx->lower);
        if (rc < 0)
            return rc;
        if (e->nb_n > 64)
            radix_sort(e);
        else
            span_sort(e->nb, e->nb_n);
        for (i = 0; i < e->nb_n; i++) {
            uint64_t a = align_up(cand, al);
            if (e->nb[i].off >= a && e->nb[i].off - a >= bx->bytes) {
                uint64_t gap = e->nb[i].off - cand;
                if (rule == RULE_FIRST_FIT) {
                    best = a;
                    break;
                }
                if (gap < best_gap) {
                    best_gap = gap;
                    best = a;
                }
            }
            if (e->nb[i].end > cand)
                cand = e->nb[i].end;
        }
        if (best == UINT64_MAX)
            best = align_up(cand, al);
        e->off[x] = best;
        if (best + bx->bytes > pk) {
            pk = best + bx->bytes;
            if (pk > cutoff)
                return 1;
        }
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

/* ---- orderings ---------------------------------------------------------- */

enum order_kind {
    ORDER_SIZE,          /* size, then lifetime */
    ORDER_SIZE_LOW,      /* size, then earlier start */
    ORDER_SIZE_IDX,      /* size, then index: greedy-size's own order */
    ORDER_LOAD,          /* the largest load over the lifetime, then size */
    ORDER_AREA,          /* size x lifetime */
    ORDER_LIFE,          /* lifetime, then size */
    N_ORDERS
};


static void make_keys(const struct plan_buffer *b, size_t n, enum order_kind kind,
                      const uint64_t *load, struct order_key *key)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double size = (double)b[i].bytes, life = (double)(b[i].upper - b[i].lower);
        double low = -(double)b[i].lower;
        switch (kind) {
        case ORDER_SIZE: key[i] = (struct order_key){size, life, low, (uint32_t)i}; break;
        case ORDER_SIZE_LOW: key[i] = (struct order_key){size, low, 0, (uint32_t)i}; break;
        case ORDER_SIZE_IDX: key[i] = (struct order_key){size, 0, 0, (uint32_t)i}; break;
        case ORDER_LOAD:
            key[i] = (struct order_key){(double)load[i], size, life, (uint32_t)i};
            break;
        case ORDER_AREA: key[i] = (struct order_key){size * life, size, low, (uint32_t)i}; break;
        default: key[i] = (struct order_key){life, size, low, (uint32_t)i}; break;
        }
    }
}

static int make_order(const struct plan_buffer *b, size_t n, enum order_kind kind,
                      const uint64_t *load, uint32_t *order)
{
    struct order_key *key = malloc(n * sizeof(*key) + 1);
    size_t i;

    if (!key)
        return -ENOMEM;
    make_keys(b, n, kind, load, key);
    qsort(key, n, sizeof(*key), key_cmp);
    for (i = 0; i < n; i++)
        order[i] = key[i].idx;
    free(key);
    return 0;
}

/* ---- greedy-size -------------------------------------------------------- */

static int plan_greedy_size(struct plan_buffer *b, size_t n, uint64_t *peak)
{
    struct engine e;
    uint32_t *order = malloc(n * sizeof(*order) + 1);
    struct order_key *key = malloc(n * sizeof(*key) + 1);
    size_t i;
    int rc;

    if (!order || !key) {
        rc = -ENOMEM;
        goto out;
    }
    /* TFLite: size descending; ties keep the earlier buffer first. */
    for (i = 0; i < n; i++)
        key[i] = (struct order_key){(double)b[i].bytes, 0, 0, (uint32_t)i};
    qsort(key, n, sizeof(*key), key_cmp);
    for (i = 0; i < n; i++)
        order[i] = key[i].idx;
    rc = engine_init(&e, b, n);
    if (rc < 0)
        goto out;
    rc = engine_pass(&e, order, RULE_BEST_FIT, UINT64_MAX, peak);
    if (rc == 0)
        for (i = 0; i < n; i++)
            b[i].off = e.off[i];
    engine_free(&e);
out:
    free(key);
    free(order);
    return rc;
}

/* ---- the skyline engine -------------------------------------------------
 * Buffers placed one after another, each on top of the highest placed
 * buffer it overlaps in time: offset = max over its lifetime of the
 * skyline. Every plan can be pushed down into this "canonical" form (each
 * buffer resting on another or on 0) without raising its peak, and the
 * canonical plan is what placing the buffers in order of offset gives, so
 * searching over orders loses nothing (MiniMalloc's observation). A pass is
 * O(n log T) with a segment tree over the T time slots holding the skyline
 * (range max; range "raise to", which never lowers, so no push-down). */

struct sky {
    size_t sz;          /* leaves, a power of two >= slots */
    uint64_t *mx, *tag; /* subtree max; value raised over the whole subtree */
    uint32_t *lo, *hi;  /* each buffer's slots [lo, hi) */
    uint64_t work;
};

static void sky_free(struct sky *s)
{
    free(s->mx);
    free(s->tag);
    free(s->lo);
    free(s->hi);
}

static int sky_init(struct sky *s, const struct plan_buffer *b, size_t n)
{
    struct event *ev = make_events(b, n);
    uint64_t *t = malloc(2 * n * sizeof(*t) + 1);
    size_t m = 0, i;

    memset(s, 0, sizeof(*s));
    s->lo = malloc(n * sizeof(*s->lo) + 1);
    s->hi = malloc(n * sizeof(*s->hi) + 1);
    if (!ev || !t || !s->lo || !s->hi)
        goto err;
    for (i = 0; i < 2 * n; i++) {
        if (m == 0 || ev[i].t != t[m - 1])
            t[m++] = ev[i].t;
        if (ev[i].start)
            s->lo[ev[i].idx] = (uint32_t)(m - 1);
        else
            s->hi[ev[i].idx] = (uint32_t)(m - 1);
    }
    for (s->sz = 1; s->sz < m; s->sz *= 2)
        ;
    s->mx = calloc(2 * s->sz, sizeof(*s->mx));
    s->tag = calloc(2 * s->sz, sizeof(*s->tag));
    if (!s->mx || !s->tag)
        goto err;
    free(t);
    free(ev);
    return 0;
err:
    free(t);
    free(ev);
    sky_free(s);
    return -ENOMEM;
}

static uint64_t sky_max(struct sky *s, size_t node, size_t nlo, size_t nhi, size_t a, size_t b)
{
    uint64_t r, q;
    size_t mid;
    if (a <= nlo && nhi <= b)
        return s->mx[node];
    s->work++;
    r = s->tag[node];
    mid = nlo + (nhi - nlo) / 2;
    if (a < mid && (q = sky_max(s, 2 * node, nlo, mid, a, b)) > r)
        r = q;
    if (b > mid && (q = sky_max(s, 2 * node + 1, mid, nhi, a, b)) > r)
        r = q;
    return r;
}

static void sky_raise(struct sky *s, size_t node, size_t nlo, size_t nhi, size_t a, size_t b,
                      uint64_t v)
{
    size_t mid;
    if (s->mx[node] < v)
        s->mx[node] = v;
    if (a <= nlo && nhi <= b) {
        if (s->tag[node] < v)
            s->tag[node] = v;
        return;
    }
    mid = nlo + (nhi - nlo) / 2;
    if (a < mid)
        sky_raise(s, 2 * node, nlo, mid, a, b, v);
    if (b > mid)
        sky_raise(s, 2 * node + 1, mid, nhi, a, b, v);
}

static void sky_reset(struct sky *s)
{
    memset(s->mx, 0, 2 * s->sz * sizeof(*s->mx));
    memset(s->tag, 0, 2 * s->sz * sizeof(*s->tag));
}

static uint64_t sky_where(struct sky *s, const struct plan_buffer *b, uint32_t x)
{
    return align_up(sky_max(s, 1, 0, s->sz, s->lo[x], s->hi[x]), align_of(&b[x]));
}

/* Place order[0..n) on the skyline; off[] out. Returns 0 with *peak, or 1
 * as soon as the peak exceeds cutoff. */
static int sky_pass(struct sky *s, const struct plan_buffer *b, size_t n, const uint32_t *order,
                    uint64_t cutoff, uint64_t *off, uint64_t *peak)
{
    uint64_t pk = 0;
    size_t k;
    sky_reset(s);
    for (k = 0; k < n; k++) {
        uint32_t x = order[k];
        uint64_t o = sky_where(s, b, x), end = o + b[x].bytes;
        off[x] = o;
        if (end > pk) {
            pk = end;
            if (pk > cutoff)
                return 1;
        }
        sky_raise(s, 1, 0, s->sz, s->lo[x], s->hi[x], end);
        s->work++;
    }
    *peak = pk;
    return 0;
}

/* Lowest first: repeatedly place, of the unplaced buffers, the one that
 * would sit lowest on the skyline (ties: by key, larger first). Keys only
 * grow as the skyline rises, so a min-heap with lazy re-keying works. The
 * order it produces seeds the search. Re-keying can cost O(overlaps):
 * gives up (returns 1) once s->work passes work_cap. */
struct lf_item {
    uint64_t at;
    double k1, k2;
    uint32_t idx;
};

static bool lf_less(const struct lf_item *a, const struct lf_item *b)
{
    if (a->at != b->at)
        return a->at < b->at;
    if (a->k1 != b->k1)
        return a->k1 > b->k1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2;
    return a->idx < b->idx;
}

static void lf_down(struct lf_item *h, size_t n, size_t i)
{
    struct lf_item x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && lf_less(&h[c + 1], &h[c]))
            c++;
        if (!lf_less(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int sky_lowest_first(struct sky *s, const struct plan_buffer *b, size_t n,
                            const struct order_key *keys, uint32_t *order, uint64_t *off,
                            uint64_t *peak, uint64_t work_cap)
{
    struct lf_item *h = malloc(n * sizeof(*h) + 1);
    uint64_t pk = 0;
    size_t hn = n, k = 0, i;

    if (!h)
        return -ENOMEM;
    sky_reset(s);
    for (i = 0; i < n; i++)
        h[i] = (struct lf_item){0, keys[i].k1, keys[i].k2, (uint32_t)i};
    for (i = n / 2; i-- > 0;)
        lf_down(h, hn, i);
    while (hn) {
        uint32_t x = h[0].idx;
        uint64_t at = sky_where(s, b, x), end;
        if (at != h[0].at) {
            if (++s->work > work_cap) {
                free(h);
                return 1;
            }
            h[0].at = at;
            lf_down(h, hn, 0);
            continue;
        }
        h[0] = h[--hn];
        lf_down(h, hn, 0);
        end = at + b[x].bytes;
        off[x] = at;
        order[k++] = x;
        if (end > pk)
            pk = end;
        sky_raise(s, 1, 0, s->sz, s->lo[x], s->hi[x], end);
        s->work++;
    }
    free(h);
    *peak = pk;
    return 0;
}

/* Lowest first by valleys: the skyline as a list of segments (maximal runs
 * of slots at one height, mostly); take the lowest segment (leftmost among
 * equals), place in it an unplaced buffer whose lifetime lies inside it
 * (the first in leaf order: earliest start, then by the tie keys), else
 * raise it to its lower neighbour and merge: nothing can ever sit in it.
 * Every step places a buffer or removes a segment, so it is O(n log n)
 * whatever the overlaps. Segments are named by their first slot; a heap
 * holds (height, first slot, version), stale entries skipped. */

struct vkey {
    uint32_t lo;
    double k1, k2;
    uint32_t idx;
};

static int vkey_cmp(const void *pa, const void *pb)
{
    const struct vkey *a = pa, *b = pb;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 > b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2 ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Candidates: a min-tree of hi over the unplaced buffers in leaf order.
 * First leaf in [a, b) with value <= lim, or SIZE_MAX. */
static size_t ct_first(const uint64_t *ct, size_t node, size_t lo, size_t hi, size_t a,
                       size_t b, uint64_t lim)
{
    size_t mid, r;
    if (hi <= a || b <= lo || ct[node] > lim)
        return SIZE_MAX;
    if (hi - lo == 1)
        return lo;
    mid = lo + (hi - lo) / 2;
    r = ct_first(ct, 2 * node, lo, mid, a, b, lim);
    if (r == SIZE_MAX)
        r = ct_first(ct, 2 * node + 1, mid, hi, a, b, lim);
    return r;
}

struct vseg_ref {
    uint64_t h;
    uint32_t start, ver;
};

static bool vref_less(const struct vseg_ref *a, const struct vseg_ref *b)
{
    return a->h != b->h ? a->h < b->h : a->start < b->start;
}

static void vheap_push(struct vseg_ref *hp, size_t *hn, struct vseg_ref x)
{
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!vref_less(&x, &hp[p]))
            break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static struct vseg_ref vheap_pop(struct vseg_ref *hp, size_t *hn)
{
    struct vseg_ref top = hp[0], x = hp[--*hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *hn)
            break;
        if (c + 1 < *hn && vref_less(&hp[c + 1], &hp[c]))
            c++;
        if (!vref_less(&hp[c], &x))
            break;
        hp[i] = hp[c];
        i = c;
    }
    if (*hn)
        hp[i] = x;
    return top;
}

struct vsegs {
    uint32_t *end, *prev, *ver; /* by first slot; prev UINT32_MAX: none */
    uint64_t *h;
    struct vseg_ref *heap;
    size_t hn, slots;
};

/* (Re)define the segment [a, e) at height h after slot `prev`. */
static void vseg_set(struct vsegs *v, uint32_t a, uint32_t e, uint64_t h, uint32_t prev)
{
    v->end[a] = e;
    v->h[a] = h;
    v->prev[a] = prev;
    v->ver[a]++;
    if (e < v->slots)
        v->prev[e] = a;
    vheap_push(v->heap, &v->hn, (struct vseg_ref){h, a, v->ver[a]});
}

static int sky_valleys(const struct sky *s, const struct plan_buffer *b, size_t n,
                       const struct order_key *keys, uint32_t *order, uint64_t *off,
                       uint64_t *peak, uint64_t *work)
{
    struct vsegs v = {0};
    struct vkey *vk = malloc(n * sizeof(*vk) + 1);
    uint64_t *ct = NULL, pk = 0;
    size_t slots = 0, csz, i, placed = 0, *first_leaf = NULL;
    int rc = -ENOMEM;

    for (i = 0; i < n; i++)
        if (s->hi[i] > slots)
            slots = s->hi[i];
    v.slots = slots;
    for (csz = 1; csz < n; csz *= 2)
        ;
    v.end = calloc(slots + 1, sizeof(*v.end));
    v.prev = calloc(slots + 1, sizeof(*v.prev));
    v.ver = calloc(slots + 1, sizeof(*v.ver));
    v.h = calloc(slots + 1, sizeof(*v.h));
    v.heap = malloc((5 * n + 8) * sizeof(*v.heap));
    ct = malloc(2 * csz * sizeof(*ct));
    first_leaf = malloc((slots + 1) * sizeof(*first_leaf));
    if (!vk || !v.end || !v.prev || !v.ver || !v.h || !v.heap || !ct || !first_leaf)
        goto out;
    for (i = 0; i < n; i++)
        vk[i] = (struct vkey){s->lo[i], keys[i].k1, keys[i].k2, (uint32_t)i};
    qsort(vk, n, sizeof(*vk), vkey_cmp);
    for (i = 0, placed = 0; i <= slots; i++) { /* placed: a leaf cursor here */
        while (placed < n && vk[placed].lo < i)
            placed++;
        first_leaf[i] = placed;
    }
    placed = 0;
    for (i = 0; i < csz; i++)
        ct[csz + i] = i < n ? s->hi[vk[i].idx] : UINT64_MAX;
    for (i = csz; i-- > 1;)
        ct[i] = ct[2 * i] < ct[2 * i + 1] ? ct[2 * i] : ct[2 * i + 1];
    vseg_set(&v, 0, (uint32_t)slots, 0, UINT32_MAX);

    while (placed < n && v.hn) {
        struct vseg_ref r = vheap_pop(v.heap, &v.hn);
        uint32_t a = r.start, e, pv;
        uint64_t h;
        size_t leaf;
        if (r.ver != v.ver[a])
            continue; /* stale */
        e = v.end[a];
        h = v.h[a];
        pv = v.prev[a];
        (*work)++;
        leaf = ct_first(ct, 1, 0, csz, first_leaf[a], first_leaf[e], e);
        if (leaf != SIZE_MAX) {
            uint32_t x = vk[leaf].idx, lo = s->lo[x], hi = s->hi[x];
            uint64_t o = align_up(h, align_of(&b[x])), end = o + b[x].bytes;
            off[x] = o;
            order[placed++] = x;
            if (end > pk)
                pk = end;
            for (i = csz + leaf, ct[i] = UINT64_MAX; i > 1; i /= 2)
                ct[i / 2] = ct[i & ~(size_t)1] < ct[i | 1] ? ct[i & ~(size_t)1] : ct[i | 1];
            {
                /* [a, lo) stays at h; [lo, hi) rises to end, merged with
                 * neighbours already at that height; [hi, e) stays at h */
                uint32_t ma = lo, me = hi;
                if (lo > a) {
                    vseg_set(&v, a, lo, h, pv);
                    pv = a;
                } else {
                    v.ver[a]++;
                    if (pv != UINT32_MAX && v.h[pv] == end) {
                        ma = pv;
                        pv = v.prev[pv];
                    }
                }
                if (hi == e && e < slots && v.h[e] == end) {
                    v.ver[e]++;
                    me = v.end[e];
                }
                vseg_set(&v, ma, me, end, pv);
                if (hi < e)
                    vseg_set(&v, hi, e, h, ma);
            }
        } else {
            uint64_t lh = pv != UINT32_MAX ? v.h[pv] : UINT64_MAX;
            uint64_t rh = e < slots ? v.h[e] : UINT64_MAX;
            uint64_t nh = lh < rh ? lh : rh;
            uint32_t na = a, ne = e, npv = pv;
            if (nh == UINT64_MAX)
                break; /* cannot happen: every buffer lies in [0, slots) */
            v.ver[a]++;
            if (lh == nh) { /* merge into the left neighbour */
                na = pv;
                npv = v.prev[pv];
            }
            if (rh == nh) { /* swallow the right neighbour */
                v.ver[e]++;
                ne = v.end[e];
            }
            vseg_set(&v, na, ne, nh, npv);
        }
    }
    *peak = pk;
    rc = placed == n ? 0 : -EINVAL;
out:
    free(first_leaf);
    free(ct);
    free(v.heap);
    free(v.h);
    free(v.ver);
    free(v.prev);
    free(v.end);
    free(vk);
    return rc;
}

/* ---- branch and bound (time-limited mode, small problems) ---------------
 * A depth-first search over canonical plans in the manner of MiniMalloc
 * (Moffitt, ASPLOS 2023), written from its description: decide whether a
 * plan with peak <= cap exists. Buffers go in order of (offset, preorder
 * rank), each at the lowest offset its placed neighbours leave it; a buffer
 * is not put at or above the top another unplaced buffer would reach if
 * placed now (that would leave a gap the other fills: dominated); and a
 * node is cut when, in some time slot, max(floor, current offset, lowest
 * offset an unplaced buffer live there can take) plus the sizes of the
 * unplaced buffers live there exceeds cap. That last floor (ufloor) is kept
 * up to date a placement at a time: each slot lists its unplaced buffers
 * and counts those at its ufloor, and a slot is rescanned only when the
 * last of them rises or is placed, so a node costs about its slots plus the
 * neighbours of the placed buffer, not the slots of every unplaced buffer.
 * With a time limit, a group of buffers that comes apart from the rest is
 * re-ranked by the preorder on what is left of the load (as MiniMalloc's
 * sub-partitions are), and W is the lifetime in time, as in MiniMalloc. */

#define BNB_MAX_N 1000u
#define FAST_BNB_NODES 600u    /* a try, in the first round */
#define FAST_BNB_WORK 8000000u /* slot visits in the first round, all tries: ~10 ms */
#define BNB_MAX_PAIRS 200000u

struct bnb_cand {
    uint64_t off;
    uint32_t pre, idx;
};

struct bnb {
    const struct plan_buffer *b;
    size_t n, slots;
    uint32_t *adj_start, *adj;   /* overlaps, CSR */
    uint32_t *lo, *hi;           /* slots of each buffer */
    uint32_t *pre;               /* preorder rank of each buffer */
    uint64_t *minoff, *off;      /* off: NONE64 while unplaced */
    uint64_t *floor, *total;     /* per slot */
    uint64_t *ufloor;            /* per slot: lowest minoff of the unplaced live there */
    uint32_t *ucnt;              /* per slot: how many unplaced live there have it */
    uint32_t *slot_start, *slot_buf; /* buffers live in each slot, CSR: */
    uint32_t *slot_cnt;          /* the first slot_cnt[t] of slot t are unplaced */
    uint32_t *buf_start, *pos;   /* where in slot t buffer y is: pos[buf_start[y] + t - lo] */
    uint32_t *stamp, *rstamp, gen; /* slots logged / recounted in this placement */
    struct bnb_cand *pool;       /* candidate lists, one a depth */
    uint32_t *rest_pool;         /* what is left after a placement, a depth */
    uint32_t *by_lo;             /* all buffers by first slot */
    uint32_t *pre_pool;          /* preorder ranks saved while a group has its own */
    struct order_key *kk;        /* scratch of a group's preorder */
    size_t pool_used, rest_used, pre_used;
    size_t heur;                 /* which preorder (see preorder()) */
    bool dyn;                    /* groups re-rank by their own loads, W by time */
    struct { uint32_t what, cnt; uint64_t old; } *undo;
    size_t undo_n, undo_cap;
    uint64_t cap, nodes_left, nodes;
    uint64_t work_left;          /* slot visits allowed (fast mode) */
    double deadline;
    bool timed_out;              /* also set when the undo log could not grow */
};

#define NONE64 UINT64_MAX

static int cand_cmp(const void *pa, const void *pb)
{
    const struct bnb_cand *a = pa, *b = pb;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return a->pre < b->pre ? -1 : a->pre > b->pre;
}

static double now_s(void);

/* Undo log entries: what < n: a buffer's minoff; < n + slots: a slot's
 * floor; < n + 2 slots: a slot's ufloor; else the placement of buffer
 * what - n - 2 slots. */
static void bnb_unwind(struct bnb *g, size_t mark)
{
    while (g->undo_n > mark) {
        size_t w = g->undo[--g->undo_n].what;
        if (w < g->n) {
            g->minoff[w] = g->undo[g->undo_n].old;
        } else if (w < g->n + g->slots) {
            g->floor[w - g->n] = g->undo[g->undo_n].old;
        } else if (w < g->n + 2 * g->slots) {
            g->ufloor[w - g->n - g->slots] = g->undo[g->undo_n].old;
            g->ucnt[w - g->n - g->slots] = g->undo[g->undo_n].cnt;
        } else {
            size_t x = w - g->n - 2 * g->slots;
            for (size_t t = g->lo[x]; t < g->hi[x]; t++) {
                /* x sits just past the unplaced ones; swap it back */
                uint32_t *l = g->slot_buf + g->slot_start[t];
                uint32_t p = g->pos[g->buf_start[x] + t - g->lo[x]], e = g->slot_cnt[t]++;
                uint32_t y = l[p];
                l[p] = (uint32_t)x;
                l[e] = y;
                g->pos[g->buf_start[y] + t - g->lo[y]] = e;
                g->total[t] += g->b[x].bytes;
            }
            g->off[x] = NONE64;
        }
    }
}

static void bnb_log(struct bnb *g, size_t what, uint64_t old)
{
    g->undo[g->undo_n].what = (uint32_t)what;
    g->undo[g->undo_n++].old = old;
}

/* Make room for need more undo entries. Returns false when out of memory
 * (the search then stops as if out of time). */
static bool bnb_reserve(struct bnb *g, size_t need)
{
    size_t cap = g->undo_cap;
    void *p;
    if (g->undo_cap - g->undo_n >= need)
        return true;
    while (cap - g->undo_n < need)
        cap *= 2;
    p = realloc(g->undo, cap * sizeof(*g->undo));
    if (!p)
        return false;
    g->undo = p;
    g->undo_cap = cap;
    return true;
}

/* A buffer's minoff went up from old, or (old = its offset) it was placed,
 * after all the raises of this placement: in its slots lo..hi where old was
 * the lowest, one fewer unplaced buffer has it; where none is left, recount
 * (once a placement: the raises are all in). The count spares most scans. */
static void ufloor_fix(struct bnb *g, size_t lo, size_t hi, uint64_t old)
{
    for (size_t t = lo; t < hi; t++) {
        uint64_t m = NONE64;
        uint32_t c = 0;
        if (g->ufloor[t] != old || g->rstamp[t] == g->gen)
            continue;
        if (g->stamp[t] != g->gen) {
            g->stamp[t] = g->gen;
            g->undo[g->undo_n].what = (uint32_t)(g->n + g->slots + t);
            g->undo[g->undo_n].cnt = g->ucnt[t];
            g->undo[g->undo_n++].old = g->ufloor[t];
        }
        if (--g->ucnt[t] > 0)
            continue;
        g->rstamp[t] = g->gen;
        for (uint32_t k = g->slot_start[t]; k < g->slot_start[t] + g->slot_cnt[t]; k++) {
            uint32_t y = g->slot_buf[k];
            if (g->minoff[y] > m)
                continue;
            c = g->minoff[y] == m ? c + 1 : 1;
            m = g->minoff[y];
        }
        g->ufloor[t] = m;
        g->ucnt[t] = c;
    }
}

/* Slots s_lo..s_hi: what is still to come sits above the floor, the
 * current offset, and the lowest offset any unplaced buffer live there can
 * take (ufloor); with the sizes still to come, it must stay within cap. */
static bool bnb_check(struct bnb *g, size_t s_lo, size_t s_hi, uint64_t offset)
{
    for (size_t t = s_lo; t < s_hi; t++) {
        uint64_t f = g->floor[t] > offset ? g->floor[t] : offset;
        if (!g->total[t])
            continue;
        if (g->ufloor[t] > f)
            f = g->ufloor[t];
        if (f + g->total[t] > g->cap)
            return false;
    }
    return true;
}

static int bnb_groups(struct bnb *g, const uint32_t *list, size_t m, uint64_t cur_off,
                      uint32_t cur_pre);

/* Solve the unplaced buffers comp[0..m) (sorted by first slot, none of
 * them overlapping a buffer outside comp that is unplaced). 1: solved (the
 * placements stay), 0: impossible, -1: out of nodes or time (both with the
 * state as on entry). When the rest falls apart into groups that share no
 * time, each is solved alone (MiniMalloc's dynamic decomposition): failing
 * in one group never re-explores another. */
static int bnb_search(struct bnb *g, const uint32_t *comp, size_t m, uint64_t cur_off,
                      uint32_t cur_pre)
{
    size_t pool_mark = g->pool_used, u = 0, k, i;
    struct bnb_cand *c;
    uint32_t *rest;
    uint64_t min_height = NONE64, span = 0;
    size_t s_lo = SIZE_MAX, s_hi = 0;
    int rc = 0;

    if (m == 0)
        return 1;
    if (g->nodes_left == 0 || g->work_left == 0)
        return -1;
    g->nodes_left--;
    if ((++g->nodes & 255) == 0 && now_s() > g->deadline) {
        g->timed_out = true;
        return -1;
    }
    c = g->pool + g->pool_used;
    g->pool_used += m;
    rest = g->rest_pool + g->rest_used;
    g->rest_used += m;
    for (i = 0; i < m; i++) {
        uint32_t y = comp[i];
        c[u++] = (struct bnb_cand){g->minoff[y], g->pre[y], y};
        span += g->hi[y] - g->lo[y];
        if (g->minoff[y] + g->b[y].bytes < min_height)
            min_height = g->minoff[y] + g->b[y].bytes;
        if (g->lo[y] < s_lo)
            s_lo = g->lo[y];
        if (g->hi[y] > s_hi)
            s_hi = g->hi[y];
    }
    qsort(c, u, sizeof(*c), cand_cmp);
    for (k = 0; k < u && rc == 0; k++) {
        uint32_t x = c[k].idx;
        uint64_t o = c[k].off, top = o + g->b[x].bytes;
        size_t mark = g->undo_n, raised_end, t, nr = 0;
        uint64_t w = span - (g->hi[x] - g->lo[x]);
        bool hat = false;
        if (o < cur_off || (o == cur_off && c[k].pre < cur_pre))
            continue; /* not canonical: the same plan comes in order elsewhere */
        if (o >= min_height)
            break;    /* dominated, and so is every later candidate */
        if (top > g->cap)
            continue;
        if (!bnb_reserve(g, g->adj_start[x + 1] - g->adj_start[x] + (g->hi[x] - g->lo[x]) +
                                (s_hi - s_lo) + 1)) {
            g->timed_out = true;
            rc = -1;
            break;
        }
        g->off[x] = o;
        bnb_log(g, g->n + 2 * g->slots + x, 0);
        for (uint32_t a = g->adj_start[x]; a < g->adj_start[x + 1]; a++) {
            uint32_t y = g->adj[a];
            uint64_t mo = align_up(top, align_of(&g->b[y]));
            if (g->off[y] != NONE64)
                continue;
            hat = true;
            if (g->minoff[y] < mo) {
                bnb_log(g, y, g->minoff[y]);
                g->minoff[y] = mo;
            }
        }
        raised_end = g->undo_n;
        for (t = g->lo[x]; t < g->hi[x]; t++) {
            /* out of the unplaced part of the slot's list: swap with its
             * last; x's pos keeps where it was, for the undo */
            uint32_t *l = g->slot_buf + g->slot_start[t];
            uint32_t p = g->pos[g->buf_start[x] + t - g->lo[x]], e = --g->slot_cnt[t];
            uint32_t y = l[e];
            l[e] = x;
            l[p] = y;
            g->pos[g->buf_start[y] + t - g->lo[y]] = p;
            bnb_log(g, g->n + t, g->floor[t]);
            g->floor[t] = top;
            g->total[t] -= g->b[x].bytes;
        }
        if (++g->gen == 0) {
            memset(g->stamp, 0, g->slots * sizeof(*g->stamp));
            memset(g->rstamp, 0, g->slots * sizeof(*g->rstamp));
            g->gen = 1;
        }
        ufloor_fix(g, g->lo[x], g->hi[x], o);
        for (i = mark + 1; i < raised_end; i++) {
            uint32_t y = g->undo[i].what;
            ufloor_fix(g, g->lo[y], g->hi[y], g->undo[i].old);
        }
        /* the work the fast mode is allowed is counted as before: the
         * slots of the unplaced buffers */
        g->work_left -= g->work_left > w ? w : g->work_left;
        if (bnb_check(g, s_lo, s_hi, o)) {
            for (i = 0; i < m; i++)
                if (comp[i] != x)
                    rest[nr++] = comp[i];
            rc = bnb_groups(g, rest, nr, o, c[k].pre);
        }
        if (rc == 1)
            break; /* keep the plan */
        bnb_unwind(g, mark);
        if (rc == 0 && !hat)
            break; /* nothing unplaced overlaps x: failing here fails all */
        if (rc < 0)
            break;
        rc = 0;
    }
    g->pool_used = pool_mark;
    g->rest_used -= m;
    return rc;
}

/* Solve list[0..m), a group that shares no time with the other unplaced
 * buffers, from a canonical start of its own. With dyn (the time-limited
 * rounds, as MiniMalloc's sub-partitions), its buffers are first re-ranked
 * by the preorder on what is left: T is the largest load of unplaced
 * buffers over the buffer's slots; the caller's ranks are restored after. */
static int bnb_group(struct bnb *g, const uint32_t *list, size_t m)
{
    uint32_t *save;
    size_t i, t;
    int rc;
    if (!g->dyn)
        return bnb_search(g, list, m, 0, 0);
    save = g->pre_pool + g->pre_used;
    g->pre_used += m;
    for (i = 0; i < m; i++) {
        uint32_t y = list[i];
        const struct plan_buffer *by = &g->b[y];
        uint64_t load = 0;
        double w = (double)(by->upper - by->lower), a = (double)by->bytes * w, lt;
        for (t = g->lo[y]; t < g->hi[y]; t++)
            if (g->total[t] > load)
                load = g->total[t];
        lt = (double)load;
        save[i] = g->pre[y];
        if (g->heur == 0)
            g->kk[i] = (struct order_key){lt, w, a, y};
        else if (g->heur == 1)
            g->kk[i] = (struct order_key){lt, a, w, y};
        else
            g->kk[i] = (struct order_key){w, a, lt, y};
    }
    qsort(g->kk, m, sizeof(*g->kk), key_cmp);
    for (i = 0; i < m; i++)
        g->pre[g->kk[i].idx] = (uint32_t)i;
    rc = bnb_search(g, list, m, 0, 0);
    for (i = 0; i < m; i++)
        g->pre[list[i]] = save[i];
    g->pre_used -= m;
    return rc;
}

/* Split list[0..m) (sorted by first slot) into groups that share no time
 * (a cut wherever no earlier buffer reaches the next) and solve each. A
 * group alone starts its own canonical order (as MiniMalloc's
 * sub-partitions do): only one group keeps the caller's. */
static int bnb_groups(struct bnb *g, const uint32_t *list, size_t m, uint64_t cur_off,
                      uint32_t cur_pre)
{
    size_t start = 0, i;
    uint32_t reach = 0;
    bool split = false;
    int rc = 1;
    for (i = 0; i < m && rc == 1; i++) {
        if (i > start && g->lo[list[i]] >= reach) {
            split = true;
            rc = bnb_group(g, list + start, i - start);
            start = i;
            reach = 0;
        }
        if (g->hi[list[i]] > reach)
            reach = g->hi[list[i]];
    }
    if (rc == 1 && start < m)
        rc = split ? bnb_group(g, list + start, m - start)
                   : bnb_search(g, list, m, cur_off, cur_pre);
    return rc;
}

static void bnb_free(struct bnb *g)
{
    free(g->adj_start);
    free(g->adj);
    free(g->pre);
    free(g->minoff);
    free(g->off);
    free(g->floor);
    free(g->total);
    free(g->ufloor);
    free(g->ucnt);
    free(g->slot_cnt);
    free(g->buf_start);
    free(g->pos);
    free(g->rstamp);
    free(g->slot_start);
    free(g->slot_buf);
    free(g->stamp);
    free(g->pool);
    free(g->rest_pool);
    free(g->by_lo);
    free(g->pre_pool);
    free(g->kk);
    free(g->undo);
}

/* Set up for b[0..n) with the slots of s and preorder given by order. */
static int bnb_init(struct bnb *g, const struct plan_buffer *b, size_t n, const struct sky *s,
                    const uint32_t *order, uint64_t pairs)
{
    size_t i, j, e = 0;

    memset(g, 0, sizeof(*g));
    g->b = b;
    g->n = n;
    g->lo = s->lo;
    g->hi = s->hi;
    for (i = 0; i < n; i++)
        if (s->hi[i] > g->slots)
            g->slots = s->hi[i];
    g->adj_start = calloc(n + 1, sizeof(*g->adj_start));
    g->adj = malloc(2 * pairs * sizeof(*g->adj) + 1);
    g->pre = malloc(n * sizeof(*g->pre));
    g->minoff = calloc(n, sizeof(*g->minoff));
    g->off = malloc(n * sizeof(*g->off));
    g->floor = calloc(g->slots + 1, sizeof(*g->floor));
    g->total = calloc(g->slots + 1, sizeof(*g->total));
    g->ufloor = malloc((g->slots + 1) * sizeof(*g->ufloor));
    g->slot_start = calloc(g->slots + 2, sizeof(*g->slot_start));
    g->stamp = calloc(g->slots + 1, sizeof(*g->stamp));
    g->rstamp = calloc(g->slots + 1, sizeof(*g->rstamp));
    g->ucnt = calloc(g->slots + 1, sizeof(*g->ucnt));
    g->slot_cnt = calloc(g->slots + 1, sizeof(*g->slot_cnt));
    g->buf_start = calloc(n + 1, sizeof(*g->buf_start));
    g->pool = malloc((n * (n + 1) / 2 + 1) * sizeof(*g->pool));
    g->rest_pool = malloc((n * (n + 1) / 2 + 1) * sizeof(*g->rest_pool));
    g->by_lo = malloc(n * sizeof(*g->by_lo) + 1);
    g->pre_pool = malloc((n * (n + 1) / 2 + 1) * sizeof(*g->pre_pool));
    g->kk = malloc(n * sizeof(*g->kk) + 1);
    /* along one path: each overlap, each slot of each buffer, each
     * placement once; the ufloor entries grow it on demand
     * (bnb_reserve). The same count sizes the slot lists. */
    g->undo_cap = 2 * pairs + n + 1;
    for (i = 0; i < n; i++)
        g->undo_cap += s->hi[i] - s->lo[i];
    g->undo = malloc(g->undo_cap * sizeof(*g->undo));
    g->slot_buf = malloc(g->undo_cap * sizeof(*g->slot_buf));
    g->pos = malloc(g->undo_cap * sizeof(*g->pos));
    if (!g->adj_start || !g->adj || !g->pre || !g->minoff || !g->off || !g->floor ||
        !g->total || !g->ufloor || !g->slot_start || !g->slot_buf || !g->stamp ||
        !g->rstamp || !g->ucnt || !g->slot_cnt || !g->buf_start || !g->pos || !g->pool ||
        !g->pre_pool || !g->kk || !g->rest_pool || !g->by_lo || !g->undo) {
        bnb_free(g);
        return -ENOMEM;
    }
    /* n is small here: the quadratic overlap scan is fine */
    for (i = 0; i < n; i++) {
        g->adj_start[i] = (uint32_t)e;
        for (j = 0; j < n; j++)
            if (j != i && b[i].lower < b[j].upper && b[j].lower < b[i].upper)
                g->adj[e++] = (uint32_t)j;
    }
    g->adj_start[n] = (uint32_t)e;
    for (i = 0; i < n; i++) {
        g->pre[order[i]] = (uint32_t)i;
        g->off[i] = NONE64;
        for (j = s->lo[i]; j < s->hi[i]; j++) {
            g->total[j] += b[i].bytes;
            g->slot_start[j + 1]++;
        }
    }
    for (j = 0; j < g->slots; j++)
        g->slot_start[j + 1] += g->slot_start[j];
    /* the stamps serve as fill cursors here, then start at 0 */
    for (i = 0; i < n; i++) {
        g->buf_start[i + 1] = g->buf_start[i] + (s->hi[i] - s->lo[i]);
        for (j = s->lo[i]; j < s->hi[i]; j++)
            g->slot_buf[g->slot_start[j] + g->stamp[j]++] = (uint32_t)i;
    }
    memset(g->stamp, 0, (g->slots + 1) * sizeof(*g->stamp));
    /* by first slot: a counting sort */
    {
        size_t *at = calloc(g->slots + 2, sizeof(*at));
        if (!at) {
            bnb_free(g);
            return -ENOMEM;
        }
        for (i = 0; i < n; i++)
            at[s->lo[i] + 1]++;
        for (j = 1; j <= g->slots + 1; j++)
            at[j] += at[j - 1];
        for (i = 0; i < n; i++)
            g->by_lo[at[s->lo[i]]++] = (uint32_t)i;
        free(at);
    }
    return 0;
}

/* Look for a plan with peak <= cap within node_limit nodes. Returns 1 and
 * fills off[] with it, 0 if none exists (the search finished), -1 if it
 * ran out of nodes or time. The state is back to empty afterwards. */
static int bnb_try(struct bnb *g, uint64_t cap, uint64_t node_limit, uint64_t *off)
{
    int rc;
    size_t i, t;
    g->cap = cap;
    g->nodes_left = node_limit;
    g->pool_used = 0;
    g->rest_used = 0;
    g->pre_used = 0;
    g->undo_n = 0;
    for (t = 0; t < g->slots; t++) {
        /* all unplaced: the lists whole again, pos as they now stand */
        g->slot_cnt[t] = g->slot_start[t + 1] - g->slot_start[t];
        for (i = g->slot_start[t]; i < g->slot_start[t + 1]; i++) {
            uint32_t y = g->slot_buf[i];
            g->pos[g->buf_start[y] + t - g->lo[y]] = (uint32_t)(i - g->slot_start[t]);
        }
        g->ucnt[t] = g->slot_cnt[t];
        g->ufloor[t] = g->ucnt[t] ? 0 : NONE64;
    }
    rc = bnb_groups(g, g->by_lo, g->n, 0, 0);
    if (rc == 1)
        for (i = 0; i < g->n; i++)
            off[i] = g->off[i];
    /* reset (a found plan returns without unwinding) */
    for (i = 0; i < g->n; i++) {
        g->off[i] = NONE64;
        g->minoff[i] = 0;
    }
    for (t = 0; t < g->slots; t++) {
        g->floor[t] = 0;
        g->total[t] = 0;
    }
    for (i = 0; i < g->n; i++)
        for (t = g->lo[i]; t < g->hi[i]; t++)
            g->total[t] += g->b[i].bytes;
    return rc;
}

/* Largest live load over each buffer's lifetime (out[]): the load profile
 * at every start, then a range-max segment tree over the starts in time
 * order. Also the lower bound and the number of overlapping pairs. */
static int profile(const struct plan_buffer *b, size_t n, const struct sky *s, uint64_t *out,
                   uint64_t *lb, uint64_t *pairs)
{
    uint64_t *tree, *cnt;
    size_t slots = 0, k, sz;

    for (k = 0; k < n; k++)
        if (s->hi[k] > slots)
            slots = s->hi[k];
    for (sz = 1; sz < slots + 1; sz *= 2)
        ;
    tree = calloc(2 * sz, sizeof(*tree));
    cnt = calloc(2 * (sz + 1), sizeof(*cnt)); /* starts, then ends, a slot */
    if (!tree || !cnt) {
        free(tree);
        free(cnt);
        return -ENOMEM;
    }
    /* Load of every slot by differences (wrapping sums come out right);
     * the pairs: a buffer overlaps those live when it starts and those
     * starting in the same slot. */
    for (k = 0; k < n; k++) {
        tree[sz + s->lo[k]] += b[k].bytes;
        tree[sz + s->hi[k]] -= b[k].bytes;
        cnt[2 * s->lo[k]]++;
        cnt[2 * s->hi[k] + 1]++;
    }
    *lb = 0;
    *pairs = 0;
    {
        uint64_t load = 0, live = 0;
        for (k = 0; k < slots; k++) {
            uint64_t starting = cnt[2 * k];
            live -= cnt[2 * k + 1];
            *pairs += live * starting + starting * (starting - 1) / 2;
            live += starting;
            load += tree[sz + k];
            tree[sz + k] = load;
            if (load > *lb)
                *lb = load;
        }
    }
    free(cnt);
    for (k = slots; k < sz; k++)
        tree[sz + k] = 0;
    for (k = sz; k-- > 1;)
        tree[k] = tree[2 * k] > tree[2 * k + 1] ? tree[2 * k] : tree[2 * k + 1];
    for (k = 0; k < n; k++) {
        size_t lo = s->lo[k] + sz, hi = s->hi[k] + sz;
        uint64_t best = 0;
        while (lo < hi) {
            if (lo & 1) {
                if (tree[lo] > best)
                    best = tree[lo];
                lo++;
            }
            if (hi & 1) {
                hi--;
                if (tree[hi] > best)
                    best = tree[hi];
            }
            lo /= 2;
            hi /= 2;
        }
        out[k] = best;
    }
    free(tree);
    return 0;
}

/* Preorders for the search (MiniMalloc's names): W = time slots spanned,
 * A = area (size x lifetime), T = the largest load over the lifetime. */
#define N_PREORDERS 3

static void preorder(const struct plan_buffer *b, size_t n, const struct sky *s,
                     const uint64_t *load, size_t which, bool by_time, struct order_key *kk,
                     uint32_t *order)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double w = by_time ? (double)(b[i].upper - b[i].lower) : (double)(s->hi[i] - s->lo[i]);
        double t = (double)load[i];
        double a = (double)b[i].bytes * (double)(b[i].upper - b[i].lower);
        if (which == 0)
            kk[i] = (struct order_key){t, w, a, (uint32_t)i};      /* TWA */
        else if (which == 1)
            kk[i] = (struct order_key){t, a, w, (uint32_t)i};      /* TAW */
        else
            kk[i] = (struct order_key){w, a, t, (uint32_t)i};      /* WAT */
    }
    qsort(kk, n, sizeof(*kk), key_cmp);
    for (i = 0; i < n; i++)
        order[i] = kk[i].idx;
}

/* ---- portfolio ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Work budget of the fast mode, in engine units (a neighbour visited, a
 * tree node visited or a buffer placed: a few ns each). */
#define FAST_BUDGET 2000000u
#define GAP_CAP 16000000u

struct search {
    const struct plan_buffer *b;
    struct plan_buffer *out; /* the best plan so far goes into out[].off */
    size_t n;
    uint64_t lb, best;
    uint64_t *off;           /* scratch offsets */
};

static void keep_if_better(struct search *sr, const uint64_t *off, uint64_t peak)
{
    size_t i;
    if (peak >= sr->best)
        return;
    sr->best = peak;
    for (i = 0; i < sr->n; i++)
        sr->out[i].off = off[i];
}

/* Phases 1, 2, the first round of 3 and 4 on the work budget are the fast
 * mode and run the same with or without a time limit, so a limited run is
 * never worse than the fast one (when they take longer than the limit, as
 * on the largest traces, the call takes that long). The limit bounds what
 * comes after: more rounds of 3, then 4 again. */
static int plan_portfolio(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
                          uint64_t *peak)
{
    static const struct {
        enum order_kind order;
        enum rule rule;
    } gap_runs[] = {
        {ORDER_SIZE_IDX, RULE_BEST_FIT}, {ORDER_SIZE, RULE_BEST_FIT},
        {ORDER_SIZE_LOW, RULE_BEST_FIT},
        {ORDER_LOAD, RULE_FIRST_FIT}, {ORDER_SIZE, RULE_FIRST_FIT},
        {ORDER_LIFE, RULE_BEST_FIT}, {ORDER_AREA, RULE_BEST_FIT},
    };
    static const enum order_kind lf_ties[] = {ORDER_LIFE, ORDER_SIZE, ORDER_AREA, ORDER_LOAD};
    struct engine e;
    struct sky s;
    struct search sr = {b, b, n, 0, UINT64_MAX, NULL};
    struct order_key *keys = NULL;
    uint32_t *order = NULL, *cur = NULL, *trial = NULL, *crit = NULL;
    uint64_t *load = NULL, *cur_off = NULL, cur_peak = UINT64_MAX, pk, pairs, rng;
    uint64_t proven;         /* no plan has a lower peak */
    uint64_t nodes = FAST_BNB_NODES, lo_cap = 0, above = 2;
    struct bnb g;
    bool have_g = false, first = true;
    int stage;
    double limit = opts && opts->time_limit_s > 0 ? opts->time_limit_s : 0;
    double deadline = limit > 0 ? now_s() + limit : 0;
    size_t r, i;
    int rc;

#define SPENT() (e.work + s.work)

    rc = engine_init(&e, b, n);
    if (rc < 0)
        return rc;
    rc = sky_init(&s, b, n);
    if (rc < 0) {
        engine_free(&e);
        return rc;
    }
    rc = -ENOMEM;
    keys = malloc(n * sizeof(*keys) + 1);
    order = malloc(n * sizeof(*order) + 1);
    cur = malloc(n * sizeof(*cur) + 1);
    trial = malloc(n * sizeof(*trial) + 1);
    crit = malloc(n * sizeof(*crit) + 1);
    load = malloc(n * sizeof(*load) + 1);
    cur_off = malloc(n * sizeof(*cur_off) + 1);
    sr.off = malloc(n * sizeof(*sr.off) + 1);
    if (!keys || !order || !cur || !trial || !crit || !load || !cur_off || !sr.off)
        goto out;
    rc = profile(b, n, &s, load, &sr.lb, &pairs);
    if (rc < 0)
        goto out;
    proven = sr.lb;
    lo_cap = sr.lb;

    /* 1. Lowest first on the skyline by valleys, with several tie rules;
     * then (small problems) by lazily re-keyed buffers. The best order
     * seeds the search. */
    for (r = 0; r < 2 * sizeof(lf_ties) / sizeof(lf_ties[0]); r++) {
        size_t q = r % (sizeof(lf_ties) / sizeof(lf_ties[0]));
        if (r > 0 && (sr.best == sr.lb || SPENT() > FAST_BUDGET))
            break;
        make_keys(b, n, lf_ties[q], load, keys);
        if (r == q)
            rc = sky_valleys(&s, b, n, keys, order, sr.off, &pk, &s.work);
        else
            rc = sky_lowest_first(&s, b, n, keys, order, sr.off, &pk,
                                  SPENT() + FAST_BUDGET / 4);
        if (rc < 0)
            goto out;
        if (rc == 1)
            continue;
        if (pk < cur_peak) {
            cur_peak = pk;
            memcpy(cur, order, n * sizeof(*cur));
        }
        keep_if_better(&sr, sr.off, pk);
    }
    if (sky_pass(&s, b, n, cur, UINT64_MAX, cur_off, &cur_peak) == 0)
        keep_if_better(&sr, cur_off, cur_peak);

    /* 2. Greedy gap filling (TFLite-style) with several orderings, each
     * when a pass fits in what is left of the budget. */
    for (r = 0; r < sizeof(gap_runs) / sizeof(gap_runs[0]); r++) {
        if (sr.best == sr.lb)
            break;
        /* The first two always run below GAP_CAP overlapping pairs: on
         * real traces with thousands of long-lived buffers they are what
         * gets within 1% of the bound, at some 10-30 ns a pair. */
        if (SPENT() + pairs + n > FAST_BUDGET && (r >= 2 || pairs > GAP_CAP))
            break;
        rc = make_order(b, n, gap_runs[r].order, load, order);
        if (rc < 0)
            goto out;
        rc = engine_pass(&e, order, gap_runs[r].rule, sr.best - 1, &pk);
        if (rc < 0)
            goto out;
        if (rc == 0)
            keep_if_better(&sr, e.off, pk);
    }

    /* 3. On small problems: branch and bound, MiniMalloc style (fast mode:
     * one round with a small node limit, at the lower bound only): round
     * robin over three preorders (which one works varies from problem to
     * problem), node limits doubling each round; each try aims at the
     * lowest cap not yet proven impossible, then between it and the best
     * plan so far: halfway, and after each try there that runs out of
     * nodes half as far from the best (back to halfway each round). A cap
     * proven impossible raises the lowest. Only the rounds after the first
     * (time limit) use W by time and re-rank groups (g.dyn), so the fast
     * mode searches the same tree as it always did. */
    if (n <= BNB_MAX_N && pairs <= BNB_MAX_PAIRS && sr.best > sr.lb) {
        rc = bnb_init(&g, b, n, &s, cur, pairs);
        if (rc < 0)
            goto out;
        have_g = true;
        g.deadline = HUGE_VAL;
        g.work_left = FAST_BNB_WORK;
    }
    rng = 0x9e3779b97f4a7c15ULL;
    /* Stage 0 is the fast mode: the first round of 3, node- and
     * work-limited, then 4 on the work budget; it runs the same with a
     * time limit, so a limited run starts from the fast plan. Stage 1, with
     * a limit only: 3 in further rounds, then 4, until the deadline. */
    for (stage = 0; stage < (limit > 0 ? 2 : 1); stage++) {
        if (have_g && stage == 1) {
            g.deadline = deadline;
            g.work_left = UINT64_MAX;
        }
        while (have_g && sr.best > lo_cap && !g.timed_out && (first || stage == 1)) {
            above = 2;
            for (size_t h = 0; h < N_PREORDERS && sr.best > lo_cap && !g.timed_out; h++) {
                preorder(b, n, &s, load, h, !first, keys, order);
                g.heur = h;
                g.dyn = !first;
                for (i = 0; i < n; i++)
                    g.pre[order[i]] = (uint32_t)i;
                for (int q = 0; q < 2 && sr.best > lo_cap && !g.timed_out; q++) {
                    uint64_t cap =
                        q == 0 ? lo_cap : sr.best - 1 - (sr.best - 1 - lo_cap) / above;
                    int f;
                    if (q == 1 && (cap == lo_cap || first))
                        break;
                    f = bnb_try(&g, cap, nodes, sr.off);
                    if (q == 1 && f < 0 && above < ((uint64_t)1 << 40))
                        above *= 2;
                    if (f == 1) {
                        for (i = 0, pk = 0; i < n; i++)
                            if (sr.off[i] + b[i].bytes > pk)
                                pk = sr.off[i] + b[i].bytes;
                        keep_if_better(&sr, sr.off, pk);
                    } else if (f == 0) {
                        lo_cap = cap + 1; /* proven: no plan at or below cap */
                    }
                }
            }
            nodes = first ? 2 * (uint64_t)n : 2 * nodes;
            first = false;
            g.work_left = UINT64_MAX;
        }
        if (have_g)
            proven = lo_cap;

        /* 4. Iterated greedy on the skyline order: take a buffer that ends
         * at the peak, move it to a random earlier place (or swap two at
         * random), replay; keep the order if the peak did not grow
         * (plateaus let it drift), remember the best. Deterministic: a
         * fixed seed. */
        while (sr.best > proven && n > 1 &&
               (stage == 0 ? SPENT() <= FAST_BUDGET : now_s() <= deadline)) {
            size_t n_crit = 0, pos, to, c;
            uint32_t x;
            for (i = 0; i < n; i++)
                if (cur_off[cur[i]] + b[cur[i]].bytes == cur_peak)
                    crit[n_crit++] = (uint32_t)i; /* a position in cur */
            memcpy(trial, cur, n * sizeof(*trial));
            pos = n_crit ? crit[rnd(&rng) % n_crit] : (size_t)(rnd(&rng) % n);
            if (pos == 0 || rnd(&rng) % 8 == 0) {
                size_t p1 = (size_t)(rnd(&rng) % n), p2 = (size_t)(rnd(&rng) % n);
                x = trial[p1];
                trial[p1] = trial[p2];
                trial[p2] = x;
            } else {
                to = (size_t)(rnd(&rng) % pos);
                x = trial[pos];
                for (c = pos; c > to; c--)
                    trial[c] = trial[c - 1];
                trial[to] = x;
            }
            if (sky_pass(&s, b, n, trial, cur_peak, sr.off, &pk) != 0)
                continue;
            memcpy(cur, trial, n * sizeof(*cur));
            memcpy(cur_off, sr.off, n * sizeof(*cur_off));
            cur_peak = pk;
            keep_if_better(&sr, sr.off, pk);
        }
    }
#undef SPENT
    *peak = sr.best;
    rc = 0;
out:
    if (have_g)
        bnb_free(&g);
    free(sr.off);
    free(cur_off);
    free(load);
    free(crit);
    free(trial);
    free(cur);
    free(order);
    free(keys);
    sky_free(&s);
    engine_free(&e);
    return rc;
}

/* ---- the interface ------------------------------------------------------ */

static const struct {
    const char *name, *describe;
} policies[] = {
    {"portfolio", "best of skyline lowest-first and greedy gap filling orderings, then "
                  "search (a small work budget; with a time limit, branch and bound)"},
    {"linear-scan", "the seed OrionRT: buffers by start time, first fit among expired "
                    "regions, else extend the top"},
    {"greedy-size", "TensorFlow Lite's greedy by size: largest first, smallest gap that "
                    "fits among overlapping placed buffers"},
};

#define N_POLICIES (sizeof(policies) / sizeof(policies[0]))

const char *planner_default_policy(void)
{
    return policies[0].name;
}

size_t planner_policy_count(void)
{
    return N_POLICIES;
}

const char *planner_policy_name(size_t i)
{
    return i < N_POLICIES ? policies[i].name : NULL;
}

const char *planner_policy_describe(size_t i)
{
    return i < N_POLICIES ? policies[i].describe : NULL;
}

int planner_run(const char *policy, struct plan_buffer *b, size_t n,
                const struct planner_opts *opts, uint64_t *peak, char *err, size_t err_len)
{
    size_t p;
    int rc;

    if (!policy)
        policy = planner_default_policy();
    for (p = 0; p < N_POLICIES; p++)
        if (strcmp(policy, policies[p].name) == 0)
            break;
    if (p == N_POLICIES) {
        errmsg_set(err, err_len, "unknown planner policy '%s'", policy);
        return -EINVAL;
    }
    if (opts && !(opts->time_limit_s >= 0)) {
        errmsg_set(err, err_len, "time limit must be >= 0 seconds");
        return -EINVAL;
    }
    if (n > 0 && !b) {
        errmsg_set(err, err_len, "no buffers given");
        return -EINVAL;
    }
    rc = validate(b, n, err, err_len);
    if (rc < 0)
        return rc;
    *peak = 0;
    if (n == 0)
        return 0;
    if (p == 0)
        rc = plan_portfolio(b, n, opts, peak);
    else if (p == 1)
        rc = plan_linear_scan(b, n, peak);
    else
        rc = plan_greedy_size(b, n, peak);
    if (rc == -ENOMEM)
        errmsg_set(err, err_len, "out of memory planning %zu buffers", n);
    return rc;
}
