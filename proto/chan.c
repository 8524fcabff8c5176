/* chan.c - the channel ring (see chan.h and docs/protocol.md, "Channels: the
 * control block").
 *
 * Memory ordering, in short (the full argument is in docs/protocol.md). Every
 * store or read-modify-write that a sleeper's condition depends on, the
 * sleeper-count updates and the waker's load of the sleeper count are
 * seq_cst, so they sit in one total order S:
 *
 *   sleeper: sleepers += 1; v = futex; re-check condition; FUTEX_WAIT(futex, v)
 *   waker:   make condition true (seq_cst); if (sleepers) { futex += 1; WAKE }
 *
 * If the waker's load of sleepers precedes the sleeper's increment in S, the
 * sleeper's re-check (later in S than the condition store) sees the condition
 * true and does not sleep. Otherwise the waker bumps the futex word and wakes:
 * either the sleeper read v after the bump (then its re-check is after the
 * condition store in S and sees it), or FUTEX_WAIT finds futex != v and
 * returns, or it is queued before the kernel handles the WAKE and is woken.
 * No wake-up is lost; a spurious one only costs a re-check.
 */
#include "chan.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "futex.h"

#define SEQ_CST memory_order_seq_cst
#define ACQ memory_order_acquire
#define REL memory_order_release
#define RLX memory_order_relaxed

_Static_assert(sizeof(struct chan_ctl) == 5 * 64, "control block is five lines");
_Static_assert(sizeof(struct chan_entry) == 64, "an entry is one line");
_Static_assert(sizeof(struct chan_desc) == 64, "a slot descriptor is one line");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
               "atomics are plain-sized (a layout other processes share)");

static _Atomic uint64_t n_syscalls;

uint64_t chan_syscalls(void) { return atomic_load_explicit(&n_syscalls, RLX); }

static int futex_wait_counted(_Atomic uint32_t *w, uint32_t v, const struct timespec *ts)
{
    atomic_fetch_add_explicit(&n_syscalls, 1, RLX);
    return orion_futex_wait(w, v, ts);
}

/* The waker's half of the protocol above: called after the condition's
 * seq_cst store. A system call only if someone sleeps. */
static void wake_if_sleeping(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers)
{
    if (atomic_load_explicit(sleepers, SEQ_CST) != 0) {
        atomic_fetch_add_explicit(futex, 1, SEQ_CST);
        atomic_fetch_add_explicit(&n_syscalls, 1, RLX);
        (void)orion_futex_wake(futex, INT_MAX);
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mask_of(uint32_t max_consumers)
{
    return max_consumers >= 64 ? UINT64_MAX : (UINT64_C(1) << max_consumers) - 1;
}

/* ---- Geometry. ----------------------------------------------------------- */

int chan_layout(const struct chan_geom *g, struct chan_layout *out)
{
    uint64_t stride, slots, total;

    if (g == NULL || out == NULL || g->slot_bytes == 0 || g->slot_bytes > CHAN_MAX_SLOT_BYTES ||
        g->depth == 0 || g->depth > CHAN_MAX_DEPTH || g->max_consumers == 0 ||
        g->max_consumers > CHAN_MAX_CONSUMERS)
        return -EINVAL;
    /* With the limits above none of these overflow today; the checks keep it
     * so if a limit is raised. */
    if (__builtin_add_overflow(g->slot_bytes, (uint64_t)CHAN_ALIGN - 1, &stride))
        return -EOVERFLOW;
    stride &= ~(uint64_t)(CHAN_ALIGN - 1);
    out->entries_off = sizeof(struct chan_ctl);
    out->desc_off = out->entries_off + (uint64_t)g->depth * sizeof(struct chan_entry);
    out->slots_off = out->desc_off + (uint64_t)g->depth * sizeof(struct chan_desc);
    if (__builtin_mul_overflow(stride, (uint64_t)g->depth, &slots) ||
        __builtin_add_overflow(out->slots_off, slots, &total))
        return -EOVERFLOW;
    out->slot_stride = stride;
    out->total_bytes = total;
    return 0;
}

int chan_layout_bytes(const struct chan_geom *g, uint64_t *bytes)
{
    struct chan_layout l;
    int rc = chan_layout(g, &l);

    if (rc == 0 && bytes != NULL)
        *bytes = l.total_bytes;
    return rc;
}

static struct chan_ctl *ref_ctl(const struct chan_ref *r) { return (struct chan_ctl *)r->base; }
static struct chan_entry *ref_entries(const struct chan_ref *r)
{
    return (struct chan_entry *)(r->base + r->layout.entries_off);
}
static struct chan_desc *ref_desc(const struct chan_ref *r)
{
    return (struct chan_desc *)(r->base + r->layout.desc_off);
}

/* The header fields that must match the private geometry. */
static bool header_ok(const struct chan_ctl *ctl, const struct chan_geom *g,
                      const struct chan_layout *l)
{
    return ctl->magic == CHAN_MAGIC && ctl->version == CHAN_VERSION && ctl->depth == g->depth &&
           ctl->slot_bytes == g->slot_bytes && ctl->slot_stride == l->slot_stride &&
           ctl->max_consumers == g->max_consumers && ctl->entries_off == l->entries_off &&
           ctl->desc_off == l->desc_off && ctl->slots_off == l->slots_off;
}

/* ---- The daemon's side. --------------------------------------------------- */

int chan_init(struct chan_ref *r, void *base, uint64_t region_bytes, const struct chan_geom *geom)
{
    struct chan_layout l;
    struct chan_ctl *ctl = base;
    struct chan_geom gc, *g = &gc;
    int rc;

    if (r == NULL || base == NULL || geom == NULL || ((uintptr_t)base & (CHAN_ALIGN - 1)) != 0)
        return -EINVAL;
    gc = *geom; /* geom may point into *r */
    rc = chan_layout(g, &l);
    if (rc != 0)
        return rc;
    if (region_bytes < l.total_bytes)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->base = base;
    r->region_bytes = region_bytes;
    r->geom = *g;
    r->layout = l;
    r->producer_live = 1;

    memset(ctl, 0, sizeof(*ctl));
    ctl->magic = CHAN_MAGIC;
    ctl->version = CHAN_VERSION;
    ctl->depth = g->depth;
    ctl->slot_bytes = g->slot_bytes;
    ctl->slot_stride = l.slot_stride;
    ctl->max_consumers = g->max_consumers;
    ctl->entries_off = l.entries_off;
    ctl->desc_off = l.desc_off;
    ctl->slots_off = l.slots_off;
    ctl->total_bytes = l.total_bytes;
    for (uint32_t i = 0; i < g->depth; i++) {
        struct chan_entry *e = &ref_entries(r)[i];
        struct chan_desc *d = &ref_desc(r)[i];
        atomic_store_explicit(&e->seq, CHAN_SEQ_NONE, RLX);
        atomic_store_explicit(&e->bytes, 0, RLX);
        atomic_store_explicit(&e->slot, 0, RLX);
        e->reserved = 0;
        atomic_store_explicit(&d->pending, 0, RLX);
        atomic_store_explicit(&d->seq, CHAN_SEQ_NONE, RLX);
    }
    atomic_store_explicit(&ctl->head, 0, RLX);
    atomic_store_explicit(&ctl->attached, 0, RLX);
    atomic_store_explicit(&ctl->producer_gen, 0, RLX);
    atomic_store_explicit(&ctl->producer, CHAN_PRODUCER_LIVE, SEQ_CST);
    return 0;
}

/* Clear `bits` in every slot; wake a waiting producer if a slot became free. */
static void clear_bits_everywhere(const struct chan_ref *r, uint64_t bits)
{
    struct chan_ctl *ctl = ref_ctl(r);
    bool freed = false;

    for (uint32_t k = 0; k < r->geom.depth; k++) {
        uint64_t old = atomic_fetch_and_explicit(&ref_desc(r)[k].pending, ~bits, SEQ_CST);
        if (old != 0 && (old & ~bits) == 0)
            freed = true;
    }
    if (freed)
        wake_if_sleeping(&ctl->prod_futex, &ctl->prod_sleepers);
}

int chan_attach(struct chan_ref *r, uint32_t *index, uint64_t *start)
{
    struct chan_ctl *ctl;
    uint64_t free_bits, bit, h;
    uint32_t i;
    bool freed = false;

    if (r == NULL || index == NULL || start == NULL)
        return -EINVAL;
    ctl = ref_ctl(r);
    free_bits = ~r->attached & mask_of(r->geom.max_consumers);
    if (free_bits == 0)
        return -EBUSY;
    i = (uint32_t)__builtin_ctzll(free_bits);
    bit = UINT64_C(1) << i;
    r->attached |= bit;
    /* The mask store precedes the head load in S. Every publish whose mask
     * load comes after the store carries our bit. A publish in flight may
     * have loaded the mask before it: its seq is exactly h (head is stored
     * last), our start message, which the consumer decides on only once head
     * > h (chan_receive, "first"). The publishes after it load the mask after
     * its head store, so after our store: they carry our bit. */
    atomic_exchange_explicit(&ctl->attached, r->attached, SEQ_CST);
    h = atomic_load_explicit(&ctl->head, SEQ_CST);
    /* A publish that read the mask while a former holder of this index was
     * attached may have stored its bit after that holder's detach sweep. Such
     * a message has seq < h (its head store is before our head load), so it
     * is not ours: clear our bit in it. Messages >= h with our bit are ours. */
    for (uint32_t k = 0; k < r->geom.depth; k++) {
        struct chan_desc *d = &ref_desc(r)[k];
        if ((atomic_load_explicit(&d->pending, SEQ_CST) & bit) == 0)
            continue;
        if (atomic_load_explicit(&d->seq, ACQ) < h) {
            uint64_t old = atomic_fetch_and_explicit(&d->pending, ~bit, SEQ_CST);
            if (old == bit)
                freed = true;
        }
    }
    if (freed)
        wake_if_sleeping(&ctl->prod_futex, &ctl->prod_sleepers);
    *index = i;
    *start = h;
    return 0;
}

int chan_detach(struct chan_ref *r, uint32_t index)
{
    uint64_t bit;

    if (r == NULL || index >= r->geom.max_consumers)
        return -EINVAL;
    bit = UINT64_C(1) << index;
    if ((r->attached & bit) == 0)
        return -EINVAL;
    r->attached &= ~bit;
    /* Mask first, then the sweep (both in S). A publish that loaded the old
     * mask either stored its pending before our sweep reached that slot (the
     * sweep clears it) or re-loads the mask after its store and sees the bit
     * gone (it clears it itself): chan_publish, step 4. */
    atomic_exchange_explicit(&ref_ctl(r)->attached, r->attached, SEQ_CST);
    clear_bits_everywhere(r, bit);
    return 0;
}

int chan_producer_gone(struct chan_ref *r)
{
    struct chan_ctl *ctl;
    struct chan_entry *e;
    uint64_t h;

    if (r == NULL)
        return -EINVAL;
    if (!r->producer_live)
        return -EALREADY;
    ctl = ref_ctl(r);
    r->producer_live = 0;
    /* The entry is the publish point: consumers may have received message h
     * if its entry is written even though head was not yet stored. At most
     * one message is in flight. */
    h = atomic_load_explicit(&ctl->head, SEQ_CST);
    e = &ref_entries(r)[h % r->geom.depth];
    if (h != CHAN_SEQ_NONE && atomic_load_explicit(&e->seq, ACQ) == h) {
        h++;
        atomic_store_explicit(&ctl->head, h, SEQ_CST);
    }
    for (uint32_t k = 0; k < r->geom.depth; k++) {
        struct chan_desc *d = &ref_desc(r)[k];
        uint64_t w = atomic_load_explicit(&d->pending, SEQ_CST);
        if (w == 0)
            continue;
        if (atomic_load_explicit(&d->seq, ACQ) >= h)
            atomic_fetch_and_explicit(&d->pending, 0, SEQ_CST); /* never published */
        else
            atomic_fetch_and_explicit(&d->pending, r->attached, SEQ_CST); /* stale bits */
    }
    atomic_store_explicit(&ctl->producer, CHAN_PRODUCER_GONE, SEQ_CST);
    wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);
    return 0;
}

int chan_takeover(struct chan_ref *r, const struct chan_geom *g)
{
    struct chan_ctl *ctl;

    if (r == NULL || g == NULL || g->slot_bytes != r->geom.slot_bytes ||
        g->depth != r->geom.depth || g->max_consumers != r->geom.max_consumers)
        return -EINVAL;
    if (r->producer_live)
        return -EBUSY;
    ctl = ref_ctl(r);
    r->producer_live = 1;
    r->producer_gen++;
    atomic_store_explicit(&ctl->producer_gen, r->producer_gen, RLX);
    atomic_store_explicit(&ctl->producer, CHAN_PRODUCER_LIVE, SEQ_CST);
    wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);
    return 0;
}

int chan_inspect(const struct chan_ref *r, struct chan_info *out)
{
    struct chan_ctl *ctl;
    uint64_t cmask;

    if (r == NULL || out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    ctl = ref_ctl(r);
    cmask = mask_of(r->geom.max_consumers);
    out->head = atomic_load_explicit(&ctl->head, ACQ);
    out->attached = atomic_load_explicit(&ctl->attached, RLX);
    out->producer = atomic_load_explicit(&ctl->producer, RLX);
    out->producer_gen = atomic_load_explicit(&ctl->producer_gen, RLX);
    out->cons_sleepers = atomic_load_explicit(&ctl->cons_sleepers, RLX);
    out->prod_sleepers = atomic_load_explicit(&ctl->prod_sleepers, RLX);
    for (uint32_t k = 0; k < r->geom.depth; k++) {
        uint64_t w = atomic_load_explicit(&ref_desc(r)[k].pending, RLX);
        if (w != 0)
            out->busy_slots++;
        if ((w & ~cmask) != 0 && out->why == NULL)
            out->why = "a slot's pending mask names a consumer index above max_consumers";
    }
    if (!header_ok(ctl, &r->geom, &r->layout) || ctl->total_bytes != r->layout.total_bytes)
        out->why = "the header does not match the channel's geometry";
    else if (out->attached != r->attached)
        out->why = "the attached mask differs from the daemon's record";
    else if (out->producer != (r->producer_live ? CHAN_PRODUCER_LIVE : CHAN_PRODUCER_GONE))
        out->why = "the producer state differs from the daemon's record";
    else if (out->producer_gen != r->producer_gen)
        out->why = "the producer generation differs from the daemon's record";
    else if (out->head == CHAN_SEQ_NONE)
        out->why = "head is out of range";
    if (out->why == NULL) {
        for (uint32_t k = 0; k < r->geom.depth; k++) {
            struct chan_entry *e = &ref_entries(r)[k];
            uint64_t s = atomic_load_explicit(&e->seq, ACQ);
            uint32_t slot = atomic_load_explicit(&e->slot, RLX);
            if (s == CHAN_SEQ_NONE)
                continue;
            /* A live producer may have published since head was read: an
             * entry above it is judged against head read after the entry
             * (the acquire load orders it). One message may be in flight:
             * its entry is written before head. */
            if (s > out->head)
                out->head = atomic_load_explicit(&ctl->head, SEQ_CST);
            if (s > out->head || s % r->geom.depth != k || slot >= r->geom.depth ||
                atomic_load_explicit(&e->bytes, RLX) > r->geom.slot_bytes) {
                out->why = "an entry's seq, slot index or size is out of range";
                break;
            }
        }
    }
    return out->why == NULL ? 0 : -EPROTO;
}

/* ---- Waiting. -------------------------------------------------------------- */

/* check() returns > 0 when the caller can go on, < 0 for an error, 0 to wait.
 * Spins (bounded by spin_ns and the deadline), then sleeps on futex with the
 * protocol at the top of this file. Every loop ends at the deadline. */
typedef int (*check_fn)(void *arg, bool slow);

static int wait_until(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers, check_fn check,
                      void *arg, int64_t timeout_ms, uint32_t spin_ns)
{
    uint64_t now, deadline, spin_end;
    int rc;

    if (timeout_ms == 0) {
        rc = check(arg, true);
        return rc != 0 ? rc : -ETIMEDOUT;
    }
    now = now_ns();
    if (timeout_ms < 0 || (uint64_t)timeout_ms > UINT64_MAX / 2000000u)
        deadline = UINT64_MAX;
    else
        deadline = now + (uint64_t)timeout_ms * 1000000u;
    spin_end = now + spin_ns;
    for (uint32_t i = 1; spin_ns != 0; i++) {
        cpu_relax();
        rc = check(arg, false);
        if (rc != 0)
            return rc;
        if ((i & 63) == 0) {
            now = now_ns();
            if (now >= spin_end || now >= deadline)
                break;
        }
    }
    for (;;) {
        struct timespec ts, *tsp = NULL;
        uint32_t v;

        now = now_ns();
        if (now >= deadline) {
            rc = check(arg, true);
            return rc != 0 ? rc : -ETIMEDOUT;
        }
        if (deadline != UINT64_MAX) {
            uint64_t left = deadline - now;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        atomic_fetch_add_explicit(sleepers, 1, SEQ_CST);
        v = atomic_load_explicit(futex, SEQ_CST);
        rc = check(arg, true);
        if (rc == 0)
            (void)futex_wait_counted(futex, v, tsp);
        atomic_fetch_sub_explicit(sleepers, 1, SEQ_CST);
        if (rc != 0)
            return rc;
    }
}

/* ---- The producer. ------------------------------------------------------- */

static int end_open(void *base, uint64_t region_bytes, const struct chan_geom *g,
                    struct chan_layout *l)
{
    int rc;

    if (base == NULL || ((uintptr_t)base & (CHAN_ALIGN - 1)) != 0)
        return -EINVAL;
    rc = chan_layout(g, l);
    if (rc != 0)
        return rc;
    if (region_bytes < l->total_bytes)
        return -EINVAL;
    if (!header_ok(base, g, l))
        return -EPROTO;
    return 0;
}

int chan_producer_open(struct chan_producer *p, void *base, uint64_t region_bytes,
                       const struct chan_geom *g)
{
    struct chan_layout l;
    int rc;

    if (p == NULL)
        return -EINVAL;
    rc = end_open(base, region_bytes, g, &l);
    if (rc != 0)
        return rc;
    memset(p, 0, sizeof(*p));
    p->fifo = calloc(g->depth, sizeof(*p->fifo));
    p->mine = calloc(g->depth, 1);
    if (p->fifo == NULL || p->mine == NULL) {
        chan_producer_close(p);
        return -ENOMEM;
    }
    p->ctl = base;
    p->entries = (struct chan_entry *)((uint8_t *)base + l.entries_off);
    p->desc = (struct chan_desc *)((uint8_t *)base + l.desc_off);
    p->slots = (uint8_t *)base + l.slots_off;
    p->geom = *g;
    p->stride = l.slot_stride;
    p->cmask = mask_of(g->max_consumers);
    p->next_seq = atomic_load_explicit(&p->ctl->head, SEQ_CST);
    if (p->next_seq == CHAN_SEQ_NONE) {
        chan_producer_close(p);
        return -EPROTO;
    }
    p->spin_ns = CHAN_SPIN_NS_DEFAULT;
    return 0;
}

void chan_producer_close(struct chan_producer *p)
{
    if (p == NULL)
        return;
    free(p->fifo);
    free(p->mine);
    memset(p, 0, sizeof(*p));
}

/* One scan of the slots from the cursor (bounded by depth). */
static int try_acquire(struct chan_producer *p, uint32_t *out)
{
    uint32_t k = p->cursor;

    for (uint32_t n = 0; n < p->geom.depth; n++) {
        /* Acquire pairs with the last done's release: the consumers' reads of
         * the old message happen before our writes of the new one. */
        if (!p->mine[k] && atomic_load_explicit(&p->desc[k].pending, SEQ_CST) == 0) {
            *out = k;
            return 1;
        }
        if (++k == p->geom.depth)
            k = 0;
    }
    return 0;
}

struct acq_arg {
    struct chan_producer *p;
    uint32_t k;
};

static int acquire_check(void *arg, bool slow)
{
    struct acq_arg *a = arg;
    struct chan_ctl *ctl = a->p->ctl;

    if (try_acquire(a->p, &a->k))
        return 1;
    if (slow) {
        struct chan_layout l;
        (void)chan_layout(&a->p->geom, &l);
        if (!header_ok(ctl, &a->p->geom, &l))
            return -EPROTO;
        if (atomic_load_explicit(&ctl->producer, SEQ_CST) != CHAN_PRODUCER_LIVE)
            return -EPIPE;
    }
    return 0;
}

int chan_acquire(struct chan_producer *p, int64_t timeout_ms, void **slot)
{
    struct acq_arg a = {p, 0};
    int rc;

    if (p == NULL || p->ctl == NULL || slot == NULL)
        return -EINVAL;
    if (p->n_acq == p->geom.depth)
        return -ENOBUFS;
    if (!try_acquire(p, &a.k)) {
        rc = wait_until(&p->ctl->prod_futex, &p->ctl->prod_sleepers, acquire_check, &a,
                        timeout_ms, p->spin_ns);
        if (rc < 0)
            return rc;
    }
    p->mine[a.k] = 1;
    p->fifo[(p->fifo_head + p->n_acq) % p->geom.depth] = a.k;
    p->n_acq++;
    p->cursor = a.k + 1 == p->geom.depth ? 0 : a.k + 1;
    *slot = p->slots + (uint64_t)a.k * p->stride;
    return 0;
}

int chan_publish(struct chan_producer *p, void *slot, uint64_t bytes)
{
    struct chan_ctl *ctl;
    struct chan_entry *e;
    struct chan_desc *d;
    uint64_t s, a1, a2;
    uint32_t k;

    if (p == NULL || p->ctl == NULL || p->n_acq == 0 || bytes > p->geom.slot_bytes)
        return -EINVAL;
    k = p->fifo[p->fifo_head];
    if ((uint8_t *)slot != p->slots + (uint64_t)k * p->stride)
        return -EINVAL;
    ctl = p->ctl;
    s = p->next_seq;
    d = &p->desc[k];
    e = &p->entries[s % p->geom.depth];

    /* 1. Who gets it: the consumers attached now. */
    a1 = atomic_load_explicit(&ctl->attached, SEQ_CST) & p->cmask;
    /* 2. Mark the slot theirs (it is free: pending == 0). */
    atomic_store_explicit(&d->seq, s, RLX);
    atomic_store_explicit(&d->pending, a1, SEQ_CST);
    /* 3. The publish point: consumers poll entry.seq. */
    atomic_store_explicit(&e->slot, k, RLX);
    atomic_store_explicit(&e->bytes, bytes, RLX);
    atomic_store_explicit(&e->seq, s, REL);
    /* 4. A consumer detached since step 1 may have been swept before step 2
     * stored its bit: re-read the mask and clear the bits that left. (A
     * detach whose mask store is after this load sweeps after step 2 and
     * clears the bit itself.) An index re-attached in between keeps its bit:
     * the new consumer's start is s or later; if s, it decides only once
     * head > s, after this step; if later, chan_attach() cleared it. */
    if (a1 != 0) {
        a2 = atomic_load_explicit(&ctl->attached, SEQ_CST);
        if ((a1 & ~a2) != 0) {
            uint64_t old = atomic_fetch_and_explicit(&d->pending, a2, SEQ_CST);
            (void)old;
        }
    }
    /* 5. Complete: head, then wake consumers only if one sleeps. */
    atomic_store_explicit(&ctl->head, s + 1, SEQ_CST);
    wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);

    p->next_seq = s + 1;
    p->mine[k] = 0;
    p->fifo_head = p->fifo_head + 1 == p->geom.depth ? 0 : p->fifo_head + 1;
    p->n_acq--;
    return 0;
}

/* ---- The consumer. ------------------------------------------------------- */

int chan_consumer_open(struct chan_consumer *c, void *base, uint64_t region_bytes,
                       const struct chan_geom *g, uint32_t index, uint64_t start)
{
    struct chan_layout l;
    int rc;

    if (c == NULL || g == NULL || index >= g->max_consumers || start == CHAN_SEQ_NONE)
        return -EINVAL;
    rc = end_open(base, region_bytes, g, &l);
    if (rc != 0)
        return rc;
    memset(c, 0, sizeof(*c));
    c->held = calloc(g->depth, 1);
    if (c->held == NULL)
        return -ENOMEM;
    c->ctl = base;
    c->entries = (struct chan_entry *)((uint8_t *)base + l.entries_off);
    c->desc = (struct chan_desc *)((uint8_t *)base + l.desc_off);
    c->slots = (uint8_t *)base + l.slots_off;
    c->geom = *g;
    c->stride = l.slot_stride;
    c->bit = UINT64_C(1) << index;
    c->next = start;
    c->first = 1;
    c->spin_ns = CHAN_SPIN_NS_DEFAULT;
    return 0;
}

void chan_consumer_close(struct chan_consumer *c)
{
    if (c == NULL)
        return;
    free(c->held);
    memset(c, 0, sizeof(*c));
}

struct recv_arg {
    struct chan_consumer *c;
    uint32_t k;
    uint64_t bytes;
};

/* Is message c->next ours and ready? > 0: yes (k, bytes set); 0: not yet;
 * < 0: error. Skips the start message at most once if it is not ours. */
static int recv_check(void *arg, bool slow)
{
    struct recv_arg *a = arg;
    struct chan_consumer *c = a->c;
    struct chan_ctl *ctl = c->ctl;

    for (int round = 0; round < 2; round++) {
        struct chan_entry *e = &c->entries[c->next % c->geom.depth];
        uint64_t s = atomic_load_explicit(&e->seq, ACQ);
        uint64_t h;

        if (s == c->next && !c->first) {
            a->k = atomic_load_explicit(&e->slot, RLX);
            a->bytes = atomic_load_explicit(&e->bytes, RLX);
            if (a->k >= c->geom.depth || a->bytes > c->geom.slot_bytes || c->held[a->k])
                return -EPROTO;
            return 1;
        }
        if (s != c->next && !slow)
            return 0;
        h = atomic_load_explicit(&ctl->head, SEQ_CST);
        if (h <= c->next) {
            if (h + 1 < c->next)
                return -EPROTO; /* head moved backwards */
            if (atomic_load_explicit(&ctl->producer, SEQ_CST) == CHAN_PRODUCER_GONE) {
                /* The daemon completes head before it says gone (a load of
                 * GONE orders the head load after it): drained? */
                if (atomic_load_explicit(&ctl->head, SEQ_CST) <= c->next)
                    return -EPIPE;
                continue;
            }
            if (slow) {
                struct chan_layout l;
                (void)chan_layout(&c->geom, &l);
                if (!header_ok(ctl, &c->geom, &l))
                    return -EPROTO;
            }
            return 0; /* not published yet, or the start message not complete */
        }
        /* head > next: message next is complete (its entry before head). */
        s = atomic_load_explicit(&e->seq, ACQ);
        if (c->first) {
            /* The start message: ours only if it carries our bit (a publish
             * in flight during attach may have read the mask without it). Our
             * bit pins the slot, so its seq is stable once we see the bit. */
            c->first = 0;
            if (s == c->next) {
                uint32_t k = atomic_load_explicit(&e->slot, RLX);
                if (k < c->geom.depth &&
                    (atomic_load_explicit(&c->desc[k].pending, SEQ_CST) & c->bit) != 0 &&
                    atomic_load_explicit(&c->desc[k].seq, ACQ) == c->next)
                    continue; /* ours: take it through the fast path */
            }
            c->next++; /* not ours */
            continue;
        }
        if (s != c->next)
            return -EPROTO; /* our message overwritten: its slot was reused */
    }
    return 0;
}

int chan_receive(struct chan_consumer *c, int64_t timeout_ms, const void **slot,
                 uint64_t *bytes, uint64_t *seq)
{
    struct recv_arg a = {c, 0, 0};
    int rc;

    if (c == NULL || c->ctl == NULL || slot == NULL)
        return -EINVAL;
    rc = recv_check(&a, false);
    if (rc == 0)
        rc = wait_until(&c->ctl->cons_futex, &c->ctl->cons_sleepers, recv_check, &a,
                        timeout_ms, c->spin_ns);
    if (rc < 0)
        return rc;
    c->held[a.k] = 1;
    c->n_held++;
    *slot = c->slots + (uint64_t)a.k * c->stride;
    if (bytes != NULL)
        *bytes = a.bytes;
    if (seq != NULL)
        *seq = c->next;
    c->next++;
    return 0;
}

int chan_done(struct chan_consumer *c, const void *slot)
{
    uint64_t off, old;
    uint32_t k;

    if (c == NULL || c->ctl == NULL || (const uint8_t *)slot < c->slots)
        return -EINVAL;
    off = (uint64_t)((const uint8_t *)slot - c->slots);
    if (off % c->stride != 0 || off / c->stride >= c->geom.depth)
        return -EINVAL;
    k = (uint32_t)(off / c->stride);
    if (!c->held[k])
        return -EINVAL;
    c->held[k] = 0;
    c->n_held--;
    /* Release: our reads of the payload happen before the producer's reuse. */
    old = atomic_fetch_and_explicit(&c->desc[k].pending, ~c->bit, SEQ_CST);
    if (old == c->bit)
        wake_if_sleeping(&c->ctl->prod_futex, &c->ctl->prod_sleepers);
    return (old & c->bit) != 0 ? 0 : -EPROTO;
}
