/* test_client_waits.c - waiting for a named buffer with liborion-client:
 * time-outs, a producer that seals late, a creator that leaves unsealed.
 *
 * Each test starts its own daemon (harness_fixture.h). Helper processes are
 * forked (they connect on their own) and report through exit codes and pipes;
 * they never call ck_assert. */
#include <check.h>
#include <errno.h>
#include <unistd.h>

#include <orion/orion.h>

#include "client_checks.h"

/* --- waits -------------------------------------------------------------- */

START_TEST(test_buffer_wait_times_out)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    int64_t t0 = harness_now_ms();
    ck_assert_int_eq(orion_buffer_wait(c, "nobody-makes-this", 150, &b), -ETIMEDOUT);
    int64_t dt = harness_now_ms() - t0;
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 3000 * harness_slowdown());
    t0 = harness_now_ms();
    ck_assert_int_eq(orion_buffer_wait(c, "nobody-makes-this", 0, &b), -ETIMEDOUT);
    ck_assert_int_lt(harness_now_ms() - t0, 1000 * harness_slowdown());
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

#define LATE_BYTES 10000u

static int late_producer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    orion_buffer *b = NULL;
    if (orion_buffer_create(c, "late", LATE_BYTES, &b) != 0)
        return 41;
    uint8_t *x = orion_buffer_ptr(b);
    for (uint64_t i = 0; i < LATE_BYTES; i++)
        x[i] = pat(3, i);
    usleep(200 * 1000);
    if (orion_buffer_seal(b) != 0)
        return 42;
    /* Keep it until the consumer has opened and let go of it. */
    if (orion_buffer_wait_unused(b, 10000) != 0)
        return 43;
    orion_buffer_release(b);
    orion_client_close(c);
    return 0;
}

START_TEST(test_buffer_wait_returns_when_producer_seals)
{
    harness_fixture_start(NULL);
    int64_t t0 = harness_now_ms();
    pid_t kid = harness_fork(late_producer, NULL);
    ck_assert_int_gt(kid, 0);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    int rc = orion_buffer_wait(c, "late", 10000, &b);
    ck_assert_msg(rc == 0, "wait: %d %s", rc, orion_client_error(c));
    ck_assert_int_ge(harness_now_ms() - t0, 190);
    ck_assert_uint_ge(orion_buffer_size(b), LATE_BYTES);
    const uint8_t *x = orion_buffer_ptr(b);
    for (uint64_t i = 0; i < LATE_BYTES; i++)
        if (x[i] != pat(3, i))
            ck_abort_msg("byte %llu differs", (unsigned long long)i);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    assert_child_ok(kid, "producer");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* Static: the quitter leaves them behind on purpose, and valgrind should
 * see them as still reachable rather than lost. */
static orion_client *quitter_client;
static orion_buffer *quitter_buffer;

static int unsealed_quitter(void *p)
{
    (void)p;
    orion_client *c = quitter_client = child_connect();
    if (!c)
        return 50;
    if (orion_buffer_create(c, "abandoned", 4096, &quitter_buffer) != 0)
        return 51;
    usleep(150 * 1000);
    /* Leave without sealing or releasing: the process exit closes the
     * connection, as a crash would. (Releasing first would end the buffer
     * itself, and a wait for a name that does not exist just goes on.) */
    return 0;
}

START_TEST(test_buffer_wait_fails_epipe_when_creator_leaves_unsealed)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    pid_t kid = harness_fork(unsealed_quitter, NULL);
    ck_assert_int_gt(kid, 0);
    /* Wait until it exists, so that our wait sees its creator leave. */
    orion_buffer *b = NULL;
    int64_t deadline = harness_now_ms() + 5000;
    struct orion_stats st = { 0 };
    while (st.buffers == 0 && harness_now_ms() < deadline) {
        ck_assert_int_eq(orion_client_stats(c, &st), 0);
        usleep(2000);
    }
    ck_assert_uint_eq(st.buffers, 1);
    ck_assert_int_eq(orion_buffer_wait(c, "abandoned", 10000, &b), -EPIPE);
    assert_child_ok(kid, "creator");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = harness_fixture_tcase("waits", 30);
    tcase_add_test(tc, test_buffer_wait_times_out);
    tcase_add_test(tc, test_buffer_wait_returns_when_producer_seals);
    tcase_add_test(tc, test_buffer_wait_fails_epipe_when_creator_leaves_unsealed);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
