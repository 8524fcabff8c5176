/* planner_search.c - branch and bound (time-limited mode, small problems).
 *
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
#include "planner_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE64 UINT64_MAX

static int cand_cmp(const void *pa, const void *pb)
{
    const struct bnb_cand *a = pa, *b = pb;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return a->pre < b->pre ? -1 : a->pre > b->pre;
}

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
    if ((++g->nodes & 255) == 0 && planner_now_s() > g->deadline) {
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
    qsort(g->kk, m, sizeof(*g->kk), planner_key_cmp);
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

void planner_bnb_free(struct bnb *g)
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
int planner_bnb_init(struct bnb *g, const struct plan_buffer *b, size_t n, const struct sky *s,
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
        planner_bnb_free(g);
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
            planner_bnb_free(g);
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
int planner_bnb_try(struct bnb *g, uint64_t cap, uint64_t node_limit, uint64_t *off)
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

/* Preorders for the search (MiniMalloc's names): W = time slots spanned,
 * A = area (size x lifetime), T = the largest load over the lifetime. */
void planner_preorder(const struct plan_buffer *b, size_t n, const struct sky *s,
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
    planner_sort_keys(kk, n);
    for (i = 0; i < n; i++)
        order[i] = kk[i].idx;
}
