/* offline.c - offline.h on core/graph.h: plan a graph as `orionctl plan` does. */
#include "offline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "planner.h"

int offline_plan(const struct offline_tensor *t, uint32_t n_tensors,
                 const struct offline_op *ops, uint32_t n_ops, const char *policy,
                 double time_limit_s, struct offline_result *out, char *err, size_t err_len)
{
    struct graph_tensor *ts = calloc(n_tensors ? n_tensors : 1, sizeof(*ts));
    struct graph_op *os = calloc(n_ops ? n_ops : 1, sizeof(*os));
    struct planner_opts opts = {.time_limit_s = time_limit_s};
    struct graph g = {.name = NULL, .tensors = ts, .n_tensors = n_tensors, .ops = os,
                      .n_ops = n_ops};
    struct graph_plan plan;
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    memset(&plan, 0, sizeof(plan));
    if (ts == NULL || os == NULL)
        goto out;
    for (uint32_t i = 0; i < n_tensors; i++) {
        ts[i] = (struct graph_tensor){.id = t[i].id, .bytes = t[i].bytes, .align = t[i].align,
                                      .kind = (enum tensor_kind)t[i].kind,
                                      .share = t[i].share, .name = t[i].name};
    }
    for (uint32_t i = 0; i < n_ops; i++) {
        os[i] = (struct graph_op){.name = ops[i].name, .inputs = ops[i].inputs,
                                  .n_inputs = ops[i].n_inputs, .outputs = ops[i].outputs,
                                  .n_outputs = ops[i].n_outputs};
    }
    rc = graph_plan_build(&g, NULL, policy, &opts, &plan, err, err_len);
    if (rc < 0)
        goto out;
    out->off = malloc((n_tensors ? n_tensors : 1) * sizeof(uint64_t));
    if (out->off == NULL) {
        rc = -ENOMEM;
        goto out_plan;
    }
    for (uint32_t i = 0; i < n_tensors; i++)
        out->off[i] = plan.off[i] == GRAPH_OFF_NONE ? UINT64_MAX : plan.off[i];
    out->peak_bytes = plan.peak_bytes;
    out->lower_bound_bytes = plan.lower_bound_bytes;
    out->policy = plan.policy;
    out->plan_ms = plan.plan_ms;
out_plan:
    graph_plan_free(&plan);
out:
    free(os);
    free(ts);
    return rc;
}

size_t offline_policy_count(void)
{
    return planner_policy_count();
}

const char *offline_policy_name(size_t i)
{
    return planner_policy_name(i);
}
