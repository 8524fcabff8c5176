/* test_client_basics.c - liborion-client against a real orionrtd: connect,
 * stats and close, the refusals a caller sees (missing socket, --max-clients,
 * an invalid graph), fork safety.
 *
 * Each test starts its own daemon (harness_fixture.h). Helper processes are
 * forked (they connect on their own) and report through exit codes and pipes;
 * they never call ck_assert. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <orion/orion.h>

#include "client_checks.h"

START_TEST(test_connect_stats_and_close)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    ck_assert_uint_eq(orion_client_arena_bytes(c), ARENA_16M);
    uint8_t *base = orion_client_arena_base(c);
    ck_assert_ptr_nonnull(base);
    base[0] = 1; /* mapped read-write */
    base[ARENA_16M - 1] = 2;
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.arena_bytes, ARENA_16M);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.free_bytes, ARENA_16M);
    ck_assert_uint_eq(st.largest_free_bytes, ARENA_16M);
    assert_clean_via(c, 1);
    orion_client_close(c);
    orion_client_close(NULL);

    /* A second connection sees the first gone. */
    c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

START_TEST(test_connect_to_missing_socket_fails_with_message)
{
    orion_client *c = (orion_client *)&c; /* must be reset to NULL */
    char err[256] = "";
    int rc = orion_client_connect("/nonexistent-orion-dir/sock", &c, err, sizeof err);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "/nonexistent-orion-dir/sock"), "message: %s", err);
    ck_assert_str_ne(orion_strerror(rc), "");
}
END_TEST

/* orionrtd over --max-clients: orion_client_connect says why, and a place
 * freed is taken. */
START_TEST(test_connect_over_max_clients_is_ebusy_naming_the_limit)
{
    const char *extra[] = { HARNESS_FLAG_MAX_CLIENTS, "1", NULL };
    harness_fixture_start(extra);
    /* The harness's readiness probe may still be counted for a moment. */
    orion_client *a = NULL;
    char err[256] = "";
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    int rc;
    while ((rc = orion_client_connect(D.socket_path, &a, err, sizeof err)) == -EBUSY &&
           harness_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(rc == 0, "first connect: %s", err);

    orion_client *b = (orion_client *)&b;
    rc = orion_client_connect(D.socket_path, &b, err, sizeof err);
    ck_assert_msg(rc == -EBUSY, "second connect: %d %s", rc, err);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err, "too many clients: 1 connected, the limit is 1"), "message: %s",
                  err);

    orion_client_close(a);
    deadline = harness_now_ms() + 3000 * harness_slowdown();
    while ((rc = orion_client_connect(D.socket_path, &b, err, sizeof err)) == -EBUSY &&
           harness_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(rc == 0, "connect after a close: %s", err);
    orion_client_close(b);
}
END_TEST

START_TEST(test_invalid_graph_error_names_op_and_tensor)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_graph *g = graph_or_die();
    uint64_t in = 1, mid = 4242, out = 3;
    ck_assert_int_eq(add_t(g, 1, 256, ORION_TENSOR_INPUT, NULL), 0);
    ck_assert_int_eq(add_t(g, 4242, 256, ORION_TENSOR_INTERMEDIATE, NULL), 0);
    ck_assert_int_eq(add_t(g, 3, 256, ORION_TENSOR_OUTPUT, NULL), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "early_reader", &mid, 1, &out, 1), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "late_writer", &in, 1, &mid, 1), 0);
    orion_plan *p = (orion_plan *)&p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), -EINVAL);
    ck_assert_msg(strstr(orion_client_error(c), "4242") &&
                      strstr(orion_client_error(c), "early_reader"),
                  "error: %s", orion_client_error(c));
    orion_graph_free(g);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- fork safety -------------------------------------------------------- */

static int use_parents_client(void *p)
{
    orion_client *c = p;
    struct orion_stats st;
    if (orion_client_stats(c, &st) != -ECHILD)
        return 60;
    orion_buffer *b = NULL;
    if (orion_buffer_create(c, "from-child", 64, &b) != -ECHILD)
        return 61;
    return 0;
}

START_TEST(test_forked_child_using_parents_client_gets_echild)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    pid_t kid = harness_fork(use_parents_client, c);
    ck_assert_int_gt(kid, 0);
    assert_child_ok(kid, "child");
    /* The parent's connection is unharmed and nothing was created. */
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.buffers, 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

static int sleep_with_inherited_socket(void *p)
{
    int fd = *(int *)p;
    char c;
    ssize_t r = read(fd, &c, 1); /* until the parent says so, or dies */
    (void)r;
    return 0;
}

/* A child forked after connect holds a copy of the socket; the parent's
 * close must still end the connection, and so release what it held. */
START_TEST(test_close_releases_at_once_while_forked_child_lives)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t kid = harness_fork(sleep_with_inherited_socket, &go[0]);
    ck_assert_int_gt(kid, 0);
    orion_client_close(c);
    Orion__StatsReply st;
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, 0, 3000, &st);
    write_pipe(go[1], "x", 1);
    close(go[0]);
    close(go[1]);
    assert_child_ok(kid, "child");
    ck_assert_msg(rc == 0, "after close: %u clients", st.clients);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = harness_fixture_tcase("basics", 30);
    tcase_add_test(tc, test_connect_stats_and_close);
    tcase_add_test(tc, test_connect_to_missing_socket_fails_with_message);
    tcase_add_test(tc, test_connect_over_max_clients_is_ebusy_naming_the_limit);
    tcase_add_test(tc, test_invalid_graph_error_names_op_and_tensor);
    tcase_add_test(tc, test_forked_child_using_parents_client_gets_echild);
    tcase_add_test(tc, test_close_releases_at_once_while_forked_child_lives);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
