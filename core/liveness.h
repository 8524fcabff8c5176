/* liveness.h - a static graph and the lifetime of each of its tensors.
 *
 * A graph is ops in their fixed execution order, each naming the tensor ids it
 * reads (inputs) and writes (outputs), and a table of tensors. Liveness gives
 * every tensor an interval [first, last] of op indices (inclusive) and refuses
 * every invalid graph with a message that names the op and the tensor.
 * Pure: no I/O, no globals; safe to call from any thread.
 */
#ifndef ORION_LIVENESS_H
#define ORION_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tensor_kind {
    TENSOR_INTERMEDIATE = 0, /* live from first touch to last read; shares bytes */
    TENSOR_INPUT = 1,        /* live from the start of the run */
    TENSOR_OUTPUT = 2,       /* live until the end of the run */
    TENSOR_PERSISTENT = 3,   /* weights, state: live for the whole run */
    TENSOR_EXPORT = 4,       /* own buffer outside the workspace, published as `share` */
    TENSOR_IMPORT = 5,       /* resolves to the buffer another process published as `share` */
};

#define TENSOR_ALIGN_DEFAULT 64u
#define TENSOR_SHARE_MAX 255u       /* bytes of a share (named buffer) name */

struct graph_tensor {
    uint64_t id;
    uint64_t bytes;
    uint64_t align;          /* 0 = TENSOR_ALIGN_DEFAULT; else a power of two */
    enum tensor_kind kind;
    const char *share;       /* export/import name; NULL otherwise */
    const char *name;        /* informational, may be NULL */
};

struct graph_op {
    const char *name;        /* informational, may be NULL */
    const uint64_t *inputs;  /* tensor ids read */
    uint32_t n_inputs;
    const uint64_t *outputs; /* tensor ids written */
    uint32_t n_outputs;
};

struct graph {
    const char *name;
    const struct graph_tensor *tensors;
    uint32_t n_tensors;
    const struct graph_op *ops;
    uint32_t n_ops;
};

/* What a graph may not exceed; a daemon sets these from its configuration. */
struct graph_limits {
    uint32_t max_tensors;
    uint32_t max_ops;
    uint32_t max_op_refs;       /* inputs + outputs of one op */
    uint64_t max_tensor_bytes;
    uint64_t max_align;
};

#define GRAPH_LIMITS_DEFAULT                                                   \
    { 1u << 20, 1u << 20, 1u << 16, (uint64_t)1 << 44, (uint64_t)1 << 20 }

/* The one check of a graph's counts against lim (NULL = defaults): 0, or
 * -E2BIG with "graph has N tensors, above the limit of M (max_tensors)" (or
 * ops, max_ops) in err. Counts are 64-bit so that counts read off the wire
 * before decoding can be checked too. */
int liveness_check_counts(uint64_t n_tensors, uint64_t n_ops, const struct graph_limits *lim,
                          char *err, size_t err_len);

/* The one check of op i's references (inputs + outputs) against lim: 0, or
 * -E2BIG with "op I (NAME): N inputs + outputs is above the limit of M
 * (max_op_refs)". name may be NULL. */
int liveness_check_op_refs(uint32_t i, const char *name, uint64_t refs,
                           const struct graph_limits *lim, char *err, size_t err_len);

/* Is name a valid share (named buffer) name: 1-255 bytes of printable ASCII,
 * no space? */
bool liveness_name_valid(const char *name);

struct tensor_live {
    uint32_t first; /* first op index at which the tensor is live */
    uint32_t last;  /* last op index at which it is live (inclusive) */
};

/* Validate g and compute live[i] for every tensor i (live has g->n_tensors
 * entries, in the order of g->tensors). lim NULL = GRAPH_LIMITS_DEFAULT.
 * Returns 0, or -EINVAL (-E2BIG for counts over the limits, -ENOMEM) with a
 * message in err that names the op (index and name) and the tensor id.
 *
 * Intervals (inclusive op indices; n = g->n_ops):
 *   intermediate  [first op touching it, last op reading it]; written and
 *                 never read: [w, w]
 *   input, import [0, last op touching it] ([0, 0] if no op touches it)
 *   output, export[first op touching it, n - 1]
 *   persistent    [0, n - 1]
 * Refused with -EINVAL:
 *   - no ops or no tensors; a NULL array where a count is not 0;
 *   - a duplicate tensor id; an op naming an unknown tensor id;
 *   - a tensor written by two ops, or twice by one op (persistent tensors
 *     are state and may be written by any number of ops);
 *   - an intermediate, output or export tensor read before any op wrote it
 *     (an op that reads and writes one tensor reads before its own write);
 *   - an intermediate tensor no op touches; an output or export tensor no op
 *     writes;
 *   - bytes 0 or above lim->max_tensor_bytes; align (0 = 64) not a power of
 *     two or above lim->max_align; an unknown kind;
 *   - export/import without a valid share name (liveness_name_valid); a
 *     share name on any other kind.
 * Refused with -E2BIG: more tensors than max_tensors, more ops than max_ops,
 * one op with more inputs + outputs than max_op_refs (message names the limit
 * and the value).
 * O(n_tensors + total refs) time and memory: a hash from id to index, seeded
 * from the address of its table (randomised by ASLR) so that ids chosen by a
 * client cannot be crafted to collide. */
int liveness_compute(const struct graph *g, const struct graph_limits *lim,
                     struct tensor_live *live, char *err, size_t err_len);

#endif
