/* wire_graph.c - a RegisterGraph as a self-contained struct graph: from
 * protobuf-c's decoded message, or straight from the wire bytes for large
 * frames (no protobuf-c objects, a fraction of their memory). */
#include "wire.h"

#include "errmsg.h"
#include "wire_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
    wg->names_len = name_bytes;
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

void wire_graph_drop_ops(struct wire_graph *wg)
{
    free(wg->ops);
    free(wg->refs);
    wg->ops = NULL;
    wg->refs = NULL;
    wg->g.ops = NULL; /* g.n_ops stays: the count is still the graph's */
}

/* ---- RegisterGraph straight from the wire ------------------------------ */

/* A string field's bytes as protobuf-c leaves them to strlen (up to the
 * first NUL) are a struct wire_str too (wire_internal.h). */

static struct wire_str span_of(const uint8_t *p, size_t len)
{
    if (len == 0)
        return (struct wire_str){p, 0};
    const uint8_t *z = memchr(p, 0, len);
    return (struct wire_str){p, z != NULL ? (size_t)(z - p) : len};
}

/* One field of a message the scan has passed (structure and wire types):
 * its number, wire type, varint value or [*vp, *vp + *vlen). */
struct field {
    uint64_t key;           /* number << 3 | wire type, as one word: compared
                               whole (a number and a type stored apart and read
                               back as one word stalled the fill on each field) */
    uint64_t v;
    const uint8_t *data;
    size_t len;
};

#define KEY(num, wt) ((uint64_t)(num) << 3 | (wt))

static inline int next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    if (wire_varint(p, end, &f->key) < 0)
        return -EPROTO;
    switch (f->key & 7) {
    case 0:
        return wire_varint(p, end, &f->v);
    case 1:
    case 5: {
        size_t n = (f->key & 7) == 1 ? 8 : 4;
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
 * out (when not NULL) gets inputs then outputs, the outputs from *n_in on
 * (the count of a previous call), or, with *n_in == UINT64_MAX, right after
 * the inputs as they come: right only when no input follows an output
 * (the scan's wire_rg.mixed says whether one does). */
static int op_refs(const uint8_t *p, const uint8_t *end, uint64_t *n_in, uint64_t *n_out,
                   uint64_t *out, struct wire_str *name)
{
    struct field f;
    uint64_t ni = 0, no = 0, v;
    bool seq = out != NULL && *n_in == UINT64_MAX;
    uint64_t base_out = out != NULL && !seq ? *n_in : 0;
    *name = (struct wire_str){NULL, 0};
    while (p < end) {
        if (next_field(&p, end, &f) < 0)
            return -EPROTO;
        if (f.key == KEY(1, 2)) {
            *name = span_of(f.data, f.len);
        } else if (f.key == KEY(2, 0) || f.key == KEY(3, 0) || f.key == KEY(2, 2) ||
                   f.key == KEY(3, 2)) {
            bool in = f.key >> 3 == 2;
            uint64_t *n = in ? &ni : &no;
            uint64_t *dst = out == NULL ? NULL : out + (in ? 0 : seq ? ni : base_out);
            if ((f.key & 7) == 0) {
                if (dst != NULL)
                    dst[*n] = f.v;
                (*n)++;
                continue;
            }
            const uint8_t *q = f.data, *qe = f.data + f.len;
            while (q < qe) {
                if (wire_pb_varint(&q, qe, &v) < 0)
                    return -EPROTO;
                if (dst != NULL)
                    dst[*n] = v;
                (*n)++;
            }
        }
    }
    *n_in = ni;
    *n_out = no;
    return 0;
}

/* Copy s ("" = none: NULL), NUL-ended, to *np and advance it. */
static const char *keep_span(char **np, struct wire_str s)
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
    struct wire_str share = {NULL, 0}, name = {NULL, 0};
    uint64_t v, len;
    memset(t, 0, sizeof(*t));
    /* The fields in the schema's order, each there or not, as encoders
     * write them: in a row, without the loop's switch (whose jumps were
     * most of the fill); anything after them, in the loop below. The scan
     * passed these bytes, so each reads. */
#define VARINT(num, set)                                         \
    if (p < end && *p == KEY(num, 0)) {                          \
        p++;                                                     \
        (void)wire_varint(&p, end, &v);                          \
        set;                                                     \
    }
#define STRING(num, dst)                                         \
    if (p < end && *p == KEY(num, 2)) {                          \
        p++;                                                     \
        (void)wire_varint(&p, end, &len);                        \
        dst = span_of(p, (size_t)len);                           \
        p += len;                                                \
    }
    VARINT(1, t->id = v)
    VARINT(2, t->bytes = v)
    VARINT(3, t->align = v)
    VARINT(4, t->kind = (enum tensor_kind)(int32_t)(uint32_t)v)
    STRING(5, share)
    STRING(6, name)
#undef VARINT
#undef STRING
    while (p < end && next_field(&p, end, &f) == 0) {
        switch (f.key) {
        case KEY(1, 0): t->id = f.v; break;
        case KEY(2, 0): t->bytes = f.v; break;
        case KEY(3, 0): t->align = f.v; break;
        case KEY(4, 0): t->kind = (enum tensor_kind)(int32_t)(uint32_t)f.v; break; /* int32 */
        case KEY(5, 2): share = span_of(f.data, f.len); break;
        case KEY(6, 2): name = span_of(f.data, f.len); break;
        default: break;
        }
    }
    t->share = keep_span(np, share);
    t->name = keep_span(np, name);
}

/* A refused graph keeps its name, for the reply's message (if there is
 * memory for it). Returns rc. */
static int keep_graph_name(struct wire_graph *wg, struct wire_str name, int rc)
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
    int rc = wire_scan_request(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    if (rc < 0)
        return rc;
    if (wc.bad)
        return -EPROTO;
    if (wc.body != ORION__REQUEST__BODY_REGISTER_GRAPH)
        return -ENOMSG;

    /* The body: the last field 3 of the Request (a oneof keeps the last),
     * which the scan entered last. */
    if (wc.rg.body.p == NULL)
        return -EPROTO;
    const uint8_t *p, *body = wc.rg.body.p, *body_end = wc.rg.body.p + wc.rg.body.len;
    struct field f;

    /* The scan counted the body (wc.rg); check what wire_graph_build
     * checks, in its order: name, counts, then each op's references. */
    struct wire_str gname = span_of(wc.rg.name.p, wc.rg.name.len);
    struct wire_str pol = span_of(wc.rg.policy.p, wc.rg.policy.len);
    uint64_t n_tensors = wc.rg.tensors, n_ops = wc.rg.ops, n_refs = wc.rg.refs;
    size_t name_bytes = wc.rg.name_bytes + gname.len;
    bool mixed = wc.rg.mixed;
    if (policy_len > 0) {
        size_t n = pol.len < policy_len - 1 ? pol.len : policy_len - 1;
        if (n > 0)
            memcpy(policy, pol.p, n);
        policy[n] = '\0';
    }
    if ((rc = check_graph(gname.len, n_tensors, n_ops, lim, err, err_len)) < 0)
        return keep_graph_name(wg, gname, rc);
    if (wc.rg.bad_op != UINT64_MAX) {
        struct wire_str bad_name = span_of(wc.rg.bad_name.p, wc.rg.bad_name.len);
        char *nm = malloc(bad_name.len + 1);
        if (nm == NULL)
            return nomem_graph(wg, n_tensors, n_ops, err, err_len);
        if (bad_name.len > 0)
            memcpy(nm, bad_name.p, bad_name.len);
        nm[bad_name.len] = '\0';
        rc = liveness_check_op_refs((uint32_t)wc.rg.bad_op, nm, wc.rg.bad_refs, lim, err,
                                    err_len);
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
    wg->names_len = name_bytes;
    if ((wg->names = malloc(name_bytes)) == NULL)
        return nomem_graph(wg, n_tensors, n_ops, err, err_len);

    /* Then fill, in one pass. */
    char *np = wg->names;
    uint64_t *rp = wg->refs;
    size_t ti = 0, oi = 0;
    for (p = body; p < body_end && next_field(&p, body_end, &f) == 0;) {
        if (f.key == KEY(2, 2)) {
            fill_tensor(f.data, f.data + f.len, &wg->tensors[ti++], &np);
        } else if (f.key == KEY(3, 2)) {
            uint64_t ni = UINT64_MAX, no;
            struct wire_str on;
            struct graph_op *go = &wg->ops[oi++];
            /* Inputs before outputs, as every encoder writes them: one
             * pass; else count first. */
            if (mixed)
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
