/* client_register.c - registering a graph: its RegisterGraph request
 * written straight from the builder's records (once: the graph keeps the
 * bytes until it changes), and the reply read straight into the plan, with
 * no protobuf-c objects in between (those were two thirds of the client's
 * time on a 200-tensor registration). The bytes
 * written are the ones protobuf-c would pack (tests/test_client_unit.c
 * compares them); a reply that is not a RegisterGraphReply for this request
 * (an Error, say) is left to the common path (client_call.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_graph.h"

/* ---- the request --------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_key(uint8_t *p, unsigned num, unsigned wt)
{
    return put_varint(p, (uint64_t)num << 3 | wt);
}

/* A proto3 scalar: left out when zero. */
static uint8_t *put_u64(uint8_t *p, unsigned num, uint64_t v)
{
    return v ? put_varint(put_key(p, num, WT_VARINT), v) : p;
}

/* A proto3 string or sub-message of len bytes: key and length (the bytes
 * are the caller's to write). */
static uint8_t *put_len(uint8_t *p, unsigned num, size_t len)
{
    return put_varint(put_key(p, num, WT_LEN), len);
}

static uint8_t *put_str(uint8_t *p, unsigned num, const char *s, size_t len)
{
    if (len == 0)
        return p;
    p = put_len(p, num, len);
    memcpy(p, s, len);
    return p + len;
}

static size_t str_field_len(size_t len)
{
    return len ? 1 + client_varint_len(len) + len : 0;
}

/* g's RegisterGraph as Request field 3, packed at the first registration
 * and kept with g (it is the same for every registration of g); NULL
 * without memory. */
static const struct packed_graph *packed_of(const orion_graph *g)
{
    orion_graph *mg = (orion_graph *)g; /* the cache only: the graph is unchanged */
    struct packed_graph *pg = atomic_load_explicit(&mg->packed, memory_order_acquire);
    if (pg != NULL)
        return pg;
    size_t name_len = g->name != NULL ? strlen(g->name) : 0;
    size_t policy_len = g->policy != NULL ? strlen(g->policy) : 0;
    size_t rg_len = str_field_len(name_len) + g->body_len + str_field_len(policy_len);
    size_t len = 1 + client_varint_len(rg_len) + rg_len;
    if ((pg = malloc(sizeof(*pg) + len)) == NULL)
        return NULL;
    pg->len = len;
    uint8_t *p = put_len(pg->bytes, 3, rg_len); /* Request.register_graph */
    p = put_str(p, 1, g->name, name_len);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor_rec *t = &g->tensors[i];
        p = put_len(p, 2, t->wire_len);
        p = put_u64(p, 1, t->id);
        p = put_u64(p, 2, t->bytes);
        p = put_u64(p, 3, t->align);
        p = put_u64(p, 4, (uint64_t)t->kind);
        p = put_str(p, 5, t->share, t->share_len);
        p = put_str(p, 6, t->name, t->name_len);
    }
    for (size_t i = 0; i < g->n_ops; i++) {
        const struct graph_op_rec *o = &g->ops[i];
        p = put_len(p, 3, o->wire_len);
        p = put_str(p, 1, o->name, o->name_len);
        if (o->n_inputs) {
            p = put_len(p, 2, o->in_len);
            for (size_t k = 0; k < o->n_inputs; k++)
                p = put_varint(p, o->ids[k]);
        }
        if (o->n_outputs) {
            p = put_len(p, 3, o->out_len);
            for (size_t k = 0; k < o->n_outputs; k++)
                p = put_varint(p, o->ids[o->n_inputs + k]);
        }
    }
    p = put_str(p, 4, g->policy, policy_len);
    /* The first to finish wins; the others free theirs. */
    struct packed_graph *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&mg->packed, &none, pg, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(pg);
        pg = none;
    }
    return pg;
}

static size_t register_size(const void *ctx, uint64_t request_id)
{
    const struct packed_graph *pg = ctx;
    return (request_id ? 1 + client_varint_len(request_id) : 0) + pg->len;
}

static void register_pack(const void *ctx, uint64_t request_id, uint8_t *out)
{
    const struct packed_graph *pg = ctx;
    uint8_t *p = put_u64(out, 1, request_id);
    memcpy(p, pg->bytes, pg->len);
}

/* ---- the reply ----------------------------------------------------------- */

struct field {
    unsigned num, wt;
    uint64_t v;                 /* a varint's value, or a length's */
    const uint8_t *data;        /* WT_LEN: the bytes */
};

/* The next field of [*p, end): 0, or -1 for bytes protobuf-c would refuse. */
static inline int next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    uint64_t key;
    f->v = 0;
    f->data = NULL;
    if (client_get_varint(p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    f->num = (unsigned)(key >> 3);
    f->wt = (unsigned)(key & 7);
    switch (f->wt) {
    case WT_VARINT:
        return client_get_varint(p, end, &f->v);
    case WT_I64:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 0;
    case WT_I32:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 0;
    case WT_LEN:
        if (client_get_varint(p, end, &f->v) < 0 || f->v > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        *p += f->v;
        return 0;
    default:
        return -1;
    }
}

struct register_reply {
    orion_client *c;
    const orion_graph *g;
    bool taken;                 /* the reply was a RegisterGraphReply */
    uint64_t graph_id;          /* its graph, registered by the daemon */
    orion_plan *plan;           /* built here when the reply is taken */
};

/* A varint at *p, read with lim (>= end) as the bound: the bytes up to lim
 * are the frame's, so a varint that runs past end is read without harm and
 * its caller sees *p > end. The first bytes unrolled (offsets and sizes
 * take 2-4). 0, or -1 as client_get_varint. */
static inline int varint_within(const uint8_t **p, const uint8_t *lim, uint64_t *v)
{
    const uint8_t *q = *p;
    if (lim - q >= 4) {
        uint64_t x = q[0];
        if (x < 0x80) {
            *v = x;
            *p = q + 1;
            return 0;
        }
        x = (x & 0x7f) | (uint64_t)(q[1] & 0x7f) << 7;
        if (q[1] < 0x80) {
            *v = x;
            *p = q + 2;
            return 0;
        }
        x |= (uint64_t)(q[2] & 0x7f) << 14;
        if (q[2] < 0x80) {
            *v = x;
            *p = q + 3;
            return 0;
        }
        x |= (uint64_t)(q[3] & 0x7f) << 21;
        if (q[3] < 0x80) {
            *v = x;
            *p = q + 4;
            return 0;
        }
    }
    return client_get_varint(p, lim, v);
}

/* A placement as the daemon writes it: its five fields in order, each
 * present (non-zero) or not, in [p, end) of a frame that goes on to lim.
 * Returns 0 with *t, or -1 for anything else (read field by field then). */
static inline int placement_canonical(const uint8_t *p, const uint8_t *end, const uint8_t *lim,
                                      struct orion_tensor_placement *t)
{
    uint64_t id = 0, off = 0, bytes = 0, first = 0, last = 0;
#define FIELD(key, v)                                                         \
    if (p < end && *p == (key) && (p++, varint_within(&p, lim, &(v)) < 0)) \
        return -1;
    FIELD(1 << 3, id)
    FIELD(2 << 3, off)
    FIELD(3 << 3, bytes)
    FIELD(4 << 3, first)
    FIELD(5 << 3, last)
#undef FIELD
    if (p != end)
        return -1;
    *t = (struct orion_tensor_placement){
        .id = id, .offset = off, .bytes = bytes,
        .first_op = (uint32_t)first, .last_op = (uint32_t)last,
    };
    return 0;
}

/* Placement i, read, against tensor i. */
static int check_placement(struct register_reply *r, size_t i,
                           const struct orion_tensor_placement *t)
{
    orion_client *c = r->c;
    const struct graph_tensor_rec *want = &r->g->tensors[i];
    if (t->id != want->id)
        return client_fail(c, -EPROTO, "orionrtd's placement %zu is for tensor %llu, not tensor %llu",
                           i, (unsigned long long)t->id, (unsigned long long)want->id);
    if (t->bytes < want->bytes)
        return client_fail(c, -EPROTO, "orionrtd gave tensor %llu %llu bytes where %llu were asked",
                           (unsigned long long)t->id, (unsigned long long)t->bytes,
                           (unsigned long long)want->bytes);
    if (!client_range_ok(c, t->offset, t->bytes))
        return client_fail(c, -EPROTO,
                           "orionrtd placed tensor %llu at [%llu, +%llu), outside the %llu-byte arena",
                           (unsigned long long)t->id, (unsigned long long)t->offset,
                           (unsigned long long)t->bytes, (unsigned long long)c->arena_bytes);
    return 0;
}

/* One TensorPlacement into placement i (any encoding protobuf-c reads),
 * checked against tensor i. */
static int take_placement(struct register_reply *r, size_t i, const uint8_t *p,
                          const uint8_t *end, struct orion_tensor_placement *t)
{
    orion_client *c = r->c;
    struct field f;
    *t = (struct orion_tensor_placement){0};
    if (placement_canonical(p, end, end, t) == 0)
        p = end;
    while (p < end) {
        if (next_field(&p, end, &f) < 0)
            return client_fail(c, -EPROTO, "orionrtd sent placement %zu that does not decode", i);
        if (f.num >= 1 && f.num <= 5 && f.wt != WT_VARINT)
            return client_fail(c, -EPROTO, "orionrtd sent placement %zu that does not decode", i);
        switch (f.num) {
        case 1: t->id = f.v; break;
        case 2: t->offset = f.v; break;
        case 3: t->bytes = f.v; break;
        case 4: t->first_op = (uint32_t)f.v; break;
        case 5: t->last_op = (uint32_t)f.v; break;
        default: break; /* a field this library does not know */
        }
    }
    return check_placement(r, i, t);
}

/* The RegisterGraphReply in [p, end) into a new plan. */
static int take_body(struct register_reply *r, const uint8_t *p, const uint8_t *end)
{
    orion_client *c = r->c;
    const orion_graph *g = r->g;
    size_t n = g->n_tensors, placed = 0;
    const uint8_t *pol = NULL;
    size_t pol_len = 0;
    struct field f;
    orion_plan *plan = calloc(1, sizeof(*plan));
    if (plan == NULL)
        return client_fail(c, -ENOMEM, "out of memory for the plan");
    plan->placements = malloc((n ? n : 1) * sizeof(*plan->placements));
    plan->index = malloc((n ? n : 1) * sizeof(*plan->index));
    int rc;
    if (plan->placements == NULL || plan->index == NULL) {
        for (const uint8_t *q = p; q < end && next_field(&q, end, &f) == 0;)
            if (f.num == 1 && f.wt == WT_VARINT)
                r->graph_id = f.v;
        rc = client_fail(c, -ENOMEM, "out of memory for the plan of %zu tensors", n);
        goto err_free_plan;
    }
    while (p < end) {
        /* The daemon's placements: key 6 (length-delimited), a one-byte
         * length and the canonical fields, read here in one go. */
        if (p[0] == (6 << 3 | WT_LEN) && end - p >= 2 && p[1] < 0x80 && p[1] <= end - p - 2 &&
            placed < n &&
            placement_canonical(p + 2, p + 2 + p[1], end, &plan->placements[placed]) == 0) {
            if ((rc = check_placement(r, placed, &plan->placements[placed])) < 0)
                goto err_free_plan;
            plan->index[placed] = (struct plan_index){ .id = plan->placements[placed].id,
                                                       .at = placed };
            placed++;
            p += 2 + p[1];
            continue;
        }
        if (next_field(&p, end, &f) < 0 || (f.num >= 1 && f.num <= 4 && f.wt != WT_VARINT) ||
            (f.num >= 5 && f.num <= 6 && f.wt != WT_LEN)) {
            rc = client_fail(c, -EPROTO, "orionrtd sent a RegisterGraphReply that does not decode");
            goto err_free_plan;
        }
        switch (f.num) {
        case 1: plan->graph_id = r->graph_id = f.v; break;
        case 2: plan->workspace_off = f.v; break;
        case 3: plan->peak_bytes = f.v; break;
        case 4: plan->lower_bound_bytes = f.v; break;
        case 5: pol = f.data; pol_len = (size_t)f.v; break;
        case 6:
            if (placed == n) {
                placed++;
                break; /* counted, refused below */
            }
            if ((rc = take_placement(r, placed, f.data, f.data + f.v,
                                     &plan->placements[placed])) < 0)
                goto err_free_plan;
            plan->index[placed] = (struct plan_index){ .id = plan->placements[placed].id,
                                                       .at = placed };
            placed++;
            break;
        default: break;
        }
    }
    if (placed != n) {
        rc = client_fail(c, -EPROTO, "orionrtd placed %s%zu tensors of the %zu registered",
                         placed > n ? "more than " : "", placed > n ? n : placed, n);
        goto err_free_plan;
    }
    if (!client_range_ok(c, plan->workspace_off, plan->peak_bytes)) {
        rc = client_fail(c, -EPROTO,
                         "orionrtd's workspace [%llu, +%llu) is outside the %llu-byte arena",
                         (unsigned long long)plan->workspace_off,
                         (unsigned long long)plan->peak_bytes,
                         (unsigned long long)c->arena_bytes);
        goto err_free_plan;
    }
    /* A string ends at its first NUL, as protobuf-c's do. */
    const uint8_t *nul = pol_len ? memchr(pol, '\0', pol_len) : NULL;
    if (nul != NULL)
        pol_len = (size_t)(nul - pol);
    if ((plan->policy = malloc(pol_len + 1)) == NULL) {
        rc = client_fail(c, -ENOMEM, "out of memory for the plan");
        goto err_free_plan;
    }
    if (pol_len)
        memcpy(plan->policy, pol, pol_len);
    plan->policy[pol_len] = '\0';
    plan->c = c;
    plan->n_tensors = n;
    client_plan_index(plan);
    r->plan = plan;
    return 0;

err_free_plan:
    client_plan_free(plan);
    return rc;
}

/* The frame, if it is a Response to request_id whose body (the last of the
 * oneof's fields, as protobuf-c keeps) is a RegisterGraphReply: taken (1),
 * *rc its outcome. Anything else goes to the common path (0). */
static int register_take(void *ctx, uint64_t request_id, const uint8_t *frame, size_t len,
                         int *rc)
{
    struct register_reply *r = ctx;
    const uint8_t *p = frame, *end = frame + len, *body = NULL;
    uint64_t id = 0, body_len = 0;
    unsigned body_num = 0;
    struct field f;
    while (p < end) {
        if (next_field(&p, end, &f) < 0)
            return 0;
        if (f.num == 1) {
            if (f.wt != WT_VARINT)
                return 0;
            id = f.v;
        } else if (f.num >= 2 && f.num <= 9) {
            if (f.wt != WT_LEN)
                return 0;
            body_num = f.num;
            body = f.data;
            body_len = f.v;
        }
    }
    if (id != request_id || body_num != 4)
        return 0;
    /* The graph is the daemon's now: take_body finds its id even when it
     * fails, so that it can be given back. */
    r->taken = true;
    *rc = take_body(r, body, body + body_len);
    return 1;
}

/* ---- the call ------------------------------------------------------------ */

static int release_graph_id(orion_client *c, uint64_t graph_id)
{
    Orion__ReleaseGraph body = ORION__RELEASE_GRAPH__INIT;
    body.graph_id = graph_id;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_RELEASE_GRAPH;
    req.release_graph = &body;
    return client_release_nowait(c, &req, graph_id);
}

int client_release_graph(orion_client *c, uint64_t graph_id)
{
    return release_graph_id(c, graph_id);
}

int orion_graph_register(orion_client *c, const orion_graph *g, orion_plan **out)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (g == NULL || out == NULL)
        return client_fail(c, -EINVAL, "orion_graph_register: %s is NULL", g ? "out" : "graph");
    *out = NULL;

    const struct packed_graph *pg = packed_of(g);
    if (pg == NULL)
        return client_fail(c, -ENOMEM, "out of memory building a request of %zu tensors",
                           g->n_tensors);
    struct register_reply rep = { .c = c, .g = g };
    struct client_codec codec = {
        .size = register_size, .pack = register_pack, .req_ctx = pg,
        .take = register_take, .reply_ctx = &rep,
    };
    Orion__Response *resp = NULL;
    rc = client_call_codec(c, &codec, ORION__RESPONSE__BODY_REGISTER_GRAPH, &resp);
    if (resp != NULL) {
        /* Only a reply register_take could not read gets here. */
        orion__response__free_unpacked(resp, NULL);
        client_mark_broken(c);
        return client_fail(c, -EPROTO, "orionrtd sent a RegisterGraphReply that does not decode");
    }
    if (rc == 0) {
        *out = rep.plan;
        return 0;
    }
    if (rc == -EPROTO && rep.taken) {
        /* The daemon holds a registration whose reply we cannot trust:
         * ending the connection is the only safe way to give it back. */
        client_mark_broken(c);
    } else if (rc == -ENOMEM && rep.taken) {
        /* Out of memory for the plan: give the registration back, keeping
         * the message that says what failed. */
        char keep[CLIENT_ERR_LEN];
        snprintf(keep, sizeof(keep), "%s", orion_client_error(c));
        (void)release_graph_id(c, rep.graph_id);
        client_fail(c, rc, "%s", keep);
    }
    return rc;
}
