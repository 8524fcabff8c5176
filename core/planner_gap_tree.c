/* planner_gap_tree.c - the gap engine's occupancy tree: free offset gaps over a time window.
 *
 * A segment tree over the time slots (distinct lowers and uppers). A placed
 * buffer lives in the O(log T) canonical nodes of its slots [lo, hi). Each
 * node keeps two lists of disjoint offset intervals, sorted: own, the union
 * of the buffers whose canonical nodes include it, and sub, the union of own
 * over its subtree. A buffer overlaps the window [lo, hi) iff one of its
 * canonical nodes is in the subtree of one of the window's canonical nodes
 * or is an ancestor of one; so the occupied offsets over the window are the
 * union of sub of the window's nodes and own of their ancestors. In a dense
 * packing those unions are a few intervals where the placed neighbours are
 * hundreds, and the gaps between them are exactly the gaps the neighbour
 * scan finds (sizes are never 0: planner.c refuses them, so a neighbour
 * never splits a gap without occupying it).
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ilist {
    struct span *v;
    uint32_t n, cap;
};

struct gap_tree {
    size_t sz;           /* leaves: a power of two >= slots */
    struct ilist *own, *sub;
    uint32_t *lo, *hi;   /* each buffer's slots */
    uint32_t *stamp, gen;
};

void planner_gap_tree_free(struct gap_tree *t)
{
    size_t i;
    if (!t)
        return;
    for (i = 0; t->own && i < 2 * t->sz; i++)
        free(t->own[i].v);
    for (i = 0; t->sub && i < 2 * t->sz; i++)
        free(t->sub[i].v);
    free(t->own);
    free(t->sub);
    free(t->lo);
    free(t->hi);
    free(t->stamp);
    free(t);
}

int planner_gap_tree_new(const struct plan_buffer *b, size_t n, struct gap_tree **out)
{
    struct gap_tree *t = calloc(1, sizeof(*t));
    struct event *ev = planner_make_events(b, n);
    size_t i, m = 0;
    uint64_t last = 0;

    *out = NULL;
    if (!t || !ev)
        goto err;
    t->lo = malloc(n * sizeof(*t->lo) + 1);
    t->hi = malloc(n * sizeof(*t->hi) + 1);
    if (!t->lo || !t->hi)
        goto err;
    for (i = 0; i < 2 * n; i++) {
        if (i == 0 || ev[i].t != last)
            m++;
        last = ev[i].t;
        if (ev[i].start)
            t->lo[ev[i].idx] = (uint32_t)(m - 1);
        else
            t->hi[ev[i].idx] = (uint32_t)(m - 1);
    }
    for (t->sz = 1; t->sz < m; t->sz *= 2)
        ;
    t->own = calloc(2 * t->sz, sizeof(*t->own));
    t->sub = calloc(2 * t->sz, sizeof(*t->sub));
    t->stamp = calloc(2 * t->sz, sizeof(*t->stamp));
    if (!t->own || !t->sub || !t->stamp)
        goto err;
    free(ev);
    *out = t;
    return 0;
err:
    free(ev);
    planner_gap_tree_free(t);
    return -ENOMEM;
}

void planner_gap_tree_clear(struct gap_tree *t)
{
    for (size_t i = 0; i < 2 * t->sz; i++)
        t->own[i].n = t->sub[i].n = 0;
}

/* Add [off, end) to the union l (merging what it touches). */
static int ilist_add(struct ilist *l, uint64_t off, uint64_t end)
{
    uint32_t a = 0, z = l->n, k, i;
    /* first interval with end >= off */
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        if (l->v[m].end < off)
            a = m + 1;
        else
            z = m;
    }
    for (k = a; k < l->n && l->v[k].off <= end; k++)
        ;
    if (k > a) { /* [a, k) merge into one */
        if (l->v[a].off < off)
            off = l->v[a].off;
        if (l->v[k - 1].end > end)
            end = l->v[k - 1].end;
        l->v[a] = (struct span){off, end};
        if (k > a + 1) {
            memmove(&l->v[a + 1], &l->v[k], (l->n - k) * sizeof(*l->v));
            l->n -= k - a - 1;
        }
        return 0;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 4;
        struct span *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    for (i = l->n; i > a; i--)
        l->v[i] = l->v[i - 1];
    l->v[a] = (struct span){off, end};
    l->n++;
    return 0;
}

/* Runs body with u set to each canonical node of slots [lo_, hi_). */
#define FOR_CANON(t, lo_, hi_, body)                                                       \
    do {                                                                                   \
        size_t l_ = (lo_) + (t)->sz, r_ = (hi_) + (t)->sz;                                 \
        while (l_ < r_) {                                                                  \
            if (l_ & 1) {                                                                  \
                size_t u = l_++;                                                           \
                body;                                                                      \
            }                                                                              \
            if (r_ & 1) {                                                                  \
                size_t u = --r_;                                                           \
                body;                                                                      \
            }                                                                              \
            l_ /= 2;                                                                       \
            r_ /= 2;                                                                       \
        }                                                                                  \
    } while (0)

int planner_gap_tree_place(struct gap_tree *t, uint32_t x, uint64_t off, uint64_t end)
{
    int rc = 0;
    t->gen++;
    FOR_CANON(t, t->lo[x], t->hi[x], {
        if (rc == 0)
            rc = ilist_add(&t->own[u], off, end);
        for (size_t a = u; a >= 1 && rc == 0 && t->stamp[a] != t->gen; a /= 2) {
            t->stamp[a] = t->gen;
            rc = ilist_add(&t->sub[a], off, end);
        }
    });
    return rc;
}

static int push_list(struct engine *e, const struct ilist *l)
{
    if (e->nb_n + l->n > e->nb_cap) {
        size_t cap = e->nb_cap;
        struct span *p;
        while (cap < e->nb_n + l->n)
            cap *= 2;
        p = realloc(e->nb, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        e->nb = p;
        p = realloc(e->tmp, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        e->tmp = p;
        e->nb_cap = cap;
    }
    memcpy(&e->nb[e->nb_n], l->v, l->n * sizeof(*l->v));
    e->nb_n += l->n;
    e->work += 1 + l->n;
    return 0;
}

int planner_gap_tree_collect(struct engine *e, uint32_t x)
{
    struct gap_tree *t = e->tree;
    int rc = 0;
    t->gen++;
    FOR_CANON(t, t->lo[x], t->hi[x], {
        t->stamp[u] = t->gen;
        if (rc == 0 && t->sub[u].n)
            rc = push_list(e, &t->sub[u]);
    });
    FOR_CANON(t, t->lo[x], t->hi[x], {
        for (size_t a = u / 2; a >= 1 && rc == 0 && t->stamp[a] != t->gen; a /= 2) {
            t->stamp[a] = t->gen;
            if (t->own[a].n)
                rc = push_list(e, &t->own[a]);
        }
    });
    return rc;
}
