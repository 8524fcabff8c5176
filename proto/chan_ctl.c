/* chan_ctl.c - the daemon's side of the channel ring: the region's layout,
 * a fresh control block, consumers' attach and detach, the producer's end and
 * takeover, and the checked reader (chan_inspect). See chan.h and
 * docs/protocol.md, "Channels: the control block"; wake-ups follow the
 * protocol in chan_wait.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "chan_internal.h"

_Static_assert(sizeof(struct chan_ctl) == 5 * 64, "control block is five lines");
_Static_assert(sizeof(struct chan_entry) == 64, "an entry is one line");
_Static_assert(sizeof(struct chan_desc) == 64, "a slot descriptor is one line");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
               "atomics are plain-sized (a layout other processes share)");

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
        chan_wake_if_sleeping(&ctl->prod_futex, &ctl->prod_sleepers);
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
        chan_wake_if_sleeping(&ctl->prod_futex, &ctl->prod_sleepers);
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
    chan_wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);
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
    chan_wake_if_sleeping(&ctl->cons_futex, &ctl->cons_sleepers);
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
