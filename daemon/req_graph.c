/* req_graph.c - registering a graph (validate, plan or reuse a cached plan,
 * place its workspace and named buffers, reply) and releasing it. */
#include "requests.h"

#include "frame.h"
#include "frame_cache.h"
#include "graph.h"
#include "job.h"
#include "plan_cache.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What goes to libuv's thread pool is decided by an estimate of the work,
 * in units of about 10 ns on this class of machine: validation and
 * liveness are linear in tensors and op references; the default policy on
 * a graph it plans at the bound (every real graph measured: persistent
 * tensors stacked, one greedy pass) costs some n log n more; a policy
 * given a time limit always goes. POOL_WORK keeps inline planning well
 * under a millisecond (mobilenet_v2, 212 tensors: about 2,500 units, some
 * 70 us of planning). A graph planned inline whose plan needs a search
 * (above the tolerance of its bound after greedy-size's pass and a dive of
 * bounded work, or with more overlapping pairs than a pass should visit
 * there) is not searched there: the planner gives it back
 * (planner_opts.no_search) and it goes to the pool, where the fast mode's
 * budgets (up to some 0.5 s) hold no one else up. */
#define POOL_WORK 20000u

/* The daemon's plan cache: identical planning problems (a replica of a
 * model, a restarted worker) reuse the plan. One for the process, made at
 * start (req_graph_init); locked inside, so loop and pool share it.
 * Without memory for it the daemon plans every time. */
#define CACHE_ENTRIES 512u
#define CACHE_BYTES ((size_t)32 << 20)
static struct plan_cache *the_cache;

static struct plan_cache *cache_get(void)
{
    if (the_cache == NULL && plan_cache_new(CACHE_ENTRIES, CACHE_BYTES, &the_cache) < 0)
        the_cache = NULL;
    return the_cache;
}

/* RegisterGraph frames already decoded and planned (frame_cache.h): the
 * loop's own, for frames it plans itself (small ones). */
#define FRAMES_ENTRIES 64u
#define FRAMES_BYTES ((size_t)16 << 20)
static struct frame_cache *the_frames;

void req_graph_init(void)
{
    /* Made before any request, so that no request's allocations include
     * them; without memory for them the daemon plans every time. */
    if (the_frames == NULL && frame_cache_new(FRAMES_ENTRIES, FRAMES_BYTES, &the_frames) < 0)
        the_frames = NULL;
    (void)cache_get();
}

void req_graph_fini(void)
{
    frame_cache_free(the_frames);
    the_frames = NULL;
    plan_cache_free(the_cache);
    the_cache = NULL;
}

void req_graph_cache_stats(struct plan_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (the_cache != NULL)
        plan_cache_get_stats(the_cache, out);
    /* A registration whose frame was kept reused its plan too (the plan
     * cache is not asked then). */
    if (the_frames != NULL) {
        struct frame_cache_stats fs;
        frame_cache_get_stats(the_frames, &fs);
        out->hits += fs.hits;
    }
}

static uint64_t work_estimate(uint64_t n_tensors, uint64_t refs)
{
    uint64_t lg = 1;
    while (lg < 64 && ((uint64_t)1 << lg) < n_tensors)
        lg++;
    return 2 * refs + 4 * n_tensors + n_tensors * lg;
}

struct plan_job {
    struct job base;            /* when planned on the pool */
    Orion__Request *req;        /* owned; NULL: wg was decoded from the wire */
    uint64_t request_id;
    struct graph_limits lim;
    const char *policy;
    struct plan_cache *cache;   /* NULL: plan every time */
    struct wire_graph wg;
    struct graph_plan plan;
    bool pooled;
    int rc;
    char err[512];
    char gname[64];             /* the graph's name, cleaned for messages */
    char want_policy[128];      /* without req: the request's policy */
    int decode_rc;              /* without req: the decode's refusal of the graph */
    /* A large graph's reply, built on a second trip to the pool: */
    uint64_t graph_id;
    uint64_t ws_off;
    uint64_t *place_off;
    struct conn_write *reply;
    /* The frame's key (frame_cache_key), while it is being handled on the
     * loop: a graph planned there is kept by it. */
    const uint8_t *key;
    size_t key_len;
    uint64_t key_hash;
    bool placed;                /* registered and answered on the loop */
};

/* Replies for graphs of this many tensors or more are encoded on the pool
 * (a million tensors take a good part of a second). */
#define REPLY_POOL_TENSORS 16384u

static void plan_release(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    graph_plan_free(&job->plan);
    wire_graph_free(&job->wg);
    wire_request_free(job->req);
    job->req = NULL;
    free(job->place_off);
    job->place_off = NULL;
    free(job->reply);
    job->reply = NULL;
}

/* Policy, graph, plan: job->rc and job->err say what was wrong. Pure; on the
 * loop or on the pool. */
static void plan_run(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    const char *want = job->req != NULL ? job->req->register_graph->policy : job->want_policy;
    const struct planner_policy *pol = NULL;
    if (want[0] != '\0' && (pol = planner_find(want)) == NULL) {
        char list[256];
        char pname[64];
        planner_policies_format(list, sizeof(list), ", ");
        snprintf(job->err, sizeof(job->err), "unknown policy '%s'; policies: %s",
                 log_clean(want, pname, sizeof(pname)), list);
        job->rc = -EINVAL;
        return;
    }
    if (want[0] != '\0')
        job->policy = pol->name;
    if (job->req != NULL) {
        job->err[0] = '\0';
        job->rc = wire_graph_build(job->req->register_graph, &job->lim, &job->wg, job->err,
                                   sizeof(job->err));
        /* The graph is self-contained now: the decoded request, ten times
         * the frame in small blocks, goes before planning rather than after. */
        wire_request_free(job->req);
        job->req = NULL;
    } else {
        job->rc = job->decode_rc;  /* its message is in job->err */
    }
    if (job->rc < 0)
        return;
    job->err[0] = '\0';
    job->rc = graph_plan_prepare(&job->wg.g, &job->lim, job->policy, &job->plan, job->err,
                                 sizeof(job->err));
    if (job->rc < 0)
        return;
    /* Liveness was the last to read the ops: their references (a large
     * graph's ops are half of it) go before the planner's memory comes. */
    wire_graph_drop_ops(&job->wg);
    /* On the loop, no search: a graph whose plan needs one (above the
     * tolerance after greedy-size's pass and the dive) comes back with -EAGAIN
     * and is solved on the pool (solve_run), so that the loop is never
     * held for a search's budget (tens to hundreds of ms). */
    struct planner_opts o = {.no_search = !job->pooled};
    job->rc = graph_plan_solve(&job->plan, &o, job->cache, job->err, sizeof(job->err));
}

/* The solve a plan_run on the loop gave up (-EAGAIN: a search), with the
 * search allowed: on the pool. */
static void solve_run(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    job->err[0] = '\0';
    job->rc = graph_plan_solve(&job->plan, NULL, job->cache, job->err, sizeof(job->err));
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

/* The RegisterGraph reply for job's graph, encoded; NULL: out of memory.
 * Written straight into the frame (wire_reply_register_pack, the bytes
 * protobuf-c would pack): a million placements as protobuf-c objects were
 * three times the frame. Pure: on the loop or on the pool. */
static struct conn_write *encode_register(const struct plan_job *job, uint64_t graph_id,
                                          uint64_t ws_off, const uint64_t *place_off)
{
    const struct graph *gr = &job->wg.g;
    const struct graph_plan *p = &job->plan;
    struct wire_register_reply r = {
        .request_id = job->request_id,
        .graph_id = graph_id,
        .ws_off = ws_off,
        .peak_bytes = p->peak_bytes,
        .lower_bound_bytes = p->lower_bound_bytes,
        .policy = p->policy != NULL ? p->policy : job->policy,
        .n_tensors = gr->n_tensors,
        .tensors = gr->tensors,
        .place_off = place_off,
        .live = p->live,
    };
    size_t room = wire_reply_register_max(&r);
    if (room > UINT32_MAX)
        return NULL;
    struct conn_write *w = conn_write_new(room);
    if (w == NULL)
        return NULL;
    size_t n = wire_reply_register_pack(&r, w->data + FRAME_HEADER_BYTES);
    assert(n <= room);
    frame_put_header(w->data, (uint32_t)n);
    w->buf.len = FRAME_HEADER_BYTES + n;
    return w;
}

static void log_registered(const struct session *s, const struct plan_job *job,
                           uint64_t graph_id, const char *gname)
{
    const struct graph *gr = &job->wg.g;
    const struct graph_plan *p = &job->plan;
    /* A plan made is an operator's event; a cached plan reused (a replica's
     * loop) and a release are debug, as per-buffer events are. */
    log_at(p->cached ? LOG_LVL_DEBUG : LOG_LVL_INFO, "client %llu: registered graph %llu '%s': %u tensors, %u ops, peak %llu, "
            "lower bound %llu, policy %s, %.3f ms%s%s", (unsigned long long)s->id,
            (unsigned long long)graph_id, gname, gr->n_tensors, gr->n_ops,
            (unsigned long long)p->peak_bytes, (unsigned long long)p->lower_bound_bytes,
            p->policy != NULL ? p->policy : job->policy, p->plan_ms,
            p->cached ? " (cached plan)" : "", job->pooled ? " (thread pool)" : "");
}

static void reply_run(struct job *j)
{
    struct plan_job *job = (struct plan_job *)j;
    job->reply = encode_register(job, job->graph_id, job->ws_off, job->place_off);
}

/* The second trip is back: send the reply, or take the graph back. */
static void reply_done(struct job *j, struct session *s)
{
    struct plan_job *job = (struct plan_job *)j;
    const char *gname = job->gname;
    struct sgraph *g = session_find_graph(s, job->graph_id);
    if (job->reply == NULL) {
        if (g != NULL) {
            session_release_graph(s, g);
            s->srv->n_graphs--;
        }
        reply_error(s, job->request_id, -ENOMEM, "graph '%s': out of memory", gname);
        return;
    }
    struct conn_write *w = job->reply;
    job->reply = NULL;
    if (reply_queue(s, w) == 0)
        log_registered(s, job, job->graph_id, gname);
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
    const char *gname = job->gname;
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
    if (job->pooled && gr->n_tensors >= REPLY_POOL_TENSORS) {
        /* Registered now (a close meanwhile releases it); the reply is
         * built off the loop. */
        session_add_graph(s, g);
        srv->n_graphs++;
        job->graph_id = g->id;
        job->ws_off = g->ws_off;
        job->place_off = place_off;
        if (job_requeue(s, &job->base, reply_run, reply_done) == 0)
            return;
        job->place_off = NULL;
        session_release_graph(s, g);
        srv->n_graphs--;
        free(place_off);
        reply_error(s, id, -ENOMEM, "graph '%s': out of memory", gname);
        return;
    }
    struct conn_write *w = encode_register(job, g->id, g->ws_off, place_off);
    free(place_off);
    if (w == NULL) {
        sgraph_free(srv->buddy, srv->reg, &s->owner, g);
        reply_error(s, id, -ENOMEM, "graph '%s': out of memory", gname);
        return;
    }
    if (reply_queue(s, w) < 0) {
        sgraph_free(srv->buddy, srv->reg, &s->owner, g); /* the connection is closing */
        return;
    }
    session_add_graph(s, g);
    srv->n_graphs++;
    job->placed = true;
    log_registered(s, job, g->id, gname);
}

static struct plan_job *job_new(struct session *s, uint64_t request_id, const char *gname)
{
    struct plan_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        char clean[64];
        reply_error(s, request_id, -ENOMEM, "graph '%s': out of memory",
                    log_clean(gname, clean, sizeof(clean)));
        return NULL;
    }
    job->request_id = request_id;
    log_clean(gname, job->gname, sizeof(job->gname));
    job->lim = s->srv->limits;
    job->policy = s->srv->cfg->policy;
    job->cache = cache_get();
    job->base.run = plan_run;
    job->base.done = plan_done;
    job->base.release = plan_release;
    return job;
}

/* Place and answer from e's graph and plan, lent to job (not freed with it). */
static void done_from_entry(struct session *s, struct plan_job *job,
                            const struct frame_cache_entry *e)
{
    job->wg = e->wg;
    job->plan = e->plan;
    job->plan.cached = true;
    job->plan.plan_ms = 0;
    job->policy = e->policy;
    job->rc = 0;
    plan_done(&job->base, s);
    memset(&job->wg, 0, sizeof(job->wg));
    memset(&job->plan, 0, sizeof(job->plan));
}

/* Plan on the pool if the work is worth it, else here (and keep the frame,
 * when it has a key, for its next registration). */
static void job_start(struct session *s, struct plan_job *job, uint64_t n_tensors, uint64_t refs)
{
    if (work_estimate(n_tensors, refs) > POOL_WORK) {
        job->pooled = true;
        job->key = NULL; /* the frame is gone once this returns */
        if (job_queue(s, &job->base) == 0)
            return;
        job->pooled = false;
    }
    plan_run(&job->base);
    if (job->rc == -EAGAIN) { /* it needs a search: the pool's */
        job->pooled = true;
        job->key = NULL;
        job->base.run = solve_run;
        if (job_queue(s, &job->base) == 0)
            return;
        job->pooled = false;
        solve_run(&job->base);
    }
    plan_done(&job->base, s);
    /* Kept after the reply: the last allocation of a registration, whose
     * failure costs only a later hit. */
    const struct frame_cache_entry *e;
    if (job->key != NULL && job->placed && the_frames != NULL)
        (void)frame_cache_put(the_frames, job->key, job->key_len, job->key_hash, &job->wg,
                              &job->plan, job->policy, &e);
    plan_release(&job->base);
    free(job);
}

int req_register_graph(struct session *s, Orion__Request *req)
{
    const Orion__RegisterGraph *rg = req->register_graph;
    struct plan_job *job = job_new(s, req->request_id, rg->name);
    if (job == NULL)
        return REQ_DONE;
    job->req = req;
    size_t refs = 0;
    for (size_t i = 0; i < rg->n_ops; i++)
        refs += rg->ops[i]->n_inputs + rg->ops[i]->n_outputs;
    job_start(s, job, rg->n_tensors, refs);
    return REQ_KEPT; /* freed with the job */
}

/* Start job on the decoded *wg (taken); rc < 0 is the decode's refusal of
 * the graph, with its message in err. */
static void register_job(struct session *s, struct plan_job *job, const char *policy,
                         struct wire_graph *wg, int rc, const char *err)
{
    job->wg = *wg;
    memset(wg, 0, sizeof(*wg));
    snprintf(job->want_policy, sizeof(job->want_policy), "%s", policy);
    job->decode_rc = rc;
    snprintf(job->err, sizeof(job->err), "%s", rc < 0 ? err : "");
    uint64_t refs = 0;
    for (uint32_t i = 0; i < job->wg.g.n_ops; i++)
        refs += (uint64_t)job->wg.g.ops[i].n_inputs + job->wg.g.ops[i].n_outputs;
    job_start(s, job, rc < 0 ? 0 : job->wg.g.n_tensors, refs);
}

void req_register_decoded(struct session *s, uint64_t request_id, const char *policy,
                          struct wire_graph *wg, int rc, const char *err)
{
    struct plan_job *job = job_new(s, request_id, wg->g.name != NULL ? wg->g.name : "");
    if (job == NULL) {
        wire_graph_free(wg);
        return;
    }
    register_job(s, job, policy, wg, rc, err);
}

bool req_register_frame(struct session *s, const uint8_t *msg, size_t len)
{
    uint64_t lead_id = 0, hash = 0, rid = 0;
    const uint8_t *key = NULL;
    size_t key_len = 0;
    struct frame_cache *fc = the_frames;
    if (fc == NULL || !frame_cache_key(msg, len, &lead_id, &key, &key_len, &hash))
        key = NULL;
    if (key != NULL) {
        const struct frame_cache_entry *e = frame_cache_get(fc, key, key_len, hash);
        if (e != NULL) {
            struct plan_job *job =
                job_new(s, lead_id, e->wg.g.name != NULL ? e->wg.g.name : "");
            if (job != NULL) {
                done_from_entry(s, job, e);
                plan_release(&job->base);
                free(job);
            }
            return true;
        }
    }
    char err[512];
    char policy[128];
    struct wire_graph wg = {0};
    int rc = wire_register_decode(msg, len, &s->srv->limits, &wg, &rid, policy, sizeof(policy),
                                  err, sizeof(err));
    if (rc == -ENOMEM) { /* answered here: decoding it again would hide it */
        req_register_decoded(s, rid, policy, &wg, rc, err);
        return true;
    }
    if (rc < 0) {
        wire_graph_free(&wg);
        return false;
    }
    /* Kept only if its id is the leading one (no later field 1 for it). */
    if (key != NULL && rid == lead_id) {
        struct plan_job *job = job_new(s, rid, wg.g.name != NULL ? wg.g.name : "");
        if (job == NULL) {
            wire_graph_free(&wg);
            return true;
        }
        job->key = key;
        job->key_len = key_len;
        job->key_hash = hash;
        register_job(s, job, policy, &wg, 0, "");
        return true;
    }
    req_register_decoded(s, rid, policy, &wg, 0, "");
    return true;
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
    log_debug("client %llu: released graph %llu", (unsigned long long)s->id,
            (unsigned long long)graph_id);
    if (!req->release_graph->quiet)
        reply_ok(s, req->request_id);
    return REQ_DONE;
}
