/* fuzz_request.c - libFuzzer target for the daemon's decode of every request
 * type (daemon/wire.c): the first input byte picks a body of orion.Request
 * (hello, register graph, ..., stats, and numbers the schema does not know),
 * the rest is that body's bytes, wrapped into a Request as a client would
 * send it. wire_unpack must decode or refuse it with a code and a message
 * (never crash, never leak: the sanitizers watch); a RegisterGraph that
 * decodes is turned into a graph (wire_graph_build) on the daemon's limits,
 * and every input is decoded a second time by wire_register_decode, which
 * must agree (code, message, graph field for field, policy) or abort; where
 * the scan written for a RegisterGraph's schema takes the frame, the general
 * scan must count it the same (wire_internal.h).
 * Built with clang -fsanitize=fuzzer (tests/CMakeLists.txt). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_cmp.h"
#include "wire_internal.h"

static void fail(const char *what, int rc)
{
    fprintf(stderr, "fuzz_request: %s (%d)\n", what, rc);
    abort();
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static bool str_same(struct wire_str a, struct wire_str b)
{
    return a.p == b.p && a.len == b.len;
}

/* The schema's scan against the general one, where the first takes msg. */
static void compare_scans(const uint8_t *msg, size_t len, const struct graph_limits *lim)
{
    struct wire_counts f, g;
    char ferr[512] = "", gerr[512] = "";
    int frc = wire_scan_request_with(msg, len, lim, WIRE_SCAN_FAST, &f, ferr, sizeof ferr);
    if (frc == -ENOTSUP)
        return;
    int grc = wire_scan_request_with(msg, len, lim, WIRE_SCAN_GENERAL, &g, gerr, sizeof gerr);
    if (frc != grc || strcmp(ferr, gerr) != 0)
        fail("the two scans disagree on the code or message", frc);
    if (f.request_id != g.request_id || f.tensors != g.tensors || f.ops != g.ops ||
        f.unknown != g.unknown || f.body != g.body || f.bad != g.bad ||
        !str_same(f.rg.body, g.rg.body) || f.rg.tensors != g.rg.tensors ||
        f.rg.ops != g.rg.ops || f.rg.refs != g.rg.refs || f.rg.name_bytes != g.rg.name_bytes ||
        !str_same(f.rg.name, g.rg.name) || !str_same(f.rg.policy, g.rg.policy) ||
        f.rg.bad_op != g.rg.bad_op || f.rg.mixed != g.rg.mixed ||
        (f.rg.bad_op != UINT64_MAX &&
         (f.rg.bad_refs != g.rg.bad_refs || !str_same(f.rg.bad_name, g.rg.bad_name))))
        fail("the two scans disagree on the counts", frc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    /* Bodies 2..(2 + 40): the schema's cases and some it does not name. */
    uint32_t field = 2 + data[0] % 40;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint8_t *msg = malloc(n + 32);
    if (msg == NULL)
        return 0;
    size_t len = 0;
    msg[len++] = 0x08; /* request_id = 7 */
    msg[len++] = 7;
    len += put_varint(msg + len, ((uint64_t)field << 3) | 2);
    len += put_varint(msg + len, n);
    memcpy(msg + len, body, n);
    len += n;

    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    Orion__Request *req = NULL;
    uint64_t rid = 0;
    char err[512] = "";
    struct wire_graph wg = {0};
    int grc = 1;                /* 1: no graph built */
    compare_scans(msg, len, &lim);
    int rc = wire_unpack(msg, len, &lim, &req, &rid, err, sizeof err);
    if (rc == 0) {
        if (req == NULL || req->request_id != 7)
            fail("decoded without the request", rc);
        if (req->body_case == ORION__REQUEST__BODY_REGISTER_GRAPH) {
            grc = wire_graph_build(req->register_graph, &lim, &wg, err, sizeof err);
            if (grc != 0 && ((grc != -EINVAL && grc != -E2BIG && grc != -ENOMEM) ||
                             err[0] == '\0'))
                fail("wire_graph_build refusal without a code or message", grc);
        }
    } else if (rc == -E2BIG || rc == -ENOMEM) {
        if (err[0] == '\0')
            fail("refusal without a message", rc);
    } else if (rc != -EPROTO) {
        fail("unexpected code", rc);
    }

    /* The same bytes straight to a graph. */
    struct wire_graph wd;
    uint64_t drid = 0;
    char derr[512] = "", policy[128], why[64];
    int drc = wire_register_decode(msg, len, &lim, &wd, &drid, policy, sizeof policy, derr,
                                   sizeof derr);
    if (rc == 0 && grc == 1) {
        if (drc != -ENOMSG)
            fail("wire_register_decode took a body that is not a RegisterGraph", drc);
    } else if (rc < 0 && drc == -ENOMSG) {
        if (field == ORION__REQUEST__BODY_REGISTER_GRAPH)
            fail("wire_register_decode missed the RegisterGraph body", drc);
    } else {
        int want = rc < 0 ? rc : grc;
        if (drc != want) {
            fprintf(stderr, "fuzz_request: codes %d (%s) and %d (%s)\n", want, err, drc, derr);
            fail("wire_register_decode disagrees on the code", drc);
        }
        if (want < 0 && want != -EPROTO && strcmp(err, derr) != 0) {
            fprintf(stderr, "fuzz_request: '%s' vs '%s'\n", err, derr);
            fail("wire_register_decode disagrees on the message", drc);
        }
        if (rc == 0 && (drid != rid || strncmp(policy, req->register_graph->policy,
                                               sizeof policy - 1) != 0))
            fail("wire_register_decode disagrees on the request id or policy", drc);
        if (want == 0 && wire_graph_diff(&wg, &wd, why, sizeof why) != NULL) {
            fprintf(stderr, "fuzz_request: %s\n", why);
            fail("wire_register_decode disagrees on the graph", drc);
        }
    }
    wire_graph_free(&wd);
    if (grc == 0)
        wire_graph_free(&wg);
    wire_request_free(req);
    free(msg);
    return 0;
}
