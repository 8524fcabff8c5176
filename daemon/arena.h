/* arena.h - the daemon's POSIX shared-memory object.
 *
 * One object, created exclusively at start-up and unlinked at shutdown. A
 * stale object left by a crashed daemon is reclaimed; one held by a live
 * daemon is refused. Liveness is an flock(LOCK_EX) that the daemon holds on a
 * private descriptor for its whole life; clients get a second, separate open
 * of the object (share_fd), so a client that keeps its descriptor after the
 * daemon died does not keep the lock alive.
 */
#ifndef ORION_ARENA_H
#define ORION_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct arena {
    char *name;        /* "/name" */
    int lock_fd;       /* private, flock'ed */
    int share_fd;      /* what clients receive (SCM_RIGHTS) */
    void *base;        /* the daemon's mapping */
    uint64_t bytes;
    int reclaimed;     /* 1 if a stale object of that name was removed */
};

/* Create the object `name` of `bytes` bytes with permission bits `mode`
 * (applied with fchmod, so the umask does not narrow it), map it, lock it.
 * Returns 0 and fills *a, or a negative errno with a sentence for the
 * operator in err: -EBUSY (a live daemon holds it), -ENOSPC (does not fit in
 * the shm file system), -ENOMEM (mmap/ftruncate), other errno from shm_open.
 * On failure nothing is left behind (the object is unlinked if we made it). */
int arena_open(const char *name, uint64_t bytes, mode_t mode, struct arena *a,
               char *err, size_t err_len);

/* Unmap, close and unlink. Safe on a zeroed or already closed arena. */
void arena_close(struct arena *a);

#endif
