/* test_daemon.c - orionrtd over a raw socket: framing, handshake, every class
 * of bad input, limits, named buffers, start-up and shut-down.
 *
 * Each test starts its own daemon (harness.h) on a private socket and shm
 * name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "harness_fixture.h"

#define ARENA_16M ((uint64_t)16 << 20)
#define REPLY_MS 5000
/* daemon/dispatch.h: unknown fields a request may carry. */
#define DISPATCH_UNKNOWN_MAX 1024u

static int session(void)
{
    int fd = harness_session(D.socket_path);
    ck_assert_msg(fd >= 0, "connect+hello to %s failed: %s", D.socket_path, strerror(-fd));
    return fd;
}

static uint64_t next_id = 100;

/* The error code of a response, 0 if it is not an error. */
static int code_of(const Orion__Response *r)
{
    return r->body_case == ORION__RESPONSE__BODY_ERROR ? r->error->code : 0;
}

static const char *msg_of(const Orion__Response *r)
{
    return r->body_case == ORION__RESPONSE__BODY_ERROR && r->error->message ? r->error->message
                                                                             : "";
}

static Orion__Response *call(int fd, Orion__Request *req)
{
    int err = 0;
    req->request_id = next_id++;
    Orion__Response *r = harness_call(fd, req, REPLY_MS, &err);
    ck_assert_msg(r != NULL, "no reply to request %d: %s", (int)req->body_case, strerror(-err));
    ck_assert_msg(r->request_id == req->request_id, "reply id %llu, request id %llu",
                  (unsigned long long)r->request_id, (unsigned long long)req->request_id);
    return r;
}

/* Stats on fd; fails the test on any error. */
static Orion__StatsReply stats_on(int fd)
{
    Orion__StatsReply st;
    int rc = harness_stats(D.socket_path, fd, &st);
    ck_assert_msg(rc == 0, "stats failed: %s", strerror(-rc));
    return st;
}

/* Nothing is allocated, and exactly `clients` sessions besides the checker. */
static void assert_clean(int clients)
{
    Orion__StatsReply st;
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, clients, 3000, &st);
    ck_assert_msg(rc == 0,
                  "daemon not back to empty: used_bytes=%llu graphs=%u buffers=%u "
                  "allocations=%llu clients=%u (want %d + checker) (%s)",
                  (unsigned long long)st.used_bytes, st.graphs, st.buffers,
                  (unsigned long long)st.allocations, st.clients, clients, strerror(-rc));
    ck_assert_msg(harness_daemon_alive(&D), "daemon died");
}

/* --- graph building -------------------------------------------------------- */

struct tspec {
    uint64_t id, bytes, align;
    int kind;
    const char *share;
};

struct ospec {
    const char *name;
    uint64_t in[10];
    size_t n_in;
    uint64_t out[10];
    size_t n_out;
};

static Orion__Response *do_register(int fd, const struct tspec *t, size_t nt,
                                    const struct ospec *o, size_t no, const char *policy)
{
    Orion__Tensor *tens = calloc(nt ? nt : 1, sizeof *tens);
    Orion__Tensor **tp = calloc(nt ? nt : 1, sizeof *tp);
    Orion__Op *ops = calloc(no ? no : 1, sizeof *ops);
    Orion__Op **op = calloc(no ? no : 1, sizeof *op);
    ck_assert(tens && tp && ops && op);
    for (size_t i = 0; i < nt; i++) {
        orion__tensor__init(&tens[i]);
        tens[i].id = t[i].id;
        tens[i].bytes = t[i].bytes;
        tens[i].align = t[i].align;
        tens[i].kind = (Orion__TensorKind)t[i].kind;
        tens[i].share = (char *)(t[i].share ? t[i].share : "");
        tp[i] = &tens[i];
    }
    for (size_t i = 0; i < no; i++) {
        orion__op__init(&ops[i]);
        ops[i].name = (char *)(o[i].name ? o[i].name : "");
        ops[i].n_inputs = o[i].n_in;
        ops[i].inputs = (uint64_t *)o[i].in;
        ops[i].n_outputs = o[i].n_out;
        ops[i].outputs = (uint64_t *)o[i].out;
        op[i] = &ops[i];
    }
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.name = (char *)"test-graph";
    rg.n_tensors = nt;
    rg.tensors = tp;
    rg.n_ops = no;
    rg.ops = op;
    rg.policy = (char *)(policy ? policy : "");
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    Orion__Response *r = call(fd, &req);
    free(tens);
    free(tp);
    free(ops);
    free(op);
    return r;
}

/* A valid three-op chain: in -> a -> b -> out. */
static const struct tspec chain_t[] = {
    { 1, 1024, 0, ORION__TENSOR_KIND__INPUT, NULL },
    { 2, 4096, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL },
    { 3, 2048, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL },
    { 4, 512, 0, ORION__TENSOR_KIND__OUTPUT, NULL },
};
static const struct ospec chain_o[] = {
    { "conv", { 1 }, 1, { 2 }, 1 },
    { "relu", { 2 }, 1, { 3 }, 1 },
    { "pool", { 3 }, 1, { 4 }, 1 },
};

static int release_graph(int fd, uint64_t graph_id)
{
    Orion__ReleaseGraph rel = ORION__RELEASE_GRAPH__INIT;
    rel.graph_id = graph_id;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_RELEASE_GRAPH;
    req.release_graph = &rel;
    Orion__Response *r = call(fd, &req);
    int rc = code_of(r);
    if (rc == 0)
        ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_OK);
    orion__response__free_unpacked(r, NULL);
    return rc;
}

/* Register the chain, check the reply, release it. */
static void register_chain_ok(int fd)
{
    Orion__Response *r = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH,
                  "valid chain refused: %d %s", code_of(r), msg_of(r));
    ck_assert_uint_eq(r->register_graph->n_tensors, 4);
    uint64_t id = r->register_graph->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(fd, id), 0);
}

/* --- buffers -------------------------------------------------------------- */

static Orion__Response *buf_req(int fd, Orion__Request__BodyCase what, const char *name,
                                uint64_t bytes, uint64_t align, int64_t timeout_ms,
                                Orion__WaitFor wait_for)
{
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__BufferCreate cr = ORION__BUFFER_CREATE__INIT;
    Orion__BufferOpen op = ORION__BUFFER_OPEN__INIT;
    Orion__BufferSeal se = ORION__BUFFER_SEAL__INIT;
    Orion__BufferRelease re = ORION__BUFFER_RELEASE__INIT;
    Orion__BufferWait wa = ORION__BUFFER_WAIT__INIT;
    req.body_case = what;
    switch (what) {
    case ORION__REQUEST__BODY_BUFFER_CREATE:
        cr.name = (char *)name;
        cr.bytes = bytes;
        cr.align = align;
        req.buffer_create = &cr;
        break;
    case ORION__REQUEST__BODY_BUFFER_OPEN:
        op.name = (char *)name;
        req.buffer_open = &op;
        break;
    case ORION__REQUEST__BODY_BUFFER_SEAL:
        se.name = (char *)name;
        req.buffer_seal = &se;
        break;
    case ORION__REQUEST__BODY_BUFFER_RELEASE:
        re.name = (char *)name;
        req.buffer_release = &re;
        break;
    case ORION__REQUEST__BODY_BUFFER_WAIT:
        wa.name = (char *)name;
        wa.timeout_ms = timeout_ms;
        wa.what = wait_for;
        req.buffer_wait = &wa;
        break;
    default:
        ck_abort_msg("not a buffer request");
    }
    return call(fd, &req);
}

/* Run a buffer request and return its code (0 for a non-error reply). */
static int buf_code(int fd, Orion__Request__BodyCase what, const char *name, uint64_t bytes,
                    uint64_t align)
{
    Orion__Response *r = buf_req(fd, what, name, bytes, align, 0, ORION__WAIT_FOR__SEALED);
    int rc = code_of(r);
    orion__response__free_unpacked(r, NULL);
    return rc;
}

#define CREATE ORION__REQUEST__BODY_BUFFER_CREATE
#define OPEN ORION__REQUEST__BODY_BUFFER_OPEN
#define SEAL ORION__REQUEST__BODY_BUFFER_SEAL
#define RELEASE ORION__REQUEST__BODY_BUFFER_RELEASE

/* ===================================================================== */
/* Handshake                                                             */
/* ===================================================================== */

START_TEST(test_hello_passes_one_fd_that_maps_the_arena)
{
    harness_fixture_start(NULL);
    int fd = harness_connect(D.socket_path);
    ck_assert_int_ge(fd, 0);
    uint64_t arena_bytes = 0;
    int afd = -1, nfds = 0;
    int rc = harness_hello(fd, ORION_PROTOCOL_VERSION, &arena_bytes, &afd, &nfds);
    ck_assert_msg(rc == 0, "hello failed: %s", strerror(-rc));
    ck_assert_int_eq(nfds, 1);
    ck_assert_int_ge(afd, 0);
    ck_assert_uint_eq(arena_bytes, ARENA_16M);

    struct stat sb;
    ck_assert_int_eq(fstat(afd, &sb), 0);
    ck_assert_uint_ge((uint64_t)sb.st_size, arena_bytes);
    uint8_t *p = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);

    /* The passed fd is the daemon's arena: a write through it shows in the
     * shm object the daemon created under its name. */
    p[12345] = 0xa5;
    p[arena_bytes - 1] = 0x5a;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", D.shm_name);
    int nfd = open(path, O_RDONLY);
    ck_assert_msg(nfd >= 0, "%s: %s", path, strerror(errno));
    uint8_t *q = mmap(NULL, arena_bytes, PROT_READ, MAP_SHARED, nfd, 0);
    ck_assert_ptr_ne(q, MAP_FAILED);
    ck_assert_uint_eq(q[12345], 0xa5);
    ck_assert_uint_eq(q[arena_bytes - 1], 0x5a);
    munmap(q, arena_bytes);
    munmap(p, arena_bytes);
    close(nfd);
    close(afd);
    close(fd);
}
END_TEST

START_TEST(test_hello_with_wrong_version_is_refused_and_closed)
{
    harness_fixture_start(NULL);
    int fd = harness_connect(D.socket_path);
    ck_assert_int_ge(fd, 0);
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Hello hello = ORION__HELLO__INIT;
    hello.protocol_version = 7;
    req.body_case = ORION__REQUEST__BODY_HELLO;
    req.hello = &hello;
    int nfds = 0;
    ck_assert_int_eq(harness_send_request(fd, &req), 0);
    int err;
    Orion__Response *r = harness_recv_response(fd, REPLY_MS, NULL, &nfds, &err);
    ck_assert_msg(r != NULL, "no reply: %s", strerror(-err));
    ck_assert_int_eq(nfds, 0);
    ck_assert_int_eq(code_of(r), -EPROTONOSUPPORT);
    /* The message names both versions. */
    ck_assert_msg(strchr(msg_of(r), '7') && strchr(msg_of(r), '1'), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_request_before_hello_is_refused_and_closed)
{
    harness_fixture_start(NULL);
    int fd = harness_connect(D.socket_path);
    ck_assert_int_ge(fd, 0);
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Stats st = ORION__STATS__INIT;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &st;
    Orion__Response *r = call(fd, &req);
    ck_assert_int_eq(code_of(r), -EPROTO);
    ck_assert_msg(strstr(msg_of(r), "hello"), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_second_hello_is_refused_and_connection_stays)
{
    harness_fixture_start(NULL);
    int fd = session();
    uint64_t bytes;
    int afd = -1;
    ck_assert_int_eq(harness_hello(fd, ORION_PROTOCOL_VERSION, &bytes, &afd, NULL), -EPROTO);
    ck_assert_int_eq(afd, -1);
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.arena_bytes, ARENA_16M);
    close(fd);
}
END_TEST

START_TEST(test_reply_echoes_request_id_and_pipelined_requests_answer_in_order)
{
    harness_fixture_start(NULL);
    int fd = session();
    /* Three requests in one write; three replies, in order. */
    uint8_t wire[256];
    size_t n = 0;
    uint64_t ids[3] = { 0xdeadbeef01ull, 7, 0xdeadbeef03ull };
    for (int i = 0; i < 3; i++) {
        Orion__Request req = ORION__REQUEST__INIT;
        Orion__Stats st = ORION__STATS__INIT;
        req.request_id = ids[i];
        req.body_case = ORION__REQUEST__BODY_STATS;
        req.stats = &st;
        size_t len = orion__request__get_packed_size(&req);
        frame_put_header(wire + n, (uint32_t)len);
        orion__request__pack(&req, wire + n + 4);
        n += 4 + len;
    }
    ck_assert_int_eq(harness_send_all(fd, wire, n), 0);
    for (int i = 0; i < 3; i++) {
        int err;
        Orion__Response *r = harness_recv_response(fd, REPLY_MS, NULL, NULL, &err);
        ck_assert_msg(r != NULL, "reply %d: %s", i, strerror(-err));
        ck_assert_uint_eq(r->request_id, ids[i]);
        ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_STATS);
        orion__response__free_unpacked(r, NULL);
    }
    close(fd);
}
END_TEST

/* ===================================================================== */
/* Connection limits                                                      */
/* ===================================================================== */

/* Connect and hello, retrying while the daemon still counts connections
 * that are gone (the harness's readiness probe, a closed session) against
 * --max-clients. */
static int session_when_room(void)
{
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    int fd;
    while ((fd = harness_session(D.socket_path)) < 0 && harness_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(fd >= 0, "no session within 3 s: %s", strerror(-fd));
    return fd;
}

/* Poll stats on fd until the daemon counts `want` clients. */
static void wait_clients(int fd, uint32_t want)
{
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    Orion__StatsReply st = stats_on(fd);
    while (st.clients != want && harness_now_ms() < deadline) {
        usleep(10 * 1000);
        st = stats_on(fd);
    }
    ck_assert_msg(st.clients == want, "%u clients, want %u", st.clients, want);
}

static int count_lines_with(const char *log, const char *what)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

START_TEST(test_connection_over_max_clients_is_told_ebusy_and_closed)
{
    const char *extra[] = { HARNESS_FLAG_MAX_CLIENTS, "2", NULL };
    harness_fixture_start(extra);
    int a = session_when_room();
    int b = session_when_room();
    wait_clients(b, 2); /* a and b, nothing stale */

    /* The third is accepted, told why without asking, and closed. */
    int c = harness_connect(D.socket_path);
    ck_assert_int_ge(c, 0);
    int err = 0;
    Orion__Response *r = harness_recv_response(c, REPLY_MS, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply over the limit: %s", strerror(-err));
    ck_assert_int_eq(code_of(r), -EBUSY);
    ck_assert_msg(strcmp(msg_of(r), "too many clients: 2 connected, the limit is 2") == 0,
                  "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(harness_expect_close(c, 2000, NULL), 0);
    close(c);
    /* Not counted, and logged once. */
    ck_assert_uint_eq(stats_on(b).clients, 2);
    char *log = harness_daemon_log(&D);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(count_lines_with(log, "too many clients") == 1, "log: %s", log);
    free(log);

    /* One leaves: the next is served. */
    close(a);
    wait_clients(b, 1);
    int d = session();
    ck_assert_uint_eq(stats_on(d).clients, 2);
    register_chain_ok(d);
    close(d);
    close(b);
    assert_clean(0);
}
END_TEST

START_TEST(test_connection_without_hello_is_closed_after_the_deadline)
{
    const char *extra[] = { HARNESS_FLAG_HELLO_TIMEOUT, "0.3", NULL };
    harness_fixture_start(extra);
    int keep = session();
    int idle = harness_connect(D.socket_path);
    ck_assert_int_ge(idle, 0);
    /* Half a frame is no better than nothing. */
    int partial = harness_connect(D.socket_path);
    ck_assert_int_ge(partial, 0);
    uint8_t hdr[4];
    frame_put_header(hdr, 64);
    ck_assert_int_eq(harness_send_all(partial, hdr, 4), 0);
    int64_t t0 = harness_now_ms();

    int fds[2] = { idle, partial };
    for (int i = 0; i < 2; i++) {
        int err = 0;
        Orion__Response *r = harness_recv_response(fds[i], REPLY_MS, NULL, NULL, &err);
        ck_assert_msg(r != NULL, "connection %d: no reply: %s", i, strerror(-err));
        ck_assert_int_eq(code_of(r), -ETIMEDOUT);
        ck_assert_msg(strstr(msg_of(r), "no hello within 0.3 s"), "message: %s", msg_of(r));
        orion__response__free_unpacked(r, NULL);
        ck_assert_int_eq(harness_expect_close(fds[i], 2000, NULL), 0);
        close(fds[i]);
    }
    int64_t waited = harness_now_ms() - t0;
    /* t0 is taken after the accept, so allow for a slow start of this test. */
    ck_assert_msg(waited >= 150, "closed after %lld ms, before the deadline", (long long)waited);

    /* The connection that said hello stays past the deadline. */
    ck_assert_uint_eq(stats_on(keep).arena_bytes, ARENA_16M);
    char *log = harness_daemon_log(&D);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(count_lines_with(log, "no hello within 0.3 s; closing") == 2, "log: %s", log);
    free(log);
    assert_clean(1);
    close(keep);
}
END_TEST

/* ===================================================================== */
/* Framing and garbage                                                    */
/* ===================================================================== */

START_TEST(test_http_garbage_closes_connection_only)
{
    harness_fixture_start(NULL);
    int keep = session();
    int fd = harness_connect(D.socket_path);
    ck_assert_int_ge(fd, 0);
    /* "GET " read as a length is 0x20544547, far above the 16 MiB default. */
    const char *junk = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    int rc = harness_send_all(fd, junk, strlen(junk));
    ck_assert_msg(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "send: %s", strerror(-rc));
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    /* The other connection is untouched. */
    register_chain_ok(keep);
    assert_clean(1);
    close(keep);
}
END_TEST

START_TEST(test_frame_above_max_frame_closes_connection)
{
    const char *extra[] = { HARNESS_FLAG_MAX_FRAME, "1024", NULL };
    harness_fixture_start(extra);
    int fd = session();
    uint8_t body[2048];
    memset(body, 0, sizeof body);
    /* A header of 2048 > 1024: closed without reading the body (so the send
     * itself may already meet the close). */
    int rc = harness_send_frame(fd, body, sizeof body);
    ck_assert_msg(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "send: %s", strerror(-rc));
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    /* A frame just under the limit is fine (a stats request padded with
     * an unknown field would be; a plain one is enough to show service). */
    int fd2 = session();
    Orion__StatsReply st = stats_on(fd2);
    ck_assert_uint_eq(st.arena_bytes, ARENA_16M);
    close(fd2);
    assert_clean(0);
}
END_TEST

START_TEST(test_zero_length_frame_closes_connection)
{
    harness_fixture_start(NULL);
    int fd = session();
    ck_assert_int_eq(harness_send_frame(fd, NULL, 0), 0);
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_truncated_frame_then_close_leaves_nothing)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Stats st = ORION__STATS__INIT;
    req.request_id = 1;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &st;
    /* A real request's frame, cut after half its body. */
    uint8_t wire[64];
    size_t len = orion__request__get_packed_size(&req);
    ck_assert_uint_lt(len + 4, sizeof wire);
    frame_put_header(wire, (uint32_t)len);
    orion__request__pack(&req, wire + 4);
    ck_assert_int_eq(harness_send_all(fd, wire, 4 + len / 2), 0);
    close(fd);
    /* The daemon neither hangs nor keeps the half connection. */
    assert_clean(0);
}
END_TEST

START_TEST(test_partial_frame_does_not_block_other_clients)
{
    harness_fixture_start(NULL);
    int slow = session();
    uint8_t hdr[4];
    frame_put_header(hdr, 64);
    ck_assert_int_eq(harness_send_all(slow, hdr, 4), 0);
    ck_assert_int_eq(harness_send_all(slow, "\x08", 1), 0);
    /* While `slow` sits in the middle of a frame, others are served. */
    int fd = session();
    register_chain_ok(fd);
    Orion__StatsReply s = stats_on(fd);
    ck_assert_uint_eq(s.clients, 2);
    close(fd);
    close(slow);
    assert_clean(0);
}
END_TEST

START_TEST(test_invalid_protobuf_replies_eproto_and_closes)
{
    harness_fixture_start(NULL);
    int fd = session();
    /* Field 1 with wire type 7 (does not exist) then a runaway varint. */
    const uint8_t bad[] = { 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ck_assert_int_eq(harness_send_frame(fd, bad, sizeof bad), 0);
    int err;
    Orion__Response *r = harness_recv_response(fd, REPLY_MS, NULL, NULL, &err);
    if (r) {
        /* Error{-EPROTO} before the close is what the protocol asks for. */
        ck_assert_int_eq(code_of(r), -EPROTO);
        orion__response__free_unpacked(r, NULL);
        ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    } else {
        ck_assert_msg(err == -ECONNRESET, "neither error reply nor close: %s", strerror(-err));
    }
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_request_without_body_replies_eproto_and_closes)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Request req = ORION__REQUEST__INIT;
    req.request_id = 4242;
    Orion__Response *r = call(fd, &req);
    ck_assert_int_eq(code_of(r), -EPROTO);
    ck_assert_msg(strlen(msg_of(r)) > 0, "empty error message");
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(harness_expect_close(fd, 2000, NULL), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

/* The daemon's peak resident memory so far, in KiB (VmHWM), or -1. */
static long daemon_peak_kib(void)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)D.pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* A raw Request: request_id = id, then n copies of the 2-byte record rec,
 * wrapped in field `wrap` (length-delimited) if wrap > 0, else at top level
 * after a Stats body. malloc'd, length in *len. */
static uint8_t *raw_request(uint64_t id, unsigned wrap, const uint8_t rec[2], size_t n,
                            size_t *len)
{
    uint8_t *b = malloc(32 + 2 * n);
    ck_assert_ptr_nonnull(b);
    size_t k = 0;
    b[k++] = 0x08; /* request_id, varint */
    for (uint64_t v = id;; v >>= 7) {
        b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    if (wrap > 0) {
        b[k++] = (uint8_t)(wrap << 3 | 2);
        for (uint64_t v = 2 * (uint64_t)n;; v >>= 7) {
            b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            if (v <= 0x7f)
                break;
        }
    } else {
        b[k++] = 10 << 3 | 2; /* stats {} */
        b[k++] = 0;
    }
    for (size_t i = 0; i < n; i++, k += 2)
        memcpy(b + k, rec, 2);
    *len = k;
    return b;
}

/* protobuf-c allocates ~80 bytes for each 2-byte empty Tensor: a frame under
 * the limit must not make the daemon allocate a gigabyte before it counts. */
START_TEST(test_huge_tensor_count_is_refused_before_decoding)
{
    harness_fixture_start(NULL);
    int fd = session();
    const uint8_t empty_tensor[2] = { 2 << 3 | 2, 0 };
    size_t len;
    uint8_t *req = raw_request(4711, 3, empty_tensor, 7000000, &len);
    ck_assert_int_eq(harness_send_frame(fd, req, (uint32_t)len), 0);
    free(req);
    int err;
    Orion__Response *r = harness_recv_response(fd, 4 * REPLY_MS, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply: %s", strerror(-err));
    ck_assert_uint_eq(r->request_id, 4711);
    ck_assert_int_eq(code_of(r), -E2BIG);
    ck_assert_msg(strstr(msg_of(r), "7000000 tensors") != NULL, "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    long kib = daemon_peak_kib();
    ck_assert_msg(kib > 0 && kib < 256 * 1024, "daemon peaked at %ld KiB", kib);
    /* The frame was consumed whole: the connection goes on. */
    Orion__StatsReply st;
    ck_assert_int_eq(harness_stats(D.socket_path, fd, &st), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

/* protobuf-c keeps every unknown field in an allocation of its own. */
START_TEST(test_request_with_millions_of_unknown_fields_is_refused)
{
    harness_fixture_start(NULL);
    int fd = session();
    const uint8_t unknown[2] = { 15 << 3 | 0, 0 };
    size_t len;
    /* Decoded on the loop (small frame) and on the pool (large one). */
    const size_t counts[] = { DISPATCH_UNKNOWN_MAX + 1, 7000000 };
    for (size_t i = 0; i < 2; i++) {
        uint8_t *req = raw_request(100 + i, 0, unknown, counts[i], &len);
        ck_assert_int_eq(harness_send_frame(fd, req, (uint32_t)len), 0);
        free(req);
        int err;
        Orion__Response *r = harness_recv_response(fd, 4 * REPLY_MS, NULL, NULL, &err);
        ck_assert_msg(r != NULL, "no reply: %s", strerror(-err));
        ck_assert_uint_eq(r->request_id, 100 + i);
        ck_assert_int_eq(code_of(r), -E2BIG);
        ck_assert_msg(strstr(msg_of(r), "does not know") != NULL, "message: %s", msg_of(r));
        orion__response__free_unpacked(r, NULL);
    }
    long kib = daemon_peak_kib();
    ck_assert_msg(kib > 0 && kib < 256 * 1024, "daemon peaked at %ld KiB", kib);
    Orion__StatsReply st;
    ck_assert_int_eq(harness_stats(D.socket_path, fd, &st), 0);
    close(fd);
    assert_clean(0);
}
END_TEST

/* A connection closed for a protocol error gets a bounded time to read its
 * last replies: the deadline must hold when the bad request was a large frame
 * decoded on the thread pool too (resuming the connection must not replace
 * the deadline). */
START_TEST(test_peer_that_reads_nothing_is_closed_after_a_pooled_bad_request)
{
    harness_fixture_start(NULL);
    int fd = session();
    /* Replies it does not read, enough to fill the socket's buffer. */
    Orion__Stats sb = ORION__STATS__INIT;
    Orion__Request sreq = ORION__REQUEST__INIT;
    sreq.body_case = ORION__REQUEST__BODY_STATS;
    sreq.stats = &sb;
    for (int i = 0; i < 4000; i++) {
        sreq.request_id = (uint64_t)i + 1;
        ck_assert_int_eq(harness_send_request(fd, &sreq), 0);
    }
    /* Then a request of 300 KB with no body: one unknown bytes field. */
    size_t n = 300000;
    uint8_t *b = calloc(1, n + 16);
    ck_assert_ptr_nonnull(b);
    size_t k = 0;
    b[k++] = 0x08;
    b[k++] = 0x01;
    b[k++] = 15 << 3 | 2;
    for (uint64_t v = n;; v >>= 7) {
        b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    ck_assert_int_eq(harness_send_frame(fd, b, (uint32_t)(k + n)), 0);
    free(b);
    Orion__StatsReply st;
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, 0, 10000, &st);
    ck_assert_msg(rc == 0, "the connection that reads nothing is still open: %u clients",
                  st.clients);
    close(fd);
}
END_TEST

/* ===================================================================== */
/* Graphs                                                                */
/* ===================================================================== */

START_TEST(test_register_places_tensors_in_workspace_and_release_frees)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Response *r = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "refused: %d %s",
                  code_of(r), msg_of(r));
    Orion__RegisterGraphReply *g = r->register_graph;
    ck_assert_uint_eq(g->n_tensors, 4);
    /* Lower bound of the chain: the largest sum of live sizes at one op.
     * The input lives from the start to its last read, the output from its
     * write to the end: op0 {1,2}: 5120, op1 {2,3}: 6144, op2 {3,4}: 2560. */
    ck_assert_uint_eq(g->lower_bound_bytes, 4096 + 2048);
    ck_assert_uint_ge(g->peak_bytes, g->lower_bound_bytes);
    ck_assert_uint_lt(g->workspace_offset, ARENA_16M);
    ck_assert_uint_eq(g->workspace_offset % 64, 0);
    for (size_t i = 0; i < 4; i++) {
        Orion__TensorPlacement *t = g->tensors[i];
        ck_assert_uint_eq(t->id, chain_t[i].id);
        ck_assert_uint_eq(t->bytes, chain_t[i].bytes);
        ck_assert_uint_eq(t->offset % 64, 0);
        ck_assert_uint_ge(t->offset, g->workspace_offset);
        ck_assert_uint_le(t->offset + t->bytes, g->workspace_offset + g->peak_bytes);
    }
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.graphs, 1);
    ck_assert_uint_ge(st.used_bytes, g->peak_bytes);
    ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.arena_bytes);
    uint64_t id = g->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(fd, id), 0);
    /* Released twice, or someone else's id: -EINVAL. */
    ck_assert_int_eq(release_graph(fd, id), -EINVAL);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_release_of_another_connections_graph_is_refused)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    Orion__Response *r = do_register(a, chain_t, 4, chain_o, 3, NULL);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    uint64_t id = r->register_graph->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(b, id), -EINVAL);
    ck_assert_uint_eq(stats_on(b).graphs, 1);
    close(a);
    assert_clean(1);
    close(b);
}
END_TEST

/* One invalid graph per class: refused with the code and a message naming
 * the op and tensor; the connection stays usable and nothing leaks. */
struct bad_graph {
    const char *what;
    struct tspec t[10];
    size_t nt;
    struct ospec o[4];
    size_t no;
    const char *policy;
    int code;
    const char *needles[3];
};

#define IN ORION__TENSOR_KIND__INPUT
#define OUT ORION__TENSOR_KIND__OUTPUT
#define MID ORION__TENSOR_KIND__INTERMEDIATE

static const struct bad_graph bad_graphs[] = {
    { "unknown tensor id",
      { { 1, 256, 0, IN, NULL }, { 2, 256, 0, OUT, NULL } }, 2,
      { { "op_reads_ghost", { 1, 4242 }, 2, { 2 }, 1 } }, 1,
      NULL, -EINVAL, { "4242", "op_reads_ghost" } },
    { "duplicate tensor id",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, OUT, NULL }, { 4242, 512, 0, OUT, NULL } }, 3,
      { { "op_dup", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "tensor written twice",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, MID, NULL }, { 2, 256, 0, OUT, NULL } }, 3,
      { { "first_writer", { 1 }, 1, { 4242 }, 1 },
        { "second_writer", { 1 }, 1, { 4242 }, 1 },
        { "reader", { 4242 }, 1, { 2 }, 1 } }, 3,
      NULL, -EINVAL, { "4242", "second_writer" } },
    { "read before written",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, MID, NULL }, { 2, 256, 0, OUT, NULL } }, 3,
      { { "early_reader", { 4242 }, 1, { 2 }, 1 },
        { "late_writer", { 1 }, 1, { 4242 }, 1 } }, 2,
      NULL, -EINVAL, { "4242", "early_reader" } },
    { "zero size",
      { { 1, 256, 0, IN, NULL }, { 4242, 0, 0, OUT, NULL } }, 2,
      { { "op_zero", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "size that overflows",
      { { 1, 256, 0, IN, NULL }, { 4242, UINT64_MAX - 63, 0, OUT, NULL } }, 2,
      { { "op_huge", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "alignment not a power of two",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 96, OUT, NULL } }, 2,
      { { "op_align", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
    { "empty graph", { { 0 } }, 0, { { 0 } }, 0, NULL, -EINVAL, { NULL } },
    { "more tensors than --max-tensors 8",
      { { 1, 64, 0, IN, NULL }, { 2, 64, 0, MID, NULL }, { 3, 64, 0, MID, NULL },
        { 4, 64, 0, MID, NULL }, { 5, 64, 0, MID, NULL }, { 6, 64, 0, MID, NULL },
        { 7, 64, 0, MID, NULL }, { 8, 64, 0, MID, NULL }, { 9, 64, 0, OUT, NULL } }, 9,
      { { "op_many", { 1 }, 1, { 2, 3, 4, 5, 6, 7, 8, 9 }, 8 } }, 1,
      NULL, -E2BIG, { "8", "9" } },
    { "unknown policy",
      { { 1, 256, 0, IN, NULL }, { 2, 256, 0, OUT, NULL } }, 2,
      { { "op", { 1 }, 1, { 2 }, 1 } }, 1,
      "no-such-policy", -EINVAL, { "no-such-policy" } },
    { "import of an unpublished name",
      { { 4242, 256, 0, ORION__TENSOR_KIND__IMPORT, "nobody-exports-this" },
        { 2, 256, 0, OUT, NULL } }, 2,
      { { "op_import", { 4242 }, 1, { 2 }, 1 } }, 1,
      NULL, -ENOENT, { "nobody-exports-this" } },
    { "export without a name",
      { { 1, 256, 0, IN, NULL }, { 4242, 256, 0, ORION__TENSOR_KIND__EXPORT, "" } }, 2,
      { { "op_export", { 1 }, 1, { 4242 }, 1 } }, 1,
      NULL, -EINVAL, { "4242" } },
};

START_TEST(test_invalid_graph_is_refused_with_named_message_and_nothing_leaks)
{
    const struct bad_graph *bg = &bad_graphs[_i];
    const char *extra[] = { HARNESS_FLAG_MAX_TENSORS, "8", NULL };
    harness_fixture_start(extra);
    int fd = session();
    Orion__Response *r = do_register(fd, bg->t, bg->nt, bg->o, bg->no, bg->policy);
    ck_assert_msg(code_of(r) == bg->code, "%s: code %d (%s), want %d", bg->what, code_of(r),
                  msg_of(r), bg->code);
    for (int k = 0; k < 3 && bg->needles[k]; k++)
        ck_assert_msg(strstr(msg_of(r), bg->needles[k]), "%s: message \"%s\" lacks \"%s\"",
                      bg->what, msg_of(r), bg->needles[k]);
    orion__response__free_unpacked(r, NULL);
    /* Same connection still usable, and nothing was left behind. */
    Orion__StatsReply st = stats_on(fd);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.graphs, 0);
    ck_assert_uint_eq(st.buffers, 0);
    ck_assert_uint_eq(st.allocations, 0);
    register_chain_ok(fd);
    /* A second, well-behaved client is served. */
    int fd2 = session();
    register_chain_ok(fd2);
    close(fd2);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_arena_exhaustion_is_enospc_with_nothing_half_made)
{
    const char *extra[] = { HARNESS_FLAG_ARENA, "1M", NULL };
    harness_fixture_start(extra);
    int fd = session();
    ck_assert_int_eq(buf_code(fd, CREATE, "half", 512 << 10, 0), 0);
    Orion__StatsReply before = stats_on(fd);
    ck_assert_uint_eq(before.arena_bytes, 1 << 20);

    ck_assert_int_eq(buf_code(fd, CREATE, "too-big", 768 << 10, 0), -ENOSPC);
    /* A graph whose export fits but whose workspace does not: the export's
     * name must not survive the failure. */
    const struct tspec t[] = {
        { 1, 4096, 0, IN, NULL },
        { 2, 768 << 10, 0, ORION__TENSOR_KIND__PERSISTENT, NULL },
        { 3, 4096, 0, ORION__TENSOR_KIND__EXPORT, "exported-then-failed" },
    };
    const struct ospec o[] = { { "op", { 1, 2 }, 2, { 3 }, 1 } };
    Orion__Response *r = do_register(fd, t, 3, o, 1, NULL);
    ck_assert_msg(code_of(r) == -ENOSPC, "code %d: %s", code_of(r), msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(buf_code(fd, OPEN, "exported-then-failed", 0, 0), -ENOENT);

    Orion__StatsReply after = stats_on(fd);
    ck_assert_uint_eq(after.used_bytes, before.used_bytes);
    ck_assert_uint_eq(after.allocations, before.allocations);
    ck_assert_uint_eq(after.buffers, before.buffers);
    ck_assert_uint_eq(after.graphs, 0);
    /* Freeing the half makes room. */
    ck_assert_int_eq(buf_code(fd, RELEASE, "half", 0, 0), 0);
    ck_assert_int_eq(buf_code(fd, CREATE, "now-fits", 768 << 10, 0), 0);
    ck_assert_int_eq(buf_code(fd, RELEASE, "now-fits", 0, 0), 0);
    assert_clean(1);
    close(fd);
}
END_TEST

START_TEST(test_client_limit_is_enospc_per_connection)
{
    const char *extra[] = { HARNESS_FLAG_CLIENT_LIMIT, "64K", NULL };
    harness_fixture_start(extra);
    int a = session(), b = session();
    ck_assert_int_eq(buf_code(a, CREATE, "a1", 48 << 10, 0), 0);
    Orion__StatsReply before = stats_on(a);
    ck_assert_int_eq(buf_code(a, CREATE, "a2", 32 << 10, 0), -ENOSPC);
    const struct tspec t[] = { { 1, 32 << 10, 0, IN, NULL }, { 2, 64, 0, OUT, NULL } };
    const struct ospec o[] = { { "op", { 1 }, 1, { 2 }, 1 } };
    Orion__Response *r = do_register(a, t, 2, o, 1, NULL);
    ck_assert_msg(code_of(r) == -ENOSPC, "code %d: %s", code_of(r), msg_of(r));
    orion__response__free_unpacked(r, NULL);
    Orion__StatsReply after = stats_on(a);
    ck_assert_uint_eq(after.used_bytes, before.used_bytes);
    ck_assert_uint_eq(after.buffers, before.buffers);
    /* The limit is per connection: b has its own 64K. */
    ck_assert_int_eq(buf_code(b, CREATE, "b1", 48 << 10, 0), 0);
    close(a);
    close(b);
    assert_clean(0);
}
END_TEST

/* ===================================================================== */
/* Named buffers                                                         */
/* ===================================================================== */

START_TEST(test_buffer_create_open_seal_release_rules)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    Orion__Response *r = buf_req(a, CREATE, "buf1", 4000, 0, 0, 0);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_BUFFER, "create: %s", msg_of(r));
    ck_assert_str_eq(r->buffer->name, "buf1");
    ck_assert_uint_ge(r->buffer->bytes, 4000);
    ck_assert_uint_eq(r->buffer->offset % 64, 0);
    ck_assert(!r->buffer->sealed);
    ck_assert_uint_eq(r->buffer->refs, 1);
    uint64_t off = r->buffer->offset;
    orion__response__free_unpacked(r, NULL);

    ck_assert_int_eq(buf_code(a, CREATE, "buf1", 64, 0), -EEXIST);
    ck_assert_int_eq(buf_code(b, CREATE, "buf1", 64, 0), -EEXIST);

    r = buf_req(b, OPEN, "buf1", 0, 0, 0, 0);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert_uint_eq(r->buffer->offset, off);
    ck_assert_uint_eq(r->buffer->refs, 2);
    orion__response__free_unpacked(r, NULL);

    ck_assert_int_eq(buf_code(b, SEAL, "buf1", 0, 0), -EPERM);
    r = buf_req(a, SEAL, "buf1", 0, 0, 0, 0);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert(r->buffer->sealed);
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(buf_code(a, SEAL, "buf1", 0, 0), -EALREADY);

    ck_assert_int_eq(buf_code(a, RELEASE, "never-held", 0, 0), -ENOENT);
    ck_assert_int_eq(buf_code(b, RELEASE, "buf1", 0, 0), 0);
    ck_assert_int_eq(buf_code(b, RELEASE, "buf1", 0, 0), -ENOENT);
    ck_assert_uint_eq(stats_on(a).buffers, 1);
    ck_assert_int_eq(buf_code(a, RELEASE, "buf1", 0, 0), 0);
    /* Last hold gone: the name is free and the bytes are back. */
    ck_assert_int_eq(buf_code(b, OPEN, "buf1", 0, 0), -ENOENT);
    assert_clean(2);
    ck_assert_int_eq(buf_code(b, CREATE, "buf1", 64, 0), 0);
    close(a);
    close(b);
    assert_clean(0);
}
END_TEST

START_TEST(test_buffer_open_counts_holds)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    ck_assert_int_eq(buf_code(a, CREATE, "held", 4096, 0), 0);
    ck_assert_int_eq(buf_code(b, OPEN, "held", 0, 0), 0);
    ck_assert_int_eq(buf_code(b, OPEN, "held", 0, 0), 0);
    ck_assert_int_eq(buf_code(a, RELEASE, "held", 0, 0), 0);
    ck_assert_int_eq(buf_code(b, RELEASE, "held", 0, 0), 0);
    /* b still holds it once. */
    ck_assert_uint_eq(stats_on(b).buffers, 1);
    ck_assert_int_eq(buf_code(b, RELEASE, "held", 0, 0), 0);
    ck_assert_int_eq(buf_code(b, RELEASE, "held", 0, 0), -ENOENT);
    assert_clean(2);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_buffer_bad_arguments_are_einval)
{
    harness_fixture_start(NULL);
    int fd = session();
    char long_name[300];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    ck_assert_int_eq(buf_code(fd, CREATE, "", 64, 0), -EINVAL);
    ck_assert_int_eq(buf_code(fd, CREATE, "has space", 64, 0), -EINVAL);
    ck_assert_int_eq(buf_code(fd, CREATE, "ctl\x01", 64, 0), -EINVAL);
    ck_assert_int_eq(buf_code(fd, CREATE, long_name, 64, 0), -EINVAL);
    long_name[255] = '\0'; /* 255 bytes is allowed */
    ck_assert_int_eq(buf_code(fd, CREATE, long_name, 64, 0), 0);
    ck_assert_int_eq(buf_code(fd, CREATE, "zero", 0, 0), -EINVAL);
    ck_assert_int_eq(buf_code(fd, CREATE, "align3", 64, 3), -EINVAL);
    ck_assert_int_eq(buf_code(fd, CREATE, "align2M", 64, 2 << 20), -EINVAL);
    Orion__Response *r = buf_req(fd, CREATE, "align4k", 64, 4096, 0, 0);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert_uint_eq(r->buffer->offset % 4096, 0);
    orion__response__free_unpacked(r, NULL);
    ck_assert_uint_eq(stats_on(fd).buffers, 2);
    close(fd);
    assert_clean(0);
}
END_TEST

/* Only the creator may seal, and a waiting connection sends nothing else:
 * its own wait for the seal must fail at once, not hang for ever. */
START_TEST(test_creator_waiting_for_its_own_seal_is_edeadlk_not_a_hang)
{
    harness_fixture_start(NULL);
    int a = session();
    ck_assert_int_eq(buf_code(a, CREATE, "mine", 4096, 0), 0);
    Orion__Response *r = buf_req(a, ORION__REQUEST__BODY_BUFFER_WAIT, "mine", 0, 0, -1,
                                 ORION__WAIT_FOR__SEALED);
    ck_assert_int_eq(code_of(r), -EDEADLK);
    ck_assert_msg(strstr(msg_of(r), "mine") != NULL && strstr(msg_of(r), "seal") != NULL,
                  "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    /* Checking once is still a plain "not sealed". */
    r = buf_req(a, ORION__REQUEST__BODY_BUFFER_WAIT, "mine", 0, 0, 0, ORION__WAIT_FOR__SEALED);
    ck_assert_int_eq(code_of(r), -ETIMEDOUT);
    orion__response__free_unpacked(r, NULL);
    /* The connection is fine: seal, and the wait is answered at once. */
    ck_assert_int_eq(buf_code(a, SEAL, "mine", 0, 0), 0);
    r = buf_req(a, ORION__REQUEST__BODY_BUFFER_WAIT, "mine", 0, 0, -1, ORION__WAIT_FOR__SEALED);
    ck_assert_int_eq(code_of(r), 0);
    orion__response__free_unpacked(r, NULL);
    close(a);
    assert_clean(0);
}
END_TEST

START_TEST(test_buffer_wait_times_out_and_sees_creator_disconnect)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    /* Absent, checked once. */
    Orion__Response *r = buf_req(b, ORION__REQUEST__BODY_BUFFER_WAIT, "absent", 0, 0, 0,
                                 ORION__WAIT_FOR__SEALED);
    ck_assert_int_eq(code_of(r), -ETIMEDOUT);
    orion__response__free_unpacked(r, NULL);
    /* Exists, unsealed: the wait runs out after about its timeout. */
    ck_assert_int_eq(buf_code(a, CREATE, "pending", 4096, 0), 0);
    int64_t t0 = harness_now_ms();
    r = buf_req(b, ORION__REQUEST__BODY_BUFFER_WAIT, "pending", 0, 0, 150,
                ORION__WAIT_FOR__SEALED);
    int64_t dt = harness_now_ms() - t0;
    ck_assert_int_eq(code_of(r), -ETIMEDOUT);
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 3000 * harness_slowdown());
    orion__response__free_unpacked(r, NULL);
    /* Creator goes away before sealing: -EPIPE. */
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__BufferWait wa = ORION__BUFFER_WAIT__INIT;
    wa.name = (char *)"pending";
    wa.timeout_ms = 10000;
    wa.what = ORION__WAIT_FOR__SEALED;
    req.request_id = 77;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &wa;
    ck_assert_int_eq(harness_send_request(b, &req), 0);
    usleep(50 * 1000);
    close(a);
    int err;
    r = harness_recv_response(b, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply to the wait: %s", strerror(-err));
    ck_assert_uint_eq(r->request_id, 77);
    ck_assert_int_eq(code_of(r), -EPIPE);
    orion__response__free_unpacked(r, NULL);
    assert_clean(1);
    close(b);
}
END_TEST

START_TEST(test_buffer_wait_sealed_replies_on_seal_and_unused_on_last_other_release)
{
    harness_fixture_start(NULL);
    int a = session(), b = session();
    ck_assert_int_eq(buf_code(a, CREATE, "frame0", 4096, 0), 0);
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__BufferWait wa = ORION__BUFFER_WAIT__INIT;
    wa.name = (char *)"frame0";
    wa.timeout_ms = -1;
    wa.what = ORION__WAIT_FOR__SEALED;
    req.request_id = 88;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &wa;
    ck_assert_int_eq(harness_send_request(b, &req), 0);
    uint8_t *body;
    size_t len;
    /* Nothing yet: it is not sealed. */
    ck_assert_int_eq(harness_recv_frame(b, 100, &body, &len, NULL, NULL), -ETIMEDOUT);
    ck_assert_int_eq(buf_code(a, SEAL, "frame0", 0, 0), 0);
    int err;
    Orion__Response *r = harness_recv_response(b, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply to the wait: %s", strerror(-err));
    ck_assert_uint_eq(r->request_id, 88);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert(r->buffer->sealed);
    orion__response__free_unpacked(r, NULL);
    /* The wait added a hold for b; a waits until b lets go. */
    wa.what = ORION__WAIT_FOR__UNUSED;
    req.request_id = 89;
    ck_assert_int_eq(harness_send_request(a, &req), 0);
    ck_assert_int_eq(harness_recv_frame(a, 100, &body, &len, NULL, NULL), -ETIMEDOUT);
    ck_assert_int_eq(buf_code(b, RELEASE, "frame0", 0, 0), 0);
    r = harness_recv_response(a, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply to the unused wait: %s", strerror(-err));
    ck_assert_uint_eq(r->request_id, 89);
    ck_assert_msg(code_of(r) == 0, "unused wait: %d %s", code_of(r), msg_of(r));
    orion__response__free_unpacked(r, NULL);
    close(a);
    close(b);
    assert_clean(0);
}
END_TEST

START_TEST(test_disconnect_releases_graphs_buffers_and_pending_waits)
{
    harness_fixture_start(NULL);
    int a = session();
    Orion__Response *r = do_register(a, chain_t, 4, chain_o, 3, NULL);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(buf_code(a, CREATE, "mine", 8192, 0), 0);
    ck_assert_int_eq(buf_code(a, OPEN, "mine", 0, 0), 0);
    /* Leave a pending wait behind as well. */
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__BufferWait wa = ORION__BUFFER_WAIT__INIT;
    wa.name = (char *)"never";
    wa.timeout_ms = -1;
    req.request_id = 1;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &wa;
    ck_assert_int_eq(harness_send_request(a, &req), 0);
    Orion__StatsReply st;
    ck_assert_int_eq(harness_stats(D.socket_path, -1, &st), 0);
    ck_assert_uint_eq(st.graphs, 1);
    ck_assert_uint_eq(st.buffers, 1);
    ck_assert_uint_gt(st.used_bytes, 0);
    close(a);
    assert_clean(0);
    /* The name is free again. */
    int b = session();
    ck_assert_int_eq(buf_code(b, CREATE, "mine", 64, 0), 0);
    close(b);
}
END_TEST

/* ===================================================================== */
/* Start and stop                                                        */
/* ===================================================================== */

static bool path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static bool shm_exists(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/dev/shm%s", name);
    return path_exists(p);
}

START_TEST(test_sigterm_exits_zero_and_removes_socket_and_shm)
{
    harness_fixture_start(NULL);
    int fd = session(); /* a client still connected does not stop a clean exit */
    ck_assert(path_exists(D.socket_path));
    ck_assert(shm_exists(D.shm_name));
    int st;
    ck_assert_int_eq(harness_daemon_stop(&D, &st), 0);
    char buf[64];
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon %s",
                  harness_status_str(st, buf, sizeof buf));
    ck_assert_msg(!path_exists(D.socket_path), "socket file left behind");
    ck_assert_msg(!shm_exists(D.shm_name), "shm object left behind");
    ck_assert_int_eq(harness_expect_close(fd, 1000, NULL), 0);
    close(fd);
}
END_TEST

START_TEST(test_daemon_notifies_ready_with_mainpid_and_stopping)
{
    harness_fixture_start(NULL); /* returns once READY=1 came (harness.h) */
    char want[64];
    snprintf(want, sizeof want, "MAINPID=%ld", (long)D.pid);
    ck_assert_msg(strstr(D.notify_msg, want), "READY message without %s: %s", want,
                  D.notify_msg);
    /* Nothing else is sent while it serves. */
    int fd = session();
    close(fd);
    char msg[512];
    ck_assert_int_eq(harness_daemon_notify(&D, 50, msg, sizeof msg), -ETIMEDOUT);
    pid_t pid = D.pid;
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int rc = harness_daemon_notify(&D, 5000 * harness_slowdown(), msg, sizeof msg);
    ck_assert_msg(rc > 0, "no notification on SIGTERM: %s", strerror(-rc));
    ck_assert_msg(strstr(msg, "STOPPING=1"), "on SIGTERM: %s", msg);
    /* Reap it here: a second SIGTERM from the teardown would hit a daemon
     * already on its way out. */
    int st;
    ck_assert_int_eq(harness_wait(pid, 5000 * harness_slowdown(), &st), 0);
    D.pid = 0;
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_sigint_exits_zero)
{
    harness_fixture_start(NULL);
    ck_assert_int_eq(kill(D.pid, SIGINT), 0);
    int st;
    ck_assert_int_eq(harness_wait(D.pid, 5000 * harness_slowdown(), &st), 0);
    D.pid = 0;
    char buf[64];
    char *log = harness_daemon_log(&D);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon %s on SIGINT: %s",
                  harness_status_str(st, buf, sizeof buf), log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

START_TEST(test_second_daemon_on_live_socket_exits_nonzero_naming_socket)
{
    harness_fixture_start(NULL);
    struct harness_daemon d2;
    ck_assert_int_eq(harness_daemon_prepare(&d2), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, D.socket_path, HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1M", NULL };
    ck_assert_int_eq(harness_daemon_run(&d2, args, 5000), 0);
    char *log = harness_daemon_log(&d2);
    ck_assert_msg(WIFEXITED(d2.status) && WEXITSTATUS(d2.status) != 0, "second daemon: %s",
                  log);
    ck_assert_msg(strstr(log, D.socket_path), "message does not name the socket: %s", log);
    free(log);
    ck_assert_msg(!shm_exists(d2.shm_name), "refused daemon left its shm object");
    /* The first daemon keeps serving on its socket. */
    int fd = session();
    ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
    close(fd);
    harness_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_second_daemon_on_live_shm_name_is_refused)
{
    harness_fixture_start(NULL);
    int fd = session();
    ck_assert_int_eq(buf_code(fd, CREATE, "survivor", 4096, 0), 0);
    struct harness_daemon d2;
    ck_assert_int_eq(harness_daemon_prepare(&d2), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, D.shm_name,
                           HARNESS_FLAG_ARENA, "1M", NULL };
    ck_assert_int_eq(harness_daemon_run(&d2, args, 5000), 0);
    char *log = harness_daemon_log(&d2);
    ck_assert_msg(WIFEXITED(d2.status) && WEXITSTATUS(d2.status) != 0, "second daemon: %s",
                  log);
    ck_assert_msg(strstr(log, D.shm_name + 1), "message does not name the shm object: %s", log);
    free(log);
    ck_assert_msg(!path_exists(d2.socket_path), "refused daemon left its socket");
    /* The first daemon's arena is intact and it still serves. */
    ck_assert(shm_exists(D.shm_name));
    char p[128];
    snprintf(p, sizeof p, "/dev/shm%s", D.shm_name);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, ARENA_16M);
    ck_assert_int_eq(buf_code(fd, OPEN, "survivor", 0, 0), 0);
    close(fd);
    harness_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_stale_shm_object_is_reclaimed)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    int sfd = shm_open(D.shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    ck_assert_msg(sfd >= 0, "shm_open: %s", strerror(errno));
    ck_assert_int_eq(ftruncate(sfd, 4096), 0);
    close(sfd);
    harness_fixture_start(NULL);
    int fd = harness_connect(D.socket_path);
    uint64_t bytes = 0;
    int afd = -1;
    ck_assert_int_eq(harness_hello(fd, ORION_PROTOCOL_VERSION, &bytes, &afd, NULL), 0);
    ck_assert_uint_eq(bytes, ARENA_16M);
    struct stat sb;
    ck_assert_int_eq(fstat(afd, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, ARENA_16M);
    close(afd);
    close(fd);
}
END_TEST

START_TEST(test_stale_socket_file_is_replaced)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s); /* the file stays; nobody listens */
    ck_assert(path_exists(D.socket_path));
    ck_assert_int_eq(harness_connect(D.socket_path), -ECONNREFUSED);
    harness_fixture_start(NULL);
    int fd = session();
    ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
    close(fd);
}
END_TEST

START_TEST(test_socket_activation_serves_and_leaves_socket_to_systemd)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* What orionrtd.socket does: bind and listen, then hand it over. */
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    for (int round = 0; round < 2; round++) {
        /* The second round is a restart on the same socket (Restart=). */
        int rc = harness_daemon_start_activated(&D, lfd, NULL);
        if (rc < 0) {
            char *log = harness_daemon_log(&D);
            ck_abort_msg("round %d: not started (%s): %s", round, strerror(-rc), log);
        }
        int fd = session();
        ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
        ck_assert_int_eq(buf_code(fd, CREATE, "activated", 4096, 0), 0);
        close(fd);
        int st;
        ck_assert_int_eq(harness_daemon_stop(&D, &st), 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ck_assert_msg(path_exists(D.socket_path), "round %d: the daemon removed the socket "
                      "systemd owns", round);
        ck_assert(!shm_exists(D.shm_name));
    }
    close(lfd);
}
END_TEST

START_TEST(test_unknown_flag_exits_2)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           "--no-such-flag", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 5000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 2, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "no-such-flag"), "message does not name the flag: %s", log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

START_TEST(test_absurd_arena_size_exits_1_with_message)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* 1024T (= 1 PiB) parses as a size; no host can back it. */
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1024T", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "arena"), "message does not say what failed: %s", log);
    free(log);
    ck_assert_msg(!path_exists(D.socket_path), "socket left behind");
    ck_assert_msg(!shm_exists(D.shm_name), "shm object left behind");
}
END_TEST

START_TEST(test_unparsable_arena_size_is_a_usage_error_naming_the_flag)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* No P suffix: a value the flag cannot take is a usage error (exit 2). */
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1P", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 2, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, HARNESS_FLAG_ARENA) && strstr(log, "1P"),
                  "message does not name flag and value: %s", log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc;

    tc = harness_fixture_tcase("handshake", 30);
    tcase_add_test(tc, test_hello_passes_one_fd_that_maps_the_arena);
    tcase_add_test(tc, test_hello_with_wrong_version_is_refused_and_closed);
    tcase_add_test(tc, test_request_before_hello_is_refused_and_closed);
    tcase_add_test(tc, test_second_hello_is_refused_and_connection_stays);
    tcase_add_test(tc, test_reply_echoes_request_id_and_pipelined_requests_answer_in_order);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("limits", 30);
    tcase_add_test(tc, test_connection_over_max_clients_is_told_ebusy_and_closed);
    tcase_add_test(tc, test_connection_without_hello_is_closed_after_the_deadline);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("framing", 30);
    tcase_add_test(tc, test_http_garbage_closes_connection_only);
    tcase_add_test(tc, test_frame_above_max_frame_closes_connection);
    tcase_add_test(tc, test_zero_length_frame_closes_connection);
    tcase_add_test(tc, test_truncated_frame_then_close_leaves_nothing);
    tcase_add_test(tc, test_partial_frame_does_not_block_other_clients);
    tcase_add_test(tc, test_invalid_protobuf_replies_eproto_and_closes);
    tcase_add_test(tc, test_request_without_body_replies_eproto_and_closes);
    tcase_add_test(tc, test_huge_tensor_count_is_refused_before_decoding);
    tcase_add_test(tc, test_request_with_millions_of_unknown_fields_is_refused);
    tcase_add_test(tc, test_peer_that_reads_nothing_is_closed_after_a_pooled_bad_request);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("graphs", 30);
    tcase_add_test(tc, test_register_places_tensors_in_workspace_and_release_frees);
    tcase_add_test(tc, test_release_of_another_connections_graph_is_refused);
    tcase_add_loop_test(tc, test_invalid_graph_is_refused_with_named_message_and_nothing_leaks,
                        0, (int)(sizeof bad_graphs / sizeof bad_graphs[0]));
    tcase_add_test(tc, test_arena_exhaustion_is_enospc_with_nothing_half_made);
    tcase_add_test(tc, test_client_limit_is_enospc_per_connection);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("buffers", 30);
    tcase_add_test(tc, test_buffer_create_open_seal_release_rules);
    tcase_add_test(tc, test_buffer_open_counts_holds);
    tcase_add_test(tc, test_buffer_bad_arguments_are_einval);
    tcase_add_test(tc, test_creator_waiting_for_its_own_seal_is_edeadlk_not_a_hang);
    tcase_add_test(tc, test_buffer_wait_times_out_and_sees_creator_disconnect);
    tcase_add_test(tc, test_buffer_wait_sealed_replies_on_seal_and_unused_on_last_other_release);
    tcase_add_test(tc, test_disconnect_releases_graphs_buffers_and_pending_waits);
    suite_add_tcase(s, tc);

    tc = harness_fixture_tcase("lifecycle", 60);
    tcase_add_test(tc, test_sigterm_exits_zero_and_removes_socket_and_shm);
    tcase_add_test(tc, test_sigint_exits_zero);
    tcase_add_test(tc, test_daemon_notifies_ready_with_mainpid_and_stopping);
    tcase_add_test(tc, test_second_daemon_on_live_socket_exits_nonzero_naming_socket);
    tcase_add_test(tc, test_second_daemon_on_live_shm_name_is_refused);
    tcase_add_test(tc, test_stale_shm_object_is_reclaimed);
    tcase_add_test(tc, test_stale_socket_file_is_replaced);
    tcase_add_test(tc, test_socket_activation_serves_and_leaves_socket_to_systemd);
    tcase_add_test(tc, test_unknown_flag_exits_2);
    tcase_add_test(tc, test_absurd_arena_size_exits_1_with_message);
    tcase_add_test(tc, test_unparsable_arena_size_is_a_usage_error_naming_the_flag);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_fixture_run(daemon_suite());
}
