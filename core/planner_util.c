/* planner_util.c - what the planner files share: events, sort keys, overlapping pairs, clock.
 *
 * Called by the policies, the engines, verify and the interface; calls none
 * of them (libc only), so no planner file calls back into one that calls it.
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- events: the time sweep of the bound, verify and the engines ------ */

void planner_sort_events_with(struct event *ev, struct event *tmp, size_t m)
{
    struct event *src = ev, *dst = tmp;
    uint64_t all_or = 0, all_and = UINT64_MAX;
    size_t i, cnt[256];
    unsigned shift;

    if (m < 2)
        return;
    if (m <= 48) {
        /* Insertion, stable as the radix passes are: a pass's 256 counters
         * cost more than sorting this few (a small graph's every plan
         * sorts its events several times). */
        for (i = 1; i < m; i++) {
            struct event e = ev[i];
            size_t j = i;
            for (; j > 0 && ev[j - 1].t > e.t; j--)
                ev[j] = ev[j - 1];
            ev[j] = e;
        }
        return;
    }
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
}

int planner_sort_events(struct event *ev, size_t m)
{
    struct event *tmp;

    if (m < 2)
        return 0;
    tmp = malloc(m * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    planner_sort_events_with(ev, tmp, m);
    free(tmp);
    return 0;
}

/* planner_make_events's order by counting: an event's key is 2 t, plus 1
 * for a start, and buffers are taken in index order, so each key's events
 * are by index. For times up to tmax < n + 64 (a graph's op indices): 8
 * bytes a time beside the events, and no sort. */
static struct event *make_events_counting(const struct plan_buffer *b, size_t n, uint64_t tmax)
{
    size_t keys = 2 * (size_t)tmax + 2, i, sum = 0;
    struct event *ev = malloc(2 * n * sizeof(*ev) + 1);
    uint32_t *at = calloc(keys, sizeof(*at));
    if (!ev || !at) {
        free(at);
        free(ev);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        at[2 * b[i].upper]++;
        at[2 * b[i].lower + 1]++;
    }
    for (i = 0; i < keys; i++) {
        uint32_t c = at[i];
        at[i] = (uint32_t)sum;
        sum += c;
    }
    for (i = 0; i < n; i++) {
        ev[at[2 * b[i].upper]++] = (struct event){b[i].upper, 0, (uint32_t)i};
        ev[at[2 * b[i].lower + 1]++] = (struct event){b[i].lower, 1, (uint32_t)i};
    }
    free(at);
    return ev;
}

/* Starts and ends of all buffers in time order; at equal times ends come
 * before starts (half-open lifetimes), then by index. The ends are sorted
 * in the upper half of ev with the lower half as scratch, the starts in an
 * array of their own with the same scratch, and the two merged from the
 * front (the merge never writes past the ends it has not read): 48 bytes
 * a buffer at most, where sorting the 2n events at once took 64. Times
 * below n + 64 (a graph's, a chain's) are counted instead. */
struct event *planner_make_events(const struct plan_buffer *b, size_t n)
{
    struct event *ev, *st;
    size_t i, j, w;
    uint64_t tmax = 0;
    if (n > SIZE_MAX / 2 / sizeof(*ev))
        return NULL;
    for (i = 0; i < n; i++) {
        uint64_t t = b[i].upper > b[i].lower ? b[i].upper : b[i].lower;
        tmax = t > tmax ? t : tmax;
    }
    if (tmax < (uint64_t)n + 64 && n < UINT32_MAX / 2)
        return make_events_counting(b, n, tmax);
    ev = malloc(2 * n * sizeof(*ev) + 1);
    st = malloc(n * sizeof(*st) + 1);
    if (!ev || !st) {
        free(st);
        free(ev);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        ev[n + i] = (struct event){b[i].upper, 0, (uint32_t)i};
        st[i] = (struct event){b[i].lower, 1, (uint32_t)i};
    }
    planner_sort_events_with(ev + n, ev, n);
    planner_sort_events_with(st, ev, n);
    for (i = n, j = 0, w = 0; j < n; w++) {
        if (i < 2 * n && ev[i].t <= st[j].t)
            ev[w] = ev[i++];
        else
            ev[w] = st[j++];
    }
    free(st);
    return ev;
}

/* ---- shared helpers ---------------------------------------------------- */

/* Descending k1, k2, k3; then ascending index. */
int planner_key_cmp(const void *pa, const void *pb)
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

/* Strictly before in planner_key_cmp's order (inlined: the sort below
 * compares some 20 times a key). */
static inline bool key_before(const struct order_key *a, const struct order_key *b)
{
    if (a->k1 != b->k1)
        return a->k1 > b->k1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2;
    if (a->k3 != b->k3)
        return a->k3 > b->k3;
    return a->idx < b->idx;
}

static void key_swap(struct order_key *a, struct order_key *b)
{
    struct order_key t = *a;
    *a = *b;
    *b = t;
}

static void key_sift(struct order_key *k, size_t n, size_t i)
{
    struct order_key x = k[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && key_before(&k[c], &k[c + 1]))
            c++;
        if (!key_before(&x, &k[c]))
            break;
        k[i] = k[c];
        i = c;
    }
    k[i] = x;
}

/* Introsort: quicksort with the median of three, heapsort past 2 log2 n
 * levels, insertion sort below 16 keys. Keys are distinct (by index), so
 * after the median of three k[0] < pivot < k[n-1]: both scans stop inside
 * the range and each part is shorter than the whole. */
static void sort_keys(struct order_key *k, size_t n, unsigned depth)
{
    while (n > 16) {
        struct order_key p;
        size_t i, j, mid = n / 2;
        if (depth-- == 0) {
            for (i = n / 2; i-- > 0;)
                key_sift(k, n, i);
            for (i = n; i-- > 1;) {
                key_swap(&k[0], &k[i]);
                key_sift(k, i, 0);
            }
            return;
        }
        if (key_before(&k[mid], &k[0]))
            key_swap(&k[mid], &k[0]);
        if (key_before(&k[n - 1], &k[mid])) {
            key_swap(&k[n - 1], &k[mid]);
            if (key_before(&k[mid], &k[0]))
                key_swap(&k[mid], &k[0]);
        }
        p = k[mid];
        for (i = 0, j = n - 1;;) {
            while (key_before(&k[++i], &p))
                ;
            while (key_before(&p, &k[--j]))
                ;
            if (i >= j)
                break;
            key_swap(&k[i], &k[j]);
        }
        /* [0, j] and [j + 1, n): recurse into the shorter, loop on the other */
        if (j + 1 < n - j - 1) {
            sort_keys(k, j + 1, depth);
            k += j + 1;
            n -= j + 1;
        } else {
            sort_keys(k + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct order_key x = k[i];
        size_t j = i;
        for (; j > 0 && key_before(&x, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = x;
    }
}

void planner_sort_keys(struct order_key *k, size_t n)
{
    unsigned depth = 0;
    for (size_t m = n; m > 1; m /= 2)
        depth += 2;
    sort_keys(k, n, depth);
}

/* Buffers overlapping in time, CSR: by first slot, each pair found once
 * from the one that starts first. */
int planner_overlaps(const uint32_t *lo, const uint32_t *hi, size_t n, size_t slots,
                     uint64_t max_pairs, uint32_t **adj_start, uint32_t **adj,
                     uint32_t **rev, uint64_t *work)
{
    size_t i, j, pairs = 0;
    uint32_t *by_lo = malloc(n * sizeof(*by_lo) + 1), *at = NULL, *deg = NULL;
    uint32_t *st = NULL, *a = NULL, *r = NULL;
    int rc = -ENOMEM;

    if (max_pairs > UINT32_MAX / 2) /* the CSR's offsets are 32 bits */
        max_pairs = UINT32_MAX / 2;

    at = calloc(slots + 2, sizeof(*at));
    deg = calloc(n + 1, sizeof(*deg));
    if (!by_lo || !at || !deg)
        goto out;
    for (i = 0; i < n; i++)
        at[lo[i] + 1]++;
    for (j = 1; j <= slots + 1; j++)
        at[j] += at[j - 1];
    for (i = 0; i < n; i++)
        by_lo[at[lo[i]]++] = (uint32_t)i;
    for (i = 0; i < n; i++) {
        uint32_t x = by_lo[i];
        for (j = i + 1; j < n && lo[by_lo[j]] < hi[x]; j++) {
            deg[x]++;
            deg[by_lo[j]]++;
            if (++pairs > max_pairs) {
                rc = 1;
                goto out;
            }
        }
    }
    st = malloc((n + 1) * sizeof(*st));
    a = malloc(2 * pairs * sizeof(*a) + 1);
    if (rev)
        r = malloc(2 * pairs * sizeof(*r) + 1);
    if (!st || !a || (rev && !r))
        goto out;
    st[0] = 0;
    for (i = 0; i < n; i++)
        st[i + 1] = st[i] + deg[i];
    memset(deg, 0, n * sizeof(*deg));
    for (i = 0; i < n; i++) {
        uint32_t x = by_lo[i];
        for (j = i + 1; j < n && lo[by_lo[j]] < hi[x]; j++) {
            uint32_t y = by_lo[j], kx = st[x] + deg[x]++, ky = st[y] + deg[y]++;
            a[kx] = y;
            a[ky] = x;
            if (r) {
                r[kx] = ky;
                r[ky] = kx;
            }
        }
    }
    *work += 2 * pairs + n;
    *adj_start = st;
    *adj = a;
    if (rev)
        *rev = r;
    st = a = r = NULL;
    rc = 0;
out:
    free(r);
    free(a);
    free(st);
    free(deg);
    free(at);
    free(by_lo);
    return rc;
}

double planner_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t planner_horizon(const struct plan_buffer *b, size_t n, uint64_t *lo, uint64_t *hi)
{
    size_t i, whole = 0;
    *lo = UINT64_MAX;
    *hi = 0;
    for (i = 0; i < n; i++) {
        *lo = b[i].lower < *lo ? b[i].lower : *lo;
        *hi = b[i].upper > *hi ? b[i].upper : *hi;
    }
    for (i = 0; i < n; i++)
        whole += b[i].lower == *lo && b[i].upper == *hi;
    return whole;
}
