/* test_daemon_framing.c - framing and garbage on a raw socket: oversized, empty,
 * truncated and partial frames, undecodable protobuf, requests too costly to
 * decode.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_checks.h"
#include "frame.h"

/* daemon/dispatch.h: unknown fields a request may carry. */
#define DISPATCH_UNKNOWN_MAX 1024u

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
        Orion__Response *r = harness_recv_response(fd, 4 * REPLY_MS * harness_slowdown(), NULL, NULL,
                                                   &err);
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

/* The packed Request registering a chain of n tensors (op i reads tensor i
 * and writes tensor i + 1); malloc'd, its length in *len. */
static uint8_t *chain_request(uint32_t n, size_t *len)
{
    Orion__Request *req = harness_chain_request(n, "large", 4096, 13, false);
    ck_assert_ptr_nonnull(req);
    req->request_id = 77;
    *len = orion__request__get_packed_size(req);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    orion__request__pack(req, buf);
    harness_chain_free(req);
    return buf;
}

/* A large registration's memory is a bounded multiple of its frame (issue 8
 * item 9): a fresh daemon's peak RSS grows by less than LARGE_GROWTH_MAX
 * times the frame while it plans 640k tensors with the default policy
 * (8x measured, 18.6x before the memory work; bench/bench_large has the
 * figures per policy). Not asserted under a sanitizer or valgrind, whose
 * memory is their own. */
#define LARGE_TENSORS 640000u
#define LARGE_GROWTH_MAX 10.0
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
START_TEST(test_large_registration_memory_is_a_small_multiple_of_its_frame)
{
    harness_fixture_start(NULL);
    int fd = session();
    size_t len;
    uint8_t *req = chain_request(LARGE_TENSORS, &len);
    long base = daemon_peak_kib();
    ck_assert_int_gt(base, 0);
    ck_assert_int_eq(harness_send_frame(fd, req, (uint32_t)len), 0);
    free(req);
    int err;
    Orion__Response *r = harness_recv_response(fd, 60000 * harness_slowdown(), NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply: %s", strerror(-err));
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH, "not registered: %s",
                  msg_of(r));
    ck_assert_uint_eq(r->register_graph->n_tensors, LARGE_TENSORS);
    orion__response__free_unpacked(r, NULL);
    long peak = daemon_peak_kib();
    double growth = (double)(peak - base) * 1024 / (double)len;
    printf("large registration: frame %zu KiB, daemon peak %ld KiB (%ld at start): "
           "growth %.2fx the frame\n", len / 1024, peak, base, growth);
#ifndef UNDER_ASAN
    if (harness_slowdown() == 1)
        ck_assert_msg(growth < LARGE_GROWTH_MAX, "peak RSS grew by %.2fx the frame (%zu bytes)",
                      growth, len);
#endif
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

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("framing", 30);
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
    tcase_add_test(tc, test_large_registration_memory_is_a_small_multiple_of_its_frame);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
