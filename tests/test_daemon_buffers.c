/* test_daemon_buffers.c - named buffers over a raw socket: create, open, seal,
 * release, wait, and what a disconnect releases.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "daemon_checks.h"

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

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("buffers", 30);
    tcase_add_test(tc, test_buffer_create_open_seal_release_rules);
    tcase_add_test(tc, test_buffer_open_counts_holds);
    tcase_add_test(tc, test_buffer_bad_arguments_are_einval);
    tcase_add_test(tc, test_creator_waiting_for_its_own_seal_is_edeadlk_not_a_hang);
    tcase_add_test(tc, test_buffer_wait_times_out_and_sees_creator_disconnect);
    tcase_add_test(tc, test_buffer_wait_sealed_replies_on_seal_and_unused_on_last_other_release);
    tcase_add_test(tc, test_disconnect_releases_graphs_buffers_and_pending_waits);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
