/* planner_dive.c - the branch and bound's first dive, as one skyline pass.
 *
 * planner_search.c's search at cap = the bound, run on a whole large trace
 * (pangu_2.6B, 18.7k buffers), reaches the bound without backtracking, where
 * every lowest-first order leaves holes at the peak. What its dive does
 * differently from lowest first: ties at one offset go by the preorder rank
 * (TWA, W by time), and a candidate is refused when, after it, some time
 * slot t could no longer hold what is still to come there: with total(t)
 * the unplaced load live at t and M(y) the offset an unplaced y would take
 * now (the skyline's height over y), placing x at o (top = o + size) must
 * leave
 *     max(o, lowest M'(y) of the unplaced y live at t) + total'(t) <= cap,
 * M' the places after x (raised to top for the y overlapping x). A refused
 * buffer waits until a placement overlapping it moves its place (in the
 * search it is no longer canonical until then). Here the same rule, made
 * cheap:
 *   - only the critical slots are watched: those whose load is within
 *     cap / DIVE_SLACK_DIV of cap (fewer where they hold too many buffers);
 *     elsewhere there is room for any hole the rule would prevent;
 *   - a slot can fail only if total(t) > cap - top (else top, and so every
 *     raised M', still leaves room: the condition held before), so a max
 *     tree of total over the critical slots lists the few to look at;
 *   - there a witness is kept: an unplaced y live at t that can still go
 *     low enough (and does not overlap x, or top is low enough too); it is
 *     checked again and only searched for (the slot's list of unplaced,
 *     placed ones dropped on the way) when it no longer does.
 *   - a witness's place is known from below (m_low: places only rise), so
 *     most of a list is passed over without a query, and a slot found with
 *     none low enough stays refused until the next placement.
 * A pass is lowest first by valleys (planner_sky_valleys_gated: the lowest
 * rank in the lowest valley, this file deciding who may go), with the
 * skyline's tree kept beside it for the places: O(n log n) and the scans of
 * the watched slots' lists (pangu_2.6B: some 160 M instructions, about a
 * gap pass's half). A valley rising under a waiting buffer does not free it
 * (its place, set by the buffers under it, did not move). It ends once
 * every buffer is placed (at most cap, since a candidate above it is
 * refused too), or gives up where the search would backtrack (buffers left
 * waiting for ever) or once s->work passes work_cap: then only the bound
 * was worth the time. */
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Watched: slots with at most cap / DIVE_SLACK_DIV of room (on pangu_2.6B
 * the search refuses for slots with 2.5-10% of room), at most
 * DIVE_MAX_ENTRIES buffers a buffer in their lists (the room halves until
 * they fit). */
#define DIVE_SLACK_DIV 8u
#define DIVE_MAX_ENTRIES 32u

struct dive {
    struct sky *s;
    const struct plan_buffer *b;
    size_t n, nc, csz;
    uint64_t cap;
    uint32_t *cs;         /* the watched slots, ascending */
    uint32_t *ustart;     /* their lists of unplaced live buffers, CSR ... */
    uint32_t *ulen;       /* ... the first ulen[c] of list c (placed ones dropped lazily) */
    uint32_t *uent;
    uint32_t *wit;        /* each slot's witness, or UINT32_MAX */
    uint64_t *tmx, *tsub; /* max tree of total over the watched slots; subtracted below */
    uint64_t *m_low;      /* m_low[y] <= y's place (places only rise): spares queries */
    uint32_t *none_at;    /* placements + 1 when slot c had no y low enough at all */
    uint32_t placements;
};

/* First watched position at or after slot t. */
static size_t pos_of(const struct dive *d, uint32_t t)
{
    size_t lo = 0, hi = d->nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->cs[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void tsub_range(struct dive *d, size_t node, size_t nlo, size_t nhi, size_t a, size_t b,
                       uint64_t v)
{
    size_t mid;
    if (b <= nlo || nhi <= a)
        return;
    if (a <= nlo && nhi <= b) {
        d->tmx[node] -= v;
        d->tsub[node] += v;
        return;
    }
    mid = nlo + (nhi - nlo) / 2;
    tsub_range(d, 2 * node, nlo, mid, a, b, v);
    tsub_range(d, 2 * node + 1, mid, nhi, a, b, v);
    d->tmx[node] = (d->tmx[2 * node] > d->tmx[2 * node + 1] ? d->tmx[2 * node]
                                                            : d->tmx[2 * node + 1]) -
                   d->tsub[node];
}

static bool overlaps(const struct sky *s, uint32_t x, uint32_t y)
{
    return s->lo[x] < s->hi[y] && s->lo[y] < s->hi[x];
}

/* Can y be slot c's witness after x goes at o..top: unplaced, not x, its
 * place after x at most lim? */
static bool witness_ok(struct dive *d, uint32_t y, uint32_t x, uint64_t top, uint64_t lim)
{
    if (y == UINT32_MAX || y == x || d->m_low[y] > lim) /* placed ones: UINT64_MAX */
        return false;
    if (overlaps(d->s, x, y) && align_up(top, align_of(&d->b[y])) > lim)
        return false;
    d->m_low[y] = planner_sky_at(d->s, d->b, y);
    return d->m_low[y] <= lim;
}

/* Slot c after x at o..top, given total (its unplaced load, x's included
 * if x is live there): is there still room for what is to come? */
static bool slot_ok(struct dive *d, size_t c, uint32_t x, uint64_t o, uint64_t top,
                    uint64_t total)
{
    uint32_t t = d->cs[c], *l = d->uent + d->ustart[c];
    uint64_t rest = total, lim;
    bool in = d->s->lo[x] <= t && t < d->s->hi[x], low = false;
    size_t k;
    if (in)
        rest -= d->b[x].bytes;
    if (rest == 0)
        return true;
    if (o + rest > d->cap)
        return false; /* what is to come sits at o or higher */
    lim = d->cap - rest;
    if (!in && d->none_at[c] == d->placements + 1)
        return false; /* nothing has changed there since */
    if (witness_ok(d, d->wit[c], x, top, lim))
        return true;
    d->s->work += d->ulen[c];
    for (k = 0; k < d->ulen[c];) {
        uint32_t y = l[k];
        if (d->m_low[y] > lim) { /* the common case: cheap */
            if (d->m_low[y] == UINT64_MAX)
                l[k] = l[--d->ulen[c]]; /* placed */
            else
                k++;
            continue;
        }
        if (witness_ok(d, y, x, top, lim)) {
            d->wit[c] = y;
            return true;
        }
        low = low || d->m_low[y] <= lim;
        k++;
    }
    if (!in && !low) /* lim and the places stay until the next placement */
        d->none_at[c] = d->placements + 1;
    return false;
}

/* Every watched slot whose total exceeds thr (= cap - top), in the subtree
 * node (sub: subtracted above it): slot_ok for each, false at the first
 * that fails. */
static bool check_node(struct dive *d, size_t node, size_t nlo, size_t nhi, uint64_t sub,
                       uint64_t thr, uint32_t x, uint64_t o, uint64_t top)
{
    size_t mid;
    d->s->work++;
    if (d->tmx[node] - sub <= thr || nlo >= d->nc)
        return true;
    if (nhi - nlo == 1)
        return slot_ok(d, nlo, x, o, top, d->tmx[node] - sub);
    sub += d->tsub[node];
    mid = nlo + (nhi - nlo) / 2;
    return check_node(d, 2 * node, nlo, mid, sub, thr, x, o, top) &&
           check_node(d, 2 * node + 1, mid, nhi, sub, thr, x, o, top);
}

static bool dive_check(struct dive *d, uint32_t x, uint64_t o)
{
    uint64_t top = o + d->b[x].bytes;
    if (top > d->cap)
        return false;
    return d->nc == 0 || check_node(d, 1, 0, d->csz, 0, d->cap - top, x, o, top);
}

static void dive_free(struct dive *d)
{
    free(d->cs);
    free(d->ustart);
    free(d->ulen);
    free(d->uent);
    free(d->wit);
    free(d->tmx);
    free(d->tsub);
    free(d->m_low);
    free(d->none_at);
}

/* The watched slots, their lists and the total tree. */
static int dive_init(struct dive *d, struct sky *s, const struct plan_buffer *b, size_t n,
                     uint64_t cap)
{
    uint64_t *load = NULL, room = cap / DIVE_SLACK_DIV, entries;
    uint32_t *live = NULL;
    size_t slots = 0, t, i, c;
    int rc = -ENOMEM;

    memset(d, 0, sizeof(*d));
    d->s = s;
    d->b = b;
    d->n = n;
    d->cap = cap;
    for (i = 0; i < n; i++)
        slots = s->hi[i] > slots ? s->hi[i] : slots;
    load = calloc(slots + 1, sizeof(*load));
    live = calloc(slots + 1, sizeof(*live));
    d->m_low = calloc(n + 1, sizeof(*d->m_low));
    if (!load || !live || !d->m_low)
        goto out;
    for (i = 0; i < n; i++) { /* by differences, then summed */
        load[s->lo[i]] += b[i].bytes;
        load[s->hi[i]] -= b[i].bytes;
        live[s->lo[i]]++;
        live[s->hi[i]]--;
    }
    for (t = 1; t < slots; t++) {
        load[t] += load[t - 1];
        live[t] += live[t - 1];
    }
    for (;;) {
        d->nc = 0;
        entries = 0;
        for (t = 0; t < slots; t++)
            if (live[t] && load[t] + room >= cap) {
                d->nc++;
                entries += live[t];
            }
        if (entries <= (uint64_t)DIVE_MAX_ENTRIES * n || room == 0)
            break;
        room /= 2;
    }
    for (d->csz = 1; d->csz < d->nc; d->csz *= 2)
        ;
    d->cs = malloc(d->nc * sizeof(*d->cs) + 1);
    d->ustart = malloc((d->nc + 1) * sizeof(*d->ustart));
    d->ulen = calloc(d->nc + 1, sizeof(*d->ulen));
    d->wit = malloc(d->nc * sizeof(*d->wit) + 1);
    d->none_at = calloc(d->nc + 1, sizeof(*d->none_at));
    d->uent = malloc(entries * sizeof(*d->uent) + 1);
    d->tmx = calloc(2 * d->csz, sizeof(*d->tmx));
    d->tsub = calloc(2 * d->csz, sizeof(*d->tsub));
    if (!d->cs || !d->ustart || !d->ulen || !d->wit || !d->none_at || !d->uent || !d->tmx ||
        !d->tsub)
        goto out;
    d->ustart[0] = 0;
    for (t = 0, c = 0; t < slots; t++)
        if (live[t] && load[t] + room >= cap) {
            d->cs[c] = (uint32_t)t;
            d->ustart[c + 1] = d->ustart[c] + live[t];
            d->wit[c] = UINT32_MAX;
            d->tmx[d->csz + c] = load[t];
            c++;
        }
    for (i = d->csz; i-- > 1;)
        d->tmx[i] = d->tmx[2 * i] > d->tmx[2 * i + 1] ? d->tmx[2 * i] : d->tmx[2 * i + 1];
    for (i = 0; i < n; i++)
        for (c = pos_of(d, s->lo[i]); c < d->nc && d->cs[c] < s->hi[i]; c++)
            d->uent[d->ustart[c] + d->ulen[c]++] = (uint32_t)i;
    rc = 0;
out:
    free(live);
    free(load);
    if (rc < 0)
        dive_free(d);
    return rc;
}

static bool dive_accept(void *ctx, uint32_t x, uint64_t off)
{
    return dive_check(ctx, x, off);
}

static void dive_placed(void *ctx, uint32_t x, uint64_t off)
{
    struct dive *d = ctx;
    planner_sky_put(d->s, x, off + d->b[x].bytes);
    d->m_low[x] = UINT64_MAX;
    d->placements++;
    if (d->nc)
        tsub_range(d, 1, 0, d->csz, pos_of(d, d->s->lo[x]), pos_of(d, d->s->hi[x]),
                   d->b[x].bytes);
}

int planner_sky_dive(struct sky *s, const struct plan_buffer *b, size_t n,
                     const uint32_t *pre, uint64_t cap, uint32_t *order, uint64_t *off,
                     uint64_t *peak, uint64_t work_cap)
{
    struct dive d;
    struct valley_gate gate;
    uint32_t *rank = NULL;
    uint64_t pk = 0;
    size_t i;
    int rc;

    if (planner_sky_tree(s) < 0)
        return -ENOMEM;
    if ((rc = dive_init(&d, s, b, n, cap)) < 0)
        return rc;
    rank = malloc(n * sizeof(*rank) + 1);
    if (!rank) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        rank[pre[i]] = (uint32_t)i;
    planner_sky_clear(s);
    gate = (struct valley_gate){rank, &d, dive_accept, dive_placed, work_cap};
    rc = planner_sky_valleys_gated(s, b, n, &gate, order, off, &pk, &s->work);
    if (rc == 0 && pk > cap)
        rc = 1; /* a waiting buffer went above it after its valley rose */
    if (rc == 0)
        *peak = pk;
out:
    free(rank);
    dive_free(&d);
    return rc;
}
