/* chan_ring.c - the clients' side of the channel ring: the producer's and the
 * consumers' ends (open, close), acquire and publish, receive and done. See
 * chan.h and docs/protocol.md, "Channels: the control block"; waiting and
 * waking follow the protocol in chan_wait.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chan_internal.h"

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
        rc = chan_wait_until(&p->ctl->prod_futex, &p->ctl->prod_sleepers, acquire_check, &a,
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
    chan_wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);

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
        rc = chan_wait_until(&c->ctl->cons_futex, &c->ctl->cons_sleepers, recv_check, &a,
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
        chan_wake_if_sleeping(&c->ctl->prod_futex, &c->ctl->prod_sleepers);
    return (old & c->bit) != 0 ? 0 : -EPROTO;
}
