/* fuzz_frame.c - libFuzzer target for what orionrtd does with the bytes a
 * client sends: framing, protobuf decoding, and, for RegisterGraph, the
 * conversion to a graph and the pipeline (validate, liveness, plan).
 *
 * The input's first byte picks how the rest is cut into reads (1..128 bytes
 * a feed, as a socket may deliver it) and what the rest is: raw bytes off
 * the socket, or (odd first byte) a graph description that is packed into a
 * RegisterGraph frame first, to reach the pipeline without a corpus. Every
 * complete frame is unpacked as an orion.Request by wire_unpack (the daemon's
 * bounded decode); a RegisterGraph is turned
 * into a struct graph by daemon/wire.c (limits checked first)
 * and run through graph_plan_build() with the policy named in the request if
 * it exists (else the default). A plan that comes back is checked here,
 * independently: every workspace tensor in [0, peak), aligned, and no two
 * tensors with overlapping lifetimes share a byte; peak >= lower bound.
 * Any violation aborts, which is how a fuzz target reports a finding.
 *
 * Built with clang -fsanitize=fuzzer (tests/CMakeLists.txt adds fuzz_frame
 * when the compiler is clang). With -DFUZZ_FRAME_MAIN it is a plain program
 * that replays the files named on its command line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "graph.h"
#include "orion.pb-c.h"
#include "wire.h"

#define FUZZ_MAX_FRAME 65536u

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "fuzz_frame: %s (%llu, %llu)\n", what, a, b);
    abort();
}

static const char *known_policy(const char *name)
{
    const struct planner_policy *p = planner_find(name);
    return p != NULL ? p->name : NULL;
}

static void check_plan(const struct graph *g, const struct graph_plan *p)
{
    if (p->n_tensors != g->n_tensors)
        fail("plan tensor count", p->n_tensors, g->n_tensors);
    if (p->peak_bytes < p->lower_bound_bytes)
        fail("peak below lower bound", p->peak_bytes, p->lower_bound_bytes);
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        bool outside = t->kind == TENSOR_EXPORT || t->kind == TENSOR_IMPORT;
        if (outside != (p->off[i] == GRAPH_OFF_NONE))
            fail("workspace membership", i, p->off[i]);
        if (p->live[i].first > p->live[i].last || (g->n_ops > 0 && p->live[i].last >= g->n_ops))
            fail("lifetime", p->live[i].first, p->live[i].last);
        if (outside)
            continue;
        uint64_t align = t->align ? t->align : TENSOR_ALIGN_DEFAULT;
        if (p->off[i] % align != 0)
            fail("misaligned tensor", i, p->off[i]);
        if (p->off[i] > p->peak_bytes || t->bytes > p->peak_bytes - p->off[i])
            fail("tensor beyond peak", i, p->off[i]);
        for (uint32_t j = i + 1; j < g->n_tensors; j++) {
            if (p->off[j] == GRAPH_OFF_NONE)
                continue;
            bool together = p->live[i].first <= p->live[j].last &&
                            p->live[j].first <= p->live[i].last;
            bool overlap = p->off[i] < p->off[j] + g->tensors[j].bytes &&
                           p->off[j] < p->off[i] + t->bytes;
            if (together && overlap)
                fail("live tensors overlap", i, j);
        }
    }
}

/* What the daemon does with a RegisterGraph (daemon/wire.c's
 * wire_graph_build, then graph_plan_build), on limits small enough to keep
 * one input fast. */
static void register_graph(const Orion__RegisterGraph *rg)
{
    const struct graph_limits lim = { 64, 64, 16, (uint64_t)1 << 30, (uint64_t)1 << 12 };
    struct wire_graph wg;
    char err[512];
    err[0] = '\0';
    int rc = wire_graph_build(rg, &lim, &wg, err, sizeof err);
    if (rc < 0) {
        if (rc != -E2BIG && rc != -ENOMEM)
            fail("unexpected wire_graph_build error", (unsigned long long)-rc, 0);
        if (err[0] == '\0')
            fail("refusal without a message", (unsigned long long)-rc, 0);
        return;
    }
    const char *policy = rg->policy[0] ? known_policy(rg->policy) : NULL;
    struct graph_plan plan;
    rc = graph_plan_build(&wg.g, &lim, policy, NULL, &plan, err, sizeof err);
    if (rc == 0) {
        check_plan(&wg.g, &plan);
        graph_plan_free(&plan);
    } else if (rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM) {
        fail("unexpected error code", (unsigned long long)-rc, 0);
    } else if (err[0] == '\0') {
        fail("refusal without a message", (unsigned long long)-rc, 0);
    }
    wire_graph_free(&wg);
}

/* Bytes as a graph description: reach the pipeline without a seed corpus.
 * Byte 0: tensors (low 5 bits + 1); byte 1: ops (low 5 bits + 1); then per
 * tensor 3 bytes (id 0..31, size class, kind+align), per op 2 bytes (input
 * and output id) and a third for an optional second input. Small ids make
 * duplicates, unknown ids, double writes and early reads all likely. */
static size_t build_request(const uint8_t *d, size_t n, uint8_t *out, size_t cap)
{
    static const char *shares[] = { "a", "b", "", "bad name" };
    Orion__Tensor tens[32], *tp[32];
    Orion__Op ops[32], *op[32];
    uint64_t ins[32][2], outs[32];
    size_t pos = 2;
    if (n < 2)
        return 0;
    size_t nt = (d[0] & 31u) + 1, no = (d[1] & 31u) + 1;
#define NEXT() (pos < n ? d[pos++] : 0)
    for (size_t i = 0; i < nt; i++) {
        orion__tensor__init(&tens[i]);
        uint8_t a = NEXT(), b = NEXT(), c = NEXT();
        tens[i].id = a & 31u;
        tens[i].bytes = b == 255 ? UINT64_MAX - 7 : (uint64_t)b * 64 + (a >> 5);
        tens[i].kind = (Orion__TensorKind)(c % 7u); /* 6 is not a kind */
        tens[i].align = (c >> 3) & 1 ? (uint64_t)1 << ((c >> 4) % 14) : 0;
        tens[i].share = (char *)shares[(c >> 6) & 3u];
        tens[i].name = (char *)"";
        tp[i] = &tens[i];
    }
    for (size_t i = 0; i < no; i++) {
        orion__op__init(&ops[i]);
        uint8_t a = NEXT(), b = NEXT(), c = NEXT();
        ins[i][0] = a & 31u;
        ins[i][1] = c & 31u;
        outs[i] = b & 31u;
        ops[i].name = (char *)"op";
        ops[i].n_inputs = (a & 0x80) ? 0 : (c & 0x80) ? 2 : 1;
        ops[i].inputs = ins[i];
        ops[i].n_outputs = (b & 0x80) ? 0 : 1;
        ops[i].outputs = &outs[i];
        op[i] = &ops[i];
    }
#undef NEXT
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.n_tensors = nt;
    rg.tensors = tp;
    rg.n_ops = no;
    rg.ops = op;
    rg.policy = (char *)(planner_policy_count() > 0
                             ? planner_policy_name((size_t)d[1] >> 5 < planner_policy_count()
                                                       ? (size_t)d[1] >> 5
                                                       : 0)
                             : "");
    Orion__Request req = ORION__REQUEST__INIT;
    req.request_id = 1;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    size_t len = orion__request__get_packed_size(&req);
    if (len + FRAME_HEADER_BYTES > cap)
        return 0;
    frame_put_header(out, (uint32_t)len);
    orion__request__pack(&req, out + FRAME_HEADER_BYTES);
    return len + FRAME_HEADER_BYTES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t built[FUZZ_MAX_FRAME];
    if (size < 1)
        return 0;
    size_t chunk = ((size_t)data[0] >> 1) + 1;
    bool structured = data[0] & 1;
    data++;
    size--;
    if (structured) {
        size = build_request(data, size, built, sizeof built);
        data = built;
    }
    struct frame_reader r;
    frame_reader_init(&r, FUZZ_MAX_FRAME);
    for (size_t pos = 0; pos < size;) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        if (frame_reader_feed(&r, data + pos, n) < 0)
            break;
        pos += n;
        const uint8_t *msg;
        size_t len;
        int rc;
        while ((rc = frame_reader_next(&r, &msg, &len)) == 1) {
            if (len == 0 || len > FUZZ_MAX_FRAME)
                fail("frame length past the reader", len, FUZZ_MAX_FRAME);
            const struct graph_limits wlim = { 64, 64, 16, (uint64_t)1 << 30, (uint64_t)1 << 12 };
            Orion__Request *req;
            uint64_t rid;
            char why[256];
            if (wire_unpack(msg, len, &wlim, &req, &rid, why, sizeof why) < 0)
                continue;
            if (req == NULL)
                continue; /* the daemon replies -EPROTO and closes */
            if (req->body_case == ORION__REQUEST__BODY_REGISTER_GRAPH && req->register_graph)
                register_graph(req->register_graph);
            wire_request_free(req);
        }
        if (rc < 0) {
            if (rc != -EMSGSIZE)
                fail("frame_reader_next error", (unsigned long long)-rc, 0);
            break; /* the daemon closes the connection */
        }
    }
    frame_reader_free(&r);
    return 0;
}

#ifdef FUZZ_FRAME_MAIN
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
