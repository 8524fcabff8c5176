/* orion-pipeline - a two-stage pipeline in two processes over a channel.
 *
 *   orion-pipeline [--socket PATH] [--iters N] [--floats N] stage1|stage2
 *
 * Each stage registers its own graph with orionrtd (its scratch tensors are
 * planned in the arena). Every iteration stage 1 computes its graph (input ->
 * scaled -> the output) with the output written straight into a slot it
 * acquired from channel "pipeline", and publishes it; stage 2 receives the
 * slot, computes its graph from it in place (no copy), and calls done. No
 * system call per iteration unless a side must sleep. Both print
 * `checksum=<FNV-1a 64 of every message>`, which match; stage 2 also prints
 * the cost of one iteration. Start stage 2 first or second: it waits for the
 * channel, and stage 1 waits for its consumer.
 *
 * Build against an installed library with
 *   cc orion-pipeline.c $(pkg-config --cflags --libs liborion-client)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <orion/orion.h>

#define CHANNEL "pipeline"
#define WAIT_MS 30000

static uint64_t fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* in (1) -> op "scale" -> mid (2) -> op "bias" -> out (3). */
static int register_stage(orion_client *c, const char *name, uint64_t bytes, orion_plan **plan)
{
    orion_graph *g;
    int rc = orion_graph_new(name, &g);
    if (rc < 0)
        return rc;
    const struct orion_tensor_desc t[] = {
        {1, bytes, 0, ORION_TENSOR_INPUT, NULL, "in"},
        {2, bytes, 0, ORION_TENSOR_INTERMEDIATE, NULL, "mid"},
        {3, bytes, 0, ORION_TENSOR_OUTPUT, NULL, "out"},
    };
    const uint64_t a = 1, b = 2, o = 3;
    for (size_t i = 0; rc == 0 && i < 3; i++)
        rc = orion_graph_add_tensor(g, &t[i]);
    rc = rc ? rc : orion_graph_add_op(g, "scale", &a, 1, &b, 1);
    rc = rc ? rc : orion_graph_add_op(g, "bias", &b, 1, &o, 1);
    rc = rc ? rc : orion_graph_register(c, g, plan);
    orion_graph_free(g);
    return rc;
}

static int fail(orion_client *c, const char *what, int rc)
{
    fprintf(stderr, "orion-pipeline: %s: %s (%s)\n", what, orion_strerror(rc),
            orion_client_error(c));
    return 1;
}

static int stage1(orion_client *c, uint64_t iters, uint64_t n)
{
    orion_plan *plan;
    int rc = register_stage(c, "stage1", n * sizeof(float), &plan);
    if (rc < 0)
        return fail(c, "register stage1", rc);
    float *in = orion_plan_tensor(plan, 1), *mid = orion_plan_tensor(plan, 2);
    struct orion_channel_config cfg = {n * sizeof(float), 4, 1};
    orion_channel *ch;
    if ((rc = orion_channel_create(c, CHANNEL, &cfg, &ch)) < 0)
        return fail(c, "create channel " CHANNEL, rc);
    while (orion_channel_consumers(ch) < 1)
        usleep(1000);
    uint64_t sum = 0xcbf29ce484222325ull;
    for (uint64_t it = 0; it < iters; it++) {
        for (uint64_t i = 0; i < n; i++)
            in[i] = (float)((it + i) % 251);
        for (uint64_t i = 0; i < n; i++)
            mid[i] = in[i] * 0.5f;
        void *slot;
        if ((rc = orion_channel_acquire(ch, WAIT_MS, &slot)) < 0)
            return fail(c, "acquire", rc);
        float *out = slot; /* the graph's output is computed into the slot */
        for (uint64_t i = 0; i < n; i++)
            out[i] = mid[i] + 1.0f;
        sum = fnv1a64(out, n * sizeof(float), sum);
        if ((rc = orion_channel_publish(ch, slot, n * sizeof(float))) < 0)
            return fail(c, "publish", rc);
    }
    /* Stay the producer until the consumer has everything. */
    while (orion_channel_consumers(ch) > 0)
        usleep(1000);
    printf("stage1: %" PRIu64 " iterations of %" PRIu64 " floats\nchecksum=%016" PRIx64 "\n",
           iters, n, sum);
    orion_channel_close(ch);
    orion_plan_release(plan);
    return 0;
}

static int stage2(orion_client *c, uint64_t iters, uint64_t n)
{
    orion_plan *plan;
    int rc = register_stage(c, "stage2", n * sizeof(float), &plan);
    if (rc < 0)
        return fail(c, "register stage2", rc);
    float *mid = orion_plan_tensor(plan, 2), *out = orion_plan_tensor(plan, 3);
    orion_channel *ch;
    if ((rc = orion_channel_open(c, CHANNEL, WAIT_MS, &ch)) < 0)
        return fail(c, "open channel " CHANNEL, rc);
    if (orion_channel_slot_bytes(ch) != n * sizeof(float)) {
        fprintf(stderr, "orion-pipeline: stage1 sends %" PRIu64 " bytes, stage2 expects %" PRIu64
                "\n", orion_channel_slot_bytes(ch), n * sizeof(float));
        return 1;
    }
    uint64_t sum = 0xcbf29ce484222325ull;
    double total = 0, t0 = 0;
    for (uint64_t it = 0; it < iters; it++) {
        const void *slot;
        uint64_t bytes;
        if ((rc = orion_channel_receive(ch, WAIT_MS, &slot, &bytes, NULL)) < 0)
            return fail(c, "receive", rc);
        if (it == 0)
            t0 = now_s(); /* from the first message: stage 1's start-up is not counted */
        const float *in = slot; /* the input tensor is the slot itself */
        sum = fnv1a64(in, bytes, sum);
        for (uint64_t i = 0; i < n; i++)
            mid[i] = in[i] * 3.0f;
        for (uint64_t i = 0; i < n; i++)
            out[i] = mid[i] - 2.0f;
        total += out[it % n];
        if ((rc = orion_channel_done(ch, slot)) < 0)
            return fail(c, "done", rc);
    }
    double dt = now_s() - t0;
    printf("stage2: %" PRIu64 " iterations, result %.1f\n", iters, total);
    printf("per-iteration: %.2f us (%" PRIu64 " floats, both stages computing)\n",
           iters > 1 ? dt * 1e6 / (double)(iters - 1) : 0.0, n);
    printf("checksum=%016" PRIx64 "\n", sum);
    orion_channel_close(ch);
    orion_plan_release(plan);
    return 0;
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *stage = NULL;
    uint64_t iters = 10000, n = 4096;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock = argv[++i];
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            iters = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--floats") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (stage == NULL && argv[i][0] != '-')
            stage = argv[i];
        else
            stage = NULL, i = argc;
    }
    if (stage == NULL || (strcmp(stage, "stage1") != 0 && strcmp(stage, "stage2") != 0) ||
        iters == 0 || n == 0) {
        fprintf(stderr, "usage: orion-pipeline [--socket PATH] [--iters N] [--floats N] "
                "stage1|stage2\n");
        return 2;
    }
    orion_client *c;
    char err[256];
    int rc = orion_client_connect(sock, &c, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "orion-pipeline: cannot connect: %s\n", err);
        return 1;
    }
    rc = strcmp(stage, "stage1") == 0 ? stage1(c, iters, n) : stage2(c, iters, n);
    orion_client_close(c);
    return rc;
}
