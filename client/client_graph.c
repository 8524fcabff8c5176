/* client_graph.c - the graph builder, registration, and the plan: every
 * tensor's pointer is base + offset, found by id with a binary search over a
 * sorted index (no system call after registration). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

struct graph_tensor_rec {
    uint64_t id;
    uint64_t bytes;
    uint64_t align;
    enum orion_tensor_kind kind;
    char *share; /* owned copies, NULL when absent */
    char *name;
};

struct graph_op_rec {
    char *name;
    uint64_t *ids;   /* inputs then outputs, one allocation */
    size_t n_inputs;
    size_t n_outputs;
};

struct orion_graph {
    char *name;
    char *policy;
    struct graph_tensor_rec *tensors;
    size_t n_tensors, cap_tensors;
    struct graph_op_rec *ops;
    size_t n_ops, cap_ops;
};

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

/* strdup that maps NULL to NULL; *ok is cleared on allocation failure. */
static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

/* Grow an array to hold one more element. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / elem)
        return -ENOMEM;
    void *na = realloc(*arr, ncap * elem);
    if (na == NULL)
        return -ENOMEM;
    *arr = na;
    *cap = ncap;
    return 0;
}

int orion_graph_new(const char *name, orion_graph **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    orion_graph *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -ENOMEM;
    bool ok = true;
    g->name = dup_or_null(name, &ok);
    if (!ok) {
        free(g);
        return -ENOMEM;
    }
    *out = g;
    return 0;
}

void orion_graph_free(orion_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].share);
        free(g->tensors[i].name);
    }
    for (size_t i = 0; i < g->n_ops; i++) {
        free(g->ops[i].name);
        free(g->ops[i].ids);
    }
    free(g->tensors);
    free(g->ops);
    free(g->name);
    free(g->policy);
    free(g);
}

int orion_graph_add_tensor(orion_graph *g, const struct orion_tensor_desc *t)
{
    if (g == NULL || t == NULL)
        return -EINVAL;
    if ((int)t->kind < ORION_TENSOR_INTERMEDIATE || (int)t->kind > ORION_TENSOR_IMPORT)
        return -EINVAL;
    /* An export or import without a name cannot mean anything. */
    if ((t->kind == ORION_TENSOR_EXPORT || t->kind == ORION_TENSOR_IMPORT) &&
        (t->share == NULL || t->share[0] == '\0'))
        return -EINVAL;
    if (grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors, sizeof(*g->tensors)) < 0)
        return -ENOMEM;
    bool ok = true;
    struct graph_tensor_rec r = {
        .id = t->id, .bytes = t->bytes, .align = t->align, .kind = t->kind,
        .share = dup_or_null(t->share, &ok), .name = dup_or_null(t->name, &ok),
    };
    if (!ok) {
        free(r.share);
        free(r.name);
        return -ENOMEM;
    }
    g->tensors[g->n_tensors++] = r;
    return 0;
}

int orion_graph_add_op(orion_graph *g, const char *name, const uint64_t *inputs, size_t n_inputs,
                       const uint64_t *outputs, size_t n_outputs)
{
    if (g == NULL || (inputs == NULL && n_inputs > 0) || (outputs == NULL && n_outputs > 0))
        return -EINVAL;
    if (n_inputs > SIZE_MAX / sizeof(uint64_t) - n_outputs)
        return -EINVAL;
    if (grow((void **)&g->ops, &g->cap_ops, g->n_ops, sizeof(*g->ops)) < 0)
        return -ENOMEM;
    size_t n = n_inputs + n_outputs;
    bool ok = true;
    struct graph_op_rec r = {
        .name = dup_or_null(name, &ok),
        .ids = malloc(n ? n * sizeof(uint64_t) : 1),
        .n_inputs = n_inputs,
        .n_outputs = n_outputs,
    };
    if (!ok || r.ids == NULL) {
        free(r.name);
        free(r.ids);
        return -ENOMEM;
    }
    if (n_inputs)
        memcpy(r.ids, inputs, n_inputs * sizeof(uint64_t));
    if (n_outputs)
        memcpy(r.ids + n_inputs, outputs, n_outputs * sizeof(uint64_t));
    g->ops[g->n_ops++] = r;
    return 0;
}

int orion_graph_set_policy(orion_graph *g, const char *policy)
{
    if (g == NULL)
        return -EINVAL;
    bool ok = true;
    char *p = dup_or_null(policy, &ok);
    if (!ok)
        return -ENOMEM;
    free(g->policy);
    g->policy = p;
    return 0;
}

static int cmp_index(const void *a, const void *b)
{
    const struct plan_index *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static void plan_free(orion_plan *p)
{
    if (p == NULL)
        return;
    free(p->policy);
    free(p->placements);
    free(p->index);
    free(p);
}

/* proto3 strings are never NULL on the wire side of protobuf-c. */
static char *wire_str(const char *s)
{
    return (char *)(s != NULL ? s : protobuf_c_empty_string);
}

/* Check the daemon's placements against the request and the arena, and build
 * the plan. -EPROTO (with the message) for anything that would hand out a
 * pointer outside the arena or not match what was asked. */
static int plan_build(orion_client *c, const orion_graph *g, const Orion__RegisterGraphReply *r,
                      orion_plan **out)
{
    if (r->n_tensors != g->n_tensors)
        return client_fail(c, -EPROTO, "orionrtd placed %zu tensors of the %zu registered",
                           r->n_tensors, g->n_tensors);
    if (!client_range_ok(c, r->workspace_offset, r->peak_bytes))
        return client_fail(c, -EPROTO,
                           "orionrtd's workspace [%llu, +%llu) is outside the %llu-byte arena",
                           (unsigned long long)r->workspace_offset,
                           (unsigned long long)r->peak_bytes,
                           (unsigned long long)c->arena_bytes);
    orion_plan *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return client_fail(c, -ENOMEM, "out of memory for the plan");
    size_t n = g->n_tensors;
    p->placements = calloc(n ? n : 1, sizeof(*p->placements));
    p->index = calloc(n ? n : 1, sizeof(*p->index));
    p->policy = strdup(r->policy != NULL ? r->policy : "");
    int rc;
    if (p->placements == NULL || p->index == NULL || p->policy == NULL) {
        rc = client_fail(c, -ENOMEM, "out of memory for the plan of %zu tensors", n);
        goto err_free_plan;
    }
    for (size_t i = 0; i < n; i++) {
        const Orion__TensorPlacement *t = r->tensors[i];
        const struct graph_tensor_rec *want = &g->tensors[i];
        if (t == NULL || t->id != want->id) {
            rc = client_fail(c, -EPROTO,
                             "orionrtd's placement %zu is for tensor %llu, not tensor %llu", i,
                             t ? (unsigned long long)t->id : 0ull,
                             (unsigned long long)want->id);
            goto err_free_plan;
        }
        if (t->bytes < want->bytes) {
            rc = client_fail(c, -EPROTO,
                             "orionrtd gave tensor %llu %llu bytes where %llu were asked",
                             (unsigned long long)t->id, (unsigned long long)t->bytes,
                             (unsigned long long)want->bytes);
            goto err_free_plan;
        }
        if (!client_range_ok(c, t->offset, t->bytes)) {
            rc = client_fail(c, -EPROTO,
                             "orionrtd placed tensor %llu at [%llu, +%llu), outside the %llu-byte arena",
                             (unsigned long long)t->id, (unsigned long long)t->offset,
                             (unsigned long long)t->bytes, (unsigned long long)c->arena_bytes);
            goto err_free_plan;
        }
        p->placements[i] = (struct orion_tensor_placement){
            .id = t->id, .offset = t->offset, .bytes = t->bytes,
            .first_op = t->first_op, .last_op = t->last_op,
        };
        p->index[i] = (struct plan_index){ .id = t->id, .at = i };
    }
    qsort(p->index, n, sizeof(*p->index), cmp_index);
    p->c = c;
    p->n_tensors = n;
    p->graph_id = r->graph_id;
    p->workspace_off = r->workspace_offset;
    p->peak_bytes = r->peak_bytes;
    p->lower_bound_bytes = r->lower_bound_bytes;
    *out = p;
    return 0;

err_free_plan:
    plan_free(p);
    return rc;
}

static int release_graph_id(orion_client *c, uint64_t graph_id)
{
    Orion__ReleaseGraph body = ORION__RELEASE_GRAPH__INIT;
    body.graph_id = graph_id;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_RELEASE_GRAPH;
    req.release_graph = &body;
    Orion__Response *resp;
    int rc = client_call(c, &req, ORION__RESPONSE__BODY_OK, &resp);
    if (rc == 0)
        orion__response__free_unpacked(resp, NULL);
    return rc;
}

int orion_graph_register(orion_client *c, const orion_graph *g, orion_plan **out)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (g == NULL || out == NULL)
        return client_fail(c, -EINVAL, "orion_graph_register: %s is NULL", g ? "out" : "graph");
    *out = NULL;

    /* The request points into g; only the arrays of messages are ours. */
    Orion__Tensor *tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*tensors));
    Orion__Tensor **tensor_ptrs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*tensor_ptrs));
    Orion__Op *ops = calloc(g->n_ops ? g->n_ops : 1, sizeof(*ops));
    Orion__Op **op_ptrs = calloc(g->n_ops ? g->n_ops : 1, sizeof(*op_ptrs));
    if (tensors == NULL || tensor_ptrs == NULL || ops == NULL || op_ptrs == NULL) {
        rc = client_fail(c, -ENOMEM, "out of memory building a request of %zu tensors",
                         g->n_tensors);
        goto err_free_msgs;
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor_rec *t = &g->tensors[i];
        orion__tensor__init(&tensors[i]);
        tensors[i].id = t->id;
        tensors[i].bytes = t->bytes;
        tensors[i].align = t->align;
        tensors[i].kind = (Orion__TensorKind)t->kind;
        tensors[i].share = wire_str(t->share);
        tensors[i].name = wire_str(t->name);
        tensor_ptrs[i] = &tensors[i];
    }
    for (size_t i = 0; i < g->n_ops; i++) {
        const struct graph_op_rec *o = &g->ops[i];
        orion__op__init(&ops[i]);
        ops[i].name = wire_str(o->name);
        ops[i].n_inputs = o->n_inputs;
        ops[i].inputs = o->ids;
        ops[i].n_outputs = o->n_outputs;
        ops[i].outputs = o->ids + o->n_inputs;
        op_ptrs[i] = &ops[i];
    }
    Orion__RegisterGraph body = ORION__REGISTER_GRAPH__INIT;
    body.name = wire_str(g->name);
    body.n_tensors = g->n_tensors;
    body.tensors = tensor_ptrs;
    body.n_ops = g->n_ops;
    body.ops = op_ptrs;
    body.policy = wire_str(g->policy);
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &body;

    Orion__Response *resp;
    rc = client_call(c, &req, ORION__RESPONSE__BODY_REGISTER_GRAPH, &resp);
    if (rc < 0)
        goto err_free_msgs;
    uint64_t graph_id = resp->register_graph->graph_id;
    rc = plan_build(c, g, resp->register_graph, out);
    orion__response__free_unpacked(resp, NULL);
    if (rc == -EPROTO) {
        /* The daemon holds a registration whose reply we cannot trust:
         * ending the connection is the only safe way to give it back. */
        client_mark_broken(c);
    } else if (rc < 0) {
        /* Out of memory here: give the registration back, keeping the
         * message that says what failed. */
        char keep[CLIENT_ERR_LEN];
        snprintf(keep, sizeof(keep), "%s", orion_client_error(c));
        (void)release_graph_id(c, graph_id);
        client_fail(c, rc, "%s", keep);
    }

err_free_msgs:
    free(op_ptrs);
    free(ops);
    free(tensor_ptrs);
    free(tensors);
    return rc;
}

void *orion_plan_tensor(const orion_plan *p, uint64_t tensor_id)
{
    if (p == NULL)
        return NULL;
    size_t lo = 0, hi = p->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->index[mid].id < tensor_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n_tensors || p->index[lo].id != tensor_id)
        return NULL;
    return (char *)p->c->base + p->placements[p->index[lo].at].offset;
}

size_t orion_plan_tensor_count(const orion_plan *p)
{
    return p != NULL ? p->n_tensors : 0;
}

int orion_plan_tensor_at(const orion_plan *p, size_t i, struct orion_tensor_placement *out)
{
    if (p == NULL || out == NULL)
        return -EINVAL;
    if (i >= p->n_tensors)
        return -ERANGE;
    *out = p->placements[i];
    return 0;
}

uint64_t orion_plan_peak_bytes(const orion_plan *p)
{
    return p != NULL ? p->peak_bytes : 0;
}

uint64_t orion_plan_lower_bound_bytes(const orion_plan *p)
{
    return p != NULL ? p->lower_bound_bytes : 0;
}

uint64_t orion_plan_workspace_offset(const orion_plan *p)
{
    return p != NULL ? p->workspace_off : 0;
}

const char *orion_plan_policy(const orion_plan *p)
{
    return p != NULL ? p->policy : NULL;
}

int orion_plan_release(orion_plan *p)
{
    if (p == NULL)
        return 0;
    /* In a forked child this fails with -ECHILD without touching the socket;
     * the handle is freed whatever the outcome. */
    int rc = release_graph_id(p->c, p->graph_id);
    plan_free(p);
    return rc;
}
