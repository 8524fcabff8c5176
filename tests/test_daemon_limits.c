/* test_daemon_limits.c - connection limits over a raw socket: --max-clients and the
 * hello deadline.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_checks.h"
#include "frame.h"

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

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("limits", 30);
    tcase_add_test(tc, test_connection_over_max_clients_is_told_ebusy_and_closed);
    tcase_add_test(tc, test_connection_without_hello_is_closed_after_the_deadline);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
