/* bench_rtt - round trips to a real orionrtd, against a bare Unix-socket
 * ping-pong of the same bytes measured in the same run.
 *
 *   bench_rtt [-n ITERS] [-g GRAPH_ITERS] [-w WARMUP] [-G SUBSTRING] [ORIONRTD]
 *
 * Starts a daemon (ORIONRTD, else $ORIONRTD, else the one built with this
 * tree) on a private socket and shm name, then measures, after warm-up,
 * (a)-(d) with every process pinned to one core (a round trip is then a
 * context switch: the same from run to run):
 *   (a) pingpong: a process echoing over a Unix stream socketpair, with the
 *       exact frame sizes of (b)'s request and reply (write, then read the
 *       reply whole);
 *   (b) stats:    orion_client_stats() through liborion-client;
 *   (c) register100: orion_graph_register() + orion_plan_release() of a
 *       100-tensor random DAG (a realistic layer graph: every op reads one
 *       to three recent tensors and writes one), default policy;
 *   (d) the same with the cheapest policy (greedy-size), to tell the
 *       protocol and allocation cost from the default planner's search.
 *   (e) every real graph in <data>/graphs (JSON; ORION_BENCH_DATA, else the
 *       compile-time default) and the 100-tensor DAG, register+release
 *       with the default policy: with a plan-cache hit (the same graph
 *       again) and with a miss (one intermediate tensor 64 bytes larger,
 *       a different one each iteration, never the same problem twice in
 *       the run; the graph is rebuilt outside the timed part),
 *       each against a stats round trip timed in the same loop (after an
 *       untimed one that waits for the release to be done). Three
 *       times: as the scheduler places the client and the daemon, both
 *       pinned to one core (a round trip is then a context switch, a few
 *       microseconds: "round trips are fast") and pinned to two (a
 *       wake-up across cores, ten times that on a virtual machine);
 *       unpinned runs mix the two, which made the ratios flip from run to
 *       run. -G keeps only the graphs whose file name contains SUBSTRING
 *       ("DAG": the DAG alone), e.g. to profile one graph's misses in the
 *       daemon.
 * Prints p50/p99 of each and their ratio to the ping-pong, the daemon's
 * plan-cache counters (every registration after the first of a policy is
 * a hit) and register+release over stats (p50); the last line of each
 * part is key=value pairs (the pinned tables' keys start with one_core_ and
 * two_cores_).
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
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
#include "graph_json.h"
#include "harness.h"
#include "layer_dag.h"
#include "orion.pb-c.h"

#define DAG_TENSORS 100
#define MAX_GRAPHS 32

#ifndef ORION_BENCH_DATA
#define ORION_BENCH_DATA "../shared/bench"
#endif

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

/* The DAG (tests/layer_dag.h), also what test_graph plans. */
static struct graph dag_as_graph(void)
{
    return layer_dag();
}

static int graph_from_json(const struct graph *g, uint64_t serial, orion_graph **out);

static int build_dag(orion_graph **out)
{
    struct graph g = dag_as_graph();
    return graph_from_json(&g, 0, out);
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

static int kind_to_orion(enum tensor_kind k, enum orion_tensor_kind *out)
{
    switch (k) {
    case TENSOR_INTERMEDIATE: *out = ORION_TENSOR_INTERMEDIATE; return 0;
    case TENSOR_INPUT: *out = ORION_TENSOR_INPUT; return 0;
    case TENSOR_OUTPUT: *out = ORION_TENSOR_OUTPUT; return 0;
    case TENSOR_PERSISTENT: *out = ORION_TENSOR_PERSISTENT; return 0;
    case TENSOR_EXPORT: *out = ORION_TENSOR_EXPORT; return 0;
    case TENSOR_IMPORT: *out = ORION_TENSOR_IMPORT; return 0;
    }
    return -EINVAL;
}

/* A loaded JSON graph as a client-side graph; serial > 0 makes it a
 * planning problem of its own (a cache miss) that stays close to the
 * graph's: intermediate tensor (serial - 1) mod k, of the k, grows by 64
 * bytes times 1 + (serial - 1) / k (a growth of one tensor alone would
 * soon dwarf the rest, and a problem with one huge buffer is easy). */
static int graph_from_json(const struct graph *g, uint64_t serial, orion_graph **out)
{
    orion_graph *og;
    uint64_t k = 0, which = 0, grow = 0, seen = 0;
    for (uint32_t i = 0; i < g->n_tensors; i++)
        k += g->tensors[i].kind == TENSOR_INTERMEDIATE;
    if (serial > 0 && k > 0) {
        which = (serial - 1) % k;
        grow = 64 * (1 + (serial - 1) / k);
    }
    int rc = orion_graph_new(g->name ? g->name : "bench", &og);
    for (uint32_t i = 0; i < g->n_tensors && rc == 0; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        struct orion_tensor_desc d = {.id = t->id, .bytes = t->bytes, .align = t->align,
                                      .share = t->share, .name = t->name};
        rc = kind_to_orion(t->kind, &d.kind);
        if (rc == 0 && t->kind == TENSOR_INTERMEDIATE && seen++ == which)
            d.bytes += grow;
        if (rc == 0)
            rc = orion_graph_add_tensor(og, &d);
    }
    for (uint32_t i = 0; i < g->n_ops && rc == 0; i++) {
        const struct graph_op *o = &g->ops[i];
        rc = orion_graph_add_op(og, o->name, o->inputs, o->n_inputs, o->outputs, o->n_outputs);
    }
    if (rc < 0) {
        orion_graph_free(og);
        return rc;
    }
    *out = og;
    return 0;
}

/* Register + release the graph iters times after warm-up, each time a new
 * size (miss) or the same graph (hit); ns[] gets the times of the register
 * and release only. */
static int bench_json_graph(orion_client *c, const struct graph *g, bool miss, size_t warm,
                            size_t iters, uint64_t *ns, uint64_t *stats_ns)
{
    orion_graph *og = NULL;
    int rc = 0;
    for (size_t i = 0; i < warm + iters && rc == 0; i++) {
        orion_plan *p = NULL;
        struct orion_stats st;
        if (miss || og == NULL) {
            orion_graph_free(og);
            og = NULL;
            /* a problem never registered before in this run (the
             * warm-up's and the earlier tables' too): every timed one
             * misses */
            static uint64_t serial;
            if ((rc = graph_from_json(g, miss ? ++serial : 0, &og)) < 0)
                break;
        }
        uint64_t t0 = now_ns();
        rc = orion_graph_register(c, og, &p);
        if (rc == 0)
            rc = orion_plan_release(p);
        if (rc < 0)
            fprintf(stderr, "bench_rtt: %s: %s\n", g->name, orion_client_error(c));
        uint64_t t1 = now_ns();
        /* The baseline in the same loop, so that both see the machine as it
         * is: a stats round trip, after an untimed one that waits for the
         * release (sent without waiting) to be done. */
        if (rc == 0)
            rc = orion_client_stats(c, &st);
        uint64_t t2 = now_ns();
        if (rc == 0)
            rc = orion_client_stats(c, &st);
        uint64_t t3 = now_ns();
        if (i >= warm) {
            ns[i - warm] = t1 - t0;
            stats_ns[i - warm] = t3 - t2;
        }
    }
    orion_graph_free(og);
    return rc;
}

/* The graph JSON files of dir, sorted; returns how many (at most max). */
static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_json(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) && n < max) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0 && (names[n] = strdup(de->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), str_cmp);
    return n;
}

/* The CPUs this process was given at its start (unpin's). */
static cpu_set_t start_set;
static bool have_start_set;

/* The CPUs this process may run on, the first max of them: how many. */
static int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return 0;
    start_set = set;
    have_start_set = true;
    for (int i = 0; i < CPU_SETSIZE && n < max; i++)
        if (CPU_ISSET(i, &set))
            cpus[n++] = i;
    return n;
}

static int pin(pid_t tid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(tid, sizeof(set), &set);
}

/* Back to every CPU this process was given at its start. */
static int unpin(pid_t tid)
{
    return have_start_set ? sched_setaffinity(tid, sizeof(start_set), &start_set) : 0;
}

/* Every thread of process pid (the daemon's loop and its pool) to cpu, or
 * (cpu < 0) back to the start's set. */
static int pin_all(pid_t pid, int cpu)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    struct dirent *de;
    int rc = 0, n = 0;
    if (dir == NULL)
        return -1;
    while ((de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.') {
            rc |= cpu < 0 ? unpin((pid_t)atoi(de->d_name)) : pin((pid_t)atoi(de->d_name), cpu);
            n++;
        }
    closedir(dir);
    return n > 0 ? rc : -1;
}

static int unpin_all(pid_t pid)
{
    return pin_all(pid, -1);
}

static const char *const pin_names[] = {"as the scheduler places them", "pinned to one core",
                                        "pinned to two cores"};
static const char *const pin_keys[] = {"", "one_core_", "two_cores_"};

/* The table of (e) for the graph files names[0..ng) of dir and the DAG
 * (those whose name contains only, if not NULL); its key=value line's keys
 * start with key. 0, or the failed call's code. */
static int graph_table(orion_client *c, const char *dir, char **names, size_t ng,
                       const char *only, size_t rit, uint64_t *ns, uint64_t *sns,
                       const char *how, const char *key, double stats_p50)
{
    double worst_hit = 0, worst_miss = 0, dag_hit = 0, dag_miss = 0, st_min = 1e300, st_max = 0;
    char err[256];
    int rc = 0;
    printf("\nregister+release over a stats round trip timed in the same loop (p50), "
           "default policy, %zu iterations, %s:\n", rit, how);
    printf("  %-40s %8s %10s %8s %8s %10s %8s %8s\n", "graph", "tensors", "hit us", "stats",
           "x stats", "miss us", "stats", "x stats");
    for (size_t q = 0; q <= ng && rc == 0; q++) {
        struct graph_json *gj = NULL;
        const struct graph *gr;
        struct graph dag_graph;
        double hit, miss, hit_st, miss_st;
        if (only != NULL && strstr(q < ng ? names[q] : "random DAG", only) == NULL)
            continue;
        if (q < ng) {
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, names[q]);
            if (graph_json_load(path, &gj, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench_rtt: %s\n", err);
                continue;
            }
            gr = graph_json_graph(gj);
        } else {
            /* the DAG, through the same path: its description from (c) */
            dag_graph = dag_as_graph();
            gr = &dag_graph;
        }
        if ((rc = bench_json_graph(c, gr, false, 20, rit, ns, sns)) == 0) {
            hit = percentiles(ns, rit).p50_us;
            hit_st = percentiles(sns, rit).p50_us;
            rc = bench_json_graph(c, gr, true, 20, rit, ns, sns);
        }
        if (rc == 0) {
            miss = percentiles(ns, rit).p50_us;
            miss_st = percentiles(sns, rit).p50_us;
            printf("  %-40s %8u %10.2f %8.2f %8.2f %10.2f %8.2f %8.2f\n",
                   q < ng ? names[q] : "random DAG", gr->n_tensors, hit, hit_st, hit / hit_st,
                   miss, miss_st, miss / miss_st);
            if (q == ng) {
                dag_hit = hit / hit_st;
                dag_miss = miss / miss_st;
            }
            worst_hit = hit / hit_st > worst_hit ? hit / hit_st : worst_hit;
            worst_miss = miss / miss_st > worst_miss ? miss / miss_st : worst_miss;
            st_min = hit_st < st_min ? hit_st : st_min;
            st_min = miss_st < st_min ? miss_st : st_min;
            st_max = hit_st > st_max ? hit_st : st_max;
            st_max = miss_st > st_max ? miss_st : st_max;
        }
        graph_json_free(gj);
    }
    if (rc == 0)
        printf("%sgraphs_hit_over_stats_max=%.2f %sgraphs_miss_over_stats_max=%.2f "
               "%sdag_hit_over_stats=%.2f %sdag_miss_over_stats=%.2f %sstats_p50_us=%.2f "
               "%stable_stats_p50_us_min=%.2f %stable_stats_p50_us_max=%.2f\n",
               key, worst_hit, key, worst_miss, key, dag_hit, key, dag_miss, key, stats_p50, key,
               st_min, key, st_max);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_rtt [-n ITERS] [-g GRAPH_ITERS] [-w WARMUP] [-G SUBSTRING] "
                    "[ORIONRTD]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t iters = 20000, giters = 2000, warm = 1000;
    const char *only = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:g:w:G:")) != -1) {
        switch (opt) {
        case 'n': iters = strtoul(optarg, NULL, 10); break;
        case 'g': giters = strtoul(optarg, NULL, 10); break;
        case 'w': warm = strtoul(optarg, NULL, 10); break;
        case 'G': only = optarg; break;
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
    uint64_t *sns = calloc(iters > giters ? iters : giters, sizeof *sns);
    orion_client *c = NULL;
    orion_graph *g = NULL;
    char err[256] = "";
    if (!ns || !sns)
        goto out;
    if ((rc = orion_client_connect(d.socket_path, &c, err, sizeof err)) < 0) {
        fprintf(stderr, "bench_rtt: connect: %s\n", err);
        goto out;
    }

    /* (a)-(d) with the client, the echo peer and the daemon on one core,
     * where a round trip is a context switch and the same every run
     * (unpinned, each part could land on either side of a ten-fold
     * difference). */
    int cpus[2];
    int ncpu = allowed_cpus(cpus, 2);
    if (ncpu > 0 && (pin(0, cpus[0]) < 0 || pin_all(d.pid, cpus[0]) < 0)) {
        fprintf(stderr, "bench_rtt: cannot pin to cpu %d (%s): (a)-(d) as the scheduler "
                "places them\n", cpus[0], strerror(errno));
        ncpu = 0; /* and no pinned tables either */
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

    /* (e) the real graphs and the DAG, hit and miss, over stats: as the
     * scheduler places the two processes, then pinned to one core and to
     * two (the round trip is a few microseconds on one core, where the
     * wake-up is a context switch, and can be ten times that across cores
     * of a virtual machine: unpinned, a run mixes both). */
    {
        const char *data = getenv("ORION_BENCH_DATA") ? getenv("ORION_BENCH_DATA")
                                                       : ORION_BENCH_DATA;
        char dir[4096], *names[MAX_GRAPHS];
        size_t ng, rit = giters / 10 < 100 ? 100 : giters / 10;
        snprintf(dir, sizeof(dir), "%s/graphs", data);
        ng = list_json(dir, names, MAX_GRAPHS);
        for (int mode = 0; mode < 3 && rc == 0; mode++) {
            if (mode > 0 && ncpu < mode)
                continue;
            if (mode == 0 && ncpu > 0 && (unpin(0) < 0 || unpin_all(d.pid) < 0))
                fprintf(stderr, "bench_rtt: cannot unpin (%s): the first table pinned\n",
                        strerror(errno));
            if (mode > 0 && (pin(0, cpus[0]) < 0 || pin_all(d.pid, cpus[mode - 1]) < 0)) {
                fprintf(stderr, "bench_rtt: cannot pin to cpus %d and %d (%s): no table %s\n",
                        cpus[0], cpus[mode - 1], strerror(errno), pin_names[mode]);
                continue;
            }
            rc = graph_table(c, dir, names, ng, only, rit, ns, sns, pin_names[mode],
                             pin_keys[mode], p_stats.p50_us);
        }
        for (size_t q = 0; q < ng; q++)
            free(names[q]);
        if (rc < 0)
            goto out;
    }
    status = 0;
out:
    orion_graph_free(g);
    orion_client_close(c);
    free(ns);
    free(sns);
    harness_daemon_cleanup(&d);
    return status;
}
