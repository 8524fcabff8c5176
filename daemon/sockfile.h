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

/* Sockets passed by systemd (socket activation) for this process: their
 * count (the first is fd 3), or 0. Clears the LISTEN_* variables so that
 * children do not see them. */
int sockfile_systemd_fds(void);

/* Make path ready to bind: its parent directory created (mode 0755) when
 * make_dir, else checked to exist; a stale socket file (nobody accepts on
 * it) removed; a live one refused with -EADDRINUSE ("socket PATH in use by a
 * running daemon"); anything else at path refused. */
int sockfile_prepare(const char *path, bool make_dir, char *err, size_t err_len);

/* The identity of the file at path now (after bind), for sockfile_remove. */
int sockfile_identify(const char *path, dev_t *dev, ino_t *ino);

/* Unlink path only if it is still the file identified (dev, ino): never a
 * socket another daemon bound there since. */
void sockfile_remove(const char *path, dev_t dev, ino_t ino);

#endif
