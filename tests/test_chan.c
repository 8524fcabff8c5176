/* test_chan.c - the channel ring (proto/chan_*.c) between real processes over a
 * MAP_SHARED anonymous mapping; the test process plays the daemon. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"

/* What children report back, in its own shared page. */
struct shared {
    _Atomic uint64_t received[4];
    _Atomic int flag[4];
    _Atomic uint64_t t_ns[4];
    _Atomic int err[4];
};

static struct chan_ref ref;
static void *region;
static uint64_t region_bytes;
static struct shared *sh;

static double slowdown(void)
{
    const char *s = getenv("ORION_TEST_SLOWDOWN");
    double f = s != NULL ? atof(s) : 1.0;
    return f >= 1.0 ? f : 1.0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void setup_chan(uint64_t slot_bytes, uint32_t depth, uint32_t max_consumers)
{
    struct chan_geom g = {slot_bytes, depth, max_consumers};

    ck_assert_int_eq(chan_layout_bytes(&g, &region_bytes), 0);
    region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(region, MAP_FAILED);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sh, MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    ck_assert_int_eq(chan_init(&ref, region, region_bytes, &g), 0);
}

/* Wait for a child; it must exit 0 within ms (stretched for sanitizers). */
static void reap(pid_t pid, int ms)
{
    uint64_t end = now_ns() + (uint64_t)(ms * slowdown()) * 1000000u;
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        ck_assert_int_ne(r, -1);
        if (r == pid)
            break;
        if (now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("child %d still running after %d ms", (int)pid, ms);
        }
        usleep(1000);
    }
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", (int)pid, st);
}

static void wait_flag(int i, int want, int ms)
{
    uint64_t end = now_ns() + (uint64_t)(ms * slowdown()) * 1000000u;
    while (atomic_load(&sh->flag[i]) < want) {
        ck_assert_msg(now_ns() < end, "flag %d never reached %d", i, want);
        usleep(200);
    }
}

#define CHILD_CHECK(cond)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: child: %s\n", __FILE__, __LINE__, #cond);              \
            _exit(1);                                                                       \
        }                                                                                   \
    } while (0)

static void fill(uint8_t *p, uint64_t seq, uint64_t bytes)
{
    memcpy(p, &seq, 8);
    for (uint64_t i = 8; i < bytes; i++)
        p[i] = (uint8_t)(seq * 31 + i);
}

static int check_content(const uint8_t *p, uint64_t seq, uint64_t bytes)
{
    uint64_t s;
    memcpy(&s, p, 8);
    if (s != seq)
        return 0;
    for (uint64_t i = 8; i < bytes; i++)
        if (p[i] != (uint8_t)(seq * 31 + i))
            return 0;
    return 1;
}

static uint64_t msg_bytes(uint64_t seq, uint64_t slot_bytes) { return 8 + seq % (slot_bytes - 7); }

/* A producer process: n messages from seq `first`, then exit. */
static pid_t spawn_producer(uint64_t first, uint64_t n)
{
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        struct chan_producer p;
        CHILD_CHECK(chan_producer_open(&p, region, region_bytes, &ref.geom) == 0);
        CHILD_CHECK(p.next_seq == first);
        for (uint64_t i = 0; i < n; i++) {
            void *slot;
            uint64_t seq = first + i, b = msg_bytes(seq, ref.geom.slot_bytes);
            CHILD_CHECK(chan_acquire(&p, 10000, &slot) == 0);
            fill(slot, seq, b);
            CHILD_CHECK(chan_publish(&p, slot, b) == 0);
        }
        chan_producer_close(&p);
        _exit(0);
    }
    return pid;
}

/* A consumer process at index idx: n messages from `start`, checked. */
static pid_t spawn_consumer(uint32_t idx, uint64_t start, uint64_t n, int slot_report)
{
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        struct chan_consumer c;
        CHILD_CHECK(chan_consumer_open(&c, region, region_bytes, &ref.geom, idx, start) == 0);
        for (uint64_t i = 0; i < n; i++) {
            const void *slot;
            uint64_t bytes, seq;
            int rc = chan_receive(&c, 10000, &slot, &bytes, &seq);
            if (rc != 0)
                fprintf(stderr, "receive %llu: %d\n", (unsigned long long)i, rc);
            CHILD_CHECK(rc == 0);
            CHILD_CHECK(seq == start + i);
            CHILD_CHECK(bytes == msg_bytes(seq, ref.geom.slot_bytes));
            CHILD_CHECK(check_content(slot, seq, bytes));
            CHILD_CHECK(chan_done(&c, slot) == 0);
            atomic_store(&sh->received[slot_report], i + 1);
        }
        chan_consumer_close(&c);
        _exit(0);
    }
    return pid;
}

static void expect_all_free(void)
{
    struct chan_info info;
    ck_assert_int_eq(chan_inspect(&ref, &info), 0);
    ck_assert_uint_eq(info.busy_slots, 0);
}

START_TEST(test_chan_order_content_100k)
{
    uint32_t idx;
    uint64_t start;
    pid_t c, p;

    setup_chan(256, 4, 2);
    ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
    ck_assert_uint_eq(start, 0);
    c = spawn_consumer(idx, start, 100000, 0);
    p = spawn_producer(0, 100000);
    reap(p, 60000);
    reap(c, 60000);
    expect_all_free();
    {
        struct chan_info info;
        ck_assert_int_eq(chan_inspect(&ref, &info), 0);
        ck_assert_uint_eq(info.head, 100000);
    }
}
END_TEST

START_TEST(test_chan_broadcast_three)
{
    uint32_t idx[3];
    uint64_t start[3];
    pid_t c[3], p;

    setup_chan(4096, 8, 4);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(chan_attach(&ref, &idx[i], &start[i]), 0);
        ck_assert_uint_eq(idx[i], (uint32_t)i);
    }
    for (int i = 0; i < 3; i++)
        c[i] = spawn_consumer(idx[i], start[i], 20000, i);
    p = spawn_producer(0, 20000);
    reap(p, 60000);
    for (int i = 0; i < 3; i++)
        reap(c[i], 60000);
    expect_all_free();
}
END_TEST

/* No consumer: a publish frees its slot at once, the producer never waits. */
START_TEST(test_chan_no_consumer_frees_at_once)
{
    struct chan_producer p;
    void *slot, *s2;

    setup_chan(64, 2, 1);
    ck_assert_int_eq(chan_producer_open(&p, region, region_bytes, &ref.geom), 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(chan_acquire(&p, 0, &slot), 0);
        ck_assert_int_eq(chan_publish(&p, slot, 64), 0);
    }
    /* Up to depth acquired; publish in acquisition order only. */
    ck_assert_int_eq(chan_acquire(&p, 0, &slot), 0);
    ck_assert_int_eq(chan_acquire(&p, 0, &s2), 0);
    ck_assert_ptr_ne(slot, s2);
    ck_assert_int_eq(chan_acquire(&p, 0, &s2), -ENOBUFS);
    ck_assert_int_eq(chan_publish(&p, (uint8_t *)slot + p.stride * 0 + 0, 65), -EINVAL);
    {
        void *second = (slot == p.slots) ? p.slots + p.stride : p.slots;
        ck_assert_int_eq(chan_publish(&p, second, 1), -EINVAL);
    }
    ck_assert_int_eq(chan_publish(&p, slot, 0), 0);
    ck_assert_int_eq(chan_acquire(&p, 0, &slot), 0);
    ck_assert_uint_eq(chan_syscalls(), 0);
    chan_producer_close(&p);
    expect_all_free();
}
END_TEST

/* The producer blocks at depth and times out; a done wakes it. */
START_TEST(test_chan_backpressure)
{
    struct chan_producer p;
    struct chan_consumer c;
    uint32_t idx;
    uint64_t start, t0, el;
    void *slot;
    pid_t pid;

    setup_chan(128, 4, 1);
    ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
    ck_assert_int_eq(chan_producer_open(&p, region, region_bytes, &ref.geom), 0);
    p.spin_ns = 1000;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(chan_acquire(&p, 0, &slot), 0);
        fill(slot, (uint64_t)i, 100);
        ck_assert_int_eq(chan_publish(&p, slot, 100), 0);
    }
    ck_assert_int_eq(chan_acquire(&p, 0, &slot), -ETIMEDOUT);
    t0 = now_ns();
    ck_assert_int_eq(chan_acquire(&p, 50, &slot), -ETIMEDOUT);
    el = now_ns() - t0;
    ck_assert_uint_ge(el, 49000000u);
    ck_assert_uint_lt(el, (uint64_t)(1000000000u * slowdown()));

    /* A consumer process takes one message 100 ms from now: the producer,
     * asleep in acquire, wakes. */
    ck_assert_int_eq(chan_consumer_open(&c, region, region_bytes, &ref.geom, idx, start), 0);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        const void *m;
        uint64_t seq;
        usleep(100000);
        CHILD_CHECK(chan_receive(&c, 1000, &m, NULL, &seq) == 0 && seq == 0);
        CHILD_CHECK(check_content(m, 0, 100));
        CHILD_CHECK(chan_done(&c, m) == 0);
        _exit(0);
    }
    t0 = now_ns();
    ck_assert_int_eq(chan_acquire(&p, 5000, &slot), 0);
    el = now_ns() - t0;
    ck_assert_uint_ge(el, 50000000u);
    ck_assert_uint_ge(chan_syscalls(), 1); /* it slept */
    reap(pid, 5000);
    chan_consumer_close(&c);
    chan_producer_close(&p);
}
END_TEST

/* A consumer SIGKILLed while it holds a slot: the daemon detaches it, the
 * producer goes on, the other consumer gets everything. */
START_TEST(test_chan_consumer_killed_holding_slot)
{
    uint32_t i1, i2;
    uint64_t s1, s2;
    pid_t victim, c2, p;
    int st;

    setup_chan(256, 4, 2);
    ck_assert_int_eq(chan_attach(&ref, &i1, &s1), 0);
    ck_assert_int_eq(chan_attach(&ref, &i2, &s2), 0);
    victim = fork();
    ck_assert_int_ne(victim, -1);
    if (victim == 0) {
        struct chan_consumer c;
        const void *m;
        CHILD_CHECK(chan_consumer_open(&c, region, region_bytes, &ref.geom, i1, s1) == 0);
        CHILD_CHECK(chan_receive(&c, 10000, &m, NULL, NULL) == 0);
        CHILD_CHECK(chan_receive(&c, 10000, &m, NULL, NULL) == 0);
        atomic_store(&sh->flag[0], 1); /* holds two slots, never done */
        for (;;)
            pause();
    }
    c2 = spawn_consumer(i2, s2, 1000, 1);
    p = spawn_producer(0, 1000);
    wait_flag(0, 1, 10000);
    usleep(20000); /* the producer fills the ring and waits */
    ck_assert_uint_lt(atomic_load(&sh->received[1]), 1000);
    kill(victim, SIGKILL);
    waitpid(victim, &st, 0);
    ck_assert_int_eq(chan_detach(&ref, i1), 0);
    reap(p, 30000);
    reap(c2, 30000);
    expect_all_free();
    /* The index is free again, and a new consumer there starts at head. */
    ck_assert_int_eq(chan_attach(&ref, &i1, &s1), 0);
    ck_assert_uint_eq(i1, 0);
    ck_assert_uint_eq(s1, 1000);
    ck_assert_int_eq(chan_detach(&ref, i1), 0);
    ck_assert_int_eq(chan_detach(&ref, i1), -EINVAL);
}
END_TEST

/* The producer SIGKILLed between acquire and publish: consumers drain what was
 * published, then get -EPIPE (at once: they were asleep) within 100 ms. Then
 * a new producer of the same geometry takes over, the sequence goes on. */
START_TEST(test_chan_producer_killed_then_takeover)
{
    uint32_t idx[2];
    uint64_t start[2];
    pid_t c[2], p;
    int st;

    setup_chan(512, 4, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(chan_attach(&ref, &idx[i], &start[i]), 0);
    for (int i = 0; i < 2; i++) {
        c[i] = fork();
        ck_assert_int_ne(c[i], -1);
        if (c[i] == 0) {
            struct chan_consumer cc;
            const void *m;
            uint64_t seq, bytes;
            int rc;
            CHILD_CHECK(chan_consumer_open(&cc, region, region_bytes, &ref.geom, idx[i], 0) == 0);
            for (uint64_t n = 0;; n++) {
                rc = chan_receive(&cc, 10000, &m, &bytes, &seq);
                if (rc == -EPIPE)
                    break;
                CHILD_CHECK(rc == 0 && seq == n && check_content(m, seq, bytes));
                CHILD_CHECK(chan_done(&cc, m) == 0);
                atomic_store(&sh->received[i], n + 1);
            }
            atomic_store(&sh->t_ns[i], now_ns());
            CHILD_CHECK(atomic_load(&sh->received[i]) == 3);
            /* -EPIPE again at once, and 0 times out as before. */
            CHILD_CHECK(chan_receive(&cc, 0, &m, NULL, NULL) == -EPIPE);
            atomic_store(&sh->flag[i], 1);
            /* After the takeover: messages 3..5 from the new producer. */
            for (uint64_t n = 3; n < 6; n++) {
                /* -EPIPE at once on every call until the takeover. */
                while ((rc = chan_receive(&cc, 10000, &m, &bytes, &seq)) == -EPIPE)
                    usleep(1000);
                CHILD_CHECK(rc == 0 && seq == n && check_content(m, seq, bytes));
                CHILD_CHECK(chan_done(&cc, m) == 0);
            }
            chan_consumer_close(&cc);
            _exit(0);
        }
    }
    p = fork();
    ck_assert_int_ne(p, -1);
    if (p == 0) {
        struct chan_producer pp;
        void *slot;
        CHILD_CHECK(chan_producer_open(&pp, region, region_bytes, &ref.geom) == 0);
        for (uint64_t n = 0; n < 3; n++) {
            CHILD_CHECK(chan_acquire(&pp, 10000, &slot) == 0);
            fill(slot, n, msg_bytes(n, 512));
            CHILD_CHECK(chan_publish(&pp, slot, msg_bytes(n, 512)) == 0);
        }
        CHILD_CHECK(chan_acquire(&pp, 10000, &slot) == 0);
        CHILD_CHECK(chan_acquire(&pp, 10000, &slot) == 0);
        atomic_store(&sh->flag[2], 1);
        for (;;)
            pause();
    }
    wait_flag(2, 1, 10000);
    while (atomic_load(&sh->received[0]) < 3 || atomic_load(&sh->received[1]) < 3)
        usleep(500);
    usleep(20000); /* both asleep in receive */
    kill(p, SIGKILL);
    waitpid(p, &st, 0);
    {
        uint64_t t0 = now_ns();
        ck_assert_int_eq(chan_producer_gone(&ref), 0);
        ck_assert_int_eq(chan_producer_gone(&ref), -EALREADY);
        wait_flag(0, 1, 5000);
        wait_flag(1, 1, 5000);
        for (int i = 0; i < 2; i++) {
            uint64_t t = atomic_load(&sh->t_ns[i]);
            ck_assert_msg(t > t0 && t - t0 < (uint64_t)(100000000u * slowdown()),
                          "consumer %d: -EPIPE after %lld ns", i, (long long)(t - t0));
        }
    }
    expect_all_free();
    {
        struct chan_geom other = ref.geom;
        other.depth = 8;
        ck_assert_int_eq(chan_takeover(&ref, &other), -EINVAL);
        ck_assert_int_eq(chan_takeover(&ref, &ref.geom), 0);
        ck_assert_int_eq(chan_takeover(&ref, &ref.geom), -EBUSY);
    }
    p = spawn_producer(3, 3);
    reap(p, 10000);
    reap(c[0], 10000);
    reap(c[1], 10000);
    expect_all_free();
}
END_TEST

/* The producer dead in the middle of a publish, staged by hand: (a) slot
 * marked for consumers, entry not written: discarded; (b) entry written, head
 * not stored: counts as published. */
START_TEST(test_chan_producer_gone_mid_publish)
{
    struct chan_consumer c;
    struct chan_ctl *ctl;
    struct chan_entry *e;
    struct chan_desc *d;
    uint32_t idx;
    uint64_t start;
    const void *m;
    uint64_t seq;

    setup_chan(64, 4, 2);
    ctl = region;
    e = (struct chan_entry *)((uint8_t *)region + ref.layout.entries_off);
    d = (struct chan_desc *)((uint8_t *)region + ref.layout.desc_off);
    ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
    ck_assert_int_eq(chan_consumer_open(&c, region, region_bytes, &ref.geom, idx, start), 0);

    /* (b) at seq 0 in slot 2, and (a) at seq 1 in slot 3. */
    atomic_store(&d[2].seq, 0);
    atomic_store(&d[2].pending, 1u << idx);
    atomic_store(&e[0].slot, 2);
    atomic_store(&e[0].bytes, 7);
    atomic_store(&e[0].seq, 0);
    atomic_store(&d[3].seq, 1);
    atomic_store(&d[3].pending, 1u << idx);
    ck_assert_int_eq(chan_receive(&c, 0, &m, NULL, &seq), -ETIMEDOUT); /* head not yet 1 */
    ck_assert_int_eq(chan_producer_gone(&ref), 0);
    ck_assert_uint_eq(atomic_load(&ctl->head), 1);
    ck_assert_uint_eq(atomic_load(&d[3].pending), 0);
    ck_assert_int_eq(chan_receive(&c, 0, &m, NULL, &seq), 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_int_eq(chan_receive(&c, 100, &m, NULL, &seq), -EPIPE);
    ck_assert_int_eq(chan_done(&c, (const uint8_t *)region + ref.layout.slots_off +
                                       2 * ref.layout.slot_stride), 0);
    expect_all_free();
    chan_consumer_close(&c);
}
END_TEST

/* Attach and detach as fast as possible while a producer publishes: the stale
 * attached-mask races must never leave a slot busy for ever. */
START_TEST(test_chan_attach_detach_race)
{
    uint32_t idx, keep;
    uint64_t start, kstart;
    pid_t p, c;

    setup_chan(64, 2, 3);
    ck_assert_int_eq(chan_attach(&ref, &keep, &kstart), 0);
    c = spawn_consumer(keep, kstart, 200000, 0);
    p = spawn_producer(0, 200000);
    uint64_t end = now_ns() + (uint64_t)(60e9 * slowdown());
    while (atomic_load(&sh->received[0]) < 200000 && now_ns() < end) {
        uint32_t a, b;
        uint64_t sa, sb;
        ck_assert_int_eq(chan_attach(&ref, &a, &sa), 0);
        ck_assert_int_eq(chan_attach(&ref, &b, &sb), 0);
        ck_assert_int_eq(chan_detach(&ref, a), 0);
        ck_assert_int_eq(chan_detach(&ref, b), 0);
    }
    reap(p, 30000);
    reap(c, 30000);
    ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
    ck_assert_int_eq(chan_detach(&ref, idx), 0);
    ck_assert_int_eq(chan_detach(&ref, keep), 0);
    expect_all_free();
}
END_TEST

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void scribble(uint64_t upto, int mode)
{
    uint8_t *b = region;
    for (uint64_t i = 0; i < upto; i += 8) {
        uint64_t v = xorshift();
        if (mode == 1) /* huge values */
            v |= 0xfff0000000000000ull;
        else if (mode == 2) /* small indices near the limits */
            v = xorshift() % 8 == 0 ? UINT64_MAX - (v % 4) : v % 16;
        memcpy(b + i, &v, 8);
    }
}

/* Garbage over the control block: every operation returns (an error, or
 * nonsense that stays inside the region) within its timeout; the daemon's
 * functions never crash and inspect says -EPROTO. */
START_TEST(test_chan_garbage)
{
    setup_chan(256, 4, 4);
    for (int round = 0; round < 300; round++) {
        struct chan_producer p;
        struct chan_consumer c;
        struct chan_info info;
        uint32_t idx;
        uint64_t start, t0;
        const void *m;
        void *slot;
        int mode = round % 3, rc;
        /* The header too on a third of the rounds, else the rest only. */
        uint64_t from = round % 2 == 0 ? 0 : 64;

        ck_assert_int_eq(chan_init(&ref, region, region_bytes, &ref.geom), 0);
        ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
        ck_assert_int_eq(chan_producer_open(&p, region, region_bytes, &ref.geom), 0);
        ck_assert_int_eq(chan_consumer_open(&c, region, region_bytes, &ref.geom, idx, start), 0);
        p.spin_ns = c.spin_ns = 1000;
        for (int i = 0; i < round % 5; i++) {
            ck_assert_int_eq(chan_acquire(&p, 0, &slot), 0);
            ck_assert_int_eq(chan_publish(&p, slot, 10), 0);
        }
        {
            uint8_t *b = region;
            uint64_t v;
            scribble(ref.layout.slots_off, mode);
            if (from != 0) { /* keep a valid header */
                struct chan_ref tmp;
                uint8_t save[ref.layout.slots_off];
                memcpy(save, b, ref.layout.slots_off);
                ck_assert_int_eq(chan_init(&tmp, region, region_bytes, &ref.geom), 0);
                memcpy(b + 64, save + 64, ref.layout.slots_off - 64);
            }
            (void)v;
        }
        rc = chan_inspect(&ref, &info);
        ck_assert_int_eq(rc, -EPROTO);
        ck_assert_ptr_nonnull(info.why);
        t0 = now_ns();
        for (int i = 0; i < 8; i++) {
            rc = chan_receive(&c, i == 0 ? 20 : 0, &m, NULL, NULL);
            if (rc == 0) {
                const uint8_t *s = m;
                ck_assert(s >= c.slots && s < c.slots + 4 * c.stride);
                (void)chan_done(&c, m);
            } else {
                ck_assert(rc == -EPROTO || rc == -ETIMEDOUT || rc == -EPIPE);
            }
            rc = chan_acquire(&p, i == 0 ? 20 : 0, &slot);
            if (rc == 0)
                ck_assert_int_eq(chan_publish(&p, slot, 256), 0);
            else
                ck_assert(rc == -EPROTO || rc == -ETIMEDOUT || rc == -EPIPE || rc == -ENOBUFS);
        }
        ck_assert_uint_lt(now_ns() - t0, (uint64_t)(2000000000u * slowdown()));
        (void)chan_detach(&ref, idx);
        (void)chan_attach(&ref, &idx, &start);
        (void)chan_producer_gone(&ref);
        (void)chan_takeover(&ref, &ref.geom);
        (void)chan_inspect(&ref, &info);
        chan_producer_close(&p);
        chan_consumer_close(&c);
    }
}
END_TEST

/* A consumer and a producer at work while the test scribbles over their
 * block: both come out with an error (or carry on) without a crash or hang. */
START_TEST(test_chan_garbage_live)
{
    pid_t c, p;
    uint32_t idx;
    uint64_t start;

    setup_chan(256, 4, 2);
    ck_assert_int_eq(chan_attach(&ref, &idx, &start), 0);
    for (int who = 0; who < 2; who++) {
        pid_t pid = fork();
        ck_assert_int_ne(pid, -1);
        if (pid == 0) {
            uint64_t end = now_ns() + 500000000u;
            struct chan_producer pp;
            struct chan_consumer cc;
            if (who == 0)
                CHILD_CHECK(chan_consumer_open(&cc, region, region_bytes, &ref.geom, idx, start) == 0);
            else
                CHILD_CHECK(chan_producer_open(&pp, region, region_bytes, &ref.geom) == 0);
            while (now_ns() < end) {
                const void *m;
                void *s;
                int rc;
                if (who == 0) {
                    rc = chan_receive(&cc, 50, &m, NULL, NULL);
                    if (rc == 0)
                        (void)chan_done(&cc, m);
                    else if (rc == -EPROTO)
                        atomic_store(&sh->err[0], 1);
                } else {
                    rc = chan_acquire(&pp, 50, &s);
                    if (rc == 0) {
                        memset(s, 0xab, 256);
                        CHILD_CHECK(chan_publish(&pp, s, 256) == 0);
                    } else if (rc == -EPROTO) {
                        atomic_store(&sh->err[1], 1);
                    }
                }
            }
            _exit(0);
        }
        if (who == 0)
            c = pid;
        else
            p = pid;
    }
    usleep(100000);
    for (int i = 0; i < 200; i++) {
        scribble(ref.layout.slots_off, i % 3);
        usleep(500);
    }
    reap(c, 5000);
    reap(p, 5000);
    ck_assert_int_eq(atomic_load(&sh->err[0]) | atomic_load(&sh->err[1]), 1);
}
END_TEST

START_TEST(test_chan_geometry)
{
    struct chan_geom g = {1, 1, 1};
    struct chan_layout l;
    struct chan_ref r;
    uint64_t bytes;
    uint32_t idx;
    uint64_t start;
    static _Alignas(64) uint8_t buf[4096 + 64];

    ck_assert_int_eq(chan_layout(&g, &l), 0);
    ck_assert_uint_eq(l.slot_stride, 64);
    ck_assert_uint_eq(l.entries_off, 320);
    ck_assert_uint_eq(l.desc_off, 384);
    ck_assert_uint_eq(l.slots_off, 448);
    ck_assert_uint_eq(l.total_bytes, 512);
    g = (struct chan_geom){4097, 3, 8};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), 0);
    ck_assert_uint_eq(bytes, 320 + 3 * 64 + 3 * 64 + 3 * 4160);
    /* Every slot aligned to 64. */
    ck_assert_uint_eq(bytes % 64, 0);

    g = (struct chan_geom){0, 4, 8};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){64, 0, 8};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){64, 4, 0};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){64, 4, CHAN_MAX_CONSUMERS + 1};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){64, CHAN_MAX_DEPTH + 1, 8};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){CHAN_MAX_SLOT_BYTES + 1, 4, 8};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    g = (struct chan_geom){UINT64_MAX, UINT32_MAX, UINT32_MAX};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), -EINVAL);
    /* The largest geometry still fits in 64 bits. */
    g = (struct chan_geom){CHAN_MAX_SLOT_BYTES, CHAN_MAX_DEPTH, CHAN_MAX_CONSUMERS};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), 0);
    ck_assert_uint_eq(bytes, 320 + 2 * 64 * (uint64_t)CHAN_MAX_DEPTH +
                                 CHAN_MAX_SLOT_BYTES * CHAN_MAX_DEPTH);

    /* init: alignment and size. */
    g = (struct chan_geom){64, 4, 64};
    ck_assert_int_eq(chan_layout_bytes(&g, &bytes), 0);
    ck_assert_int_eq(chan_init(&r, buf + 8, sizeof(buf) - 8, &g), -EINVAL);
    ck_assert_int_eq(chan_init(&r, buf, bytes - 1, &g), -EINVAL);
    ck_assert_int_eq(chan_init(&r, buf, bytes, &g), 0);
    /* 64 consumers, then -EBUSY; an index is reused after detach. */
    for (uint32_t i = 0; i < 64; i++) {
        ck_assert_int_eq(chan_attach(&r, &idx, &start), 0);
        ck_assert_uint_eq(idx, i);
    }
    ck_assert_int_eq(chan_attach(&r, &idx, &start), -EBUSY);
    ck_assert_int_eq(chan_detach(&r, 17), 0);
    ck_assert_int_eq(chan_detach(&r, 64), -EINVAL);
    ck_assert_int_eq(chan_attach(&r, &idx, &start), 0);
    ck_assert_uint_eq(idx, 17);
    ck_assert_int_eq(chan_takeover(&r, &g), -EBUSY);
    {
        struct chan_info info;
        ck_assert_int_eq(chan_inspect(&r, &info), 0);
        ck_assert_uint_eq(info.attached, UINT64_MAX);
    }
    /* Ends refuse a region that does not match. */
    {
        struct chan_producer p;
        struct chan_consumer c;
        struct chan_geom g2 = {64, 8, 64};
        ck_assert_int_eq(chan_producer_open(&p, buf, bytes - 1, &g), -EINVAL);
        ck_assert_int_eq(chan_producer_open(&p, buf + 8, bytes, &g), -EINVAL);
        ck_assert_int_eq(chan_producer_open(&p, buf, sizeof(buf), &g2), -EPROTO);
        ck_assert_int_eq(chan_consumer_open(&c, buf, bytes, &g, 64, 0), -EINVAL);
        ck_assert_int_eq(chan_consumer_open(&c, buf, bytes, &g, 0, 0), 0);
        ck_assert_int_eq(chan_done(&c, buf), -EINVAL);
        chan_consumer_close(&c);
    }
}
END_TEST

static Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("chan");

    tcase_set_timeout(tc, 120 * slowdown());
    tcase_add_test(tc, test_chan_geometry);
    tcase_add_test(tc, test_chan_no_consumer_frees_at_once);
    tcase_add_test(tc, test_chan_order_content_100k);
    tcase_add_test(tc, test_chan_broadcast_three);
    tcase_add_test(tc, test_chan_backpressure);
    tcase_add_test(tc, test_chan_consumer_killed_holding_slot);
    tcase_add_test(tc, test_chan_producer_killed_then_takeover);
    tcase_add_test(tc, test_chan_producer_gone_mid_publish);
    tcase_add_test(tc, test_chan_attach_detach_race);
    tcase_add_test(tc, test_chan_garbage);
    tcase_add_test(tc, test_chan_garbage_live);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chan_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
