/* server.h - the daemon's libuv side: the listening socket, accepting
 * connections, reading their frames and handing each complete one to the
 * on-frame callback (the server knows nothing of what a request means).
 *
 * One loop, one thread. Requests of one connection are answered in order:
 * while one is pending (planned on the thread pool, or waiting on a buffer)
 * the connection's later frames stay buffered; the socket is still read, so
 * a peer that dies meanwhile is released at once. A peer that sends more
 * than one frame ahead while a request is pending, or leaves more than 1 MiB
 * of replies unread, is closed: it is not the one-request-in-flight client
 * of the protocol, and it must not make the daemon buffer without bound.
 * At most cfg->max_clients connections are served at once: one more is told
 * Error{-EBUSY} and closed. A connection that has not completed hello within
 * cfg->hello_timeout_ms is told Error{-ETIMEDOUT} and closed.
 */
#ifndef ORION_SERVER_H
#define ORION_SERVER_H

#include "arena.h"
#include "buddy.h"
#include "config.h"
#include "liveness.h"
#include "registry.h"
#include "sockfile.h"
#include "uids.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <sys/types.h>

struct session;

/* Called with each complete frame of s, when s has no request pending; the
 * bytes are valid until the callback returns. The callback answers, or marks
 * s busy (SESSION_BUSY) and calls server_resume() once it has answered. */
typedef void (*server_frame_cb)(struct session *s, const uint8_t *msg, size_t len);

struct server {
    uv_loop_t *loop;
    const struct config *cfg;
    struct arena *arena;
    buddy *buddy;
    struct registry *reg;
    struct channels *channels; /* set by main.c after server_attach */
    struct graph_limits limits;
    uv_pipe_t listener;
    bool listening;
    bool activated;            /* socket from systemd: not ours to unlink */
    bool bound;                /* we created the socket file: */
    struct sockfile_id sock_id; /* its identity, so that we never remove a
                                   file someone else made there since */
    server_frame_cb on_frame;
    uv_signal_t sig_term, sig_int;
    struct session *sessions;
    uint32_t n_sessions;
    struct uids uids;          /* per-user connections and arena quota */
    uint64_t pending_bytes;    /* unconsumed request bytes of all connections */
    uint32_t n_graphs;
    uint64_t next_session_id;
    uint64_t next_graph_id;
    bool stopping;
    char readbuf[64 * 1024];
};

/* Set up the loop side: the listening socket (from systemd, or bound at
 * cfg->socket_path after a stale socket file is removed; a live one is
 * refused), signals. Nothing is accepted before the loop runs. Returns 0, or
 * a negative errno after a message for the operator in err; then call
 * server_stop, run the loop to close the handles, and server_cleanup. */
int server_start(struct server *srv, uv_loop_t *loop, const struct config *cfg,
                 char *err, size_t err_len);

/* Give the server what it serves (not owned) and the callback that answers
 * frames, before the loop runs. */
void server_attach(struct server *srv, struct arena *arena, buddy *b, struct registry *reg,
                   server_frame_cb on_frame);

/* Close the listener and every connection (releasing what they held) and the
 * signal handles; the loop then runs down. Idempotent. */
void server_stop(struct server *srv);

/* After the loop ended: unlink the socket file if we made it and it is
 * still ours. */
void server_cleanup(struct server *srv);

/* The pending request of s is answered: process its next frames soon
 * (from the loop, not from this call stack). */
void server_resume(struct session *s);

#endif
