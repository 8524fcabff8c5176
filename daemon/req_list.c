/* req_list.c - List: every graph, named buffer and channel the daemon holds,
 * and for whom (pid, uid, client name). */
#include "requests.h"

#include "log.h"
#include "reply.h"
#include "channels.h"
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Everything the reply points into, freed in one place. */
struct list_build {
    Orion__ListGraph *graphs;
    Orion__ListGraph **graph_ptrs;
    size_t n_graphs;
    Orion__ListBuffer *bufs;
    Orion__ListBuffer **buf_ptrs;
    size_t n_bufs;
    size_t cap_bufs;
    Orion__ListHolder *holders;   /* every buffer's holders, back to back */
    Orion__ListHolder **holder_ptrs;
    size_t n_holders;
    size_t cap_holders;
    Orion__ListChannel *chans;
    Orion__ListChannel **chan_ptrs;
    size_t n_chans;
    size_t cap_chans;
    Orion__ListEnd *ends;         /* every channel's ends, back to back */
    Orion__ListEnd **end_ptrs;
    size_t n_ends;
    size_t cap_ends;
};

static void build_free(struct list_build *lb)
{
    free(lb->graphs);
    free(lb->graph_ptrs);
    free(lb->bufs);
    free(lb->buf_ptrs);
    free(lb->holders);
    free(lb->holder_ptrs);
    free(lb->chans);
    free(lb->chan_ptrs);
    free(lb->ends);
    free(lb->end_ptrs);
}

static char *name_of(const struct session *t)
{
    return t->client_name != NULL ? t->client_name : (char *)"";
}

static int count_holders(const struct reg_owner *o, uint64_t n_conn, uint64_t n_graph, void *arg)
{
    (void)o, (void)n_conn, (void)n_graph;
    (*(size_t *)arg)++;
    return 0;
}

static int count_buffer(const struct reg_buffer *b, void *arg)
{
    struct list_build *lb = arg;
    lb->cap_bufs++;
    return registry_foreach_holder(b, count_holders, &lb->cap_holders);
}

static int add_holder(const struct reg_owner *o, uint64_t n_conn, uint64_t n_graph, void *arg)
{
    struct list_build *lb = arg;
    const struct session *t = session_of_owner(o);
    Orion__ListHolder *h = &lb->holders[lb->n_holders];
    orion__list_holder__init(h);
    h->client_id = t->id;
    h->pid = (int32_t)t->pid;
    h->uid = (uint32_t)t->uid;
    h->client_name = name_of(t);
    h->conn_holds = n_conn;
    h->graph_holds = n_graph;
    lb->holder_ptrs[lb->n_holders++] = h;
    return 0;
}

static int add_buffer(const struct reg_buffer *b, void *arg)
{
    struct list_build *lb = arg;
    Orion__ListBuffer *x = &lb->bufs[lb->n_bufs];
    orion__list_buffer__init(x);
    x->name = b->name;
    x->offset = b->off;
    x->bytes = b->bytes;
    x->alloc_bytes = b->alloc_bytes;
    x->sealed = b->sealed;
    x->orphaned = b->orphaned;
    x->creator_client_id = b->creator_id;
    x->creator_pid = b->creator != NULL ? (int32_t)session_of_owner(b->creator)->pid : 0;
    x->holders = &lb->holder_ptrs[lb->n_holders];
    size_t first = lb->n_holders;
    registry_foreach_holder(b, add_holder, lb);
    x->n_holders = lb->n_holders - first;
    lb->buf_ptrs[lb->n_bufs++] = x;
    return 0;
}

static int cmp_buffer(const void *a, const void *b)
{
    return strcmp((*(Orion__ListBuffer *const *)a)->name, (*(Orion__ListBuffer *const *)b)->name);
}

static int count_channel(const struct channel_summary *c, void *arg)
{
    struct list_build *lb = arg;
    lb->cap_chans++;
    lb->cap_ends += (size_t)c->n_consumers + 1;
    return 0;
}

static Orion__ListEnd *add_end(struct list_build *lb, const struct chan_ep *ep)
{
    if (lb->n_ends >= lb->cap_ends)
        return NULL;
    Orion__ListEnd *e = &lb->ends[lb->n_ends];
    orion__list_end__init(e);
    const struct session *t = session_of_owner(ep->party->owner);
    e->client_id = t->id;
    e->pid = (int32_t)t->pid;
    e->uid = (uint32_t)t->uid;
    e->client_name = name_of(t);
    e->index = ep->producer ? 0 : ep->index;
    lb->end_ptrs[lb->n_ends++] = e;
    return e;
}

static int add_channel(const struct channel_summary *c, void *arg)
{
    struct list_build *lb = arg;
    if (lb->n_chans >= lb->cap_chans)
        return 0;
    Orion__ListChannel *x = &lb->chans[lb->n_chans];
    orion__list_channel__init(x);
    x->name = (char *)c->name;
    x->offset = c->off;
    x->region_bytes = c->region_bytes;
    x->slot_bytes = c->geom.slot_bytes;
    x->depth = c->geom.depth;
    x->max_consumers = c->geom.max_consumers;
    if (c->producer != NULL)
        x->producer = add_end(lb, c->producer);
    x->consumers = &lb->end_ptrs[lb->n_ends];
    size_t first = lb->n_ends;
    for (uint32_t i = 0; i < c->n_consumers; i++)
        add_end(lb, c->consumers[i]);
    x->n_consumers = lb->n_ends - first;
    x->sequence = c->sequence;
    x->slots_in_flight = c->slots_in_flight;
    x->broken = c->broken;
    lb->chan_ptrs[lb->n_chans++] = x;
    return 0;
}

static int cmp_channel(const void *a, const void *b)
{
    return strcmp((*(Orion__ListChannel *const *)a)->name,
                  (*(Orion__ListChannel *const *)b)->name);
}

static int build(const struct server *srv, struct list_build *lb)
{
    size_t cap_graphs = srv->n_graphs;
    registry_foreach(srv->reg, count_buffer, lb);
    /* calloc(0) may return NULL: ask for one more of each. */
    lb->graphs = calloc(cap_graphs + 1, sizeof(*lb->graphs));
    lb->graph_ptrs = calloc(cap_graphs + 1, sizeof(*lb->graph_ptrs));
    lb->bufs = calloc(lb->cap_bufs + 1, sizeof(*lb->bufs));
    lb->buf_ptrs = calloc(lb->cap_bufs + 1, sizeof(*lb->buf_ptrs));
    lb->holders = calloc(lb->cap_holders + 1, sizeof(*lb->holders));
    lb->holder_ptrs = calloc(lb->cap_holders + 1, sizeof(*lb->holder_ptrs));
    if (lb->graphs == NULL || lb->graph_ptrs == NULL || lb->bufs == NULL ||
        lb->buf_ptrs == NULL || lb->holders == NULL || lb->holder_ptrs == NULL)
        return -ENOMEM;
    for (const struct session *t = srv->sessions; t != NULL; t = t->next) {
        for (const struct sgraph *g = t->graphs; g != NULL && lb->n_graphs < cap_graphs;
             g = g->next) {
            Orion__ListGraph *x = &lb->graphs[lb->n_graphs];
            orion__list_graph__init(x);
            x->id = g->id;
            x->name = g->name != NULL ? g->name : (char *)"";
            x->owner_pid = (int32_t)t->pid;
            x->owner_uid = (uint32_t)t->uid;
            x->client_name = name_of(t);
            x->client_id = t->id;
            x->workspace_offset = g->has_ws ? g->ws_off : 0;
            x->workspace_bytes = g->has_ws ? g->ws_bytes : 0;
            lb->graph_ptrs[lb->n_graphs++] = x;
        }
    }
    registry_foreach(srv->reg, add_buffer, lb);
    qsort(lb->buf_ptrs, lb->n_bufs, sizeof(*lb->buf_ptrs), cmp_buffer);
    channels_foreach(srv->channels, count_channel, lb);
    lb->chans = calloc(lb->cap_chans + 1, sizeof(*lb->chans));
    lb->chan_ptrs = calloc(lb->cap_chans + 1, sizeof(*lb->chan_ptrs));
    lb->ends = calloc(lb->cap_ends + 1, sizeof(*lb->ends));
    lb->end_ptrs = calloc(lb->cap_ends + 1, sizeof(*lb->end_ptrs));
    if (lb->chans == NULL || lb->chan_ptrs == NULL || lb->ends == NULL || lb->end_ptrs == NULL)
        return -ENOMEM;
    channels_foreach(srv->channels, add_channel, lb);
    qsort(lb->chan_ptrs, lb->n_chans, sizeof(*lb->chan_ptrs), cmp_channel);
    return 0;
}

int req_list(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    struct list_build lb;
    memset(&lb, 0, sizeof(lb));
    int rc = build(srv, &lb);
    if (rc < 0) {
        log_msg("client %llu: out of memory building a list", (unsigned long long)s->id);
        reply_error(s, req->request_id, rc, "out of memory building the list of %u graphs "
                    "and %zu buffers", srv->n_graphs, lb.cap_bufs);
        goto out_free;
    }
    Orion__ListReply lr = ORION__LIST_REPLY__INIT;
    lr.graphs = lb.graph_ptrs;
    lr.n_graphs = lb.n_graphs;
    lr.buffers = lb.buf_ptrs;
    lr.n_buffers = lb.n_bufs;
    lr.channels = lb.chan_ptrs;
    lr.n_channels = lb.n_chans;
    lr.arena_bytes = srv->arena->bytes;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = req->request_id;
    resp.body_case = ORION__RESPONSE__BODY_LIST;
    resp.list = &lr;
    reply_send(s, &resp);
out_free:
    build_free(&lb);
    return REQ_DONE;
}
