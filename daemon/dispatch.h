/* dispatch.h - requests to replies: validation of what came off the wire,
 * the graph pipeline (on the thread pool for large graphs), named buffers. */
#ifndef ORION_DISPATCH_H
#define ORION_DISPATCH_H

#include "session.h"

#include "orion.pb-c.h"

/* Graphs with more tensors or op references than these are planned on
 * libuv's thread pool rather than on the loop. */
#define DISPATCH_POOL_TENSORS 256u
#define DISPATCH_POOL_REFS 1024u

/* Handle one decoded request of s (req is owned by the callee). Replies, or
 * marks s busy until a reply comes later (planning, waiting). */
void dispatch_request(struct session *s, Orion__Request *req);

/* s is closing while its job is on the thread pool: the result will be
 * discarded. */
void dispatch_detach_job(struct plan_job *job);

#endif
