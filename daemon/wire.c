/* wire.c - bounded decoding of requests, and RegisterGraph to struct graph. */
#include "wire.h"

#include "errmsg.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct wire_counts {
    uint64_t request_id;
    uint64_t tensors;
    uint64_t ops;
    uint64_t unknown;
    uint32_t body;              /* the Request's last body field (the oneof's) */
    bool bad;                   /* a field protobuf-c would refuse (wire type) */
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

/* A varint as protobuf-c reads one inside a packed array: at most 10 bytes,
 * the bits past 64 dropped. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*p == end)
            return -EPROTO;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -EPROTO;
}

/* The wire type protobuf-c wants for f. */
static unsigned field_wire_type(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
        return 2;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    default:
        return 0;
    }
}

/* Would protobuf-c take [p, end) as the packed array of f (wt: the type of
 * its elements)? */
static bool packed_ok(unsigned wt, const uint8_t *p, const uint8_t *end)
{
    uint64_t v;
    if (wt == 5)
        return (end - p) % 4 == 0;
    if (wt == 1)
        return (end - p) % 8 == 0;
    while (p < end)
        if (pb_varint(&p, end, &v) < 0)
            return false;
    return true;
}

/* Walk the fields of one message of type d in [p, end), descending into the
 * sub-messages the schema names (it has no cycles, so the depth is the
 * schema's), and count what decoding would multiply. No allocation. */
static int wire_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                     struct wire_counts *wc)
{
    while (p < end) {
        uint64_t key, v;
        const uint8_t *at = p;
        if (wire_varint(&p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
            return -EPROTO;
        if (p - at > 5)
            wc->bad = true;     /* protobuf-c reads keys of at most 5 bytes */
        uint32_t num = (uint32_t)(key >> 3);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        if (f == NULL) {
            wc->unknown++;
        } else if ((key & 7) != field_wire_type(f) && f->type != PROTOBUF_C_TYPE_BOOL) {
            /* Recorded, not refused: wire_unpack leaves it to protobuf-c
             * (which reads a bool from any wire type). */
            unsigned wt = field_wire_type(f);
            if (!(f->label == PROTOBUF_C_LABEL_REPEATED && wt != 2 && (key & 7) == 2))
                wc->bad = true;
        }
        if (f != NULL && d == &orion__request__descriptor &&
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            wc->body = num;
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
            at = p;
            if (wire_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -EPROTO;
            if (p - at > 5)
                wc->bad = true; /* and lengths of at most 5 */
            if (f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED && field_wire_type(f) != 2 &&
                !packed_ok(field_wire_type(f), p, p + v))
                wc->bad = true;
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

/* The scan and its limits: what wire_unpack refuses before protobuf-c. */
static int check(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                 struct wire_counts *wc, char *err, size_t err_len)
{
    memset(wc, 0, sizeof(*wc));
    if (wire_scan(&orion__request__descriptor, msg, msg + len, wc) < 0)
        return -EPROTO;
    int rc = liveness_check_counts(wc->tensors, wc->ops, lim, err, err_len);
    if (rc < 0)
        return rc;
    if (wc->unknown > WIRE_UNKNOWN_MAX) {
        errmsg_set(err, err_len, "request carries %llu fields this daemon does not know, "
                   "the limit is %u", (unsigned long long)wc->unknown, WIRE_UNKNOWN_MAX);
        return -E2BIG;
    }
    return 0;
}

int wire_check(const uint8_t *msg, size_t len, const struct graph_limits *lim,
               uint64_t *request_id, uint32_t *body, char *err, size_t err_len)
{
    struct wire_counts wc;
    int rc = check(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    *body = wc.body;
    return rc;
}

int wire_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                Orion__Request **out, uint64_t *request_id, char *err, size_t err_len)
{
    struct wire_counts wc;
    *out = NULL;
    int rc = check(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    if (rc < 0)
        return rc;
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

/* The graph's checks before its ops' (shared by both builds). */
static int check_graph(size_t name_len, uint64_t n_tensors, uint64_t n_ops,
                       const struct graph_limits *lim, char *err, size_t err_len)
{
    if (name_len > WIRE_NAME_MAX) {
        errmsg_set(err, err_len, "graph name of %zu bytes; the limit is %u", name_len,
                   WIRE_NAME_MAX);
        return -EINVAL;
    }
    return liveness_check_counts(n_tensors, n_ops, lim, err, err_len);
}

static int nomem_graph(struct wire_graph *wg, uint64_t n_tensors, uint64_t n_ops, char *err,
                       size_t err_len)
{
    wire_graph_free(wg);
    errmsg_set(err, err_len, "out of memory for %zu tensors and %zu ops", (size_t)n_tensors,
               (size_t)n_ops);
    return -ENOMEM;
}

int wire_graph_build(const Orion__RegisterGraph *rg, const struct graph_limits *lim,
                     struct wire_graph *wg, char *err, size_t err_len)
{
    memset(wg, 0, sizeof(*wg));
    size_t name_len = strlen(rg->name);
    int rc = check_graph(name_len, rg->n_tensors, rg->n_ops, lim, err, err_len);
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
    return nomem_graph(wg, rg->n_tensors, rg->n_ops, err, err_len);
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

/* ---- RegisterGraph straight from the wire ------------------------------ */

/* A string field's bytes as protobuf-c leaves them to strlen: up to the
 * first NUL. */
struct span {
    const uint8_t *p;
    size_t len;
};

static struct span span_of(const uint8_t *p, size_t len)
{
    const uint8_t *z = memchr(p, 0, len);
    return (struct span){p, z != NULL ? (size_t)(z - p) : len};
}

/* One field of a message the scan has passed (structure and wire types):
 * its number, wire type, varint value or [*vp, *vp + *vlen). */
struct field {
    uint32_t num;
    unsigned wt;
    uint64_t v;
    const uint8_t *data;
    size_t len;
};

static int next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    uint64_t key;
    if (wire_varint(p, end, &key) < 0)
        return -EPROTO;
    f->num = (uint32_t)(key >> 3);
    f->wt = key & 7;
    switch (f->wt) {
    case 0:
        return wire_varint(p, end, &f->v);
    case 1:
    case 5: {
        size_t n = f->wt == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return -EPROTO;
        *p += n;
        return 0;
    }
    case 2:
        if (wire_varint(p, end, &f->v) < 0 || f->v > (uint64_t)(end - *p))
            return -EPROTO;
        f->data = *p;
        f->len = (size_t)f->v;
        *p += f->len;
        return 0;
    default:
        return -EPROTO;
    }
}

/* An op's references: inputs (2) and outputs (3), packed or one a field;
 * out (when not NULL) gets inputs then outputs. */
static int op_refs(const uint8_t *p, const uint8_t *end, uint64_t *n_in, uint64_t *n_out,
                   uint64_t *out, struct span *name)
{
    struct field f;
    uint64_t ni = 0, no = 0, v;
    uint64_t base_out = out != NULL ? *n_in : 0;
    *name = (struct span){NULL, 0};
    while (p < end) {
        if (next_field(&p, end, &f) < 0)
            return -EPROTO;
        if (f.num == 1 && f.wt == 2) {
            *name = span_of(f.data, f.len);
        } else if ((f.num == 2 || f.num == 3) && f.wt == 0) {
            uint64_t *n = f.num == 2 ? &ni : &no;
            if (out != NULL)
                out[(f.num == 2 ? 0 : base_out) + *n] = f.v;
            (*n)++;
        } else if ((f.num == 2 || f.num == 3) && f.wt == 2) {
            uint64_t *n = f.num == 2 ? &ni : &no;
            const uint8_t *q = f.data, *qe = f.data + f.len;
            while (q < qe) {
                if (pb_varint(&q, qe, &v) < 0)
                    return -EPROTO;
                if (out != NULL)
                    out[(f.num == 2 ? 0 : base_out) + *n] = v;
                (*n)++;
            }
        }
    }
    *n_in = ni;
    *n_out = no;
    return 0;
}

/* Copy s ("" = none: NULL), NUL-ended, to *np and advance it. */
static const char *keep_span(char **np, struct span s)
{
    if (s.len == 0)
        return NULL;
    char *d = *np;
    memcpy(d, s.p, s.len);
    d[s.len] = '\0';
    *np += s.len + 1;
    return d;
}

static void fill_tensor(const uint8_t *p, const uint8_t *end, struct graph_tensor *t,
                        char **np)
{
    struct field f;
    struct span share = {NULL, 0}, name = {NULL, 0};
    memset(t, 0, sizeof(*t));
    while (p < end && next_field(&p, end, &f) == 0) {
        if (f.wt == 0 && f.num == 1)
            t->id = f.v;
        else if (f.wt == 0 && f.num == 2)
            t->bytes = f.v;
        else if (f.wt == 0 && f.num == 3)
            t->align = f.v;
        else if (f.wt == 0 && f.num == 4)
            t->kind = (enum tensor_kind)(int32_t)(uint32_t)f.v; /* as protobuf-c's int32 */
        else if (f.wt == 2 && f.num == 5)
            share = span_of(f.data, f.len);
        else if (f.wt == 2 && f.num == 6)
            name = span_of(f.data, f.len);
    }
    t->share = keep_span(np, share);
    t->name = keep_span(np, name);
}

/* The name bytes a tensor keeps (its share and name, NUL-ended). */
static size_t tensor_name_bytes(const uint8_t *p, const uint8_t *end)
{
    struct field f;
    size_t share = 0, name = 0;
    while (p < end && next_field(&p, end, &f) == 0) {
        if (f.wt == 2 && f.num == 5)
            share = span_of(f.data, f.len).len;
        else if (f.wt == 2 && f.num == 6)
            name = span_of(f.data, f.len).len;
    }
    return share + 1 + name + 1;
}

/* A refused graph keeps its name, for the reply's message (if there is
 * memory for it). Returns rc. */
static int keep_graph_name(struct wire_graph *wg, struct span name, int rc)
{
    if (name.len > 0 && (wg->names = malloc(name.len + 1)) != NULL) {
        char *np = wg->names;
        wg->g.name = keep_span(&np, name);
    }
    return rc;
}

int wire_register_decode(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                         struct wire_graph *wg, uint64_t *request_id, char *policy,
                         size_t policy_len, char *err, size_t err_len)
{
    memset(wg, 0, sizeof(*wg));
    if (policy_len > 0)
        policy[0] = '\0';
    struct wire_counts wc;
    int rc = check(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    if (rc < 0)
        return rc;
    if (wc.bad)
        return -EPROTO;
    if (wc.body != ORION__REQUEST__BODY_REGISTER_GRAPH)
        return -ENOMSG;

    /* The body: the last field 3 of the Request (a oneof keeps the last). */
    const uint8_t *p = msg, *end = msg + len, *body = NULL, *body_end = NULL;
    struct field f;
    while (p < end) {
        if (next_field(&p, end, &f) < 0)
            return -EPROTO;
        if (f.num == ORION__REQUEST__BODY_REGISTER_GRAPH && f.wt == 2) {
            body = f.data;
            body_end = f.data + f.len;
        }
    }
    if (body == NULL)
        return -EPROTO;

    /* First pass: count, and check what wire_graph_build checks, in its
     * order: name, counts, then each op's references. */
    struct span gname = {NULL, 0}, pol = {NULL, 0};
    uint64_t n_tensors = 0, n_ops = 0, n_refs = 0;
    size_t name_bytes = 1;
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    uint64_t max_op_refs = (lim != NULL ? lim : &defaults)->max_op_refs;
    uint64_t bad_op = UINT64_MAX, bad_refs = 0;
    struct span bad_name = {NULL, 0};
    for (p = body; p < body_end;) {
        if (next_field(&p, body_end, &f) < 0)
            return -EPROTO;
        if (f.wt != 2)
            continue;
        if (f.num == 1) {
            gname = span_of(f.data, f.len);
        } else if (f.num == 4) {
            pol = span_of(f.data, f.len);
        } else if (f.num == 2) {
            n_tensors++;
            name_bytes += tensor_name_bytes(f.data, f.data + f.len);
        } else if (f.num == 3) {
            uint64_t ni = 0, no = 0;
            struct span on;
            if (op_refs(f.data, f.data + f.len, &ni, &no, NULL, &on) < 0)
                return -EPROTO;
            if (bad_op == UINT64_MAX && ni + no > max_op_refs) {
                bad_op = n_ops;
                bad_refs = ni + no;
                bad_name = on;
            }
            n_refs += ni + no;
            name_bytes += on.len + 1;
            n_ops++;
        }
    }
    if (policy_len > 0) {
        size_t n = pol.len < policy_len - 1 ? pol.len : policy_len - 1;
        if (n > 0)
            memcpy(policy, pol.p, n);
        policy[n] = '\0';
    }
    name_bytes += gname.len;
    if ((rc = check_graph(gname.len, n_tensors, n_ops, lim, err, err_len)) < 0)
        return keep_graph_name(wg, gname, rc);
    if (bad_op != UINT64_MAX) {
        char *nm = malloc(bad_name.len + 1);
        if (nm == NULL)
            return nomem_graph(wg, n_tensors, n_ops, err, err_len);
        if (bad_name.len > 0)
            memcpy(nm, bad_name.p, bad_name.len);
        nm[bad_name.len] = '\0';
        rc = liveness_check_op_refs((uint32_t)bad_op, nm, bad_refs, lim, err, err_len);
        free(nm);
        assert(rc < 0);
        return keep_graph_name(wg, gname, rc);
    }

    if (n_tensors > 0 && (wg->tensors = malloc(n_tensors * sizeof(*wg->tensors))) == NULL)
        return nomem_graph(wg, n_tensors, n_ops, err, err_len);
    if (n_ops > 0 && (wg->ops = malloc(n_ops * sizeof(*wg->ops))) == NULL)
        return nomem_graph(wg, n_tensors, n_ops, err, err_len);
    if ((wg->refs = malloc((n_refs > 0 ? n_refs : 1) * sizeof(*wg->refs))) == NULL)
        return nomem_graph(wg, n_tensors, n_ops, err, err_len);
    if ((wg->names = malloc(name_bytes)) == NULL)
        return nomem_graph(wg, n_tensors, n_ops, err, err_len);

    /* Second pass: fill. */
    char *np = wg->names;
    uint64_t *rp = wg->refs;
    size_t ti = 0, oi = 0;
    for (p = body; p < body_end && next_field(&p, body_end, &f) == 0;) {
        if (f.wt != 2)
            continue;
        if (f.num == 2) {
            fill_tensor(f.data, f.data + f.len, &wg->tensors[ti++], &np);
        } else if (f.num == 3) {
            uint64_t ni, no;
            struct span on;
            struct graph_op *go = &wg->ops[oi++];
            (void)op_refs(f.data, f.data + f.len, &ni, &no, NULL, &on);
            (void)op_refs(f.data, f.data + f.len, &ni, &no, rp, &on);
            go->name = keep_span(&np, on);
            go->inputs = rp;
            go->n_inputs = (uint32_t)ni;
            go->outputs = rp + ni;
            go->n_outputs = (uint32_t)no;
            rp += ni + no;
        }
    }
    assert(ti == n_tensors && oi == n_ops && (size_t)(rp - wg->refs) == n_refs);
    wg->g.name = keep_span(&np, gname);
    wg->g.tensors = wg->tensors;
    wg->g.n_tensors = (uint32_t)n_tensors;
    wg->g.ops = wg->ops;
    wg->g.n_ops = (uint32_t)n_ops;
    return 0;
}

/* ---- RegisterGraphReply straight to the wire --------------------------- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A proto3 scalar: absent when zero (as protobuf-c packs it). */
static size_t scalar_len(uint64_t v)
{
    return v == 0 ? 0 : 1 + varint_len(v);
}

static uint8_t *scalar_put(uint8_t *p, uint32_t num, uint64_t v)
{
    if (v == 0)
        return p;
    *p++ = (uint8_t)(num << 3);
    return varint_put(p, v);
}

static size_t placement_len(const struct wire_register_reply *r, uint32_t i)
{
    return scalar_len(r->tensors[i].id) + scalar_len(r->place_off[i]) +
           scalar_len(r->tensors[i].bytes) + scalar_len(r->live[i].first) +
           scalar_len(r->live[i].last);
}

static size_t reply_body_len(const struct wire_register_reply *r)
{
    size_t n = scalar_len(r->graph_id) + scalar_len(r->ws_off) + scalar_len(r->peak_bytes) +
               scalar_len(r->lower_bound_bytes);
    size_t pl = r->policy != NULL ? strlen(r->policy) : 0;
    if (pl > 0)
        n += 1 + varint_len(pl) + pl;
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        size_t t = placement_len(r, i);
        n += 1 + varint_len(t) + t;
    }
    return n;
}

size_t wire_reply_register_size(const struct wire_register_reply *r)
{
    size_t body = reply_body_len(r);
    return scalar_len(r->request_id) + 1 + varint_len(body) + body;
}

size_t wire_reply_register_pack(const struct wire_register_reply *r, uint8_t *out)
{
    uint8_t *p = scalar_put(out, 1, r->request_id);
    size_t body = reply_body_len(r);
    *p++ = (ORION__RESPONSE__BODY_REGISTER_GRAPH << 3) | 2;
    p = varint_put(p, body);
    p = scalar_put(p, 1, r->graph_id);
    p = scalar_put(p, 2, r->ws_off);
    p = scalar_put(p, 3, r->peak_bytes);
    p = scalar_put(p, 4, r->lower_bound_bytes);
    size_t pl = r->policy != NULL ? strlen(r->policy) : 0;
    if (pl > 0) {
        *p++ = (5 << 3) | 2;
        p = varint_put(p, pl);
        memcpy(p, r->policy, pl);
        p += pl;
    }
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        *p++ = (6 << 3) | 2;
        p = varint_put(p, placement_len(r, i));
        p = scalar_put(p, 1, r->tensors[i].id);
        p = scalar_put(p, 2, r->place_off[i]);
        p = scalar_put(p, 3, r->tensors[i].bytes);
        p = scalar_put(p, 4, r->live[i].first);
        p = scalar_put(p, 5, r->live[i].last);
    }
    return (size_t)(p - out);
}
