/* iox_transport.h - iceoryx 2.0.3 (C binding) as one more transport of
 * bench_channel, and the benchmark's own iox-roudi.
 *
 * RouDi's names are fixed at iceoryx's build time (/dev/shm/iceoryx_mgmt,
 * /dev/shm/<user>, /tmp/roudi, /tmp/roudi.lock, /tmp/iox-unique-roudi.lock),
 * so there is one RouDi per machine: iox_roudi_start() kills a RouDi that a
 * crashed run of ours left (its config is under /tmp/orion-roudi-, its
 * parent is gone), refuses (-EBUSY) when another live one holds the unique
 * lock, and otherwise removes what a dead RouDi left under those names before
 * starting its own with a private config (mempools for 4 KiB, 1 MiB and
 * 16 MiB chunks). The RouDi is stopped by iox_roudi_stop() and an atexit
 * handler (SIGTERM, SIGKILL after 3 s), killed on SIGINT/SIGTERM/SIGHUP, and,
 * when the benchmark is killed outright, by PR_SET_PDEATHSIG(SIGKILL).
 *
 * A process may hold one iceoryx runtime, created by the first
 * iox_end_open() in it and never after a fork: bench_channel runs both
 * endpoints of an iceoryx measurement in children of its own, which end
 * with iox_end_exit() so that the runtime unregisters from RouDi.
 */
#ifndef ORION_BENCH_IOX_TRANSPORT_H
#define ORION_BENCH_IOX_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Write the config under dir ("<dir>/roudi.toml"), clean stale state, start
 * iox-roudi and wait until it accepts runtimes. Returns 0; -EBUSY when
 * another RouDi runs (why says so); -ENOENT without iox-roudi in PATH;
 * another negative errno on failure (why holds RouDi's log tail). */
int iox_roudi_start(const char *dir, char *why, size_t why_len);

/* Stop our RouDi (SIGTERM, SIGKILL after 3 s) and remove what it left.
 * Does nothing when none runs or when called in another process than the
 * one that started it. */
void iox_roudi_stop(void);

typedef struct iox_end iox_end;

/* One endpoint of a one-way channel named service: a publisher (producer)
 * or a subscriber with a waitset. Messages are bytes long; at most depth
 * are queued (the producer blocks beyond: nothing is dropped). spin_ns:
 * how long receive polls before sleeping in the waitset (0: at once). A
 * producer returns once its subscriber is connected. Exits the process on
 * failure (it is a benchmark's child). */
iox_end *iox_end_open(const char *service, int producer, uint64_t bytes, uint32_t depth,
                      uint32_t spin_ns);
void *iox_end_acquire(iox_end *e);
void iox_end_publish(iox_end *e, void *slot);
const void *iox_end_receive(iox_end *e, uint64_t *bytes);
void iox_end_done(iox_end *e, const void *slot);
/* True while a subscriber is connected (producer only). */
int iox_end_has_consumer(iox_end *e);
/* Deinitialise the endpoint; NULL does nothing. */
void iox_end_close(iox_end *e);
/* End a child that used iceoryx: exit() so that the runtime unregisters. */
void iox_end_exit(int code);

#endif
