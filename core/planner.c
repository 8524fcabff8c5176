/* planner.c - the interface: policies, validation, lower bound, plan
 * verification, and the helpers the policies share.
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
 * Files: planner.c (this: the policy table, planner_run, validation, the
 * lower bound, verify, the shared event sort and sort keys);
 * planner_greedy.c (the gap engine, linear-scan, greedy-size);
 * planner_skyline.c (the skyline engine and its lowest-first passes);
 * planner_search.c (branch and bound); planner_portfolio.c (the default
 * policy's driver, with iterated greedy). What they share is declared in
 * planner_internal.h.
 */
#include "planner.h"
#include "planner_internal.h"
#include "errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX

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

/* ---- events: the time sweep of the lower bound, verify and the engines - */

/* Sort events by time: LSD radix, a byte a pass, skipping bytes in which
 * all times agree. Stable, so what the caller's order put first among
 * equal times stays first. Returns 0 or -ENOMEM. */
int planner_sort_events(struct event *ev, size_t m)
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
struct event *planner_make_events(const struct plan_buffer *b, size_t n)
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
    if (planner_sort_events(ev, 2 * n) < 0) {
        free(ev);
        return NULL;
    }
    return ev;
}

uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n)
{
    struct event *ev = planner_make_events(b, n);
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

double planner_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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
    ev = planner_make_events(b, n);
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
        rc = planner_portfolio(b, n, opts, peak);
    else if (p == 1)
        rc = planner_linear_scan(b, n, peak);
    else
        rc = planner_greedy_size(b, n, peak);
    if (rc == -ENOMEM)
        errmsg_set(err, err_len, "out of memory planning %zu buffers", n);
    return rc;
}
