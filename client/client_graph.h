/* client_graph.h - the graph builder's and the plan's records, shared by
 * client_graph.c (building, the plan's lookups) and client_register.c (the
 * registration's request and reply); never installed. */
#ifndef ORION_CLIENT_GRAPH_H
#define ORION_CLIENT_GRAPH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "client_internal.h"

struct graph_tensor_rec {
    uint64_t id;
    uint64_t bytes;
    uint64_t align;
    enum orion_tensor_kind kind;
    char *share; /* owned copies, NULL when absent */
    char *name;
    size_t share_len, name_len;
    size_t wire_len; /* its Tensor message's bytes on the wire */
};

struct graph_op_rec {
    char *name;
    uint64_t *ids;   /* inputs then outputs, one allocation */
    size_t n_inputs;
    size_t n_outputs;
    size_t name_len;
    size_t in_len, out_len; /* the packed arrays' bytes */
    size_t wire_len;        /* its Op message's bytes */
};

/* A graph's RegisterGraph as the Request's field 3 (key, length, message):
 * every registration of the graph sends these bytes after its request id. */
struct packed_graph {
    size_t len;
    uint8_t bytes[];
};

struct orion_graph {
    char *name;
    char *policy;
    struct graph_tensor_rec *tensors;
    size_t n_tensors, cap_tensors;
    struct graph_op_rec *ops;
    size_t n_ops, cap_ops;
    size_t body_len;  /* the tensors' and ops' fields in a RegisterGraph */
    /* Packed at the first registration and kept until the graph changes
     * (client_register.c); set by compare-and-swap, so that threads
     * registering one graph at once agree on it. */
    _Atomic(struct packed_graph *) packed;
};

/* Drop g's packed request (the graph is changing). */
void client_graph_unpack(orion_graph *g);

struct plan_index {
    uint64_t id;
    size_t at;   /* index into placements */
};

struct orion_plan {
    orion_client *c;
    uint64_t graph_id;
    uint64_t workspace_off;
    uint64_t peak_bytes;
    uint64_t lower_bound_bytes;
    char *policy;
    struct orion_tensor_placement *placements; /* in the order tensors were added */
    struct plan_index *index;                  /* sorted by id */
    size_t n_tensors;
};

/* Free p's memory (not its registration); NULL is fine. */
void client_plan_free(orion_plan *p);

/* Sort p's index by id (p->index[i] = {placement i's id, i} on entry). */
void client_plan_index(orion_plan *p);

/* Give graph_id back without waiting for the answer (orion_plan_release). */
int client_release_graph(orion_client *c, uint64_t graph_id);

/* Bytes of an unsigned varint; the key of a field numbered below 16 is one. */
static inline size_t client_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#endif
