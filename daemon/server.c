/* server.c - the listening socket, accepting connections, reading frames. */
#include "server.h"

#include "conn.h"
#include "log.h"
#include "notify.h"
#include "reply.h"
#include "session.h"
#include "sockfile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void process(struct session *s);
static void after_input(struct session *s);

/* ---- reading ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct session *s = h->data;
    /* One buffer for the whole daemon: a read is consumed before the next. */
    *buf = uv_buf_init(s->srv->readbuf, sizeof(s->srv->readbuf));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct session *s = st->data;
    if (n == 0 || session_has(s, SESSION_CLOSING))
        return;
    if (n < 0) {
        if (n != UV_EOF)
            log_msg("client %llu: read failed: %s", (unsigned long long)s->id,
                    uv_strerror((int)n));
        conn_close(s);
        return;
    }
    if (session_has(s, SESSION_DRAINING))
        return;
    if (frame_reader_feed(&s->rd, buf->base, (size_t)n) < 0) {
        log_msg("client %llu: out of memory buffering its request; closing",
                (unsigned long long)s->id);
        conn_close(s);
        return;
    }
    struct server *srv = s->srv;
    after_input(s);
    if (srv->pending_bytes > srv->cfg->max_pending) {
        log_msg("client %llu: %llu bytes of partial requests are buffered for all clients, the "
                "limit is %llu; closing", (unsigned long long)s->id,
                (unsigned long long)srv->pending_bytes, (unsigned long long)srv->cfg->max_pending);
        if (!session_has(s, SESSION_BUSY))
            reply_error(s, 0, -ENOBUFS, "the daemon holds %llu bytes of unfinished requests, the "
                        "limit is %llu (--max-pending): try again later",
                        (unsigned long long)srv->pending_bytes,
                        (unsigned long long)srv->cfg->max_pending);
        conn_close_after_writes(s);
        return;
    }
    if (session_has(s, SESSION_BUSY)) {
        /* Keep reading while a request is pending, so that a peer that dies
         * meanwhile is seen at once; but a peer that sends more than a frame
         * ahead is not the one-request-in-flight client the protocol knows. */
        if (s->rd.len - s->rd.pos > (size_t)s->srv->cfg->max_frame + FRAME_HEADER_BYTES) {
            log_msg("client %llu: sent more than a frame ahead while a request was pending; "
                    "closing", (unsigned long long)s->id);
            conn_close(s);
        }
        return;
    }
    process(s);
}

/* Does rd hold the start of a frame that has not fully arrived? */
static bool partial_frame(const struct frame_reader *rd)
{
    size_t pos = rd->pos;
    while (pos < rd->len) {
        if (rd->len - pos < FRAME_HEADER_BYTES)
            return true;
        uint64_t n = frame_get_header(rd->buf + pos);
        if (rd->len - pos - FRAME_HEADER_BYTES < n)
            return true;
        pos += FRAME_HEADER_BYTES + n;
    }
    return false;
}

static void on_io_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (session_leaving(s))
        return;
    double limit = (double)s->srv->cfg->io_timeout_ms / 1000.0;
    size_t have = s->rd.len - s->rd.pos;
    log_msg("client %llu (pid %d): a request frame is unfinished after %g s (%zu bytes); "
            "closing", (unsigned long long)s->id, (int)s->pid, limit, have);
    if (session_has(s, SESSION_BUSY)) {
        conn_close(s); /* no reply may go before the pending one's */
        return;
    }
    reply_error(s, 0, -ETIMEDOUT, "request frame not complete after %g s: %zu bytes arrived "
                "(--io-timeout)", limit, have);
    conn_close_after_writes(s);
}

/* After input was fed or consumed: count it in the daemon's pending bytes,
 * and run the I/O deadline while a frame is begun but not whole. */
static void after_input(struct session *s)
{
    struct server *srv = s->srv;
    size_t now = s->rd.len - s->rd.pos;
    srv->pending_bytes = srv->pending_bytes - s->buffered + now;
    s->buffered = now;
    if (session_has(s, SESSION_CLOSING))
        return;
    if (!partial_frame(&s->rd)) {
        uv_timer_stop(&s->io_timer);
    } else if (!uv_is_active((uv_handle_t *)&s->io_timer)) {
        uv_update_time(srv->loop); /* the deadline counts from now */
        uv_timer_start(&s->io_timer, on_io_timeout, srv->cfg->io_timeout_ms, 0);
    }
}

static void process(struct session *s)
{
    while (!session_has(s, SESSION_BUSY) && !session_has(s, SESSION_CLOSING | SESSION_DRAINING)) {
        const uint8_t *msg;
        size_t len;
        int r = frame_reader_next(&s->rd, &msg, &len);
        if (r == 0) {
            frame_reader_trim(&s->rd);
            break;
        }
        if (r < 0) {
            uint32_t bad = frame_get_header(s->rd.buf + s->rd.pos);
            log_msg("client %llu: frame of %u bytes (limit %u); closing",
                    (unsigned long long)s->id, bad, s->srv->cfg->max_frame);
            conn_close(s);
            return;
        }
        /* Replies pile up in our memory when the peer does not read them. */
        size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe);
        if (queued > CONN_UNREAD_MAX) {
            log_msg("client %llu: does not read its replies (%zu bytes queued); closing",
                    (unsigned long long)s->id, queued);
            conn_close(s);
            return;
        }
        s->srv->on_frame(s, msg, len);
        /* A large frame handed on (copied) must not stay buffered while its
         * request runs: the handler is done with msg. */
        frame_reader_trim(&s->rd);
    }
    if (!session_has(s, SESSION_CLOSING))
        after_input(s);
    if (!session_has(s, SESSION_CLOSING | SESSION_DRAINING | SESSION_READING)) {
        if (uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read) == 0)
            session_set(s, SESSION_READING);
        else
            conn_close_deferred(s);
    }
}

static void on_resume(uv_timer_t *t)
{
    process(t->data);
}

void server_resume(struct session *s)
{
    /* The timer is the drain deadline or the deferred close then: keep it. */
    if (session_leaving(s))
        return;
    session_clear(s, SESSION_BUSY);
    uv_timer_start(&s->timer, on_resume, 0, 0);
}

/* ---- accepting -------------------------------------------------------- */

static void on_hello_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (session_has(s, SESSION_HELLO) || session_leaving(s))
        return;
    double limit = (double)s->srv->cfg->hello_timeout_ms / 1000.0;
    log_msg("client %llu (pid %d): no hello within %g s; closing", (unsigned long long)s->id,
            (int)s->pid, limit);
    if (session_has(s, SESSION_BUSY)) {
        /* Its first frame is still being decoded on the pool: no reply can
         * go before that one's. */
        conn_close(s);
        return;
    }
    reply_error(s, 0, -ETIMEDOUT, "no hello within %g s", limit);
    conn_close_after_writes(s);
}

/* One connection too many: say why (`why`, the reply's words), if it can be
 * said without waiting, and close. It holds a descriptor only until the
 * reply is written, and is not counted as a client. */
static void refuse(struct session *s, int code, const char *why)
{
    session_set(s, SESSION_REFUSED);
    log_msg("client %llu (pid %d, uid %d) refused: %s", (unsigned long long)s->id, (int)s->pid,
            (int)s->uid, why);
    reply_error(s, 0, code, "%s", why);
    conn_close_after_writes(s);
}

static void on_peer_exit(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct session *s = h->data;
    log_msg("client %llu: its process %d exited", (unsigned long long)s->id, (int)s->pid);
    conn_close(s);
}

/* Watch the peer process itself, so that its death releases what it held at
 * once even while children it forked keep the socket open. */
static void watch_peer(struct session *s)
{
    if (s->pid <= 0)
        return;
    int fd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    if (fd < 0)
        return; /* an old kernel, or it is gone already: EOF will tell */
    if (uv_poll_init(s->srv->loop, &s->pid_poll, fd) < 0) {
        close(fd);
        return;
    }
    s->pid_poll.data = s;
    s->pidfd = fd;
    s->open_handles++;
    uv_poll_start(&s->pid_poll, UV_READABLE, on_peer_exit);
}

static void on_accept_failed_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;
    if (status < 0) {
        log_msg("accept failed: %s", uv_strerror(status));
        return;
    }
    struct session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        log_msg("out of memory accepting a client");
        return;
    }
    s->srv = srv;
    uv_pipe_init(srv->loop, &s->pipe, 0);
    s->pipe.data = s;
    if (uv_accept(listener, (uv_stream_t *)&s->pipe) < 0) {
        uv_close((uv_handle_t *)&s->pipe, on_accept_failed_closed);
        return;
    }
    uv_timer_init(srv->loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(srv->loop, &s->hello_timer);
    s->hello_timer.data = s;
    uv_timer_init(srv->loop, &s->io_timer);
    s->io_timer.data = s;
    s->open_handles = 4;
    s->pidfd = -1;
    s->id = ++srv->next_session_id;
    s->pid = 0;
    s->uid = (uid_t)-1;
    int fd;
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (uv_fileno((uv_handle_t *)&s->pipe, &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
        s->pid = cred.pid;
        s->uid = cred.uid;
    }
    s->owner.id = s->id;
    frame_reader_init(&s->rd, srv->cfg->max_frame);
    /* Listed even when refused, so that server_stop closes it. */
    s->next = srv->sessions;
    if (srv->sessions != NULL)
        srv->sessions->prev = s;
    srv->sessions = s;
    char why[160];
    if (srv->n_sessions >= srv->cfg->max_clients) {
        snprintf(why, sizeof(why), "too many clients: %u connected, the limit is %u",
                 srv->n_sessions, srv->cfg->max_clients);
        refuse(s, -EBUSY, why);
        return;
    }
    struct uid_usage *u = uids_get(&srv->uids, s->uid);
    if (u == NULL) {
        refuse(s, -ENOMEM, "out of memory accepting a client");
        return;
    }
    if (u->conns >= srv->cfg->max_uid_clients) {
        snprintf(why, sizeof(why), "too many connections from uid %d: %u, the limit is %u "
                 "(--max-uid-clients)", (int)s->uid, u->conns, srv->cfg->max_uid_clients);
        refuse(s, -EBUSY, why);
        return;
    }
    u->conns++;
    s->user = u;
    s->owner.quota = &u->quota;
    s->owner.mem_limit = srv->cfg->client_memory;
    srv->n_sessions++;
    watch_peer(s);
    log_msg("client %llu (pid %d, uid %d) connected", (unsigned long long)s->id, (int)s->pid,
            (int)s->uid);
    uv_update_time(srv->loop); /* the deadline counts from the accept */
    uv_timer_start(&s->hello_timer, on_hello_timeout, srv->cfg->hello_timeout_ms, 0);
    process(s); /* starts reading */
}

/* ---- the listening socket --------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    log_msg("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_send("STOPPING=1");
    server_stop(srv);
}

void server_attach(struct server *srv, struct arena *arena, buddy *b, struct registry *reg,
                   server_frame_cb on_frame)
{
    srv->arena = arena;
    srv->buddy = b;
    srv->reg = reg;
    srv->on_frame = on_frame;
}

static int bind_socket(struct server *srv, const struct config *cfg, char *err, size_t err_len)
{
    const char *path = cfg->socket_path;
    gid_t gid = 0;
    int rc;
    /* An unknown group stops the daemon before it makes the socket. */
    if (cfg->socket_group != NULL && (rc = sockfile_group(cfg->socket_group, &gid, err,
                                                          err_len)) < 0)
        return rc;
    if ((rc = sockfile_prepare(path, cfg->socket_is_default, err, err_len)) < 0)
        return rc;
    int fd = sockfile_bind(path, err, err_len);
    if (fd < 0)
        return fd;
    if ((rc = uv_pipe_open(&srv->listener, fd)) < 0) {
        close(fd);
        unlink(path);
        snprintf(err, err_len, "cannot use socket %s: %s", path, uv_strerror(rc));
        return rc;
    }
    srv->bound = true;
    (void)sockfile_identify(path, &srv->sock_id); /* for a failed chmod's clean-up */
    /* The group first, while the mode is still 0600: no other group's member
     * can connect in between. */
    if (cfg->socket_group != NULL &&
        (rc = sockfile_chgrp(path, gid, cfg->socket_group, err, err_len)) < 0)
        return rc;
    if (chmod(path, cfg->socket_mode) < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot set mode %04o on %s: %s", (unsigned)cfg->socket_mode,
                 path, strerror(-rc));
        return rc;
    }
    if ((rc = sockfile_identify(path, &srv->sock_id)) < 0) {
        snprintf(err, err_len, "socket %s vanished after bind: %s", path, strerror(-rc));
        return rc;
    }
    return 0;
}

int server_start(struct server *srv, uv_loop_t *loop, const struct config *cfg,
                 char *err, size_t err_len)
{
    static const struct graph_limits deflim = GRAPH_LIMITS_DEFAULT;
    int rc;
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg;
    srv->limits = deflim;
    srv->limits.max_tensors = cfg->max_tensors;
    srv->uids.limit = cfg->uid_limit;

    uv_pipe_init(loop, &srv->listener, 0);
    srv->listener.data = srv;
    srv->listening = true; /* the handle is open: server_stop closes it */
    if (sockfile_systemd_fds() >= 1) {
        if ((rc = uv_pipe_open(&srv->listener, 3)) < 0) {
            snprintf(err, err_len, "cannot use the socket systemd passed (fd 3): %s",
                     uv_strerror(rc));
            return rc;
        }
        srv->activated = true;
        if (cfg->socket_group != NULL)
            log_msg("--socket-group %s ignored: systemd made the socket (its group is the "
                    "socket unit's SocketGroup=)", cfg->socket_group);
    } else if ((rc = bind_socket(srv, cfg, err, err_len)) < 0) {
        return rc;
    }
    if ((rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection)) < 0) {
        snprintf(err, err_len, "cannot listen on %s: %s",
                 srv->activated ? "the socket systemd passed" : cfg->socket_path,
                 uv_strerror(rc));
        return rc;
    }
    uv_signal_init(loop, &srv->sig_term);
    uv_signal_init(loop, &srv->sig_int);
    srv->sig_term.data = srv;
    srv->sig_int.data = srv;
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    return 0;
}

void server_stop(struct server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    if (srv->listening) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        srv->listening = false;
    }
    while (srv->sessions != NULL)
        conn_close(srv->sessions);
    if (srv->sig_term.loop != NULL) {
        uv_close((uv_handle_t *)&srv->sig_term, NULL);
        uv_close((uv_handle_t *)&srv->sig_int, NULL);
        /* Closing restored the default action: a second SIGTERM during the
         * clean-up must not kill the daemon with its socket and arena left. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
    }
}

void server_cleanup(struct server *srv)
{
    uids_free(&srv->uids);
    if (srv->bound && !srv->activated)
        sockfile_remove(srv->cfg->socket_path, &srv->sock_id);
    srv->bound = false;
}
