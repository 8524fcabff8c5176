/* planner_repair.c - repair below a cap: overlap minimisation with guided penalties.
 *
 * Aim at a peak below the best plan's: cap = best - 1 (less a thousandth
 * of the gap to stop_at). Buffers that end above the cap move under it,
 * overlapping others; the search then removes overlap one buffer at a
 * time: each step picks a buffer that overlaps another and moves it to the
 * aligned offset, with all of it below the cap, where its cost is least,
 * as nesting algorithms translate a piece along one axis (Egeblad,
 * Nielsen and Odgaard, 2007; here the offset is the only axis). The cost
 * of a buffer at an offset, over the buffers live with it: time overlap x
 * bytes shared, plus, for
 * each one it shares any byte with, the pair's penalty, REPAIR_LAMBDA of
 * the mean buffer's area (bytes x lifetime) times the pair's weight. When
 * steps stop helping (a local minimum: more failed steps than half the
 * overlapping buffers), every pair still overlapping weighs one more
 * (guided local search), so the search leaves the minimum by the pairs it
 * keeps paying for. The penalty's floor matters: an overlap of a few bytes
 * for a moment costs almost nothing by area, and the search would keep it
 * for ever. With no overlap left the plan is below the cap: it is the
 * best, and the cap drops under its peak. Unlike the ruin and recreate it
 * replaced (planner_lns.c until 2026-12), which kept every plan feasible
 * and its peak from growing, this search walks through infeasible plans,
 * so it reaches tight packings that no descent does (their geomean with a
 * 5 s limit: 1.079 with the ruin and recreate, 1.038 with this; in the fast
 * mode 1.096 in 7.4 s for all 26, 1.069 in 4.4-4.6 s).
 *
 * A buffer's overlap with one neighbour, as a function of its offset o, is
 * 0, rises, stays, falls and is 0 again, and the penalty is a step over
 * the same span: a sweep over the points where these change (and the
 * aligned places on both sides of each) finds the best place in
 * O(d log d) for d neighbours.
 */
#include "planner_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPAIR_LAMBDA 0.1   /* a pair penalty's unit, over the mean buffer's area */
#define REPAIR_STEP_DIV 1000 /* the cap drops by 1 + this fraction of the gap */
/* Without a deadline, the search also stops after this many steps without
 * a better plan: small problems whose optimum is above the bound stop in
 * microseconds rather than spending the budget. */
#define REPAIR_STALL_STEPS(n) (20 * (uint64_t)(n) + 2000)
#define REPAIR_MAX_PEAK ((uint64_t)1 << 62)

struct rep {
    const struct plan_buffer *b;
    size_t n;
    uint32_t *adj_start, *adj, *rev; /* overlaps in time, CSR */
    uint32_t *w;                     /* the pair's weight (both entries alike) */
    uint64_t *off;
    uint32_t *nov;                   /* neighbours overlapping in bytes */
    uint32_t *bad, *bad_at;          /* the buffers with nov > 0 */
    size_t n_bad;
    struct event *ev, *tmp;          /* a place's breakpoints: t the offset, idx */
    double *dslope, *on;             /* ... into these: the slope's change at t, a
                                        step's (> 0: on right of t; < 0: off at t) */
    size_t ev_cap;
    uint64_t steps, work, rng;
    double lam; /* a pair penalty's cost */
};

static uint64_t rep_rnd(struct rep *r)
{
    uint64_t x = r->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static void set_nov(struct rep *r, uint32_t x, uint32_t v)
{
    if (r->nov[x] == 0 && v > 0) {
        r->bad_at[x] = (uint32_t)r->n_bad;
        r->bad[r->n_bad++] = x;
    } else if (r->nov[x] > 0 && v == 0) {
        uint32_t last = r->bad[--r->n_bad];
        r->bad[r->bad_at[x]] = last;
        r->bad_at[last] = r->bad_at[x];
    }
    r->nov[x] = v;
}

static uint64_t shared(uint64_t o1, uint64_t e1, uint64_t o2, uint64_t e2)
{
    uint64_t lo = o1 > o2 ? o1 : o2, hi = e1 < e2 ? e1 : e2;
    return hi > lo ? hi - lo : 0;
}

/* Move x to o: its neighbours' overlap counts follow. */
static void move_to(struct rep *r, uint32_t x, uint64_t o)
{
    const struct plan_buffer *b = r->b;
    uint64_t s = b[x].bytes, old = r->off[x];
    uint32_t cnt = 0;

    for (uint32_t k = r->adj_start[x]; k < r->adj_start[x + 1]; k++) {
        uint32_t y = r->adj[k];
        uint64_t oy = r->off[y], ey = oy + b[y].bytes;
        bool was = shared(old, old + s, oy, ey) > 0, now = shared(o, o + s, oy, ey) > 0;
        if (was != now)
            set_nov(r, y, r->nov[y] + (now ? 1u : 0u) - (was ? 1u : 0u));
        cnt += now;
    }
    r->work += r->adj_start[x + 1] - r->adj_start[x];
    r->off[x] = o;
    set_nov(r, x, cnt);
}

static void put_bp(struct rep *r, size_t *m, uint64_t at, double d, double h)
{
    r->ev[*m] = (struct event){at, 0, (uint32_t)*m};
    r->dslope[*m] = d;
    r->on[*m] = h;
    ++*m;
}

/* A slope change of d and a step change of h at p: left of 0 they only
 * set the start (slope and steps right of 0); above top there is no place.
 * The aligned places on both sides of p are candidates. */
static void add_bp(struct rep *r, size_t *m, int64_t p, double d, double h, uint64_t top,
                   uint64_t a, double *slope0, double *step0)
{
    uint64_t u;
    if (p < 0 || (p == 0 && h <= 0)) {
        *slope0 += d;
        *step0 += p < 0 ? h : 0;
        return;
    }
    u = (uint64_t)p;
    if (u > top)
        return;
    put_bp(r, m, u, d, h);
    if (u & (a - 1)) {
        put_bp(r, m, u & ~(a - 1), 0, 0);
        if (align_up(u, a) <= top)
            put_bp(r, m, align_up(u, a), 0, 0);
    }
}

/* The offset in [0, top] (multiples of a) where x's cost is least: over
 * its neighbours y, time overlap x bytes shared, plus y's pair penalty
 * where they share any. *cost gets it, *now the cost where x is. */
static uint64_t best_place(struct rep *r, uint32_t x, uint64_t top, double *cost, double *now)
{
    const struct plan_buffer *b = r->b;
    uint64_t a = align_of(&b[x]), s = b[x].bytes, at = r->off[x], cur = 0;
    double f = 0, slope = 0, steps = 0, best = HUGE_VAL, here = 0;
    size_t m = 0, i, ties = 0;

    put_bp(r, &m, 0, 0, 0);
    put_bp(r, &m, top, 0, 0);
    /* Each neighbour's overlap with x at o: 0 up to oy - s, rising to
     * min(oy, ey - s), flat to max(oy, ey - s), falling to ey; its
     * penalty over (oy - s, ey). */
    for (uint32_t k = r->adj_start[x]; k < r->adj_start[x + 1]; k++) {
        uint32_t y = r->adj[k];
        uint64_t oy = r->off[y], ey = oy + b[y].bytes, sh;
        int64_t p0 = (int64_t)oy - (int64_t)s, q = (int64_t)ey - (int64_t)s;
        int64_t p1 = (int64_t)oy < q ? (int64_t)oy : q, p2 = (int64_t)oy < q ? q : (int64_t)oy;
        uint64_t lo = b[x].lower > b[y].lower ? b[x].lower : b[y].lower;
        uint64_t hi = b[x].upper < b[y].upper ? b[x].upper : b[y].upper;
        double c = (double)(hi - lo), h = r->lam * (double)r->w[k]; /* time shared */
        f += c * (double)shared(0, s, oy, ey);
        sh = shared(r->off[x], r->off[x] + s, oy, ey);
        here += c * (double)sh + (sh ? h : 0);
        add_bp(r, &m, p0, c, h, top, a, &slope, &steps);
        add_bp(r, &m, p1, -c, 0, top, a, &slope, &steps);
        add_bp(r, &m, p2, -c, 0, top, a, &slope, &steps);
        add_bp(r, &m, (int64_t)ey, c, -h, top, a, &slope, &steps);
    }
    planner_sort_events_with(r->ev, r->tmp, m);
    r->work += 6 * m + 2;
    for (i = 0; i < m;) {
        uint64_t p = r->ev[i].t;
        double on = 0;
        size_t j;
        f += slope * (double)(p - cur);
        cur = p;
        for (j = i; j < m && r->ev[j].t == p; j++) {
            uint32_t q = r->ev[j].idx;
            slope += r->dslope[q];
            if (r->on[q] < 0)
                steps += r->on[q];
            else
                on += r->on[q];
        }
        i = j;
        if ((p & (a - 1)) == 0) {
            double v = (f < 0 ? 0 : f) + (steps > 0 ? steps : 0);
            if (v < best) {
                best = v;
                at = p;
                ties = 1;
            } else if (v == best && rep_rnd(r) % ++ties == 0) {
                at = p;
            }
        }
        steps += on;
    }
    *cost = best;
    *now = here;
    return at;
}

/* Every pair overlapping now weighs one more. */
static void penalise(struct rep *r)
{
    const struct plan_buffer *b = r->b;
    for (size_t i = 0; i < r->n_bad; i++) {
        uint32_t x = r->bad[i];
        uint64_t o = r->off[x], e = o + b[x].bytes;
        for (uint32_t k = r->adj_start[x]; k < r->adj_start[x + 1]; k++) {
            uint32_t y = r->adj[k];
            if (y > x && shared(o, e, r->off[y], r->off[y] + b[y].bytes) > 0) {
                r->w[k] += r->w[k] < UINT32_MAX;
                r->w[r->rev[k]] = r->w[k];
            }
        }
        r->work += r->adj_start[x + 1] - r->adj_start[x];
    }
}

int planner_repair(const struct plan_buffer *b, size_t n, const struct sky *s, uint64_t *off,
                   uint64_t *peak, uint64_t stop_at, uint64_t work_cap, double deadline,
                   uint64_t seed, uint64_t *work)
{
    struct rep r = {0};
    uint64_t best = *peak, cap, pk, fails = 0, biggest = 0, at_best = 0;
    size_t i, slots = 0, dmax = 0, pairs;
    int rc;

    /* Offsets and sizes below 2^62 keep the sweep's signed differences
     * exact; plans that tall (4 EiB) are left as they are. */
    if (n < 2 || *peak <= stop_at || *peak > REPAIR_MAX_PEAK)
        return 0;
    for (i = 0; i < n; i++) {
        if (s->hi[i] > slots)
            slots = s->hi[i];
        if (b[i].bytes > biggest)
            biggest = b[i].bytes;
    }
    r.b = b;
    r.n = n;
    r.rng = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    rc = planner_overlaps(s->lo, s->hi, n, slots, REPAIR_MAX_PAIRS, &r.adj_start, &r.adj, &r.rev,
                          &r.work);
    if (rc != 0)
        goto out;
    for (i = 0; i < n; i++)
        if (r.adj_start[i + 1] - r.adj_start[i] > dmax)
            dmax = r.adj_start[i + 1] - r.adj_start[i];
    pairs = r.adj_start[n];
    rc = -ENOMEM;
    r.ev_cap = 12 * dmax + 4;
    r.off = malloc(n * sizeof(*r.off));
    r.nov = calloc(n, sizeof(*r.nov));
    r.bad = malloc(n * sizeof(*r.bad));
    r.bad_at = malloc(n * sizeof(*r.bad_at));
    r.w = malloc(pairs * sizeof(*r.w) + 1);
    r.ev = malloc(r.ev_cap * sizeof(*r.ev));
    r.tmp = malloc(r.ev_cap * sizeof(*r.tmp));
    r.dslope = malloc(r.ev_cap * sizeof(*r.dslope));
    r.on = malloc(r.ev_cap * sizeof(*r.on));
    if (!r.off || !r.nov || !r.bad || !r.bad_at || !r.w || !r.ev || !r.tmp || !r.dslope ||
        !r.on)
        goto out;
    for (i = 0; i < pairs; i++)
        r.w[i] = 1;
    {
        double area = 0;
        for (i = 0; i < n; i++)
            area += (double)b[i].bytes * (double)(b[i].upper - b[i].lower);
        r.lam = REPAIR_LAMBDA * area / (double)n;
    }
    memcpy(r.off, off, n * sizeof(*off)); /* feasible: no overlaps */
    cap = best - 1;
    while (cap >= biggest && r.work <= work_cap &&
           !(deadline < HUGE_VAL && planner_now_s() > deadline)) {
        for (i = 0; i < n; i++)
            if (r.off[i] + b[i].bytes > cap) {
                double c, h;
                uint64_t top = (cap - b[i].bytes) & ~(align_of(&b[i]) - 1);
                move_to(&r, (uint32_t)i, top);
                move_to(&r, (uint32_t)i, best_place(&r, (uint32_t)i, top, &c, &h));
            }
        while (r.n_bad > 0 && r.work <= work_cap) {
            uint32_t x = r.bad[rep_rnd(&r) % r.n_bad];
            uint64_t top = (cap - b[x].bytes) & ~(align_of(&b[x]) - 1), o;
            double c, h;
            if ((r.steps & 63) == 0 && deadline < HUGE_VAL && planner_now_s() > deadline)
                goto done;
            if (deadline == HUGE_VAL && r.steps - at_best > REPAIR_STALL_STEPS(n))
                goto done; /* the fast mode: no better plan for a long while */
            r.steps++;
            o = best_place(&r, x, top, &c, &h);
            if (c < h * (1 - 1e-12)) {
                move_to(&r, x, o);
                fails = 0;
            } else {
                if (o != r.off[x] && c <= h)
                    move_to(&r, x, o);
                if (++fails > r.n_bad / 2) {
                    penalise(&r);
                    fails = 0;
                }
            }
        }
        if (r.n_bad > 0)
            break;
        for (i = 0, pk = 0; i < n; i++)
            if (r.off[i] + b[i].bytes > pk)
                pk = r.off[i] + b[i].bytes;
        best = pk;
        at_best = r.steps;
        memcpy(off, r.off, n * sizeof(*off));
        if (best <= stop_at)
            break;
        cap = best - 1 - (best - stop_at) / REPAIR_STEP_DIV; /* >= stop_at */
    }
done:
    *peak = best;
    rc = 0;
out:
    if (work)
        *work += r.work;
    free(r.on);
    free(r.dslope);
    free(r.tmp);
    free(r.ev);
    free(r.w);
    free(r.bad_at);
    free(r.bad);
    free(r.nov);
    free(r.off);
    free(r.rev);
    free(r.adj);
    free(r.adj_start);
    return rc < 0 ? rc : 0;
}
