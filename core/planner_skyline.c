/* planner_skyline.c - the skyline engine: passes over an order and lowest-first passes.
 *
 * Lowest first comes in two kinds: by lazily re-keyed buffers and by
 * valleys of the skyline.
 *
 * Buffers placed one after another, each on top of the highest placed
 * buffer it overlaps in time: offset = max over its lifetime of the
 * skyline. Every plan can be pushed down into this "canonical" form (each
 * buffer resting on another or on 0) without raising its peak, and the
 * canonical plan is what placing the buffers in order of offset gives, so
 * searching over orders loses nothing (MiniMalloc's observation). A pass is
 * O(n log T) with a segment tree over the T time slots holding the skyline
 * (range max; range "raise to", which never lowers, so no push-down). */
#include "planner_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void planner_sky_free(struct sky *s)
{
    free(s->mx);
    free(s->tag);
    free(s->lo);
    free(s->hi);
}

int planner_sky_init(struct sky *s, const struct plan_buffer *b, size_t n)
{
    struct event *ev = planner_make_events(b, n);
    uint64_t *t = malloc(2 * n * sizeof(*t) + 1);
    size_t m = 0, i;

    memset(s, 0, sizeof(*s));
    s->lo = malloc(n * sizeof(*s->lo) + 1);
    s->hi = malloc(n * sizeof(*s->hi) + 1);
    if (!ev || !t || !s->lo || !s->hi)
        goto err;
    for (i = 0; i < 2 * n; i++) {
        if (m == 0 || ev[i].t != t[m - 1])
            t[m++] = ev[i].t;
        if (ev[i].start)
            s->lo[ev[i].idx] = (uint32_t)(m - 1);
        else
            s->hi[ev[i].idx] = (uint32_t)(m - 1);
    }
    for (s->sz = 1; s->sz < m; s->sz *= 2)
        ;
    free(t);
    free(ev);
    return 0;
err:
    free(t);
    free(ev);
    planner_sky_free(s);
    return -ENOMEM;
}

int planner_sky_tree(struct sky *s)
{
    if (s->mx)
        return 0;
    s->mx = calloc(2 * s->sz, sizeof(*s->mx));
    s->tag = calloc(2 * s->sz, sizeof(*s->tag));
    if (!s->mx || !s->tag) {
        free(s->mx);
        free(s->tag);
        s->mx = s->tag = NULL;
        return -ENOMEM;
    }
    return 0;
}

static uint64_t sky_max(struct sky *s, size_t node, size_t nlo, size_t nhi, size_t a, size_t b)
{
    uint64_t r, q;
    size_t mid;
    if (a <= nlo && nhi <= b)
        return s->mx[node];
    s->work++;
    r = s->tag[node];
    mid = nlo + (nhi - nlo) / 2;
    if (a < mid && (q = sky_max(s, 2 * node, nlo, mid, a, b)) > r)
        r = q;
    if (b > mid && (q = sky_max(s, 2 * node + 1, mid, nhi, a, b)) > r)
        r = q;
    return r;
}

/* Raise the skyline over slots [lo, hi) to at least v, bottom up: the range's
 * canonical nodes get the raise as a tag and in their maxima, and every
 * node on the paths from its first and last leaves up (their ancestors,
 * and some nodes under them, whose maxima the raise only makes no smaller
 * than their tagged ancestors already say) in its maximum. */
static void sky_raise_range(struct sky *s, size_t lo, size_t hi, uint64_t v)
{
    size_t l = lo + s->sz, r = hi + s->sz, a, c;
    for (a = l, c = r; a < c; a >>= 1, c >>= 1) {
        if (a & 1) {
            s->tag[a] = s->tag[a] > v ? s->tag[a] : v;
            s->mx[a] = s->mx[a] > v ? s->mx[a] : v;
            a++;
        }
        if (c & 1) {
            c--;
            s->tag[c] = s->tag[c] > v ? s->tag[c] : v;
            s->mx[c] = s->mx[c] > v ? s->mx[c] : v;
        }
    }
    for (a = l >> 1; a > 0; a >>= 1)
        s->mx[a] = s->mx[a] > v ? s->mx[a] : v;
    for (c = (r - 1) >> 1; c > 0; c >>= 1)
        s->mx[c] = s->mx[c] > v ? s->mx[c] : v;
}

static void sky_reset(struct sky *s)
{
    assert(s->mx && s->tag); /* planner_sky_tree */
    memset(s->mx, 0, 2 * s->sz * sizeof(*s->mx));
    memset(s->tag, 0, 2 * s->sz * sizeof(*s->tag));
}

static uint64_t sky_where(struct sky *s, const struct plan_buffer *b, uint32_t x)
{
    return align_up(sky_max(s, 1, 0, s->sz, s->lo[x], s->hi[x]), align_of(&b[x]));
}

void planner_sky_clear(struct sky *s)
{
    sky_reset(s);
}

/* sky_where's value, bottom up without recursion: the range's canonical
 * nodes' maxima and the raises tagged above them, which sit on the paths
 * from its first and last leaves (a node only partly inside the range
 * holds one of them). One unit of work. */
uint64_t planner_sky_at(struct sky *s, const struct plan_buffer *b, uint32_t x)
{
    size_t l = s->lo[x] + s->sz, r = s->hi[x] + s->sz, a, c;
    uint64_t m = 0;
    s->work++;
    for (a = l, c = r; a < c; a >>= 1, c >>= 1) {
        if (a & 1)
            m = s->mx[a] > m ? s->mx[a] : m, a++;
        if (c & 1)
            c--, m = s->mx[c] > m ? s->mx[c] : m;
    }
    for (a = l >> 1; a > 0; a >>= 1)
        m = s->tag[a] > m ? s->tag[a] : m;
    for (c = (r - 1) >> 1; c > 0; c >>= 1)
        m = s->tag[c] > m ? s->tag[c] : m;
    return align_up(m, align_of(&b[x]));
}

void planner_sky_put(struct sky *s, uint32_t x, uint64_t end)
{
    sky_raise_range(s, s->lo[x], s->hi[x], end);
    s->work++;
}

/* Place order[0..n) on the skyline; off[] out. Returns 0 with *peak, or 1
 * as soon as the peak exceeds cutoff. */
int planner_sky_pass(struct sky *s, const struct plan_buffer *b, size_t n,
                     const uint32_t *order, uint64_t cutoff, uint64_t *off, uint64_t *peak)
{
    uint64_t pk = 0;
    size_t k;
    sky_reset(s);
    for (k = 0; k < n; k++) {
        uint32_t x = order[k];
        uint64_t o = sky_where(s, b, x), end = o + b[x].bytes;
        off[x] = o;
        if (end > pk) {
            pk = end;
            if (pk > cutoff)
                return 1;
        }
        sky_raise_range(s, s->lo[x], s->hi[x], end);
        s->work++;
    }
    *peak = pk;
    return 0;
}

/* Lowest first: repeatedly place, of the unplaced buffers, the one that
 * would sit lowest on the skyline (ties: by key, larger first). Keys only
 * grow as the skyline rises, so a min-heap with lazy re-keying works. The
 * order it produces seeds the search. Re-keying can cost O(overlaps):
 * gives up (returns 1) once s->work passes work_cap. */
struct lf_item {
    uint64_t at;
    double k1, k2;
    uint32_t idx;
};

static bool lf_less(const struct lf_item *a, const struct lf_item *b)
{
    if (a->at != b->at)
        return a->at < b->at;
    if (a->k1 != b->k1)
        return a->k1 > b->k1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2;
    return a->idx < b->idx;
}

static void lf_down(struct lf_item *h, size_t n, size_t i)
{
    struct lf_item x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && lf_less(&h[c + 1], &h[c]))
            c++;
        if (!lf_less(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

int planner_sky_lowest_first(struct sky *s, const struct plan_buffer *b, size_t n,
                             const struct order_key *keys, uint32_t *order, uint64_t *off,
                             uint64_t *peak, uint64_t work_cap)
{
    return planner_sky_lowest_first_from(s, b, n, keys, order, 0, off, peak, work_cap);
}

int planner_sky_lowest_first_from(struct sky *s, const struct plan_buffer *b, size_t n,
                                  const struct order_key *keys, uint32_t *order, size_t from,
                                  uint64_t *off, uint64_t *peak, uint64_t work_cap)
{
    struct lf_item *h = malloc(n * sizeof(*h) + 1);
    uint8_t *placed = calloc(n + 1, 1);
    uint64_t pk = 0;
    size_t hn = 0, k, i;

    if (!h || !placed || planner_sky_tree(s) < 0) {
        free(h);
        free(placed);
        return -ENOMEM;
    }
    sky_reset(s);
    for (k = 0; k < from; k++) {
        uint32_t x = order[k];
        uint64_t o = sky_where(s, b, x), end = o + b[x].bytes;
        off[x] = o;
        if (end > pk)
            pk = end;
        sky_raise_range(s, s->lo[x], s->hi[x], end);
        placed[x] = 1;
        s->work++;
    }
    for (i = 0; i < n; i++)
        if (!placed[i])
            h[hn++] = (struct lf_item){0, keys[i].k1, keys[i].k2, (uint32_t)i};
    free(placed);
    for (i = hn / 2; i-- > 0;)
        lf_down(h, hn, i);
    while (hn) {
        uint32_t x = h[0].idx;
        uint64_t at = sky_where(s, b, x), end;
        if (at != h[0].at) {
            if (++s->work > work_cap) {
                free(h);
                return 1;
            }
            h[0].at = at;
            lf_down(h, hn, 0);
            continue;
        }
        h[0] = h[--hn];
        lf_down(h, hn, 0);
        end = at + b[x].bytes;
        off[x] = at;
        order[k++] = x;
        if (end > pk)
            pk = end;
        sky_raise_range(s, s->lo[x], s->hi[x], end);
        s->work++;
    }
    free(h);
    *peak = pk;
    return 0;
}

/* Lowest first by valleys: the skyline as a list of segments (maximal runs
 * of slots at one height, mostly); take the lowest segment (leftmost among
 * equals), place in it an unplaced buffer whose lifetime lies inside it
 * (VALLEY_FIRST: the first in leaf order, earliest start, then by the tie
 * keys; VALLEY_AREA: the largest size x slots spanned, the first in leaf
 * order among equals, as Sekiyama et al.'s best fit picks the largest),
 * else raise it to its lower neighbour and merge: nothing can ever sit in
 * it. Every step places a buffer or removes a segment; with VALLEY_FIRST a
 * step is O(log n), so the whole is O(n log n) whatever the overlaps. The
 * VALLEY_AREA search prunes subtrees by their largest unplaced area and
 * their smallest end, which costs more where many buffers start inside a
 * segment but end past it (*work counts the nodes visited). Segments are
 * named by their first slot; a heap holds (height, first slot, version),
 * stale entries skipped. VALLEY_RANK (planner_sky_valleys_gated, for
 * planner_dive.c) takes the lowest rank of a gate's instead, pruning by the
 * subtrees' lowest rank, and lets the gate refuse: a refused buffer leaves
 * the candidate trees until a placement overlapping it. */

/* The tie keys of one start slot's buffers, sorted within it. */
struct vkey {
    double k1, k2;
    uint32_t idx;
};

static int vkey_cmp(const void *pa, const void *pb)
{
    const struct vkey *a = pa, *b = pb;
    if (a->k1 != b->k1)
        return a->k1 > b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2 ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The leaf order: vi[0..n) = the buffers by start slot, then by the tie
 * keys (larger first), then by index; first_leaf[t] (t in [0, slots]) =
 * how many start before slot t. A counting sort by start slot (stable, so
 * by index within one), then each slot's run sorted by its keys: 4 bytes
 * a buffer, and a scratch as long as the longest run, where sorting every
 * buffer's key took 64. Returns 0 or -ENOMEM. */
static int leaf_order(const struct sky *s, const struct plan_buffer *b, size_t n, size_t slots,
                      enum order_kind tie, const uint64_t *load, uint32_t *vi,
                      uint32_t *first_leaf)
{
    struct vkey *run = NULL;
    size_t i, t, longest = 0;
    for (i = 0; i < n; i++)
        first_leaf[s->lo[i] + 1]++;
    for (t = 1; t <= slots; t++)
        first_leaf[t] += first_leaf[t - 1];
    for (i = 0; i < n; i++) /* first_leaf[t] ends as the start of slot t + 1 */
        vi[first_leaf[s->lo[i]]++] = (uint32_t)i;
    for (t = slots; t > 0; t--)
        first_leaf[t] = first_leaf[t - 1];
    first_leaf[0] = 0;
    for (t = 0; t < slots; t++)
        if (first_leaf[t + 1] - first_leaf[t] > longest)
            longest = first_leaf[t + 1] - first_leaf[t];
    if (longest < 2)
        return 0;
    if ((run = malloc(longest * sizeof(*run))) == NULL)
        return -ENOMEM;
    for (t = 0; t < slots; t++) {
        size_t a = first_leaf[t], m = first_leaf[t + 1] - a, j;
        if (m < 2)
            continue;
        for (j = 0; j < m; j++) {
            uint32_t x = vi[a + j];
            struct order_key k = planner_order_key(b, x, tie, load);
            run[j] = (struct vkey){k.k1, k.k2, x};
        }
        qsort(run, m, sizeof(*run), vkey_cmp);
        for (j = 0; j < m; j++)
            vi[a + j] = run[j].idx;
    }
    free(run);
    return 0;
}

/* Candidates: a min-tree of hi over the unplaced buffers in leaf order.
 * First leaf in [a, b) with value <= lim, or SIZE_MAX. */
static size_t ct_first(const uint32_t *ct, size_t node, size_t lo, size_t hi, size_t a,
                       size_t b, uint32_t lim)
{
    size_t mid, r;
    if (hi <= a || b <= lo || ct[node] > lim)
        return SIZE_MAX;
    if (hi - lo == 1)
        return lo;
    mid = lo + (hi - lo) / 2;
    r = ct_first(ct, 2 * node, lo, mid, a, b, lim);
    if (r == SIZE_MAX)
        r = ct_first(ct, 2 * node + 1, mid, hi, a, b, lim);
    return r;
}

/* The largest area (ca[]: the largest over each subtree of the unplaced)
 * among leaves in [a, b) with hi <= lim (ct[]), the first leaf among
 * equals: *best, *best_area (in and out; *best SIZE_MAX while none). */
static void ca_best(const uint32_t *ct, const double *ca, size_t node, size_t lo, size_t hi,
                    size_t a, size_t b, uint32_t lim, size_t *best, double *best_area,
                    uint64_t *work)
{
    size_t mid;
    (*work)++;
    if (hi <= a || b <= lo || ct[node] > lim || ca[node] < *best_area ||
        (ca[node] == *best_area && lo > *best))
        return;
    if (hi - lo == 1) {
        *best = lo; /* ca > best_area, or equal and further left */
        *best_area = ca[node];
        return;
    }
    mid = lo + (hi - lo) / 2;
    if (ca[2 * node + 1] > ca[2 * node]) { /* the larger first: it prunes more */
        ca_best(ct, ca, 2 * node + 1, mid, hi, a, b, lim, best, best_area, work);
        ca_best(ct, ca, 2 * node, lo, mid, a, b, lim, best, best_area, work);
    } else {
        ca_best(ct, ca, 2 * node, lo, mid, a, b, lim, best, best_area, work);
        ca_best(ct, ca, 2 * node + 1, mid, hi, a, b, lim, best, best_area, work);
    }
}

/* The lowest rank (cr[]: the lowest over each subtree of the unplaced, not
 * waiting) among leaves in [a, b) with hi <= lim (ct[]), or SIZE_MAX; csz
 * leaves. Depth first by an explicit stack, the lower rank first (it
 * prunes more); ranks are distinct. */
struct cr_frame {
    size_t node, lo, hi;
};

/* Ranges of at most CR_SCAN leaves are scanned one by one (without a
 * branch a leaf), not searched: most of a dive's, which the search took
 * some thirteen nodes (400 instructions) each to answer (16 and 32 measured
 * the same). */
#define CR_SCAN 16u

static size_t cr_best(const uint32_t *ct, const uint32_t *cr, size_t csz, size_t a, size_t b,
                      uint32_t lim, uint64_t *work)
{
    struct cr_frame st[8 * sizeof(size_t) + 1]; /* a pending sibling a level, and the root */
    size_t sn = 0, best = SIZE_MAX;
    uint32_t best_rank = UINT32_MAX;
    if (b - a <= CR_SCAN) { /* few: the leaves themselves, without branches */
        const uint32_t *lt = ct + csz, *lr = cr + csz;
        *work += 1 + (b - a); /* about the nodes the search visits there */
        for (size_t i = a; i < b; i++) {
            bool ok = (lt[i] <= lim) & (lr[i] < best_rank);
            best = ok ? i : best;
            best_rank = ok ? lr[i] : best_rank;
        }
        return best;
    }
    st[sn++] = (struct cr_frame){1, 0, csz};
    while (sn > 0) {
        size_t node = st[--sn].node, lo = st[sn].lo, hi = st[sn].hi, mid, l, r;
        (*work)++;
        if (hi <= a || b <= lo || ct[node] > lim || cr[node] >= best_rank)
            continue;
        if (hi - lo == 1) {
            best = lo;
            best_rank = cr[node];
            continue;
        }
        mid = lo + (hi - lo) / 2;
        l = 2 * node;
        r = l + 1;
        if (cr[r] < cr[l]) { /* pushed last, taken first */
            st[sn++] = (struct cr_frame){l, lo, mid};
            st[sn++] = (struct cr_frame){r, mid, hi};
        } else {
            st[sn++] = (struct cr_frame){r, mid, hi};
            st[sn++] = (struct cr_frame){l, lo, mid};
        }
    }
    return best;
}

/* Leaf i of the candidate trees (csz leaves) set to hi, rank (UINT32_MAX:
 * out), the minima above it made again. */
static void cand_set(uint32_t *ct, uint32_t *cr, size_t csz, size_t leaf, uint32_t hi,
                     uint32_t rank)
{
    size_t i = csz + leaf;
    ct[i] = hi;
    for (; i > 1; i /= 2)
        ct[i / 2] = ct[i & ~(size_t)1] < ct[i | 1] ? ct[i & ~(size_t)1] : ct[i | 1];
    if (!cr)
        return;
    cr[csz + leaf] = rank;
    for (i = csz + leaf; i > 1; i /= 2)
        cr[i / 2] = cr[i & ~(size_t)1] < cr[i | 1] ? cr[i & ~(size_t)1] : cr[i | 1];
}

struct vseg_ref {
    uint64_t h;
    uint32_t start, ver;
};

static bool vref_less(const struct vseg_ref *a, const struct vseg_ref *b)
{
    return a->h != b->h ? a->h < b->h : a->start < b->start;
}

static void vheap_push(struct vseg_ref *hp, size_t *hn, struct vseg_ref x)
{
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!vref_less(&x, &hp[p]))
            break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static struct vseg_ref vheap_pop(struct vseg_ref *hp, size_t *hn)
{
    struct vseg_ref top = hp[0], x = hp[--*hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *hn)
            break;
        if (c + 1 < *hn && vref_less(&hp[c + 1], &hp[c]))
            c++;
        if (!vref_less(&hp[c], &x))
            break;
        hp[i] = hp[c];
        i = c;
    }
    if (*hn)
        hp[i] = x;
    return top;
}

/* The segments to visit, lowest first (ties: leftmost), as a heap and a
 * lane: a placement leaves the valley's two sides at the height just
 * taken, the lowest there is and left of every other segment at it (the
 * segments are disjoint, and the one taken was the lowest and leftmost),
 * so they go on a stack whose top is the next in that order, and a step
 * takes the lower of its top and the heap's. Two pushes in three skip the
 * heap so (its pops and their stale entries were half of a 100-buffer
 * dive's own time in the daemon). */
struct vsegs {
    uint32_t *end, *prev, *ver; /* by first slot; prev UINT32_MAX: none */
    uint64_t *h;
    struct vseg_ref *heap; /* grown as needed: mostly far below its bound, 5 n */
    struct vseg_ref *lane; /* at most two a placement: 2 n */
    size_t hn, cap, ln, slots;
};

/* (Re)define the segment [a, e) at height h after slot `prev`; its entry,
 * for the heap or the lane. */
static struct vseg_ref vseg_def(struct vsegs *v, uint32_t a, uint32_t e, uint64_t h,
                                uint32_t prev)
{
    v->end[a] = e;
    v->h[a] = h;
    v->prev[a] = prev;
    v->ver[a]++;
    if (e < v->slots)
        v->prev[e] = a;
    return (struct vseg_ref){h, a, v->ver[a]};
}

static void vseg_set(struct vsegs *v, uint32_t a, uint32_t e, uint64_t h, uint32_t prev)
{
    vheap_push(v->heap, &v->hn, vseg_def(v, a, e, h, prev));
}

/* The next segment to visit (maybe stale): false when none is left. */
static bool vseg_next(struct vsegs *v, struct vseg_ref *r)
{
    while (v->ln > 0 && v->lane[v->ln - 1].ver != v->ver[v->lane[v->ln - 1].start])
        v->ln--;
    if (v->ln > 0 && (v->hn == 0 || vref_less(&v->lane[v->ln - 1], &v->heap[0])))
        *r = v->lane[--v->ln];
    else if (v->hn > 0)
        *r = vheap_pop(v->heap, &v->hn);
    else
        return false;
    return true;
}

static int valleys(const struct sky *s, const struct plan_buffer *b, size_t n,
                   enum order_kind tie, const uint64_t *load, enum valley_choice choice,
                   const struct valley_gate *gate, uint32_t *order, uint64_t *off,
                   uint64_t *peak, uint64_t *work)
{
    struct vsegs v = {0};
    uint32_t *vi = malloc(n * sizeof(*vi) + 1), *first_leaf = NULL;
    uint32_t *ct = NULL; /* slots fit in 32 bits, as s->lo, s->hi do */
    uint32_t *cr = NULL, *wait = NULL; /* VALLEY_RANK: ranks; the waiting leaves */
    uint64_t pk = 0;
    double *ca = NULL;
    size_t slots = 0, csz, i, placed = 0, wn = 0;
    int rc = -ENOMEM;

    for (i = 0; i < n; i++)
        if (s->hi[i] > slots)
            slots = s->hi[i];
    v.slots = slots;
    for (csz = 1; csz < n; csz *= 2)
        ;
    v.end = calloc(slots + 1, sizeof(*v.end));
    v.prev = calloc(slots + 1, sizeof(*v.prev));
    v.ver = calloc(slots + 1, sizeof(*v.ver));
    v.h = calloc(slots + 1, sizeof(*v.h));
    v.cap = n / 8 + 8;
    v.heap = malloc(v.cap * sizeof(*v.heap));
    v.lane = malloc((2 * n + 2) * sizeof(*v.lane));
    ct = malloc(2 * csz * sizeof(*ct));
    first_leaf = calloc(slots + 1, sizeof(*first_leaf));
    if (choice == VALLEY_AREA)
        ca = malloc(2 * csz * sizeof(*ca));
    if (choice == VALLEY_RANK) {
        cr = malloc(2 * csz * sizeof(*cr));
        wait = malloc(n * sizeof(*wait) + 1);
    }
    if (!vi || !v.end || !v.prev || !v.ver || !v.h || !v.heap || !v.lane || !ct || !first_leaf ||
        (choice == VALLEY_AREA && !ca) || (choice == VALLEY_RANK && (!cr || !wait)))
        goto out;
    if (leaf_order(s, b, n, slots, tie, load, vi, first_leaf) < 0)
        goto out;
    for (i = 0; i < csz; i++)
        ct[csz + i] = i < n ? s->hi[vi[i]] : UINT32_MAX;
    for (i = csz; i-- > 1;)
        ct[i] = ct[2 * i] < ct[2 * i + 1] ? ct[2 * i] : ct[2 * i + 1];
    if (ca) {
        for (i = 0; i < csz; i++) {
            uint32_t y = i < n ? vi[i] : 0;
            ca[csz + i] = i < n ? (double)b[y].bytes * (double)(s->hi[y] - s->lo[y]) : -1;
        }
        for (i = csz; i-- > 1;)
            ca[i] = ca[2 * i] > ca[2 * i + 1] ? ca[2 * i] : ca[2 * i + 1];
    }
    if (cr) {
        for (i = 0; i < csz; i++)
            cr[csz + i] = i < n ? gate->rank[vi[i]] : UINT32_MAX;
        for (i = csz; i-- > 1;)
            cr[i] = cr[2 * i] < cr[2 * i + 1] ? cr[2 * i] : cr[2 * i + 1];
    }
    vseg_set(&v, 0, (uint32_t)slots, 0, UINT32_MAX);

    while (placed < n) {
        struct vseg_ref r;
        if (v.hn + 3 > v.cap) { /* a step pushes at most one (three, before the lane) */
            struct vseg_ref *grown = realloc(v.heap, 2 * v.cap * sizeof(*v.heap));
            if (!grown)
                goto out;
            v.heap = grown;
            v.cap *= 2;
        }
        if (!vseg_next(&v, &r))
            break;
        uint32_t a = r.start, e, pv;
        uint64_t h;
        size_t leaf;
        if (r.ver != v.ver[a])
            continue; /* stale */
        e = v.end[a];
        h = v.h[a];
        pv = v.prev[a];
        (*work)++;
        if (gate && *work > gate->work_cap) {
            rc = 1;
            goto out;
        }
        for (;;) {
            if (ca) {
                double best_area = 0; /* sizes are > 0, so every area is */
                leaf = SIZE_MAX;
                ca_best(ct, ca, 1, 0, csz, first_leaf[a], first_leaf[e], e, &leaf, &best_area,
                        work);
            } else if (cr) {
                leaf = cr_best(ct, cr, csz, first_leaf[a], first_leaf[e], e, work);
            } else {
                leaf = ct_first(ct, 1, 0, csz, first_leaf[a], first_leaf[e], e);
            }
            if (leaf == SIZE_MAX || !gate || !gate->accept_cb ||
                gate->accept_cb(gate->ctx, vi[leaf], align_up(h, align_of(&b[vi[leaf]]))))
                break;
            /* refused: out of the trees until its place moves */
            cand_set(ct, cr, csz, leaf, UINT32_MAX, UINT32_MAX);
            wait[wn++] = (uint32_t)leaf;
            (*work)++;
        }
        if (leaf != SIZE_MAX) {
            uint32_t x = vi[leaf], lo = s->lo[x], hi = s->hi[x];
            uint64_t o = align_up(h, align_of(&b[x])), end = o + b[x].bytes;
            off[x] = o;
            order[placed++] = x;
            if (end > pk)
                pk = end;
            cand_set(ct, cr, csz, leaf, UINT32_MAX, UINT32_MAX);
            if (gate && gate->placed_cb)
                gate->placed_cb(gate->ctx, x, o);
            for (i = 0; i < wn;) { /* a placement over a waiting buffer moves its place */
                uint32_t y = vi[wait[i]];
                (*work)++;
                if (s->lo[y] < hi && lo < s->hi[y]) {
                    cand_set(ct, cr, csz, wait[i], s->hi[y], gate->rank[y]);
                    wait[i] = wait[--wn];
                } else {
                    i++;
                }
            }
            if (ca) { /* placed: out of the area tree too */
                ca[csz + leaf] = -1;
                for (i = (csz + leaf) / 2; i >= 1; i /= 2)
                    ca[i] = ca[2 * i] > ca[2 * i + 1] ? ca[2 * i] : ca[2 * i + 1];
            }
            {
                /* [a, lo) stays at h; [lo, hi) rises to end, merged with
                 * neighbours already at that height; [hi, e) stays at h */
                uint32_t ma = lo, me = hi;
                struct vseg_ref left = {0};
                if (lo > a) {
                    left = vseg_def(&v, a, lo, h, pv);
                    pv = a;
                } else {
                    v.ver[a]++;
                    if (pv != UINT32_MAX && v.h[pv] == end) {
                        ma = pv;
                        pv = v.prev[pv];
                    }
                }
                if (hi == e && e < slots && v.h[e] == end) {
                    v.ver[e]++;
                    me = v.end[e];
                }
                vseg_set(&v, ma, me, end, pv);
                if (hi < e) /* the lane's order: the right side under the left */
                    v.lane[v.ln++] = vseg_def(&v, hi, e, h, ma);
                if (lo > a)
                    v.lane[v.ln++] = left;
            }
        } else {
            uint64_t lh = pv != UINT32_MAX ? v.h[pv] : UINT64_MAX;
            uint64_t rh = e < slots ? v.h[e] : UINT64_MAX;
            uint64_t nh = lh < rh ? lh : rh;
            uint32_t na = a, ne = e, npv = pv;
            if (nh == UINT64_MAX)
                break; /* cannot happen: every buffer lies in [0, slots) */
            v.ver[a]++;
            if (lh == nh) { /* merge into the left neighbour */
                na = pv;
                npv = v.prev[pv];
            }
            if (rh == nh) { /* swallow the right neighbour */
                v.ver[e]++;
                ne = v.end[e];
            }
            vseg_set(&v, na, ne, nh, npv);
        }
    }
    *peak = pk;
    rc = placed == n ? 0 : gate ? 1 : -EINVAL; /* gated: some wait for ever */
out:
    free(wait);
    free(cr);
    free(ca);
    free(first_leaf);
    free(ct);
    free(v.lane);
    free(v.heap);
    free(v.h);
    free(v.ver);
    free(v.prev);
    free(v.end);
    free(vi);
    return rc;
}

int planner_sky_valleys(const struct sky *s, const struct plan_buffer *b, size_t n,
                        enum order_kind tie, const uint64_t *load, enum valley_choice choice,
                        uint32_t *order, uint64_t *off, uint64_t *peak, uint64_t *work)
{
    assert(choice != VALLEY_RANK); /* needs a gate */
    return valleys(s, b, n, tie, load, choice, NULL, order, off, peak, work);
}

int planner_sky_valleys_gated(const struct sky *s, const struct plan_buffer *b, size_t n,
                              const struct valley_gate *gate, uint32_t *order, uint64_t *off,
                              uint64_t *peak, uint64_t *work)
{
    return valleys(s, b, n, ORDER_SIZE, NULL, VALLEY_RANK, gate, order, off, peak, work);
}
