/* reply.h - responses to a connection's requests: encoded, framed and
 * queued (the arena descriptor passed with the hello reply).
 *
 * Every function returns 0, or a negative errno when the reply could not be
 * queued; the connection is then being closed and the caller just stops. */
#ifndef ORION_REPLY_H
#define ORION_REPLY_H

#include "conn.h"
#include "registry.h"
#include "session.h"

#include "orion.pb-c.h"

/* Encode and queue resp on s. */
int reply_send(struct session *s, const Orion__Response *resp);

/* Encode resp into a frame to queue later; no session involved, so any
 * thread may. NULL: too large or out of memory. */
struct conn_write *reply_encode(const Orion__Response *resp);

/* Queue a frame reply_encode made (taken: freed whatever the outcome). */
int reply_queue(struct session *s, struct conn_write *w);

/* Reply Error{code, message}. */
int reply_error(struct session *s, uint64_t request_id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reply Ok. */
int reply_ok(struct session *s, uint64_t request_id);

/* Reply BufferReply for b (holder_gone: see orion.proto). */
int reply_buffer(struct session *s, uint64_t request_id, const struct reg_buffer *b);
int reply_buffer_holder_gone(struct session *s, uint64_t request_id, const struct reg_buffer *b);

/* Send resp with descriptor fd as SCM_RIGHTS on its first byte; only with
 * nothing else queued. */
int reply_with_fd(struct session *s, const Orion__Response *resp, int fd);

#endif
