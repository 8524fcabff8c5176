/* session.h - what one connection is and owns: its state flags and its
 * graphs; everything it owns is released when it closes, whatever way the
 * peer died.
 *
 * State is one flags word changed only through session_set/session_clear
 * (libuv's handle flags are the model). Work the connection has outstanding
 * elsewhere (a job on the thread pool) is known here only as a cancel
 * callback, so that this file calls nobody that calls it back. */
#ifndef ORION_SESSION_H
#define ORION_SESSION_H

#include "channels.h"
#include "frame.h"
#include "registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct server;

enum session_flag {
    SESSION_HELLO = 1u << 0,         /* hello completed */
    SESSION_BUSY = 1u << 1,          /* a request is pending: no more frames processed */
    SESSION_READING = 1u << 2,       /* uv_read_start is in force */
    SESSION_DRAINING = 1u << 3,      /* closing after the queued writes */
    SESSION_CLOSING = 1u << 4,       /* closed; handles closing */
    SESSION_CLOSE_PENDING = 1u << 5, /* a close is deferred to the timer */
    SESSION_REFUSED = 1u << 6,       /* over --max-clients: told so, closing; not counted */
};

/* A registered graph: its workspace and its holds on named buffers. */
struct sgraph {
    uint64_t id;
    char *name;
    bool has_ws;
    uint64_t ws_off;
    uint64_t ws_bytes;          /* as allocated, counted in the owner's used_bytes */
    struct reg_buffer **bufs;   /* export/import buffers it holds (a graph hold each) */
    uint32_t n_bufs;
    uint64_t mem_bytes;         /* daemon memory charged to the owner for it */
    struct sgraph *next;
};

struct session {
    struct server *srv;
    uv_pipe_t pipe;
    uv_timer_t timer;           /* wait timeouts; also the deferred resume/close */
    uv_timer_t hello_timer;     /* the hello deadline */
    uv_timer_t io_timer;        /* the deadline of a frame begun */
    uv_poll_t pid_poll;         /* the peer process's exit, on its pidfd */
    int pidfd;                  /* -1: not watched */
    uv_shutdown_t shutdown_req;
    int open_handles;
    uint64_t id;
    pid_t pid;
    uid_t uid;
    struct uid_usage *user;     /* its uid's record (NULL if refused before) */
    size_t buffered;            /* its unconsumed input, counted in srv->pending_bytes */
    char *client_name;          /* Hello.client_name, cleaned for printing; owned */
    unsigned flags;             /* enum session_flag bits */
    struct reg_owner owner;
    struct frame_reader rd;
    void (*cancel_cb)(void *arg); /* outstanding work to drop when s closes */
    void *cancel_arg;
    struct reg_wait wait;       /* a pending BufferWait */
    uint64_t wait_request_id;
    struct sgraph *graphs;
    uint32_t n_graphs;
    struct chan_party chan;     /* its channel ends and pending ChannelOpen */
    struct session *prev, *next;
};

/* The session a registry owner is: every owner in the daemon is the one
 * embedded in a session. */
static inline struct session *session_of_owner(const struct reg_owner *o)
{
    return (struct session *)((char *)o - offsetof(struct session, owner));
}

static inline bool session_has(const struct session *s, unsigned f)
{
    return (s->flags & f) != 0;
}

static inline void session_set(struct session *s, unsigned f)
{
    s->flags |= f;
}

static inline void session_clear(struct session *s, unsigned f)
{
    s->flags &= ~f;
}

/* Is s closed, or on its way out (draining, or a close deferred)? */
static inline bool session_leaving(const struct session *s)
{
    return session_has(s, SESSION_CLOSING | SESSION_DRAINING | SESSION_CLOSE_PENDING);
}

/* Record outstanding work: cb(arg) runs if s closes before
 * session_cancel_clear(). One at a time. */
void session_cancel_set(struct session *s, void (*cb)(void *arg), void *arg);
void session_cancel_clear(struct session *s);

/* Undo a graph that is not (or no longer) linked into a session: drop its
 * buffer holds (newest first), free its workspace and take its bytes off o
 * (and the memory charge g->mem_bytes), free it. The one teardown of a
 * graph, for unwinding and for release. */
void sgraph_free(buddy *b, struct registry *reg, struct reg_owner *o, struct sgraph *g);

/* Link g into s (newest first). */
void session_add_graph(struct session *s, struct sgraph *g);

/* Unlink g from s and sgraph_free it. The server's graph count is the
 * caller's. */
void session_release_graph(struct session *s, struct sgraph *g);

/* Find the graph `id` of s, or NULL. */
struct sgraph *session_find_graph(struct session *s, uint64_t id);

struct session_released {
    uint32_t graphs;
    uint32_t holds;             /* connection holds on buffers */
    uint32_t channel_ends;      /* channel producer and consumer ends */
    uint64_t bytes;             /* arena bytes freed by this connection's departure */
};

/* Release everything s holds (outstanding work, pending waits, graphs,
 * channel ends, buffer holds); report what went in *rel (may be NULL). */
void session_release_all(struct session *s, struct session_released *rel);

#endif
