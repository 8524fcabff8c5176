/* req_channel.c - channels: create (or take over), open (waiting for a create),
 * close. The records are channels.h's; the ring is proto/chan.h's. */
#include "requests.h"

#include "channels.h"
#include "log.h"
#include "reply.h"
#include "server.h"

#include <errno.h>
#include <string.h>

/* The session's party, its owner and limit made current. */
static struct chan_party *party(struct session *s)
{
    s->chan.owner = &s->owner;
    s->chan.limit = s->srv->cfg->client_limit;
    return &s->chan;
}

static int reply_channel(struct session *s, uint64_t request_id, const struct chan_ep *ep,
                         bool takeover)
{
    struct chan_view v;
    channels_view(ep, &v);
    Orion__ChannelReply cr = ORION__CHANNEL_REPLY__INIT;
    cr.name = (char *)v.name;
    cr.offset = v.off;
    cr.region_bytes = v.region_bytes;
    cr.slot_bytes = v.geom.slot_bytes;
    cr.depth = v.geom.depth;
    cr.max_consumers = v.geom.max_consumers;
    cr.producer = ep->producer;
    cr.index = ep->producer ? 0 : ep->index;
    cr.start_seq = ep->producer ? 0 : ep->start_seq;
    cr.takeover = takeover;
    cr.consumers = v.consumers;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = request_id;
    resp.body_case = ORION__RESPONSE__BODY_CHANNEL;
    resp.channel = &cr;
    return reply_send(s, &resp);
}

int req_channel_create(struct session *s, Orion__Request *req)
{
    const Orion__ChannelCreate *m = req->channel_create;
    struct chan_geom g = {
        .slot_bytes = m->slot_bytes, .depth = m->depth, .max_consumers = m->max_consumers,
    };
    char err[512];
    int rc = channels_geom_check(&g, err, sizeof(err));
    if (rc < 0) {
        reply_error(s, req->request_id, rc, "channel '%s': %s", m->name, err);
        return REQ_DONE;
    }
    struct chan_ep *ep;
    bool takeover;
    rc = channels_create(s->srv->channels, party(s), m->name, &g, &ep, &takeover, err,
                         sizeof(err));
    if (rc == -EPROTO)
        log_msg("client %llu: %s", (unsigned long long)s->id, err);
    if (rc < 0) {
        reply_error(s, req->request_id, rc, "%s", err);
        return REQ_DONE;
    }
    log_msg("client %llu: %s channel '%s' (%u slots of %llu bytes, %u consumers at most)",
            (unsigned long long)s->id, takeover ? "took over" : "created", m->name, g.depth,
            (unsigned long long)g.slot_bytes, g.max_consumers);
    reply_channel(s, req->request_id, ep, takeover);
    return REQ_DONE;
}

static void on_open_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    channels_wait_cancel(s->srv->channels, &s->chan);
    reply_error(s, s->wait_request_id, -ETIMEDOUT, "no channel '%s' was created before the "
                "timeout", s->chan.wait.name);
    server_resume(s);
}

/* Called from inside channels_create(): reply and defer the rest. */
static void on_open_done(struct chan_wait *w, int status, struct chan_ep *ep)
{
    struct session *s = w->data;
    uv_timer_stop(&s->timer);
    if (status == 0)
        reply_channel(s, s->wait_request_id, ep, false);
    else if (status == -EBUSY)
        reply_error(s, s->wait_request_id, status, "channel '%s' was created, and has its "
                    "max_consumers consumers attached", w->name);
    else
        reply_error(s, s->wait_request_id, status, "channel '%s' was created, but cannot be "
                    "opened: %s", w->name, strerror(-status));
    server_resume(s);
}

int req_channel_open(struct session *s, Orion__Request *req)
{
    const Orion__ChannelOpen *m = req->channel_open;
    uint64_t id = req->request_id;
    struct chan_party *p = party(s);
    p->wait.cb = on_open_done;
    p->wait.data = s;
    struct chan_ep *ep;
    char err[512];
    int rc = channels_open(s->srv->channels, p, m->name, m->timeout_ms != 0, &ep, err,
                           sizeof(err));
    switch (rc) {
    case 0:
        reply_channel(s, id, ep, false);
        break;
    case 1:
        session_set(s, SESSION_BUSY);
        s->wait_request_id = id;
        if (m->timeout_ms > 0) {
            /* Count from now, not from the loop pass's cached time. */
            uv_update_time(s->timer.loop);
            uv_timer_start(&s->timer, on_open_timeout, (uint64_t)m->timeout_ms, 0);
        }
        break;
    case -ENOENT: /* timeout 0: checked once, as BufferWait */
        reply_error(s, id, -ETIMEDOUT, "no channel '%s'", m->name);
        break;
    case -EPROTO:
        log_msg("client %llu: %s", (unsigned long long)s->id, err);
        /* fall through */
    default:
        reply_error(s, id, rc, "%s", err);
        break;
    }
    return REQ_DONE;
}

int req_channel_close(struct session *s, Orion__Request *req)
{
    const Orion__ChannelClose *m = req->channel_close;
    struct chan_ep *ep = channels_find_ep(party(s), m->name, m->producer, m->index);
    if (ep == NULL) {
        if (m->producer)
            reply_error(s, req->request_id, -ENOENT, "this connection is not the producer of "
                        "a channel '%s'", m->name);
        else
            reply_error(s, req->request_id, -ENOENT, "this connection has no consumer %u of "
                        "a channel '%s'", m->index, m->name);
        return REQ_DONE;
    }
    channels_release(s->srv->channels, ep);
    reply_ok(s, req->request_id);
    return REQ_DONE;
}
