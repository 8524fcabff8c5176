/* dispatch.c - frames to requests to handlers, through one table. */
#include "dispatch.h"

#include "conn.h"
#include "job.h"
#include "log.h"
#include "reply.h"
#include "requests.h"
#include "server.h"
#include "wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct request_handler {
    request_fn *fn;
    bool before_hello;          /* allowed before the hello is done */
};

/* One row a request: adding a request is a row here and a handler in its
 * family's file. */
static const struct request_handler handlers[] = {
    [ORION__REQUEST__BODY_HELLO] = {req_hello, true},
    [ORION__REQUEST__BODY_REGISTER_GRAPH] = {req_register_graph, false},
    [ORION__REQUEST__BODY_RELEASE_GRAPH] = {req_release_graph, false},
    [ORION__REQUEST__BODY_BUFFER_CREATE] = {req_buffer_create, false},
    [ORION__REQUEST__BODY_BUFFER_OPEN] = {req_buffer_open, false},
    [ORION__REQUEST__BODY_BUFFER_SEAL] = {req_buffer_seal, false},
    [ORION__REQUEST__BODY_BUFFER_RELEASE] = {req_buffer_release, false},
    [ORION__REQUEST__BODY_BUFFER_WAIT] = {req_buffer_wait, false},
    [ORION__REQUEST__BODY_STATS] = {req_stats, false},
    [ORION__REQUEST__BODY_LIST] = {req_list, false},
    [ORION__REQUEST__BODY_CHANNEL_CREATE] = {req_channel_create, false},
    [ORION__REQUEST__BODY_CHANNEL_OPEN] = {req_channel_open, false},
    [ORION__REQUEST__BODY_CHANNEL_CLOSE] = {req_channel_close, false},
    [ORION__REQUEST__BODY_FAULT_INJECT] = {req_fault_inject, false},
};

/* The handler of body case c for request id, or NULL after the refusal
 * (a request before hello, or without a known body) was replied. */
static const struct request_handler *find_handler(struct session *s, uint64_t id, size_t c)
{
    const struct request_handler *h =
        c < sizeof(handlers) / sizeof(handlers[0]) && handlers[c].fn != NULL ? &handlers[c] : NULL;
    if (!session_has(s, SESSION_HELLO) && (h == NULL || !h->before_hello)) {
        log_msg("client %llu: first request is not hello; closing", (unsigned long long)s->id);
        reply_error(s, id, -EPROTO, "expected hello");
        conn_close_after_writes(s);
        return NULL;
    }
    if (h == NULL) {
        log_msg("client %llu: request without a known body; closing", (unsigned long long)s->id);
        reply_error(s, id, -EPROTO, "request %llu has no body", (unsigned long long)id);
        conn_close_after_writes(s);
    }
    return h;
}

static void dispatch_request(struct session *s, Orion__Request *req)
{
    const struct request_handler *h = find_handler(s, req->request_id, (size_t)req->body_case);
    if (h != NULL && h->fn(s, req) == REQ_KEPT)
        return;
    wire_request_free(req);
}

/* A request that could not be decoded: -E2BIG and -ENOMEM are answered and
 * the connection goes on (after hello); anything else is not a Request. */
static void refuse_frame(struct session *s, int rc, uint64_t rid, const char *why, size_t len)
{
    if (rc == -E2BIG || rc == -ENOMEM) {
        log_msg("client %llu: request refused: %s", (unsigned long long)s->id, why);
        reply_error(s, rid, rc, "%s", why);
        if (!session_has(s, SESSION_HELLO))
            conn_close_after_writes(s);
        return;
    }
    log_msg("client %llu: malformed request of %zu bytes; closing", (unsigned long long)s->id,
            len);
    reply_error(s, 0, -EPROTO, "malformed request: %zu bytes that are not an orion.Request", len);
    conn_close_after_writes(s);
}

/* ---- decoding on the thread pool -------------------------------------- */

/* A RegisterGraph frame this large is decoded straight into a graph
 * (wire_register_decode), not through protobuf-c's objects, about nine
 * times the frame in small blocks. All pooled frames are that large. */
struct decode_job {
    struct job base;
    uint8_t *frame;             /* its bytes, freed once decoded */
    size_t len;
    struct graph_limits lim;
    Orion__Request *req;
    uint64_t request_id;
    int rc;                     /* the request's refusal (refuse_frame) */
    bool graph;                 /* a RegisterGraph, decoded into wg */
    int graph_rc;               /* its refusal by the decode */
    struct wire_graph wg;
    char policy[128];
    char err[512];
};

static void decode_run(struct job *j)
{
    struct decode_job *d = (struct decode_job *)j;
    uint32_t body = 0;
    d->rc = wire_check(d->frame, d->len, &d->lim, &d->request_id, &body, d->err, sizeof(d->err));
    if (d->rc == 0 && body == ORION__REQUEST__BODY_REGISTER_GRAPH) {
        /* The check passed, so what the decode refuses but -EPROTO (a
         * field protobuf-c would not take) is the graph's refusal. */
        int rc = wire_register_decode(d->frame, d->len, &d->lim, &d->wg, &d->request_id,
                                      d->policy, sizeof(d->policy), d->err, sizeof(d->err));
        if (rc == -EPROTO) {
            d->rc = rc;
        } else if (rc == -ENOMSG) { /* not a RegisterGraph after all: cannot be */
            wire_graph_free(&d->wg);
            d->rc = wire_unpack(d->frame, d->len, &d->lim, &d->req, &d->request_id, d->err,
                                sizeof(d->err));
        } else {
            d->graph = true;
            d->graph_rc = rc;
        }
    } else if (d->rc == 0) {
        d->rc = wire_unpack(d->frame, d->len, &d->lim, &d->req, &d->request_id, d->err,
                            sizeof(d->err));
    }
    free(d->frame);
    d->frame = NULL;
}

static void decode_done(struct job *j, struct session *s)
{
    struct decode_job *d = (struct decode_job *)j;
    if (d->rc < 0) {
        refuse_frame(s, d->rc, d->request_id, d->err, d->len);
        return;
    }
    if (d->graph) {
        if (find_handler(s, d->request_id, ORION__REQUEST__BODY_REGISTER_GRAPH) != NULL)
            req_register_decoded(s, d->request_id, d->policy, &d->wg, d->graph_rc, d->err);
        return;
    }
    Orion__Request *req = d->req;
    d->req = NULL;
    dispatch_request(s, req);
}

static void decode_release(struct job *j)
{
    struct decode_job *d = (struct decode_job *)j;
    free(d->frame);
    d->frame = NULL;
    wire_request_free(d->req);
    d->req = NULL;
    wire_graph_free(&d->wg);
}

static int decode_on_pool(struct session *s, const uint8_t *msg, size_t len)
{
    struct decode_job *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    if ((d->frame = malloc(len)) == NULL) {
        free(d);
        return -ENOMEM;
    }
    memcpy(d->frame, msg, len);
    d->len = len;
    d->lim = s->srv->limits;
    d->base.run = decode_run;
    d->base.done = decode_done;
    d->base.release = decode_release;
    int rc = job_queue(s, &d->base);
    if (rc < 0) {
        decode_release(&d->base);
        free(d);
    }
    return rc;
}

void dispatch_frame(struct session *s, const uint8_t *msg, size_t len)
{
    if (len > DISPATCH_POOL_FRAME && decode_on_pool(s, msg, len) == 0)
        return; /* s is busy until the pool is done with it */
    /* A RegisterGraph straight from its bytes (before hello: the general
     * path says "expected hello"). */
    if (session_has(s, SESSION_HELLO) && req_register_frame(s, msg, len))
        return;
    Orion__Request *req;
    uint64_t rid;
    char why[256];
    int rc = wire_unpack(msg, len, &s->srv->limits, &req, &rid, why, sizeof(why));
    if (rc < 0) {
        refuse_frame(s, rc, rid, why, len);
        return;
    }
    dispatch_request(s, req);
}
