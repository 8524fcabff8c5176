/* client_error.c - error words, the library's version, the default socket path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orion/common.h"

#ifndef ORION_VERSION
#error "ORION_VERSION must be defined by the build"
#endif

/* Words for the codes the protocol uses (docs/protocol.md), phrased for
 * orionrtd; other codes fall back to the C library's description. */
static const struct {
    int code;
    const char *words;
} orion_words[] = {
    { 0, "success" },
    { -EINVAL, "invalid argument or graph" },
    { -E2BIG, "over the daemon's limits" },
    { -ENOSPC, "no space in the arena or over the per-client limit" },
    { -EEXIST, "a buffer of that name exists" },
    { -ENOENT, "no such buffer or daemon" },
    { -EPERM, "only the creating connection may do that" },
    { -EALREADY, "already sealed" },
    { -ETIMEDOUT, "timed out" },
    { -EPIPE, "the other side went away: the connection to orionrtd, or a buffer's creator "
              "before sealing it (orion_client_error says which)" },
    { -EOWNERDEAD, "the last other holder disconnected without releasing the buffer" },
    { -EPROTO, "protocol error" },
    { -EPROTONOSUPPORT, "protocol version not supported" },
    { -ECONNREFUSED, "orionrtd refused the connection" },
    { -ECHILD, "the connection belongs to the parent process" },
    { -ENOMEM, "out of memory" },
    { -ERANGE, "index out of range" },
};

/* Unknown codes are formatted here: one buffer per thread, valid until the
 * thread's next call to orion_strerror. */
static _Thread_local char strerror_buf[64];

const char *orion_strerror(int code)
{
    for (size_t i = 0; i < sizeof(orion_words) / sizeof(orion_words[0]); i++)
        if (orion_words[i].code == code)
            return orion_words[i].words;
    if (code < 0 && code > -4096) {
        const char *d = strerrordesc_np(-code);
        if (d != NULL)
            return d;
    }
    snprintf(strerror_buf, sizeof(strerror_buf), "unknown error %d", code);
    return strerror_buf;
}

const char *orion_version(void)
{
    return ORION_VERSION;
}

/* The default path is built into a thread-local buffer: the returned string
 * is valid until the calling thread's next call, and reflects the
 * environment at the time of the call. Empty variables count as unset. */
static _Thread_local char socket_path_buf[4096];

const char *orion_default_socket_path(void)
{
    const char *env = getenv("ORION_SOCKET");
    if (env != NULL && env[0] != '\0') {
        snprintf(socket_path_buf, sizeof(socket_path_buf), "%s", env);
        return socket_path_buf;
    }
    uid_t uid = geteuid();
    if (uid == 0)
        return "/run/orionrt/orionrtd.sock";
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg != NULL && xdg[0] != '\0')
        snprintf(socket_path_buf, sizeof(socket_path_buf), "%s/orionrtd.sock", xdg);
    else
        snprintf(socket_path_buf, sizeof(socket_path_buf), "/tmp/orionrtd-%lu.sock",
                 (unsigned long)uid);
    return socket_path_buf;
}
