/* planner_verify.c - check a plan: aligned, in bounds, no two live buffers overlapping.
 *
 * Sweep time; the live buffers, keyed by the rank of their offset among all
 * offsets, sit in a Fenwick tree of counts. If the live set is disjoint, a
 * new buffer can only collide with its neighbours in offset order, so each
 * start checks the nearest live buffer below and above: O(n log n).
 */
#include "planner_internal.h"
#include "errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

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

/* The sweep with the live buffers in an array sorted by offset (disjoint,
 * so a start overlaps one of them iff it overlaps a neighbour), while at
 * most ACTIVE_MAX are live: a model's graph (mobilenet_v2, its weights
 * live throughout) costs a sixth of the general sweep's instructions; past
 * that the moves of the array would cost more than the tree. The buffers
 * live over the whole horizon (a model's weights) are sorted once, checked
 * against each other, and their events skipped; the others are checked
 * against the runs of bytes they cover (adjacent ones merged: a plan that
 * stacks them has one), and kept in a second array, which the sweep moves.
 * The arrays keep the offsets beside the indices, so that the searches
 * read them in a row. Returns 0, the overlap's -EINVAL, -ENOMEM, or 1 when
 * more are live (the caller sweeps the general way). ev:
 * planner_make_events(b, n). */
#define ACTIVE_MAX 4096u

/* The first i of off[0..n) (ascending) with off[i] >= o, by halving
 * without branches. */
static size_t rank_of(const uint64_t *off, size_t n, uint64_t o)
{
    size_t lo = 0;
    while (n > 1) {
        size_t half = n / 2;
        lo = off[lo + half - 1] < o ? lo + half : lo;
        n -= half;
    }
    return lo + (n == 1 && off[lo] < o);
}

/* Sort v[0..k) by b[].off (stably) with tmp[0..k) as scratch: runs of 16
 * by insertion, then bottom-up merges. */
static void sort_by_off(const struct plan_buffer *b, uint32_t *v, uint32_t *tmp, size_t k)
{
    uint32_t *src = v, *dst = tmp, *sw;
    for (size_t i = 0; i < k; i += 16) {
        size_t end = i + 16 < k ? i + 16 : k;
        for (size_t a = i + 1; a < end; a++) {
            uint32_t x = v[a];
            size_t j = a;
            for (; j > i && b[v[j - 1]].off > b[x].off; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    for (size_t w = 16; w < k; w *= 2) {
        for (size_t i = 0; i < k; i += 2 * w) {
            size_t mid = i + w < k ? i + w : k, end = i + 2 * w < k ? i + 2 * w : k;
            size_t a = i, c = mid, o = i;
            while (a < mid && c < end)
                dst[o++] = b[src[c]].off < b[src[a]].off ? src[c++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (c < end)
                dst[o++] = src[c++];
        }
        sw = src;
        src = dst;
        dst = sw;
    }
    if (src != v)
        memcpy(v, src, k * sizeof(*v));
}

/* Of w[0..nw) (sorted by offset, disjoint), the one a buffer at o that
 * overlaps their runs overlaps: the first to end after o (were it to start
 * at or above the buffer's end, so would every later one, and every
 * earlier one ends at or below o). */
static uint32_t whole_hit(const struct plan_buffer *b, const uint32_t *w, size_t nw, uint64_t o)
{
    size_t lo = 0, hi = nw;
    while (lo < hi) { /* the first that ends after o */
        size_t mid = lo + (hi - lo) / 2;
        if (b[w[mid]].off + b[w[mid]].bytes <= o)
            lo = mid + 1;
        else
            hi = mid;
    }
    return w[lo];
}

static int verify_few_live(const struct plan_buffer *b, size_t n, const struct event *ev,
                           char *err, size_t err_len)
{
    size_t cap = n < ACTIVE_MAX ? n : ACTIVE_MAX, nw = 0, nr = 0, na = 0;
    uint64_t lo, hi;
    /* the whole-horizon ones (and the sort's scratch), then the others */
    uint32_t *w = malloc(3 * cap * sizeof(*w) + 1), *act = w + 2 * cap;
    /* the runs' starts and ends, then the others' offsets */
    uint64_t *ro = malloc(3 * cap * sizeof(*ro) + 1), *re = ro + cap, *ao = ro + 2 * cap;
    int rc = 0;
    if (w == NULL || ro == NULL) {
        free(w);
        free(ro);
        errmsg_set(err, err_len, "out of memory");
        return -ENOMEM;
    }
    (void)planner_horizon(b, n, &lo, &hi);
#define WHOLE(x) (b[x].lower == lo && b[x].upper == hi)
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!WHOLE(i))
            continue;
        if (nw == cap)
            rc = 1;
        else
            w[nw++] = (uint32_t)i;
    }
    if (rc == 0)
        sort_by_off(b, w, w + cap, nw);
    for (size_t j = 0; j < nw && rc == 0; j++) {
        uint64_t o = b[w[j]].off, e = o + b[w[j]].bytes;
        if (j > 0 && b[w[j - 1]].off + b[w[j - 1]].bytes > o)
            rc = overlap_msg(b, w[j - 1], w[j], err, err_len);
        else if (nr > 0 && re[nr - 1] == o)
            re[nr - 1] = e;
        else {
            ro[nr] = o;
            re[nr++] = e;
        }
    }
    for (size_t k = 0; k < 2 * n && rc == 0; k++) {
        uint32_t x = ev[k].idx;
        if (WHOLE(x))
            continue;
        uint64_t o = b[x].off, e = o + b[x].bytes;
        size_t at = rank_of(ao, na, o);
        if (!ev[k].start) {
            /* Live offsets are distinct: at is x's place. */
            if (at < na && act[at] == x) {
                memmove(act + at, act + at + 1, (na - at - 1) * sizeof(*act));
                memmove(ao + at, ao + at + 1, (na - at - 1) * sizeof(*ao));
                na--;
            }
            continue;
        }
        /* the run at or above o, and the one below it */
        size_t r = rank_of(ro, nr, o);
        if ((r < nr && e > ro[r]) || (r > 0 && re[r - 1] > o))
            rc = overlap_msg(b, x, whole_hit(b, w, nw, o), err, err_len);
        else if (at < na && e > ao[at])
            rc = overlap_msg(b, x, act[at], err, err_len);
        else if (at > 0 && ao[at - 1] + b[act[at - 1]].bytes > o)
            rc = overlap_msg(b, x, act[at - 1], err, err_len);
        else if (nw + na == cap)
            rc = 1;
        else {
            memmove(act + at + 1, act + at, (na - at) * sizeof(*act));
            memmove(ao + at + 1, ao + at, (na - at) * sizeof(*ao));
            act[at] = x;
            ao[at] = o;
            na++;
        }
    }
#undef WHOLE
    free(w);
    free(ro);
    return rc;
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
        if (b[i].off & (align_of(&b[i]) - 1)) { /* a power of two: no division */
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
    ev = planner_make_events(b, n);
    if (ev != NULL && (rc = verify_few_live(b, n, ev, err, err_len)) <= 0)
        goto out;
    rc = 0;
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
