/* req_buffer.c - named buffers: create, open, seal, release, wait. */
#include "requests.h"

#include "log.h"
#include "reply.h"
#include "server.h"

#include <errno.h>
#include <string.h>

static bool check_name(struct session *s, uint64_t id, const char *name)
{
    if (registry_name_valid(name))
        return true;
    reply_error(s, id, -EINVAL, "bad buffer name: 1-%u bytes of printable ASCII, no space",
                REGISTRY_NAME_MAX);
    return false;
}

/* The buffer a request names, or NULL with the error already replied (a bad
 * name, or no buffer of that name). */
static struct reg_buffer *named_buffer(struct session *s, uint64_t id, const char *name)
{
    if (!check_name(s, id, name))
        return NULL;
    struct reg_buffer *b = registry_find(s->srv->reg, name);
    if (b == NULL)
        reply_error(s, id, -ENOENT, "no buffer '%s'", name);
    return b;
}

int req_buffer_create(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    const Orion__BufferCreate *m = req->buffer_create;
    char err[512];
    struct reg_buffer *b;
    int rc = registry_create(srv->reg, m->name, m->bytes, m->align, &s->owner, REG_HOLD_CONN,
                             srv->cfg->client_limit, &b, err, sizeof(err));
    if (rc < 0) {
        reply_error(s, req->request_id, rc, "%s", err);
        return REQ_DONE;
    }
    log_debug("client %llu: created buffer '%s' (%llu bytes at offset %llu)",
            (unsigned long long)s->id, b->name, (unsigned long long)b->bytes,
            (unsigned long long)b->off);
    reply_buffer(s, req->request_id, b);
    return REQ_DONE;
}

int req_buffer_open(struct session *s, Orion__Request *req)
{
    const char *name = req->buffer_open->name;
    struct reg_buffer *b = named_buffer(s, req->request_id, name);
    if (b == NULL)
        return REQ_DONE;
    int rc = registry_hold(s->srv->reg, b, &s->owner, REG_HOLD_CONN);
    if (rc == -ENOSPC) {
        reply_error(s, req->request_id, rc, "opening buffer '%s' would pass this connection's "
                    "--client-memory of %llu bytes", name,
                    (unsigned long long)s->owner.mem_limit);
        return REQ_DONE;
    }
    if (rc < 0) {
        reply_error(s, req->request_id, -ENOMEM, "out of memory opening buffer '%s'", name);
        return REQ_DONE;
    }
    reply_buffer(s, req->request_id, b);
    return REQ_DONE;
}

int req_buffer_seal(struct session *s, Orion__Request *req)
{
    const char *name = req->buffer_seal->name;
    uint64_t id = req->request_id;
    struct reg_buffer *b = named_buffer(s, id, name);
    if (b == NULL)
        return REQ_DONE;
    int rc = registry_seal(s->srv->reg, b, &s->owner);
    if (rc == -EPERM) {
        reply_error(s, id, rc, "buffer '%s' was created by another connection; "
                    "only its creator may seal it", name);
        return REQ_DONE;
    }
    if (rc == -EALREADY) {
        reply_error(s, id, rc, "buffer '%s' is sealed already", name);
        return REQ_DONE;
    }
    log_debug("client %llu: sealed buffer '%s'", (unsigned long long)s->id, name);
    reply_buffer(s, id, b);
    return REQ_DONE;
}

int req_buffer_release(struct session *s, Orion__Request *req)
{
    struct server *srv = s->srv;
    const char *name = req->buffer_release->name;
    if (!check_name(s, req->request_id, name))
        return REQ_DONE;
    struct reg_buffer *b = registry_find(srv->reg, name);
    if (b == NULL || registry_release(srv->reg, b, &s->owner, REG_HOLD_CONN) < 0) {
        reply_error(s, req->request_id, -ENOENT, "this connection holds no buffer '%s'", name);
        return REQ_DONE;
    }
    reply_ok(s, req->request_id);
    return REQ_DONE;
}

static void on_wait_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    registry_wait_cancel(s->srv->reg, &s->wait);
    reply_error(s, s->wait_request_id, -ETIMEDOUT, "buffer '%s': no %s before the timeout",
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
    else if (status == REG_WAIT_HOLDER_GONE)
        reply_buffer_holder_gone(s, s->wait_request_id, b);
    else if (status == -EPIPE)
        reply_error(s, s->wait_request_id, -EPIPE,
                    "the creator of buffer '%s' disconnected before sealing it", w->name);
    else
        reply_error(s, s->wait_request_id, status, "buffer '%s' went away", w->name);
    server_resume(s);
}

int req_buffer_wait(struct session *s, Orion__Request *req)
{
    const Orion__BufferWait *m = req->buffer_wait;
    uint64_t id = req->request_id;
    if (!check_name(s, id, m->name))
        return REQ_DONE;
    if (m->what != ORION__WAIT_FOR__SEALED && m->what != ORION__WAIT_FOR__UNUSED) {
        reply_error(s, id, -EINVAL, "unknown wait condition %d", (int)m->what);
        return REQ_DONE;
    }
    struct reg_wait *w = &s->wait;
    w->owner = &s->owner;
    w->what = m->what == ORION__WAIT_FOR__SEALED ? REG_WAIT_SEALED : REG_WAIT_UNUSED;
    w->cb = on_wait_done;
    w->data = s;
    struct reg_buffer *b = NULL;
    int rc = registry_wait(s->srv->reg, w, m->name, m->timeout_ms != 0, &b);
    switch (rc) {
    case 0:
        reply_buffer(s, id, b);
        break;
    case REG_WAIT_HOLDER_GONE:
        reply_buffer_holder_gone(s, id, b);
        break;
    case REG_WAIT_PENDING:
        session_set(s, SESSION_BUSY);
        s->wait_request_id = id;
        if (m->timeout_ms > 0) {
            /* Count from now, not from the loop pass's cached time. */
            uv_update_time(s->timer.loop);
            uv_timer_start(&s->timer, on_wait_timeout, (uint64_t)m->timeout_ms, 0);
        }
        break;
    case -ENOENT:
        reply_error(s, id, rc, "this connection holds no buffer '%s' to wait on", m->name);
        break;
    case -EPIPE:
        reply_error(s, id, rc, "the creator of buffer '%s' disconnected before sealing it",
                    m->name);
        break;
    case -EDEADLK:
        reply_error(s, id, rc, "buffer '%s' was created by this connection and is not "
                    "sealed: only this connection can seal it, not while it waits", m->name);
        break;
    case -ETIMEDOUT:
        reply_error(s, id, rc, "buffer '%s' is not %s", m->name,
                    w->what == REG_WAIT_SEALED ? "sealed" : "unused by the others");
        break;
    default:
        reply_error(s, id, rc, "cannot wait on buffer '%s': %s", m->name, strerror(-rc));
        break;
    }
    return REQ_DONE;
}
