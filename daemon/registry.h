/* registry.h - named buffers shared across connections.
 *
 * A buffer is a block of the arena with a name, an unsealed/sealed state and
 * holds. Holders are owners (one per connection); an owner holds a buffer
 * through its connection (create, open, wait) or through its graphs (export,
 * import), and each hold is counted. When the last hold of the last owner
 * goes, the bytes return to the buddy allocator and the name is free again.
 * Waits (SEALED, UNUSED) are resolved by calling back the waiter.
 * Pure data over a buddy allocator: no I/O, no timers, single thread.
 */
#ifndef ORION_REGISTRY_H
#define ORION_REGISTRY_H

#include "buddy.h"
#include "liveness.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGISTRY_NAME_MAX TENSOR_SHARE_MAX
#define REGISTRY_ALIGN_DEFAULT 64u
#define REGISTRY_ALIGN_MAX ((uint64_t)1 << 20)

struct registry;
struct reg_hold;

/* Arena bytes shared by several owners (one user's connections) against one
 * limit. Owned by the caller; must outlive every buffer charged to it. */
struct reg_quota {
    uint64_t used_bytes;
    uint64_t limit;          /* 0 = none */
};

/* What a connection is to the registry. Embedded in the session. */
struct reg_owner {
    uint64_t id;             /* unique for the daemon's life, > 0 */
    uint64_t used_bytes;     /* arena bytes allocated on its behalf (buffers it
                                created, plus what the caller adds: workspaces) */
    struct reg_quota *quota; /* its user's arena bytes, or NULL */
    uint64_t mem_bytes;      /* daemon memory held on its behalf (records, names) */
    uint64_t mem_limit;      /* 0 = none; past it: -ENOSPC */
    struct reg_hold *holds;  /* its hold records */
    uint32_t n_holds;        /* records in holds: buffers it holds */
    /* the registry's: what it must visit when the owner goes, so that a
     * departure costs what the owner had, not what the registry has */
    struct reg_buffer *created; /* buffers it created, while it lives */
    struct reg_wait *waits;     /* its pending waits */
};

struct reg_buffer {
    char *name;
    uint64_t off;            /* arena offset */
    uint64_t bytes;          /* as asked */
    uint64_t alloc_bytes;    /* as allocated (block-rounded) */
    bool sealed;
    bool orphaned;           /* creator left before sealing */
    uint64_t creator_id;
    struct reg_owner *creator; /* NULL once the creator is gone */
    struct reg_quota *quota;   /* the creator's user's, charged alloc_bytes */
    bool other_held;         /* an owner other than the creator has held it */
    uint32_t n_holders;      /* owners holding it */
    struct reg_hold *holders;
    struct reg_buffer *hnext; /* hash chain */
    struct reg_buffer *cprev, *cnext; /* in creator->created */
    struct reg_wait *unused_waits;    /* pending UNUSED waits on it */
    bool last_drop_gone;      /* the last hold record dropped went with its owner */
};

enum reg_hold_kind { REG_HOLD_CONN, REG_HOLD_GRAPH };
enum reg_wait_for { REG_WAIT_SEALED = 0, REG_WAIT_UNUSED = 1 };

struct reg_wait;
/* status 0: resolved (for SEALED a connection hold was added for the waiter;
 * for UNUSED the last other holder released it); REG_WAIT_HOLDER_GONE: UNUSED
 * resolved because the last other holder went away (registry_owner_gone)
 * without releasing; -EPIPE: the creator left unsealed; -ENOENT: the buffer
 * went away. The wait is no longer registered when this runs; it must not
 * call into the registry. */
#define REG_WAIT_HOLDER_GONE 1
#define REG_WAIT_PENDING 2
typedef void (*reg_wait_cb)(struct reg_wait *w, int status, struct reg_buffer *b);

struct reg_wait {
    struct reg_owner *owner;
    enum reg_wait_for what;
    reg_wait_cb cb;
    void *data;               /* the caller's */
    /* the registry's */
    char name[REGISTRY_NAME_MAX + 1];
    struct reg_buffer *buf;   /* UNUSED: the buffer waited on */
    struct reg_wait *prev, *next; /* in buf->unused_waits or the name's bucket;
                                     then in the resolved list */
    struct reg_wait *oprev, *onext; /* in owner->waits */
    int status;               /* the status it is called back with */
    bool pending;
};

/* Create an empty registry that allocates from b (not owned). 0 or -ENOMEM. */
int registry_new(buddy *b, struct registry **out);

/* Free the registry and every buffer still in it (their blocks go back to the
 * allocator). Pending waits are dropped without callback. NULL: nothing. */
void registry_free(struct registry *r);

/* Is name a valid buffer name: 1-255 bytes of printable ASCII, no space? */
bool registry_name_valid(const char *name);

/* Allocate `bytes` aligned to `align` (a power of two) from the allocator,
 * for an owner o with limit `limit` (0 = none) on its used_bytes, and its
 * quota's limit. Adds the allocated bytes to o->used_bytes and its quota (o
 * may be NULL). Returns 0 with *off and *got, or -ENOSPC / -EINVAL with a
 * message in err (asked, free, largest; which limit). Give the bytes back
 * with buddy_free and registry_unaccount. */
int registry_alloc(buddy *b, struct reg_owner *o, uint64_t limit, uint64_t bytes,
                   uint64_t align, uint64_t *off, uint64_t *got, char *err, size_t err_len);

/* Take bytes that registry_alloc added off o and its quota. */
void registry_unaccount(struct reg_owner *o, uint64_t bytes);

/* Charge n bytes of daemon memory to o: 0, or -ENOSPC (nothing charged)
 * with a message in err when it would pass o->mem_limit. */
int registry_charge(struct reg_owner *o, uint64_t n, char *err, size_t err_len);
void registry_uncharge(struct reg_owner *o, uint64_t n);

/* The message registry_charge gives for n more bytes of o, into err. */
void registry_charge_msg(const struct reg_owner *o, uint64_t n, char *err, size_t err_len);

/* Create buffer `name` of `bytes` bytes aligned to `align` (0 = 64; a power of
 * two up to 1 MiB), unsealed, created by owner o and held once by it with
 * `kind`. limit: o's byte limit (0 = none). Returns 0 and *out, or -EINVAL
 * (name, size, align), -EEXIST, -ENOSPC, -ENOMEM with a message in err. */
int registry_create(struct registry *r, const char *name, uint64_t bytes, uint64_t align,
                    struct reg_owner *o, enum reg_hold_kind kind, uint64_t limit,
                    struct reg_buffer **out, char *err, size_t err_len);

/* The buffer called name, or NULL. */
struct reg_buffer *registry_find(struct registry *r, const char *name);

/* Add one hold of `kind` by o on b. Returns 0, -ENOMEM, or -ENOSPC (o's
 * daemon memory limit: a new hold record is charged to it). */
int registry_hold(struct registry *r, struct reg_buffer *b, struct reg_owner *o,
                  enum reg_hold_kind kind);

/* Drop one hold of `kind` by o on b. Returns 0, or -ENOENT if o holds none of
 * that kind. b is freed (and invalid) if that was its last hold. */
int registry_release(struct registry *r, struct reg_buffer *b, struct reg_owner *o,
                     enum reg_hold_kind kind);

/* The holds of `kind` o has on b. */
uint64_t registry_holds(const struct reg_buffer *b, const struct reg_owner *o,
                        enum reg_hold_kind kind);

/* Seal b on behalf of o. Returns 0, -EPERM (o did not create it) or
 * -EALREADY. Resolves the SEALED waits on its name. */
int registry_seal(struct registry *r, struct reg_buffer *b, struct reg_owner *o);

/* Start a wait (w->owner, w->what, w->cb, w->data set by the caller).
 * Returns 0 if it is satisfied at once (*out set; for SEALED a hold was
 * added), REG_WAIT_HOLDER_GONE if an UNUSED wait is satisfied at once
 * because the last other holder went away without releasing, 2 if it is now
 * pending (cb will run later), or a negative errno:
 * -EINVAL (bad name), -ENOENT (UNUSED: o does not hold name), -EPIPE (SEALED:
 * the creator left before sealing), -EDEADLK (SEALED: o created it and has
 * not sealed it, which o cannot do while it waits), -ETIMEDOUT (not satisfied and
 * !may_block), -ENOMEM. */
int registry_wait(struct registry *r, struct reg_wait *w, const char *name, bool may_block,
                  struct reg_buffer **out);

/* Withdraw a pending wait without callback. No-op if it is not pending. */
void registry_wait_cancel(struct registry *r, struct reg_wait *w);

/* The owner is gone: its pending waits are withdrawn, the buffers it created
 * and did not seal become orphans (their SEALED waiters get -EPIPE), and all
 * its holds are dropped. */
void registry_owner_gone(struct registry *r, struct reg_owner *o);

/* The connection holds o has, over all buffers. */
uint64_t registry_owner_conn_holds(const struct reg_owner *o);

/* Buffers in the registry. */
size_t registry_count(const struct registry *r);

/* Call fn(b, arg) for every buffer, in no particular order; fn must not
 * change the registry. Stops at, and returns, fn's first non-zero result. */
int registry_foreach(const struct registry *r,
                     int (*fn)(const struct reg_buffer *b, void *arg), void *arg);

/* Call fn(o, n_conn, n_graph, arg) for every owner holding b, with its
 * connection and graph holds on b; fn must not change the registry. Stops
 * at, and returns, fn's first non-zero result. */
int registry_foreach_holder(const struct reg_buffer *b,
                            int (*fn)(const struct reg_owner *o, uint64_t n_conn,
                                      uint64_t n_graph, void *arg),
                            void *arg);

#endif
