/* client_peer.c - who answers on the socket: the daemon must run as root,
 * as the caller's own uid, or as the uid the user names in ORION_DAEMON_UID,
 * before the client trusts its replies and the arena it hands over. */
#include "client_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int peer_fail(char *err, size_t err_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int peer_fail(char *err, size_t err_len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return code;
}

int client_check_peer(int fd, const char *path, char *err, size_t err_len)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return peer_fail(err, err_len, -errno, "cannot tell who serves %s (SO_PEERCRED): %s", path,
                           strerror(errno));
    uid_t me = getuid();
    if (cred.uid == 0 || cred.uid == me)
        return 0;
    const char *named = getenv("ORION_DAEMON_UID");
    if (named != NULL && *named != '\0') {
        char *end;
        errno = 0;
        unsigned long v = strtoul(named, &end, 10);
        if (errno != 0 || *end != '\0' || v > (unsigned long)(uid_t)-1)
            return peer_fail(err, err_len, -EINVAL, "ORION_DAEMON_UID='%s' is not a uid", named);
        if ((uid_t)v == cred.uid)
            return 0;
    }
    return peer_fail(err, err_len, -EPERM,
                     "%s is served by pid %d of uid %u, which is neither root nor you "
                     "(uid %u): not trusting it. If that daemon is yours, set "
                     "ORION_DAEMON_UID=%u", path, (int)cred.pid, (unsigned)cred.uid,
                     (unsigned)me, (unsigned)cred.uid);
}
