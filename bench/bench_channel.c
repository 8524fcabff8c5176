/* bench_channel.c - channels against the limit and against today: four
 * transports between two processes,
 *   raw     a shared-memory futex ring written here (the limit)
 *   ring    the channel ring (proto/chan_*.c) over a MAP_SHARED mapping, no daemon
 *   client  orion_channel_* through a running orionrtd (started here, through
 *           the tests' harness): create/open/close on the socket, the ring after
 *   buffer  today's named-buffer hand-off through the same daemon: per message
 *           create, write, seal, wait_unused, release / wait, read, release
 *   iceoryx iceoryx 2.0.3 through its C binding (iox_transport.c): a publisher,
 *           a subscriber with a waitset, our own iox-roudi; built when CMake
 *           finds iceoryx_binding_c, else iceoryx=not_installed
 *
 * For 4 KiB, 1 MiB and 16 MiB messages, in two modes:
 *   handoff  the producer writes 8 bytes, the consumer reads 8 (the transport)
 *   touch    the producer writes every byte, the consumer reads every byte
 * it measures the ping-pong round trip (p50, p99: A sends, B receives and
 * sends back, A receives) and the one-way rate (depth 4), and counts futex
 * system calls and voluntary context switches per iteration in both
 * processes. Both rings spin the same bounded time (CHAN_SPIN_NS_DEFAULT)
 * before sleeping; iceoryx sleeps in its waitset at once, as issue 7's
 * measurement and iceoryx's examples do (--iox-spin: it polls its subscriber
 * for the rings' spin first).
 * Last line: key=value.
 *
 *   bench_channel [--quick] [--iox-spin]
 *   bench_channel --pingpong KIND ITERS   one 4 KiB hand-off ping-pong, for
 *                                         strace -c -f (bench_channel.sh)
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <orion/orion.h>

#include "chan.h"
#include "futex.h"
#include "harness_daemon.h"
#ifdef ORION_BENCH_IOX
#include "iox_transport.h"
#endif

#define N_KINDS 5
#define KIND_IOX 4
static const char *kind_names[N_KINDS] = {"raw", "ring", "client", "buffer", "iceoryx"};
static int g_iox_ok;            /* our iox-roudi runs */
static uint32_t g_iox_spin_ns; /* --iox-spin: CHAN_SPIN_NS_DEFAULT */
static char g_sock[108];       /* the daemon's socket (client, buffer) */
static unsigned g_pipe_seq;    /* names of channels and buffers */

#define DEPTH 4u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *shm(uint64_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* ---- The raw ring: SPSC, head/tail counters, a futex per direction. ------ */

struct raw {
    _Alignas(64) _Atomic uint64_t head; /* producer */
    _Alignas(64) _Atomic uint64_t tail; /* consumer */
    _Alignas(64) _Atomic uint32_t data_futex;
    _Atomic uint32_t data_sleepers;
    _Alignas(64) _Atomic uint32_t space_futex;
    _Atomic uint32_t space_sleepers;
    _Alignas(64) uint64_t bytes[DEPTH];
    _Alignas(64) uint8_t slots[];
};

static _Atomic uint64_t raw_syscalls;

static void raw_wake(_Atomic uint32_t *f, _Atomic uint32_t *s)
{
    if (atomic_load(s) != 0) {
        atomic_fetch_add(f, 1);
        atomic_fetch_add_explicit(&raw_syscalls, 1, memory_order_relaxed);
        orion_futex_wake(f, INT_MAX);
    }
}

/* Wait until *var relation holds: spin CHAN_SPIN_NS_DEFAULT, then futex. */
static void raw_wait(_Atomic uint64_t *var, uint64_t want_gt, _Atomic uint32_t *f,
                     _Atomic uint32_t *s)
{
    uint64_t end = 0;
    for (uint32_t i = 1;; i++) {
        if (atomic_load_explicit(var, memory_order_acquire) > want_gt)
            return;
        __builtin_ia32_pause();
        if ((i & 63) == 0) {
            uint64_t t = now_ns();
            if (end == 0)
                end = t + CHAN_SPIN_NS_DEFAULT;
            else if (t >= end)
                break;
        }
    }
    for (;;) {
        uint32_t v;
        atomic_fetch_add(s, 1);
        v = atomic_load(f);
        if (atomic_load(var) > want_gt) {
            atomic_fetch_sub(s, 1);
            return;
        }
        atomic_fetch_add_explicit(&raw_syscalls, 1, memory_order_relaxed);
        orion_futex_wait(f, v, NULL);
        atomic_fetch_sub(s, 1);
    }
}

/* ---- One interface over both. ------------------------------------------- */

struct end {
    int kind; /* 0 raw, 1 ring, 2 client, 3 buffer, 4 iceoryx */
    orion_client *cl;
    orion_channel *ch;
    orion_buffer *buf;
    char name[64];
    uint64_t seq, bytes;
    struct raw *r;
    uint64_t stride;
    uint64_t ptail, chead; /* raw: local copies */
    struct chan_producer p;
    struct chan_consumer c;
#ifdef ORION_BENCH_IOX
    iox_end *iox;
#endif
};

static void die(struct end *e, const char *what, int rc)
{
    fprintf(stderr, "bench_channel: %s %s: %d %s\n", kind_names[e->kind], what, rc,
            e->cl ? orion_client_error(e->cl) : "");
    exit(1);
}

static void buf_name(struct end *e, char *out, size_t n)
{
    snprintf(out, n, "%s-%llu", e->name, (unsigned long long)e->seq);
}

static void *e_acquire(struct end *e)
{
    int rc;
#ifdef ORION_BENCH_IOX
    if (e->kind == KIND_IOX)
        return iox_end_acquire(e->iox);
#endif
    if (e->kind == 2) {
        void *s;
        if ((rc = orion_channel_acquire(e->ch, -1, &s)) != 0)
            die(e, "acquire", rc);
        return s;
    }
    if (e->kind == 3) {
        char n[96];
        buf_name(e, n, sizeof(n));
        if ((rc = orion_buffer_create(e->cl, n, e->bytes, &e->buf)) != 0)
            die(e, "create", rc);
        return orion_buffer_ptr(e->buf);
    }
    if (e->kind == 0) {
        /* a slot is free when head - tail < DEPTH */
        if (e->chead >= DEPTH)
            raw_wait(&e->r->tail, e->chead - DEPTH, &e->r->space_futex, &e->r->space_sleepers);
        return e->r->slots + (e->chead % DEPTH) * e->stride;
    }
    void *s;
    if (chan_acquire(&e->p, -1, &s) != 0)
        abort();
    return s;
}

static void e_publish(struct end *e, void *slot, uint64_t bytes)
{
    int rc;
#ifdef ORION_BENCH_IOX
    if (e->kind == KIND_IOX) {
        iox_end_publish(e->iox, slot);
        return;
    }
#endif
    if (e->kind == 2) {
        if ((rc = orion_channel_publish(e->ch, slot, bytes)) != 0)
            die(e, "publish", rc);
        return;
    }
    if (e->kind == 3) {
        if ((rc = orion_buffer_seal(e->buf)) != 0 ||
            (rc = orion_buffer_wait_unused(e->buf, -1)) != 0 ||
            (rc = orion_buffer_release(e->buf)) != 0)
            die(e, "seal/wait_unused/release", rc);
        e->seq++;
        return;
    }
    if (e->kind == 0) {
        (void)slot;
        e->r->bytes[e->chead % DEPTH] = bytes;
        atomic_store(&e->r->head, ++e->chead);
        raw_wake(&e->r->data_futex, &e->r->data_sleepers);
        return;
    }
    if (chan_publish(&e->p, slot, bytes) != 0)
        abort();
}

static const void *e_receive(struct end *e, uint64_t *bytes)
{
    int rc;
#ifdef ORION_BENCH_IOX
    if (e->kind == KIND_IOX)
        return iox_end_receive(e->iox, bytes);
#endif
    if (e->kind == 2) {
        const void *s;
        if ((rc = orion_channel_receive(e->ch, -1, &s, bytes, NULL)) != 0)
            die(e, "receive", rc);
        return s;
    }
    if (e->kind == 3) {
        char n[96];
        buf_name(e, n, sizeof(n));
        if ((rc = orion_buffer_wait(e->cl, n, -1, &e->buf)) != 0)
            die(e, "wait", rc);
        *bytes = orion_buffer_size(e->buf);
        return orion_buffer_ptr(e->buf);
    }
    if (e->kind == 0) {
        raw_wait(&e->r->head, e->ptail, &e->r->data_futex, &e->r->data_sleepers);
        *bytes = e->r->bytes[e->ptail % DEPTH];
        return e->r->slots + (e->ptail % DEPTH) * e->stride;
    }
    const void *s;
    if (chan_receive(&e->c, -1, &s, bytes, NULL) != 0)
        abort();
    return s;
}

static void e_done(struct end *e, const void *slot)
{
    int rc;
#ifdef ORION_BENCH_IOX
    if (e->kind == KIND_IOX) {
        iox_end_done(e->iox, slot);
        return;
    }
#endif
    if (e->kind == 2) {
        if ((rc = orion_channel_done(e->ch, slot)) != 0)
            die(e, "done", rc);
        return;
    }
    if (e->kind == 3) {
        if ((rc = orion_buffer_release(e->buf)) != 0)
            die(e, "release", rc);
        e->seq++;
        return;
    }
    if (e->kind == 0) {
        (void)slot;
        atomic_store(&e->r->tail, ++e->ptail);
        raw_wake(&e->r->space_futex, &e->r->space_sleepers);
        return;
    }
    if (chan_done(&e->c, slot) != 0)
        abort();
}

/* A one-direction channel of either kind, set up by the "daemon" (us). */
struct pipe_ {
    int kind;
    void *mem;
    uint64_t mem_bytes;
    struct chan_ref ref;
    uint32_t idx;
    uint64_t start;
    char name[64];
};

static void pipe_make(struct pipe_ *p, int kind, uint64_t bytes)
{
    p->kind = kind;
    snprintf(p->name, sizeof(p->name), "bench-%u-%u", (unsigned)getpid(), ++g_pipe_seq);
    if (kind >= 2) {
        p->mem = NULL;
        return;
    }
    if (kind == 0) {
        p->mem_bytes = sizeof(struct raw) + DEPTH * ((bytes + 63) & ~63ull);
        p->mem = shm(p->mem_bytes);
    } else {
        struct chan_geom g = {bytes, DEPTH, 1};
        chan_layout_bytes(&g, &p->mem_bytes);
        p->mem = shm(p->mem_bytes);
        if (chan_init(&p->ref, p->mem, p->mem_bytes, &g) != 0 ||
            chan_attach(&p->ref, &p->idx, &p->start) != 0)
            abort();
    }
}

static void end_open(struct end *e, struct pipe_ *p, int producer, uint64_t bytes)
{
    memset(e, 0, sizeof(*e));
    e->kind = p->kind;
    e->stride = (bytes + 63) & ~63ull;
    e->bytes = bytes;
    memcpy(e->name, p->name, sizeof(e->name));
#ifdef ORION_BENCH_IOX
    if (p->kind == KIND_IOX) {
        e->iox = iox_end_open(p->name, producer, bytes, DEPTH, g_iox_spin_ns);
        return;
    }
#endif
    if (p->kind >= 2) {
        char err[256];
        int rc = orion_client_connect(g_sock, &e->cl, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "bench_channel: connect %s: %s\n", g_sock, err);
            exit(1);
        }
        if (p->kind == 3)
            return;
        struct orion_channel_config cfg = {bytes, DEPTH, 1};
        if (!producer) {
            if ((rc = orion_channel_open(e->cl, p->name, 30000, &e->ch)) != 0)
                die(e, "open", rc);
            return;
        }
        if ((rc = orion_channel_create(e->cl, p->name, &cfg, &e->ch)) != 0)
            die(e, "create", rc);
        while (orion_channel_consumers(e->ch) < 1) /* its consumer gets every message */
            usleep(100);
        return;
    }
    if (p->kind == 0) {
        e->r = p->mem;
        return;
    }
    if (producer ? chan_producer_open(&e->p, p->mem, p->mem_bytes, &p->ref.geom)
                 : chan_consumer_open(&e->c, p->mem, p->mem_bytes, &p->ref.geom, p->idx,
                                      p->start))
        abort();
}

static void end_close(struct end *e)
{
#ifdef ORION_BENCH_IOX
    iox_end_close(e->iox);
    e->iox = NULL;
#endif
    orion_channel_close(e->ch);
    orion_client_close(e->cl);
    e->ch = NULL;
    e->cl = NULL;
}

static void pipe_free(struct pipe_ *p)
{
    if (p->mem != NULL)
        munmap(p->mem, p->mem_bytes);
}

static void produce(void *slot, uint64_t bytes, uint64_t seq, int touch)
{
    if (touch)
        memset(slot, (int)(seq & 0xff), bytes);
    else
        memcpy(slot, &seq, 8);
}

static uint64_t consume(const void *slot, uint64_t bytes, int touch)
{
    uint64_t sum = 0, v;
    if (!touch) {
        memcpy(&v, slot, 8);
        return v;
    }
    for (uint64_t i = 0; i + 8 <= bytes; i += 8) {
        memcpy(&v, (const uint8_t *)slot + i, 8);
        sum += v;
    }
    return sum;
}

/* A measurement's child dies with its parent: a benchmark killed outright
 * leaves no endpoint waiting for ever (nor an iceoryx runtime registered). */
static void orphan_dies(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
}

/* The end of a measurement's child. An iceoryx runtime unregisters from
 * RouDi only through exit(); the others leave as they always did. */
static void child_exit(int kind)
{
#ifdef ORION_BENCH_IOX
    if (kind == KIND_IOX)
        iox_end_exit(0);
#endif
    (void)kind;
    _exit(0);
}

/* An iceoryx runtime is made once per process and never survives a fork, so
 * both endpoints of an iceoryx measurement are children: this runs fn (the
 * measurement's parent side) in one and copies res back through shared
 * memory. Returns 1 when fn ran in a child, 0 when the caller runs it. */
static int g_nested;
static int in_child(int kind, void (*fn)(void *), void *arg, void *res, size_t res_len)
{
    void *sh;
    pid_t pid;
    int st;

    if (kind != KIND_IOX || g_nested)
        return 0;
    sh = shm(res_len);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        orphan_dies();
        g_nested = 1;
        fn(arg);
        memcpy(sh, res, res_len);
        child_exit(kind);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_channel: iceoryx measurement failed\n");
        exit(1);
    }
    memcpy(res, sh, res_len);
    munmap(sh, res_len);
    return 1;
}

struct counts {
    _Atomic uint64_t syscalls;
    _Atomic uint64_t csw;
    _Atomic uint64_t sink;
};

static uint64_t my_syscalls(void) { return chan_syscalls() + atomic_load(&raw_syscalls); }

static uint64_t my_csw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_nvcsw;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double p50_us, p99_us, rate, sys_per_iter, csw_per_iter;
};

/* Ping-pong: we send on ab, the child echoes on ba. */
static void pingpong_run(int kind, uint64_t bytes, int touch, uint32_t iters, struct result *out)
{
    struct pipe_ ab, ba;
    struct counts *cnt = shm(sizeof(*cnt));
    uint64_t *lat = calloc(iters, sizeof(*lat));
    uint64_t s0, c0, sink = 0;
    pid_t pid;

    pipe_make(&ab, kind, bytes);
    pipe_make(&ba, kind, bytes);
    pid = fork();
    if (pid == 0) {
        struct end in, outp;
        orphan_dies();
        end_open(&in, &ab, 0, bytes);
        end_open(&outp, &ba, 1, bytes);
        uint64_t sy = my_syscalls(), cs = my_csw(), sk = 0;
        for (uint32_t i = 0; i < iters + 10; i++) {
            uint64_t b;
            const void *m = e_receive(&in, &b);
            sk += consume(m, b, touch);
            e_done(&in, m);
            void *s = e_acquire(&outp);
            produce(s, bytes, i, touch);
            e_publish(&outp, s, bytes);
        }
        atomic_store(&cnt->syscalls, my_syscalls() - sy);
        atomic_store(&cnt->csw, my_csw() - cs);
        atomic_store(&cnt->sink, sk);
        end_close(&in);
        end_close(&outp);
        child_exit(kind);
    }
    struct end outp, in;
    end_open(&outp, &ab, 1, bytes);
    end_open(&in, &ba, 0, bytes);
    s0 = 0;
    c0 = 0;
    for (uint32_t i = 0; i < iters + 10; i++) {
        if (i == 10) {
            s0 = my_syscalls();
            c0 = my_csw();
        }
        uint64_t t0 = now_ns(), b;
        void *s = e_acquire(&outp);
        produce(s, bytes, i, touch);
        e_publish(&outp, s, bytes);
        const void *m = e_receive(&in, &b);
        sink += consume(m, b, touch);
        e_done(&in, m);
        if (i >= 10)
            lat[i - 10] = now_ns() - t0;
    }
    uint64_t sys = my_syscalls() - s0, csw = my_csw() - c0;
    end_close(&outp);
    end_close(&in);
    waitpid(pid, NULL, 0);
    sys += atomic_load(&cnt->syscalls);
    csw += atomic_load(&cnt->csw);
    qsort(lat, iters, sizeof(*lat), cmp_u64);
    out->p50_us = lat[iters / 2] / 1e3;
    out->p99_us = lat[(uint64_t)iters * 99 / 100] / 1e3;
    out->sys_per_iter = (double)sys / iters;
    out->csw_per_iter = (double)csw / iters;
    if (sink == 42)
        fputc(' ', stderr);
    free(lat);
    pipe_free(&ab);
    pipe_free(&ba);
    munmap(cnt, sizeof(*cnt));
}

/* One-way: the child produces n messages as fast as it can. */
static double oneway_run(int kind, uint64_t bytes, int touch, uint32_t n)
{
    struct pipe_ ab;
    struct end in;
    uint64_t t0 = 0, sink = 0;
    pid_t pid;

    pipe_make(&ab, kind, bytes);
    pid = fork();
    if (pid == 0) {
        struct end outp;
        orphan_dies();
        end_open(&outp, &ab, 1, bytes);
        for (uint32_t i = 0; i < n + 10; i++) {
            void *s = e_acquire(&outp);
            produce(s, bytes, i, touch);
            e_publish(&outp, s, bytes);
        }
        /* Stay the producer until everything is received (client, buffer). */
        while (outp.ch != NULL && orion_channel_consumers(outp.ch) > 0)
            usleep(100);
#ifdef ORION_BENCH_IOX
        while (outp.iox != NULL && iox_end_has_consumer(outp.iox))
            usleep(100);
#endif
        end_close(&outp);
        child_exit(kind);
    }
    end_open(&in, &ab, 0, bytes);
    for (uint32_t i = 0; i < n + 10; i++) {
        uint64_t b;
        if (i == 10)
            t0 = now_ns();
        const void *m = e_receive(&in, &b);
        sink += consume(m, b, touch);
        e_done(&in, m);
    }
    double rate = n / ((now_ns() - t0) / 1e9);
    end_close(&in);
    waitpid(pid, NULL, 0);
    if (sink == 42)
        fputc(' ', stderr);
    pipe_free(&ab);
    return rate;
}

/* One measurement, run here or (iceoryx) in a child of its own: in_child(). */
struct job {
    int kind, touch;
    uint64_t bytes;
    uint32_t iters;
    struct result r;
    double rate;
};

static void pingpong_job(void *arg)
{
    struct job *j = arg;
    pingpong_run(j->kind, j->bytes, j->touch, j->iters, &j->r);
}

static void oneway_job(void *arg)
{
    struct job *j = arg;
    j->rate = oneway_run(j->kind, j->bytes, j->touch, j->iters);
}

static void pingpong(int kind, uint64_t bytes, int touch, uint32_t iters, struct result *out)
{
    struct job j = {.kind = kind, .touch = touch, .bytes = bytes, .iters = iters};
    if (!in_child(kind, pingpong_job, &j, &j, sizeof(j)))
        pingpong_job(&j);
    *out = j.r;
}

static double oneway(int kind, uint64_t bytes, int touch, uint32_t n)
{
    struct job j = {.kind = kind, .touch = touch, .bytes = bytes, .iters = n};
    if (!in_child(kind, oneway_job, &j, &j, sizeof(j)))
        oneway_job(&j);
    return j.rate;
}

static int kind_index(const char *name)
{
    for (int k = 0; k < N_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

/* Our iox-roudi, with its config and log in a directory of its own. Returns
 * the word for the last line: run, not_installed, busy (another RouDi owns
 * the machine's fixed names) or failed. */
static const char *iox_start(char *dir, size_t dir_len)
{
#ifdef ORION_BENCH_IOX
    char why[4200];
    int rc;
    snprintf(dir, dir_len, "/tmp/orion-roudi-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("bench_channel: mkdtemp");
        dir[0] = '\0';
        return "failed";
    }
    rc = iox_roudi_start(dir, why, sizeof(why));
    if (rc == 0) {
        g_iox_ok = 1;
        return "run";
    }
    fprintf(stderr, "bench_channel: iceoryx not measured: %s\n", why);
    return rc == -EBUSY ? "busy" : "failed";
#else
    dir[0] = '\0';
    (void)dir_len;
    return "not_installed";
#endif
}

static void iox_finish(const char *dir)
{
#ifdef ORION_BENCH_IOX
    char path[300];
    iox_roudi_stop();
    if (dir[0] == '\0')
        return;
    snprintf(path, sizeof(path), "%s/roudi.toml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/roudi.log", dir);
    unlink(path);
    rmdir(dir);
#else
    (void)dir;
#endif
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_channel [--quick] [--iox-spin]\n"
                    "       bench_channel [--iox-spin] --pingpong KIND ITERS"
                    "   (KIND: raw ring client buffer iceoryx)\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const uint64_t sizes[] = {4096, 1u << 20, 16u << 20};
    static const char *names[] = {"4k", "1m", "16m"};
    int quick = 0, pp_kind = -1;
    long pp_iters = 0;
    double worst_p50 = 0, worst_rate = 1e9, worst_sys = 0;
    double worst_iox_p50 = 0, worst_iox_rate = 1e9;
    char kv[8192], iox_dir[64];
    size_t kvn = 0;
    const char *iox_state;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--iox-spin") == 0)
            g_iox_spin_ns = CHAN_SPIN_NS_DEFAULT;
        else if (strcmp(argv[i], "--pingpong") == 0 && i + 2 < argc) {
            pp_kind = kind_index(argv[i + 1]);
            pp_iters = strtol(argv[i + 2], NULL, 10);
            if (pp_kind < 0 || pp_iters <= 0 || pp_iters > 10000000)
                return usage();
            i += 2;
        } else
            return usage();
    }

    struct harness_daemon d = {0};
    d.slot = -1;
    const char *const extra[] = {"--arena-size", "512M", NULL};
    char *why = NULL;
    if (harness_daemon_start_explained(&d, extra, &why) != 0) {
        fprintf(stderr, "bench_channel: cannot start orionrtd: %s\n", why ? why : "");
        return 1;
    }
    snprintf(g_sock, sizeof(g_sock), "%s", d.socket_path);
    iox_dir[0] = '\0';
    iox_state = "not_run"; /* a --pingpong of another kind counts no RouDi calls */
    if (pp_kind < 0 || pp_kind == KIND_IOX)
        iox_state = iox_start(iox_dir, sizeof(iox_dir));

    if (pp_kind >= 0) { /* one short ping-pong, for a system-call count from outside */
        struct result r;
        if (pp_kind == KIND_IOX && !g_iox_ok) {
            fprintf(stderr, "bench_channel: iceoryx=%s\n", iox_state);
            iox_finish(iox_dir);
            harness_daemon_cleanup(&d);
            return 1;
        }
        pingpong(pp_kind, 4096, 0, (uint32_t)pp_iters, &r);
        iox_finish(iox_dir);
        harness_daemon_cleanup(&d);
        printf("kind=%s iters=%ld pp_p50_us=%.2f\n", kind_names[pp_kind], pp_iters, r.p50_us);
        return 0;
    }

    printf("two processes, depth %u, spin %u ns before sleeping (iceoryx: %u ns, then its "
           "waitset); p50/p99 are round trips (us); sys/it: futex calls per iteration, both "
           "sides (buffer, iceoryx: not counted here; bench_channel.sh counts them with "
           "strace)\n",
           DEPTH, CHAN_SPIN_NS_DEFAULT, g_iox_spin_ns);
    printf("%-4s %-7s %-7s | %9s %9s | %10s | %7s %7s | %6s %6s\n", "size", "mode", "kind",
           "p50", "p99", "one-way/s", "p50/raw", "rate/raw", "sys/it", "csw/it");
    for (int si = 0; si < 3; si++) {
        for (int touch = 0; touch < 2; touch++) {
            uint64_t b = sizes[si];
            uint32_t iters = b <= 4096 ? 20000 : b <= (1u << 20) ? (touch ? 400 : 5000)
                                                                 : (touch ? 60 : 2000);
            struct result r[N_KINDS];
            double rate[N_KINDS];
            if (quick)
                iters = iters / 10 + 10;
            for (int k = 0; k < N_KINDS; k++) {
                uint32_t it = k == 3 && iters > 2000 ? 2000 : iters; /* ~100 us each */
                if (k == KIND_IOX && !g_iox_ok)
                    continue;
                pingpong(k, b, touch, it, &r[k]);
                rate[k] = oneway(k, b, touch, it * 2);
                printf("%-4s %-7s %-7s | %9.2f %9.2f | %10.0f | %7.2f %7.2f | %6.2f %6.2f\n",
                       names[si], touch ? "touch" : "handoff", kind_names[k], r[k].p50_us,
                       r[k].p99_us, rate[k], r[k].p50_us / r[0].p50_us, rate[k] / rate[0],
                       k >= 3 ? -1.0 : r[k].sys_per_iter, r[k].csw_per_iter);
                fflush(stdout);
            }
            const char *m = touch ? "touch" : "handoff";
            double pr = r[2].p50_us / r[0].p50_us, rr = rate[2] / rate[0];
            kvn += (size_t)snprintf(kv + kvn, sizeof(kv) - kvn,
                                    " client_pp_p50_ratio_%s_%s=%.2f client_rate_ratio_%s_%s=%.2f"
                                    " client_sys_per_iter_%s_%s=%.2f buffer_pp_p50_us_%s_%s=%.1f",
                                    names[si], m, pr, names[si], m, rr, names[si], m,
                                    r[2].sys_per_iter, names[si], m, r[3].p50_us);
            if (pr > worst_p50)
                worst_p50 = pr;
            if (rr < worst_rate)
                worst_rate = rr;
            if (r[2].sys_per_iter > worst_sys)
                worst_sys = r[2].sys_per_iter;
            if (g_iox_ok) {
                double ip = r[2].p50_us / r[KIND_IOX].p50_us;
                double ir = rate[2] / rate[KIND_IOX];
                printf("%-4s %-7s client/iceoryx: p50 %.2f, rate %.2f\n", names[si], m, ip, ir);
                kvn += (size_t)snprintf(kv + kvn, sizeof(kv) - kvn,
                                        " iceoryx_pp_p50_us_%s_%s=%.1f client_iox_pp_p50_ratio_%s_%s"
                                        "=%.2f client_iox_rate_ratio_%s_%s=%.2f",
                                        names[si], m, r[KIND_IOX].p50_us, names[si], m, ip,
                                        names[si], m, ir);
                if (ip > worst_iox_p50)
                    worst_iox_p50 = ip;
                if (ir < worst_iox_rate)
                    worst_iox_rate = ir;
            }
        }
    }
    iox_finish(iox_dir);
    harness_daemon_cleanup(&d);
    printf("iceoryx=%s worst_client_pp_p50_ratio=%.2f worst_client_rate_ratio=%.2f "
           "worst_client_sys_per_iter=%.2f",
           iox_state, worst_p50, worst_rate, worst_sys);
    if (g_iox_ok)
        printf(" iceoryx_spin_ns=%u worst_client_iox_pp_p50_ratio=%.2f"
               " worst_client_iox_rate_ratio=%.2f",
               g_iox_spin_ns, worst_iox_p50, worst_iox_rate);
    printf("%s\n", kv);
    return 0;
}
