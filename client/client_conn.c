/* client_conn.c - the connection: connect, handshake, arena mapping,
 * close, and the checks the other files share. The request/reply stream is
 * client_call.c. */
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
#include "frame.h"

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

static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned client_fork_gen(void)
{
    return atomic_load_explicit(&fork_gen, memory_order_relaxed);
}

int client_check_usable(orion_client *c)
{
    if (c == NULL)
        return -EINVAL;
    /* Checked before the lock: a fork while another thread held it would
     * leave the child's copy locked for ever. */
    if (client_fork_gen() != c->fork_gen)
        return client_fail(c, -ECHILD,
                           "this connection belongs to process %ld: connect again in the child",
                           (long)c->pid);
    return 0;
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

/* The handshake: Hello out, HelloReply with exactly one descriptor back,
 * then map the arena from it. */
static int handshake(orion_client *c)
{
    int fds[CLIENT_MAX_FDS];
    size_t n_fds = 0;
    int rc;
    Orion__Hello hello = ORION__HELLO__INIT;
    hello.protocol_version = ORION_PROTOCOL_VERSION;
    hello.client_name = program_invocation_short_name;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_HELLO;
    req.hello = &hello;
    Orion__Response *resp = NULL;

    rc = client_call_locked(c, &req, ORION__RESPONSE__BODY_HELLO, &resp, fds, &n_fds);
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
    client_close_fds(fds, n_fds);
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
    (void)pthread_once(&atfork_once, register_atfork);
    c->pid = getpid();
    c->fork_gen = client_fork_gen();
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
    rc = set_recv_timeout(c->fd, CLIENT_HANDSHAKE_TIMEOUT_S);
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
    bool child = client_fork_gen() != c->fork_gen;
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
