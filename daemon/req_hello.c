/* req_hello.c - the hello handshake (protocol version, the arena's
 * descriptor), stats, and arming fault injection in test builds. */
#include "requests.h"

#include "channels.h"
#include "conn.h"
#include "fault.h"
#include "log.h"
#include "plan_cache.h"
#include "reply.h"
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef ORION_VERSION
#define ORION_VERSION "0"
#endif

int req_hello(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    Orion__Hello *h = req->hello;
    if (session_has(s, SESSION_HELLO)) {
        reply_error(s, req->request_id, -EPROTO, "hello was already received");
        return REQ_DONE;
    }
    if (h->protocol_version != ORION_PROTOCOL_VERSION) {
        log_msg("client %llu: protocol %u refused (daemon speaks %u)", (unsigned long long)s->id,
                h->protocol_version, ORION_PROTOCOL_VERSION);
        reply_error(s, req->request_id, -EPROTONOSUPPORT,
                    "client speaks protocol %u, the daemon speaks protocol %u",
                    h->protocol_version, ORION_PROTOCOL_VERSION);
        conn_close_after_writes(s);
        return REQ_DONE;
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
    if (reply_with_fd(s, &resp, srv->arena->share_fd) == 0) {
        char name[256];
        session_set(s, SESSION_HELLO);
        uv_timer_stop(&s->hello_timer);
        log_clean(h->client_name, name, sizeof(name));
        /* Kept for List; without memory for it the client is listed unnamed. */
        s->client_name = strdup(name);
        log_msg("client %llu: hello from '%s'", (unsigned long long)s->id, name);
    }
    return REQ_DONE;
}

static int cmp_uid(const void *a, const void *b)
{
    const Orion__UidUsage *x = *(Orion__UidUsage *const *)a, *y = *(Orion__UidUsage *const *)b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Per uid with a live connection, from the daemon's per-user records
 * (uids.h): the arena bytes charged to it (its connections' workspaces and
 * the buffers they created, while those live: what --uid-limit counts) and
 * its connections. rows and ptrs have room for every record. */
static size_t uid_usage(const struct server *srv, Orion__UidUsage *rows,
                        Orion__UidUsage **ptrs)
{
    size_t n = 0;
    for (const struct uid_usage *u = srv->uids.list; u != NULL; u = u->next) {
        if (u->conns == 0)
            continue;
        orion__uid_usage__init(&rows[n]);
        rows[n].uid = (uint32_t)u->uid;
        rows[n].used_bytes = u->quota.used_bytes;
        rows[n].clients = u->conns;
        ptrs[n] = &rows[n];
        n++;
    }
    qsort(ptrs, n, sizeof(*ptrs), cmp_uid);
    return n;
}

int req_stats(struct session *s, Orion__Request *req)
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
    struct plan_cache_stats cs;
    req_graph_cache_stats(&cs);
    sr.plan_cache_hits = cs.hits;
    sr.plan_cache_misses = cs.misses;
    sr.plan_cache_entries = (uint32_t)cs.entries;
    size_t cap = 1;
    for (const struct uid_usage *u = srv->uids.list; u != NULL; u = u->next)
        cap++;
    Orion__UidUsage *rows = calloc(cap, sizeof(*rows));
    Orion__UidUsage **ptrs = calloc(cap, sizeof(*ptrs));
    if (rows == NULL || ptrs == NULL) {
        free(rows);
        free(ptrs);
        reply_error(s, req->request_id, -ENOMEM, "out of memory building stats");
        return REQ_DONE;
    }
    sr.n_uids = uid_usage(srv, rows, ptrs);
    sr.uids = ptrs;
    sr.channels = channels_count(srv->channels);
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = req->request_id;
    resp.body_case = ORION__RESPONSE__BODY_STATS;
    resp.stats = &sr;
    reply_send(s, &resp);
    free(ptrs);
    free(rows);
    return REQ_DONE;
}

int req_fault_inject(struct session *s, Orion__Request *req)
{
    uint64_t n = req->fault_inject->countdown;
    if (fault_arm(n) < 0) {
        reply_error(s, req->request_id, -ENOSYS, "fault injection is not built into this daemon "
                    "(configure with -DORION_FAULT_INJECTION=ON)");
        return REQ_DONE;
    }
    log_msg("client %llu: allocation %llu from now will fail", (unsigned long long)s->id,
            (unsigned long long)n);
    reply_ok(s, req->request_id);
    return REQ_DONE;
}
