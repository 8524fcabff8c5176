/* bench_large - the daemon's peak memory for one large registration,
 * against the size of the request's frame.
 *
 *   bench_large [-n TENSORS] [-p POLICY]... [-s chain|skip]
 *
 * For each policy (default: portfolio, greedy-size, linear-scan) a fresh
 * orionrtd is started, one graph of TENSORS tensors (default 1,000,000) is
 * registered over a raw socket and the reply read whole; then the daemon's
 * VmHWM (peak resident set, /proc/PID/status) is read, with its VmHWM just
 * before the request as the baseline. Shapes: `chain` (op i reads tensor i
 * and writes tensor i + 1) and `skip` (op i also reads tensor i - 7, so
 * eight tensors are live at once). Printed per policy: the frame's bytes,
 * the baseline, the peak, peak / frame and (peak - baseline) / frame, the
 * daemon's RSS after the registration was released (malloc_trim gives the
 * burst back) and the round trip. Last line: key=value with the default
 * policy's figures (growth_ratio is the one to watch; it was 14.6 before
 * the memory work of issue 8 item 9).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* One VmHWM: or VmRSS: line of /proc/PID/status, in KiB; -1 if none. */
static long proc_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    long kib = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, kl) == 0 && sscanf(line + kl, " %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The packed Request registering a graph of n tensors of shape skip (0:
 * chain) with policy; malloc'd, its length in *len. */
static uint8_t *large_request(uint32_t n, unsigned skip, const char *policy, size_t *len)
{
    Orion__Tensor *tens = calloc(n, sizeof(*tens));
    Orion__Tensor **tp = calloc(n, sizeof(*tp));
    Orion__Op *ops = calloc(n, sizeof(*ops));
    Orion__Op **op = calloc(n, sizeof(*op));
    uint64_t *ids = calloc(n, sizeof(*ids));
    uint64_t *ins = calloc(2 * (size_t)n, sizeof(*ins));
    uint8_t *buf = NULL;
    if (tens == NULL || tp == NULL || ops == NULL || op == NULL || ids == NULL || ins == NULL)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        orion__tensor__init(&tens[i]);
        ids[i] = (uint64_t)i + 1;
        tens[i].id = ids[i];
        tens[i].bytes = 4096 + 64 * (uint64_t)(i % 13);
        tens[i].kind = i == 0 ? ORION__TENSOR_KIND__INPUT
                     : i == n - 1 ? ORION__TENSOR_KIND__OUTPUT
                                  : ORION__TENSOR_KIND__INTERMEDIATE;
        tp[i] = &tens[i];
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        orion__op__init(&ops[i]);
        ins[2 * (size_t)i] = ids[i];
        ops[i].n_inputs = 1;
        if (skip > 0 && i >= skip) {
            ins[2 * (size_t)i + 1] = ids[i - skip];
            ops[i].n_inputs = 2;
        }
        ops[i].inputs = &ins[2 * (size_t)i];
        ops[i].outputs = &ids[i + 1];
        ops[i].n_outputs = 1;
        op[i] = &ops[i];
    }
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.name = "large";
    rg.policy = (char *)policy;
    rg.n_tensors = n;
    rg.tensors = tp;
    rg.n_ops = n - 1;
    rg.ops = op;
    Orion__Request req = ORION__REQUEST__INIT;
    req.request_id = 7;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    *len = orion__request__get_packed_size(&req);
    if ((buf = malloc(*len)) != NULL)
        orion__request__pack(&req, buf);
out:
    free(tens);
    free(tp);
    free(ops);
    free(op);
    free(ids);
    free(ins);
    return buf;
}

struct result {
    size_t frame;
    long base_kib, peak_kib, after_kib;
    double ms;
};

static int run_one(uint32_t n, unsigned skip, const char *policy, struct result *r)
{
    struct harness_daemon d = {0};
    const char *extra[] = {HARNESS_FLAG_MAX_FRAME, "256M", NULL};
    uint8_t *req = large_request(n, skip, policy, &r->frame);
    if (req == NULL)
        return -ENOMEM;
    int rc = harness_daemon_start(&d, extra);
    if (rc < 0) {
        fprintf(stderr, "bench_large: the daemon did not start: %s\n", strerror(-rc));
        free(req);
        return rc;
    }
    int fd = harness_session(d.socket_path);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    r->base_kib = proc_kib(d.pid, "VmHWM:");
    double t0 = now_ms();
    if ((rc = harness_send_frame(fd, req, (uint32_t)r->frame)) < 0)
        goto out_close;
    free(req);
    req = NULL;
    Orion__Response *resp = harness_recv_response(fd, 600000, NULL, NULL, &rc);
    r->ms = now_ms() - t0;
    if (resp == NULL)
        goto out_close;
    if (resp->body_case != ORION__RESPONSE__BODY_REGISTER_GRAPH ||
        resp->register_graph->n_tensors != n) {
        fprintf(stderr, "bench_large: %s: not a registration of %u tensors: %s\n", policy, n,
                resp->body_case == ORION__RESPONSE__BODY_ERROR ? resp->error->message : "?");
        orion__response__free_unpacked(resp, NULL);
        rc = -EPROTO;
        goto out_close;
    }
    orion__response__free_unpacked(resp, NULL);
    r->peak_kib = proc_kib(d.pid, "VmHWM:");
    close(fd);
    fd = -1;
    /* Released by the close, then trimmed on the pool. */
    Orion__StatsReply st;
    rc = harness_wait_stats(d.socket_path, 0, 0, 0, 0, 0, 10000, &st);
    usleep(200 * 1000);
    r->after_kib = proc_kib(d.pid, "VmRSS:");
out_close:
    if (fd >= 0)
        close(fd);
out:
    free(req);
    harness_daemon_cleanup(&d);
    return rc;
}

int main(int argc, char **argv)
{
    uint32_t n = 1000000;
    unsigned skip = 0;
    const char *policies[16];
    size_t n_pol = 0;
    int c;
    while ((c = getopt(argc, argv, "n:p:s:")) != -1) {
        switch (c) {
        case 'n':
            n = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            if (n_pol < 16)
                policies[n_pol++] = optarg;
            break;
        case 's':
            if (strcmp(optarg, "skip") == 0)
                skip = 7;
            else if (strcmp(optarg, "chain") != 0) {
                fprintf(stderr, "bench_large: shape chain or skip\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_large [-n TENSORS] [-p POLICY]... [-s chain|skip]\n");
            return 2;
        }
    }
    if (n < 2) {
        fprintf(stderr, "bench_large: at least 2 tensors\n");
        return 2;
    }
    if (n_pol == 0) {
        policies[n_pol++] = "portfolio";
        policies[n_pol++] = "greedy-size";
        policies[n_pol++] = "linear-scan";
    }
    struct result first = {0};
    printf("%u tensors, %s\n", n, skip ? "skip" : "chain");
    printf("%-12s %10s %9s %9s %10s %12s %9s %9s\n", "policy", "frame_kb", "base_kb",
           "peak_kb", "peak/frame", "growth/frame", "after_kb", "ms");
    for (size_t i = 0; i < n_pol; i++) {
        struct result r = {0};
        int rc = run_one(n, skip, policies[i], &r);
        if (rc < 0) {
            fprintf(stderr, "bench_large: %s: %s\n", policies[i], strerror(-rc));
            return 1;
        }
        double fk = (double)r.frame / 1024;
        printf("%-12s %10.0f %9ld %9ld %10.2f %12.2f %9ld %9.0f\n", policies[i], fk, r.base_kib,
               r.peak_kib, (double)r.peak_kib / fk, (double)(r.peak_kib - r.base_kib) / fk,
               r.after_kib, r.ms);
        if (i == 0)
            first = r;
    }
    double fk = (double)first.frame / 1024;
    printf("policy=%s tensors=%u frame_kb=%.0f peak_kb=%ld peak_ratio=%.2f growth_ratio=%.2f "
           "after_kb=%ld\n", policies[0], n, fk, first.peak_kib, (double)first.peak_kib / fk,
           (double)(first.peak_kib - first.base_kib) / fk, first.after_kib);
    return 0;
}
