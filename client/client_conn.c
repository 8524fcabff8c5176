/* client_conn.c - the connection: connect, handshake, arena mapping,
 * one-request-at-a-time request/reply, stats, close. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_internal.h"
#include "fdpass.h"
#include "frame.h"

/* A daemon that accepts but does not answer the handshake within this time
 * is reported rather than waited on for ever. Later calls have no client-side
 * timeout: waits are timed by the daemon. */
#define HANDSHAKE_TIMEOUT_S 30

/* Room for a few descriptors: a reply carrying more than one is refused, but
 * every descriptor received must be closed, so receive them all. */
#define MAX_FDS 8

/* The calling thread's message slot on c, or NULL if it has none yet. */
static struct client_msg *msg_find(const orion_client *c)
{
    pthread_t self = pthread_self();
    struct client_msg *m = atomic_load_explicit((_Atomic(struct client_msg *) *)&c->msgs,
                                                memory_order_acquire);
    while (m != NULL && !pthread_equal(m->thread, self))
        m = m->next;
    return m;
}

/* The calling thread's slot, made and pushed (lock-free) on first use. NULL
 * without memory. */
static struct client_msg *msg_get(orion_client *c)
{
    struct client_msg *m = msg_find(c);
    if (m != NULL)
        return m;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return NULL;
    m->thread = pthread_self();
    struct client_msg *head = atomic_load_explicit(&c->msgs, memory_order_relaxed);
    do
        m->next = head;
    while (!atomic_compare_exchange_weak_explicit(&c->msgs, &head, m, memory_order_release,
                                                  memory_order_relaxed));
    return m;
}

int client_fail(orion_client *c, int code, const char *fmt, ...)
{
    struct client_msg *m = msg_get(c);
    if (m == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof(m->text), fmt, ap);
    va_end(ap);
    return code;
}

void client_clear_error(orion_client *c)
{
    struct client_msg *m = msg_find(c);
    if (m != NULL)
        m->text[0] = '\0';
}

int client_check_usable(orion_client *c)
{
    if (c == NULL)
        return -EINVAL;
    /* Checked before the lock: a fork while another thread held it would
     * leave the child's copy locked for ever. */
    if (getpid() != c->pid)
        return client_fail(c, -ECHILD,
                           "this connection belongs to process %ld: connect again in the child",
                           (long)c->pid);
    return 0;
}

bool client_range_ok(const orion_client *c, uint64_t off, uint64_t bytes)
{
    return off <= c->arena_bytes && bytes <= c->arena_bytes - off;
}

int client_check_name(orion_client *c, const char *name)
{
    if (name == NULL)
        return client_fail(c, -EINVAL, "buffer name is NULL");
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return client_fail(c, -EINVAL, "buffer name must be 1-255 bytes, not %zu", len);
    return 0;
}

static void mark_broken_locked(orion_client *c)
{
    if (!c->broken && c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    c->broken = true;
}

void client_mark_broken(orion_client *c)
{
    pthread_mutex_lock(&c->lock);
    mark_broken_locked(c);
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

/* Read exactly len bytes. Descriptors passed as SCM_RIGHTS are appended to
 * fds (up to MAX_FDS; any beyond are closed and still counted in *n_fds).
 * Returns 0, -EPIPE at end of stream, -ETIMEDOUT when SO_RCVTIMEO expires,
 * -EPROTO if ancillary data was truncated, or another -errno. */
static int recv_exact(int fd, void *buf, size_t len, int *fds, size_t *n_fds)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = fdpass_recv(fd, (char *)buf + got, len - got, fds, MAX_FDS, n_fds);
        if (r == -EAGAIN)
            return -ETIMEDOUT;
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -EPIPE;
        got += (size_t)r;
    }
    return 0;
}

static void close_fds(int *fds, size_t n_fds)
{
    for (size_t i = 0; i < n_fds && i < MAX_FDS; i++)
        close(fds[i]);
}

/* A transport failure: the stream's position is unknown, so the connection
 * is finished. Say so in words a user can act on. */
static int transport_fail(orion_client *c, int rc, const char *when)
{
    mark_broken_locked(c);
    if (rc == -EPIPE || rc == -ECONNRESET)
        return client_fail(c, -EPIPE, "orionrtd at %s closed the connection %s", c->path, when);
    if (rc == -ETIMEDOUT)
        return client_fail(c, -ETIMEDOUT, "orionrtd at %s did not answer within %d s %s",
                           c->path, HANDSHAKE_TIMEOUT_S, when);
    if (rc == -EPROTO)
        return client_fail(c, -EPROTO, "orionrtd at %s sent truncated ancillary data %s",
                           c->path, when);
    return client_fail(c, rc, "connection to orionrtd at %s failed %s: %s", c->path, when,
                       strerror(-rc));
}

/* Read one reply frame and decode it; c->lock held. Returns 0 and *out, or
 * a negative errno with the message set (the connection is then broken). */
static int recv_reply_locked(orion_client *c, Orion__Response **out, int *fds, size_t *n_fds)
{
    uint8_t hdr[FRAME_HEADER_BYTES];
    int rc = recv_exact(c->fd, hdr, sizeof(hdr), fds, n_fds);
    if (rc < 0)
        return transport_fail(c, rc, "before replying");
    uint32_t len = frame_get_header(hdr);
    if (len == 0 || len > CLIENT_MAX_REPLY) {
        mark_broken_locked(c);
        return client_fail(c, -EPROTO, "orionrtd sent a reply frame of %u bytes (limit %u)",
                           len, CLIENT_MAX_REPLY);
    }
    uint8_t *rbuf = malloc(len);
    if (rbuf == NULL) {
        mark_broken_locked(c);
        return client_fail(c, -ENOMEM, "out of memory for a %u-byte reply", len);
    }
    rc = recv_exact(c->fd, rbuf, len, fds, n_fds);
    if (rc < 0) {
        free(rbuf);
        return transport_fail(c, rc, "in the middle of a reply");
    }
    *out = orion__response__unpack(NULL, len, rbuf);
    free(rbuf);
    if (*out == NULL) {
        mark_broken_locked(c);
        return client_fail(c, -EPROTO, "orionrtd sent a %u-byte reply that is not a Response",
                           len);
    }
    return 0;
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
    mark_broken_locked(c);
    return client_fail(c, code, "orionrtd at %s closed the connection: %s", c->path,
                       resp->error->message && resp->error->message[0] ? resp->error->message
                                                                       : orion_strerror(code));
}

/* The round trip; c->lock held. fds/n_fds receive any passed descriptors
 * (the caller closes them). */
static int call_locked(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                       Orion__Response **out, int *fds, size_t *n_fds)
{
    int rc;
    *out = NULL;
    if (c->broken)
        return client_fail(c, -EPIPE,
                           "the connection to orionrtd at %s is broken by an earlier error: connect again",
                           c->path);

    req->request_id = ++c->next_id;
    size_t n = orion__request__get_packed_size(req);
    uint64_t limit = c->max_frame ? c->max_frame : FRAME_MAX_DEFAULT;
    if (n > limit || n > UINT32_MAX)
        return client_fail(c, -E2BIG,
                           "request of %zu bytes is above orionrtd's frame limit of %llu bytes",
                           n, (unsigned long long)limit);
    uint8_t *body = malloc(n ? n : 1);
    if (body == NULL)
        return client_fail(c, -ENOMEM, "out of memory packing a %zu-byte request", n);
    orion__request__pack(req, body);
    uint8_t hdr[FRAME_HEADER_BYTES];
    frame_put_header(hdr, (uint32_t)n);
    struct iovec iov[2] = { { hdr, sizeof(hdr) }, { body, n } };
    rc = send_all(c->fd, iov, 2);
    free(body);
    Orion__Response *resp;
    if (rc < 0) {
        /* A daemon that closed the connection may have said why first (too
         * many clients): its reply is still there to read. */
        if ((rc == -EPIPE || rc == -ECONNRESET) &&
            recv_reply_locked(c, &resp, fds, n_fds) == 0) {
            int why = connection_error(c, resp);
            orion__response__free_unpacked(resp, NULL);
            if (why < 0)
                return why;
        }
        return transport_fail(c, rc, "while sending a request");
    }

    if ((rc = recv_reply_locked(c, &resp, fds, n_fds)) < 0)
        return rc;
    if (resp->request_id != req->request_id) {
        if ((rc = connection_error(c, resp)) == 0)
            rc = client_fail(c, -EPROTO, "orionrtd answered request %llu when %llu was asked",
                             (unsigned long long)resp->request_id,
                             (unsigned long long)req->request_id);
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
    mark_broken_locked(c);
    orion__response__free_unpacked(resp, NULL);
    return rc;
}

int client_call(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                Orion__Response **out)
{
    int fds[MAX_FDS];
    size_t n_fds = 0;
    *out = NULL;
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    client_clear_error(c);
    rc = call_locked(c, req, want, out, fds, &n_fds);
    pthread_mutex_unlock(&c->lock);
    /* Only the handshake passes a descriptor; one on any other reply is
     * closed so that it cannot leak. */
    close_fds(fds, n_fds);
    return rc;
}

/* The handshake: Hello out, HelloReply with exactly one descriptor back,
 * then map the arena from it. */
static int handshake(orion_client *c)
{
    int fds[MAX_FDS];
    size_t n_fds = 0;
    int rc;
    Orion__Hello hello = ORION__HELLO__INIT;
    hello.protocol_version = ORION_PROTOCOL_VERSION;
    hello.client_name = program_invocation_short_name;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_HELLO;
    req.hello = &hello;
    Orion__Response *resp = NULL;

    rc = call_locked(c, &req, ORION__RESPONSE__BODY_HELLO, &resp, fds, &n_fds);
    if (rc < 0)
        goto err_close_fds;
    const Orion__HelloReply *hr = resp->hello;
    if (hr->protocol_version != ORION_PROTOCOL_VERSION) {
        rc = client_fail(c, -EPROTONOSUPPORT,
                         "orionrtd at %s speaks protocol %u, this library %u", c->path,
                         hr->protocol_version, ORION_PROTOCOL_VERSION);
        goto err_free_resp;
    }
    if (n_fds != 1) {
        rc = client_fail(c, -EPROTO,
                         "orionrtd's handshake reply carried %zu descriptors, not the arena's one",
                         n_fds);
        goto err_free_resp;
    }
    if (hr->arena_bytes == 0 || hr->arena_bytes > (uint64_t)SIZE_MAX) {
        rc = client_fail(c, -EPROTO, "orionrtd announced an arena of %llu bytes",
                         (unsigned long long)hr->arena_bytes);
        goto err_free_resp;
    }
    struct stat st;
    if (fstat(fds[0], &st) < 0) {
        rc = client_fail(c, -errno, "fstat of the arena descriptor: %s", strerror(errno));
        goto err_free_resp;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size < hr->arena_bytes) {
        rc = client_fail(c, -EPROTO,
                         "orionrtd announced an arena of %llu bytes but passed an object of %lld",
                         (unsigned long long)hr->arena_bytes, (long long)st.st_size);
        goto err_free_resp;
    }
    void *base = mmap(NULL, (size_t)hr->arena_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fds[0], 0);
    if (base == MAP_FAILED) {
        rc = client_fail(c, -errno, "cannot map the %llu-byte arena: %s",
                         (unsigned long long)hr->arena_bytes, strerror(errno));
        goto err_free_resp;
    }
    c->base = base;
    c->arena_bytes = hr->arena_bytes;
    c->max_frame = hr->max_frame;
    rc = 0;

err_free_resp:
    orion__response__free_unpacked(resp, NULL);
err_close_fds:
    /* The mapping keeps the object alive; the descriptor is not needed. */
    close_fds(fds, n_fds);
    return rc;
}

/* No thread may be in a call on c any more. */
static void free_msgs(orion_client *c)
{
    struct client_msg *m = atomic_load_explicit(&c->msgs, memory_order_acquire);
    while (m != NULL) {
        struct client_msg *next = m->next;
        free(m);
        m = next;
    }
    atomic_store_explicit(&c->msgs, NULL, memory_order_relaxed);
}

static int set_recv_timeout(int fd, int seconds)
{
    struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

int orion_client_connect(const char *socket_path, orion_client **out, char *err, size_t err_len)
{
    int rc;
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (out == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "orion_client_connect: out is NULL");
        return -EINVAL;
    }
    *out = NULL;
    if (socket_path == NULL)
        socket_path = orion_default_socket_path();

    orion_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    atomic_init(&c->msgs, NULL);
    c->fd = -1;
    c->pid = getpid();
    c->path = strdup(socket_path);
    if (c->path == NULL) {
        rc = client_fail(c, -ENOMEM, "out of memory");
        goto err_free;
    }
    rc = pthread_mutex_init(&c->lock, NULL);
    if (rc != 0) {
        rc = client_fail(c, -rc, "cannot create the client's mutex: %s", strerror(rc));
        goto err_free;
    }

    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t plen = strlen(socket_path);
    if (plen == 0) {
        rc = client_fail(c, -EINVAL, "socket path is empty");
        goto err_destroy_lock;
    }
    if (plen >= sizeof(sa.sun_path)) {
        rc = client_fail(c, -ENAMETOOLONG, "socket path %s is %zu bytes; at most %zu fit",
                         socket_path, plen, sizeof(sa.sun_path) - 1);
        goto err_destroy_lock;
    }
    memcpy(sa.sun_path, socket_path, plen + 1);

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = client_fail(c, -errno, "cannot create a Unix socket: %s", strerror(errno));
        goto err_destroy_lock;
    }
    do {
        rc = connect(c->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    } while (rc == -EINTR);
    if (rc == -EISCONN)
        rc = 0;
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        client_fail(c, rc, "no orionrtd at %s: is it running?", socket_path);
        goto err_close_fd;
    }
    if (rc < 0) {
        client_fail(c, rc, "cannot connect to orionrtd at %s: %s", socket_path, strerror(-rc));
        goto err_close_fd;
    }

    char why[CLIENT_ERR_LEN];
    rc = client_check_peer(c->fd, socket_path, why, sizeof(why));
    if (rc < 0) {
        client_fail(c, rc, "%s", why);
        goto err_close_fd;
    }
    rc = set_recv_timeout(c->fd, HANDSHAKE_TIMEOUT_S);
    if (rc < 0) {
        client_fail(c, rc, "cannot set the handshake timeout: %s", strerror(-rc));
        goto err_close_fd;
    }
    rc = handshake(c);
    if (rc < 0)
        goto err_close_fd;
    rc = set_recv_timeout(c->fd, 0);
    if (rc < 0) {
        client_fail(c, rc, "cannot clear the handshake timeout: %s", strerror(-rc));
        goto err_unmap;
    }
    client_clear_error(c);
    *out = c;
    return 0;

err_unmap:
    munmap(c->base, (size_t)c->arena_bytes);
err_close_fd:
    close(c->fd);
err_destroy_lock:
    pthread_mutex_destroy(&c->lock);
err_free:
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s", orion_client_error(c));
    free_msgs(c);
    free(c->path);
    free(c);
    return rc;
}

void orion_client_close(orion_client *c)
{
    if (c == NULL)
        return;
    bool child = getpid() != c->pid;
    if (c->base != NULL)
        munmap(c->base, (size_t)c->arena_bytes);
    /* close() drops only this process's reference to the socket: in a forked
     * child the parent's connection stays up (shutdown() would end it). In
     * the owner, shutdown() ends the connection even while children forked
     * since hold copies of the descriptor, so the daemon releases what it
     * held now rather than when the last child exits. */
    if (c->fd >= 0) {
        if (!child)
            shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
    }
    /* A child's copy of the mutex may have been locked by a thread that does
     * not exist in the child; leave it alone. */
    if (!child)
        pthread_mutex_destroy(&c->lock);
    free_msgs(c);
    free(c->path);
    free(c);
}

const char *orion_client_error(const orion_client *c)
{
    if (c == NULL)
        return "no client (NULL)";
    const struct client_msg *m = msg_find(c);
    return m != NULL ? m->text : "";
}

void *orion_client_arena_base(const orion_client *c)
{
    return c != NULL ? c->base : NULL;
}

uint64_t orion_client_arena_bytes(const orion_client *c)
{
    return c != NULL ? c->arena_bytes : 0;
}
