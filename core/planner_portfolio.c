/* planner_portfolio.c - the portfolio policy (default): best of several heuristics, then search.
 *
 * (1) "lowest first" on a skyline (canonical placements, as in MiniMalloc)
 * with four tie rules; (2) greedy gap filling with several orderings x
 * best/first fit while a work budget lasts (the first two always, below
 * GAP_CAP overlapping pairs; the first is greedy-size's own pass, so the
 * default never ends above it there); (3) on problems of at most BNB_MAX_N
 * buffers, a MiniMalloc-style branch and bound at the lower bound, one round
 * with a small node and work limit; (4) iterated greedy on the best skyline
 * order for what is left of the work budget; (5) below GAP_TREE_MIN buffers,
 * repair below a cap from the best plan (planner_repair.c: overlap
 * minimisation, walking through infeasible plans) on its own work budget,
 * spent only above the bound. All of it deterministic: the
 * fast mode spends a work budget, not time. With a time limit, (3) goes on
 * in rounds with doubling node limits, each try at the lowest cap not proven
 * impossible and one between it and the best plan found (halfway, closer to
 * the best after a try runs out of nodes), and (4): together half the
 * time left where (3) runs, none where it does not; then (5) until the
 * deadline or a proven optimum (where it cannot run, above
 * REPAIR_MAX_PAIRS overlapping pairs, (3) and (4) until the deadline). The
 * engines are planner_skyline.c, planner_gap.c, planner_search.c and
 * planner_repair.c. Buffers live over the whole horizon are stacked first,
 * without search (portfolio_run). The fast mode runs greedy-size's pass
 * first, stops once within PLANNER_TOLERANCE of the bound (alignment
 * padding counted: planner_bound.c): it spends its work budget only while
 * above it; below GAP_TREE_MIN buffers the search's first dive at the bound
 * (planner_dive.c) comes next, then the phases above. From GAP_TREE_MIN
 * buffers on (the large traces) the fast mode is only skyline passes, each only while above the tolerance: lowest first
 * by valleys with the earliest start in the valley, the search's first
 * dive at the bound (planner_dive.c: ties by preorder rank, refusing what
 * would leave a tight slot too little room; it gives up where the search
 * would backtrack, or after DIVE_WORK a buffer), lowest first by valleys
 * with the largest area in the valley (a tenth of a gap pass each), then,
 * only while more than GAP_MARGIN above the bound or where gap passes are
 * cheap, the second gap run and greedy-size's pass with the best peak as
 * their cutoff, stopping at the tolerance: on the real traces a fifth to
 * some 0.85 (pangu_2.6B, with the dive) of greedy-size's own time.
 */
#include "planner_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- orderings ---------------------------------------------------------- */

static void make_keys(const struct plan_buffer *b, size_t n, enum order_kind kind,
                      const uint64_t *load, struct order_key *key)
{
    for (size_t i = 0; i < n; i++)
        key[i] = planner_order_key(b, i, kind, load);
}

static int make_order(const struct plan_buffer *b, size_t n, enum order_kind kind,
                      const uint64_t *load, uint32_t *order)
{
    struct order_key *key = malloc(n * sizeof(*key) + 1);
    size_t i;

    if (!key)
        return -ENOMEM;
    make_keys(b, n, kind, load, key);
    planner_sort_keys(key, n);
    for (i = 0; i < n; i++)
        order[i] = key[i].idx;
    free(key);
    return 0;
}

static int u32_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}

/* Greedy-size's order (ORDER_SIZE_IDX) from ORDER_SIZE's in order[0..n):
 * both sort by the size's key first, so each run of equal keys is only
 * sorted again by index. No keys made (where make_order's would be 32
 * bytes a buffer beside the gap engine), and faster. */
static void size_idx_from_size(const struct plan_buffer *b, size_t n, uint32_t *order)
{
    size_t i, j;
    for (i = 0; i < n; i = j) {
        double k1 = (double)b[order[i]].bytes; /* the key's own rounding */
        for (j = i + 1; j < n && (double)b[order[j]].bytes == k1; j++)
            ;
        if (j - i > 1)
            qsort(order + i, j - i, sizeof(*order), u32_cmp);
    }
}

/* Largest live load over each buffer's lifetime (out[], unless NULL): the
 * load profile at every start, then a range-max segment tree over the
 * starts in time order. Also the lower bound and the number of overlapping
 * pairs. */
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
    if (!out) {
        free(tree);
        return 0;
    }
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

/* ---- portfolio ---------------------------------------------------------- */

/* *load, made if still NULL (the caller frees it). Returns 0 or -ENOMEM. */
static int need_load(const struct plan_buffer *b, size_t n, const struct sky *s,
                     uint64_t **load)
{
    uint64_t lb, pairs;
    int rc;
    if (*load)
        return 0;
    if ((*load = malloc(n * sizeof(**load) + 1)) == NULL)
        return -ENOMEM;
    rc = profile(b, n, s, *load, &lb, &pairs);
    if (rc < 0) {
        free(*load);
        *load = NULL;
    }
    return rc;
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
 * tree node visited or a buffer placed: a few ns each). It is spent only
 * while the plan is above the bound: a problem whose first pass (greedy
 * size's own) is at the bound costs that pass and the set-up, a small
 * multiple of greedy-size's time; one above it gets this budget (some ms),
 * as hard problems need it (planner_stats.work says what was spent). */
#define FAST_BUDGET 2000000u
#define GAP_CAP 16000000u
/* Large problems (GAP_TREE_MIN buffers on) with more than FAST_BUDGET
 * overlapping pairs make their gap passes only while the skyline's plan is
 * more than this fraction above the bound: there a gap pass costs as much
 * as greedy-size's whole run (30-500 ms on the real traces), and on the
 * real traces the skyline's plans within it were never beaten by one
 * (pangu_2.6B's valleys were 0.76% above the bound, 4 bytes below
 * greedy-size's; its dive is at the bound). */
#define GAP_MARGIN 0.01
/* The repair's own budget (phase 5; planner_repair.c's units): at most
 * some 0.3-0.5 s on 1,000-2,000 buffers, spent only above the bound (and
 * it stops sooner after 20 n + 2,000 steps without a better plan)... */
#define REPAIR_FAST_WORK 150000000u
/* ... and only on a plan more than this above the bound: at most half a
 * percent of memory to win is not worth up to half a second of every
 * registration (resnet50's trace, 0.09% above a bound it cannot reach,
 * spent the whole budget of the ruin and recreate before it for nothing:
 * 0.35-0.6 s against 26 ms). With a time limit it runs wherever the plan
 * is not proven optimal. */
#define REPAIR_MARGIN 0.005

/* The dive's work (skyline passes' units) a buffer, at most: pangu_2.6B's
 * takes some 205 (to the bound). */
#define DIVE_WORK 320u
/* Without a search allowed (planner_opts.no_search: the daemon's event
 * loop), what the fast mode may spend before it gives up: a greedy pass
 * over at most this many overlapping pairs (some 10-30 ns a pair) and a
 * dive of at most this much work (some 5 ns a unit), each well under a
 * millisecond; the random DAG of the registration benchmark (100 buffers)
 * and mobilenet_v2 stay far below both. */
#define NO_SEARCH_PAIRS 15000u
#define NO_SEARCH_DIVE_WORK 50000u

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

/* The gap engine is set up at its first pass, not before: a problem solved
 * on the skyline (most large ones) never pays for its memory, and the
 * skyline's passes do not run beside it. */
static int engine_ready(struct engine *e, bool *ready, const struct plan_buffer *b, size_t n,
                        const struct sky *s)
{
    int rc;
    if (*ready)
        return 0;
    rc = planner_engine_init(e, b, n, s); /* the tree borrows the skyline's slots */
    if (rc < 0) {
        memset(e, 0, sizeof(*e)); /* freed by the failed init */
        return rc;
    }
    *ready = true;
    return 0;
}

/* The search's first dive (planner_dive.c), preorder TWA
 * with W by time (the one whose dive reached the bound on pangu_2.6B), at
 * cap: order[], off[], *peak out. Returns 0 with a plan at most cap, 1
 * without one (it would backtrack, or spent `work`), or -ENOMEM.
 * The loads are made (*load) if missing; the preorder's keys are freed. */
static int dive(const struct plan_buffer *b, size_t n, struct sky *s, uint64_t **load,
                uint64_t cap, uint64_t work, uint32_t *order, uint64_t *off, uint64_t *peak)
{
    struct order_key *kk = NULL;
    uint32_t *pre = NULL;
    int rc = need_load(b, n, s, load);
    if (rc < 0)
        return rc;
    kk = malloc(n * sizeof(*kk) + 1);
    pre = malloc(n * sizeof(*pre) + 1);
    if (!kk || !pre) {
        free(kk);
        free(pre);
        return -ENOMEM;
    }
    planner_preorder(b, n, s, *load, 0, true, kk, pre);
    free(kk);
    rc = planner_sky_dive(s, b, n, pre, cap, order, off, peak, s->work + work);
    free(pre);
    return rc;
}

/* Phases 1, 2, the first round of 3 and 4 on the work budget are the fast
 * mode and run the same with or without a time limit, so a limited run is
 * never worse than the fast one (when they take longer than the limit, as
 * on the largest traces, the call takes that long). The limit bounds what
 * comes after: more rounds of 3, then 4 again. */
static int portfolio_core(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
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
    uint64_t alb, target, budget, gap_above;
    struct planner_stats *st = opts ? opts->stats : NULL;
    uint64_t proven;         /* no plan has a lower peak */
    uint64_t nodes = FAST_BNB_NODES, lo_cap = 0, above = 2;
    struct bnb g;
    bool have_g = false, have_e = false, first = true, large = n >= GAP_TREE_MIN;
    int stage;
    double limit = opts && opts->time_limit_s > 0 ? opts->time_limit_s : 0;
    double deadline = limit > 0 ? planner_now_s() + limit : 0, until = deadline;
    bool no_search = opts != NULL && opts->no_search;
    /* Large problems in the fast mode use the skyline only for its valleys
     * (no tree, no tie keys kept) and never go back to the best order, so
     * keep none of it: the tie keys (32 bytes a buffer), the skyline's
     * tree (32 a slot), the best order, its offsets and phase 4's scratch
     * (20 a buffer) are not beside the valleys or the gap engine. */
    bool keep_cur = !large || limit > 0;
    size_t r, i;
    int rc;

#define SPENT() (e.work + s.work)

    memset(&e, 0, sizeof(e)); /* engine_ready sets it up */
    rc = planner_sky_init(&s, b, n);
    if (rc < 0) {
        planner_engine_free(&e);
        return rc;
    }
    if (!large && (rc = planner_sky_tree(&s)) < 0)
        goto out;
    rc = -ENOMEM;
    order = malloc(n * sizeof(*order) + 1);
    sr.off = malloc(n * sizeof(*sr.off) + 1);
    if (!order || !sr.off)
        goto out;
    /* The loads are for ORDER_LOAD and the search's preorders: on large
     * problems made only if a gap run by load comes (need_load). */
    if (!large && (load = malloc(n * sizeof(*load) + 1)) == NULL)
        goto out;
    if (!large && (keys = malloc(n * sizeof(*keys) + 1)) == NULL) /* phases 1 and 3 */
        goto out;
    if (keep_cur) {
        cur = malloc(n * sizeof(*cur) + 1);
        trial = malloc(n * sizeof(*trial) + 1);
        crit = malloc(n * sizeof(*crit) + 1);
        cur_off = malloc(n * sizeof(*cur_off) + 1);
        if (!cur || !trial || !crit || !cur_off)
            goto out;
    }
    rc = profile(b, n, &s, load, &sr.lb, &pairs);
    if (rc < 0)
        goto out;
    /* the padding alignment forces counted; the caller's when it has it */
    if (opts != NULL && opts->lower_bound > 0)
        alb = opts->lower_bound;
    else if ((rc = planner_bound(b, n, &alb)) < 0)
        goto out;
    if (alb > sr.lb)
        sr.lb = alb;
    /* Without a search allowed, only what stays cheap: small problems
     * whose greedy-size pass costs at most some NO_SEARCH_PAIRS pairs. */
    if (no_search && limit <= 0 && (large || pairs > NO_SEARCH_PAIRS)) {
        rc = -EAGAIN;
        goto out;
    }
    proven = sr.lb;
    lo_cap = sr.lb;
    /* The fast mode is done within the tolerance; a search only at a proof. */
    target = limit > 0 ? sr.lb : sr.lb + (uint64_t)((double)sr.lb * PLANNER_TOLERANCE);

    /* 0. Small problems: greedy-size's own pass (the first gap run) first:
     * where it is at the bound nothing else runs. Large ones (GAP_TREE_MIN
     * buffers or more, where a gap pass costs 30-500 ms and a skyline one a
     * tenth of that): lowest first by valleys, first the earliest start in
     * the valley (the first tie rule: what gets the iopddl traces to the
     * bound), then the search's first dive (pangu_2.6B, which every
     * lowest-first order left 0.76% above), then the largest area (the
     * other SOMAS ones; the dive, when it gives up there, costs bert_large
     * some 14 ms), the best one the
     * seed of a search under a time limit; then, only while more than
     * GAP_MARGIN above the bound, the second gap run and greedy-size's pass
     * (each cut off at the best peak so far). Phase 1 and the first two gap
     * runs are then done. (Where a gap pass is cheap, at most FAST_BUDGET
     * overlapping pairs, or under a time limit, they run whatever the
     * margin.) So the fast mode ends above greedy-size's plan only on large
     * problems with more pairs, and only where its own is within GAP_MARGIN
     * of the bound. */
    if (large) {
        /* the earliest start in the valley, the search's first dive, the
         * largest area in the valley */
        for (r = 0; r < 3 && sr.best > target; r++) {
            if (r == 1)
                rc = dive(b, n, &s, &load, target, (uint64_t)DIVE_WORK * n, order, sr.off,
                          &pk);
            else
                rc = planner_sky_valleys(&s, b, n, lf_ties[0], load,
                                         r ? VALLEY_AREA : VALLEY_FIRST, order, sr.off, &pk,
                                         &s.work);
            if (rc < 0)
                goto out;
            if (st)
                st->passes++;
            if (rc == 1)
                continue; /* the dive found no plan at the bound */
            if (keep_cur && pk < cur_peak) {
                cur_peak = pk;
                memcpy(cur, order, n * sizeof(*cur));
                memcpy(cur_off, sr.off, n * sizeof(*cur_off));
            }
            keep_if_better(&sr, sr.off, pk);
        }
        if (!keep_cur) { /* the scratch offsets' last use: not kept beside the engine */
            free(sr.off);
            sr.off = NULL;
        }
    }
    gap_above = large && pairs > FAST_BUDGET && limit <= 0
                    ? sr.lb + (uint64_t)((double)sr.lb * GAP_MARGIN)
                    : 0;
    for (r = large ? 1 : 0; pairs <= GAP_CAP && sr.best > target && sr.best > gap_above;
         r = large ? r - 1 : 1) {
        if (large && r == 0) { /* order[] is the first run's */
            assert(gap_runs[1].order == ORDER_SIZE && gap_runs[0].order == ORDER_SIZE_IDX);
            size_idx_from_size(b, n, order);
        } else if ((rc = make_order(b, n, gap_runs[r].order, load, order)) < 0) {
            goto out;
        }
        if ((rc = engine_ready(&e, &have_e, b, n, &s)) < 0)
            goto out;
        /* Without a search allowed a pass above the tolerance is no use
         * (the dive or the caller's search makes the plan): cut off there. */
        rc = planner_engine_pass(&e, order, gap_runs[r].rule,
                                 no_search && limit <= 0 && target < sr.best - 1 ? target
                                                                                : sr.best - 1,
                                 &pk);
        if (rc < 0)
            goto out;
        if (rc == 0)
            keep_if_better(&sr, e.off, pk);
        if (st)
            st->passes++;
        if (r == 0)
            break;
    }
    budget = FAST_BUDGET + e.work; /* that pass is not charged to the rest */

    /* 0b. Small problems above the tolerance: the search's first dive at
     * the bound itself (not the tolerance: a plan it finds is optimal),
     * before the skyline passes: where it gets there (resnet50, the
     * registration benchmark's random DAG) it costs a pass or two of theirs;
     * where it does not it gives up within DIVE_WORK a buffer, and the
     * phases below run as before. */
    if (!large && sr.best > target) {
        /* without a search allowed, at most NO_SEARCH_DIVE_WORK: where it
         * would need more, the caller plans the problem anew elsewhere (and
         * a dive that ends within it ends the same with more) */
        uint64_t dw = (uint64_t)DIVE_WORK * n;
        rc = dive(b, n, &s, &load, sr.lb, no_search && dw > NO_SEARCH_DIVE_WORK
                                              ? NO_SEARCH_DIVE_WORK : dw,
                  order, sr.off, &pk);
        if (rc < 0)
            goto out;
        if (st)
            st->passes++;
        if (rc == 0)
            keep_if_better(&sr, sr.off, pk);
    }

    /* Without a search allowed (and no time limit), what is left is
     * search: give up, for the caller to plan this where time is cheaper.
     * Only small problems get here so (large ones gave up at once), after
     * greedy-size's pass and the dive. */
    if (no_search && limit <= 0 && sr.best > target) {
        rc = -EAGAIN;
        goto out;
    }

    /* 1. Lowest first on the skyline by valleys, with several tie rules;
     * then (small problems) by lazily re-keyed buffers. The best order
     * seeds the search. */
    for (r = 0; r < 2 * sizeof(lf_ties) / sizeof(lf_ties[0]) && !large; r++) {
        size_t q = r % (sizeof(lf_ties) / sizeof(lf_ties[0]));
        if (sr.best <= target || (r > 0 && SPENT() > budget))
            break;
        if (r == q) {
            rc = planner_sky_valleys(&s, b, n, lf_ties[q], load, VALLEY_FIRST, order, sr.off,
                                     &pk, &s.work);
        } else {
            make_keys(b, n, lf_ties[q], load, keys);
            rc = planner_sky_lowest_first(&s, b, n, keys, order, sr.off, &pk,
                                          SPENT() + FAST_BUDGET / 4);
        }
        if (rc < 0)
            goto out;
        if (st)
            st->passes++;
        if (rc == 1)
            continue;
        if (pk < cur_peak) {
            cur_peak = pk;
            memcpy(cur, order, n * sizeof(*cur));
        }
        keep_if_better(&sr, sr.off, pk);
    }
    if (!large && cur_peak != UINT64_MAX &&
        planner_sky_pass(&s, b, n, cur, UINT64_MAX, cur_off, &cur_peak) == 0)
        keep_if_better(&sr, cur_off, cur_peak);

    /* 2. Greedy gap filling (TFLite-style) with several orderings, each
     * when a pass fits in what is left of the budget. */
    for (r = large ? 2 : 1; r < sizeof(gap_runs) / sizeof(gap_runs[0]); r++) {
        if (sr.best <= target)
            break;
        /* The first two always run below GAP_CAP overlapping pairs: on
         * real traces with thousands of long-lived buffers they are what
         * gets within 1% of the bound, at some 10-30 ns a pair. */
        if (SPENT() + pairs + n > budget && (r >= 2 || pairs > GAP_CAP))
            break;
        if (gap_runs[r].order == ORDER_LOAD && (rc = need_load(b, n, &s, &load)) < 0)
            goto out;
        rc = make_order(b, n, gap_runs[r].order, load, order);
        if (rc < 0)
            goto out;
        if ((rc = engine_ready(&e, &have_e, b, n, &s)) < 0)
            goto out;
        rc = planner_engine_pass(&e, order, gap_runs[r].rule, sr.best - 1, &pk);
        if (rc < 0)
            goto out;
        if (st)
            st->passes++;
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
    if (n <= BNB_MAX_N && pairs <= BNB_MAX_PAIRS && sr.best > target && cur_peak != UINT64_MAX) {
        rc = planner_bnb_init(&g, b, n, &s, cur, pairs);
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
        if (stage == 1 && (rc = planner_sky_tree(&s)) < 0) /* for 4 */
            goto out;
        if (stage == 1 && pairs <= REPAIR_MAX_PAIRS) /* half the time for 3 and 4, half for 5 */
            until = planner_now_s() + (have_g ? (deadline - planner_now_s()) / 2 : 0);
        if (have_g && stage == 1) {
            g.deadline = until;
            g.work_left = UINT64_MAX;
        }
        while (have_g && sr.best > lo_cap && !g.timed_out && (first || stage == 1) &&
               sr.best > (stage == 0 ? target : lo_cap)) {
            above = 2;
            for (size_t h = 0; h < N_PREORDERS && sr.best > lo_cap && !g.timed_out; h++) {
                planner_preorder(b, n, &s, load, h, !first, keys, order);
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
                    f = planner_bnb_try(&g, cap, nodes, sr.off);
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

        /* 4. (The fast mode: below GAP_TREE_MIN buffers only; above, a
         * replay costs some 10 ms and did not pay on the real traces.)
         * Iterated greedy on the skyline order: take a buffer that ends
         * at the peak, move it to a random earlier place (or swap two at
         * random), replay; keep the order if the peak did not grow
         * (plateaus let it drift), remember the best. Deterministic: a
         * fixed seed. */
        while (sr.best > (stage == 0 ? target : proven) && n > 1 && cur_peak != UINT64_MAX &&
               (stage == 0 ? !large && SPENT() <= budget : planner_now_s() <= until)) {
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
            if (planner_sky_pass(&s, b, n, trial, cur_peak, sr.off, &pk) != 0)
                continue;
            memcpy(cur, trial, n * sizeof(*cur));
            memcpy(cur_off, sr.off, n * sizeof(*cur_off));
            cur_peak = pk;
            keep_if_better(&sr, sr.off, pk);
        }

        /* 5. Repair below a cap (planner_repair.c) from the best plan: on
         * its own work budget in the fast mode (below GAP_TREE_MIN buffers,
         * and only more than REPAIR_MARGIN above the bound), until the
         * deadline with a limit. */
        uint64_t rep_above =
            stage == 0 ? sr.lb + (uint64_t)((double)sr.lb * REPAIR_MARGIN) : proven;
        if (sr.best > rep_above && (stage == 1 || !large) && pairs <= REPAIR_MAX_PAIRS) {
            for (i = 0; i < n; i++)
                sr.off[i] = b[i].off;
            pk = sr.best;
            rc = planner_repair(b, n, &s, sr.off, &pk, stage == 0 ? target : proven,
                                stage == 0 ? REPAIR_FAST_WORK : UINT64_MAX,
                                stage == 0 ? HUGE_VAL : deadline, (uint64_t)stage, &e.work);
            if (rc < 0)
                goto out;
            keep_if_better(&sr, sr.off, pk);
        }
    }
    if (st) {
        st->work += SPENT();
        st->search_nodes += have_g ? g.nodes : 0;
        st->lower_bound = sr.lb;
        st->at_bound = sr.best <= target;
    }
#undef SPENT
    *peak = sr.best;
    rc = 0;
out:
    if (have_g)
        planner_bnb_free(&g);
    free(sr.off);
    free(cur_off);
    free(load);
    free(crit);
    free(trial);
    free(cur);
    free(order);
    free(keys);
    planner_sky_free(&s);
    planner_engine_free(&e);
    return rc;
}

/* ---- buffers live over the whole horizon -------------------------------- */

/* Such buffers (persistent tensors, most of a small graph's) overlap every
 * other, so no search can do better than stacking them: most aligned first,
 * in a class the largest pad on top, below the plan of the rest or above it,
 * whichever peaks lower. The rest is planned alone, then moved. */
struct stacked {
    uint64_t align, pad;
    uint32_t idx;
};

/* Most aligned first, then the smaller pad, then by index. */
static inline bool stacked_before(const struct stacked *x, const struct stacked *y)
{
    if (x->align != y->align)
        return x->align > y->align;
    if (x->pad != y->pad)
        return x->pad < y->pad;
    return x->idx < y->idx;
}

/* Sort st[0..k) in stacked_before's order: a bottom-up merge sort with
 * tmp[0..k) as scratch, runs of 16 by insertion first (qsort's calls
 * through a pointer were a fifth of planning a small model's graph, where
 * most tensors are persistent). */
static void stacked_sort(struct stacked *st, struct stacked *tmp, size_t k)
{
    struct stacked *src = st, *dst = tmp, *sw;
    size_t i, w;
    for (i = 0; i < k; i += 16) {
        size_t end = i + 16 < k ? i + 16 : k;
        for (size_t a = i + 1; a < end; a++) {
            struct stacked x = st[a];
            size_t j = a;
            for (; j > i && stacked_before(&x, &st[j - 1]); j--)
                st[j] = st[j - 1];
            st[j] = x;
        }
    }
    for (w = 16; w < k; w *= 2) {
        for (i = 0; i < k; i += 2 * w) {
            size_t mid = i + w < k ? i + w : k, end = i + 2 * w < k ? i + 2 * w : k;
            size_t a = i, b = mid, o = i;
            while (a < mid && b < end)
                dst[o++] = stacked_before(&src[b], &src[a]) ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < end)
                dst[o++] = src[b++];
        }
        sw = src;
        src = dst;
        dst = sw;
    }
    if (src != st)
        memcpy(st, src, k * sizeof(*st));
}

/* Stack st[0..k) from `from` up; fills b[].off when b is not NULL. */
static uint64_t stack_from(struct plan_buffer *b, const struct plan_buffer *src,
                           const struct stacked *st, size_t k, uint64_t from)
{
    for (size_t j = 0; j < k; j++) {
        uint64_t o = align_up(from, st[j].align);
        if (b)
            b[st[j].idx].off = o;
        from = o + src[st[j].idx].bytes;
    }
    return from;
}

static int portfolio_run(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
                         uint64_t *peak)
{
    struct planner_stats *st = opts ? opts->stats : NULL;
    struct stacked *stk = NULL;
    struct plan_buffer *rest = NULL;
    uint32_t *rest_of = NULL;
    uint64_t lo, hi, rest_align = 1, rest_peak = 0, below, above, base, lb;
    size_t k = planner_horizon(b, n, &lo, &hi), m = 0, i;
    int rc = -ENOMEM;

    if (k == 0 || (k == n && n == 1))
        return portfolio_core(b, n, opts, peak);
    stk = malloc(2 * k * sizeof(*stk)); /* and the sort's scratch */
    rest = malloc((n - k) * sizeof(*rest) + 1);
    rest_of = malloc((n - k) * sizeof(*rest_of) + 1);
    if (!stk || !rest || !rest_of)
        goto out;
    for (i = 0, k = 0; i < n; i++) {
        uint64_t a = align_of(&b[i]);
        if (b[i].lower == lo && b[i].upper == hi) {
            stk[k++] = (struct stacked){a, align_up(b[i].bytes, a) - b[i].bytes, (uint32_t)i};
        } else {
            rest_of[m] = (uint32_t)i;
            rest[m++] = b[i];
            rest_align = a > rest_align ? a : rest_align;
        }
    }
    stacked_sort(stk, stk + k, k);
    if (m > 0) {
        struct planner_opts ro = opts != NULL ? *opts : (struct planner_opts){0};
        ro.lower_bound = 0; /* the caller's is the whole problem's, not the rest's */
        rc = portfolio_core(rest, m, &ro, &rest_peak);
        if (rc < 0)
            goto out;
    }
    /* No sum below overflows: validate() bounded the sizes plus their
     * worst padding, and every engine's peak is below that sum for its
     * buffers; the base's padding is at most the rest's largest alignment. */
    base = align_up(stack_from(NULL, b, stk, k, 0), rest_align);
    below = m > 0 ? base + rest_peak : base;
    above = stack_from(NULL, b, stk, k, rest_peak);
    if (m == 0 || below <= above) {
        *peak = stack_from(b, b, stk, k, 0) > below ? stack_from(b, b, stk, k, 0) : below;
        for (i = 0; i < m; i++)
            b[rest_of[i]].off = base + rest[i].off;
    } else {
        *peak = stack_from(b, b, stk, k, rest_peak);
        for (i = 0; i < m; i++)
            b[rest_of[i]].off = rest[i].off;
    }
    rc = 0;
    if (st) {
        if (opts->lower_bound > 0)
            lb = opts->lower_bound;
        else if ((rc = planner_bound(b, n, &lb)) < 0)
            goto out;
        st->lower_bound = lb;
        st->at_bound = *peak <= lb + (uint64_t)((double)lb * PLANNER_TOLERANCE);
    }
out:
    free(rest_of);
    free(rest);
    free(stk);
    return rc;
}

const struct planner_policy planner_portfolio_policy = {
    .name = "portfolio",
    .describe = "best of skyline lowest-first and greedy gap filling orderings, then "
                "search (a small work budget; with a time limit, branch and bound)",
    .run = portfolio_run,
};
