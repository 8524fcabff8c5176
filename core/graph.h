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
    double plan_ms;             /* time spent in the planner (or the cache) */
    bool cached;                /* the plan came from the cache */
    bool missed;                /* a solve given back (-EAGAIN) found no plan in the
                                   cache: the next one does not look again (nor count
                                   a second miss) */
    /* Between graph_plan_prepare and graph_plan_solve only: the planning
     * problem (buffer buf[i] is tensor buf_tensor[i]; NULL: tensor i). */
    struct plan_buffer *buf;
    uint32_t *buf_tensor;
    size_t n_buf;
};

struct plan_cache;

/* Validate g (limits lim, NULL = defaults), compute lifetimes and plan the
 * workspace with `policy` (NULL = default). On success fills *out (release it
 * with graph_plan_free) and returns 0; else a negative errno and a message
 * naming the op and tensor in err, and *out is zeroed:
 *   -EINVAL  an invalid graph (see liveness_compute), an unknown policy (the
 *            message lists the policies), or workspace sizes whose sum (with
 *            worst-case alignment padding) overflows 64 bits;
 *   -E2BIG   counts over the limits; -ENOMEM;
 *   -EFAULT  the policy produced a plan that planner_verify refused (a
 *            planner bug; the message says what was wrong);
 *   -EAGAIN  opts->no_search, and the plan needs a search (nothing planned).
 * Every plan is verified before it is returned. Workspace tensors are
 * planned as buffers [first, last + 1) of op time with their alignment (0 =
 * TENSOR_ALIGN_DEFAULT); the lower bound is planner_lower_bound() of those;
 * out->policy is the planner's own static name; plan_ms times planner_run
 * alone (CLOCK_MONOTONIC). */
int graph_plan_build(const struct graph *g, const struct graph_limits *lim,
                     const char *policy, const struct planner_opts *opts,
                     struct graph_plan *out, char *err, size_t err_len);

/* graph_plan_build, but the plan is first looked up in cache (NULL: none)
 * by the planning problem after liveness (every workspace buffer's
 * lifetime, size and alignment, the policy and opts' time limit), and a
 * plan made is put there. A cached plan is verified like a new one;
 * out->cached says which it was. */
int graph_plan_build_cached(const struct graph *g, const struct graph_limits *lim,
                            const char *policy, const struct planner_opts *opts,
                            struct plan_cache *cache, struct graph_plan *out, char *err,
                            size_t err_len);

/* graph_plan_build_cached in two steps, so that a caller can free what
 * only liveness needs (the graph's ops and their references, most of a
 * large graph's memory) before the planner's memory is taken:
 * graph_plan_prepare validates g and computes the lifetimes and the
 * planning problem into *out (live, buf; off is still NULL), and reads
 * nothing of g afterwards; graph_plan_solve computes the lower bound, plans
 * (or finds the plan in cache), verifies and fills off, freeing the
 * problem. Each returns what graph_plan_build_cached would, and on failure
 * *out is released and zeroed (so graph_plan_free after either is fine),
 * but for graph_plan_solve's -EAGAIN (opts->no_search, and the policy
 * would search): then *out is as it was (but for `missed`), for
 * graph_plan_solve again (without no_search: on the daemon's thread pool). */
int graph_plan_prepare(const struct graph *g, const struct graph_limits *lim,
                       const char *policy, struct graph_plan *out, char *err, size_t err_len);
int graph_plan_solve(struct graph_plan *p, const struct planner_opts *opts,
                     struct plan_cache *cache, char *err, size_t err_len);

/* Free what graph_plan_build allocated and zero *p. NULL or a zeroed plan
 * is fine. */
void graph_plan_free(struct graph_plan *p);

#endif
