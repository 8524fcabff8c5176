/* dispatch.h - requests to replies: validation of what came off the wire,
 * the graph pipeline (on the thread pool for large graphs), named buffers. */
#ifndef ORION_DISPATCH_H
#define ORION_DISPATCH_H

#include "liveness.h"
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

/* A request may carry at most this many fields the schema does not name
 * (protobuf-c keeps each one in its own allocation). */
#define DISPATCH_UNKNOWN_MAX 1024u

/* Decode msg[0..len) as an orion.Request, after a scan of its wire bytes
 * that bounds what decoding may allocate: protobuf-c allocates ~80 bytes
 * for a 2-byte empty Tensor or Op, and one block for every unknown field, so
 * tensors and ops are counted against lim and unknown fields against
 * DISPATCH_UNKNOWN_MAX before anything is allocated. Returns 0 and *out;
 * -E2BIG with *request_id and a message in err (the frame was consumed
 * whole: reply and carry on); or -EPROTO (not a Request). Pure: runs on the
 * loop or on the pool. */
int dispatch_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                    Orion__Request **out, uint64_t *request_id, char *err, size_t err_len);

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
