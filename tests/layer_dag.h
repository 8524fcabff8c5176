/* layer_dag.h - the registration benchmark's random DAG of layers, shared by
 * bench_rtt (what it registers) and test_graph (what the planner must reach
 * the bound of): tensor 0 the input, op k reads one to three of the six most
 * recent tensors and writes tensor k+1, the last tensor is the output; sizes
 * 1-64 KiB in 64-byte steps. The same graph every call (a fixed seed). */
#ifndef ORION_LAYER_DAG_H
#define ORION_LAYER_DAG_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness.h"

#define LAYER_DAG_TENSORS 100

/* The graph, in static storage (each call rewrites it). */
static inline struct graph layer_dag(void)
{
    static struct graph_tensor t[LAYER_DAG_TENSORS];
    static struct graph_op ops[LAYER_DAG_TENSORS - 1];
    static uint64_t in[LAYER_DAG_TENSORS - 1][3], out[LAYER_DAG_TENSORS - 1];
    uint64_t s = 42;
#define LAYER_DAG_RND() \
    (s = s * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(s >> 33))
    for (uint64_t k = 0; k < LAYER_DAG_TENSORS; k++)
        t[k] = (struct graph_tensor){.id = k, .bytes = 64 * (1 + LAYER_DAG_RND() % 1024),
                                     .align = 0,
                                     .kind = k == 0                       ? TENSOR_INPUT
                                             : k == LAYER_DAG_TENSORS - 1 ? TENSOR_OUTPUT
                                                                          : TENSOR_INTERMEDIATE};
    for (uint64_t k = 0; k + 1 < LAYER_DAG_TENSORS; k++) {
        uint32_t n = 0, want = 1 + LAYER_DAG_RND() % 3;
        for (uint32_t j = 0; j < want; j++) {
            uint32_t back = LAYER_DAG_RND() % 6;
            uint64_t x = back > k ? 0 : k - back;
            bool dup = false;
            for (uint32_t q = 0; q < n; q++)
                dup |= in[k][q] == x;
            if (!dup)
                in[k][n++] = x;
        }
        out[k] = k + 1;
        ops[k] = (struct graph_op){"layer", in[k], n, &out[k], 1};
    }
#undef LAYER_DAG_RND
    return (struct graph){"bench-dag", t, LAYER_DAG_TENSORS, ops, LAYER_DAG_TENSORS - 1};
}

#endif
