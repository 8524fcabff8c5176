/* wire.h - what came off the socket, made safe to use: a scan of a frame's
 * wire bytes that bounds what decoding may allocate, the decode itself, and
 * a RegisterGraph turned into a struct graph; and the one reply too large
 * for protobuf-c's objects, a RegisterGraphReply, written straight out.
 *
 * Pure: protobuf-c and the core only, no I/O, no libuv; runs on the loop or
 * on the thread pool, and the frame fuzzer targets it alone. */
#ifndef ORION_WIRE_H
#define ORION_WIRE_H

#include "liveness.h"

#include <stddef.h>
#include <stdint.h>

#include "orion.pb-c.h"

/* A request may carry at most this many fields the schema does not name
 * (protobuf-c keeps each one in its own allocation). */
#define WIRE_UNKNOWN_MAX 1024u

/* The longest graph name the daemon keeps (as buffer names). */
#define WIRE_NAME_MAX TENSOR_SHARE_MAX

/* Decode msg[0..len) as an orion.Request, after a scan of its wire bytes:
 * protobuf-c allocates ~80 bytes for a 2-byte empty Tensor or Op, and one
 * block for every unknown field, so tensors and ops are counted against lim
 * (liveness_check_counts) and unknown fields against WIRE_UNKNOWN_MAX before
 * anything is allocated. Returns 0 and *out; -E2BIG or -ENOMEM with
 * *request_id and a message in err (the frame was consumed whole: reply and
 * carry on); or -EPROTO (not a Request). Free *out with wire_request_free. */
int wire_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                Orion__Request **out, uint64_t *request_id, char *err, size_t err_len);

/* The scan and the limits of wire_unpack, without decoding: returns 0 and
 * the Request's *body (the number of its last body field, 0: none), or what
 * wire_unpack would refuse the frame with (-EPROTO; -E2BIG with a message).
 * *request_id as wire_unpack sets it. */
int wire_check(const uint8_t *msg, size_t len, const struct graph_limits *lim,
               uint64_t *request_id, uint32_t *body, char *err, size_t err_len);

/* Free a request wire_unpack decoded; NULL is fine. */
void wire_request_free(Orion__Request *req);

/* A graph built from a RegisterGraph, self-contained: its references and
 * names are copied into arrays of its own, so the decoded request (about
 * ten times the frame's size in protobuf-c's small blocks) can be freed
 * before planning. wire_graph_free releases it. */
struct wire_graph {
    struct graph g;
    struct graph_tensor *tensors;
    struct graph_op *ops;
    uint64_t *refs;             /* every op's inputs, then outputs */
    char *names;                /* the graph's, tensors' and ops' names, NUL-ended */
    size_t names_len;           /* names' bytes */
};

/* Build wg from rg. Counts and references are checked against lim first
 * (the liveness checks, before anything is allocated or narrowed), and the
 * graph's name against WIRE_NAME_MAX (-EINVAL); tensor kinds, alignments and
 * share names are left to liveness. Returns 0, or -EINVAL / -E2BIG / -ENOMEM
 * with a message in err. */
int wire_graph_build(const Orion__RegisterGraph *rg, const struct graph_limits *lim,
                     struct wire_graph *wg, char *err, size_t err_len);

/* wire_unpack and wire_graph_build in one, for a Request whose body is a
 * RegisterGraph, straight from msg[0..len) and with no protobuf-c objects:
 * two passes over the wire bytes (count and check, then fill arrays of the
 * exact size), so wg is all that is allocated. The request's id goes to
 * *request_id and its policy ("" = the daemon's default) to policy,
 * NUL-ended and cut to policy_len - 1 bytes (cut past any policy's name, a
 * long one stays unknown). wg equals what the two would build, field for
 * field (strings end at their first NUL, as protobuf-c's do).
 * Returns 0; -ENOMSG when the body is not a RegisterGraph (decode it with
 * wire_unpack); what wire_unpack refuses the frame with (-EPROTO, -E2BIG:
 * wire_check says which of these); or what wire_graph_build refuses the
 * graph with (-EINVAL / -E2BIG / -ENOMEM, same messages). wg is to be
 * freed with wire_graph_free whatever the outcome: a refused graph keeps
 * only its name there (g.name, for messages; NULL if none). */
int wire_register_decode(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                         struct wire_graph *wg, uint64_t *request_id, char *policy,
                         size_t policy_len, char *err, size_t err_len);

/* Free what wire_graph_build or wire_register_decode allocated; a zeroed wg is fine. */
void wire_graph_free(struct wire_graph *wg);

/* Free wg's ops and their references once liveness has read them (the
 * planner, the placement and the reply need only the tensors): g.ops
 * becomes NULL, g.n_ops stays (the count, for messages); op names stay in
 * names. wire_graph_free still frees the rest. */
void wire_graph_drop_ops(struct wire_graph *wg);

/* A RegisterGraphReply inside its Response, for wire_reply_register_*:
 * placement i is tensor i's id and bytes, offset place_off[i] and live
 * range live[i]. */
struct wire_register_reply {
    uint64_t request_id;
    uint64_t graph_id;
    uint64_t ws_off;
    uint64_t peak_bytes;
    uint64_t lower_bound_bytes;
    const char *policy;                 /* NULL or "": none */
    uint32_t n_tensors;
    const struct graph_tensor *tensors;
    const uint64_t *place_off;
    const struct tensor_live *live;
};

/* The bytes of r's orion.Response, as protobuf-c would pack it, without
 * its objects (a TensorPlacement and a pointer a tensor): the size; room
 * enough for packing (at least the size, a bound cheaper to compute); and
 * the bytes written to out[0..size) (returns the size, in one pass: out
 * must have wire_reply_register_max bytes of room). Pure. */
size_t wire_reply_register_size(const struct wire_register_reply *r);
size_t wire_reply_register_max(const struct wire_register_reply *r);
size_t wire_reply_register_pack(const struct wire_register_reply *r, uint8_t *out);

#endif
