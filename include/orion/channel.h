/* orion/channel.h - channels: stream messages (tensors) from one producer to
 * its consumers every iteration, zero-copy, with no daemon round trip.
 *
 * A channel is a ring of `depth` slots of `slot_bytes` bytes in the arena,
 * with a control block beside them. create, open and close are requests to
 * the daemon; acquire, publish, receive and done are atomic operations on the
 * control block, with no system call unless a side must sleep (then a futex
 * wait, and a wake from the other side). Every consumer receives every
 * message published after it opened, in order; a slot is reused once every
 * consumer that got it has called done.
 *
 * Death: a consumer whose connection ends is detached at once (its slots are
 * freed). When the producer's connection ends, consumers receive what was
 * published and then -EPIPE; a new producer creating the same name with the
 * same geometry takes the channel over and the sequence goes on.
 *
 * Threads: one thread at a time per channel handle. A handle belongs to the
 * process that made it: in a forked child every call returns -ECHILD.
 * Timeouts: < 0 waits for ever, 0 tries once, -ETIMEDOUT when time runs out.
 */
#ifndef ORION_CHANNEL_H
#define ORION_CHANNEL_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orion_channel orion_channel;

struct orion_channel_config {
    uint64_t slot_bytes;     /* bytes of one message slot, > 0 */
    uint32_t depth;          /* slots in the ring, >= 1; 0 = 4 */
    uint32_t max_consumers;  /* 0 = 8 */
};

/* Create channel `name` (the named-buffer rules; channels have their own
 * names) and become its one producer. Its bytes count in the stats and in
 * this connection's limit while it is the producer. -EEXIST when a live
 * producer holds the name; a channel whose producer is gone is taken over
 * with the same geometry, -EINVAL (naming both) with another; -ENOSPC. */
ORION_API int orion_channel_create(orion_client *c, const char *name,
                                   const struct orion_channel_config *cfg,
                                   orion_channel **out);

/* Become a consumer of `name`, waiting up to timeout_ms for it to be created
 * (timing as orion_buffer_wait: the daemon times it and the client is busy
 * meanwhile). -EBUSY when max_consumers are attached; -ETIMEDOUT. */
ORION_API int orion_channel_open(orion_client *c, const char *name, int64_t timeout_ms,
                                 orion_channel **out);

/* Producer: a free slot (slot_bytes writable bytes, 64-byte aligned) into
 * *slot, waiting while every slot is in flight. Up to depth slots may be
 * held; they are published in the order acquired. -ETIMEDOUT; -ENOBUFS with
 * depth slots acquired; -EPROTO if the control block is found corrupt. */
ORION_API int orion_channel_acquire(orion_channel *ch, int64_t timeout_ms, void **slot);

/* Producer: publish the oldest acquired slot with `bytes` <= slot_bytes of
 * payload. Never blocks. -EINVAL for another slot or too many bytes. */
ORION_API int orion_channel_publish(orion_channel *ch, void *slot, uint64_t bytes);

/* Consumer: the next message; its slot stays valid until done. bytes, seq
 * (0, 1, 2, ... per channel) may be NULL. -ETIMEDOUT; -EPIPE once everything
 * published is received and the producer is gone (receive again after a
 * takeover); -EPROTO for a corrupt control block. */
ORION_API int orion_channel_receive(orion_channel *ch, int64_t timeout_ms, const void **slot,
                                    uint64_t *bytes, uint64_t *seq);

/* Consumer: finished with a received slot. -EINVAL if it is not one this
 * consumer holds; -EPROTO if the channel was found corrupt. */
ORION_API int orion_channel_done(orion_channel *ch, const void *slot);

/* Consumers attached now (read from the control block: a hint, not a
 * promise), or a negative errno. */
ORION_API int orion_channel_consumers(const orion_channel *ch);

/* Bytes of one slot; 0 for NULL. */
ORION_API uint64_t orion_channel_slot_bytes(const orion_channel *ch);

/* Slots in the ring; 0 for NULL. */
ORION_API uint32_t orion_channel_depth(const orion_channel *ch);

/* The channel's name; NULL for NULL. */
ORION_API const char *orion_channel_name(const orion_channel *ch);

/* How long acquire and receive spin before they sleep on the futex
 * (default 50 us; 0 sleeps at once). 0 or -EINVAL. */
ORION_API int orion_channel_set_spin_ns(orion_channel *ch, uint32_t spin_ns);

/* Give this end back (the daemon detaches it) and free the handle, whatever
 * the outcome; in a forked child only the handle is freed (-ECHILD).
 * orion_channel_close(NULL) returns 0. */
ORION_API int orion_channel_close(orion_channel *ch);

#ifdef __cplusplus
}
#endif
#endif
