/* req_hello.c - the hello handshake (protocol version, the arena's
 * descriptor), stats, and arming fault injection in test builds. */
#include "requests.h"

#include "channels.h"
#include "conn.h"
#include "fault.h"
#include "log.h"
#include "reply.h"
#include "server.h"

#include <errno.h>

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
        char name[64];
        session_set(s, SESSION_HELLO);
        uv_timer_stop(&s->hello_timer);
        log_msg("client %llu: hello from '%s'", (unsigned long long)s->id,
                log_clean(h->client_name, name, sizeof(name)));
    }
    return REQ_DONE;
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
    sr.channels = channels_count(srv->channels);
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = req->request_id;
    resp.body_case = ORION__RESPONSE__BODY_STATS;
    resp.stats = &sr;
    reply_send(s, &resp);
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
