/* channels.h - the daemon's channel records: name -> channel (its arena
 * region, its geometry, its producer and consumers, who pays), the endpoints
 * each connection has, and opens waiting for a channel to be created.
 *
 * The ring itself is proto/chan.h; this module is its control plane. Every
 * fact it relies on (geometry, region, who is attached) is in its private
 * memory; it reads the control block only through chan_inspect() before an
 * attach or a takeover, and a block found corrupt marks that channel broken:
 * it is refused to new endpoints (-EPROTO), its present ones are detached
 * normally, and it goes, bytes and all, when the last of them goes.
 *
 * Who pays. The channel's arena bytes (the region, block-rounded) count in
 * the stats' used_bytes and are charged to one connection's used_bytes and
 * its user's quota: the producer's while there is one (the creator first,
 * a producer that takes the channel over next, which is refused -ENOSPC if
 * that passes its limits); while there is none, the consumer connection
 * attached at the lowest index pays, without a limit check (it keeps the
 * channel alive; its own limits then bind its later allocations). The
 * records (channel, name, endpoints) are daemon memory charged the same way,
 * against --client-memory.
 *
 * Pure data over the buddy allocator and the arena mapping: no I/O, no
 * timers, one thread.
 */
#ifndef ORION_CHANNELS_H
#define ORION_CHANNELS_H

#include "buddy.h"
#include "chan.h"
#include "registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct channels;
struct channel;
struct chan_wait;

/* One endpoint: a connection's producer end or one of its consumer ends. */
struct chan_ep {
    struct channel *ch;
    struct chan_party *party;  /* the connection it belongs to */
    bool producer;
    uint32_t index;            /* consumer index (consumers only) */
    uint64_t start_seq;        /* consumers: first seq (chan_attach) */
    struct chan_ep *prev, *next; /* in party->eps */
};

/* An open waiting for its channel: status 0 with ep attached, or a negative
 * errno (-EBUSY, -EPROTO, -ENOMEM, -ENOSPC). Called from inside
 * channels_create(); it must not call into this module. */
typedef void (*chan_wait_cb)(struct chan_wait *w, int status, struct chan_ep *ep);

struct chan_wait {
    chan_wait_cb cb;
    void *data;                /* the caller's */
    /* this module's */
    char name[REGISTRY_NAME_MAX + 1];
    struct chan_party *party;
    bool pending;
    struct chan_wait *prev, *next;
};

/* What a connection is to this module; embedded in the session, zeroed. */
struct chan_party {
    struct reg_owner *owner;   /* set by the caller before first use */
    uint64_t limit;            /* its byte limit (0 = none) */
    struct chan_ep *eps;
    uint32_t n_eps;
    struct chan_wait wait;     /* its pending open */
};

/* What a reply needs about an endpoint's channel (the private records). */
struct chan_view {
    const char *name;
    uint64_t off;              /* arena offset of the region */
    uint64_t region_bytes;
    struct chan_geom geom;
    uint32_t consumers;
    bool takeover;             /* create only */
};

/* base: the daemon's mapping of the arena of b. 0 or -ENOMEM. */
int channels_new(buddy *b, void *base, struct channels **out);

/* Free every record (their regions go back to the allocator, pending waits
 * are dropped without callback). NULL: nothing. */
void channels_free(struct channels *cs);

/* Apply the defaults (depth 0 = 4, max_consumers 0 = 8) and check g against
 * chan.h's limits: 0, or -EINVAL / -EOVERFLOW with the limits in err. */
int channels_geom_check(struct chan_geom *g, char *err, size_t err_len);

/* Make p the producer of `name` (g as checked above): a new channel, or a
 * takeover of one whose producer is gone and whose geometry is g. 0 and *ep
 * (*takeover says which); -EINVAL (name; or another geometry, both named),
 * -EEXIST (a live producer), -EPROTO (the channel is broken), -ENOSPC
 * (arena, the limits), -ENOMEM; err says which. Opens waiting for the name
 * are resolved (their callbacks run) before it returns. */
int channels_create(struct channels *cs, struct chan_party *p, const char *name,
                    const struct chan_geom *g, struct chan_ep **ep, bool *takeover,
                    char *err, size_t err_len);

/* Attach p as a consumer of `name`. 0 and *ep; -ENOENT (no such channel;
 * with may_wait, 1: p->wait is pending and its cb will run), -EBUSY
 * (max_consumers attached), -EPROTO (broken), -ENOSPC (memory limit),
 * -ENOMEM; err says which. p->wait.cb and .data are the caller's. */
int channels_open(struct channels *cs, struct chan_party *p, const char *name, bool may_wait,
                  struct chan_ep **ep, char *err, size_t err_len);

/* Withdraw p's pending open, without callback. No-op if none. */
void channels_wait_cancel(struct channels *cs, struct chan_party *p);

/* p's endpoint on `name`: its producer end, or consumer `index`. NULL if none. */
struct chan_ep *channels_find_ep(struct chan_party *p, const char *name, bool producer,
                                 uint32_t index);

/* Detach ep (a consumer: chan_detach; the producer: chan_producer_gone) and
 * free it; the channel goes with its last endpoint, else the charge moves
 * if its payer has no endpoint left on it. */
void channels_release(struct channels *cs, struct chan_ep *ep);

/* The connection is gone: its pending open is withdrawn and every endpoint
 * released. Returns how many endpoints it had. */
uint32_t channels_party_gone(struct channels *cs, struct chan_party *p);

/* The records behind ep, for a reply. */
void channels_view(const struct chan_ep *ep, struct chan_view *v);

/* Channels alive. */
uint32_t channels_count(const struct channels *cs);

/* What List shows of a channel: the daemon's records, and the sequence and
 * slots in flight as read (checked) from its block. */
struct channel_summary {
    const char *name;
    uint64_t off, region_bytes;
    struct chan_geom geom;
    const struct chan_ep *producer;              /* NULL: none */
    const struct chan_ep *const *consumers;      /* n_consumers, by index */
    uint32_t n_consumers;
    uint64_t sequence;
    uint32_t slots_in_flight;
    bool broken;
};

/* Call cb for every channel (in no order); stops at, and returns, the first
 * nonzero cb result. */
int channels_foreach(const struct channels *cs,
                     int (*cb)(const struct channel_summary *c, void *arg), void *arg);

#endif
