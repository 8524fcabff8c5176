/* client_graph.c - the graph builder and the plan: every tensor's pointer
 * is base + offset, found by id with a binary search over a sorted index (no
 * system call after registration). The registration itself is
 * client_register.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_graph.h"

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
    atomic_init(&g->packed, NULL);
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
    client_graph_unpack(g);
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
    /* Its Tensor message as protobuf-c packs it (proto3: zeros and empty
     * strings are left out), counted once here rather than per request. */
    r.share_len = r.share != NULL ? strlen(r.share) : 0;
    r.name_len = r.name != NULL ? strlen(r.name) : 0;
    r.wire_len = (r.id ? 1 + client_varint_len(r.id) : 0) +
                 (r.bytes ? 1 + client_varint_len(r.bytes) : 0) +
                 (r.align ? 1 + client_varint_len(r.align) : 0) +
                 (r.kind ? 1 + client_varint_len((uint64_t)r.kind) : 0) +
                 (r.share_len ? 1 + client_varint_len(r.share_len) + r.share_len : 0) +
                 (r.name_len ? 1 + client_varint_len(r.name_len) + r.name_len : 0);
    client_graph_unpack(g);
    g->tensors[g->n_tensors++] = r;
    g->body_len += 1 + client_varint_len(r.wire_len) + r.wire_len;
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
    r.name_len = r.name != NULL ? strlen(r.name) : 0;
    for (size_t i = 0; i < n; i++)
        *(i < n_inputs ? &r.in_len : &r.out_len) += client_varint_len(r.ids[i]);
    r.wire_len = (r.name_len ? 1 + client_varint_len(r.name_len) + r.name_len : 0) +
                 (n_inputs ? 1 + client_varint_len(r.in_len) + r.in_len : 0) +
                 (n_outputs ? 1 + client_varint_len(r.out_len) + r.out_len : 0);
    client_graph_unpack(g);
    g->ops[g->n_ops++] = r;
    g->body_len += 1 + client_varint_len(r.wire_len) + r.wire_len;
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
    client_graph_unpack(g);
    free(g->policy);
    g->policy = p;
    return 0;
}

void client_graph_unpack(orion_graph *g)
{
    free(atomic_exchange_explicit(&g->packed, NULL, memory_order_acq_rel));
}

static int cmp_index(const void *a, const void *b)
{
    const struct plan_index *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

void client_plan_index(orion_plan *p)
{
    /* Graphs built in id order, as most are, need no sort. */
    for (size_t i = 1; i < p->n_tensors; i++)
        if (p->index[i - 1].id > p->index[i].id) {
            qsort(p->index, p->n_tensors, sizeof(*p->index), cmp_index);
            return;
        }
}

void client_plan_free(orion_plan *p)
{
    if (p == NULL)
        return;
    free(p->policy);
    free(p->placements);
    free(p->index);
    free(p);
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
    int rc = client_release_graph(p->c, p->graph_id);
    client_plan_free(p);
    return rc;
}
