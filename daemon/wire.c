/* wire.c - bounded decoding of requests, and RegisterGraph to struct graph. */
#include "wire.h"

#include "errmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct wire_counts {
    uint64_t request_id;
    uint64_t tensors;
    uint64_t ops;
    uint64_t unknown;
};

static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -EPROTO;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -EPROTO;
        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -EPROTO;
}

/* Walk the fields of one message of type d in [p, end), descending into the
 * sub-messages the schema names (it has no cycles, so the depth is the
 * schema's), and count what decoding would multiply. No allocation. */
static int wire_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                     struct wire_counts *wc)
{
    while (p < end) {
        uint64_t key, v;
        if (wire_varint(&p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
            return -EPROTO;
        uint32_t num = (uint32_t)(key >> 3);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        if (f == NULL)
            wc->unknown++;
        switch (key & 7) {
        case 0: /* varint */
            if (wire_varint(&p, end, &v) < 0)
                return -EPROTO;
            if (d == &orion__request__descriptor && num == 1)
                wc->request_id = v;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return -EPROTO;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return -EPROTO;
            p += 4;
            break;
        case 2: /* length-delimited */
            if (wire_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -EPROTO;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (d == &orion__register_graph__descriptor && num == 2)
                    wc->tensors++;
                else if (d == &orion__register_graph__descriptor && num == 3)
                    wc->ops++;
                if (wire_scan(f->descriptor, p, p + v, wc) < 0)
                    return -EPROTO;
            }
            p += v;
            break;
        default: /* groups: protobuf-c refuses them too */
            return -EPROTO;
        }
    }
    return 0;
}

/* protobuf-c's allocations, so that running out of memory while decoding
 * is told apart from bytes that are not a Request (it returns NULL for
 * both). malloc is fault_malloc in fault-injection builds. */
static void *pb_alloc(void *data, size_t n)
{
    void *p = malloc(n);
    if (p == NULL && data != NULL)
        *(bool *)data = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static ProtobufCAllocator pb_free_allocator = {pb_alloc, pb_free, NULL};

void wire_request_free(Orion__Request *req)
{
    if (req != NULL)
        orion__request__free_unpacked(req, &pb_free_allocator);
}

int wire_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                Orion__Request **out, uint64_t *request_id, char *err, size_t err_len)
{
    struct wire_counts wc = {0};
    *out = NULL;
    if (wire_scan(&orion__request__descriptor, msg, msg + len, &wc) < 0)
        return -EPROTO;
    *request_id = wc.request_id;
    int rc = liveness_check_counts(wc.tensors, wc.ops, lim, err, err_len);
    if (rc < 0)
        return rc;
    if (wc.unknown > WIRE_UNKNOWN_MAX) {
        errmsg_set(err, err_len, "request carries %llu fields this daemon does not know, "
                   "the limit is %u", (unsigned long long)wc.unknown, WIRE_UNKNOWN_MAX);
        return -E2BIG;
    }
    bool nomem = false;
    ProtobufCAllocator a = {pb_alloc, pb_free, &nomem};
    *out = orion__request__unpack(&a, len, msg);
    if (*out != NULL)
        return 0;
    if (nomem) {
        errmsg_set(err, err_len, "out of memory decoding a request of %zu bytes", len);
        return -ENOMEM;
    }
    return -EPROTO;
}

/* Copy s ("" = none: NULL) to *np and advance it. */
static const char *keep_name(char **np, const char *s)
{
    if (s[0] == '\0')
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *np;
    memcpy(d, s, n);
    *np += n;
    return d;
}

int wire_graph_build(const Orion__RegisterGraph *rg, const struct graph_limits *lim,
                     struct wire_graph *wg, char *err, size_t err_len)
{
    memset(wg, 0, sizeof(*wg));
    size_t name_len = strlen(rg->name);
    if (name_len > WIRE_NAME_MAX) {
        errmsg_set(err, err_len, "graph name of %zu bytes; the limit is %u", name_len,
                   WIRE_NAME_MAX);
        return -EINVAL;
    }
    int rc = liveness_check_counts(rg->n_tensors, rg->n_ops, lim, err, err_len);
    if (rc < 0)
        return rc;
    size_t n_refs = 0, name_bytes = name_len + 1;
    for (size_t i = 0; i < rg->n_ops; i++) {
        const Orion__Op *op = rg->ops[i];
        rc = liveness_check_op_refs((uint32_t)i, op->name, (uint64_t)op->n_inputs + op->n_outputs,
                                    lim, err, err_len);
        if (rc < 0)
            return rc;
        n_refs += op->n_inputs + op->n_outputs;
        name_bytes += strlen(op->name) + 1;
    }
    for (size_t i = 0; i < rg->n_tensors; i++)
        name_bytes += strlen(rg->tensors[i]->share) + 1 + strlen(rg->tensors[i]->name) + 1;
    if (rg->n_tensors > 0 && (wg->tensors = calloc(rg->n_tensors, sizeof(*wg->tensors))) == NULL)
        goto err_nomem;
    if (rg->n_ops > 0 && (wg->ops = calloc(rg->n_ops, sizeof(*wg->ops))) == NULL)
        goto err_nomem;
    /* At least one element: the cursor below must never be NULL + 0. */
    if ((wg->refs = malloc((n_refs > 0 ? n_refs : 1) * sizeof(*wg->refs))) == NULL)
        goto err_nomem;
    if ((wg->names = malloc(name_bytes)) == NULL)
        goto err_nomem;
    char *np = wg->names;
    for (size_t i = 0; i < rg->n_tensors; i++) {
        const Orion__Tensor *t = rg->tensors[i];
        struct graph_tensor *gt = &wg->tensors[i];
        gt->id = t->id;
        gt->bytes = t->bytes;
        gt->align = t->align;
        gt->kind = (enum tensor_kind)t->kind;           /* liveness refuses unknown ones */
        gt->share = keep_name(&np, t->share);           /* and misplaced ones */
        gt->name = keep_name(&np, t->name);
    }
    uint64_t *rp = wg->refs;
    for (size_t i = 0; i < rg->n_ops; i++) {
        const Orion__Op *op = rg->ops[i];
        struct graph_op *go = &wg->ops[i];
        go->name = keep_name(&np, op->name);
        go->inputs = rp;
        go->n_inputs = (uint32_t)op->n_inputs;
        if (op->n_inputs > 0)
            memcpy(rp, op->inputs, op->n_inputs * sizeof(*rp));
        rp += op->n_inputs;
        go->outputs = rp;
        go->n_outputs = (uint32_t)op->n_outputs;
        if (op->n_outputs > 0)
            memcpy(rp, op->outputs, op->n_outputs * sizeof(*rp));
        rp += op->n_outputs;
    }
    wg->g.name = keep_name(&np, rg->name);
    wg->g.tensors = wg->tensors;
    wg->g.n_tensors = (uint32_t)rg->n_tensors;
    wg->g.ops = wg->ops;
    wg->g.n_ops = (uint32_t)rg->n_ops;
    return 0;

err_nomem:
    wire_graph_free(wg);
    errmsg_set(err, err_len, "out of memory for %zu tensors and %zu ops", rg->n_tensors,
               rg->n_ops);
    return -ENOMEM;
}

void wire_graph_free(struct wire_graph *wg)
{
    free(wg->tensors);
    free(wg->ops);
    free(wg->refs);
    free(wg->names);
    wg->tensors = NULL;
    wg->ops = NULL;
    wg->refs = NULL;
    wg->names = NULL;
}
