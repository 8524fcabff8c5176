/* harness_wire.c - a raw protocol client for the integration tests: framing,
 * protobuf requests and replies, passed descriptors. See harness_wire.h. */
#include "harness_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "harness_proc.h"

#define RECV_FRAME_LIMIT (64u << 20)

static uint64_t next_request_id = 1;

int harness_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int harness_send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int harness_send_frame(int fd, const void *body, uint32_t len)
{
    uint8_t hdr[FRAME_HEADER_BYTES];
    frame_put_header(hdr, len);
    int rc = harness_send_all(fd, hdr, sizeof hdr);
    if (rc == 0 && len > 0)
        rc = harness_send_all(fd, body, len);
    return rc;
}

int harness_send_request(int fd, const Orion__Request *req)
{
    size_t n = orion__request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    orion__request__pack(req, buf);
    int rc = harness_send_frame(fd, buf, (uint32_t)n);
    free(buf);
    return rc;
}

/* Read exactly n bytes into buf within the deadline, collecting descriptors. */
static int recv_exact(int fd, uint8_t *buf, size_t n, int64_t deadline, int *passed_fd,
                      int *n_fds)
{
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - harness_now_ms();
        if (left < 0)
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return -ETIMEDOUT;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 16)];
        } ctl;
        struct iovec iov = { .iov_base = buf + got, .iov_len = n - got };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? -ECONNRESET : -errno;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int fds[16];
            memcpy(fds, CMSG_DATA(c), k * sizeof(int));
            for (size_t i = 0; i < k; i++) {
                if (n_fds)
                    (*n_fds)++;
                if (passed_fd && *passed_fd < 0)
                    *passed_fd = fds[i];
                else
                    close(fds[i]);
            }
        }
        if (r == 0)
            return -ECONNRESET;
        got += (size_t)r;
    }
    return 0;
}

int harness_recv_frame(int fd, int timeout_ms, uint8_t **body, size_t *len, int *passed_fd,
                       int *n_fds)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    uint8_t hdr[FRAME_HEADER_BYTES];
    if (passed_fd)
        *passed_fd = -1;
    if (n_fds)
        *n_fds = 0;
    *body = NULL;
    *len = 0;
    int rc = recv_exact(fd, hdr, sizeof hdr, deadline, passed_fd, n_fds);
    if (rc < 0)
        return rc;
    uint32_t n = frame_get_header(hdr);
    if (n > RECV_FRAME_LIMIT)
        return -EPROTO;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    rc = recv_exact(fd, buf, n, deadline, passed_fd, n_fds);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *body = buf;
    *len = n;
    return 0;
}

Orion__Response *harness_recv_response(int fd, int timeout_ms, int *passed_fd, int *n_fds,
                                       int *err)
{
    uint8_t *body;
    size_t len;
    int e = 0;
    int rc = harness_recv_frame(fd, timeout_ms, &body, &len, passed_fd, n_fds);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    Orion__Response *resp = orion__response__unpack(NULL, len, body);
    free(body);
    if (!resp)
        e = -EBADMSG;
    if (err)
        *err = e;
    return resp;
}

Orion__Response *harness_call(int fd, const Orion__Request *req, int timeout_ms, int *err)
{
    int rc = harness_send_request(fd, req);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return harness_recv_response(fd, timeout_ms * harness_slowdown(), NULL, NULL, err);
}

int harness_hello(int fd, uint32_t version, uint64_t *arena_bytes, int *arena_fd, int *n_fds)
{
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Hello hello = ORION__HELLO__INIT;
    hello.protocol_version = version;
    hello.client_name = (char *)"harness";
    req.request_id = next_request_id++;
    req.body_case = ORION__REQUEST__BODY_HELLO;
    req.hello = &hello;
    int rc = harness_send_request(fd, &req);
    if (rc < 0)
        return rc;
    int pfd = -1, nf = 0;
    Orion__Response *resp = harness_recv_response(fd, 5000 * harness_slowdown(), &pfd, &nf, &rc);
    if (!resp)
        return rc;
    if (resp->body_case == ORION__RESPONSE__BODY_ERROR) {
        rc = resp->error->code < 0 ? resp->error->code : -EPROTO;
    } else if (resp->body_case != ORION__RESPONSE__BODY_HELLO ||
               resp->request_id != req.request_id) {
        rc = -EBADMSG;
    } else {
        if (arena_bytes)
            *arena_bytes = resp->hello->arena_bytes;
        rc = 0;
    }
    if (rc == 0 && arena_fd) {
        *arena_fd = pfd;
        pfd = -1;
    }
    if (pfd >= 0)
        close(pfd);
    if (n_fds)
        *n_fds = nf;
    orion__response__free_unpacked(resp, NULL);
    return rc;
}

int harness_session(const char *path)
{
    int fd = harness_connect(path);
    if (fd < 0)
        return fd;
    int afd = -1;
    int rc = harness_hello(fd, ORION_PROTOCOL_VERSION, NULL, &afd, NULL);
    if (afd >= 0)
        close(afd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int harness_expect_close(int fd, int timeout_ms, int *n_frames)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    int frames = 0;
    int rc;
    for (;;) {
        int64_t left = deadline - harness_now_ms();
        uint8_t *body;
        size_t len;
        rc = harness_recv_frame(fd, left > 0 ? (int)left : 0, &body, &len, NULL, NULL);
        if (rc == 0) {
            free(body);
            frames++;
            continue;
        }
        break;
    }
    if (rc == -EPROTO) {
        /* Not a frame we can follow: drain raw bytes until the close. */
        uint8_t buf[4096];
        for (;;) {
            int64_t left = deadline - harness_now_ms();
            if (left <= 0) {
                rc = -ETIMEDOUT;
                break;
            }
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            if (poll(&pfd, 1, (int)left) <= 0)
                continue;
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                rc = -ECONNRESET;
                break;
            }
        }
    }
    if (n_frames)
        *n_frames = frames;
    if (rc == -ECONNRESET)
        return 0;
    return rc == -ETIMEDOUT ? -ETIMEDOUT : rc;
}

int harness_stats(const char *path, int fd, Orion__StatsReply *out)
{
    int own = -1;
    if (fd < 0) {
        own = harness_session(path);
        if (own < 0)
            return own;
        fd = own;
    }
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Stats st = ORION__STATS__INIT;
    req.request_id = next_request_id++;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &st;
    int rc;
    Orion__Response *resp = harness_call(fd, &req, 5000, &rc);
    if (resp) {
        if (resp->body_case == ORION__RESPONSE__BODY_STATS) {
            *out = *resp->stats;
            out->base.unknown_fields = NULL;
            out->base.n_unknown_fields = 0;
            rc = 0;
        } else if (resp->body_case == ORION__RESPONSE__BODY_ERROR) {
            rc = resp->error->code < 0 ? resp->error->code : -EPROTO;
        } else {
            rc = -EBADMSG;
        }
        orion__response__free_unpacked(resp, NULL);
    }
    if (own >= 0)
        close(own);
    return rc;
}

int harness_wait_stats(const char *path, uint64_t used_bytes, uint32_t graphs, uint32_t buffers,
                       uint64_t allocations, int want_clients, int timeout_ms,
                       Orion__StatsReply *last)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    Orion__StatsReply st = ORION__STATS_REPLY__INIT;
    for (;;) {
        int rc = harness_stats(path, -1, &st);
        if (rc == 0 && st.used_bytes == used_bytes && st.graphs == graphs &&
            st.buffers == buffers && st.allocations == allocations &&
            (want_clients < 0 || st.clients == (uint32_t)want_clients + 1)) {
            if (last)
                *last = st;
            return 0;
        }
        if (harness_now_ms() > deadline) {
            if (last)
                *last = st;
            return rc < 0 ? rc : -ETIMEDOUT;
        }
        harness_sleep_ms(5);
    }
}


/* The request and everything it points to, in one block. */
struct chain_block {
    Orion__Request req;
    Orion__RegisterGraph rg;
    Orion__Tensor *tens;
    Orion__Tensor **tp;
    Orion__Op *ops;
    Orion__Op **op;
    uint64_t *ids;
};

Orion__Request *harness_chain_request(uint32_t n, const char *name, uint64_t base, unsigned mod,
                                      bool last_output)
{
    struct chain_block *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->tens = calloc(n, sizeof(*c->tens));
    c->tp = calloc(n, sizeof(*c->tp));
    c->ops = calloc(n, sizeof(*c->ops));
    c->op = calloc(n, sizeof(*c->op));
    c->ids = calloc(n, sizeof(*c->ids));
    if (!c->tens || !c->tp || !c->ops || !c->op || !c->ids) {
        harness_chain_free(&c->req);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        orion__tensor__init(&c->tens[i]);
        c->ids[i] = (uint64_t)i + 1;
        c->tens[i].id = c->ids[i];
        c->tens[i].bytes = base + 64 * (uint64_t)(i % mod);
        c->tens[i].kind = i == 0                          ? ORION__TENSOR_KIND__INPUT
                          : i == n - 1 && last_output ? ORION__TENSOR_KIND__OUTPUT
                                                      : ORION__TENSOR_KIND__INTERMEDIATE;
        c->tp[i] = &c->tens[i];
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        orion__op__init(&c->ops[i]);
        c->ops[i].inputs = &c->ids[i];
        c->ops[i].n_inputs = 1;
        c->ops[i].outputs = &c->ids[i + 1];
        c->ops[i].n_outputs = 1;
        c->op[i] = &c->ops[i];
    }
    orion__register_graph__init(&c->rg);
    c->rg.name = (char *)name;
    c->rg.n_tensors = n;
    c->rg.tensors = c->tp;
    c->rg.n_ops = n - 1;
    c->rg.ops = c->op;
    orion__request__init(&c->req);
    c->req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    c->req.register_graph = &c->rg;
    return &c->req;
}

void harness_chain_free(Orion__Request *req)
{
    if (req == NULL)
        return;
    struct chain_block *c = (struct chain_block *)req; /* req is its first member */
    free(c->tens);
    free(c->tp);
    free(c->ops);
    free(c->op);
    free(c->ids);
    free(c);
}
