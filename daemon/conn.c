/* conn.c - writing frames to a connection and closing it. */
#include "conn.h"

#include "log.h"
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* How long a connection closed for a protocol error may take to read its
 * last reply. */
#define CONN_DRAIN_MS 5000

static void on_handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    if (--s->open_handles > 0)
        return;
    frame_reader_free(&s->rd);
    free(s->client_name);
    free(s);
}

static void on_pid_poll_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    close(s->pidfd);
    s->pidfd = -1;
    on_handle_closed(h);
}

void conn_close(struct session *s)
{
    if (session_has(s, SESSION_CLOSING))
        return;
    session_set(s, SESSION_CLOSING);
    struct server *srv = s->srv;
    if (!session_has(s, SESSION_REFUSED)) {
        struct session_released rel;
        session_release_all(s, &rel);
        log_msg("client %llu (pid %d) gone: released %u graph%s, %u buffer hold%s, %llu bytes",
                (unsigned long long)s->id, (int)s->pid, rel.graphs, rel.graphs == 1 ? "" : "s",
                rel.holds, rel.holds == 1 ? "" : "s", (unsigned long long)rel.bytes);
        srv->n_sessions--;
    }
    if (s->user != NULL) {
        s->user->conns--;
        s->user = NULL;
        uids_prune(&srv->uids);
    }
    srv->pending_bytes -= s->buffered;
    s->buffered = 0;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    uv_close((uv_handle_t *)&s->pipe, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->hello_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->io_timer, on_handle_closed);
    if (s->pidfd >= 0)
        uv_close((uv_handle_t *)&s->pid_poll, on_pid_poll_closed);
}

static void on_deferred_close(uv_timer_t *t)
{
    conn_close(t->data);
}

void conn_close_deferred(struct session *s)
{
    if (session_has(s, SESSION_CLOSING))
        return;
    /* No more frames, and no resume either. */
    session_set(s, SESSION_BUSY | SESSION_CLOSE_PENDING);
    uv_timer_start(&s->timer, on_deferred_close, 0, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

void conn_close_after_writes(struct session *s)
{
    if (session_has(s, SESSION_CLOSING | SESSION_DRAINING))
        return;
    session_set(s, SESSION_DRAINING);
    if (session_has(s, SESSION_READING)) {
        uv_read_stop((uv_stream_t *)&s->pipe);
        session_clear(s, SESSION_READING);
    }
    s->shutdown_req.data = s;
    if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->pipe, on_shutdown) < 0) {
        conn_close_deferred(s);
        return;
    }
    /* A peer that reads nothing must not keep its resources: bounded wait. */
    uv_timer_start(&s->timer, on_deferred_close, CONN_DRAIN_MS, 0);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn_write *w = (struct conn_write *)req;
    struct session *s = w->s;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !session_has(s, SESSION_CLOSING)) {
        log_msg("client %llu: write failed: %s", (unsigned long long)s->id, uv_strerror(status));
        conn_close(s);
    }
}

struct conn_write *conn_write_new(size_t n)
{
    /* (malloc): never failed by fault injection, like the buffers libuv
     * allocates itself; a reply that cannot be queued closes the
     * connection, so injection aims at what a request builds. */
    struct conn_write *w = (malloc)(sizeof(*w) + FRAME_HEADER_BYTES + n);
    if (w == NULL)
        return NULL;
    w->buf = uv_buf_init((char *)w->data, (unsigned)(FRAME_HEADER_BYTES + n));
    return w;
}

int conn_queue(struct session *s, struct conn_write *w)
{
    w->s = s;
    /* Written at once when the socket takes it all (the usual case), without
     * uv_write's completion: that goes through the loop and re-arms the
     * descriptor in epoll, one more system call for every reply (libuv
     * 1.44). uv_try_write refuses while writes are queued, so the order of
     * replies holds; the rest of a partial write is queued as before. */
    int n = uv_try_write((uv_stream_t *)&s->pipe, &w->buf, 1);
    if (n == (int)w->buf.len) {
        free(w);
        return 0;
    }
    if (n > 0) {
        w->buf.base += n;
        w->buf.len -= (unsigned)n;
    }
    int rc = uv_write(&w->req, (uv_stream_t *)&s->pipe, &w->buf, 1, on_write);
    if (rc < 0) {
        free(w);
        log_msg("client %llu: cannot write: %s", (unsigned long long)s->id, uv_strerror(rc));
        conn_close_deferred(s);
        return rc == UV_ENOMEM ? -ENOMEM : -EPIPE;
    }
    return 0;
}
