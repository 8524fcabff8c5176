/* orion/graph.h - describe a static graph, register it, reach its tensors.
 *
 * Build a description with orion_graph_new/add_tensor/add_op, then
 * orion_graph_register() sends it to the daemon, which validates it, plans
 * the tensors' lifetimes and allocates one workspace in the arena. The
 * returned plan gives every tensor's pointer with no system call. */
#ifndef ORION_GRAPH_H
#define ORION_GRAPH_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

enum orion_tensor_kind {
    ORION_TENSOR_INTERMEDIATE = 0, /* shares bytes with tensors it does not overlap */
    ORION_TENSOR_INPUT = 1,        /* live from the start of the run */
    ORION_TENSOR_OUTPUT = 2,       /* live to the end of the run */
    ORION_TENSOR_PERSISTENT = 3,   /* never shares bytes */
    ORION_TENSOR_EXPORT = 4,       /* its own buffer, published under `share` */
    ORION_TENSOR_IMPORT = 5,       /* the buffer another process published as `share` */
};

struct orion_tensor_desc {
    uint64_t id;
    uint64_t bytes;
    uint64_t align;                /* 0 = 64 */
    enum orion_tensor_kind kind;
    const char *share;             /* export / import name, else NULL */
    const char *name;              /* informational, may be NULL */
};

typedef struct orion_graph orion_graph;

/* A new, empty description. name may be NULL. Returns 0 or -ENOMEM. */
ORION_API int orion_graph_new(const char *name, orion_graph **out);
ORION_API void orion_graph_free(orion_graph *g);

/* Add a tensor (strings are copied). Returns 0, -EINVAL or -ENOMEM. Validity
 * of the whole graph is the daemon's to judge, at registration. */
ORION_API int orion_graph_add_tensor(orion_graph *g, const struct orion_tensor_desc *t);

/* Append an op (execution order is the order of calls). */
ORION_API int orion_graph_add_op(orion_graph *g, const char *name,
                                 const uint64_t *inputs, size_t n_inputs,
                                 const uint64_t *outputs, size_t n_outputs);

/* Ask for a planner policy (NULL = the daemon's default). */
ORION_API int orion_graph_set_policy(orion_graph *g, const char *policy);

typedef struct orion_plan orion_plan;

/* Register g with the daemon. On success *out is the registration: its
 * tensors' memory is reserved until orion_plan_release() or the connection
 * closes. Errors: -EINVAL (invalid graph: orion_client_error names the op and
 * tensor), -ENOSPC (arena or client limit), -ENOENT (import not published). */
ORION_API int orion_graph_register(orion_client *c, const orion_graph *g, orion_plan **out);

/* The tensor's address in this process, or NULL for an unknown id. */
ORION_API void *orion_plan_tensor(const orion_plan *p, uint64_t tensor_id);

struct orion_tensor_placement {
    uint64_t id;
    uint64_t offset;     /* arena offset */
    uint64_t bytes;
    uint32_t first_op;   /* lifetime, inclusive op indices */
    uint32_t last_op;
};

ORION_API size_t orion_plan_tensor_count(const orion_plan *p);
/* The i-th tensor, in the order they were added. Returns 0 or -ERANGE. */
ORION_API int orion_plan_tensor_at(const orion_plan *p, size_t i,
                                   struct orion_tensor_placement *out);
ORION_API uint64_t orion_plan_peak_bytes(const orion_plan *p);
ORION_API uint64_t orion_plan_lower_bound_bytes(const orion_plan *p);
ORION_API uint64_t orion_plan_workspace_offset(const orion_plan *p);
ORION_API const char *orion_plan_policy(const orion_plan *p);

/* Give the registration back to the daemon and free the handle.
 * orion_plan_release(NULL) returns 0. It returns once the request is sent,
 * without waiting for the daemon's answer (a registration and its release
 * cost one round trip, not two): the daemon frees the memory before it
 * serves this connection's next request, so every later call on c sees it
 * free; another process may see it free a few microseconds later (call
 * orion_client_stats(c) first to be sure it is done). The answer is read by
 * the next call on c, which fails -EPROTO, breaking the connection, should
 * the daemon have refused the release (it never does for a plan it gave).
 * Returns 0, -ECHILD in a forked child, or -EPIPE when the connection is
 * gone (the daemon released everything the connection held then). */
ORION_API int orion_plan_release(orion_plan *p);

#ifdef __cplusplus
}
#endif
#endif
