/* planner_lns.c - ruin and recreate (a large neighbourhood search) over plans.
 *
 * Each step, one of two moves from the current plan (half the time each in
 * the fast mode; with a deadline (b) one step in LNS_RESTART_1_IN, and (a)
 * picks its k by quickselect, so the fast mode's plans stay as they were):
 * (a) pick a buffer at the peak (half the time any buffer) and a window of
 * time around it; take out k buffers live in the window, either those that
 * end highest or those nearest it in offset; put them back one at a time
 * in a perturbed order (larger, longer lived, lower first, or at random),
 * each in the lowest (one time in four the tightest) gap that the buffers
 * live with it leave; then let everything fall. Falling is a skyline pass
 * in order of offset: each buffer rests on the highest earlier one it
 * overlaps, where all of those were below it and did not rise, so no
 * buffer rises and the peak never grows; only the buffers resting on one
 * that moved are recomputed (over their overlaps), so a move costs about
 * the neighbourhoods it touches plus O(n). (b) Keep the plan's first
 * buffers by offset (the plan below some height, often near the top) and
 * place the rest lowest first with random tie keys (planner_skyline.c).
 * The new plan replaces the current one when it is not worse by (peak,
 * mass height: the sum of size x lifetime x middle offset), so it drifts
 * on plateaus and the mass height says which way is down; the best plan is
 * kept. Deterministic: a seed and a work budget, or a deadline.
 */
#include "planner_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* Without a deadline, the search also stops after this many steps without a
 * lower peak: small problems whose optimum is above the bound stop in
 * microseconds rather than spending the budget. */
#define LNS_STALL_STEPS(n) (20 * (uint64_t)(n) + 2000)

/* With a deadline, one step in this many is a restart (b), the rest ruins
 * (a): a restart re-places everything above its prefix, some 10-20 ruins'
 * time on 1,000 buffers, and ruins find more better plans for the time on
 * the packings (one in two, as the fast mode keeps: 0.007 worse geomean in
 * 1 s). */
#define LNS_RESTART_1_IN 8

struct lns {
    const struct plan_buffer *b;
    size_t n;
    const uint32_t *lo, *hi;   /* each buffer's slots (the skyline's) */
    uint32_t *adj_start, *adj; /* overlaps in time, CSR */
    uint64_t *cur, *trial;     /* offsets: the current plan, the one being made */
    uint32_t *ord, *tord;      /* buffers by offset: the current plan's, the trial's */
    uint32_t *pos;             /* position of each buffer in tord */
    struct event *ev;          /* sort scratch: (offset, buffer) */
    uint32_t *sel, *cand;      /* the buffers taken out; the ruin's candidates */
    uint64_t *key;             /* a sort key per buffer (scratch) */
    uint32_t *stamp, gen;      /* buffers to recompute while falling */
    uint8_t *out;              /* 1: taken out, not yet back */
    struct span *nb, *nb_tmp;  /* the gaps' neighbours, by offset; scratch */
    double *mass;              /* size x lifetime */
    struct order_key *keys;    /* tie keys of a restart */
    struct sky *s;             /* scratch of a restart */
    bool timed;                /* a deadline: ruins pick by top_k */
    uint64_t work, rng;
};

struct score {
    uint64_t peak;
    double height; /* mass height */
};

static bool score_le(struct score a, struct score b)
{
    return a.peak != b.peak ? a.peak < b.peak : a.height <= b.height;
}

static uint64_t lns_rnd(struct lns *l)
{
    uint64_t x = l->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    l->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Sort v[0..m) by offset: insertion sort when short, else LSD radix a
 * byte at a time (skipping bytes all share) through tmp. */
static void sort_spans(struct span *v, struct span *tmp, size_t m)
{
    uint64_t all_or = 0, all_and = UINT64_MAX;
    struct span *src = v, *dst = tmp, *t;
    size_t i, cnt[256];

    if (m < 48) {
        for (i = 1; i < m; i++) {
            struct span x = v[i];
            size_t j;
            for (j = i; j > 0 && v[j - 1].off > x.off; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    for (i = 0; i < m; i++) {
        all_or |= v[i].off;
        all_and &= v[i].off;
    }
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t sum = 0;
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        memset(cnt, 0, sizeof(cnt));
        for (i = 0; i < m; i++)
            cnt[(src[i].off >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            size_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < m; i++)
            dst[cnt[(src[i].off >> shift) & 0xff]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, m * sizeof(*v));
}

/* Put x back into l->trial: the lowest gap that fits it among the buffers
 * live with it (best: the tightest, the room up to `peak` counting as the
 * gap on top). */
static void lns_insert(struct lns *l, uint32_t x, bool best, uint64_t peak)
{
    const struct plan_buffer *b = l->b;
    uint64_t a = align_of(&b[x]), size = b[x].bytes, pos = 0, at = UINT64_MAX;
    uint64_t slack = UINT64_MAX;
    size_t m = 0, k;

    for (k = l->adj_start[x]; k < l->adj_start[x + 1]; k++) {
        uint32_t y = l->adj[k];
        if (!l->out[y])
            l->nb[m++] = (struct span){l->trial[y], l->trial[y] + b[y].bytes};
    }
    l->work += 2 * m + 1;
    sort_spans(l->nb, l->nb_tmp, m);
    for (k = 0; k <= m; k++) {
        uint64_t o = align_up(pos, a), lim = k < m ? l->nb[k].off : UINT64_MAX;
        if (o + size <= lim) {
            uint64_t room = k < m ? lim - o - size
                                  : (o + size <= peak ? peak - o - size : UINT64_MAX - 1);
            if (!best) {
                at = o;
                break;
            }
            if (room < slack) {
                slack = room;
                at = o;
            }
        }
        if (k < m && l->nb[k].end > pos)
            pos = l->nb[k].end;
    }
    l->trial[x] = at;
    l->out[x] = 0;
}

/* Stamp what rested on x when it ended at `end` (in l->trial): only those
 * may fall when x moves; the rest stay on what holds them. */
static void mark_resting(struct lns *l, uint32_t x, uint64_t end)
{
    const struct plan_buffer *b = l->b;
    for (size_t k = l->adj_start[x]; k < l->adj_start[x + 1]; k++) {
        uint32_t y = l->adj[k];
        if (l->trial[y] == align_up(end, align_of(&b[y])))
            l->stamp[y] = l->gen;
    }
    l->work += l->adj_start[x + 1] - l->adj_start[x];
}

/* Let l->trial fall: the buffers in order of offset (ties as in l->ord),
 * each on the highest earlier one it overlaps. The current plan has fallen
 * already, so only the marked buffers (those stamped l->gen) and those
 * that something moved under are recomputed. l->tord gets the order;
 * returns the score. */
static int lns_fall(struct lns *l, struct score *sc)
{
    const struct plan_buffer *b = l->b;
    size_t n = l->n, i, k;
    double height = 0;
    uint64_t peak = 0;
    int rc;

    for (i = 0; i < n; i++)
        l->ev[i] = (struct event){l->trial[l->ord[i]], 0, l->ord[i]};
    rc = planner_sort_events(l->ev, n);
    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++) {
        l->tord[i] = l->ev[i].idx;
        l->pos[l->ev[i].idx] = (uint32_t)i;
    }
    for (i = 0; i < n; i++) {
        uint32_t x = l->tord[i];
        uint64_t o = 0, end;
        if (l->stamp[x] == l->gen) {
            for (k = l->adj_start[x]; k < l->adj_start[x + 1]; k++) {
                uint32_t y = l->adj[k];
                if (l->pos[y] < i && l->trial[y] + b[y].bytes > o)
                    o = l->trial[y] + b[y].bytes;
            }
            l->work += l->adj_start[x + 1] - l->adj_start[x];
            o = align_up(o, align_of(&b[x]));
            if (o != l->trial[x]) {
                uint64_t old_end = l->trial[x] + b[x].bytes;
                l->trial[x] = o;
                mark_resting(l, x, old_end);
            }
        }
        end = l->trial[x] + b[x].bytes;
        if (end > peak)
            peak = end;
        height += l->mass[x] * ((double)l->trial[x] + (double)b[x].bytes / 2);
    }
    l->work += 2 * n;
    *sc = (struct score){peak, height};
    return 0;
}

/* Move the k candidates of largest key to l->cand[0..k) (in no order; the
 * recreate sorts them): a three-way quickselect with median-of-three
 * pivots, O(n_cand) where picking them one by one was O(k n_cand). */
static void top_k(struct lns *l, size_t n_cand, size_t k)
{
    uint32_t *c = l->cand;
    const uint64_t *key = l->key;
    size_t lo = 0, hi = n_cand; /* the k-th largest lies in c[lo..hi) */

    while (k > lo && k < hi) {
        size_t mid = lo + (hi - lo) / 2, p = lo, i = lo, j = hi;
        uint64_t a = key[c[lo]], m = key[c[mid]], z = key[c[hi - 1]], piv;
        uint32_t t;
        piv = a < m ? (m < z ? m : (a < z ? z : a)) : (a < z ? a : (m < z ? z : m));
        while (p < j) { /* [lo, i) above piv, [i, p) at it, [j, hi) below */
            uint64_t v = key[c[p]];
            if (v > piv) {
                t = c[p], c[p] = c[i], c[i] = t;
                i++, p++;
            } else if (v < piv) {
                j--;
                t = c[p], c[p] = c[j], c[j] = t;
            } else {
                p++;
            }
        }
        l->work += hi - lo;
        if (k <= i)
            hi = i;
        else if (k >= j)
            lo = j;
        else
            break; /* the k-th is among those at piv: [0, k) is the k largest */
    }
}

/* One ruin: l->sel[0..k) out, l->trial the current plan without them back
 * in. Returns k. */
static size_t lns_ruin(struct lns *l, uint64_t peak)
{
    const struct plan_buffer *b = l->b;
    size_t n = l->n, n_cand = 0, n_crit = 0, k, kmax, i;
    uint32_t c, span, wlo, whi;
    uint64_t mid_c;
    bool top;

    if (lns_rnd(l) % 2) {
        for (i = 0; i < n; i++)
            if (l->cur[i] + b[i].bytes == peak)
                l->cand[n_crit++] = (uint32_t)i;
        l->work += n;
    }
    c = n_crit ? l->cand[lns_rnd(l) % n_crit] : (uint32_t)(lns_rnd(l) % n);
    span = l->hi[c] - l->lo[c];
    wlo = l->lo[c] - (uint32_t)(lns_rnd(l) % ((l->lo[c] < span ? l->lo[c] : span) + 1));
    whi = l->hi[c] + (uint32_t)(lns_rnd(l) % (span + 1));
    /* at the peak, half the time those that end highest; else those whose
     * middles are nearest c's */
    top = n_crit > 0 && lns_rnd(l) % 2 == 0;
    mid_c = l->cur[c] + b[c].bytes / 2;
    for (i = 0; i < n; i++)
        if (l->lo[i] < whi && wlo < l->hi[i]) {
            uint64_t mid = l->cur[i] + b[i].bytes / 2;
            l->cand[n_cand++] = (uint32_t)i;
            l->key[i] = top ? l->cur[i] + b[i].bytes
                            : UINT64_MAX - (mid > mid_c ? mid - mid_c : mid_c - mid);
        }
    l->work += n;
    kmax = 4 + (size_t)(lns_rnd(l) % 28);
    k = n_cand < kmax ? n_cand : kmax;
    if (l->timed) {
        top_k(l, n_cand, k);
        memcpy(l->sel, l->cand, k * sizeof(*l->sel));
        return k;
    }
    for (i = 0; i < k; i++) { /* the fast mode's own pick, as its plans were */
        size_t j, best = i;
        for (j = i + 1; j < n_cand; j++)
            if (l->key[l->cand[j]] > l->key[l->cand[best]])
                best = j;
        l->sel[i] = l->cand[best];
        l->cand[best] = l->cand[i];
    }
    l->work += k * n_cand;
    return k;
}

/* Recreate: sel[0..k) back in a perturbed order. */
static void lns_recreate(struct lns *l, size_t k, uint64_t peak)
{
    const struct plan_buffer *b = l->b;
    unsigned how = (unsigned)(lns_rnd(l) % 4);
    bool fit_best = lns_rnd(l) % 4 == 0;
    size_t i, j;

    for (i = 0; i < k; i++) {
        uint32_t x = l->sel[i];
        l->key[x] = how == 0   ? b[x].bytes
                    : how == 1 ? b[x].upper - b[x].lower
                    : how == 2 ? UINT64_MAX - l->cur[x]
                               : lns_rnd(l);
    }
    for (i = 1; i < k; i++) { /* by key, descending: k is small */
        uint32_t x = l->sel[i];
        for (j = i; j > 0 && l->key[l->sel[j - 1]] < l->key[x]; j--)
            l->sel[j] = l->sel[j - 1];
        l->sel[j] = x;
    }
    for (i = 0; i + 1 < k; i++)
        if (lns_rnd(l) % 4 == 0) {
            uint32_t t = l->sel[i];
            l->sel[i] = l->sel[i + 1];
            l->sel[i + 1] = t;
        }
    memcpy(l->trial, l->cur, l->n * sizeof(*l->trial));
    l->gen++;
    for (i = 0; i < k; i++) {
        uint32_t x = l->sel[i];
        l->out[x] = 1;
        l->stamp[x] = l->gen;
        mark_resting(l, x, l->cur[x] + b[x].bytes);
    }
    for (i = 0; i < k; i++)
        lns_insert(l, l->sel[i], fit_best, peak);
}

/* Restart: keep the current plan's first buffers by offset (a prefix of a
 * canonical order: the plan below some height) and place the rest lowest
 * first with random tie keys. l->trial and l->tord get the plan. */
static int lns_restart(struct lns *l, struct score *sc)
{
    const struct plan_buffer *b = l->b;
    size_t n = l->n, i, from = (size_t)(lns_rnd(l) % n);
    unsigned how = (unsigned)(lns_rnd(l) % 4);
    uint64_t w0 = l->s->work, peak;
    double height = 0;
    int rc;

    if (lns_rnd(l) % 2)
        from = n - 1 - (size_t)(lns_rnd(l) % (n - from)); /* nearer the top */
    for (i = 0; i < n; i++) {
        double life = (double)(b[i].upper - b[i].lower), size = (double)b[i].bytes;
        double noise = (double)(lns_rnd(l) >> 11);
        l->keys[i] = (struct order_key){how == 0   ? life
                                        : how == 1 ? size
                                        : how == 2 ? size * life
                                                   : noise,
                                        noise, 0, (uint32_t)i};
    }
    memcpy(l->tord, l->ord, n * sizeof(*l->tord));
    rc = planner_sky_lowest_first_from(l->s, b, n, l->keys, l->tord, from, l->trial, &peak,
                                       UINT64_MAX);
    l->work += l->s->work - w0 + 2 * n;
    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++)
        height += l->mass[i] * ((double)l->trial[i] + (double)b[i].bytes / 2);
    *sc = (struct score){peak, height};
    return 0;
}

static void lns_free(struct lns *l)
{
    free(l->keys);
    free(l->mass);
    free(l->nb_tmp);
    free(l->nb);
    free(l->out);
    free(l->stamp);
    free(l->key);
    free(l->cand);
    free(l->sel);
    free(l->ev);
    free(l->pos);
    free(l->tord);
    free(l->ord);
    free(l->trial);
    free(l->cur);
    free(l->adj);
    free(l->adj_start);
}

int planner_lns(const struct plan_buffer *b, size_t n, struct sky *s, uint64_t *off,
                uint64_t *peak, uint64_t stop_at, uint64_t work_cap, double deadline,
                uint64_t seed, uint64_t *work)
{
    struct lns l = {0};
    struct score cur, trial;
    uint64_t best = *peak, it, it_best = 0;
    size_t i, slots = 0;
    uint32_t *tmp;
    int rc;

    if (n < 2 || *peak <= stop_at)
        return 0;
    for (i = 0; i < n; i++)
        if (s->hi[i] > slots)
            slots = s->hi[i];
    l.b = b;
    l.n = n;
    l.lo = s->lo;
    l.hi = s->hi;
    l.s = s;
    l.timed = deadline < HUGE_VAL;
    l.rng = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
    rc = planner_overlaps(l.lo, l.hi, n, slots, LNS_MAX_PAIRS, &l.adj_start, &l.adj, NULL,
                         &l.work);
    if (rc != 0)
        goto out;
    rc = -ENOMEM;
    l.cur = malloc(n * sizeof(*l.cur));
    l.trial = malloc(n * sizeof(*l.trial));
    l.ord = malloc(n * sizeof(*l.ord));
    l.tord = malloc(n * sizeof(*l.tord));
    l.pos = malloc(n * sizeof(*l.pos));
    l.ev = malloc(n * sizeof(*l.ev));
    l.sel = malloc(n * sizeof(*l.sel));
    l.cand = malloc(n * sizeof(*l.cand));
    l.key = malloc(n * sizeof(*l.key));
    l.stamp = calloc(n, sizeof(*l.stamp));
    l.out = calloc(n, 1);
    l.nb = malloc(n * sizeof(*l.nb));
    l.nb_tmp = malloc(n * sizeof(*l.nb_tmp));
    l.mass = malloc(n * sizeof(*l.mass));
    l.keys = malloc(n * sizeof(*l.keys));
    if (!l.cur || !l.trial || !l.ord || !l.tord || !l.pos || !l.ev || !l.sel || !l.cand ||
        !l.key || !l.stamp || !l.out || !l.nb || !l.nb_tmp || !l.mass || !l.keys)
        goto out;
    for (i = 0; i < n; i++) {
        l.mass[i] = (double)b[i].bytes * (double)(l.hi[i] - l.lo[i]);
        l.ord[i] = (uint32_t)i;
    }

    /* the starting plan, fallen (no buffer higher) */
    memcpy(l.trial, off, n * sizeof(*off));
    l.gen = 1;
    for (i = 0; i < n; i++)
        l.stamp[i] = l.gen;
    rc = lns_fall(&l, &cur);
    if (rc < 0)
        goto out;
    tmp = l.ord, l.ord = l.tord, l.tord = tmp;
    memcpy(l.cur, l.trial, n * sizeof(*l.cur));
    if (cur.peak < best) {
        best = cur.peak;
        memcpy(off, l.cur, n * sizeof(*off));
    }

    for (it = 0; best > stop_at && l.work <= work_cap; it++) {
        if (deadline == HUGE_VAL && it - it_best > LNS_STALL_STEPS(n))
            break; /* the fast mode: no better peak for a long while */
        size_t k;
        if ((it & 15) == 0 && deadline < HUGE_VAL && planner_now_s() > deadline)
            break;
        if (l.timed ? lns_rnd(&l) % LNS_RESTART_1_IN == 0 : lns_rnd(&l) % 2 == 1) {
            rc = lns_restart(&l, &trial);
        } else {
            k = lns_ruin(&l, cur.peak);
            if (k == 0)
                continue;
            lns_recreate(&l, k, cur.peak);
            rc = lns_fall(&l, &trial);
        }
        if (rc < 0)
            goto out;
        if (score_le(trial, cur)) {
            tmp = l.ord, l.ord = l.tord, l.tord = tmp;
            memcpy(l.cur, l.trial, n * sizeof(*l.cur));
            cur = trial;
            if (cur.peak < best) {
                best = cur.peak;
                it_best = it;
                memcpy(off, l.cur, n * sizeof(*off));
            }
        }
    }
    *peak = best;
    rc = 0;
out:
    if (work)
        *work += l.work;
    lns_free(&l);
    return rc < 0 ? rc : 0;
}
