/* offline.h - the core's planning pipeline for the extension module, which
 * cannot include core/graph.h beside orion/graph.h (both guard with
 * ORION_GRAPH_H): the tensor and op arrays in plain C types.
 */
#ifndef ORION_PY_OFFLINE_H
#define ORION_PY_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

struct offline_tensor {
    uint64_t id, bytes, align;
    int kind;               /* enum orion_tensor_kind's values */
    const char *share, *name;
};

struct offline_op {
    const char *name;
    const uint64_t *inputs, *outputs;
    uint32_t n_inputs, n_outputs;
};

struct offline_result {
    uint64_t peak_bytes, lower_bound_bytes;
    const char *policy;     /* static */
    double plan_ms;
    uint64_t *off;          /* per tensor: workspace offset or UINT64_MAX; free() it */
};

/* graph_plan_build on these arrays (no daemon): 0, or a negative errno with
 * the core's message (which op, which tensor) in err. */
int offline_plan(const struct offline_tensor *t, uint32_t n_tensors,
                 const struct offline_op *ops, uint32_t n_ops, const char *policy,
                 double time_limit_s, struct offline_result *out, char *err, size_t err_len);

size_t offline_policy_count(void);
const char *offline_policy_name(size_t i);

#endif
