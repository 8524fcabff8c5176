/* dispatch.c - see dispatch.h. */
#include "dispatch.h"

#include "graph.h"
#include "log.h"
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ORION_VERSION
#define ORION_VERSION "0"
#endif

struct plan_job {
    uv_work_t work;
    struct session *s;          /* NULL once the connection is gone */
    uint64_t request_id;
    Orion__Request *req;        /* owned: g points into it */
    struct graph g;
    struct graph_tensor *tensors;
    struct graph_op *ops;
    struct graph_limits lim;
    const char *policy;
    struct graph_plan plan;
    bool planned;
    bool pooled;
    int rc;
    char err[512];
    /* A large frame decoded on the pool: */
    uint8_t *frame;             /* its bytes, freed once decoded */
    size_t frame_len;
    bool hello_done;            /* the session's, when the frame was queued */
    bool malformed;             /* the bytes were not a Request */
    bool too_big;               /* refused before decoding: rc, err, request_id */
    bool is_register;           /* a RegisterGraph planned in the same trip */
    struct server *srv;
};

static void job_release(struct plan_job *job)
{
    if (job->planned)
        graph_plan_free(&job->plan);
    job->planned = false;
    free(job->tensors);
    free(job->ops);
    free(job->frame);
    if (job->req != NULL)
        orion__request__free_unpacked(job->req, NULL);
    job->tensors = NULL;
    job->ops = NULL;
    job->frame = NULL;
    job->req = NULL;
}

static void job_free(struct plan_job *job)
{
    job_release(job);
    free(job);
}

static void on_free_work(uv_work_t *w)
{
    job_release((struct plan_job *)w);
}

static void on_free_done(uv_work_t *w, int status)
{
    (void)status;
    job_free((struct plan_job *)w); /* whatever is left if it was cancelled */
}

/* Freeing a large graph's request (millions of small blocks) takes as long
 * as decoding it: do that on the pool too. */
static void job_dispose(uv_loop_t *loop, struct plan_job *job)
{
    if (!job->pooled || uv_queue_work(loop, &job->work, on_free_work, on_free_done) < 0)
        job_free(job);
}

void dispatch_detach_job(struct plan_job *job)
{
    job->s = NULL;
    uv_cancel((uv_req_t *)&job->work); /* fails harmlessly if it already runs */
}

/* ---- decoding ---------------------------------------------------------- */

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

int dispatch_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                    Orion__Request **out, uint64_t *request_id, char *err, size_t err_len)
{
    struct wire_counts wc = {0};
    *out = NULL;
    if (wire_scan(&orion__request__descriptor, msg, msg + len, &wc) < 0)
        return -EPROTO;
    *request_id = wc.request_id;
    if (wc.tensors > lim->max_tensors) {
        snprintf(err, err_len, "graph: %llu tensors, the limit is %u",
                 (unsigned long long)wc.tensors, lim->max_tensors);
        return -E2BIG;
    }
    if (wc.ops > lim->max_ops) {
        snprintf(err, err_len, "graph: %llu ops, the limit is %u", (unsigned long long)wc.ops,
                 lim->max_ops);
        return -E2BIG;
    }
    if (wc.unknown > DISPATCH_UNKNOWN_MAX) {
        snprintf(err, err_len, "request carries %llu fields this daemon does not know, "
                 "the limit is %u", (unsigned long long)wc.unknown, DISPATCH_UNKNOWN_MAX);
        return -E2BIG;
    }
    *out = orion__request__unpack(NULL, len, msg);
    return *out != NULL ? 0 : -EPROTO;
}

/* ---- replies ---------------------------------------------------------- */

static void reply_ok(struct session *s, uint64_t id)
{
    Orion__Ok ok = ORION__OK__INIT;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = id;
    resp.body_case = ORION__RESPONSE__BODY_OK;
    resp.ok = &ok;
    server_reply(s, &resp);
}

static void reply_buffer(struct session *s, uint64_t id, const struct reg_buffer *b)
{
    Orion__BufferReply br = ORION__BUFFER_REPLY__INIT;
    br.name = b->name;
    br.offset = b->off;
    br.bytes = b->bytes;
    br.sealed = b->sealed;
    br.refs = b->n_holders;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = id;
    resp.body_case = ORION__RESPONSE__BODY_BUFFER;
    resp.buffer = &br;
    server_reply(s, &resp);
}

static void policies_list(char *out, size_t len)
{
    planner_policies_format(out, len, ", ");
}

static const char *find_policy(const char *name)
{
    const struct planner_policy *p = planner_find(name);
    return p != NULL ? p->name : NULL;
}

/* ---- hello, stats ----------------------------------------------------- */

static void do_hello(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    Orion__Hello *h = req->hello;
    if (s->hello_done) {
        server_reply_error(s, req->request_id, -EPROTO, "hello was already received");
        return;
    }
    if (h->protocol_version != ORION_PROTOCOL_VERSION) {
        log_msg("client %llu: protocol %u refused (daemon speaks %u)", (unsigned long long)s->id,
                h->protocol_version, ORION_PROTOCOL_VERSION);
        server_reply_error(s, req->request_id, -EPROTONOSUPPORT,
                           "client speaks protocol %u, the daemon speaks protocol %u",
                           h->protocol_version, ORION_PROTOCOL_VERSION);
        server_close_after_writes(s);
        return;
    }
    Orion__HelloReply hr = ORION__HELLO_REPLY__INIT;
    hr.protocol_version = ORION_PROTOCOL_VERSION;
    hr.arena_bytes = srv->arena->bytes;
    hr.daemon_version = (char *)ORION_VERSION;
    hr.client_limit_bytes = srv->cfg->client_limit;
    hr.max_frame = srv->cfg->max_frame;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = req->request_id;
    resp.body_case = ORION__RESPONSE__BODY_HELLO;
    resp.hello = &hr;
    if (server_reply_with_fd(s, &resp, srv->arena->share_fd) == 0) {
        char name[64];
        s->hello_done = true;
        uv_timer_stop(&s->hello_timer);
        log_msg("client %llu: hello from '%s'", (unsigned long long)s->id,
                log_clean(h->client_name, name, sizeof(name)));
    }
}

static void do_stats(struct session *s, uint64_t id)
{
    struct server *srv = s->srv;
    struct buddy_stats st;
    buddy_stats_get(srv->buddy, &st);
    Orion__StatsReply sr = ORION__STATS_REPLY__INIT;
    sr.arena_bytes = st.arena_bytes;
    sr.used_bytes = st.used_bytes;
    sr.free_bytes = st.free_bytes;
    sr.largest_free_bytes = st.largest_free_bytes;
    sr.fragmentation = st.fragmentation;
    sr.clients = srv->n_sessions;
    sr.graphs = srv->n_graphs;
    sr.buffers = (uint32_t)registry_count(srv->reg);
    sr.allocations = st.n_allocs;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = id;
    resp.body_case = ORION__RESPONSE__BODY_STATS;
    resp.stats = &sr;
    server_reply(s, &resp);
}

/* ---- named buffers ---------------------------------------------------- */

static bool check_name(struct session *s, uint64_t id, const char *name)
{
    if (registry_name_valid(name))
        return true;
    server_reply_error(s, id, -EINVAL,
                       "bad buffer name: 1-255 bytes of printable ASCII, no space");
    return false;
}

static void do_buffer_create(struct session *s, uint64_t id, const Orion__BufferCreate *m)
{
    struct server *srv = s->srv;
    char err[512];
    struct reg_buffer *b;
    int rc = registry_create(srv->reg, m->name, m->bytes, m->align, &s->owner, REG_HOLD_CONN,
                             srv->cfg->client_limit, &b, err, sizeof(err));
    if (rc < 0) {
        server_reply_error(s, id, rc, "%s", err);
        return;
    }
    log_msg("client %llu: created buffer '%s' (%llu bytes at offset %llu)",
            (unsigned long long)s->id, b->name, (unsigned long long)b->bytes,
            (unsigned long long)b->off);
    reply_buffer(s, id, b);
}

/* The buffer a request names, or NULL with the error already replied (a bad
 * name, or no buffer of that name). */
static struct reg_buffer *named_buffer(struct session *s, uint64_t id, const char *name)
{
    if (!check_name(s, id, name))
        return NULL;
    struct reg_buffer *b = registry_find(s->srv->reg, name);
    if (b == NULL)
        server_reply_error(s, id, -ENOENT, "no buffer '%s'", name);
    return b;
}

static void do_buffer_open(struct session *s, uint64_t id, const char *name)
{
    struct server *srv = s->srv;
    struct reg_buffer *b = named_buffer(s, id, name);
    if (b == NULL)
        return;
    if (registry_hold(srv->reg, b, &s->owner, REG_HOLD_CONN) < 0) {
        server_reply_error(s, id, -ENOMEM, "out of memory opening buffer '%s'", name);
        return;
    }
    reply_buffer(s, id, b);
}

static void do_buffer_seal(struct session *s, uint64_t id, const char *name)
{
    struct server *srv = s->srv;
    struct reg_buffer *b = named_buffer(s, id, name);
    if (b == NULL)
        return;
    int rc = registry_seal(srv->reg, b, &s->owner);
    if (rc == -EPERM) {
        server_reply_error(s, id, rc, "buffer '%s' was created by another connection; "
                           "only its creator may seal it", name);
        return;
    }
    if (rc == -EALREADY) {
        server_reply_error(s, id, rc, "buffer '%s' is sealed already", name);
        return;
    }
    log_msg("client %llu: sealed buffer '%s'", (unsigned long long)s->id, name);
    reply_buffer(s, id, b);
}

static void do_buffer_release(struct session *s, uint64_t id, const char *name)
{
    struct server *srv = s->srv;
    if (!check_name(s, id, name))
        return;
    struct reg_buffer *b = registry_find(srv->reg, name);
    if (b == NULL || registry_release(srv->reg, b, &s->owner, REG_HOLD_CONN) < 0) {
        server_reply_error(s, id, -ENOENT, "this connection holds no buffer '%s'", name);
        return;
    }
    reply_ok(s, id);
}

static void on_wait_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    registry_wait_cancel(s->srv->reg, &s->wait);
    server_reply_error(s, s->wait_request_id, -ETIMEDOUT, "buffer '%s': no %s before the timeout",
                       s->wait.name, s->wait.what == REG_WAIT_SEALED ? "seal" : "release by the others");
    server_resume(s);
}

/* Called from inside the registry: reply and defer the rest. */
static void on_wait_done(struct reg_wait *w, int status, struct reg_buffer *b)
{
    struct session *s = w->data;
    uv_timer_stop(&s->timer);
    if (status == 0)
        reply_buffer(s, s->wait_request_id, b);
    else if (status == -EPIPE)
        server_reply_error(s, s->wait_request_id, -EPIPE,
                           "the creator of buffer '%s' disconnected before sealing it", w->name);
    else
        server_reply_error(s, s->wait_request_id, status, "buffer '%s' went away", w->name);
    server_resume(s);
}

static void do_buffer_wait(struct session *s, uint64_t id, const Orion__BufferWait *m)
{
    struct server *srv = s->srv;
    if (!check_name(s, id, m->name))
        return;
    if (m->what != ORION__WAIT_FOR__SEALED && m->what != ORION__WAIT_FOR__UNUSED) {
        server_reply_error(s, id, -EINVAL, "unknown wait condition %d", (int)m->what);
        return;
    }
    struct reg_wait *w = &s->wait;
    w->owner = &s->owner;
    w->what = m->what == ORION__WAIT_FOR__SEALED ? REG_WAIT_SEALED : REG_WAIT_UNUSED;
    w->cb = on_wait_done;
    w->data = s;
    struct reg_buffer *b = NULL;
    int rc = registry_wait(srv->reg, w, m->name, m->timeout_ms != 0, &b);
    switch (rc) {
    case 0:
        reply_buffer(s, id, b);
        return;
    case 1:
        s->busy = true;
        s->wait_request_id = id;
        if (m->timeout_ms > 0) {
            /* Count from now, not from the loop pass's cached time. */
            uv_update_time(s->timer.loop);
            uv_timer_start(&s->timer, on_wait_timeout, (uint64_t)m->timeout_ms, 0);
        }
        return;
    case -ENOENT:
        server_reply_error(s, id, rc, "this connection holds no buffer '%s' to wait on", m->name);
        return;
    case -EPIPE:
        server_reply_error(s, id, rc, "the creator of buffer '%s' disconnected before sealing it",
                           m->name);
        return;
    case -EDEADLK:
        server_reply_error(s, id, rc, "buffer '%s' was created by this connection and is not "
                           "sealed: only this connection can seal it, not while it waits",
                           m->name);
        return;
    case -ETIMEDOUT:
        server_reply_error(s, id, rc, "buffer '%s' is not %s", m->name,
                           w->what == REG_WAIT_SEALED ? "sealed" : "unused by the others");
        return;
    default:
        server_reply_error(s, id, rc, "cannot wait on buffer '%s': %s", m->name, strerror(-rc));
        return;
    }
}

/* ---- graphs ----------------------------------------------------------- */

static uint64_t tensor_align(const struct graph_tensor *t)
{
    return t->align == 0 ? TENSOR_ALIGN_DEFAULT : t->align;
}

/* Turn the wire message into a struct graph pointing into it. Counts are
 * checked against the limits before anything is allocated. */
static int build_graph(struct plan_job *job, char *err, size_t err_len)
{
    const Orion__RegisterGraph *rg = job->req->register_graph;
    const struct graph_limits *lim = &job->lim;
    if (rg->n_tensors > lim->max_tensors) {
        snprintf(err, err_len, "%zu tensors, the limit is %u", rg->n_tensors, lim->max_tensors);
        return -E2BIG;
    }
    if (rg->n_ops > lim->max_ops) {
        snprintf(err, err_len, "%zu ops, the limit is %u", rg->n_ops, lim->max_ops);
        return -E2BIG;
    }
    for (size_t i = 0; i < rg->n_ops; i++) {
        const Orion__Op *op = rg->ops[i];
        if (op->n_inputs > lim->max_op_refs || op->n_outputs > lim->max_op_refs ||
            op->n_inputs + op->n_outputs > lim->max_op_refs) {
            snprintf(err, err_len, "op %zu: %zu tensor references, the limit is %u", i,
                     op->n_inputs + op->n_outputs, lim->max_op_refs);
            return -E2BIG;
        }
    }
    for (size_t i = 0; i < rg->n_tensors; i++) {
        const Orion__Tensor *t = rg->tensors[i];
        if ((int)t->kind < ORION__TENSOR_KIND__INTERMEDIATE ||
            (int)t->kind > ORION__TENSOR_KIND__IMPORT) {
            snprintf(err, err_len, "tensor %llu: unknown kind %d", (unsigned long long)t->id,
                     (int)t->kind);
            return -EINVAL;
        }
        if (t->align != 0 && ((t->align & (t->align - 1)) != 0 || t->align > lim->max_align)) {
            snprintf(err, err_len, "tensor %llu: alignment %llu is not a power of two up to %llu",
                     (unsigned long long)t->id, (unsigned long long)t->align,
                     (unsigned long long)lim->max_align);
            return -EINVAL;
        }
        if ((t->kind == ORION__TENSOR_KIND__EXPORT || t->kind == ORION__TENSOR_KIND__IMPORT) &&
            !registry_name_valid(t->share)) {
            snprintf(err, err_len, "tensor %llu: %s needs a share name of 1-255 bytes of "
                     "printable ASCII, no space", (unsigned long long)t->id,
                     t->kind == ORION__TENSOR_KIND__EXPORT ? "export" : "import");
            return -EINVAL;
        }
    }
    if (rg->n_tensors > 0 && (job->tensors = calloc(rg->n_tensors, sizeof(*job->tensors))) == NULL)
        goto err_nomem;
    if (rg->n_ops > 0 && (job->ops = calloc(rg->n_ops, sizeof(*job->ops))) == NULL)
        goto err_nomem;
    for (size_t i = 0; i < rg->n_tensors; i++) {
        const Orion__Tensor *t = rg->tensors[i];
        struct graph_tensor *gt = &job->tensors[i];
        gt->id = t->id;
        gt->bytes = t->bytes;
        gt->align = t->align;
        gt->kind = (enum tensor_kind)t->kind;
        gt->share = t->share[0] != '\0' ? t->share : NULL; /* liveness refuses misplaced ones */
        gt->name = t->name[0] != '\0' ? t->name : NULL;
    }
    for (size_t i = 0; i < rg->n_ops; i++) {
        const Orion__Op *op = rg->ops[i];
        struct graph_op *go = &job->ops[i];
        go->name = op->name[0] != '\0' ? op->name : NULL;
        go->inputs = op->inputs;
        go->n_inputs = (uint32_t)op->n_inputs;
        go->outputs = op->outputs;
        go->n_outputs = (uint32_t)op->n_outputs;
    }
    job->g.name = rg->name[0] != '\0' ? rg->name : NULL;
    job->g.tensors = job->tensors;
    job->g.n_tensors = (uint32_t)rg->n_tensors;
    job->g.ops = job->ops;
    job->g.n_ops = (uint32_t)rg->n_ops;
    return 0;

err_nomem:
    snprintf(err, err_len, "out of memory for %zu tensors and %zu ops", rg->n_tensors, rg->n_ops);
    return -ENOMEM;
}

static void run_plan(struct plan_job *job)
{
    job->err[0] = '\0';
    job->rc = graph_plan_build(&job->g, &job->lim, job->policy, NULL, &job->plan, job->err,
                               sizeof(job->err));
    job->planned = job->rc == 0;
}

/* Drop the graph holds g took and its workspace; used to unwind a graph
 * that was not linked into the session. */
static void unwind_graph(struct session *s, struct sgraph *g)
{
    struct server *srv = s->srv;
    for (uint32_t i = g->n_bufs; i-- > 0;)
        registry_release(srv->reg, g->bufs[i], &s->owner, REG_HOLD_GRAPH);
    if (g->has_ws) {
        buddy_free(srv->buddy, g->ws_off);
        s->owner.used_bytes -= g->ws_bytes;
    }
    free(g->bufs);
    free(g->name);
    free(g);
}

/* On the loop: the plan is made; place the workspace and the named buffers,
 * reply. Anything failing unwinds to nothing. */
static void finish_register(struct session *s, struct plan_job *job)
{
    struct server *srv = s->srv;
    uint64_t id = job->request_id;
    const struct graph *gr = &job->g;
    char err[512];
    char gname[64];
    log_clean(gr->name, gname, sizeof(gname));
    if (job->rc < 0) {
        server_reply_error(s, id, job->rc, "graph '%s': %s", gname,
                           job->err[0] ? job->err : strerror(-job->rc));
        return;
    }
    const struct graph_plan *p = &job->plan;
    uint64_t max_align = TENSOR_ALIGN_DEFAULT;
    uint32_t n_shared = 0;
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        const struct graph_tensor *t = &gr->tensors[i];
        if (t->kind == TENSOR_EXPORT || t->kind == TENSOR_IMPORT)
            n_shared++;
        else if (tensor_align(t) > max_align)
            max_align = tensor_align(t);
    }
    struct sgraph *g = calloc(1, sizeof(*g));
    if (g == NULL || (n_shared > 0 && (g->bufs = calloc(n_shared, sizeof(*g->bufs))) == NULL) ||
        (gr->name != NULL && (g->name = strdup(gr->name)) == NULL)) {
        if (g != NULL) {
            free(g->bufs);
            free(g);
        }
        server_reply_error(s, id, -ENOMEM, "graph '%s': out of memory", gname);
        return;
    }
    int rc;
    uint64_t *place = calloc(gr->n_tensors ? gr->n_tensors : 1, sizeof(*place));
    if (place == NULL) {
        rc = -ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
        goto err_unwind;
    }
    if (p->peak_bytes > 0) {
        rc = registry_alloc(srv->buddy, &s->owner, srv->cfg->client_limit, p->peak_bytes,
                            max_align, &g->ws_off, &g->ws_bytes, err, sizeof(err));
        if (rc < 0)
            goto err_unwind;
        g->has_ws = true;
    }
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        const struct graph_tensor *t = &gr->tensors[i];
        if (t->kind == TENSOR_EXPORT) {
            struct reg_buffer *b;
            char why[400];
            rc = registry_create(srv->reg, t->share, t->bytes, t->align, &s->owner,
                                 REG_HOLD_GRAPH, srv->cfg->client_limit, &b, why, sizeof(why));
            if (rc < 0) {
                snprintf(err, sizeof(err), "tensor %llu exports: %s", (unsigned long long)t->id,
                         why);
                goto err_unwind;
            }
            g->bufs[g->n_bufs++] = b;
            place[i] = b->off;
        } else if (t->kind == TENSOR_IMPORT) {
            struct reg_buffer *b = registry_find(srv->reg, t->share);
            if (b == NULL) {
                rc = -ENOENT;
                snprintf(err, sizeof(err), "tensor %llu imports '%s', which is not published "
                                           "(register its exporter first)",
                         (unsigned long long)t->id, t->share);
                goto err_unwind;
            }
            if (b->bytes < t->bytes || b->off % tensor_align(t) != 0) {
                rc = -EINVAL;
                snprintf(err, sizeof(err), "tensor %llu imports '%s' of %llu bytes at offset "
                         "%llu; it needs %llu bytes aligned to %llu", (unsigned long long)t->id,
                         t->share, (unsigned long long)b->bytes, (unsigned long long)b->off,
                         (unsigned long long)t->bytes, (unsigned long long)tensor_align(t));
                goto err_unwind;
            }
            if ((rc = registry_hold(srv->reg, b, &s->owner, REG_HOLD_GRAPH)) < 0) {
                snprintf(err, sizeof(err), "out of memory");
                goto err_unwind;
            }
            g->bufs[g->n_bufs++] = b;
            place[i] = b->off;
        } else {
            assert(p->off[i] != GRAPH_OFF_NONE);
            place[i] = g->ws_off + p->off[i];
        }
    }

    Orion__TensorPlacement *tp = calloc(gr->n_tensors ? gr->n_tensors : 1, sizeof(*tp));
    Orion__TensorPlacement **tpp = calloc(gr->n_tensors ? gr->n_tensors : 1, sizeof(*tpp));
    if (tp == NULL || tpp == NULL) {
        free(tp);
        free(tpp);
        rc = -ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
        goto err_unwind;
    }
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        orion__tensor_placement__init(&tp[i]);
        tp[i].id = gr->tensors[i].id;
        tp[i].offset = place[i];
        tp[i].bytes = gr->tensors[i].bytes;
        tp[i].first_op = p->live[i].first;
        tp[i].last_op = p->live[i].last;
        tpp[i] = &tp[i];
    }
    g->id = ++srv->next_graph_id;
    Orion__RegisterGraphReply rr = ORION__REGISTER_GRAPH_REPLY__INIT;
    rr.graph_id = g->id;
    rr.workspace_offset = g->ws_off;
    rr.peak_bytes = p->peak_bytes;
    rr.lower_bound_bytes = p->lower_bound_bytes;
    rr.policy = (char *)(p->policy != NULL ? p->policy : job->policy);
    rr.n_tensors = gr->n_tensors;
    rr.tensors = tpp;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = id;
    resp.body_case = ORION__RESPONSE__BODY_REGISTER_GRAPH;
    resp.register_graph = &rr;
    rc = server_reply(s, &resp);
    free(tp);
    free(tpp);
    free(place);
    if (rc < 0) {
        unwind_graph(s, g); /* the connection is closing */
        return;
    }
    g->next = s->graphs;
    s->graphs = g;
    s->n_graphs++;
    srv->n_graphs++;
    log_msg("client %llu: registered graph %llu '%s': %u tensors, %u ops, peak %llu, "
            "lower bound %llu, policy %s, %.3f ms%s", (unsigned long long)s->id,
            (unsigned long long)g->id, gname, gr->n_tensors, gr->n_ops,
            (unsigned long long)p->peak_bytes, (unsigned long long)p->lower_bound_bytes,
            rr.policy, p->plan_ms, job->pooled ? " (thread pool)" : "");
    return;

err_unwind:
    free(place);
    unwind_graph(s, g);
    server_reply_error(s, id, rc, "graph '%s': %s", gname, err);
}

/* Policy and graph from the request: job->rc and job->err say what was
 * wrong. Pure; runs on the loop or on the pool. */
static void prepare_register(struct plan_job *job)
{
    const Orion__RegisterGraph *rg = job->req->register_graph;
    job->request_id = job->req->request_id;
    job->g.name = rg->name[0] != '\0' ? rg->name : NULL;
    job->rc = 0;
    if (rg->policy[0] != '\0' && (job->policy = find_policy(rg->policy)) == NULL) {
        char list[256];
        char pname[64];
        policies_list(list, sizeof(list));
        snprintf(job->err, sizeof(job->err), "unknown policy '%s'; policies: %s",
                 log_clean(rg->policy, pname, sizeof(pname)), list);
        job->rc = -EINVAL;
        return;
    }
    job->rc = build_graph(job, job->err, sizeof(job->err));
}

static void on_plan_work(uv_work_t *w)
{
    struct plan_job *job = (struct plan_job *)w;
    if (job->frame != NULL) {
        int rc = dispatch_unpack(job->frame, job->frame_len, &job->lim, &job->req,
                                 &job->request_id, job->err, sizeof(job->err));
        free(job->frame);
        job->frame = NULL;
        if (rc == -E2BIG) {
            job->rc = rc;
            job->too_big = true;
            return;
        }
        if (rc < 0) {
            job->malformed = true;
            return;
        }
        if (job->req->body_case != ORION__REQUEST__BODY_REGISTER_GRAPH || !job->hello_done)
            return; /* dispatched on the loop as usual */
        job->is_register = true;
        prepare_register(job);
        if (job->rc < 0)
            return;
    }
    run_plan(job);
}

static void on_plan_done(uv_work_t *w, int status)
{
    struct plan_job *job = (struct plan_job *)w;
    struct session *s = job->s;
    uv_loop_t *loop = job->srv->loop;
    if (s == NULL) {
        log_msg("discarded a request whose client left while it was decoded or planned");
        job_dispose(loop, job);
        return;
    }
    s->job = NULL;
    s->busy = false;
    if (status < 0) {
        log_msg("client %llu: request did not run on the thread pool: %s; closing",
                (unsigned long long)s->id, uv_strerror(status));
        job_dispose(loop, job);
        server_close_session(s);
        return;
    }
    if (job->malformed) {
        log_msg("client %llu: malformed request of %zu bytes; closing", (unsigned long long)s->id,
                job->frame_len);
        server_reply_error(s, 0, -EPROTO, "malformed request: %zu bytes that are not an "
                           "orion.Request", job->frame_len);
        server_close_after_writes(s);
        job_dispose(loop, job);
        return;
    }
    if (job->too_big) {
        log_msg("client %llu: request refused: %s", (unsigned long long)s->id, job->err);
        server_reply_error(s, job->request_id, job->rc, "%s", job->err);
        if (!job->hello_done)
            server_close_after_writes(s);
        job_dispose(loop, job);
        server_resume(s);
        return;
    }
    if (job->frame_len > 0 && !job->is_register) {
        Orion__Request *req = job->req;
        job->req = NULL;
        job_dispose(loop, job);
        dispatch_request(s, req);
    } else {
        finish_register(s, job);
        job_dispose(loop, job);
    }
    if (!s->busy)
        server_resume(s);
}

int dispatch_frame_async(struct session *s, const uint8_t *msg, size_t len)
{
    struct server *srv = s->srv;
    struct plan_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -ENOMEM;
    if ((job->frame = malloc(len)) == NULL) {
        free(job);
        return -ENOMEM;
    }
    memcpy(job->frame, msg, len);
    job->frame_len = len;
    job->hello_done = s->hello_done;
    job->lim = srv->limits;
    job->policy = srv->cfg->policy;
    job->srv = srv;
    job->s = s;
    job->pooled = true;
    int rc = uv_queue_work(srv->loop, &job->work, on_plan_work, on_plan_done);
    if (rc < 0) {
        job_free(job);
        return rc;
    }
    s->job = job;
    s->busy = true;
    return 0;
}

static void do_register(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    struct plan_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        char gname[64];
        server_reply_error(s, req->request_id, -ENOMEM, "graph '%s': out of memory",
                           log_clean(req->register_graph->name, gname, sizeof(gname)));
        orion__request__free_unpacked(req, NULL);
        return;
    }
    job->req = req;
    job->lim = srv->limits;
    job->policy = srv->cfg->policy;
    job->srv = srv;
    prepare_register(job);
    if (job->rc < 0) {
        finish_register(s, job); /* replies with the error */
        job_free(job);
        return;
    }
    const Orion__RegisterGraph *rg = req->register_graph;
    size_t refs = 0;
    for (size_t i = 0; i < rg->n_ops; i++)
        refs += rg->ops[i]->n_inputs + rg->ops[i]->n_outputs;
    if (rg->n_tensors > DISPATCH_POOL_TENSORS || refs > DISPATCH_POOL_REFS) {
        job->s = s;
        job->pooled = true;
        if (uv_queue_work(srv->loop, &job->work, on_plan_work, on_plan_done) == 0) {
            s->job = job;
            s->busy = true;
            return;
        }
        job->pooled = false;
    }
    run_plan(job);
    finish_register(s, job);
    job_free(job);
}

static void do_release_graph(struct session *s, uint64_t id, uint64_t graph_id)
{
    struct sgraph *g = session_find_graph(s, graph_id);
    if (g == NULL) {
        server_reply_error(s, id, -EINVAL, "graph %llu is not registered by this connection",
                           (unsigned long long)graph_id);
        return;
    }
    session_release_graph(s, g);
    s->srv->n_graphs--;
    log_msg("client %llu: released graph %llu", (unsigned long long)s->id,
            (unsigned long long)graph_id);
    reply_ok(s, id);
}

/* ---- dispatch --------------------------------------------------------- */

void dispatch_request(struct session *s, Orion__Request *req)
{
    uint64_t id = req->request_id;
    if (!s->hello_done && req->body_case != ORION__REQUEST__BODY_HELLO) {
        log_msg("client %llu: first request is not hello; closing", (unsigned long long)s->id);
        server_reply_error(s, id, -EPROTO, "expected hello");
        server_close_after_writes(s);
        orion__request__free_unpacked(req, NULL);
        return;
    }
    switch (req->body_case) {
    case ORION__REQUEST__BODY_HELLO:
        do_hello(s, req);
        break;
    case ORION__REQUEST__BODY_REGISTER_GRAPH:
        do_register(s, req);
        return; /* req is the job's */
    case ORION__REQUEST__BODY_RELEASE_GRAPH:
        do_release_graph(s, id, req->release_graph->graph_id);
        break;
    case ORION__REQUEST__BODY_BUFFER_CREATE:
        do_buffer_create(s, id, req->buffer_create);
        break;
    case ORION__REQUEST__BODY_BUFFER_OPEN:
        do_buffer_open(s, id, req->buffer_open->name);
        break;
    case ORION__REQUEST__BODY_BUFFER_SEAL:
        do_buffer_seal(s, id, req->buffer_seal->name);
        break;
    case ORION__REQUEST__BODY_BUFFER_RELEASE:
        do_buffer_release(s, id, req->buffer_release->name);
        break;
    case ORION__REQUEST__BODY_BUFFER_WAIT:
        do_buffer_wait(s, id, req->buffer_wait);
        break;
    case ORION__REQUEST__BODY_STATS:
        do_stats(s, id);
        break;
    default:
        log_msg("client %llu: request without a known body; closing", (unsigned long long)s->id);
        server_reply_error(s, id, -EPROTO, "request %llu has no body", (unsigned long long)id);
        server_close_after_writes(s);
        break;
    }
    orion__request__free_unpacked(req, NULL);
}
