/* server.c - see server.h. */
#include "server.h"

#include "dispatch.h"
#include "log.h"
#include "notify.h"
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Unread reply bytes a connection may leave queued before a new request. */
#define SERVER_UNREAD_MAX ((size_t)1 << 20)
/* How long a connection closed for a protocol error may take to read its
 * last reply. */
#define SERVER_DRAIN_MS 5000

struct wreq {
    uv_write_t req;
    struct session *s;
    uv_buf_t buf;
    uint8_t data[];
};

static void process(struct session *s);

/* ---- closing ---------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    if (--s->open_handles > 0)
        return;
    frame_reader_free(&s->rd);
    free(s);
}

void server_close_session(struct session *s)
{
    if (s->closing)
        return;
    s->closing = true;
    struct server *srv = s->srv;
    if (!s->refused) {
        struct session_released rel;
        session_release_all(s, &rel);
        log_msg("client %llu (pid %d) gone: released %u graph%s, %u buffer hold%s, %llu bytes",
                (unsigned long long)s->id, (int)s->pid, rel.graphs, rel.graphs == 1 ? "" : "s",
                rel.holds, rel.holds == 1 ? "" : "s", (unsigned long long)rel.bytes);
        srv->n_sessions--;
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    uv_close((uv_handle_t *)&s->pipe, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->hello_timer, on_handle_closed);
}

static void on_deferred_close(uv_timer_t *t)
{
    server_close_session(t->data);
}

/* Close from a call stack that may be inside the registry: later. */
static void defer_close(struct session *s)
{
    if (s->closing)
        return;
    s->busy = true; /* no more frames */
    s->close_pending = true; /* and no resume either */
    uv_timer_start(&s->timer, on_deferred_close, 0, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    server_close_session(req->data);
}

void server_close_after_writes(struct session *s)
{
    if (s->closing || s->draining)
        return;
    s->draining = true;
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->pipe);
        s->reading = false;
    }
    s->shutdown_req.data = s;
    if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->pipe, on_shutdown) < 0) {
        defer_close(s);
        return;
    }
    /* A peer that reads nothing must not keep its resources: bounded wait. */
    uv_timer_start(&s->timer, on_deferred_close, SERVER_DRAIN_MS, 0);
}

/* ---- writing ---------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct session *s = w->s;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !s->closing) {
        log_msg("client %llu: write failed: %s", (unsigned long long)s->id, uv_strerror(status));
        server_close_session(s);
    }
}

static struct wreq *encode(const Orion__Response *resp)
{
    size_t n = orion__response__get_packed_size(resp);
    if (n > UINT32_MAX)
        return NULL;
    struct wreq *w = malloc(sizeof(*w) + FRAME_HEADER_BYTES + n);
    if (w == NULL)
        return NULL;
    frame_put_header(w->data, (uint32_t)n);
    orion__response__pack(resp, w->data + FRAME_HEADER_BYTES);
    w->buf = uv_buf_init((char *)w->data, (unsigned)(FRAME_HEADER_BYTES + n));
    return w;
}

static int queue_write(struct session *s, struct wreq *w)
{
    w->s = s;
    int rc = uv_write(&w->req, (uv_stream_t *)&s->pipe, &w->buf, 1, on_write);
    if (rc < 0) {
        free(w);
        log_msg("client %llu: cannot write: %s", (unsigned long long)s->id, uv_strerror(rc));
        defer_close(s);
        return rc == UV_ENOMEM ? -ENOMEM : -EPIPE;
    }
    return 0;
}

int server_reply(struct session *s, const Orion__Response *resp)
{
    if (s->closing)
        return -EPIPE;
    struct wreq *w = encode(resp);
    if (w == NULL) {
        log_msg("client %llu: reply too large or out of memory", (unsigned long long)s->id);
        defer_close(s);
        return -ENOMEM;
    }
    return queue_write(s, w);
}

int server_reply_error(struct session *s, uint64_t request_id, int code, const char *fmt, ...)
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
    return server_reply(s, &resp);
}

int server_reply_with_fd(struct session *s, const Orion__Response *resp, int fd)
{
    if (s->closing)
        return -EPIPE;
    int sock;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) != 0 ||
        uv_fileno((uv_handle_t *)&s->pipe, &sock) < 0) {
        log_msg("client %llu: cannot pass the arena behind queued bytes; closing",
                (unsigned long long)s->id);
        defer_close(s);
        return -EAGAIN;
    }
    struct wreq *w = encode(resp);
    if (w == NULL) {
        defer_close(s);
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
        defer_close(s);
        return -e;
    }
    if ((size_t)n == w->buf.len) {
        free(w);
        return 0;
    }
    /* The descriptor went with the first byte; the rest is plain data. */
    w->buf.base += n;
    w->buf.len -= (size_t)n;
    return queue_write(s, w);
}

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
    if (n == 0 || s->closing)
        return;
    if (n < 0) {
        if (n != UV_EOF)
            log_msg("client %llu: read failed: %s", (unsigned long long)s->id,
                    uv_strerror((int)n));
        server_close_session(s);
        return;
    }
    if (s->draining)
        return;
    if (frame_reader_feed(&s->rd, buf->base, (size_t)n) < 0) {
        log_msg("client %llu: out of memory buffering its request; closing",
                (unsigned long long)s->id);
        server_close_session(s);
        return;
    }
    if (s->busy) {
        /* Keep reading while a request is pending, so that a peer that dies
         * meanwhile is seen at once; but a peer that sends more than a frame
         * ahead is not the one-request-in-flight client the protocol knows. */
        if (s->rd.len - s->rd.pos > (size_t)s->srv->cfg->max_frame + FRAME_HEADER_BYTES) {
            log_msg("client %llu: sent more than a frame ahead while a request was pending; "
                    "closing", (unsigned long long)s->id);
            server_close_session(s);
        }
        return;
    }
    process(s);
}

static void process(struct session *s)
{
    while (!s->busy && !s->closing && !s->draining) {
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
            server_close_session(s);
            return;
        }
        /* Replies pile up in our memory when the peer does not read them. */
        if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) > SERVER_UNREAD_MAX) {
            log_msg("client %llu: does not read its replies (%zu bytes queued); closing",
                    (unsigned long long)s->id,
                    uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe));
            server_close_session(s);
            return;
        }
        if (len > DISPATCH_POOL_FRAME && dispatch_frame_async(s, msg, len) == 0)
            continue; /* s is busy until the pool is done with it */
        Orion__Request *req;
        uint64_t rid;
        char why[256];
        int rc = dispatch_unpack(msg, len, &s->srv->limits, &req, &rid, why, sizeof(why));
        if (rc == -E2BIG) {
            log_msg("client %llu: request refused: %s", (unsigned long long)s->id, why);
            server_reply_error(s, rid, rc, "%s", why);
            if (!s->hello_done)
                server_close_after_writes(s);
            continue;
        }
        if (rc < 0) {
            log_msg("client %llu: malformed request of %zu bytes; closing",
                    (unsigned long long)s->id, len);
            server_reply_error(s, 0, -EPROTO, "malformed request: %zu bytes that are not an "
                               "orion.Request", len);
            server_close_after_writes(s);
            return;
        }
        dispatch_request(s, req);
    }
    if (!s->closing && !s->draining && !s->reading) {
        if (uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read) == 0)
            s->reading = true;
        else
            defer_close(s);
    }
}

static void on_resume(uv_timer_t *t)
{
    process(t->data);
}

void server_resume(struct session *s)
{
    /* The timer is the drain deadline or the deferred close then: keep it. */
    if (s->closing || s->draining || s->close_pending)
        return;
    s->busy = false;
    uv_timer_start(&s->timer, on_resume, 0, 0);
}

/* ---- accepting -------------------------------------------------------- */

/* Seconds of a millisecond count, for messages: "10", "0.3". */
static double seconds(uint64_t ms)
{
    return (double)ms / 1000.0;
}

static void on_hello_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->hello_done || s->closing || s->draining || s->close_pending)
        return;
    double limit = seconds(s->srv->cfg->hello_timeout_ms);
    log_msg("client %llu (pid %d): no hello within %g s; closing", (unsigned long long)s->id,
            (int)s->pid, limit);
    if (s->busy) {
        /* Its first frame is still being decoded on the pool: no reply can
         * go before that one's. */
        server_close_session(s);
        return;
    }
    server_reply_error(s, 0, -ETIMEDOUT, "no hello within %g s", limit);
    server_close_after_writes(s);
}

/* One connection too many: say why, if it can be said without waiting, and
 * close. It holds a descriptor only until the reply is written, and is not
 * counted as a client. */
static void refuse(struct session *s)
{
    struct server *srv = s->srv;
    s->refused = true;
    log_msg("client %llu (pid %d, uid %d) refused: too many clients (%u connected, the limit "
            "is %u)", (unsigned long long)s->id, (int)s->pid, (int)s->uid, srv->n_sessions,
            srv->cfg->max_clients);
    server_reply_error(s, 0, -EBUSY, "too many clients: %u connected, the limit is %u",
                       srv->n_sessions, srv->cfg->max_clients);
    server_close_after_writes(s);
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
    s->open_handles = 1;
    if (uv_accept(listener, (uv_stream_t *)&s->pipe) < 0) {
        uv_close((uv_handle_t *)&s->pipe, on_handle_closed);
        return;
    }
    uv_timer_init(srv->loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(srv->loop, &s->hello_timer);
    s->hello_timer.data = s;
    s->open_handles = 3;
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
    if (srv->n_sessions >= srv->cfg->max_clients) {
        refuse(s);
        return;
    }
    srv->n_sessions++;
    log_msg("client %llu (pid %d, uid %d) connected", (unsigned long long)s->id, (int)s->pid,
            (int)s->uid);
    uv_update_time(srv->loop); /* the deadline counts from the accept */
    uv_timer_start(&s->hello_timer, on_hello_timeout, srv->cfg->hello_timeout_ms, 0);
    process(s); /* starts reading */
}

/* ---- the listening socket --------------------------------------------- */

static int listen_fds_from_systemd(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    if (pid == NULL || fds == NULL)
        return 0;
    char *end;
    long p = strtol(pid, &end, 10);
    if (*end != '\0' || p != (long)getpid())
        return 0;
    long n = strtol(fds, &end, 10);
    if (*end != '\0' || n < 1)
        return 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

static int make_parent_dir(const char *path, char *err, size_t err_len)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0) {
        if (errno == EEXIST)
            return 0;
        snprintf(err, err_len, "cannot create %s: %s", dir, strerror(errno));
        return -errno;
    }
    chmod(dir, 0755); /* the umask must not lock clients out of the directory */
    log_msg("created directory %s", dir);
    return 0;
}

/* libuv reports a missing directory as EACCES: say what is wrong. */
static int check_parent_dir(const char *path, char *err, size_t err_len)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot use socket %s: directory %s: %s", path, dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "cannot use socket %s: %s is not a directory", path, dir);
        return -ENOTDIR;
    }
    return 0;
}

/* A socket file at path: stale (nobody accepts) -> remove; live -> refuse. */
static int clear_stale_socket(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket: %s", strerror(errno));
        return -errno;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, err_len, "socket %s in use by a running daemon", path);
        return -EADDRINUSE;
    }
    if (e == ENOENT)
        return 0; /* removed meanwhile */
    if (e != ECONNREFUSED) {
        snprintf(err, err_len, "cannot probe socket %s: %s", path, strerror(e));
        return -e;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, err_len, "cannot remove stale socket %s: %s", path, strerror(errno));
        return -errno;
    }
    log_msg("removed stale socket %s", path);
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    log_msg("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_send("STOPPING=1");
    server_stop(srv);
}

void server_attach(struct server *srv, struct arena *arena, buddy *b, struct registry *reg)
{
    srv->arena = arena;
    srv->buddy = b;
    srv->reg = reg;
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

    uv_pipe_init(loop, &srv->listener, 0);
    srv->listener.data = srv;
    srv->listening = true; /* the handle is open: server_stop closes it */
    if (listen_fds_from_systemd() >= 1) {
        if ((rc = uv_pipe_open(&srv->listener, 3)) < 0) {
            snprintf(err, err_len, "cannot use the socket systemd passed (fd 3): %s",
                     uv_strerror(rc));
            return rc;
        }
        srv->activated = true;
    } else {
        const char *path = cfg->socket_path;
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, err_len, "socket path %s is too long (at most %zu bytes)", path,
                     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -ENAMETOOLONG;
        }
        if (cfg->socket_is_default && (rc = make_parent_dir(path, err, err_len)) < 0)
            return rc;
        if ((rc = check_parent_dir(path, err, err_len)) < 0)
            return rc;
        if ((rc = clear_stale_socket(path, err, err_len)) < 0) {
            if (err[0] == '\0')
                snprintf(err, err_len, "cannot use socket %s: %s", path, strerror(-rc));
            return rc;
        }
        /* Narrow the umask around bind so the file is never wider than asked. */
        mode_t old = umask(0177);
        rc = uv_pipe_bind(&srv->listener, path);
        umask(old);
        if (rc < 0) {
            snprintf(err, err_len, "cannot bind socket %s: %s", path, uv_strerror(rc));
            return rc;
        }
        srv->bound = true;
        if (chmod(path, cfg->socket_mode) < 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot set mode %04o on %s: %s", (unsigned)cfg->socket_mode,
                     path, strerror(errno));
            return rc;
        }
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
        server_close_session(srv->sessions);
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
    if (srv->bound && !srv->activated)
        unlink(srv->cfg->socket_path);
    srv->bound = false;
}
