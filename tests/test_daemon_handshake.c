/* test_daemon_handshake.c - the handshake over a raw socket: hello and the arena
 * descriptor it passes, version and order checks, request ids, pipelining.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_checks.h"
#include "frame.h"

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

    /* The passed fd is the daemon's arena: a write through it shows through
     * the descriptor another connection receives (the arena has no name). */
    p[12345] = 0xa5;
    p[arena_bytes - 1] = 0x5a;
    int fd2 = harness_connect(D.socket_path);
    ck_assert_int_ge(fd2, 0);
    int nfd = -1;
    ck_assert_int_eq(harness_hello(fd2, ORION_PROTOCOL_VERSION, &arena_bytes, &nfd, NULL), 0);
    close(fd2);
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

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("handshake", 30);
    tcase_add_test(tc, test_hello_passes_one_fd_that_maps_the_arena);
    tcase_add_test(tc, test_hello_with_wrong_version_is_refused_and_closed);
    tcase_add_test(tc, test_request_before_hello_is_refused_and_closed);
    tcase_add_test(tc, test_second_hello_is_refused_and_connection_stays);
    tcase_add_test(tc, test_reply_echoes_request_id_and_pipelined_requests_answer_in_order);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
