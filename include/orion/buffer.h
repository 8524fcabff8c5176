/* orion/buffer.h - named buffers shared between processes with no copy.
 *
 * A producer creates a buffer by name, fills it, seals it; consumers open it
 * (or wait until it is sealed) and read the same bytes at their own mapping.
 * A buffer lives while any connection holds it. */
#ifndef ORION_BUFFER_H
#define ORION_BUFFER_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orion_buffer orion_buffer;

/* Create `name` with `bytes` bytes (aligned to 64). -EEXIST if the name is
 * taken, -ENOSPC if it does not fit. */
ORION_API int orion_buffer_create(orion_client *c, const char *name, uint64_t bytes,
                                  orion_buffer **out);

/* Open an existing buffer, sealed or not. -ENOENT if there is none. */
ORION_API int orion_buffer_open(orion_client *c, const char *name, orion_buffer **out);

/* Wait until `name` exists and is sealed, then open it. timeout_ms < 0 waits
 * for ever, 0 checks once. -ETIMEDOUT when the time runs out; -EPIPE if the
 * creator disconnected before sealing. The daemon does the timing; the wait
 * occupies the client, so other threads' calls on the same client wait for
 * it (give a thread that must keep working its own client). */
ORION_API int orion_buffer_wait(orion_client *c, const char *name, int64_t timeout_ms,
                                orion_buffer **out);

/* Seal: the producer is done writing. Only the creating connection may. */
ORION_API int orion_buffer_seal(orion_buffer *b);

/* Wait until no other connection holds b (and at least one did): a producer
 * keeps its buffer until its consumers are done. Timing as orion_buffer_wait.
 * 0 when the last other holder released it; -EOWNERDEAD when it is unused
 * because the last other holder disconnected (exited, was killed) without
 * releasing it: a consumer that may not have finished. */
ORION_API int orion_buffer_wait_unused(orion_buffer *b, int64_t timeout_ms);

ORION_API void *orion_buffer_ptr(const orion_buffer *b);
ORION_API uint64_t orion_buffer_size(const orion_buffer *b);
ORION_API uint64_t orion_buffer_offset(const orion_buffer *b);
ORION_API const char *orion_buffer_name(const orion_buffer *b);

/* Drop this connection's hold and free the handle. orion_buffer_release(NULL)
 * returns 0. */
ORION_API int orion_buffer_release(orion_buffer *b);

#ifdef __cplusplus
}
#endif
#endif
