/* chan_wait.c - how the channel ring sleeps and wakes: the futex wait/wake
 * protocol both sides use (chan_ctl.c, chan_ring.c), its bounded spin and
 * the count of futex system calls (see chan.h and docs/protocol.md,
 * "Channels: the control block").
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
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "chan_internal.h"
#include "futex.h"

static _Atomic uint64_t n_syscalls;

uint64_t chan_syscalls(void) { return atomic_load_explicit(&n_syscalls, RLX); }

static int futex_wait_counted(_Atomic uint32_t *w, uint32_t v, const struct timespec *ts)
{
    atomic_fetch_add_explicit(&n_syscalls, 1, RLX);
    return orion_futex_wait(w, v, ts);
}

/* The waker's half of the protocol above: called after the condition's
 * seq_cst store. A system call only if someone sleeps. */
void chan_wake_if_sleeping(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers)
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

/* The sleeper's half: spins (bounded by spin_ns and the deadline), then
 * sleeps on futex with the protocol at the top of this file. Every loop ends
 * at the deadline. */
int chan_wait_until(_Atomic uint32_t *futex, _Atomic uint32_t *sleepers, chan_check_fn check,
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
