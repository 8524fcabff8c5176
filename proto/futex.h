/* futex.h - the two raw futex calls the channel ring sleeps and wakes with.
 *
 * Contract:
 * - The word is a 32-bit _Atomic uint32_t in memory that several processes map
 *   MAP_SHARED (the arena). The calls therefore never use FUTEX_PRIVATE_FLAG:
 *   the kernel keys the wait queue on the page's backing object and offset, so
 *   a waiter in one process is woken by a FUTEX_WAKE on the same word from
 *   another process, whatever address each maps it at.
 * - orion_futex_wait() sleeps only if *word still equals `expect` when the
 *   kernel looks (atomically with queueing the waiter): the caller reads the
 *   word, re-checks its condition, then waits on the value it read, so that a
 *   waker that changed the word and then called wake cannot be missed.
 *   `rel` is a relative CLOCK_MONOTONIC timeout, NULL = for ever. Returns 0
 *   when woken (or spuriously), -EAGAIN if the word had changed, -ETIMEDOUT,
 *   -EINTR. Callers re-check their condition whatever it returns.
 * - orion_futex_wake() wakes up to n waiters; returns how many it woke or
 *   -errno. Waking a word nobody waits on is harmless (and is a system call:
 *   callers avoid it with a waiter count, see chan_wait.c).
 * - Every call is a system call; chan_wait.c counts them for the benchmark. Nothing
 *   else here: no allocation, no state.
 */
#ifndef ORION_FUTEX_H
#define ORION_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline int orion_futex_wait(_Atomic uint32_t *word, uint32_t expect,
                                   const struct timespec *rel)
{
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expect, rel, NULL, 0);
    return rc == 0 ? 0 : -errno;
}

static inline int orion_futex_wake(_Atomic uint32_t *word, int n)
{
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
    return rc >= 0 ? (int)rc : -errno;
}

#endif
