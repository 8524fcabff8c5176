/* sockfile.h - upkeep of the listening socket's file: the descriptors
 * systemd passes, the parent directory, a stale socket left by a crashed
 * daemon, and removing only the file this daemon made.
 *
 * Each function returns 0 or a negative errno with a message for the
 * operator in err. */
#ifndef ORION_SOCKFILE_H
#define ORION_SOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Sockets passed by systemd (socket activation) for this process: their
 * count (the first is fd 3), or 0. Clears the LISTEN_* variables so that
 * children do not see them. */
int sockfile_systemd_fds(void);

/* Make path ready to bind: its parent directory created (mode 0755) when
 * make_dir, else checked to exist; a stale socket file (nobody accepts on
 * it) removed; a live one refused with -EADDRINUSE ("socket PATH in use by a
 * running daemon"); anything else at path refused. */
int sockfile_prepare(const char *path, bool make_dir, char *err, size_t err_len);

/* Bind a new Unix stream socket (close-on-exec, non-blocking) at path, with
 * the file's mode never wider than 0600 while it is being made. Returns the
 * descriptor, or a negative errno with a message in err. Bound here rather
 * than by uv_pipe_bind, which remembers the path and unlinks it when the
 * handle closes, whoever's file is there by then. */
int sockfile_bind(const char *path, char *err, size_t err_len);

/* The group named (or numbered) name, for --socket-group: its gid in *gid,
 * or -ENOENT with "--socket-group NAME: no such group" in err. */
int sockfile_group(const char *name, gid_t *gid, char *err, size_t err_len);

/* Give the socket file at path to group gid (named name in messages). A
 * process without CAP_CHOWN may do it only for a group it is a member of
 * (the unit's SupplementaryGroups=): -EPERM says so. */
int sockfile_chgrp(const char *path, gid_t gid, const char *name, char *err, size_t err_len);

/* The identity of a file: device, inode and change time (inode numbers are
 * reused at once on some file systems; the change time to the nanosecond
 * tells a new file of a reused number apart). */
struct sockfile_id {
    dev_t dev;
    ino_t ino;
    struct timespec ctime;
};

/* The identity of the file at path now (after bind and chmod), for
 * sockfile_remove. */
int sockfile_identify(const char *path, struct sockfile_id *id);

/* Unlink path only if it is still the file identified: never a socket
 * someone else put there since. */
void sockfile_remove(const char *path, const struct sockfile_id *id);

#endif
