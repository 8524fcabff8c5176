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

/* Frames longer than this are decoded (and, for RegisterGraph, validated
 * and planned) on the thread pool: decoding a large graph takes as long as
 * planning it. */
#define DISPATCH_POOL_FRAME ((size_t)256 << 10)

/* Queue the frame msg[0..len) of s for decoding on the thread pool (the bytes
 * are copied); s is busy until it is handled. Returns 0, or a negative errno
 * (nothing queued: the caller decodes it itself). */
int dispatch_frame_async(struct session *s, const uint8_t *msg, size_t len);

/* Handle one decoded request of s (req is owned by the callee). Replies, or
 * marks s busy until a reply comes later (planning, waiting). */
void dispatch_request(struct session *s, Orion__Request *req);

/* s is closing while its job is on the thread pool: the result will be
 * discarded. */
void dispatch_detach_job(struct plan_job *job);

#endif
