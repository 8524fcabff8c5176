/* arena.c - see arena.h.
 *
 * Order of set-up (each step undone on failure of a later one):
 *   shm_open(O_CREAT|O_EXCL)   -> EEXIST: open it, flock(LOCK_NB): held ->
 *                                 refuse; free -> stale: unlink, create again
 *   flock(LOCK_EX|LOCK_NB)     the daemon's liveness mark
 *   fchmod(mode)               the umask must not decide who may map it
 *   fstatvfs                   refuse an arena larger than the file system's room
 *   ftruncate(bytes), mmap     the daemon's own mapping
 *   shm_open(O_RDWR) again     the descriptor clients receive
 */
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Is the existing object `name` held by a live daemon? Returns 0 if it is
 * stale (and removes it), -EBUSY if held, or another negative errno. */
static int reclaim_stale(const char *name, char *err, size_t err_len)
{
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* gone meanwhile */
        int e = errno;
        snprintf(err, err_len, "shm object %s exists and cannot be opened: %s",
                 name, strerror(e));
        return -e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(err, err_len, "another orionrtd holds %s (stop it, or give "
                                   "--shm-name another name)", name);
            return -EBUSY;
        }
        snprintf(err, err_len, "cannot lock shm object %s: %s", name, strerror(e));
        return -e;
    }
    int rc = 0;
    if (shm_unlink(name) < 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, err_len, "cannot remove stale shm object %s: %s", name,
                 strerror(errno));
    }
    close(fd);
    return rc;
}

int arena_open(const char *name, uint64_t bytes, mode_t mode, struct arena *a,
               char *err, size_t err_len)
{
    int rc;
    memset(a, 0, sizeof(*a));
    a->lock_fd = -1;
    a->share_fd = -1;
    if (bytes == 0 || bytes > (uint64_t)SIZE_MAX || (off_t)bytes < 0) {
        snprintf(err, err_len, "arena size %llu is not usable", (unsigned long long)bytes);
        return -EINVAL;
    }
    if ((a->name = strdup(name)) == NULL) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }

    for (int attempt = 0;; attempt++) {
        a->lock_fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
        if (a->lock_fd >= 0)
            break;
        if (errno != EEXIST || attempt > 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot create shm object %s: %s", name, strerror(errno));
            goto err_free_name;
        }
        if ((rc = reclaim_stale(name, err, err_len)) < 0)
            goto err_free_name;
        a->reclaimed = 1;
    }
    /* A second daemon that opened the object between our create and this lock
     * would find it unlocked and call it stale; the socket check stops it. */
    if (flock(a->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(err, err_len, "cannot lock shm object %s: %s", name, strerror(errno));
        goto err_unlink;
    }
    if (fchmod(a->lock_fd, mode) < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot set mode %04o on %s: %s", (unsigned)mode, name,
                 strerror(errno));
        goto err_unlink;
    }
    struct statvfs vfs;
    if (fstatvfs(a->lock_fd, &vfs) == 0 && vfs.f_frsize > 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        if (bytes > avail) {
            snprintf(err, err_len,
                     "arena of %llu bytes is too large for /dev/shm (%llu bytes available)",
                     (unsigned long long)bytes, (unsigned long long)avail);
            rc = -ENOSPC;
            goto err_unlink;
        }
    }
    if (ftruncate(a->lock_fd, (off_t)bytes) < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot size shm object %s to %llu bytes: %s%s", name,
                 (unsigned long long)bytes, strerror(errno),
                 (errno == ENOMEM || errno == ENOSPC || errno == EFBIG) ?
                     " (arena too large for /dev/shm)" : "");
        goto err_unlink;
    }
    a->base = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->lock_fd, 0);
    if (a->base == MAP_FAILED) {
        rc = -errno;
        a->base = NULL;
        snprintf(err, err_len, "cannot map %llu bytes of %s: %s%s", (unsigned long long)bytes,
                 name, strerror(errno), errno == ENOMEM ? " (arena too large)" : "");
        goto err_unlink;
    }
    a->share_fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (a->share_fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot reopen shm object %s: %s", name, strerror(errno));
        goto err_unmap;
    }
    a->bytes = bytes;
    return 0;

err_unmap:
    munmap(a->base, (size_t)bytes);
    a->base = NULL;
err_unlink:
    shm_unlink(name);
    close(a->lock_fd);
    a->lock_fd = -1;
err_free_name:
    free(a->name);
    a->name = NULL;
    return rc;
}

void arena_close(struct arena *a)
{
    if (a->base != NULL)
        munmap(a->base, (size_t)a->bytes);
    if (a->share_fd >= 0)
        close(a->share_fd);
    if (a->name != NULL && a->lock_fd >= 0)
        shm_unlink(a->name);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a->name);
    memset(a, 0, sizeof(*a));
    a->lock_fd = -1;
    a->share_fd = -1;
}
