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

/* A node's list of disjoint intervals, 16 bytes: most lists hold one
 * interval (a dense packing merges what touches), kept in place; longer ones
 * move to the heap.
 *   end != 0:            the one interval [off, end) (a real end is > off >= 0)
 *   end == 0, off == 0:  empty
 *   end == 0, off != 0:  off is the address of a struct ilist_heap
 * A list on the heap stays there when cleared (n = 0), so a pass after the
 * first allocates only where the lists grow longer. */
struct ilist {
    uint64_t off, end;
};

struct ilist_heap {
    uint32_t n, cap;
    struct span v[];
};

struct gap_tree {
    size_t sz;           /* leaves: a power of two >= slots */
    struct ilist *own;   /* 2 sz nodes */
    struct ilist *sub;   /* nodes 1..sz-1: a leaf's sub would be its own */
    const uint32_t *lo, *hi; /* each buffer's slots: own_lo, own_hi or the sky's */
    uint32_t *own_lo, *own_hi;
    uint32_t *stamp, gen; /* nodes 1..sz-1 */
};

static struct ilist_heap *heap_of(const struct ilist *l)
{
    return l->end == 0 ? (struct ilist_heap *)(uintptr_t)l->off : NULL;
}

static uint32_t ilist_len(const struct ilist *l)
{
    const struct ilist_heap *h;
    if (l->end != 0)
        return 1;
    h = heap_of(l);
    return h ? h->n : 0;
}

static void ilist_free(struct ilist *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(heap_of(&l[i]));
}

void planner_gap_tree_free(struct gap_tree *t)
{
    if (!t)
        return;
    if (t->own)
        ilist_free(t->own, 2 * t->sz);
    if (t->sub)
        ilist_free(t->sub, t->sz);
    free(t->own);
    free(t->sub);
    free(t->own_lo);
    free(t->own_hi);
    free(t->stamp);
    free(t);
}

int planner_gap_tree_new(const struct plan_buffer *b, size_t n, const struct sky *s,
                         struct gap_tree **out)
{
    struct gap_tree *t = calloc(1, sizeof(*t));
    struct event *ev = NULL;
    size_t i, m = 0;
    uint64_t last = 0;

    *out = NULL;
    if (!t)
        goto err;
    if (s) { /* the same slots (the distinct times in order), so the same sz */
        t->lo = s->lo;
        t->hi = s->hi;
        t->sz = s->sz;
    } else {
        ev = planner_make_events(b, n);
        t->own_lo = malloc(n * sizeof(*t->own_lo) + 1);
        t->own_hi = malloc(n * sizeof(*t->own_hi) + 1);
        if (!ev || !t->own_lo || !t->own_hi)
            goto err;
        for (i = 0; i < 2 * n; i++) {
            if (i == 0 || ev[i].t != last)
                m++;
            last = ev[i].t;
            if (ev[i].start)
                t->own_lo[ev[i].idx] = (uint32_t)(m - 1);
            else
                t->own_hi[ev[i].idx] = (uint32_t)(m - 1);
        }
        t->lo = t->own_lo;
        t->hi = t->own_hi;
        for (t->sz = 1; t->sz < m; t->sz *= 2)
            ;
    }
    t->own = calloc(2 * t->sz, sizeof(*t->own));
    t->sub = calloc(t->sz, sizeof(*t->sub));
    t->stamp = calloc(t->sz, sizeof(*t->stamp));
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

static void ilist_clear(struct ilist *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct ilist_heap *h = heap_of(&l[i]);
        if (h)
            h->n = 0;
        else
            l[i].off = l[i].end = 0;
    }
}

void planner_gap_tree_clear(struct gap_tree *t)
{
    ilist_clear(t->own, 2 * t->sz);
    ilist_clear(t->sub, t->sz);
}

/* Add [off, end) to the union l (merging what it touches). */
static int ilist_add(struct ilist *l, uint64_t off, uint64_t end)
{
    struct ilist_heap *h;
    uint32_t a, z, k, i;

    if (l->end != 0) {
        if (l->end >= off && l->off <= end) { /* merges with the one */
            if (l->off < off)
                off = l->off;
            if (l->end > end)
                end = l->end;
            l->off = off;
            l->end = end;
            return 0;
        }
        h = malloc(sizeof(*h) + 2 * sizeof(h->v[0]));
        if (!h)
            return -ENOMEM;
        h->n = 1;
        h->cap = 2;
        h->v[0] = (struct span){l->off, l->end};
        l->off = (uint64_t)(uintptr_t)h;
        l->end = 0;
    } else if ((h = heap_of(l)) == NULL) { /* empty */
        l->off = off;
        l->end = end;
        return 0;
    }
    /* first interval with end >= off */
    a = 0;
    z = h->n;
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        if (h->v[m].end < off)
            a = m + 1;
        else
            z = m;
    }
    for (k = a; k < h->n && h->v[k].off <= end; k++)
        ;
    if (k > a) { /* [a, k) merge into one */
        if (h->v[a].off < off)
            off = h->v[a].off;
        if (h->v[k - 1].end > end)
            end = h->v[k - 1].end;
        h->v[a] = (struct span){off, end};
        if (k > a + 1) {
            memmove(&h->v[a + 1], &h->v[k], (h->n - k) * sizeof(h->v[0]));
            h->n -= k - a - 1;
        }
        return 0;
    }
    if (h->n == h->cap) {
        uint32_t cap = 2 * h->cap;
        struct ilist_heap *g = realloc(h, sizeof(*g) + cap * sizeof(g->v[0]));
        if (!g)
            return -ENOMEM;
        h = g;
        h->cap = cap;
        l->off = (uint64_t)(uintptr_t)h;
    }
    for (i = h->n; i > a; i--)
        h->v[i] = h->v[i - 1];
    h->v[a] = (struct span){off, end};
    h->n++;
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

/* A leaf's sub list is its own list (nothing lies below it), so only
 * internal nodes keep one: the walk up from a leaf starts at its parent. */
int planner_gap_tree_place(struct gap_tree *t, uint32_t x, uint64_t off, uint64_t end)
{
    int rc = 0;
    t->gen++;
    FOR_CANON(t, t->lo[x], t->hi[x], {
        if (rc == 0)
            rc = ilist_add(&t->own[u], off, end);
        for (size_t a = u < t->sz ? u : u / 2; a >= 1 && rc == 0 && t->stamp[a] != t->gen;
             a /= 2) {
            t->stamp[a] = t->gen;
            rc = ilist_add(&t->sub[a], off, end);
        }
    });
    return rc;
}

static int push_list(struct engine *e, const struct ilist *l)
{
    uint32_t n = ilist_len(l);
    if (n == 0)
        return 0;
    if (e->nb_n + n > e->nb_cap) {
        size_t cap = e->nb_cap;
        struct span *p;
        while (cap < e->nb_n + n)
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
    if (l->end != 0)
        e->nb[e->nb_n] = (struct span){l->off, l->end};
    else
        memcpy(&e->nb[e->nb_n], heap_of(l)->v, n * sizeof(e->nb[0]));
    e->nb_n += n;
    e->work += 1 + n;
    return 0;
}

/* The window's canonical nodes are disjoint subtrees, so none is an
 * ancestor of another: the walks up from them stop only at each other's
 * paths (stamp). */
int planner_gap_tree_collect(struct engine *e, uint32_t x)
{
    struct gap_tree *t = e->tree;
    int rc = 0;
    FOR_CANON(t, t->lo[x], t->hi[x], {
        if (rc == 0)
            rc = push_list(e, u < t->sz ? &t->sub[u] : &t->own[u]);
    });
    t->gen++;
    FOR_CANON(t, t->lo[x], t->hi[x], {
        for (size_t a = u / 2; a >= 1 && rc == 0 && t->stamp[a] != t->gen; a /= 2) {
            t->stamp[a] = t->gen;
            rc = push_list(e, &t->own[a]);
        }
    });
    return rc;
}
