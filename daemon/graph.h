/* graph.h - the planning pipeline for one graph: validate, liveness, plan.
 *
 * Turns a graph into a workspace layout: every tensor that lives in the
 * workspace (intermediate, input, output, persistent) gets an offset into one
 * block of peak_bytes; export and import tensors are left to the caller (they
 * are named buffers outside the workspace) and get GRAPH_OFF_NONE.
 * Pure: no I/O, no globals; safe on a worker thread.
 */
#ifndef ORION_GRAPH_H
#define ORION_GRAPH_H

#include "liveness.h"
#include "planner.h"

#define GRAPH_OFF_NONE UINT64_MAX

struct graph_plan {
    uint32_t n_tensors;
    struct tensor_live *live;   /* per tensor, in the order of graph.tensors */
    uint64_t *off;              /* per tensor: workspace offset or GRAPH_OFF_NONE */
    uint64_t peak_bytes;        /* workspace size */
    uint64_t lower_bound_bytes; /* no plan of this graph's workspace can be smaller */
    const char *policy;         /* static string: the policy used */
    double plan_ms;             /* time spent in the planner */
};

/* Validate g (limits lim, NULL = defaults), compute lifetimes and plan the
 * workspace with `policy` (NULL = default). On success fills *out (release it
 * with graph_plan_free) and returns 0; else a negative errno and a message
 * naming the op and tensor in err. Every plan is verified before it is
 * returned. */
int graph_plan_build(const struct graph *g, const struct graph_limits *lim,
                     const char *policy, const struct planner_opts *opts,
                     struct graph_plan *out, char *err, size_t err_len);

void graph_plan_free(struct graph_plan *p);

#endif
