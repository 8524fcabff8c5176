/* session.h - what one connection owns; all of it is released when the
 * connection closes, whatever way the peer died. */
#ifndef ORION_SESSION_H
#define ORION_SESSION_H

#include "frame.h"
#include "registry.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct server;
struct plan_job;

/* A registered graph: its workspace and its holds on named buffers. */
struct sgraph {
    uint64_t id;
    char *name;
    bool has_ws;
    uint64_t ws_off;
    uint64_t ws_bytes;          /* as allocated, counted in the owner's used_bytes */
    struct reg_buffer **bufs;   /* export/import buffers it holds (a graph hold each) */
    uint32_t n_bufs;
    struct sgraph *next;
};

struct session {
    struct server *srv;
    uv_pipe_t pipe;
    uv_timer_t timer;           /* wait timeouts; also the deferred resume */
    uv_timer_t hello_timer;     /* the hello deadline */
    uv_shutdown_t shutdown_req;
    int open_handles;
    uint64_t id;
    pid_t pid;
    uid_t uid;
    struct reg_owner owner;
    struct frame_reader rd;
    bool hello_done;
    bool busy;                  /* a request is pending: no more frames processed */
    bool reading;
    bool draining;              /* closing after the queued writes */
    bool closing;
    bool close_pending;         /* a close is deferred to the timer */
    bool refused;               /* over --max-clients: told so, closing; not counted */
    struct plan_job *job;       /* planning on the thread pool */
    struct reg_wait wait;       /* a pending BufferWait */
    uint64_t wait_request_id;
    struct sgraph *graphs;
    uint32_t n_graphs;
    struct session *prev, *next;
};

struct session_released {
    uint32_t graphs;
    uint32_t holds;             /* connection holds on buffers */
    uint64_t bytes;             /* arena bytes freed by this connection's departure */
};

/* Free g's workspace, drop its holds, unlink it from s and free it. The
 * server's graph count is the caller's. */
void session_release_graph(struct session *s, struct sgraph *g);

/* Find the graph `id` of s, or NULL. */
struct sgraph *session_find_graph(struct session *s, uint64_t id);

/* Release everything s holds (pending wait, graphs, buffer holds); report
 * what went in *rel (may be NULL). */
void session_release_all(struct session *s, struct session_released *rel);

#endif
