/* lockfile.h - the daemon's single-instance lock: "<socket>.lock".
 *
 * One daemon per socket path. The lock is an flock(LOCK_EX | LOCK_NB) on a
 * regular file beside the socket, opened O_CLOEXEC and never passed to
 * anyone, so no client can hold it (a client that flocks its arena
 * descriptor locks a different object), and it dies with the daemon however
 * the daemon dies (SIGKILL included): the kernel drops the flock.
 *
 * It is taken before the socket path is touched, so two daemons started at
 * once never both probe, unlink or bind the socket: the loser stops at the
 * lock. The file holds the owner's pid, for the loser's message.
 *
 * At a clean exit the owner removes the file, last, while it still holds the
 * lock, and only if the path still names the file it locked. Removal alone
 * would let a daemon that opened the old file just before lock a file that
 * no longer has a name while a third creates a new one; so acquiring checks,
 * after the flock, that the path still names the locked file, and starts
 * again if not. A file left by a SIGKILL is simply locked again.
 */
#ifndef ORION_LOCKFILE_H
#define ORION_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lockfile {
    int fd;      /* -1 when not held */
    char *path;  /* owned: "<socket>.lock" */
    dev_t dev;   /* the file we locked */
    ino_t ino;
};

/* Take the lock for socket_path. make_dir: create the socket's missing
 * parent directory first (mode 0755), as the default socket path wants.
 * Returns 0, or a negative errno with a sentence in err: -EADDRINUSE
 * ("socket PATH in use by a running daemon (pid N holds PATH.lock)"),
 * -EPERM (the file is not a regular file of ours), or the failed call's. */
int lockfile_acquire(const char *socket_path, bool make_dir, struct lockfile *lf, char *err,
                     size_t err_len);

/* Remove the file if the path still names ours, and drop the lock. Safe on
 * a lockfile that is not held (fd -1) or zeroed by a failed acquire. */
void lockfile_release(struct lockfile *lf);

/* The lock path for a socket path ("<socket>.lock"), malloc'd, or NULL. */
char *lockfile_path(const char *socket_path);

#endif
