/* conn.h - a connection's way out: queueing encoded frames for writing, and
 * closing (now, deferred, or after the queued writes).
 *
 * Closing releases everything the session holds (session_release_all) and
 * frees the session once its libuv handles have closed. */
#ifndef ORION_CONN_H
#define ORION_CONN_H

#include "session.h"

#include <stddef.h>
#include <stdint.h>

/* Unread reply bytes a connection may leave queued before a new request. */
#define CONN_UNREAD_MAX ((size_t)1 << 20)

/* An encoded frame on its way out. */
struct conn_write {
    uv_write_t req;
    struct session *s;
    uv_buf_t buf;
    uint8_t data[];
};

/* A conn_write with room for n bytes after the frame header (freed by
 * conn_queue, or by the caller with free() if not queued). NULL: -ENOMEM. */
struct conn_write *conn_write_new(size_t n);

/* Queue w (all of w->buf) on s. Returns 0, or a negative errno after w was
 * freed and a close of s deferred. */
int conn_queue(struct session *s, struct conn_write *w);

/* Close s now and release everything it holds. Idempotent. */
void conn_close(struct session *s);

/* Close s from the loop's next turn: for call stacks that may be inside the
 * registry. No more frames are processed. */
void conn_close_deferred(struct session *s);

/* The stream can no longer be trusted: stop reading, send what is queued,
 * then close (at most a few seconds later if the peer reads nothing). */
void conn_close_after_writes(struct session *s);

#endif
