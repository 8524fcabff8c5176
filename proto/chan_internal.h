/* chan_internal.h - what the channel ring's files share and nothing else
 * sees: the memory-order shorthands, the checks both sides make on a control
 * block, and the futex wait/wake protocol (chan_wait.c). Never installed.
 */
#ifndef ORION_CHAN_INTERNAL_H
#define ORION_CHAN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

#define SEQ_CST memory_order_seq_cst
#define ACQ memory_order_acquire
#define REL memory_order_release
#define RLX memory_order_relaxed

static inline uint64_t mask_of(uint32_t max_consumers)
{
    return max_consumers >= 64 ? UINT64_MAX : (UINT64_C(1) << max_consumers) - 1;
}

/* The header fields that must match the private geometry. */
static inline bool header_ok(const struct chan_ctl *ctl, const struct chan_geom *g,
                             const struct chan_layout *l)
{
    return ctl->magic == CHAN_MAGIC && ctl->version == CHAN_VERSION && ctl->depth == g->depth &&
           ctl->slot_bytes == g->slot_bytes && ctl->slot_stride == l->slot_stride &&
           ctl->max_consumers == g->max_consumers && ctl->entries_off == l->entries_off &&
           ctl->desc_off == l->desc_off && ctl->slots_off == l->slots_off;
}

/* The waker's half of the protocol in chan_wait.c: call it after the seq_cst
 * store that makes the sleepers' condition true. A FUTEX_WAKE (counted) only
 * if someone sleeps on futex. */
void chan_wake_if_sleeping(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers);

/* check() returns > 0 when the caller can go on, < 0 for an error, 0 to wait;
 * `slow` is set on the checks made before sleeping and at the deadline. */
typedef int (*chan_check_fn)(void *arg, bool slow);

/* Wait until check() is > 0 (returned) or < 0 (returned), or for timeout_ms
 * (< 0: for ever; 0: one slow check): -ETIMEDOUT. Spins (bounded by spin_ns
 * and the deadline), then sleeps on futex with the protocol in chan_wait.c;
 * futex and sleepers are the waiting side's queue in the control block. */
int chan_wait_until(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers, chan_check_fn check,
                    void *arg, int64_t timeout_ms, uint32_t spin_ns);

#endif
