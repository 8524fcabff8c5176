/* client_call.c - the request/reply stream: a request out, its reply back
 * through a read buffer, and the releases sent without waiting.
 *
 * A release goes out quiet (ReleaseGraph.quiet): the daemon answers it only
 * to refuse it, with an Error bearing its request id. Replies come in the
 * order of the requests, so a reply to a later request says every quiet
 * release before it was done; one bearing a release's id is its refusal,
 * and ends the connection (the daemon's view of it is not ours). An Ok for
 * one (a daemon that does not know quiet) is taken as done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client_internal.h"
#include "fdpass.h"
#include "frame.h"

void client_mark_broken_locked(orion_client *c)
{
    if (!c->broken && c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    c->broken = true;
}

void client_mark_broken(orion_client *c)
{
    pthread_mutex_lock(&c->lock);
    client_mark_broken_locked(c);
    pthread_mutex_unlock(&c->lock);
}

static const char *response_name(Orion__Response__BodyCase k)
{
    switch (k) {
    case ORION__RESPONSE__BODY_ERROR: return "Error";
    case ORION__RESPONSE__BODY_HELLO: return "HelloReply";
    case ORION__RESPONSE__BODY_REGISTER_GRAPH: return "RegisterGraphReply";
    case ORION__RESPONSE__BODY_OK: return "Ok";
    case ORION__RESPONSE__BODY_BUFFER: return "BufferReply";
    case ORION__RESPONSE__BODY_STATS: return "StatsReply";
    case ORION__RESPONSE__BODY_LIST: return "ListReply";
    case ORION__RESPONSE__BODY_CHANNEL: return "ChannelReply";
    default: return "a reply with no body";
    }
}

/* Is the oneof's pointer set for the case the reply claims? */
static bool body_present(const Orion__Response *r)
{
    switch (r->body_case) {
    case ORION__RESPONSE__BODY_ERROR: return r->error != NULL;
    case ORION__RESPONSE__BODY_HELLO: return r->hello != NULL;
    case ORION__RESPONSE__BODY_REGISTER_GRAPH: return r->register_graph != NULL;
    case ORION__RESPONSE__BODY_OK: return r->ok != NULL;
    case ORION__RESPONSE__BODY_BUFFER: return r->buffer != NULL;
    case ORION__RESPONSE__BODY_STATS: return r->stats != NULL;
    case ORION__RESPONSE__BODY_LIST: return r->list != NULL;
    case ORION__RESPONSE__BODY_CHANNEL: return r->channel != NULL;
    default: return false;
    }
}

/* Send every byte of iov[0..n) (the iovecs are consumed). MSG_NOSIGNAL: a
 * dead daemon is -EPIPE here, never SIGPIPE in the caller's process. */
static int send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* One receive of what has arrived, up to len bytes into buf: 0 and *got,
 * -EPIPE at end of stream, -ETIMEDOUT when SO_RCVTIMEO expires, -EPROTO if
 * ancillary data was truncated, or another -errno. Descriptors are kept as
 * fdpass_recv() says (up to CLIENT_MAX_FDS). */
static int recv_some(int fd, void *buf, size_t len, size_t *got, int *fds, size_t *n_fds)
{
    ssize_t r = fdpass_recv(fd, buf, len, fds, CLIENT_MAX_FDS, n_fds);
    if (r == -EAGAIN)
        return -ETIMEDOUT;
    if (r < 0)
        return (int)r;
    if (r == 0)
        return -EPIPE;
    *got = (size_t)r;
    return 0;
}

/* Have at least want bytes (want <= CLIENT_RBUF) unread in c->rbuf. */
static int fill(orion_client *c, size_t want, int *fds, size_t *n_fds)
{
    if (c->rlen - c->rpos >= want)
        return 0;
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    while (c->rlen < want) {
        size_t got = 0;
        int rc = recv_some(c->fd, c->rbuf + c->rlen, CLIENT_RBUF - c->rlen, &got, fds, n_fds);
        if (rc < 0)
            return rc;
        c->rlen += got;
    }
    return 0;
}

void client_close_fds(int *fds, size_t n_fds)
{
    for (size_t i = 0; i < n_fds && i < CLIENT_MAX_FDS; i++)
        close(fds[i]);
}

/* A transport failure: the stream's position is unknown, so the connection
 * is finished. Say so in words a user can act on. */
static int transport_fail(orion_client *c, int rc, const char *when)
{
    client_mark_broken_locked(c);
    if (rc == -EPIPE || rc == -ECONNRESET)
        return client_fail(c, -EPIPE, "orionrtd at %s closed the connection %s", c->path, when);
    if (rc == -ETIMEDOUT)
        return client_fail(c, -ETIMEDOUT, "orionrtd at %s did not answer within %d s %s",
                           c->path, CLIENT_HANDSHAKE_TIMEOUT_S, when);
    if (rc == -EPROTO)
        return client_fail(c, -EPROTO, "orionrtd at %s sent truncated ancillary data %s",
                           c->path, when);
    return client_fail(c, rc, "connection to orionrtd at %s failed %s: %s", c->path, when,
                       strerror(-rc));
}

/* Read one reply frame; c->lock held. Returns 0 with the frame at
 * *frame[0..*len): in c->rbuf when it fits (valid until the next read), else
 * in *big, the caller's to free. Or a negative errno with the message set
 * (the connection is then broken). */
static int recv_frame_locked(orion_client *c, const uint8_t **frame, uint32_t *len,
                             uint8_t **big, int *fds, size_t *n_fds)
{
    *big = NULL;
    int rc = fill(c, FRAME_HEADER_BYTES, fds, n_fds);
    if (rc < 0)
        return transport_fail(c, rc, "before replying");
    uint32_t n = frame_get_header(c->rbuf + c->rpos);
    if (n == 0 || n > CLIENT_MAX_REPLY) {
        client_mark_broken_locked(c);
        return client_fail(c, -EPROTO, "orionrtd sent a reply frame of %u bytes (limit %u)",
                           n, CLIENT_MAX_REPLY);
    }
    c->rpos += FRAME_HEADER_BYTES;
    *len = n;
    if (n <= CLIENT_RBUF) {
        if ((rc = fill(c, n, fds, n_fds)) < 0)
            return transport_fail(c, rc, "in the middle of a reply");
        *frame = c->rbuf + c->rpos;
        c->rpos += n;
        return 0;
    }
    uint8_t *b = malloc(n);
    if (b == NULL) {
        client_mark_broken_locked(c);
        return client_fail(c, -ENOMEM, "out of memory for a %u-byte reply", n);
    }
    size_t have = c->rlen - c->rpos;
    memcpy(b, c->rbuf + c->rpos, have);
    c->rpos = c->rlen = 0;
    while (have < n) {
        size_t got = 0;
        if ((rc = recv_some(c->fd, b + have, n - have, &got, fds, n_fds)) < 0) {
            free(b);
            return transport_fail(c, rc, "in the middle of a reply");
        }
        have += got;
    }
    *frame = *big = b;
    return 0;
}

static int unpack_reply(orion_client *c, const uint8_t *frame, uint32_t len,
                        Orion__Response **out)
{
    *out = orion__response__unpack(NULL, len, frame);
    if (*out == NULL) {
        client_mark_broken_locked(c);
        return client_fail(c, -EPROTO, "orionrtd sent a %u-byte reply that is not a Response",
                           len);
    }
    return 0;
}

/* Read one reply frame and decode it with protobuf-c; c->lock held. */
static int recv_reply_locked(orion_client *c, Orion__Response **out, int *fds, size_t *n_fds)
{
    const uint8_t *frame;
    uint32_t len;
    uint8_t *big;
    int rc = recv_frame_locked(c, &frame, &len, &big, fds, n_fds);
    if (rc < 0)
        return rc;
    rc = unpack_reply(c, frame, len, out);
    free(big);
    return rc;
}

/* An Error for request 0 is about the connection, not a request (too many
 * clients, no hello in time, a malformed request): the daemon closes the
 * connection after it. Returns its code with its message set and the
 * connection broken, or 0 if resp is not one. */
static int connection_error(orion_client *c, const Orion__Response *resp)
{
    if (resp->request_id != 0 || resp->body_case != ORION__RESPONSE__BODY_ERROR ||
        resp->error == NULL || resp->error->code >= 0 || resp->error->code <= -4096)
        return 0;
    int code = resp->error->code;
    client_mark_broken_locked(c);
    return client_fail(c, code, "orionrtd at %s closed the connection: %s", c->path,
                       resp->error->message && resp->error->message[0] ? resp->error->message
                                                                       : orion_strerror(code));
}

/* Pack req (its request_id is set here), or codec's request, and send it
 * whole. Returns 0, a
 * local refusal with its message set (broken connection, -E2BIG, -ENOMEM),
 * or 1 with the send's -errno in *sent (no message yet). */
static int send_request_locked(orion_client *c, Orion__Request *req,
                               const struct client_codec *codec, int *sent)
{
    if (c->broken)
        return client_fail(c, -EPIPE,
                           "the connection to orionrtd at %s is broken by an earlier error: connect again",
                           c->path);
    uint64_t id = ++c->next_id;
    size_t n;
    if (codec != NULL && codec->size != NULL) {
        n = codec->size(codec->req_ctx, id);
    } else {
        req->request_id = id;
        n = orion__request__get_packed_size(req);
    }
    uint64_t limit = c->max_frame ? c->max_frame : FRAME_MAX_DEFAULT;
    if (n > limit || n > UINT32_MAX)
        return client_fail(c, -E2BIG,
                           "request of %zu bytes is above orionrtd's frame limit of %llu bytes",
                           n, (unsigned long long)limit);
    uint8_t small[512];
    uint8_t *body = n <= sizeof(small) ? small : malloc(n);
    if (body == NULL)
        return client_fail(c, -ENOMEM, "out of memory packing a %zu-byte request", n);
    if (codec != NULL && codec->size != NULL)
        codec->pack(codec->req_ctx, id, body);
    else
        orion__request__pack(req, body);
    uint8_t hdr[FRAME_HEADER_BYTES];
    frame_put_header(hdr, (uint32_t)n);
    struct iovec iov[2] = { { hdr, sizeof(hdr) }, { body, n } };
    *sent = send_all(c->fd, iov, 2);
    if (body != small)
        free(body);
    return *sent < 0 ? 1 : 0;
}

/* The request id of a reply frame (the last field 1, as protobuf-c keeps),
 * without decoding the rest: 0, or -1 if the frame does not parse so far. */
static int frame_request_id(const uint8_t *p, size_t len, uint64_t *id)
{
    const uint8_t *end = p + len;
    *id = 0;
    while (p < end) {
        uint64_t key, v;
        if (client_get_varint(&p, end, &key) < 0)
            return -1;
        switch (key & 7) {
        case 0:
            if (client_get_varint(&p, end, &v) < 0)
                return -1;
            if ((key >> 3) == 1)
                *id = v;
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case 2:
            if (client_get_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -1;
            p += v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* Is frame the answer to a quiet release sent earlier? Returns 0 when it is
 * not (it is the awaited reply), 1 when it said Ok (dropped: read the next
 * frame), or the -EPROTO of a refusal, the connection broken. */
static int owed_answer_locked(orion_client *c, const uint8_t *frame, uint32_t len)
{
    uint64_t rid;
    if (c->n_owed == 0 || frame_request_id(frame, len, &rid) < 0)
        return 0;
    unsigned k = 0;
    while (k < c->n_owed && c->owed[k].request_id != rid)
        k++;
    if (k == c->n_owed)
        return 0;
    uint64_t graph_id = c->owed[k].graph_id;
    Orion__Response *resp = orion__response__unpack(NULL, len, frame);
    if (resp != NULL && resp->body_case == ORION__RESPONSE__BODY_OK && resp->ok != NULL) {
        orion__response__free_unpacked(resp, NULL);
        return 1;
    }
    bool refused = resp != NULL && resp->body_case == ORION__RESPONSE__BODY_ERROR &&
                   resp->error != NULL;
    client_mark_broken_locked(c);
    int rc = client_fail(c, -EPROTO, "orionrtd %s the release of graph %llu sent earlier%s%s",
                         refused ? "refused" : "sent something else in answer to",
                         (unsigned long long)graph_id, refused ? ": " : "",
                         refused && resp->error->message ? resp->error->message : "");
    if (resp != NULL)
        orion__response__free_unpacked(resp, NULL);
    return rc;
}

static int call_locked(orion_client *c, Orion__Request *req, const struct client_codec *codec,
                       Orion__Response__BodyCase want, Orion__Response **out, int *fds,
                       size_t *n_fds)
{
    *out = NULL;
    Orion__Response *resp;
    int sent = 0;
    int rc = send_request_locked(c, req, codec, &sent);
    if (rc < 0)
        return rc;
    if (rc > 0 && sent != -EPIPE && sent != -ECONNRESET)
        return transport_fail(c, sent, "while sending a request");
    if (rc > 0) {
        /* A daemon that closed the connection may have said why first (too
         * many clients): its reply is still there to read, after any owed. */
        for (unsigned k = 0; k <= c->n_owed; k++) {
            if (recv_reply_locked(c, &resp, fds, n_fds) < 0)
                break;
            int why = connection_error(c, resp);
            orion__response__free_unpacked(resp, NULL);
            if (why < 0)
                return why;
        }
        return transport_fail(c, sent, "while sending a request");
    }
    uint64_t id = c->next_id;
    const uint8_t *frame;
    uint32_t len;
    uint8_t *big;
    for (;;) {
        if ((rc = recv_frame_locked(c, &frame, &len, &big, fds, n_fds)) < 0)
            return rc;
        if ((rc = owed_answer_locked(c, frame, len)) == 0)
            break;
        free(big);
        if (rc < 0)
            return rc;
    }
    /* A reply to this request: every quiet release before it is done. */
    c->n_owed = 0;
    if (codec != NULL && codec->take != NULL &&
        codec->take(codec->reply_ctx, id, frame, len, &rc)) {
        free(big);
        return rc;
    }
    rc = unpack_reply(c, frame, len, &resp);
    free(big);
    if (rc < 0)
        return rc;
    if (resp->request_id != id) {
        if ((rc = connection_error(c, resp)) == 0)
            rc = client_fail(c, -EPROTO, "orionrtd answered request %llu when %llu was asked",
                             (unsigned long long)resp->request_id, (unsigned long long)id);
        goto err_broken;
    }
    if (!body_present(resp)) {
        rc = client_fail(c, -EPROTO, "orionrtd sent a reply with no body");
        goto err_broken;
    }
    if (resp->body_case == ORION__RESPONSE__BODY_ERROR) {
        int code = resp->error->code;
        if (code >= 0 || code <= -4096) {
            rc = client_fail(c, -EPROTO, "orionrtd sent an error with invalid code %d: %s", code,
                             resp->error->message ? resp->error->message : "");
            goto err_broken;
        }
        rc = client_fail(c, code, "%s",
                         resp->error->message && resp->error->message[0]
                             ? resp->error->message
                             : orion_strerror(code));
        orion__response__free_unpacked(resp, NULL);
        return rc;
    }
    if (resp->body_case != want) {
        rc = client_fail(c, -EPROTO, "orionrtd replied with %s where %s was expected",
                         response_name(resp->body_case), response_name(want));
        goto err_broken;
    }
    *out = resp;
    return 0;

err_broken:
    client_mark_broken_locked(c);
    orion__response__free_unpacked(resp, NULL);
    return rc;
}

int client_call_locked(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                       Orion__Response **out, int *fds, size_t *n_fds)
{
    return call_locked(c, req, NULL, want, out, fds, n_fds);
}

static int call(orion_client *c, Orion__Request *req, const struct client_codec *codec,
                Orion__Response__BodyCase want, Orion__Response **out)
{
    int fds[CLIENT_MAX_FDS];
    size_t n_fds = 0;
    *out = NULL;
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    client_clear_error(c);
    rc = call_locked(c, req, codec, want, out, fds, &n_fds);
    pthread_mutex_unlock(&c->lock);
    /* Only the handshake passes a descriptor; one on any other reply is
     * closed so that it cannot leak. */
    client_close_fds(fds, n_fds);
    return rc;
}

int client_call(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                Orion__Response **out)
{
    return call(c, req, NULL, want, out);
}

int client_call_codec(orion_client *c, const struct client_codec *codec,
                      Orion__Response__BodyCase want, Orion__Response **out)
{
    return call(c, NULL, codec, want, out);
}

int client_release_nowait(orion_client *c, Orion__Request *req, uint64_t graph_id)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    client_clear_error(c);
    req->release_graph->quiet = true;
    int sent = 0;
    if ((rc = send_request_locked(c, req, NULL, &sent)) == 0) {
        /* The oldest is forgotten when full: its refusal would still end
         * the connection, as a reply to no request. */
        if (c->n_owed == CLIENT_OWED_MAX) {
            c->n_owed--;
            memmove(&c->owed[0], &c->owed[1], c->n_owed * sizeof(c->owed[0]));
        }
        c->owed[c->n_owed++] = (struct client_owed){ c->next_id, graph_id };
    }
    else if (rc > 0)
        rc = transport_fail(c, sent, "while sending a request");
    pthread_mutex_unlock(&c->lock);
    return rc;
}
