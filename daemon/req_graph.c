/* req_graph.c - registering a graph (validate, plan, place its workspace
 * and named buffers, reply) and releasing it. */
#include "requests.h"

#include "graph.h"
#include "job.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Graphs with more tensors or op references than these are planned on
 * libuv's thread pool rather than on the loop. */
#define POOL_TENSORS 256u
#define POOL_REFS 1024u

struct plan_job {
    struct job base;            /* when planned on the pool */
    Orion__Request *req;        /* owned: wg points into it */
    uint64_t request_id;
    struct graph_limits lim;
    const char *policy;
    struct wire_graph wg;
    struct graph_plan plan;
    bool pooled;
    int rc;
    char err[512];
};

static void plan_release(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    graph_plan_free(&job->plan);
    wire_graph_free(&job->wg);
    wire_request_free(job->req);
    job->req = NULL;
}

/* Policy, graph, plan: job->rc and job->err say what was wrong. Pure; on the
 * loop or on the pool. */
static void plan_run(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    const Orion__RegisterGraph *rg = job->req->register_graph;
    job->err[0] = '\0';
    const struct planner_policy *pol = NULL;
    if (rg->policy[0] != '\0' && (pol = planner_find(rg->policy)) == NULL) {
        char list[256];
        char pname[64];
        planner_policies_format(list, sizeof(list), ", ");
        snprintf(job->err, sizeof(job->err), "unknown policy '%s'; policies: %s",
                 log_clean(rg->policy, pname, sizeof(pname)), list);
        job->rc = -EINVAL;
        return;
    }
    if (rg->policy[0] != '\0')
        job->policy = pol->name;
    job->rc = wire_graph_build(rg, &job->lim, &job->wg, job->err, sizeof(job->err));
    if (job->rc < 0)
        return;
    job->rc = graph_plan_build(&job->wg.g, &job->lim, job->policy, NULL, &job->plan, job->err,
                               sizeof(job->err));
}

/* The arena offset of every tensor of the planned graph: workspace tensors
 * at g's workspace, exports in new buffers, imports at the buffers they
 * name (held by g). On failure g holds what was taken so far. */
static int place(struct session *s, const struct plan_job *job, struct sgraph *g,
                 uint64_t *place_off, char *err, size_t err_len)
{
    struct server *srv = s->srv;
    const struct graph *gr = &job->wg.g;
    const struct graph_plan *p = &job->plan;
    uint64_t max_align = TENSOR_ALIGN_DEFAULT;
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        const struct graph_tensor *t = &gr->tensors[i];
        uint64_t a = t->align == 0 ? TENSOR_ALIGN_DEFAULT : t->align;
        if (t->kind != TENSOR_EXPORT && t->kind != TENSOR_IMPORT && a > max_align)
            max_align = a;
    }
    int rc;
    if (p->peak_bytes > 0) {
        rc = registry_alloc(srv->buddy, &s->owner, srv->cfg->client_limit, p->peak_bytes,
                            max_align, &g->ws_off, &g->ws_bytes, err, err_len);
        if (rc < 0)
            return rc;
        g->has_ws = true;
    }
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        const struct graph_tensor *t = &gr->tensors[i];
        uint64_t align = t->align == 0 ? TENSOR_ALIGN_DEFAULT : t->align;
        struct reg_buffer *b;
        if (t->kind == TENSOR_EXPORT) {
            char why[400];
            rc = registry_create(srv->reg, t->share, t->bytes, t->align, &s->owner,
                                 REG_HOLD_GRAPH, srv->cfg->client_limit, &b, why, sizeof(why));
            if (rc < 0) {
                snprintf(err, err_len, "tensor %llu exports: %s", (unsigned long long)t->id, why);
                return rc;
            }
        } else if (t->kind == TENSOR_IMPORT) {
            b = registry_find(srv->reg, t->share);
            if (b == NULL) {
                snprintf(err, err_len, "tensor %llu imports '%s', which is not published "
                         "(register its exporter first)", (unsigned long long)t->id, t->share);
                return -ENOENT;
            }
            if (b->bytes < t->bytes || b->off % align != 0) {
                snprintf(err, err_len, "tensor %llu imports '%s' of %llu bytes at offset "
                         "%llu; it needs %llu bytes aligned to %llu", (unsigned long long)t->id,
                         t->share, (unsigned long long)b->bytes, (unsigned long long)b->off,
                         (unsigned long long)t->bytes, (unsigned long long)align);
                return -EINVAL;
            }
            if ((rc = registry_hold(srv->reg, b, &s->owner, REG_HOLD_GRAPH)) < 0) {
                if (rc == -ENOSPC)
                    snprintf(err, err_len, "tensor %llu imports '%s': over this connection's "
                             "--client-memory of %llu bytes", (unsigned long long)t->id,
                             t->share, (unsigned long long)s->owner.mem_limit);
                else
                    snprintf(err, err_len, "out of memory");
                return rc;
            }
        } else {
            assert(p->off[i] != GRAPH_OFF_NONE);
            place_off[i] = g->ws_off + p->off[i];
            continue;
        }
        g->bufs[g->n_bufs++] = b;
        place_off[i] = b->off;
    }
    return 0;
}

static int reply_register(struct session *s, const struct plan_job *job, const struct sgraph *g,
                          const uint64_t *place_off)
{
    const struct graph *gr = &job->wg.g;
    const struct graph_plan *p = &job->plan;
    size_t n = gr->n_tensors ? gr->n_tensors : 1;
    Orion__TensorPlacement *tp = calloc(n, sizeof(*tp));
    Orion__TensorPlacement **tpp = calloc(n, sizeof(*tpp));
    if (tp == NULL || tpp == NULL) {
        free(tp);
        free(tpp);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < gr->n_tensors; i++) {
        orion__tensor_placement__init(&tp[i]);
        tp[i].id = gr->tensors[i].id;
        tp[i].offset = place_off[i];
        tp[i].bytes = gr->tensors[i].bytes;
        tp[i].first_op = p->live[i].first;
        tp[i].last_op = p->live[i].last;
        tpp[i] = &tp[i];
    }
    Orion__RegisterGraphReply rr = ORION__REGISTER_GRAPH_REPLY__INIT;
    rr.graph_id = g->id;
    rr.workspace_offset = g->ws_off;
    rr.peak_bytes = p->peak_bytes;
    rr.lower_bound_bytes = p->lower_bound_bytes;
    rr.policy = (char *)(p->policy != NULL ? p->policy : job->policy);
    rr.n_tensors = gr->n_tensors;
    rr.tensors = tpp;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = job->request_id;
    resp.body_case = ORION__RESPONSE__BODY_REGISTER_GRAPH;
    resp.register_graph = &rr;
    int rc = reply_send(s, &resp);
    free(tp);
    free(tpp);
    return rc < 0 ? -EPIPE : 0;
}

/* On the loop: the plan is made (or refused); place the graph and reply.
 * Anything failing unwinds to nothing. */
static void plan_done(struct job *j, struct session *s)
{
    struct plan_job *job = (struct plan_job *)j;
    struct server *srv = s->srv;
    const struct graph *gr = &job->wg.g;
    uint64_t id = job->request_id;
    char err[512];
    char gname[64];
    log_clean(job->req->register_graph->name, gname, sizeof(gname));
    if (job->rc < 0) {
        reply_error(s, id, job->rc, "graph '%s': %s", gname,
                    job->err[0] ? job->err : strerror(-job->rc));
        return;
    }
    if (s->n_graphs >= srv->cfg->max_graphs) {
        reply_error(s, id, -ENOSPC, "graph '%s': this connection holds %u graphs, the limit is "
                    "%u (--max-graphs)", gname, s->n_graphs, srv->cfg->max_graphs);
        return;
    }
    uint32_t n_shared = 0;
    for (uint32_t i = 0; i < gr->n_tensors; i++)
        n_shared += gr->tensors[i].kind == TENSOR_EXPORT || gr->tensors[i].kind == TENSOR_IMPORT;
    uint64_t cost = sizeof(struct sgraph) + (gr->name != NULL ? strlen(gr->name) + 1 : 0) +
                    (uint64_t)n_shared * sizeof(struct reg_buffer *);
    if (registry_charge(&s->owner, cost, err, sizeof(err)) < 0) {
        reply_error(s, id, -ENOSPC, "graph '%s': %s", gname, err);
        return;
    }
    struct sgraph *g = calloc(1, sizeof(*g));
    uint64_t *place_off = calloc(gr->n_tensors ? gr->n_tensors : 1, sizeof(*place_off));
    if (g == NULL || place_off == NULL ||
        (n_shared > 0 && (g->bufs = calloc(n_shared, sizeof(*g->bufs))) == NULL) ||
        (gr->name != NULL && (g->name = strdup(gr->name)) == NULL)) {
        free(place_off);
        if (g != NULL) {
            g->mem_bytes = cost;
            sgraph_free(srv->buddy, srv->reg, &s->owner, g);
        } else {
            registry_uncharge(&s->owner, cost);
        }
        reply_error(s, id, -ENOMEM, "graph '%s': out of memory", gname);
        return;
    }
    g->mem_bytes = cost;
    int rc = place(s, job, g, place_off, err, sizeof(err));
    if (rc < 0) {
        free(place_off);
        sgraph_free(srv->buddy, srv->reg, &s->owner, g);
        reply_error(s, id, rc, "graph '%s': %s", gname, err);
        return;
    }
    g->id = ++srv->next_graph_id;
    rc = reply_register(s, job, g, place_off);
    free(place_off);
    if (rc == -ENOMEM) {
        sgraph_free(srv->buddy, srv->reg, &s->owner, g);
        reply_error(s, id, rc, "graph '%s': out of memory", gname);
        return;
    }
    if (rc < 0) {
        sgraph_free(srv->buddy, srv->reg, &s->owner, g); /* the connection is closing */
        return;
    }
    session_add_graph(s, g);
    srv->n_graphs++;
    const struct graph_plan *p = &job->plan;
    log_msg("client %llu: registered graph %llu '%s': %u tensors, %u ops, peak %llu, "
            "lower bound %llu, policy %s, %.3f ms%s", (unsigned long long)s->id,
            (unsigned long long)g->id, gname, gr->n_tensors, gr->n_ops,
            (unsigned long long)p->peak_bytes, (unsigned long long)p->lower_bound_bytes,
            p->policy != NULL ? p->policy : job->policy, p->plan_ms,
            job->pooled ? " (thread pool)" : "");
}

int req_register_graph(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    struct plan_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        char gname[64];
        reply_error(s, req->request_id, -ENOMEM, "graph '%s': out of memory",
                    log_clean(req->register_graph->name, gname, sizeof(gname)));
        return REQ_DONE;
    }
    job->req = req;
    job->request_id = req->request_id;
    job->lim = srv->limits;
    job->policy = srv->cfg->policy;
    job->base.run = plan_run;
    job->base.done = plan_done;
    job->base.release = plan_release;
    const Orion__RegisterGraph *rg = req->register_graph;
    size_t refs = 0;
    for (size_t i = 0; i < rg->n_ops; i++)
        refs += rg->ops[i]->n_inputs + rg->ops[i]->n_outputs;
    if (rg->n_tensors > POOL_TENSORS || refs > POOL_REFS) {
        job->pooled = true;
        if (job_queue(s, &job->base) == 0)
            return REQ_KEPT;
        job->pooled = false;
    }
    plan_run(&job->base);
    plan_done(&job->base, s);
    plan_release(&job->base);
    free(job);
    return REQ_KEPT; /* freed with the job */
}

int req_release_graph(struct session *s, Orion__Request *req)
{
    uint64_t graph_id = req->release_graph->graph_id;
    struct sgraph *g = session_find_graph(s, graph_id);
    if (g == NULL) {
        reply_error(s, req->request_id, -EINVAL, "graph %llu is not registered by this connection",
                    (unsigned long long)graph_id);
        return REQ_DONE;
    }
    session_release_graph(s, g);
    s->srv->n_graphs--;
    log_msg("client %llu: released graph %llu", (unsigned long long)s->id,
            (unsigned long long)graph_id);
    reply_ok(s, req->request_id);
    return REQ_DONE;
}
