/* bench_rtt - round trips to a real orionrtd, against a bare Unix-socket
 * ping-pong of the same bytes measured in the same run.
 *
 *   bench_rtt [-n ITERS] [-g GRAPH_ITERS] [-w WARMUP] [ORIONRTD]
 *
 * Starts a daemon (ORIONRTD, else $ORIONRTD, else the one built with this
 * tree) on a private socket and shm name, then measures, after warm-up:
 *   (a) pingpong: a process echoing over a Unix stream socketpair, with the
 *       exact frame sizes of (b)'s request and reply (write, then read the
 *       reply whole);
 *   (b) stats:    orion_client_stats() through liborion-client;
 *   (c) register100: orion_graph_register() + orion_plan_release() of a
 *       100-tensor random DAG (a realistic layer graph: every op reads one
 *       to three recent tensors and writes one), default policy;
 *   (d) the same with the cheapest policy (greedy-size), to tell the
 *       protocol and allocation cost from the default planner's search.
 * Prints p50/p99 of each and their ratio to the ping-pong, the daemon's
 * plan-cache counters (every registration after the first of a policy is
 * a hit) and register+release over stats; the last line is key=value pairs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <orion/orion.h>

#include "frame.h"
#include "harness.h"
#include "orion.pb-c.h"

#define DAG_TENSORS 100

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct pct {
    double p50_us, p99_us;
};

static struct pct percentiles(uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    struct pct p;
    p.p50_us = (double)ns[n / 2] / 1000.0;
    p.p99_us = (double)ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0;
    return p;
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        put += (size_t)w;
    }
    return 0;
}

/* The echo peer: read one request frame (header, then its body), answer
 * with resp_len bytes, until EOF. */
static int echo_loop(int fd, size_t resp_len)
{
    uint8_t hdr[4], buf[4096], *resp = calloc(1, resp_len);
    if (!resp)
        return 1;
    frame_put_header(resp, (uint32_t)(resp_len - 4));
    for (;;) {
        if (read_full(fd, hdr, 4) < 0)
            break;
        uint32_t n = frame_get_header(hdr);
        if (n > sizeof buf || read_full(fd, buf, n) < 0)
            break;
        if (write_full(fd, resp, resp_len) < 0)
            break;
    }
    free(resp);
    return 0;
}

/* (a) the same bytes through a bare socketpair and another process. */
static int bench_pingpong(size_t req_len, size_t resp_len, size_t warm, size_t iters,
                          uint64_t *ns)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(sv[0]);
        _exit(echo_loop(sv[1], resp_len));
    }
    close(sv[1]);
    uint8_t *req = calloc(1, req_len), *resp = malloc(resp_len);
    int rc = 0;
    if (!req || !resp) {
        rc = -ENOMEM;
        goto out;
    }
    frame_put_header(req, (uint32_t)(req_len - 4));
    for (size_t i = 0; i < warm + iters; i++) {
        uint64_t t0 = now_ns();
        if (write_full(sv[0], req, req_len) < 0 || read_full(sv[0], resp, 4) < 0 ||
            read_full(sv[0], resp + 4, frame_get_header(resp)) < 0) {
            rc = -EPIPE;
            break;
        }
        if (i >= warm)
            ns[i - warm] = now_ns() - t0;
    }
out:
    free(req);
    free(resp);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return rc;
}

/* Frame sizes of a stats round trip, request and reply, as liborion-client
 * sends them: packed here from the real figures. */
static void stats_frame_sizes(const struct orion_stats *st, size_t *req_len, size_t *resp_len)
{
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Stats s = ORION__STATS__INIT;
    req.request_id = 12345;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &s;
    *req_len = 4 + orion__request__get_packed_size(&req);
    Orion__Response resp = ORION__RESPONSE__INIT;
    Orion__StatsReply r = ORION__STATS_REPLY__INIT;
    r.arena_bytes = st->arena_bytes;
    r.used_bytes = st->used_bytes;
    r.free_bytes = st->free_bytes;
    r.largest_free_bytes = st->largest_free_bytes;
    r.fragmentation = st->fragmentation;
    r.clients = st->clients;
    r.graphs = st->graphs;
    r.buffers = st->buffers;
    r.allocations = st->allocations;
    resp.request_id = 12345;
    resp.body_case = ORION__RESPONSE__BODY_STATS;
    resp.stats = &r;
    *resp_len = 4 + orion__response__get_packed_size(&resp);
}

/* A random DAG of DAG_TENSORS tensors: tensor 0 the input, op k reads one
 * to three of the six most recent tensors and writes tensor k+1, the last
 * tensor is the output; sizes 1-64 KiB in 64-byte steps. */
static int build_dag(orion_graph **out)
{
    orion_graph *g = NULL;
    int rc = orion_graph_new("bench-dag", &g);
    if (rc < 0)
        return rc;
    uint64_t s = 42;
#define RND() (s = s * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(s >> 33))
    for (uint64_t t = 0; t < DAG_TENSORS && rc == 0; t++) {
        struct orion_tensor_desc d = { .id = t, .bytes = 64 * (1 + RND() % 1024), .align = 0,
                                       .kind = t == 0 ? ORION_TENSOR_INPUT
                                               : t == DAG_TENSORS - 1 ? ORION_TENSOR_OUTPUT
                                                                      : ORION_TENSOR_INTERMEDIATE,
                                       .share = NULL, .name = NULL };
        rc = orion_graph_add_tensor(g, &d);
    }
    for (uint64_t k = 0; k + 1 < DAG_TENSORS && rc == 0; k++) {
        uint64_t in[3];
        size_t n = 0, want = 1 + RND() % 3;
        for (size_t j = 0; j < want; j++) {
            uint32_t back = RND() % 6;
            uint64_t t = back > k ? 0 : k - back;
            bool dup = false;
            for (size_t q = 0; q < n; q++)
                dup |= in[q] == t;
            if (!dup)
                in[n++] = t;
        }
        uint64_t o = k + 1;
        rc = orion_graph_add_op(g, "layer", in, n, &o, 1);
    }
#undef RND
    if (rc < 0) {
        orion_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* Register + release g iters times after warm-up; *peak, *lb and policy
 * from the last registration. */
static int bench_register(orion_client *c, orion_graph *g, size_t warm, size_t iters,
                          uint64_t *ns, uint64_t *peak, uint64_t *lb, char *policy,
                          size_t policy_len)
{
    for (size_t i = 0; i < warm + iters; i++) {
        orion_plan *p = NULL;
        uint64_t t0 = now_ns();
        int rc = orion_graph_register(c, g, &p);
        if (rc < 0) {
            fprintf(stderr, "bench_rtt: register: %s\n", orion_client_error(c));
            return rc;
        }
        *peak = orion_plan_peak_bytes(p);
        *lb = orion_plan_lower_bound_bytes(p);
        snprintf(policy, policy_len, "%s", orion_plan_policy(p) ? orion_plan_policy(p) : "?");
        if ((rc = orion_plan_release(p)) < 0) {
            fprintf(stderr, "bench_rtt: release: %s\n", orion_client_error(c));
            return rc;
        }
        if (i >= warm)
            ns[i - warm] = now_ns() - t0;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_rtt [-n ITERS] [-g GRAPH_ITERS] [-w WARMUP] [ORIONRTD]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t iters = 20000, giters = 2000, warm = 1000;
    int opt;
    while ((opt = getopt(argc, argv, "n:g:w:")) != -1) {
        switch (opt) {
        case 'n': iters = strtoul(optarg, NULL, 10); break;
        case 'g': giters = strtoul(optarg, NULL, 10); break;
        case 'w': warm = strtoul(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (iters < 100 || giters < 100)
        usage();
    if (optind < argc)
        setenv("ORIONRTD", argv[optind], 1);

    int status = 1;
    struct harness_daemon d;
    const char *extra[] = { HARNESS_FLAG_ARENA, "64M", NULL };
    int rc = harness_daemon_prepare(&d);
    if (rc < 0) {
        fprintf(stderr, "bench_rtt: %s\n", strerror(-rc));
        return 1;
    }
    rc = harness_daemon_start(&d, extra);
    if (rc < 0) {
        char *log = harness_daemon_log(&d);
        fprintf(stderr, "bench_rtt: orionrtd did not start: %s\n%s", strerror(-rc),
                log ? log : "");
        free(log);
        harness_daemon_cleanup(&d);
        return 1;
    }
    uint64_t *ns = calloc(iters > giters ? iters : giters, sizeof *ns);
    orion_client *c = NULL;
    orion_graph *g = NULL;
    char err[256] = "";
    if (!ns)
        goto out;
    if ((rc = orion_client_connect(d.socket_path, &c, err, sizeof err)) < 0) {
        fprintf(stderr, "bench_rtt: connect: %s\n", err);
        goto out;
    }

    /* (b) first, so that (a) can copy its exact frame sizes. */
    struct orion_stats st;
    for (size_t i = 0; i < warm + iters; i++) {
        uint64_t t0 = now_ns();
        if ((rc = orion_client_stats(c, &st)) < 0) {
            fprintf(stderr, "bench_rtt: stats: %s\n", orion_client_error(c));
            goto out;
        }
        if (i >= warm)
            ns[i - warm] = now_ns() - t0;
    }
    struct pct p_stats = percentiles(ns, iters);
    size_t req_len, resp_len;
    stats_frame_sizes(&st, &req_len, &resp_len);

    if ((rc = bench_pingpong(req_len, resp_len, warm, iters, ns)) < 0) {
        fprintf(stderr, "bench_rtt: ping-pong: %s\n", strerror(-rc));
        goto out;
    }
    struct pct p_ping = percentiles(ns, iters);

    if ((rc = build_dag(&g)) < 0) {
        fprintf(stderr, "bench_rtt: graph: %s\n", strerror(-rc));
        goto out;
    }
    uint64_t peak = 0, lb = 0, gpeak = 0, glb = 0;
    char policy[64] = "?", gpolicy[64] = "?";
    size_t gwarm = warm / 10 + 1;
    if ((rc = bench_register(c, g, gwarm, giters, ns, &peak, &lb, policy, sizeof policy)) < 0)
        goto out;
    struct pct p_reg = percentiles(ns, giters);
    /* The same with the cheapest policy: what is protocol and allocation,
     * and what is the default planner's search. */
    if ((rc = orion_graph_set_policy(g, "greedy-size")) < 0 ||
        (rc = bench_register(c, g, gwarm, giters, ns, &gpeak, &glb, gpolicy, sizeof gpolicy)) < 0)
        goto out;
    struct pct p_greedy = percentiles(ns, giters);
    /* Every registration after the first of each policy is a plan-cache
     * hit: (c) and (d) measure the cached path. */
    struct orion_stats cst = {0};
    if ((rc = orion_client_stats(c, &cst)) < 0)
        goto out;

    printf("frames: request %zu bytes, reply %zu bytes (stats); %zu iterations after %zu "
           "warm-up; register: %zu iterations\n",
           req_len, resp_len, iters, warm, giters);
    printf("%-34s p50 %8.2f us  p99 %8.2f us\n", "(a) unix socketpair ping-pong", p_ping.p50_us,
           p_ping.p99_us);
    printf("%-34s p50 %8.2f us  p99 %8.2f us  (x%.2f / x%.2f of ping-pong)\n",
           "(b) orion_client_stats", p_stats.p50_us, p_stats.p99_us,
           p_stats.p50_us / p_ping.p50_us, p_stats.p99_us / p_ping.p99_us);
    printf("%-34s p50 %8.2f us  p99 %8.2f us  (x%.2f / x%.2f of ping-pong); peak %llu, "
           "lower bound %llu, policy %s\n",
           "(c) register+release, 100 tensors", p_reg.p50_us, p_reg.p99_us,
           p_reg.p50_us / p_ping.p50_us, p_reg.p99_us / p_ping.p99_us,
           (unsigned long long)peak, (unsigned long long)lb, policy);
    printf("%-34s p50 %8.2f us  p99 %8.2f us  (x%.2f / x%.2f of ping-pong); peak %llu, "
           "policy %s\n",
           "(d) the same, cheapest policy", p_greedy.p50_us, p_greedy.p99_us,
           p_greedy.p50_us / p_ping.p50_us, p_greedy.p99_us / p_ping.p99_us,
           (unsigned long long)gpeak, gpolicy);
    (void)glb;
    printf("plan cache: %llu hits, %llu misses, %u entries; register+release over stats "
           "(p50): default x%.2f, greedy-size x%.2f\n",
           (unsigned long long)cst.plan_cache_hits, (unsigned long long)cst.plan_cache_misses,
           cst.plan_cache_entries, p_reg.p50_us / p_stats.p50_us,
           p_greedy.p50_us / p_stats.p50_us);
    printf("pingpong_p50_us=%.2f pingpong_p99_us=%.2f stats_p50_us=%.2f stats_p99_us=%.2f "
           "stats_ratio_p50=%.2f stats_ratio_p99=%.2f register100_p50_us=%.2f "
           "register100_p99_us=%.2f register100_ratio_p50=%.2f register100_ratio_p99=%.2f "
           "register100_greedy_p50_us=%.2f register100_greedy_ratio_p50=%.2f "
           "register100_over_stats_p50=%.2f plan_cache_hits=%llu plan_cache_misses=%llu\n",
           p_ping.p50_us, p_ping.p99_us, p_stats.p50_us, p_stats.p99_us,
           p_stats.p50_us / p_ping.p50_us, p_stats.p99_us / p_ping.p99_us, p_reg.p50_us,
           p_reg.p99_us, p_reg.p50_us / p_ping.p50_us, p_reg.p99_us / p_ping.p99_us,
           p_greedy.p50_us, p_greedy.p50_us / p_ping.p50_us, p_reg.p50_us / p_stats.p50_us,
           (unsigned long long)cst.plan_cache_hits, (unsigned long long)cst.plan_cache_misses);
    status = 0;
out:
    orion_graph_free(g);
    orion_client_close(c);
    free(ns);
    harness_daemon_cleanup(&d);
    return status;
}
