/* test_client_unit.c - liborion-client without orionrtd.
 *
 * Two kinds of test: plain argument/builder/strerror/default-path checks, and
 * protocol checks against a scripted fake daemon (a thread in the test
 * process that listens on a Unix socket, answers the handshake with a memfd
 * as the arena, and answers later requests with whatever the test scripts:
 * good replies, garbage, wrong ids, wrong types, offsets outside the arena).
 * The real daemon is exercised by the integration suites. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "frame.h"
#include "orion.pb-c.h"

/* ---- the fake daemon ---------------------------------------------------- */

enum hello_mode {
    HELLO_OK,
    HELLO_NO_FD,
    HELLO_TWO_FDS,
    HELLO_SMALL_OBJECT,   /* announces more bytes than the object has */
    HELLO_BAD_VERSION,
    HELLO_ERROR,          /* Error{-EPROTONOSUPPORT, FAKE_HELLO_ERROR} */
    HELLO_BUSY_AT_ONCE,   /* Error{request 0, -EBUSY} on accept, then close */
    HELLO_BUSY_AFTER,     /* the same in answer to the hello */
};
#define FAKE_BUSY "too many clients: 2 connected, the limit is 2"
#define FAKE_HELLO_ERROR "protocol 1 is not 7: upgrade the daemon"
#define FAKE_ARENA (1u << 20)
#define CLIENT_ERR_LEN_TEST 512

struct fake;
/* Answer one request on fd; return < 0 to close the connection. */
typedef int (*fake_handler_cb)(struct fake *f, int fd, const Orion__Request *req);

struct fake {
    char dir[64];
    char path[108];
    int lfd;
    pthread_t thread;
    enum hello_mode hello;
    uint64_t max_frame;
    fake_handler_cb handle;
    int memfd;
    unsigned char *arena;          /* the fake's own mapping of the arena */
    atomic_int n_requests;         /* requests after the hello */
    /* What the handlers saw or sent, for the tests to compare against. */
    Orion__Request *last;          /* the last request, kept unpacked */
    uint8_t *last_raw;             /* and its bytes */
    size_t last_raw_len;
    uint64_t sent_offsets[16];
    atomic_int release_waited;     /* a release's sender waited for its Ok */
    uint64_t released;             /* the graph id of the last release */
    int reply_mode;                /* reply_register_odd's variant */
};

static int send_fd_frame(int fd, const uint8_t *body, size_t n, const int *fds, int n_fds)
{
    uint8_t hdr[FRAME_HEADER_BYTES];
    frame_put_header(hdr, (uint32_t)n);
    struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)body, n } };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
    memset(&ctl, 0, sizeof(ctl));
    if (n_fds > 0) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n_fds);
    }
    ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    return w == (ssize_t)(n + sizeof(hdr)) ? 0 : -EIO;
}

static int send_response(int fd, Orion__Response *r, const int *fds, int n_fds)
{
    size_t n = orion__response__get_packed_size(r);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return -ENOMEM;
    orion__response__pack(r, buf);
    int rc = send_fd_frame(fd, buf, n, fds, n_fds);
    free(buf);
    return rc;
}

static int recv_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        if (r <= 0)
            return -EPIPE;
        got += (size_t)r;
    }
    return 0;
}

/* One request frame, unpacked; its bytes go to *raw (freed by the caller)
 * when raw is not NULL. */
static Orion__Request *recv_request(int fd, uint8_t **raw, size_t *raw_len)
{
    uint8_t hdr[FRAME_HEADER_BYTES];
    if (recv_all(fd, hdr, sizeof(hdr)) < 0)
        return NULL;
    uint32_t n = frame_get_header(hdr);
    if (n == 0 || n > FRAME_MAX_DEFAULT)
        return NULL;
    uint8_t *buf = malloc(n);
    if (buf == NULL || recv_all(fd, buf, n) < 0) {
        free(buf);
        return NULL;
    }
    Orion__Request *req = orion__request__unpack(NULL, n, buf);
    if (raw != NULL) {
        *raw = buf;
        *raw_len = n;
    } else {
        free(buf);
    }
    return req;
}

static void answer_hello(struct fake *f, int fd, const Orion__Request *req)
{
    Orion__Response r = ORION__RESPONSE__INIT;
    Orion__HelloReply hr = ORION__HELLO_REPLY__INIT;
    Orion__Error e = ORION__ERROR__INIT;
    r.request_id = req->request_id;
    hr.protocol_version = f->hello == HELLO_BAD_VERSION ? 7 : ORION_PROTOCOL_VERSION;
    hr.arena_bytes = f->hello == HELLO_SMALL_OBJECT ? 2 * FAKE_ARENA : FAKE_ARENA;
    hr.max_frame = f->max_frame;
    if (f->hello == HELLO_ERROR) {
        e.code = -EPROTONOSUPPORT;
        e.message = FAKE_HELLO_ERROR;
        r.body_case = ORION__RESPONSE__BODY_ERROR;
        r.error = &e;
    } else {
        r.body_case = ORION__RESPONSE__BODY_HELLO;
        r.hello = &hr;
    }
    int fds[2] = { f->memfd, f->memfd };
    int n_fds = f->hello == HELLO_NO_FD || f->hello == HELLO_ERROR ? 0
                : f->hello == HELLO_TWO_FDS                        ? 2
                                                                   : 1;
    send_response(fd, &r, fds, n_fds);
}

/* What orionrtd does over --max-clients: a connection-level Error (request
 * 0), then the close. */
static void say_busy(int fd)
{
    Orion__Response r = ORION__RESPONSE__INIT;
    Orion__Error e = ORION__ERROR__INIT;
    e.code = -EBUSY;
    e.message = FAKE_BUSY;
    r.body_case = ORION__RESPONSE__BODY_ERROR;
    r.error = &e;
    send_response(fd, &r, NULL, 0);
    close(fd);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    if (f->hello == HELLO_BUSY_AT_ONCE) {
        say_busy(fd);
        return NULL;
    }
    Orion__Request *req = recv_request(fd, NULL, NULL);
    if (req != NULL && f->hello == HELLO_BUSY_AFTER) {
        orion__request__free_unpacked(req, NULL);
        say_busy(fd);
        return NULL;
    }
    if (req == NULL || req->body_case != ORION__REQUEST__BODY_HELLO) {
        if (req)
            orion__request__free_unpacked(req, NULL);
        close(fd);
        return NULL;
    }
    answer_hello(f, fd, req);
    orion__request__free_unpacked(req, NULL);
    uint8_t *raw;
    size_t raw_len;
    while ((req = recv_request(fd, &raw, &raw_len)) != NULL) {
        atomic_fetch_add(&f->n_requests, 1);
        /* Recorded before the reply goes out: the test reads it after. */
        if (f->last)
            orion__request__free_unpacked(f->last, NULL);
        f->last = req;
        free(f->last_raw);
        f->last_raw = raw;
        f->last_raw_len = raw_len;
        int rc = f->handle ? f->handle(f, fd, req) : -1;
        if (rc < 0)
            break;
    }
    close(fd);
    return NULL;
}

static void fake_start(struct fake *f, enum hello_mode hello, fake_handler_cb handle)
{
    memset(f, 0, sizeof(*f));
    f->hello = hello;
    f->handle = handle;
    f->max_frame = FRAME_MAX_DEFAULT;
    snprintf(f->dir, sizeof(f->dir), "/tmp/orion-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    f->memfd = memfd_create("orion-unit-arena", MFD_CLOEXEC);
    ck_assert_int_ge(f->memfd, 0);
    ck_assert_int_eq(ftruncate(f->memfd, FAKE_ARENA), 0);
    f->arena = mmap(NULL, FAKE_ARENA, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    ck_assert_ptr_ne(f->arena, MAP_FAILED);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(f->lfd, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(f->lfd, 4), 0);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Stop after the client has closed (the thread sees EOF and returns). */
static void fake_stop(struct fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    if (f->last)
        orion__request__free_unpacked(f->last, NULL);
    free(f->last_raw);
    munmap(f->arena, FAKE_ARENA);
    close(f->memfd);
    unlink(f->path);
    rmdir(f->dir);
}

static orion_client *fake_connect(struct fake *f)
{
    orion_client *c = NULL;
    char err[256];
    int rc = orion_client_connect(f->path, &c, err, sizeof(err));
    ck_assert_msg(rc == 0, "connect: %d %s", rc, err);
    return c;
}

/* ---- scripted replies --------------------------------------------------- */

static int reply_stats(struct fake *f, int fd, const Orion__Request *req)
{
    (void)f;
    Orion__Response r = ORION__RESPONSE__INIT;
    Orion__StatsReply s = ORION__STATS_REPLY__INIT;
    s.arena_bytes = FAKE_ARENA;
    s.used_bytes = 4096;
    s.free_bytes = FAKE_ARENA - 4096;
    s.largest_free_bytes = FAKE_ARENA / 2;
    s.fragmentation = 0.25;
    s.clients = 3;
    s.graphs = 5;
    s.buffers = 7;
    s.allocations = 11;
    r.request_id = req->request_id;
    r.body_case = ORION__RESPONSE__BODY_STATS;
    r.stats = &s;
    return send_response(fd, &r, NULL, 0);
}

static int reply_garbage(struct fake *f, int fd, const Orion__Request *req)
{
    (void)f;
    (void)req;
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x13 };
    return send_fd_frame(fd, junk, sizeof(junk), NULL, 0);
}

static int reply_wrong_id(struct fake *f, int fd, const Orion__Request *req)
{
    (void)f;
    Orion__Request shifted = *req;
    shifted.request_id = req->request_id + 100;
    return reply_stats(f, fd, &shifted);
}

static int reply_ok(struct fake *f, int fd, const Orion__Request *req)
{
    (void)f;
    Orion__Response r = ORION__RESPONSE__INIT;
    Orion__Ok ok = ORION__OK__INIT;
    r.request_id = req->request_id;
    r.body_case = ORION__RESPONSE__BODY_OK;
    r.ok = &ok;
    return send_response(fd, &r, NULL, 0);
}

#define FAKE_NOSPACE "arena full: 4096 bytes asked, 0 free"

/* An Error{code, message} for req. */
static int reply_error(int fd, const Orion__Request *req, int code, const char *message)
{
    Orion__Response r = ORION__RESPONSE__INIT;
    Orion__Error e = ORION__ERROR__INIT;
    e.code = code;
    e.message = (char *)message;
    r.request_id = req->request_id;
    r.body_case = ORION__RESPONSE__BODY_ERROR;
    r.error = &e;
    return send_response(fd, &r, NULL, 0);
}

/* The first request gets an Error, the rest get stats. */
static int reply_error_then_stats(struct fake *f, int fd, const Orion__Request *req)
{
    if (atomic_load(&f->n_requests) > 1)
        return reply_stats(f, fd, req);
    return reply_error(fd, req, -ENOSPC, FAKE_NOSPACE);
}

/* Place tensor i at 4096 * (i + 1) + 64 * id: offsets the client cannot
 * guess, recorded in f->sent_offsets. With `outside`, the last tensor lies
 * past the end of the arena. */
static int reply_register(struct fake *f, int fd, const Orion__Request *req, bool outside)
{
    if (req->body_case != ORION__REQUEST__BODY_REGISTER_GRAPH)
        return reply_stats(f, fd, req);
    const Orion__RegisterGraph *g = req->register_graph;
    size_t n = g->n_tensors < 16 ? g->n_tensors : 16;
    Orion__TensorPlacement pl[16];
    Orion__TensorPlacement *pp[16];
    for (size_t i = 0; i < n; i++) {
        orion__tensor_placement__init(&pl[i]);
        pl[i].id = g->tensors[i]->id;
        pl[i].bytes = g->tensors[i]->bytes;
        pl[i].offset = 4096 * (i + 1) + 64 * g->tensors[i]->id;
        if (outside && i == n - 1)
            pl[i].offset = FAKE_ARENA - pl[i].bytes + 64;
        pl[i].first_op = (uint32_t)i;
        pl[i].last_op = (uint32_t)i + 1;
        f->sent_offsets[i] = pl[i].offset;
        pp[i] = &pl[i];
    }
    Orion__RegisterGraphReply rr = ORION__REGISTER_GRAPH_REPLY__INIT;
    rr.graph_id = 42;
    rr.workspace_offset = 4096;
    rr.peak_bytes = 4096 * 16;
    rr.lower_bound_bytes = 1000;
    rr.policy = "fake-policy";
    rr.n_tensors = n;
    rr.tensors = pp;
    Orion__Response r = ORION__RESPONSE__INIT;
    r.request_id = req->request_id;
    r.body_case = ORION__RESPONSE__BODY_REGISTER_GRAPH;
    r.register_graph = &rr;
    return send_response(fd, &r, NULL, 0);
}

static int reply_register_good(struct fake *f, int fd, const Orion__Request *req)
{
    if (req->body_case == ORION__REQUEST__BODY_RELEASE_GRAPH) {
        f->released = req->release_graph->graph_id;
        /* Quiet: answered only if refused, as the daemon does. */
        return req->release_graph->quiet ? 0 : reply_ok(f, fd, req);
    }
    return reply_register(f, fd, req, false);
}

static int reply_register_outside(struct fake *f, int fd, const Orion__Request *req)
{
    return reply_register(f, fd, req, true);
}

/* A release must come quiet, and the next request right after it: noted in
 * f->release_waited when it is not quiet or nothing follows within 2 s (a
 * client waiting for an answer). Answered Ok only when not quiet. */
static int reply_release_after_next(struct fake *f, int fd, const Orion__Request *req)
{
    if (req->body_case != ORION__REQUEST__BODY_RELEASE_GRAPH)
        return reply_register(f, fd, req, false);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (!req->release_graph->quiet || poll(&pfd, 1, 2000) == 0)
        atomic_store(&f->release_waited, 1);
    return req->release_graph->quiet ? 0 : reply_ok(f, fd, req);
}

/* Replies to a registration that the client must read or refuse, by
 * f->reply_mode; built by hand, byte by byte. */
enum { ODD_UNKNOWN_FIELDS, ODD_FEWER, ODD_MORE, ODD_WRONG_ID, ODD_SHORT, ODD_LAST_WINS };

static uint8_t *odd_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static int reply_register_odd(struct fake *f, int fd, const Orion__Request *req)
{
    if (req->body_case == ORION__REQUEST__BODY_RELEASE_GRAPH)
        return reply_ok(f, fd, req);
    if (req->body_case != ORION__REQUEST__BODY_REGISTER_GRAPH)
        return reply_stats(f, fd, req);
    const Orion__RegisterGraph *g = req->register_graph;
    size_t n = g->n_tensors;
    if (f->reply_mode == ODD_FEWER)
        n--;
    if (f->reply_mode == ODD_MORE)
        n++;
    uint8_t pl[64][48], body[4096], frame[4200];
    size_t pl_len[64];
    for (size_t i = 0; i < n; i++) {
        const Orion__Tensor *t = g->tensors[i < g->n_tensors ? i : 0];
        uint8_t *q = pl[i];
        uint64_t id = t->id + (f->reply_mode == ODD_WRONG_ID && i == 1);
        uint64_t bytes = t->bytes - (f->reply_mode == ODD_SHORT && i == 0);
        if (f->reply_mode == ODD_LAST_WINS) {
            *q++ = 2 << 3;                  /* an offset, overridden below */
            q = odd_varint(q, 999999999);
        }
        *q++ = 1 << 3;
        q = odd_varint(q, id);
        *q++ = 2 << 3;
        q = odd_varint(q, 8192 + 1024 * i);
        *q++ = 3 << 3;
        q = odd_varint(q, bytes);
        if (f->reply_mode == ODD_UNKNOWN_FIELDS) {
            *q++ = 7 << 3 | 2;              /* field 7, length-delimited "zz" */
            *q++ = 2;
            *q++ = 'z';
            *q++ = 'z';
            *q++ = 9 << 3 | 5;              /* field 9, 32-bit */
            memset(q, 0xab, 4);
            q += 4;
        }
        *q++ = 4 << 3;
        q = odd_varint(q, i);
        *q++ = 5 << 3;
        q = odd_varint(q, (uint64_t)1 << 32 | (i + 2)); /* read as uint32: i + 2 */
        pl_len[i] = (size_t)(q - pl[i]);
    }
    uint8_t *b = body;
    *b++ = 1 << 3;
    b = odd_varint(b, 42);
    if (f->reply_mode == ODD_UNKNOWN_FIELDS) {
        *b++ = ((99 << 3) & 0x7f) | 0x80;   /* field 99: a two-byte key */
        *b++ = 99 >> 4;
        b = odd_varint(b, 12345);
    }
    *b++ = 2 << 3;
    b = odd_varint(b, 4096);
    *b++ = 3 << 3;
    b = odd_varint(b, 65536);
    *b++ = 5 << 3 | 2;
    *b++ = 4;
    memcpy(b, "odds", 4);
    b += 4;
    for (size_t i = 0; i < n; i++) {
        *b++ = 6 << 3 | 2;
        b = odd_varint(b, pl_len[i]);
        memcpy(b, pl[i], pl_len[i]);
        b += pl_len[i];
    }
    uint8_t *q = frame;
    *q++ = 1 << 3;
    q = odd_varint(q, req->request_id);
    if (f->reply_mode == ODD_UNKNOWN_FIELDS) {
        *q++ = 15 << 3 | 1;                 /* field 15, 64-bit */
        memset(q, 0xcd, 8);
        q += 8;
    }
    *q++ = 4 << 3 | 2;
    q = odd_varint(q, (uint64_t)(b - body));
    memcpy(q, body, (size_t)(b - body));
    q += b - body;
    return send_fd_frame(fd, frame, (size_t)(q - frame), NULL, 0);
}

/* Registrations are refused (-EINVAL), anything else gets stats. */
static int reply_register_refused(struct fake *f, int fd, const Orion__Request *req)
{
    if (req->body_case != ORION__REQUEST__BODY_REGISTER_GRAPH)
        return reply_stats(f, fd, req);
    return reply_error(fd, req, -EINVAL, "refused by the fake");
}

#define FAKE_NOT_REGISTERED "graph 42 is not registered by this connection"

/* Registrations succeed, releases are refused. */
static int reply_release_refused(struct fake *f, int fd, const Orion__Request *req)
{
    if (req->body_case != ORION__REQUEST__BODY_RELEASE_GRAPH)
        return reply_register(f, fd, req, false);
    return reply_error(fd, req, -EINVAL, FAKE_NOT_REGISTERED);
}

/* A BufferReply for a name other than the one asked. */
static int reply_buffer_other_name(struct fake *f, int fd, const Orion__Request *req)
{
    (void)f;
    Orion__BufferReply b = ORION__BUFFER_REPLY__INIT;
    b.name = "someone-else";
    b.offset = 0;
    b.bytes = 64;
    Orion__Response r = ORION__RESPONSE__INIT;
    r.request_id = req->request_id;
    r.body_case = ORION__RESPONSE__BODY_BUFFER;
    r.buffer = &b;
    return send_response(fd, &r, NULL, 0);
}

/* Count this process's open descriptors. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* ---- argument validation, builder, words -------------------------------- */

START_TEST(test_free_functions_accept_null)
{
    orion_client_close(NULL);
    orion_graph_free(NULL);
    ck_assert_int_eq(orion_plan_release(NULL), 0);
    ck_assert_int_eq(orion_buffer_release(NULL), 0);
    ck_assert_ptr_null(orion_client_arena_base(NULL));
    ck_assert_uint_eq(orion_client_arena_bytes(NULL), 0);
    ck_assert_ptr_null(orion_plan_tensor(NULL, 1));
    ck_assert_uint_eq(orion_plan_tensor_count(NULL), 0);
    ck_assert_ptr_null(orion_buffer_ptr(NULL));
    ck_assert_ptr_null(orion_buffer_name(NULL));
}
END_TEST

START_TEST(test_calls_on_null_client_return_einval)
{
    struct orion_stats st;
    orion_buffer *b = (orion_buffer *)&st; /* must be reset or left alone, never used */
    orion_plan *p = NULL;
    orion_graph *g;
    ck_assert_int_eq(orion_graph_new("g", &g), 0);
    ck_assert_int_eq(orion_client_stats(NULL, &st), -EINVAL);
    ck_assert_int_eq(orion_buffer_create(NULL, "x", 64, &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_open(NULL, "x", &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_wait(NULL, "x", 0, &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_seal(NULL), -EINVAL);
    ck_assert_int_eq(orion_buffer_wait_unused(NULL, 0), -EINVAL);
    ck_assert_int_eq(orion_graph_register(NULL, g, &p), -EINVAL);
    ck_assert_ptr_null(p);
    orion_graph_free(g);
}
END_TEST

START_TEST(test_connect_rejects_null_out)
{
    char err[128];
    ck_assert_int_eq(orion_client_connect("/tmp/none", NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "out"));
}
END_TEST

START_TEST(test_connect_reports_missing_daemon_by_path)
{
    char dir[] = "/tmp/orion-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], want[256], err[256];
    snprintf(path, sizeof(path), "%s/absent.sock", dir);
    orion_client *c = (orion_client *)dir;
    int rc = orion_client_connect(path, &c, err, sizeof(err));
    rmdir(dir);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_ptr_null(c);
    snprintf(want, sizeof(want), "no orionrtd at %s: is it running?", path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_connect_refused_socket_says_not_running)
{
    /* A socket file with nobody listening: bound, then the listener gone. */
    char dir[] = "/tmp/orion-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead.sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    orion_client *c;
    char err[256];
    int rc = orion_client_connect(sa.sun_path, &c, err, sizeof(err));
    unlink(sa.sun_path);
    rmdir(dir);
    ck_assert_int_eq(rc, -ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err, "is it running?"));
}
END_TEST

START_TEST(test_connect_rejects_path_longer_than_sun_path)
{
    char path[300];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    orion_client *c;
    char err[512];
    ck_assert_int_eq(orion_client_connect(path, &c, err, sizeof(err)), -ENAMETOOLONG);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, "299 bytes"));
}
END_TEST

START_TEST(test_graph_builder_rejects_bad_arguments)
{
    orion_graph *g;
    ck_assert_int_eq(orion_graph_new(NULL, NULL), -EINVAL);
    ck_assert_int_eq(orion_graph_new(NULL, &g), 0);
    struct orion_tensor_desc t = { .id = 1, .bytes = 64 };
    ck_assert_int_eq(orion_graph_add_tensor(NULL, &t), -EINVAL);
    ck_assert_int_eq(orion_graph_add_tensor(g, NULL), -EINVAL);
    t.kind = (enum orion_tensor_kind)9;
    ck_assert_int_eq(orion_graph_add_tensor(g, &t), -EINVAL);
    t.kind = ORION_TENSOR_EXPORT;
    ck_assert_int_eq(orion_graph_add_tensor(g, &t), -EINVAL);
    t.share = "";
    ck_assert_int_eq(orion_graph_add_tensor(g, &t), -EINVAL);
    t.share = "stage/out";
    ck_assert_int_eq(orion_graph_add_tensor(g, &t), 0);
    uint64_t ids[1] = { 1 };
    ck_assert_int_eq(orion_graph_add_op(NULL, "op", ids, 1, NULL, 0), -EINVAL);
    ck_assert_int_eq(orion_graph_add_op(g, "op", NULL, 1, NULL, 0), -EINVAL);
    ck_assert_int_eq(orion_graph_add_op(g, "op", ids, 1, NULL, 2), -EINVAL);
    ck_assert_int_eq(orion_graph_add_op(g, NULL, NULL, 0, ids, 1), 0);
    ck_assert_int_eq(orion_graph_set_policy(NULL, "x"), -EINVAL);
    ck_assert_int_eq(orion_graph_set_policy(g, "greedy"), 0);
    ck_assert_int_eq(orion_graph_set_policy(g, NULL), 0);
    orion_graph_free(g);
}
END_TEST

START_TEST(test_strerror_words_each_protocol_code)
{
    static const int codes[] = { -EINVAL, -E2BIG, -ENOSPC, -EEXIST, -ENOENT, -EPERM,
                                 -EALREADY, -ETIMEDOUT, -EPIPE, -EPROTO, -EPROTONOSUPPORT,
                                 -ECHILD };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *w = orion_strerror(codes[i]);
        ck_assert_ptr_nonnull(w);
        ck_assert_int_gt((int)strlen(w), 0);
        ck_assert_ptr_null(strstr(w, "unknown"));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(w, orion_strerror(codes[j]));
    }
    /* Codes outside the table still get words, never NULL. */
    ck_assert_str_eq(orion_strerror(-EBADF), strerrordesc_np(EBADF));
    ck_assert_ptr_nonnull(strstr(orion_strerror(12345), "12345"));
    ck_assert_ptr_nonnull(strstr(orion_strerror(-99999), "-99999"));
}
END_TEST

START_TEST(test_version_matches_header_macros)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", ORION_VERSION_MAJOR, ORION_VERSION_MINOR,
             ORION_VERSION_PATCH);
    ck_assert_str_eq(orion_version(), want);
}
END_TEST

START_TEST(test_default_socket_path_follows_env_rules)
{
    setenv("ORION_SOCKET", "/srv/custom.sock", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    ck_assert_str_eq(orion_default_socket_path(), "/srv/custom.sock");

    /* Empty ORION_SOCKET counts as unset. */
    setenv("ORION_SOCKET", "", 1);
    const char *p = orion_default_socket_path();
    if (geteuid() == 0)
        ck_assert_str_eq(p, "/run/orionrt/orionrtd.sock");
    else
        ck_assert_str_eq(p, "/run/user/4242/orionrtd.sock");

    unsetenv("ORION_SOCKET");
    unsetenv("XDG_RUNTIME_DIR");
    char want[64];
    if (geteuid() == 0)
        snprintf(want, sizeof(want), "/run/orionrt/orionrtd.sock");
    else
        snprintf(want, sizeof(want), "/tmp/orionrtd-%lu.sock", (unsigned long)geteuid());
    ck_assert_str_eq(orion_default_socket_path(), want);
}
END_TEST

/* ---- the handshake ------------------------------------------------------ */

START_TEST(test_connect_maps_arena_shared_with_daemon)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    f.arena[100] = 0x5a;
    orion_client *c = fake_connect(&f);
    ck_assert_uint_eq(orion_client_arena_bytes(c), FAKE_ARENA);
    unsigned char *base = orion_client_arena_base(c);
    ck_assert_uint_eq(base[100], 0x5a);
    base[200] = 0xa5;                     /* MAP_SHARED: the daemon sees it */
    ck_assert_uint_eq(f.arena[200], 0xa5);
    ck_assert_str_eq(orion_client_error(c), "");
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_connect_rejects_hello_without_descriptor)
{
    struct fake f;
    fake_start(&f, HELLO_NO_FD, NULL);
    orion_client *c;
    char err[256];
    ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EPROTO);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, "0 descriptors"));
    fake_stop(&f);
}
END_TEST

START_TEST(test_connect_rejects_and_closes_two_descriptors)
{
    /* Counted around the whole fake: its own descriptors come and go too. */
    int before = count_fds();
    struct fake f;
    fake_start(&f, HELLO_TWO_FDS, NULL);
    orion_client *c;
    char err[256];
    ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EPROTO);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, "2 descriptors"));
    fake_stop(&f);
    ck_assert_int_eq(count_fds(), before); /* neither passed fd leaked */
}
END_TEST

START_TEST(test_connect_rejects_object_smaller_than_announced)
{
    /* Counted around the whole fake: its own descriptors come and go too. */
    int before = count_fds();
    struct fake f;
    fake_start(&f, HELLO_SMALL_OBJECT, NULL);
    orion_client *c;
    char err[256];
    ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "announced"));
    fake_stop(&f);
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_connect_rejects_other_protocol_version)
{
    struct fake f;
    fake_start(&f, HELLO_BAD_VERSION, NULL);
    orion_client *c;
    char err[256];
    ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(strstr(err, "protocol 7"));
    fake_stop(&f);
}
END_TEST

START_TEST(test_connect_returns_daemon_error_and_message)
{
    struct fake f;
    fake_start(&f, HELLO_ERROR, NULL);
    orion_client *c;
    char err[256];
    ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EPROTONOSUPPORT);
    ck_assert_str_eq(err, FAKE_HELLO_ERROR);
    fake_stop(&f);
}
END_TEST

/* A daemon over its client limit says so and closes, whether before the
 * hello was sent (the send then fails) or in answer to it. */
START_TEST(test_connect_over_the_client_limit_is_ebusy_with_the_daemons_words)
{
    enum hello_mode modes[] = { HELLO_BUSY_AT_ONCE, HELLO_BUSY_AFTER };
    for (int i = 0; i < 2; i++) {
        struct fake f;
        fake_start(&f, modes[i], NULL);
        if (modes[i] == HELLO_BUSY_AT_ONCE) {
            /* Let the fake close first, as the daemon usually does. */
            usleep(50 * 1000);
        }
        orion_client *c = (orion_client *)&f;
        char err[256];
        ck_assert_int_eq(orion_client_connect(f.path, &c, err, sizeof(err)), -EBUSY);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(err, FAKE_BUSY) != NULL, "mode %d: %s", i, err);
        fake_stop(&f);
    }
}
END_TEST

/* ---- request / reply ---------------------------------------------------- */

START_TEST(test_stats_copies_every_field)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.arena_bytes, FAKE_ARENA);
    ck_assert_uint_eq(st.used_bytes, 4096);
    ck_assert_uint_eq(st.free_bytes, FAKE_ARENA - 4096);
    ck_assert_uint_eq(st.largest_free_bytes, FAKE_ARENA / 2);
    ck_assert_double_eq(st.fragmentation, 0.25);
    ck_assert_uint_eq(st.clients, 3);
    ck_assert_uint_eq(st.graphs, 5);
    ck_assert_uint_eq(st.buffers, 7);
    ck_assert_uint_eq(st.allocations, 11);
    ck_assert_int_eq(orion_client_stats(c, NULL), -EINVAL);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_garbage_reply_is_eproto_then_connection_broken)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_garbage);
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPROTO);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "not a Response"));
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "broken"));
    ck_assert_int_eq(atomic_load(&f.n_requests), 1); /* the second never left */
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_reply_with_wrong_request_id_is_eproto)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_wrong_id);
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPROTO);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "answered request"));
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_reply_of_wrong_type_is_eproto)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_ok);
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPROTO);
    ck_assert_str_eq(orion_client_error(c),
                     "orionrtd replied with Ok where StatsReply was expected");
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_daemon_error_returns_code_and_keeps_connection)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_error_then_stats);
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -ENOSPC);
    ck_assert_str_eq(orion_client_error(c), FAKE_NOSPACE);
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_str_eq(orion_client_error(c), "");
    ck_assert_uint_eq(st.allocations, 11);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_daemon_gone_is_epipe_not_sigpipe)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this test */
    struct fake f;
    fake_start(&f, HELLO_OK, NULL); /* closes at the first request */
    orion_client *c = fake_connect(&f);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "closed the connection"));
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_request_above_max_frame_is_e2big_and_not_sent)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    f.max_frame = 256;
    orion_client *c = fake_connect(&f);
    orion_graph *g;
    ck_assert_int_eq(orion_graph_new("big", &g), 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct orion_tensor_desc t = { .id = i, .bytes = 1000 };
        ck_assert_int_eq(orion_graph_add_tensor(g, &t), 0);
    }
    orion_plan *p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), -E2BIG);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "frame limit of 256"));
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0); /* still usable */
    ck_assert_int_eq(atomic_load(&f.n_requests), 1);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* ---- graphs ------------------------------------------------------------- */

static orion_graph *three_tensor_graph(void)
{
    orion_graph *g;
    ck_assert_int_eq(orion_graph_new("unit", &g), 0);
    char share[16] = "out/x";
    const uint64_t ids[3] = { 30, 10, 20 }; /* not sorted: lookup must not assume */
    for (int i = 0; i < 3; i++) {
        struct orion_tensor_desc t = { .id = ids[i], .bytes = 128u * (unsigned)(i + 1),
                                       .kind = i == 2 ? ORION_TENSOR_EXPORT
                                                      : ORION_TENSOR_INTERMEDIATE,
                                       .share = i == 2 ? share : NULL };
        ck_assert_int_eq(orion_graph_add_tensor(g, &t), 0);
    }
    strcpy(share, "CLOBBERED"); /* the builder must have copied it */
    ck_assert_int_eq(orion_graph_add_op(g, "a", NULL, 0, &ids[0], 1), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "b", &ids[0], 1, &ids[1], 2), 0);
    ck_assert_int_eq(orion_graph_set_policy(g, "best"), 0);
    return g;
}

START_TEST(test_register_sends_graph_and_plan_points_at_daemon_offsets)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_register_good);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), 0);

    /* What went on the wire is what was built. */
    const Orion__RegisterGraph *rg = f.last->register_graph;
    ck_assert_int_eq(f.last->body_case, ORION__REQUEST__BODY_REGISTER_GRAPH);
    ck_assert_str_eq(rg->name, "unit");
    ck_assert_str_eq(rg->policy, "best");
    ck_assert_uint_eq(rg->n_tensors, 3);
    ck_assert_uint_eq(rg->tensors[1]->id, 10);
    ck_assert_int_eq(rg->tensors[2]->kind, ORION__TENSOR_KIND__EXPORT);
    ck_assert_str_eq(rg->tensors[2]->share, "out/x");
    ck_assert_uint_eq(rg->n_ops, 2);
    ck_assert_uint_eq(rg->ops[1]->n_inputs, 1);
    ck_assert_uint_eq(rg->ops[1]->inputs[0], 30);
    ck_assert_uint_eq(rg->ops[1]->n_outputs, 2);
    ck_assert_uint_eq(rg->ops[1]->outputs[1], 20);

    /* The plan is what came back. */
    char *base = orion_client_arena_base(c);
    const uint64_t ids[3] = { 30, 10, 20 };
    ck_assert_uint_eq(orion_plan_tensor_count(p), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_ptr_eq(orion_plan_tensor(p, ids[i]), base + f.sent_offsets[i]);
        struct orion_tensor_placement t;
        ck_assert_int_eq(orion_plan_tensor_at(p, i, &t), 0);
        ck_assert_uint_eq(t.id, ids[i]);
        ck_assert_uint_eq(t.offset, f.sent_offsets[i]);
        ck_assert_uint_eq(t.bytes, 128u * (i + 1));
        ck_assert_uint_eq(t.first_op, i);
        ck_assert_uint_eq(t.last_op, i + 1);
    }
    struct orion_tensor_placement t;
    ck_assert_int_eq(orion_plan_tensor_at(p, 3, &t), -ERANGE);
    ck_assert_ptr_null(orion_plan_tensor(p, 11));
    ck_assert_ptr_null(orion_plan_tensor(p, 0));
    ck_assert_ptr_null(orion_plan_tensor(p, 31));
    ck_assert_uint_eq(orion_plan_peak_bytes(p), 4096 * 16);
    ck_assert_uint_eq(orion_plan_lower_bound_bytes(p), 1000);
    ck_assert_uint_eq(orion_plan_workspace_offset(p), 4096);
    ck_assert_str_eq(orion_plan_policy(p), "fake-policy");

    ck_assert_int_eq(orion_plan_release(p), 0);
    /* The release does not wait for its answer; the next call reads it. */
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(f.released, 42);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* The registration's request is written by the library itself
 * (client_register.c): its bytes must be the ones protobuf-c packs for the
 * same graph, over graphs that reach every field's edge (zeros left out,
 * empty and absent strings, ids across varint lengths, empty ops). */
START_TEST(test_register_request_bytes_are_protobuf_c_s)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_register_refused);
    orion_client *c = fake_connect(&f);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    static const char *const strs[] = { NULL, "", "x", "a/longer name with spaces",
                                        "0123456789012345678901234567890123456789012345678901"
                                        "0123456789012345678901234567890123456789012345678901"
                                        "01234567890123456789012345" };
    for (int round = 0; round < 60; round++) {
        size_t nt = (size_t)round % 17, no = (size_t)(round * 7) % 11;
        const char *gname = strs[round % 5], *policy = strs[(round / 5) % 5];
        orion_graph *g;
        ck_assert_int_eq(orion_graph_new(gname, &g), 0);
        Orion__Tensor pt[17], *ptp[17];
        Orion__Op po[11], *pop[11];
        uint64_t ids[17], refs[11][8];
        for (size_t i = 0; i < nt; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned shift = (unsigned)(rng >> 58);      /* 0..63: every varint length */
            ids[i] = round % 3 == 0 ? i : (rng >> shift) + i;
            struct orion_tensor_desc t = {
                .id = ids[i],
                .bytes = (rng >> 20) % 5 == 0 ? 0 : (rng >> (shift / 2)) | 1,
                .align = (rng >> 30) % 3 == 0 ? 0 : (uint64_t)1 << ((rng >> 40) % 21),
                .kind = (enum orion_tensor_kind)((rng >> 50) % 4),
                .share = strs[1 + (rng >> 8) % 4],
                .name = strs[(rng >> 12) % 5],
            };
            if (t.kind != ORION_TENSOR_EXPORT && t.kind != ORION_TENSOR_IMPORT && (rng & 1))
                t.share = NULL;
            if ((t.kind == ORION_TENSOR_EXPORT || t.kind == ORION_TENSOR_IMPORT) &&
                (t.share == NULL || t.share[0] == '\0'))
                t.share = "shared";
            ck_assert_int_eq(orion_graph_add_tensor(g, &t), 0);
            orion__tensor__init(&pt[i]);
            pt[i].id = t.id;
            pt[i].bytes = t.bytes;
            pt[i].align = t.align;
            pt[i].kind = (Orion__TensorKind)t.kind;
            pt[i].share = (char *)(t.share ? t.share : "");
            pt[i].name = (char *)(t.name ? t.name : "");
            ptp[i] = &pt[i];
        }
        for (size_t k = 0; k < no; k++) {
            size_t ni = nt ? (k + (size_t)round) % 4 : 0, nout = nt ? (k * 3 + 1) % 5 : 0;
            for (size_t j = 0; j < ni + nout; j++)
                refs[k][j] = ids[(k + j * 5) % nt];
            const char *oname = strs[(k + (size_t)round) % 5];
            ck_assert_int_eq(orion_graph_add_op(g, oname, refs[k], ni, refs[k] + ni, nout), 0);
            orion__op__init(&po[k]);
            po[k].name = (char *)(oname ? oname : "");
            po[k].n_inputs = ni;
            po[k].inputs = refs[k];
            po[k].n_outputs = nout;
            po[k].outputs = refs[k] + ni;
            pop[k] = &po[k];
        }
        if (policy != NULL)
            ck_assert_int_eq(orion_graph_set_policy(g, policy), 0);
        orion_plan *p = NULL;
        ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
        ck_assert_str_eq(orion_client_error(c), "refused by the fake");

        Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
        rg.name = (char *)(gname ? gname : "");
        rg.n_tensors = nt;
        rg.tensors = ptp;
        rg.n_ops = no;
        rg.ops = pop;
        rg.policy = (char *)(policy ? policy : "");
        Orion__Request req = ORION__REQUEST__INIT;
        req.request_id = f.last->request_id;
        req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
        req.register_graph = &rg;
        ck_assert_int_eq(f.last->body_case, ORION__REQUEST__BODY_REGISTER_GRAPH);
        size_t n = orion__request__get_packed_size(&req);
        uint8_t *want = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(want);
        orion__request__pack(&req, want);
        ck_assert_msg(f.last_raw_len == n && memcmp(f.last_raw, want, n) == 0,
                      "round %d: %zu bytes sent, protobuf-c packs %zu", round, f.last_raw_len, n);
        free(want);
        orion_graph_free(g);
    }
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* The plan is read from the reply's bytes by the library itself: fields it
 * does not know are skipped, the last of a repeated scalar wins (as with
 * protobuf-c), and a reply that does not match the request is -EPROTO. */
START_TEST(test_register_reply_is_read_as_protobuf_c_would)
{
    static const struct { int mode; const char *why; } cases[] = {
        { ODD_UNKNOWN_FIELDS, NULL },
        { ODD_LAST_WINS, NULL },
        { ODD_FEWER, "placed 2 tensors of the 3 registered" },
        { ODD_MORE, "placed more than 3 tensors of the 3 registered" },
        { ODD_WRONG_ID, "placement 1 is for tensor 11, not tensor 10" },
        { ODD_SHORT, "gave tensor 30 127 bytes where 128 were asked" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct fake f;
        fake_start(&f, HELLO_OK, reply_register_odd);
        f.reply_mode = cases[k].mode;
        orion_client *c = fake_connect(&f);
        orion_graph *g = three_tensor_graph();
        orion_plan *p = NULL;
        int rc = orion_graph_register(c, g, &p);
        struct orion_stats st;
        if (cases[k].why == NULL) {
            ck_assert_msg(rc == 0, "case %zu: %d %s", k, rc, orion_client_error(c));
            char *base = orion_client_arena_base(c);
            ck_assert_uint_eq(orion_plan_tensor_count(p), 3);
            for (size_t i = 0; i < 3; i++) {
                struct orion_tensor_placement t;
                ck_assert_int_eq(orion_plan_tensor_at(p, i, &t), 0);
                ck_assert_uint_eq(t.offset, 8192 + 1024 * i);
                ck_assert_uint_eq(t.first_op, i);
                ck_assert_uint_eq(t.last_op, i + 2);
                ck_assert_ptr_eq(orion_plan_tensor(p, t.id), base + 8192 + 1024 * i);
            }
            ck_assert_str_eq(orion_plan_policy(p), "odds");
            ck_assert_uint_eq(orion_plan_peak_bytes(p), 65536);
            ck_assert_uint_eq(orion_plan_workspace_offset(p), 4096);
            ck_assert_int_eq(orion_plan_release(p), 0);
            ck_assert_int_eq(orion_client_stats(c, &st), 0);
        } else {
            ck_assert_int_eq(rc, -EPROTO);
            ck_assert_ptr_null(p);
            ck_assert_msg(strstr(orion_client_error(c), cases[k].why) != NULL, "case %zu: %s",
                          k, orion_client_error(c));
            /* The daemon holds a graph the client cannot use: connection ended. */
            ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
        }
        orion_graph_free(g);
        orion_client_close(c);
        fake_stop(&f);
    }
}
END_TEST

/* A graph keeps its packed request between registrations: a change to it
 * (a tensor, an op, the policy) must show in the next request. */
START_TEST(test_graph_changed_after_a_registration_sends_the_change)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_register_refused);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p = NULL;
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_uint_eq(f.last->register_graph->n_tensors, 3);
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL); /* the same bytes */
    ck_assert_uint_eq(f.last->register_graph->n_tensors, 3);
    struct orion_tensor_desc t = { .id = 77, .bytes = 4096, .kind = ORION_TENSOR_OUTPUT };
    ck_assert_int_eq(orion_graph_add_tensor(g, &t), 0);
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_uint_eq(f.last->register_graph->n_tensors, 4);
    ck_assert_uint_eq(f.last->register_graph->tensors[3]->id, 77);
    const uint64_t in[] = { 20 }, out[] = { 77 };
    ck_assert_int_eq(orion_graph_add_op(g, "c", in, 1, out, 1), 0);
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_uint_eq(f.last->register_graph->n_ops, 3);
    ck_assert_str_eq(f.last->register_graph->ops[2]->name, "c");
    ck_assert_int_eq(orion_graph_set_policy(g, "greedy-size"), 0);
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_str_eq(f.last->register_graph->policy, "greedy-size");
    ck_assert_int_eq(orion_graph_set_policy(g, NULL), 0);
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_str_eq(f.last->register_graph->policy, "");
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_release_does_not_wait_for_its_answer)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_release_after_next);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), 0);
    ck_assert_int_eq(orion_plan_release(p), 0);
    /* The next call sends its request, then reads the release's Ok first. */
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_int_eq(f.last->body_case, ORION__REQUEST__BODY_STATS);
    ck_assert_int_eq(atomic_load(&f.release_waited), 0);
    ck_assert_int_eq(atomic_load(&f.n_requests), 3);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_refused_release_fails_the_next_call_and_breaks_the_connection)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_release_refused);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), 0);
    ck_assert_int_eq(orion_plan_release(p), 0); /* sent */
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPROTO);
    const char *msg = orion_client_error(c);
    ck_assert_msg(strstr(msg, "refused the release of graph 42") != NULL &&
                  strstr(msg, FAKE_NOT_REGISTERED) != NULL, "message: %s", msg);
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* More releases in flight than the client keeps answers for: the oldest is
 * read to make room, and none is lost. */
START_TEST(test_many_releases_in_a_row_are_all_answered)
{
    enum { N = 80 };
    struct fake f;
    fake_start(&f, HELLO_OK, reply_register_good);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(orion_graph_register(c, g, &p[i]), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(orion_plan_release(p[i]), 0);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_int_eq(atomic_load(&f.n_requests), 2 * N + 1);
    ck_assert_int_eq(f.last->body_case, ORION__REQUEST__BODY_STATS);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_register_refuses_offset_outside_arena)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_register_outside);
    orion_client *c = fake_connect(&f);
    orion_graph *g = three_tensor_graph();
    orion_plan *p = (orion_plan *)g;
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EPROTO);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "outside"));
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), -EPIPE);
    orion_graph_free(g);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_buffer_reply_for_other_name_is_eproto)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_buffer_other_name);
    orion_client *c = fake_connect(&f);
    orion_buffer *b = (orion_buffer *)&f;
    ck_assert_int_eq(orion_buffer_open(c, "mine", &b), -EPROTO);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "someone-else"));
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_buffer_rejects_bad_name_and_size_without_sending)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    orion_client *c = fake_connect(&f);
    orion_buffer *b;
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(orion_buffer_create(c, NULL, 64, &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_create(c, "", 64, &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_create(c, longname, 64, &b), -EINVAL);
    ck_assert_ptr_nonnull(strstr(orion_client_error(c), "299"));
    ck_assert_int_eq(orion_buffer_create(c, "ok", 0, &b), -EINVAL);
    ck_assert_int_eq(orion_buffer_create(c, "ok", 64, NULL), -EINVAL);
    ck_assert_int_eq(atomic_load(&f.n_requests), 0);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* ---- fork --------------------------------------------------------------- */

START_TEST(test_forked_child_gets_echild_and_leaves_socket_alone)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    orion_client *c = fake_connect(&f);
    /* The child reports through a pipe, not its exit status: under valgrind
     * a forked child's status also carries the parent's error count. */
    int res[2];
    ck_assert_int_eq(pipe(res), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct orion_stats st;
        orion_buffer *b;
        char want[128];
        snprintf(want, sizeof(want),
                 "this connection belongs to process %ld: connect again in the child",
                 (long)parent);
        char ok = orion_client_stats(c, &st) == -ECHILD &&
                  strcmp(orion_client_error(c), want) == 0 &&
                  orion_buffer_open(c, "x", &b) == -ECHILD;
        orion_client_close(c); /* frees and unmaps only */
        ssize_t w = write(res[1], &ok, 1);
        _exit(w == 1 ? 0 : 1);
    }
    close(res[1]);
    char ok = 0;
    ck_assert_int_eq(read(res[0], &ok, 1), 1);
    close(res[0]);
    ck_assert_msg(ok, "the child's calls did not all fail with -ECHILD and the message");
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0); /* the parent's is intact */
    ck_assert_int_eq(atomic_load(&f.n_requests), 1); /* the child sent nothing */
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

static void *stats_many(void *arg)
{
    orion_client *c = arg;
    for (int i = 0; i < 200; i++) {
        struct orion_stats st;
        if (orion_client_stats(c, &st) != 0 || st.allocations != 11)
            return (void *)1;
    }
    return NULL;
}

START_TEST(test_threads_sharing_a_client_are_serialised)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    orion_client *c = fake_connect(&f);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, stats_many, c), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_ptr_null(r);
    }
    ck_assert_int_eq(atomic_load(&f.n_requests), 800);
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* Each thread fails its own way (or succeeds) over and over on one client
 * and must read back its own message every time: the message is the
 * thread's, not the last one any thread wrote. */
struct msg_thread {
    orion_client *c;
    int kind;              /* 0: empty name, 1: size 0, 2: stats (succeeds) */
    char bad[CLIENT_ERR_LEN_TEST];
};

static void *own_messages(void *arg)
{
    struct msg_thread *t = arg;
    for (int i = 0; i < 3000; i++) {
        orion_buffer *b = NULL;
        struct orion_stats st;
        const char *want;
        int rc;
        if (t->kind == 0) {
            rc = orion_buffer_create(t->c, "", 64, &b);
            want = "buffer name must be 1-255 bytes, not 0";
        } else if (t->kind == 1) {
            rc = orion_buffer_create(t->c, "ok", 0, &b);
            want = "buffer 'ok': size must be above 0";
        } else {
            rc = orion_client_stats(t->c, &st);
            want = "";
        }
        const char *got = orion_client_error(t->c);
        if ((t->kind < 2 ? rc != -EINVAL : rc != 0) || strcmp(got, want) != 0) {
            snprintf(t->bad, sizeof(t->bad), "call %d: rc %d, message '%s', want '%s'", i, rc,
                     got, want);
            return (void *)1;
        }
    }
    return NULL;
}

START_TEST(test_threads_sharing_a_client_each_read_their_own_error)
{
    struct fake f;
    fake_start(&f, HELLO_OK, reply_stats);
    orion_client *c = fake_connect(&f);
    struct msg_thread t[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        t[i] = (struct msg_thread){ .c = c, .kind = i };
        ck_assert_int_eq(pthread_create(&th[i], NULL, own_messages, &t[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_msg(r == NULL, "thread %d: %s", i, t[i].bad);
    }
    /* This thread made no call since connecting: no message. */
    ck_assert_str_eq(orion_client_error(c), "");
    orion_client_close(c);
    fake_stop(&f);
}
END_TEST

/* ---- framing shared with the daemon -------------------------------------- */

/* A connection that once sent a large frame must not keep its buffer while
 * idle; a frame still being received must survive the trim. */
START_TEST(test_frame_reader_trim_frees_large_buffer_once_consumed)
{
    struct frame_reader r;
    frame_reader_init(&r, 4u << 20);
    size_t n = (size_t)1 << 20;
    uint8_t *frame = malloc(FRAME_HEADER_BYTES + n);
    ck_assert_ptr_nonnull(frame);
    frame_put_header(frame, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        frame[FRAME_HEADER_BYTES + i] = (uint8_t)(i * 7);
    for (size_t off = 0; off < FRAME_HEADER_BYTES + n; off += 65536) {
        size_t k = FRAME_HEADER_BYTES + n - off < 65536 ? FRAME_HEADER_BYTES + n - off : 65536;
        ck_assert_int_eq(frame_reader_feed(&r, frame + off, k), 0);
    }
    const uint8_t *msg;
    size_t len;
    ck_assert_int_eq(frame_reader_next(&r, &msg, &len), 1);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(frame_reader_next(&r, &msg, &len), 0);
    ck_assert_uint_gt(r.cap, FRAME_KEEP_BYTES);
    frame_reader_trim(&r);
    ck_assert_uint_eq(r.cap, 0);
    ck_assert_ptr_null(r.buf);

    /* Half a large frame: kept across a trim, then completed intact. */
    ck_assert_int_eq(frame_reader_feed(&r, frame, (FRAME_HEADER_BYTES + n) / 2), 0);
    ck_assert_int_eq(frame_reader_next(&r, &msg, &len), 0);
    frame_reader_trim(&r);
    ck_assert_int_eq(frame_reader_feed(&r, frame + (FRAME_HEADER_BYTES + n) / 2,
                                       FRAME_HEADER_BYTES + n - (FRAME_HEADER_BYTES + n) / 2),
                     0);
    ck_assert_int_eq(frame_reader_next(&r, &msg, &len), 1);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(msg, frame + FRAME_HEADER_BYTES, n), 0);

    /* A small buffer is kept: no churn for ordinary requests. */
    frame_reader_free(&r);
    frame_reader_init(&r, 0);
    uint8_t small[FRAME_HEADER_BYTES + 3] = { 3, 0, 0, 0, 1, 2, 3 };
    ck_assert_int_eq(frame_reader_feed(&r, small, sizeof small), 0);
    ck_assert_int_eq(frame_reader_next(&r, &msg, &len), 1);
    frame_reader_trim(&r);
    ck_assert_ptr_nonnull(r.buf);
    frame_reader_free(&r);
    free(frame);
}
END_TEST

static Suite *client_unit_suite(void)
{
    Suite *s = suite_create("client_unit");
    TCase *tc = tcase_create("args");
    tcase_add_test(tc, test_free_functions_accept_null);
    tcase_add_test(tc, test_calls_on_null_client_return_einval);
    tcase_add_test(tc, test_connect_rejects_null_out);
    tcase_add_test(tc, test_connect_reports_missing_daemon_by_path);
    tcase_add_test(tc, test_connect_refused_socket_says_not_running);
    tcase_add_test(tc, test_connect_rejects_path_longer_than_sun_path);
    tcase_add_test(tc, test_graph_builder_rejects_bad_arguments);
    tcase_add_test(tc, test_strerror_words_each_protocol_code);
    tcase_add_test(tc, test_version_matches_header_macros);
    tcase_add_test(tc, test_default_socket_path_follows_env_rules);
    tcase_add_test(tc, test_frame_reader_trim_frees_large_buffer_once_consumed);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake_daemon");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_connect_maps_arena_shared_with_daemon);
    tcase_add_test(tc, test_connect_rejects_hello_without_descriptor);
    tcase_add_test(tc, test_connect_rejects_and_closes_two_descriptors);
    tcase_add_test(tc, test_connect_rejects_object_smaller_than_announced);
    tcase_add_test(tc, test_connect_rejects_other_protocol_version);
    tcase_add_test(tc, test_connect_returns_daemon_error_and_message);
    tcase_add_test(tc, test_connect_over_the_client_limit_is_ebusy_with_the_daemons_words);
    tcase_add_test(tc, test_stats_copies_every_field);
    tcase_add_test(tc, test_garbage_reply_is_eproto_then_connection_broken);
    tcase_add_test(tc, test_reply_with_wrong_request_id_is_eproto);
    tcase_add_test(tc, test_reply_of_wrong_type_is_eproto);
    tcase_add_test(tc, test_daemon_error_returns_code_and_keeps_connection);
    tcase_add_test(tc, test_daemon_gone_is_epipe_not_sigpipe);
    tcase_add_test(tc, test_request_above_max_frame_is_e2big_and_not_sent);
    tcase_add_test(tc, test_register_sends_graph_and_plan_points_at_daemon_offsets);
    tcase_add_test(tc, test_register_refuses_offset_outside_arena);
    tcase_add_test(tc, test_buffer_reply_for_other_name_is_eproto);
    tcase_add_test(tc, test_buffer_rejects_bad_name_and_size_without_sending);
    tcase_add_test(tc, test_forked_child_gets_echild_and_leaves_socket_alone);
    tcase_add_test(tc, test_threads_sharing_a_client_are_serialised);
    tcase_add_test(tc, test_threads_sharing_a_client_each_read_their_own_error);
    tcase_add_test(tc, test_register_request_bytes_are_protobuf_c_s);
    tcase_add_test(tc, test_register_reply_is_read_as_protobuf_c_would);
    tcase_add_test(tc, test_graph_changed_after_a_registration_sends_the_change);
    tcase_add_test(tc, test_release_does_not_wait_for_its_answer);
    tcase_add_test(tc, test_refused_release_fails_the_next_call_and_breaks_the_connection);
    tcase_add_test(tc, test_many_releases_in_a_row_are_all_answered);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_unit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
