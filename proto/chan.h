/* chan.h - the channel ring: a control block and `depth` slots in one arena
 * region, shared by one producer, up to 64 consumers and the daemon.
 *
 * Everything in the region can be written by any client. Each side keeps what
 * it relies on (geometry, its own position, which slots it holds) in private
 * memory and computes every address from that; values read from the region
 * are only compared, or bounds-checked before use. Garbage in the region gives
 * that channel's users errors (-EPROTO, -ETIMEDOUT), never an access outside
 * the region, a crash or an unbounded loop. The ordering argument and the
 * state machine are in docs/protocol.md ("Channels: the control block") and
 * next to the code in chan_ctl.c (the daemon's side), chan_ring.c (the
 * clients' side) and chan_wait.c (sleeping and waking).
 *
 * Region layout (offsets from the region's start, which is 64-byte aligned):
 *   0                 struct chan_ctl           (5 cache lines)
 *   entries_off       struct chan_entry[depth]  (one line each, ring by seq)
 *   desc_off          struct chan_desc[depth]   (one line each, per slot)
 *   slots_off         depth slots of slot_stride bytes (64-byte multiples)
 *
 * Threads: one thread at a time per endpoint struct (producer or consumer);
 * the daemon functions are called from one thread per chan_ref.
 */
#ifndef ORION_CHAN_H
#define ORION_CHAN_H

#include <stdatomic.h>
#include <stdint.h>

#define CHAN_MAGIC 0x314e414843524f4full /* "ORCHAN1" + 0x31, little-endian */
#define CHAN_VERSION 1u
#define CHAN_ALIGN 64u
#define CHAN_MAX_CONSUMERS 64u
#define CHAN_MAX_DEPTH 65536u
#define CHAN_MAX_SLOT_BYTES (1ull << 40)
#define CHAN_SPIN_NS_DEFAULT 50000u /* bounded spin before sleeping */

#define CHAN_PRODUCER_LIVE 1u
#define CHAN_PRODUCER_GONE 2u

#define CHAN_SEQ_NONE UINT64_MAX /* an entry never written */

/* Geometry: what the daemon records privately and hands to both sides. */
struct chan_geom {
    uint64_t slot_bytes;    /* > 0, <= CHAN_MAX_SLOT_BYTES */
    uint32_t depth;         /* 1 .. CHAN_MAX_DEPTH */
    uint32_t max_consumers; /* 1 .. CHAN_MAX_CONSUMERS */
};

/* Offsets derived from a geometry (chan_layout()). */
struct chan_layout {
    uint64_t entries_off;
    uint64_t desc_off;
    uint64_t slots_off;
    uint64_t slot_stride; /* slot_bytes rounded up to 64 */
    uint64_t total_bytes; /* bytes of the whole region */
};

/* The control block. Writers: D = daemon, P = producer, C = consumers. */
struct chan_ctl {
    /* Line 0: D in chan_init only; every other side has its private copy and
     * only compares these. */
    uint64_t magic;         /* D: CHAN_MAGIC */
    uint32_t version;       /* D: CHAN_VERSION */
    uint32_t depth;         /* D */
    uint64_t slot_bytes;    /* D */
    uint64_t slot_stride;   /* D */
    uint32_t max_consumers; /* D */
    uint32_t reserved0;     /* D: 0 */
    uint64_t entries_off;   /* D */
    uint64_t desc_off;      /* D */
    uint64_t slots_off;     /* D */

    /* Line 1: P. Messages completely published (the next seq); D repairs
     * it in chan_producer_gone(). Read by D at attach, by C when waiting. */
    _Alignas(64) _Atomic uint64_t head;

    /* Line 2: D. Read by P at every publish (stays cached: D writes it only
     * on attach and detach). */
    _Alignas(64) _Atomic uint64_t attached; /* D: bit i = consumer index i */
    _Atomic uint32_t producer;              /* D: CHAN_PRODUCER_LIVE / _GONE */
    _Atomic uint32_t producer_gen;          /* D: +1 at each takeover */
    uint64_t total_bytes;                   /* D in chan_init */

    /* Line 3: consumers' wait queue. cons_futex: +1 by P (publish) and D
     * (producer gone, takeover) before a FUTEX_WAKE; cons_sleepers: +1/-1 by
     * C around a FUTEX_WAIT. */
    _Alignas(64) _Atomic uint32_t cons_futex;
    _Atomic uint32_t cons_sleepers;

    /* Line 4: the producer's wait queue. prod_futex: +1 by C (done freed a
     * slot) and D (detach freed slots) before a FUTEX_WAKE; prod_sleepers:
     * +1/-1 by P around a FUTEX_WAIT. */
    _Alignas(64) _Atomic uint32_t prod_futex;
    _Atomic uint32_t prod_sleepers;
};

/* One published message, at entries[seq % depth]. All fields P; seq is
 * stored last (release): the publish point consumers poll. */
struct chan_entry {
    _Alignas(64) _Atomic uint64_t seq; /* P: CHAN_SEQ_NONE (D at init) or the seq */
    _Atomic uint64_t bytes;            /* P: <= slot_bytes (checked by C) */
    _Atomic uint32_t slot;             /* P: slot index (checked < depth by C) */
    uint32_t reserved;
};

/* One slot's state. pending == 0: free. Otherwise the consumers that must
 * still call done on the message in it. */
struct chan_desc {
    _Alignas(64) _Atomic uint64_t pending; /* P sets (publish); C clears its
                                            * bit (done); D clears bits
                                            * (detach, attach, producer gone) */
    _Atomic uint64_t seq;                  /* P: seq of the message in it */
};

/* ---- The daemon's side. ------------------------------------------------ */

/* What the daemon keeps, in its private memory, for one channel. */
struct chan_ref {
    uint8_t *base;           /* region start (64-byte aligned) */
    uint64_t region_bytes;   /* >= layout.total_bytes */
    struct chan_geom geom;
    struct chan_layout layout;
    uint64_t attached;       /* consumer indices in use (the truth) */
    uint32_t producer_live;  /* 1 between init/takeover and producer_gone */
    uint32_t producer_gen;
};

/* Offsets for a geometry. 0; -EINVAL if slot_bytes, depth or max_consumers is
 * 0 or above its CHAN_MAX_*; -EOVERFLOW if the region's size does not fit in
 * 64 bits. */
int chan_layout(const struct chan_geom *g, struct chan_layout *out);

/* The region's size for g in *bytes (as chan_layout()). */
int chan_layout_bytes(const struct chan_geom *g, uint64_t *bytes);

/* Write a fresh control block over [base, base + region_bytes): no consumer,
 * producer live, head 0, every slot free; fill *r. -EINVAL for a bad geometry,
 * a base not 64-byte aligned or a region smaller than the layout. The slots'
 * bytes are not touched. */
int chan_init(struct chan_ref *r, void *base, uint64_t region_bytes,
              const struct chan_geom *g);

/* Attach a consumer: takes the lowest free index, publishes it in the block,
 * and returns the index and the seq of the first message it may receive
 * (what chan_consumer_open() takes). It receives every message published
 * after this call, and possibly the one being published during it. Clears
 * the index's bit left by a stale publish in slots holding older messages.
 * -EBUSY when max_consumers are attached. Never blocks. */
int chan_attach(struct chan_ref *r, uint32_t *index, uint64_t *start);

/* Detach consumer `index` (it closed or its connection ended): clears its
 * bit everywhere, which frees the slots only it still held, and wakes a
 * producer waiting in acquire. Also clears a bit a concurrent publish stores
 * with a stale mask (the producer re-reads the mask after publishing; see
 * chan_ring.c). -EINVAL if index is not attached. Never blocks. */
int chan_detach(struct chan_ref *r, uint32_t index);

/* The producer is gone (its connection ended). Completes or discards what it
 * left half done: a message whose entry was written counts as published (head
 * is repaired); a slot it had marked for consumers but not published, and
 * bits of consumers no longer attached, are cleared; acquired slots were never
 * marked busy. Then consumers drain what was published and get -EPIPE, at
 * once if they are waiting (they are woken). -EALREADY if already gone. */
int chan_producer_gone(struct chan_ref *r);

/* A new producer with geometry g takes the channel over: the sequence goes on
 * from head, consumers that got -EPIPE receive again. -EINVAL if g differs
 * from the channel's (the caller names both), -EBUSY if the producer is live.
 * The new producer then calls chan_producer_open(). */
int chan_takeover(struct chan_ref *r, const struct chan_geom *g);

/* What the daemon may want from the block, copied out and checked. */
struct chan_info {
    uint64_t head;          /* messages published */
    uint64_t attached;      /* the block's mask (should equal r->attached) */
    uint32_t producer;      /* the block's producer state */
    uint32_t producer_gen;
    uint32_t busy_slots;    /* slots with pending != 0 */
    uint32_t cons_sleepers; /* as read; garbage is possible */
    uint32_t prod_sleepers;
    const char *why;        /* NULL, or what was wrong (static string) */
};

/* Copy the block's state into *out and validate it against the daemon's own
 * records: magic, version, geometry and offsets, attached mask, producer
 * state, pending masks within the attached consumers, entries' slot indices
 * and seqs below head. 0, or -EPROTO with out->why (out is filled as far as
 * read). Reads only inside the region; O(depth); never blocks. */
int chan_inspect(const struct chan_ref *r, struct chan_info *out);

/* ---- The clients' side. ------------------------------------------------ */

struct chan_producer {
    struct chan_ctl *ctl;
    struct chan_entry *entries;
    struct chan_desc *desc;
    uint8_t *slots;
    struct chan_geom geom;
    uint64_t stride;
    uint64_t cmask;     /* bits of max_consumers */
    uint64_t next_seq;  /* seq of the next publish */
    uint32_t cursor;    /* where the next free-slot scan starts */
    uint32_t n_acq;     /* acquired, not yet published */
    uint32_t fifo_head; /* fifo[fifo_head] is the oldest acquired */
    uint32_t *fifo;     /* depth entries: acquired slots in order */
    uint8_t *mine;      /* depth flags: acquired by us */
    uint32_t spin_ns;   /* bounded spin before sleeping; 0 = none */
};

struct chan_consumer {
    struct chan_ctl *ctl;
    struct chan_entry *entries;
    struct chan_desc *desc;
    uint8_t *slots;
    struct chan_geom geom;
    uint64_t stride;
    uint64_t bit;     /* 1 << index */
    uint64_t next;    /* seq of the next message to receive */
    uint32_t first;   /* 1 until the start message is decided */
    uint32_t n_held;  /* received, not yet done */
    uint8_t *held;    /* depth flags */
    uint32_t spin_ns;
};

/* Open the producer end over a region the daemon initialised with geometry g
 * (the daemon's reply, not the block, is the source of g). Continues the
 * sequence from the block's head (takeover). 0; -EINVAL (bad geometry,
 * alignment, region too small), -EPROTO (the block's header does not match
 * g), -ENOMEM. */
int chan_producer_open(struct chan_producer *p, void *base, uint64_t region_bytes,
                       const struct chan_geom *g);
void chan_producer_close(struct chan_producer *p); /* local state only */

/* A free slot into *slot (slot_bytes writable bytes, 64-byte aligned),
 * waiting while every slot is in flight. timeout_ms < 0: for ever; 0: try
 * once. 0; -ETIMEDOUT; -ENOBUFS if depth slots are already acquired and not
 * published; -EPROTO if the block is found corrupt while waiting; -EPIPE if
 * the daemon has declared this producer gone. */
int chan_acquire(struct chan_producer *p, int64_t timeout_ms, void **slot);

/* Publish the oldest acquired slot with `bytes` of payload: it becomes message
 * next_seq for every consumer attached now; with none, the slot is free at
 * once. 0; -EINVAL if slot is not the oldest acquired slot or bytes >
 * slot_bytes. Never blocks; a FUTEX_WAKE only if a consumer sleeps. */
int chan_publish(struct chan_producer *p, void *slot, uint64_t bytes);

/* Open consumer `index` with the first seq from chan_attach(). Errors as
 * chan_producer_open(). */
int chan_consumer_open(struct chan_consumer *c, void *base, uint64_t region_bytes,
                       const struct chan_geom *g, uint32_t index, uint64_t start);
void chan_consumer_close(struct chan_consumer *c); /* local state only */

/* The next message: *slot, *bytes (<= slot_bytes), *seq (each may be NULL
 * but slot). The slot stays valid until chan_done(). Timeouts as
 * chan_acquire(). 0; -ETIMEDOUT; -EPIPE when everything published is received
 * and the producer is gone (receive again after a takeover); -EPROTO for a
 * block found corrupt (an index out of range, head moving backwards, an
 * overwritten entry, a bad header). */
int chan_receive(struct chan_consumer *c, int64_t timeout_ms, const void **slot,
                 uint64_t *bytes, uint64_t *seq);

/* This consumer is finished with a received slot; the last consumer to finish
 * frees it and wakes a producer sleeping in acquire. 0; -EINVAL if slot is
 * not a slot this consumer holds; -EPROTO if its bit was already clear (the
 * daemon detached it, or garbage): the slot is forgotten either way. */
int chan_done(struct chan_consumer *c, const void *slot);

/* Futex system calls (wait and wake) this process made through chan, for
 * the benchmark and tests. */
uint64_t chan_syscalls(void);

#endif
