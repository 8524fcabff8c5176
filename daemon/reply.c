/* reply.c - encoding, framing and queueing responses. */
#include "reply.h"

#include "conn.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct conn_write *reply_encode(const Orion__Response *resp)
{
    size_t n = orion__response__get_packed_size(resp);
    if (n > UINT32_MAX)
        return NULL;
    struct conn_write *w = conn_write_new(n);
    if (w == NULL)
        return NULL;
    frame_put_header(w->data, (uint32_t)n);
    orion__response__pack(resp, w->data + FRAME_HEADER_BYTES);
    return w;
}

int reply_send(struct session *s, const Orion__Response *resp)
{
    if (session_has(s, SESSION_CLOSING))
        return -EPIPE;
    struct conn_write *w = reply_encode(resp);
    if (w == NULL) {
        log_msg("client %llu: reply too large or out of memory", (unsigned long long)s->id);
        conn_close_deferred(s);
        return -ENOMEM;
    }
    return conn_queue(s, w);
}

int reply_queue(struct session *s, struct conn_write *w)
{
    if (session_has(s, SESSION_CLOSING)) {
        free(w);
        return -EPIPE;
    }
    return conn_queue(s, w);
}

int reply_error(struct session *s, uint64_t request_id, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    Orion__Error e = ORION__ERROR__INIT;
    e.code = code;
    e.message = msg;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = request_id;
    resp.body_case = ORION__RESPONSE__BODY_ERROR;
    resp.error = &e;
    return reply_send(s, &resp);
}

int reply_ok(struct session *s, uint64_t request_id)
{
    Orion__Ok ok = ORION__OK__INIT;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = request_id;
    resp.body_case = ORION__RESPONSE__BODY_OK;
    resp.ok = &ok;
    return reply_send(s, &resp);
}

static int buffer_reply(struct session *s, uint64_t request_id, const struct reg_buffer *b,
                        bool holder_gone)
{
    Orion__BufferReply br = ORION__BUFFER_REPLY__INIT;
    br.holder_gone = holder_gone;
    br.name = b->name;
    br.offset = b->off;
    br.bytes = b->bytes;
    br.sealed = b->sealed;
    br.refs = b->n_holders;
    Orion__Response resp = ORION__RESPONSE__INIT;
    resp.request_id = request_id;
    resp.body_case = ORION__RESPONSE__BODY_BUFFER;
    resp.buffer = &br;
    return reply_send(s, &resp);
}

int reply_buffer(struct session *s, uint64_t request_id, const struct reg_buffer *b)
{
    return buffer_reply(s, request_id, b, false);
}

int reply_buffer_holder_gone(struct session *s, uint64_t request_id, const struct reg_buffer *b)
{
    return buffer_reply(s, request_id, b, true);
}

int reply_with_fd(struct session *s, const Orion__Response *resp, int fd)
{
    if (session_has(s, SESSION_CLOSING))
        return -EPIPE;
    int sock;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) != 0 ||
        uv_fileno((uv_handle_t *)&s->pipe, &sock) < 0) {
        log_msg("client %llu: cannot pass the arena behind queued bytes; closing",
                (unsigned long long)s->id);
        conn_close_deferred(s);
        return -EAGAIN;
    }
    struct conn_write *w = reply_encode(resp);
    if (w == NULL) {
        conn_close_deferred(s);
        return -ENOMEM;
    }
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = w->buf.base, .iov_len = w->buf.len};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int e = errno;
        free(w);
        /* Nothing was sent, not even the descriptor: a new connection's
         * buffer cannot be full unless the peer misbehaves. */
        log_msg("client %llu: cannot pass the arena: %s; closing", (unsigned long long)s->id,
                e == EAGAIN || e == EWOULDBLOCK ? "socket buffer full" : strerror(e));
        conn_close_deferred(s);
        return -e;
    }
    if ((size_t)n == w->buf.len) {
        free(w);
        return 0;
    }
    /* The descriptor went with the first byte; the rest is plain data. */
    w->buf.base += n;
    w->buf.len -= (size_t)n;
    return conn_queue(s, w);
}
