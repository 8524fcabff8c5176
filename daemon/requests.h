/* requests.h - the request handlers, one file per family: req_hello.c
 * (hello, stats, fault injection), req_graph.c (register, release), req_buffer.c (named
 * buffers), req_list.c (list), req_channel.c (channels). dispatch.c maps a request's
 * body case to its handler.
 *
 * A handler answers req (reply.h), or marks the session busy and answers
 * later (then server_resume). It returns REQ_KEPT if it took ownership of
 * req, REQ_DONE if the dispatcher is to free it. */
#ifndef ORION_REQUESTS_H
#define ORION_REQUESTS_H

#include "session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orion.pb-c.h"

enum { REQ_DONE = 0, REQ_KEPT = 1 };

typedef int request_fn(struct session *s, Orion__Request *req);

/* req_hello.c */
request_fn req_hello;
request_fn req_stats;
request_fn req_fault_inject;

/* req_graph.c */
request_fn req_register_graph;

/* The graph caches (the plan cache, the frame cache), made before the first
 * request; freed by req_graph_fini at exit. */
void req_graph_init(void);
void req_graph_fini(void);

struct wire_graph;

/* A RegisterGraph that wire_register_decode decoded on the pool (a large
 * frame): as req_register_graph, from *wg (taken: zeroed) and the request's
 * policy ("" = the daemon's). rc < 0 is the graph's refusal by the decode,
 * with its message in err: replied as wire_graph_build's would be (after
 * the policy's check, as there). */
void req_register_decoded(struct session *s, uint64_t request_id, const char *policy,
                          struct wire_graph *wg, int rc, const char *err);

/* A RegisterGraph frame on the loop, after hello: answered from the frame
 * cache when its bytes were registered before, else decoded straight into
 * its graph and registered (and kept, when planned on the loop). Returns
 * false, having done nothing, when the frame is not a RegisterGraph or its
 * decode refuses it: the general decode then answers it. */
bool req_register_frame(struct session *s, const uint8_t *msg, size_t len);

/* The plan cache's counters (req_graph.c; zero before the first graph). */
struct plan_cache_stats;
void req_graph_cache_stats(struct plan_cache_stats *out);
request_fn req_release_graph;

/* req_buffer.c */
request_fn req_buffer_create;
request_fn req_buffer_open;
request_fn req_buffer_seal;
request_fn req_buffer_release;
request_fn req_buffer_wait;

/* req_list.c */
request_fn req_list;
/* req_channel.c */
request_fn req_channel_create;
request_fn req_channel_open;
request_fn req_channel_close;

#endif
