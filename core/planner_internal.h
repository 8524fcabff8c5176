/* planner_internal.h - what the planner's files share; never installed.
 *
 * The files, each calling only those below it (no file calls back into one
 * that calls it):
 *   planner.c             the interface: the table of policies, planner_run
 *                         (validation first), planner_find, the list
 *   planner_portfolio.c   policy "portfolio" (the default)
 *   planner_linear_scan.c policy "linear-scan"
 *   planner_greedy_size.c policy "greedy-size"
 *   planner_dive.c        the search's first dive as a pass (portfolio)
 *   planner_skyline.c     the skyline engine (portfolio)
 *   planner_search.c      branch and bound (portfolio)
 *   planner_repair.c      overlap minimisation below a cap (portfolio)
 *   planner_gap.c         the gap engine (greedy-size, portfolio)
 *   planner_gap_tree.c    its occupancy tree over time (large problems)
 *   planner_verify.c      planner_verify
 *   planner_bound.c       the lower bound, alignment padding counted
 *   planner_util.c        events, sort keys, overlapping pairs, clock: calls
 *                         none of the others
 * Every policy's run is called by planner_run() after validate(), so
 * n < UINT32_MAX and no offset computed below overflows.
 */
#ifndef ORION_PLANNER_INTERNAL_H
#define ORION_PLANNER_INTERNAL_H

#include "planner.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint64_t align_of(const struct plan_buffer *b)
{
    return b->align > 1 ? b->align : 1;
}

/* Round v up to a multiple of a (a power of two); callers made sure that no
 * value they pass can overflow (see validate() in planner.c). */
static inline uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* ---- shared helpers (planner_util.c) ------------------------------------ */

struct event {
    uint64_t t;
    uint32_t start; /* 0: an end, sorted before a start at the same time */
    uint32_t idx;
};

/* Sort ev[0..m) by t, stably (LSD radix). Returns 0 or -ENOMEM. */
int planner_sort_events(struct event *ev, size_t m);
/* The same with tmp[0..m) as scratch: LSD radix, a byte a pass, skipping
 * bytes in which all times agree (insertion below 49). */
void planner_sort_events_with(struct event *ev, struct event *tmp, size_t m);

/* The horizon of b[0..n): *lo the earliest lower, *hi the latest upper
 * (UINT64_MAX and 0 for none); returns how many buffers live over all of
 * it (a model's weights), which the planner's parts take apart. */
size_t planner_horizon(const struct plan_buffer *b, size_t n, uint64_t *lo, uint64_t *hi);

/* The 2n starts and ends of b[0..n) in time order, ends before starts at
 * equal times, then by index. The caller frees it; NULL when out of memory. */
struct event *planner_make_events(const struct plan_buffer *b, size_t n);

struct order_key {
    double k1, k2, k3;
    uint32_t idx;
};

/* The orderings of buffers the policies and engines sort by (keys larger
 * first, then by index). */
enum order_kind {
    ORDER_SIZE,          /* size, then lifetime */
    ORDER_SIZE_LOW,      /* size, then earlier start */
    ORDER_SIZE_IDX,      /* size, then index: greedy-size's own order */
    ORDER_LOAD,          /* the largest load over the lifetime, then size */
    ORDER_AREA,          /* size x lifetime */
    ORDER_LIFE,          /* lifetime, then size */
    N_ORDERS
};

/* Buffer i's key in ordering kind (load[]: the largest load over each
 * lifetime, read by ORDER_LOAD only). A function of b[i] and load[i] alone,
 * so an engine can make the keys it needs when it needs them. */
static inline struct order_key planner_order_key(const struct plan_buffer *b, size_t i,
                                                 enum order_kind kind, const uint64_t *load)
{
    double size = (double)b[i].bytes, life = (double)(b[i].upper - b[i].lower);
    double low = -(double)b[i].lower;
    switch (kind) {
    case ORDER_SIZE: return (struct order_key){size, life, low, (uint32_t)i};
    case ORDER_SIZE_LOW: return (struct order_key){size, low, 0, (uint32_t)i};
    case ORDER_SIZE_IDX: return (struct order_key){size, 0, 0, (uint32_t)i};
    case ORDER_LOAD: return (struct order_key){(double)load[i], size, life, (uint32_t)i};
    case ORDER_AREA: return (struct order_key){size * life, size, low, (uint32_t)i};
    default: return (struct order_key){life, size, low, (uint32_t)i};
    }
}

/* qsort comparator of struct order_key: descending k1, k2, k3; then
 * ascending index. */
int planner_key_cmp(const void *pa, const void *pb);

/* Sort k[0..n) in planner_key_cmp's order, in place (no scratch: keys are
 * distinct by index, so the order is unique and need not be stable). */
void planner_sort_keys(struct order_key *k, size_t n);

/* The pairs of buffers overlapping in time, as CSR over buffers: y is in
 * (*adj)[(*adj_start)[x] .. (*adj_start)[x + 1]) when slots [lo[y], hi[y])
 * and [lo[x], hi[x]) meet (slots: the largest hi; max_pairs at most
 * 2^31 - 1, the offsets being 32 bits); with rev (may be NULL),
 * (*rev)[k] is the entry of the same pair seen from the other buffer. The
 * arrays are malloc'd for the caller to free; *work grows by the pairs and
 * n. Returns 0, 1 when there are more than max_pairs (nothing made), or
 * -ENOMEM. */
int planner_overlaps(const uint32_t *lo, const uint32_t *hi, size_t n, size_t slots,
                     uint64_t max_pairs, uint32_t **adj_start, uint32_t **adj,
                     uint32_t **rev, uint64_t *work);

/* Monotonic clock, in seconds. */
double planner_now_s(void);

/* ---- the lower bound (planner_bound.c) --------------------------------- */

/* *lb = planner_lower_bound(b, n). Returns 0 or -ENOMEM. */
int planner_bound(const struct plan_buffer *b, size_t n, uint64_t *lb);

/* ---- the gap engine (planner_gap.c) ------------------------------------- */

struct span {
    uint64_t off, end;
};

enum rule { RULE_BEST_FIT, RULE_FIRST_FIT };

/* From this many buffers on, a pass finds the occupied offsets over a
 * buffer's lifetime with planner_gap_tree.c (a few merged intervals)
 * rather than by listing every placed neighbour; both give the same gaps,
 * so the same plan. */
#define GAP_TREE_MIN 2048u

struct gap_tree;
struct engine;
struct sky;

/* The occupancy tree of b[0..n) (planner_gap_tree.c): *out, empty. With s
 * (planner_sky_init'ed for b, borrowed: it must outlive the tree) it uses
 * s's slots, else makes its own (8 bytes a buffer, 48 while made). Returns
 * 0 or -ENOMEM. */
int planner_gap_tree_new(const struct plan_buffer *b, size_t n, const struct sky *s,
                         struct gap_tree **out);
void planner_gap_tree_free(struct gap_tree *t);
/* Empties it (keeps its memory). */
void planner_gap_tree_clear(struct gap_tree *t);
/* Records buffer x at [off, end). Returns 0 or -ENOMEM. */
int planner_gap_tree_place(struct gap_tree *t, uint32_t x, uint64_t off, uint64_t end);
/* Appends to e->nb spans whose union is the offsets occupied by placed
 * buffers overlapping x in time (unsorted, possibly overlapping). Returns 0
 * or -ENOMEM. */
int planner_gap_tree_collect(struct engine *e, uint32_t x);

struct engine {
    const struct plan_buffer *b;
    size_t n, leaves;
    /* by_low, leaf_of, seg, leaf_span: the neighbour scan's, NULL with a tree */
    uint32_t *by_low;     /* buffer indices by lower (then index) */
    uint32_t *leaf_of;    /* leaf_of[i]: position of buffer i in by_low */
    uint64_t *seg;        /* max upper of placed buffers in each subtree */
    uint64_t *off;        /* the pass's offsets */
    struct span *leaf_span; /* [off, end) of the placed buffer at each leaf */
    struct span *nb;      /* placed neighbours of the buffer being placed */
    struct span *tmp;     /* radix sort scratch, nb_cap long */
    size_t nb_n, nb_cap;
    struct gap_tree *tree; /* occupancy by time (GAP_TREE_MIN buffers or more), or NULL */
    /* Without a tree: the buffers live over the whole horizon [lo, hi) (a
     * model's weights) stay out of seg; their placed bytes are wu[0..wu_n),
     * merged runs by offset, w_placed of them placed. */
    uint64_t lo, hi;
    struct span *wu;
    size_t wu_n, w_placed;
    uint64_t work;        /* leaves visited + buffers placed, summed over passes */
};

/* Set up e for b[0..n) (b, and s if not NULL, are borrowed and must
 * outlive e; s: the skyline of b, whose slots the tree then shares).
 * Returns 0 or -ENOMEM (nothing to free then). */
int planner_engine_init(struct engine *e, const struct plan_buffer *b, size_t n,
                        const struct sky *s);
void planner_engine_free(struct engine *e);

/* One greedy pass over order[0..n) with a placement rule; e->off gets the
 * offsets. Returns 0 with *peak, 1 as soon as the peak exceeds cutoff, or
 * -ENOMEM. */
int planner_engine_pass(struct engine *e, const uint32_t *order, enum rule rule,
                        uint64_t cutoff, uint64_t *peak);


/* ---- the skyline engine (planner_skyline.c) ----------------------------- */

struct sky {
    size_t sz;          /* leaves, a power of two >= slots */
    uint64_t *mx, *tag; /* subtree max; value raised over the whole subtree;
                         * NULL until planner_sky_tree */
    uint32_t *lo, *hi;  /* each buffer's slots [lo, hi) */
    uint64_t work;
};

/* Set up s for b[0..n): the distinct times become slots; the tree (16
 * bytes a slot, 2 sz of them) is not made yet. Returns 0 or -ENOMEM
 * (nothing to free then). */
int planner_sky_init(struct sky *s, const struct plan_buffer *b, size_t n);
/* Make s's tree if it has none, as the passes below except the valleys
 * need (planner_sky_pass asserts it; lowest first makes it). Returns 0 or
 * -ENOMEM (s stays as it was). */
int planner_sky_tree(struct sky *s);
void planner_sky_free(struct sky *s);

/* The skyline one buffer at a time (s's tree made): empty it; the offset
 * buffer x would take on it (its height over x's slots, aligned; tree
 * nodes visited go to s->work); raise x's slots to end. */
void planner_sky_clear(struct sky *s);
uint64_t planner_sky_at(struct sky *s, const struct plan_buffer *b, uint32_t x);
void planner_sky_put(struct sky *s, uint32_t x, uint64_t end);

/* Place order[0..n) on the skyline; off[] out. Returns 0 with *peak, or 1
 * as soon as the peak exceeds cutoff. */
int planner_sky_pass(struct sky *s, const struct plan_buffer *b, size_t n,
                     const uint32_t *order, uint64_t cutoff, uint64_t *off, uint64_t *peak);

/* Lowest first by lazily re-keyed buffers (ties by keys[].k1, k2, larger
 * first): order[], off[] and *peak out. Returns 0, 1 once s->work passes
 * work_cap, or -ENOMEM. */
int planner_sky_lowest_first(struct sky *s, const struct plan_buffer *b, size_t n,
                             const struct order_key *keys, uint32_t *order, uint64_t *off,
                             uint64_t *peak, uint64_t work_cap);

/* The same after order[0..from) placed in that order (on the skyline
 * they leave): order[from..n) out. */
int planner_sky_lowest_first_from(struct sky *s, const struct plan_buffer *b, size_t n,
                                  const struct order_key *keys, uint32_t *order, size_t from,
                                  uint64_t *off, uint64_t *peak, uint64_t work_cap);

/* Which unplaced buffer lying inside the lowest valley goes there. */
enum valley_choice {
    VALLEY_FIRST, /* the earliest start, ties by the tie keys' k1, k2, larger first */
    VALLEY_AREA,  /* the largest size x slots spanned; equals as VALLEY_FIRST */
    VALLEY_RANK   /* the lowest rank of a gate's (planner_sky_valleys_gated only) */
};

/* Lowest first by valleys of the skyline (VALLEY_FIRST: O(n log n)), the
 * tie keys those of ordering tie (load[] as for planner_order_key; made
 * only for buffers starting in one slot with others): order[], off[] and
 * *peak out, *work counts the segments taken (and with VALLEY_AREA the
 * tree nodes visited). Needs no skyline tree. Returns 0 or -ENOMEM. */
int planner_sky_valleys(const struct sky *s, const struct plan_buffer *b, size_t n,
                        enum order_kind tie, const uint64_t *load, enum valley_choice choice,
                        uint32_t *order, uint64_t *off, uint64_t *peak, uint64_t *work);

/* Who may go where, for planner_sky_valleys_gated. */
struct valley_gate {
    const uint32_t *rank; /* rank[x]: lower goes first in a valley; distinct */
    void *ctx;
    /* May x go at off now? A refused buffer waits, out of the candidates,
     * until a placement overlapping it moves its place (its valley rising
     * does not); buffers still waiting at the end make the pass return 1.
     * NULL: all may. */
    bool (*accept_cb)(void *ctx, uint32_t x, uint64_t off);
    void (*placed_cb)(void *ctx, uint32_t x, uint64_t off); /* x went at off; may be NULL */
    uint64_t work_cap;    /* give up once *work passes it */
};

/* Lowest first by valleys (VALLEY_RANK), the gate deciding who may go:
 * as planner_sky_valleys (the leaf order: by start slot, then by size, then
 * by index); *work also counts the waiting buffers looked at. Returns 0,
 * 1 once *work passes gate->work_cap or with buffers left waiting, or
 * -ENOMEM. */
int planner_sky_valleys_gated(const struct sky *s, const struct plan_buffer *b, size_t n,
                              const struct valley_gate *gate, uint32_t *order, uint64_t *off,
                              uint64_t *peak, uint64_t *work);

/* ---- the search's first dive (planner_dive.c) -------------------------- */

/* Lowest first as the branch and bound's first dive at cap goes (see
 * planner_dive.c): ties by the rank in pre[0..n) (a preorder), and a
 * buffer whose place would leave a watched time slot too little room for
 * what is still to come there waits until its place moves. s: the skyline
 * of b (its tree is made if missing, and is scratch). Returns 0 with
 * order[], off[] and *peak (<= cap) out; 1 where the search would
 * backtrack (buffers left waiting for ever) or once s->work passes
 * work_cap; or -ENOMEM. */
int planner_sky_dive(struct sky *s, const struct plan_buffer *b, size_t n,
                     const uint32_t *pre, uint64_t cap, uint32_t *order, uint64_t *off,
                     uint64_t *peak, uint64_t work_cap);

/* ---- branch and bound (planner_search.c) -------------------------------- */

#define BNB_MAX_N 1000u
#define FAST_BNB_NODES 600u    /* a try, in the first round */
#define FAST_BNB_WORK 8000000u /* slot visits in the first round, all tries: ~10 ms */
#define BNB_MAX_PAIRS 200000u

struct bnb_cand {
    uint64_t off;
    uint32_t pre, idx;
};

struct bnb {
    const struct plan_buffer *b;
    size_t n, slots;
    uint32_t *adj_start, *adj;   /* overlaps, CSR */
    uint32_t *lo, *hi;           /* slots of each buffer */
    uint32_t *pre;               /* preorder rank of each buffer */
    uint64_t *minoff, *off;      /* off: NONE64 while unplaced */
    uint64_t *floor, *total;     /* per slot */
    uint64_t *ufloor;            /* per slot: lowest minoff of the unplaced live there */
    uint32_t *ucnt;              /* per slot: how many unplaced live there have it */
    uint32_t *slot_start, *slot_buf; /* buffers live in each slot, CSR: */
    uint32_t *slot_cnt;          /* the first slot_cnt[t] of slot t are unplaced */
    uint32_t *buf_start, *pos;   /* where in slot t buffer y is: pos[buf_start[y] + t - lo] */
    uint32_t *stamp, *rstamp, gen; /* slots logged / recounted in this placement */
    struct bnb_cand *pool;       /* candidate lists, one a depth */
    uint32_t *rest_pool;         /* what is left after a placement, a depth */
    uint32_t *by_lo;             /* all buffers by first slot */
    uint32_t *pre_pool;          /* preorder ranks saved while a group has its own */
    struct order_key *kk;        /* scratch of a group's preorder */
    size_t pool_used, rest_used, pre_used;
    size_t heur;                 /* which preorder (see planner_preorder()) */
    bool dyn;                    /* groups re-rank by their own loads, W by time */
    struct { uint32_t what, cnt; uint64_t old; } *undo;
    size_t undo_n, undo_cap;
    uint64_t cap, nodes_left, nodes;
    uint64_t work_left;          /* slot visits allowed (fast mode) */
    double deadline;
    bool timed_out;              /* also set when the undo log could not grow */
};

/* Set up g for b[0..n) with the slots of s (borrowed: s must outlive g),
 * preorder order[0..n) and pairs overlapping pairs. Returns 0 or -ENOMEM
 * (nothing to free then). The caller sets deadline and work_left. */
int planner_bnb_init(struct bnb *g, const struct plan_buffer *b, size_t n, const struct sky *s,
                     const uint32_t *order, uint64_t pairs);
void planner_bnb_free(struct bnb *g);

/* Look for a plan with peak <= cap within node_limit nodes. Returns 1 and
 * fills off[] with it, 0 if none exists (the search finished), -1 if it
 * ran out of nodes or time. The state is back to empty afterwards. */
int planner_bnb_try(struct bnb *g, uint64_t cap, uint64_t node_limit, uint64_t *off);

/* Preorders for the search (MiniMalloc's names): W = time slots spanned
 * (by_time: the lifetime in time), A = area (size x lifetime), T = the
 * largest load over the lifetime (load[]). which: 0 TWA, 1 TAW, 2 WAT.
 * kk[0..n) is scratch; order[0..n) out. */
#define N_PREORDERS 3
void planner_preorder(const struct plan_buffer *b, size_t n, const struct sky *s,
                      const uint64_t *load, size_t which, bool by_time, struct order_key *kk,
                      uint32_t *order);

/* ---- repair below a cap (planner_repair.c) ----------------------------- */

#define REPAIR_MAX_PAIRS 4000000u /* overlapping pairs; above, no search */

/* Improve the plan off[0..n) of b (peak *peak, no two buffers overlapping)
 * by overlap minimisation below a cap under the best peak, with s
 * (planner_sky_init'ed for b; its slots read only): until the peak is at
 * most stop_at, the work it spends (neighbours visited, places weighed)
 * passes work_cap, planner_now_s() passes deadline, or, with no deadline
 * (HUGE_VAL: then the result depends only on the input and the seed),
 * 20 n + 2,000 steps find no better plan. off[] and *peak get the best
 * plan found, never worse than the one passed in; *work (if not NULL) is
 * increased by the work spent. Returns 0 (also when the problem has more
 * than REPAIR_MAX_PAIRS overlapping pairs, or a peak above 2^62: nothing
 * done) or -ENOMEM. */
int planner_repair(const struct plan_buffer *b, size_t n, const struct sky *s, uint64_t *off,
                   uint64_t *peak, uint64_t stop_at, uint64_t work_cap, double deadline,
                   uint64_t seed, uint64_t *work);

/* ---- the policies: one descriptor each, listed by planner.c ------------- */

extern const struct planner_policy planner_portfolio_policy;
extern const struct planner_policy planner_linear_scan_policy;
extern const struct planner_policy planner_greedy_size_policy;

#endif
