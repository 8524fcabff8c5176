/* test_client_channels.c - channels through a real orionrtd with real client
 * processes: order and content, broadcast, back-pressure, deaths (a consumer
 * holding a slot, a producer between acquire and publish), takeover, a
 * control block overwritten, leaks over many cycles, open waiting for
 * create, max_consumers, forked children.
 *
 * Each test starts its own daemon (harness_fixture.h). Helper processes are
 * forked, connect on their own and report through exit codes and pipes;
 * they never call ck_assert. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "chan.h"
#include "client_checks.h"

#define WAIT_MS 10000

/* Poll until ch has n consumers attached (the producer's view). */
static int wait_consumers(orion_channel *ch, int n)
{
    int64_t deadline = harness_now_ms() + WAIT_MS * harness_slowdown();
    while (orion_channel_consumers(ch) != n) {
        if (harness_now_ms() > deadline)
            return -1;
        usleep(1000);
    }
    return 0;
}

/* Handles a test made, kept reachable from here: the processes it forks
 * inherit them and exit without closing them (the parent closes its own),
 * which valgrind would otherwise count as the child's definite leaks. */
static void *volatile kept[4096]; /* volatile: written only, never read */
static unsigned n_kept;

static void *keep(void *p)
{
    kept[n_kept++ % (sizeof kept / sizeof kept[0])] = p;
    return p;
}

static orion_client *kept_client(void)
{
    return keep(connect_ok());
}

static orion_channel *create_ok(orion_client *c, const char *name, uint64_t slot_bytes,
                                uint32_t depth, uint32_t max_consumers)
{
    struct orion_channel_config cfg = { slot_bytes, depth, max_consumers };
    orion_channel *ch = NULL;
    int rc = orion_channel_create(c, name, &cfg, &ch);
    ck_assert_msg(rc == 0 && ch, "create %s: %d %s", name, rc, orion_client_error(c));
    return keep(ch);
}

static orion_channel *open_ok(orion_client *c, const char *name)
{
    orion_channel *ch = NULL;
    int rc = orion_channel_open(c, name, WAIT_MS, &ch);
    ck_assert_msg(rc == 0 && ch, "open %s: %d %s", name, rc, orion_client_error(c));
    return keep(ch);
}

/* Message i: 8 bytes of i, then bytes of pat(i, k); its length varies. */
static uint64_t msg_len(uint64_t i, uint64_t slot_bytes)
{
    return 8 + i * 7919 % (slot_bytes - 7);
}

static int publish_msg(orion_channel *ch, uint64_t i)
{
    void *slot;
    int rc = orion_channel_acquire(ch, WAIT_MS, &slot);
    if (rc < 0)
        return rc;
    uint64_t n = msg_len(i, orion_channel_slot_bytes(ch));
    uint8_t *p = slot;
    memcpy(p, &i, 8);
    for (uint64_t k = 8; k < n; k++)
        p[k] = pat(i, k);
    return orion_channel_publish(ch, slot, n);
}

/* Receive message `want`, check it, done. 0, a negative errno, or 1 if the
 * content is wrong. */
static int receive_msg(orion_channel *ch, uint64_t want)
{
    const void *slot;
    uint64_t bytes, seq;
    int rc = orion_channel_receive(ch, WAIT_MS, &slot, &bytes, &seq);
    if (rc < 0)
        return rc;
    const uint8_t *p = slot;
    uint64_t i;
    memcpy(&i, p, 8);
    int bad = seq != want || i != want || bytes != msg_len(want, orion_channel_slot_bytes(ch));
    for (uint64_t k = 8; !bad && k < bytes; k++)
        bad = p[k] != pat(want, k);
    rc = orion_channel_done(ch, slot);
    return bad ? 1 : rc;
}

/* --- order, content, broadcast ------------------------------------------ */

struct stream_arg {
    const char *name;
    uint64_t n;
    int ready_fd;              /* written once open, or -1 */
};

static int stream_consumer(void *p)
{
    struct stream_arg *a = p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    orion_channel *ch = NULL;
    if (orion_channel_open(c, a->name, WAIT_MS, &ch) != 0)
        return 41;
    for (uint64_t i = 0; i < a->n; i++) {
        int rc = receive_msg(ch, i);
        if (rc != 0) {
            fprintf(stderr, "consumer: message %llu: %d %s\n", (unsigned long long)i, rc,
                    orion_client_error(c));
            return 42;
        }
    }
    if (orion_channel_close(ch) != 0)
        return 43;
    orion_client_close(c);
    return 0;
}

static void stream_to(int n_consumers, uint64_t n, uint64_t slot_bytes, uint32_t depth)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    orion_channel *ch = create_ok(c, "stream", slot_bytes, depth, 0);
    struct stream_arg a = { "stream", n, -1 };
    pid_t kids[3];
    for (int k = 0; k < n_consumers; k++)
        ck_assert_int_gt(kids[k] = harness_fork(stream_consumer, &a), 0);
    ck_assert_int_eq(wait_consumers(ch, n_consumers), 0);
    for (uint64_t i = 0; i < n; i++) {
        int rc = publish_msg(ch, i);
        ck_assert_msg(rc == 0, "publish %llu: %d %s", (unsigned long long)i, rc,
                      orion_client_error(c));
    }
    for (int k = 0; k < n_consumers; k++)
        assert_child_ok(kids[k], "consumer");
    ck_assert_int_eq(orion_channel_close(ch), 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}

START_TEST(test_channel_keeps_order_and_content_over_100000_messages)
{
    stream_to(1, 100000, 512, 8);
}
END_TEST

START_TEST(test_channel_broadcasts_to_three_consumers)
{
    stream_to(3, 20000, 4096, 4);
}
END_TEST

/* --- back-pressure -------------------------------------------------------- */

struct pipes {
    int to_kid[2];
    int to_parent[2];
};

static void pipes_or_die(struct pipes *p)
{
    ck_assert_int_eq(pipe(p->to_kid), 0);
    ck_assert_int_eq(pipe(p->to_parent), 0);
}

/* Opens, says so, waits for a byte, then receives and finishes `n` messages,
 * says so, waits for a byte, and closes. */
static struct pipes slow_pipes;

static int slow_consumer(void *p)
{
    uint64_t n = *(uint64_t *)p;
    orion_client *c = child_connect();
    orion_channel *ch = NULL;
    if (!c || orion_channel_open(c, "bp", WAIT_MS, &ch) != 0)
        return 40;
    char b = 'o';
    write_pipe(slow_pipes.to_parent[1], &b, 1);
    if (read_pipe(slow_pipes.to_kid[0], &b, 1, WAIT_MS) != 0)
        return 41;
    for (uint64_t i = 0; i < n; i++)
        if (receive_msg(ch, i) != 0)
            return 42;
    write_pipe(slow_pipes.to_parent[1], &b, 1);
    if (read_pipe(slow_pipes.to_kid[0], &b, 1, WAIT_MS) != 0)
        return 43;
    orion_channel_close(ch);
    orion_client_close(c);
    return 0;
}

START_TEST(test_channel_producer_blocks_at_depth_and_times_out)
{
    harness_fixture_start(NULL);
    pipes_or_die(&slow_pipes);
    orion_client *c = kept_client();
    orion_channel *ch = create_ok(c, "bp", 1000, 4, 0);
    uint64_t n = 1;
    pid_t kid = harness_fork(slow_consumer, &n);
    ck_assert_int_gt(kid, 0);
    char b;
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &b, 1, WAIT_MS), 0);
    for (uint64_t i = 0; i < 4; i++)
        ck_assert_int_eq(publish_msg(ch, i), 0);
    void *slot;
    int64_t t0 = harness_now_ms();
    ck_assert_int_eq(orion_channel_acquire(ch, 150, &slot), -ETIMEDOUT);
    int64_t dt = harness_now_ms() - t0;
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 3000 * harness_slowdown());
    ck_assert_int_eq(orion_channel_acquire(ch, 0, &slot), -ETIMEDOUT);
    /* The consumer finishes one message: exactly one slot is free again. */
    write_pipe(slow_pipes.to_kid[1], &b, 1);
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &b, 1, WAIT_MS), 0);
    ck_assert_int_eq(orion_channel_acquire(ch, 0, &slot), 0);
    ck_assert_int_eq(orion_channel_publish(ch, slot, 1), 0);
    ck_assert_int_eq(orion_channel_acquire(ch, 0, &slot), -ETIMEDOUT);
    write_pipe(slow_pipes.to_kid[1], &b, 1);
    assert_child_ok(kid, "consumer");
    /* The consumer is gone: every slot is free. */
    for (uint64_t i = 0; i < 8; i++)
        ck_assert_int_eq(publish_msg(ch, i), 0);
    ck_assert_int_eq(orion_channel_close(ch), 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- deaths --------------------------------------------------------------- */

static int holding_consumer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    orion_channel *ch = NULL;
    if (!c || orion_channel_open(c, "held", WAIT_MS, &ch) != 0)
        return 40;
    char b = 'o';
    write_pipe(slow_pipes.to_parent[1], &b, 1);
    const void *slot;
    if (orion_channel_receive(ch, WAIT_MS, &slot, NULL, NULL) != 0)
        return 41;
    write_pipe(slow_pipes.to_parent[1], &b, 1);
    pause(); /* holding the slot until SIGKILL */
    return 0;
}

START_TEST(test_channel_consumer_killed_holding_a_slot_frees_it)
{
    harness_fixture_start(NULL);
    pipes_or_die(&slow_pipes);
    orion_client *c = kept_client();
    orion_channel *ch = create_ok(c, "held", 4096, 2, 0);
    pid_t kid = harness_fork(holding_consumer, NULL);
    ck_assert_int_gt(kid, 0);
    char b;
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &b, 1, WAIT_MS), 0);
    ck_assert_int_eq(publish_msg(ch, 0), 0);
    ck_assert_int_eq(publish_msg(ch, 1), 0);
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &b, 1, WAIT_MS), 0);
    void *slot;
    ck_assert_int_eq(orion_channel_acquire(ch, 0, &slot), -ETIMEDOUT);
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.channels, 1);
    ck_assert_uint_gt(st.used_bytes, 2 * 4096);
    kill(kid, SIGKILL);
    int status;
    ck_assert_int_eq(harness_wait(kid, WAIT_MS, &status), 0);
    /* The daemon detaches it at once: a blocked acquire wakes. */
    ck_assert_int_eq(orion_channel_acquire(ch, WAIT_MS, &slot), 0);
    ck_assert_int_eq(orion_channel_publish(ch, slot, 10), 0);
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_int_eq(publish_msg(ch, i), 0);
    ck_assert_int_eq(orion_channel_consumers(ch), 0);
    ck_assert_int_eq(orion_channel_close(ch), 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

static int dying_producer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    orion_channel *ch = NULL;
    struct orion_channel_config cfg = { 256, 8, 0 };
    if (orion_channel_create(c, "dying", &cfg, &ch) != 0)
        return 41;
    if (wait_consumers(ch, 2) != 0)
        return 42;
    for (uint64_t i = 0; i < 5; i++)
        if (publish_msg(ch, i) != 0)
            return 43;
    void *slot;
    if (orion_channel_acquire(ch, 0, &slot) != 0)
        return 44;
    memset(slot, 0xee, 256);
    char b = 'o';
    write_pipe(slow_pipes.to_parent[1], &b, 1);
    pause(); /* between acquire and publish until SIGKILL */
    return 0;
}

static int draining_consumer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    orion_channel *ch = NULL;
    if (!c || orion_channel_open(c, "dying", WAIT_MS, &ch) != 0)
        return 50;
    char b;
    if (read_pipe(slow_pipes.to_kid[0], &b, 1, WAIT_MS) != 0) /* the producer is killed */
        return 51;
    int64_t t0 = harness_now_ms();
    for (uint64_t i = 0; i < 5; i++)
        if (receive_msg(ch, i) != 0)
            return 52;
    const void *slot;
    if (orion_channel_receive(ch, WAIT_MS, &slot, NULL, NULL) != -EPIPE)
        return 53;
    if (harness_now_ms() - t0 > 100 * harness_slowdown())
        return 54;
    if (orion_channel_receive(ch, 0, &slot, NULL, NULL) != -EPIPE)
        return 55;
    orion_channel_close(ch);
    orion_client_close(c);
    return 0;
}

START_TEST(test_channel_producer_killed_before_publish_consumers_drain_then_epipe)
{
    harness_fixture_start(NULL);
    pipes_or_die(&slow_pipes);
    orion_client *c = kept_client();
    pid_t prod = harness_fork(dying_producer, NULL);
    ck_assert_int_gt(prod, 0);
    pid_t cons[2];
    for (int k = 0; k < 2; k++)
        ck_assert_int_gt(cons[k] = harness_fork(draining_consumer, NULL), 0);
    char b = 'k';
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &b, 1, WAIT_MS), 0);
    kill(prod, SIGKILL);
    int status;
    ck_assert_int_eq(harness_wait(prod, WAIT_MS, &status), 0);
    write_pipe(slow_pipes.to_kid[1], "kk", 2);
    for (int k = 0; k < 2; k++)
        assert_child_ok(cons[k], "consumer");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- takeover ------------------------------------------------------------- */

struct takeover_arg {
    uint64_t first, n;
};

static int takeover_producer(void *p)
{
    struct takeover_arg *a = p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    orion_channel *ch = NULL;
    struct orion_channel_config cfg = { 300, 4, 2 };
    if (orion_channel_create(c, "stage", &cfg, &ch) != 0) {
        fprintf(stderr, "takeover: %s\n", orion_client_error(c));
        return 41;
    }
    if (wait_consumers(ch, 1) != 0)
        return 42;
    for (uint64_t i = a->first; i < a->first + a->n; i++)
        if (publish_msg(ch, i) != 0)
            return 43;
    /* Leave without closing: the exit ends the connection. */
    keep(c);
    keep(ch);
    return 0;
}

START_TEST(test_channel_producer_takeover_continues_the_sequence)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    struct takeover_arg a1 = { 0, 3 }, a2 = { 3, 3 };
    pid_t p1 = harness_fork(takeover_producer, &a1);
    ck_assert_int_gt(p1, 0);
    orion_channel *ch = open_ok(c, "stage");
    for (uint64_t i = 0; i < 3; i++)
        ck_assert_int_eq(receive_msg(ch, i), 0);
    assert_child_ok(p1, "first producer");
    const void *slot;
    ck_assert_int_eq(orion_channel_receive(ch, WAIT_MS, &slot, NULL, NULL), -EPIPE);
    /* Another geometry is refused, naming both. */
    orion_client *o = kept_client();
    struct orion_channel_config bad = { 301, 4, 2 };
    orion_channel *x = NULL;
    ck_assert_int_eq(orion_channel_create(o, "stage", &bad, &x), -EINVAL);
    ck_assert_msg(strstr(orion_client_error(o), "slot_bytes=300") &&
                  strstr(orion_client_error(o), "slot_bytes=301"), "%s", orion_client_error(o));
    pid_t p2 = harness_fork(takeover_producer, &a2);
    ck_assert_int_gt(p2, 0);
    /* It publishes 3 (they fit in the ring) and leaves: they are received,
     * then -EPIPE again. */
    assert_child_ok(p2, "second producer");
    for (uint64_t i = 3; i < 6; i++) {
        int rc = receive_msg(ch, i);
        ck_assert_msg(rc == 0, "after takeover, message %llu: %d %s", (unsigned long long)i,
                      rc, orion_client_error(c));
    }
    ck_assert_int_eq(orion_channel_receive(ch, WAIT_MS, &slot, NULL, NULL), -EPIPE);
    /* A live producer holds the name: -EEXIST. */
    orion_channel *live = create_ok(o, "other", 64, 0, 0);
    ck_assert_int_eq(orion_channel_create(c, "other", &bad, &x), -EEXIST);
    ck_assert_int_eq(orion_channel_close(live), 0);
    ck_assert_int_eq(orion_channel_close(ch), 0);
    orion_client_close(o);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* --- a control block overwritten ------------------------------------------ */

static int victim_consumer(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    orion_channel *a = NULL, *b = NULL;
    if (!c || orion_channel_open(c, "victim", WAIT_MS, &a) != 0 ||
        orion_channel_open(c, "bystander", WAIT_MS, &b) != 0)
        return 40;
    char x = 'o';
    write_pipe(slow_pipes.to_parent[1], &x, 1);
    if (read_pipe(slow_pipes.to_kid[0], &x, 1, WAIT_MS) != 0) /* garbage written */
        return 41;
    const void *slot;
    int rc = orion_channel_receive(a, 2000, &slot, NULL, NULL);
    if (rc != -EPROTO) {
        fprintf(stderr, "victim receive: %d %s\n", rc, orion_client_error(c));
        return 42;
    }
    for (uint64_t i = 0; i < 10; i++)
        if (receive_msg(b, i) != 0)
            return 43;
    orion_channel_close(a);
    orion_channel_close(b);
    orion_client_close(c);
    return 0;
}

START_TEST(test_channel_garbage_over_control_block_breaks_that_channel_only)
{
    harness_fixture_start(NULL);
    pipes_or_die(&slow_pipes);
    orion_client *c = kept_client();
    orion_channel *v = create_ok(c, "victim", 128, 4, 0);
    orion_channel *by = create_ok(c, "bystander", 128, 4, 0);
    pid_t kid = harness_fork(victim_consumer, NULL);
    ck_assert_int_gt(kid, 0);
    char x;
    ck_assert_int_eq(read_pipe(slow_pipes.to_parent[0], &x, 1, WAIT_MS), 0);
    /* Find the region from the first slot (slot 0) and overwrite the control
     * block, entries and descriptors. */
    void *slot;
    ck_assert_int_eq(orion_channel_acquire(v, 0, &slot), 0);
    struct chan_geom g = { 128, 4, 8 };
    struct chan_layout l;
    ck_assert_int_eq(chan_layout(&g, &l), 0);
    uint8_t *region = (uint8_t *)slot - l.slots_off;
    memset(region, 0xa5, l.slots_off);
    write_pipe(slow_pipes.to_kid[1], &x, 1);
    /* The producer's own end fails too: no free slot, then a bad header. */
    int rc = orion_channel_acquire(v, 500, &slot);
    ck_assert_msg(rc == -EPROTO, "victim acquire: %d %s", rc, orion_client_error(c));
    /* New ends are refused; the daemon says why. */
    orion_channel *again = NULL;
    orion_client *o = kept_client();
    ck_assert_int_eq(orion_channel_open(o, "victim", 0, &again), -EPROTO);
    ck_assert_msg(strstr(orion_client_error(o), "corrupt"), "%s", orion_client_error(o));
    for (uint64_t i = 0; i < 10; i++)
        ck_assert_int_eq(publish_msg(by, i), 0);
    assert_child_ok(kid, "victim consumer");
    struct orion_stats st;
    ck_assert_int_eq(orion_client_stats(o, &st), 0);
    ck_assert_uint_eq(st.channels, 2);
    ck_assert_int_eq(orion_channel_close(v), 0);
    ck_assert_int_eq(orion_channel_close(by), 0);
    /* Its name is free again, and works. */
    orion_channel *fresh = create_ok(c, "victim", 128, 4, 0);
    ck_assert_int_eq(orion_channel_close(fresh), 0);
    orion_client_close(o);
    assert_clean_via(c, 1);
    orion_client_close(c);
    ck_assert(harness_daemon_alive(&D));
}
END_TEST

/* --- cycles, waits, limits, fork ------------------------------------------ */

START_TEST(test_channel_1000_create_open_close_cycles_leak_nothing)
{
    harness_fixture_start(NULL);
    orion_client *p = kept_client();
    orion_client *q = kept_client();
    for (uint64_t i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cycle-%llu", (unsigned long long)(i % 7));
        orion_channel *ch = create_ok(p, name, 64 + i, 1 + i % 5, 0);
        orion_channel *k = open_ok(q, name);
        ck_assert_int_eq(publish_msg(ch, 0), 0);
        ck_assert_int_eq(receive_msg(k, 0), 0);
        if (i % 2) {
            ck_assert_int_eq(orion_channel_close(ch), 0);
            ck_assert_int_eq(orion_channel_close(k), 0);
        } else {
            ck_assert_int_eq(orion_channel_close(k), 0);
            ck_assert_int_eq(orion_channel_close(ch), 0);
        }
    }
    orion_client_close(q);
    assert_clean_via(p, 1);
    orion_client_close(p);
}
END_TEST

static int late_creator(void *p)
{
    (void)p;
    orion_client *c = child_connect();
    if (!c)
        return 40;
    usleep(200 * 1000);
    orion_channel *ch = NULL;
    struct orion_channel_config cfg = { 100, 0, 0 };
    if (orion_channel_create(c, "late", &cfg, &ch) != 0)
        return 41;
    if (wait_consumers(ch, 1) != 0 || publish_msg(ch, 0) != 0)
        return 42;
    if (wait_consumers(ch, 0) != 0)
        return 43;
    orion_channel_close(ch);
    orion_client_close(c);
    return 0;
}

START_TEST(test_channel_open_waits_for_create)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    orion_channel *ch = NULL;
    int64_t t0 = harness_now_ms();
    ck_assert_int_eq(orion_channel_open(c, "nobody", 150, &ch), -ETIMEDOUT);
    ck_assert_int_ge(harness_now_ms() - t0, 140);
    ck_assert_int_eq(orion_channel_open(c, "nobody", 0, &ch), -ETIMEDOUT);
    t0 = harness_now_ms();
    pid_t kid = harness_fork(late_creator, NULL);
    ck_assert_int_gt(kid, 0);
    ch = open_ok(c, "late");
    ck_assert_int_ge(harness_now_ms() - t0, 190);
    ck_assert_uint_eq(orion_channel_slot_bytes(ch), 100);
    ck_assert_uint_eq(orion_channel_depth(ch), 4);
    ck_assert_int_eq(receive_msg(ch, 0), 0);
    ck_assert_int_eq(orion_channel_close(ch), 0);
    assert_child_ok(kid, "creator");
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

/* orionctl list's data: a channel with its producer, consumers, sequence and
 * slots in flight, as the daemon sees them now. */
START_TEST(test_channel_is_listed_with_its_ends_sequence_and_slots_in_flight)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    orion_client *d = kept_client();
    orion_channel *out = create_ok(c, "listed", 256, 4, 2);
    orion_channel *in = open_ok(d, "listed");
    for (uint64_t i = 0; i < 3; i++)
        ck_assert_int_eq(publish_msg(out, i), 0);
    ck_assert_int_eq(receive_msg(in, 0), 0);  /* 1 done: 2 in flight */
    orion_list *l;
    ck_assert_int_eq(orion_client_list(c, &l), 0);
    ck_assert_uint_eq(orion_list_n_channels(l), 1);
    struct orion_list_channel ch;
    ck_assert_int_eq(orion_list_channel(l, 0, &ch), 0);
    ck_assert_str_eq(ch.name, "listed");
    ck_assert_uint_eq(ch.slot_bytes, 256);
    ck_assert_uint_eq(ch.depth, 4);
    ck_assert_uint_eq(ch.max_consumers, 2);
    ck_assert(ch.has_producer);
    ck_assert_int_eq(ch.producer.pid, (int32_t)getpid());
    ck_assert_uint_eq(ch.n_consumers, 1);
    ck_assert_uint_eq(ch.sequence, 3);
    ck_assert_uint_eq(ch.slots_in_flight, 2);
    ck_assert(!ch.broken);
    struct orion_list_end e;
    ck_assert_int_eq(orion_list_consumer(l, 0, 0, &e), 0);
    ck_assert_int_eq(e.pid, (int32_t)getpid());
    ck_assert_int_eq(orion_list_consumer(l, 0, 1, &e), -EINVAL);
    ck_assert_int_eq(orion_list_channel(l, 1, &ch), -EINVAL);
    orion_list_free(l);
    /* The producer gone: listed without one. */
    ck_assert_int_eq(orion_channel_close(out), 0);
    ck_assert_int_eq(orion_client_list(d, &l), 0);
    ck_assert_int_eq(orion_list_channel(l, 0, &ch), 0);
    ck_assert(!ch.has_producer);
    orion_list_free(l);
    ck_assert_int_eq(orion_channel_close(in), 0);
    ck_assert_int_eq(orion_client_list(d, &l), 0);
    ck_assert_uint_eq(orion_list_n_channels(l), 0);
    orion_list_free(l);
    orion_client_close(d);
    orion_client_close(c);
}
END_TEST

START_TEST(test_channel_open_past_max_consumers_is_ebusy)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    orion_client *o = kept_client();
    orion_channel *ch = create_ok(c, "two", 64, 2, 2);
    orion_channel *k1 = open_ok(o, "two"), *k2 = open_ok(o, "two"), *k3 = NULL;
    ck_assert_int_eq(orion_channel_open(o, "two", 0, &k3), -EBUSY);
    ck_assert_ptr_null(k3);
    ck_assert_int_eq(orion_channel_consumers(ch), 2);
    ck_assert_int_eq(orion_channel_close(k1), 0);
    k3 = open_ok(o, "two");
    ck_assert_int_eq(orion_channel_close(k2), 0);
    ck_assert_int_eq(orion_channel_close(k3), 0);
    ck_assert_int_eq(orion_channel_close(ch), 0);
    orion_client_close(o);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

static orion_channel *fork_prod, *fork_cons;

static int forked_user(void *p)
{
    (void)p;
    void *slot;
    const void *in = NULL;
    if (orion_channel_acquire(fork_prod, 0, &slot) != -ECHILD)
        return 40;
    if (orion_channel_receive(fork_cons, 0, &in, NULL, NULL) != -ECHILD)
        return 41;
    if (orion_channel_done(fork_cons, in) != -ECHILD)
        return 42;
    if (orion_channel_close(fork_prod) != -ECHILD || orion_channel_close(fork_cons) != -ECHILD)
        return 43;
    return 0;
}

START_TEST(test_channel_in_forked_child_is_echild)
{
    harness_fixture_start(NULL);
    orion_client *c = kept_client();
    fork_prod = create_ok(c, "forked", 64, 2, 0);
    fork_cons = open_ok(c, "forked");
    ck_assert_int_eq(publish_msg(fork_prod, 0), 0);
    pid_t kid = harness_fork(forked_user, NULL);
    ck_assert_int_gt(kid, 0);
    assert_child_ok(kid, "forked child");
    ck_assert_int_eq(receive_msg(fork_cons, 0), 0);
    ck_assert_int_eq(publish_msg(fork_prod, 1), 0);
    ck_assert_int_eq(receive_msg(fork_cons, 1), 0);
    ck_assert_int_eq(orion_channel_close(fork_cons), 0);
    ck_assert_int_eq(orion_channel_close(fork_prod), 0);
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = harness_fixture_tcase("channels", 120);
    tcase_add_test(tc, test_channel_keeps_order_and_content_over_100000_messages);
    tcase_add_test(tc, test_channel_broadcasts_to_three_consumers);
    tcase_add_test(tc, test_channel_producer_blocks_at_depth_and_times_out);
    tcase_add_test(tc, test_channel_consumer_killed_holding_a_slot_frees_it);
    tcase_add_test(tc, test_channel_producer_killed_before_publish_consumers_drain_then_epipe);
    tcase_add_test(tc, test_channel_producer_takeover_continues_the_sequence);
    tcase_add_test(tc, test_channel_garbage_over_control_block_breaks_that_channel_only);
    tcase_add_test(tc, test_channel_1000_create_open_close_cycles_leak_nothing);
    tcase_add_test(tc, test_channel_open_waits_for_create);
    tcase_add_test(tc, test_channel_open_past_max_consumers_is_ebusy);
    tcase_add_test(tc, test_channel_is_listed_with_its_ends_sequence_and_slots_in_flight);
    tcase_add_test(tc, test_channel_in_forked_child_is_echild);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
