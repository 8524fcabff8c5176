/* orion/common.h - what every part of liborion-client's API shares. */
#ifndef ORION_COMMON_H
#define ORION_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ORION_STATIC)
#define ORION_API
#elif defined(ORION_BUILDING)
#define ORION_API __attribute__((visibility("default")))
#else
#define ORION_API
#endif

#define ORION_VERSION_MAJOR 0
#define ORION_VERSION_MINOR 1
#define ORION_VERSION_PATCH 0

/* Every fallible call returns 0 or a negative errno (-EINVAL, -ENOSPC,
 * -ENOENT, -ETIMEDOUT, -EPROTO, ...). orion_strerror() turns a code into
 * words; orion_client_error() says, for the last failed call on a client, what
 * exactly was wrong (which op, which tensor, which name). The words are a
 * static string; an unknown code is formatted into a thread-local buffer,
 * valid until the calling thread's next orion_strerror(). Never NULL. */
ORION_API const char *orion_strerror(int code);

/* The library's version, "MAJOR.MINOR.PATCH". */
ORION_API const char *orion_version(void);

/* Where the daemon listens when no path is given: $ORION_SOCKET if set, else
 * /run/orionrt/orionrtd.sock for root, else $XDG_RUNTIME_DIR/orionrtd.sock,
 * else /tmp/orionrtd-<uid>.sock ("root": effective uid 0; an empty variable
 * counts as unset). The daemon uses the same rule. The string lives in a
 * thread-local buffer: valid until the calling thread's next call. */
ORION_API const char *orion_default_socket_path(void);

#ifdef __cplusplus
}
#endif
#endif
