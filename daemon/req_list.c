/* req_list.c - List: every graph and named buffer the daemon holds, and for
 * whom (pid, uid, client name). */
#include "requests.h"

#include "log.h"
#include "reply.h"
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
};

static void build_free(struct list_build *lb)
{
    free(lb->graphs);
    free(lb->graph_ptrs);
    free(lb->bufs);
    free(lb->buf_ptrs);
    free(lb->holders);
    free(lb->holder_ptrs);
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
    /* CHANNELS: the channels engineer fills ListReply.channels (field 3)
     * here, from the channel table, once Channel* requests exist. */
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
