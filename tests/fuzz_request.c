/* fuzz_request.c - libFuzzer target for the daemon's decode of every request
 * type (daemon/wire.c): the first input byte picks a body of orion.Request
 * (hello, register graph, ..., stats, and numbers the schema does not know),
 * the rest is that body's bytes, wrapped into a Request as a client would
 * send it. wire_unpack must decode or refuse it with a code and a message
 * (never crash, never leak: the sanitizers watch); a RegisterGraph that
 * decodes is turned into a graph (wire_graph_build) on the daemon's limits.
 * Built with clang -fsanitize=fuzzer (tests/CMakeLists.txt). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

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
    char err[256] = "";
    int rc = wire_unpack(msg, len, &lim, &req, &rid, err, sizeof err);
    if (rc == 0) {
        if (req == NULL || req->request_id != 7)
            fail("decoded without the request", rc);
        if (req->body_case == ORION__REQUEST__BODY_REGISTER_GRAPH) {
            struct wire_graph wg;
            char why[512] = "";
            int g = wire_graph_build(req->register_graph, &lim, &wg, why, sizeof why);
            if (g == 0)
                wire_graph_free(&wg);
            else if ((g != -EINVAL && g != -E2BIG && g != -ENOMEM) || why[0] == '\0')
                fail("wire_graph_build refusal without a code or message", g);
        }
        wire_request_free(req);
    } else if (rc == -E2BIG || rc == -ENOMEM) {
        if (err[0] == '\0')
            fail("refusal without a message", rc);
    } else if (rc != -EPROTO) {
        fail("unexpected code", rc);
    }
    free(msg);
    return 0;
}
