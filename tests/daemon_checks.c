/* daemon_checks.c - what the test_daemon_* suites share: requests over a raw
 * session that fail the test on a transport error, stats, graphs to register
 * and named-buffer requests. See daemon_checks.h. */
#include "daemon_checks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int session(void)
{
    int fd = harness_session(D.socket_path);
    ck_assert_msg(fd >= 0, "connect+hello to %s failed: %s", D.socket_path, strerror(-fd));
    return fd;
}

static uint64_t next_id = 100;

int code_of(const Orion__Response *r)
{
    return r->body_case == ORION__RESPONSE__BODY_ERROR ? r->error->code : 0;
}

const char *msg_of(const Orion__Response *r)
{
    return r->body_case == ORION__RESPONSE__BODY_ERROR && r->error->message ? r->error->message
                                                                             : "";
}

Orion__Response *call(int fd, Orion__Request *req)
{
    int err = 0;
    req->request_id = next_id++;
    Orion__Response *r = harness_call(fd, req, REPLY_MS, &err);
    ck_assert_msg(r != NULL, "no reply to request %d: %s", (int)req->body_case, strerror(-err));
    ck_assert_msg(r->request_id == req->request_id, "reply id %llu, request id %llu",
                  (unsigned long long)r->request_id, (unsigned long long)req->request_id);
    return r;
}

Orion__StatsReply stats_on(int fd)
{
    Orion__StatsReply st;
    int rc = harness_stats(D.socket_path, fd, &st);
    ck_assert_msg(rc == 0, "stats failed: %s", strerror(-rc));
    return st;
}

void assert_clean(int clients)
{
    Orion__StatsReply st;
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, clients, 3000, &st);
    ck_assert_msg(rc == 0,
                  "daemon not back to empty: used_bytes=%llu graphs=%u buffers=%u "
                  "allocations=%llu clients=%u (want %d + checker) (%s)",
                  (unsigned long long)st.used_bytes, st.graphs, st.buffers,
                  (unsigned long long)st.allocations, st.clients, clients, strerror(-rc));
    ck_assert_msg(harness_daemon_alive(&D), "daemon died");
}

/* --- graph building -------------------------------------------------------- */

/* The RegisterGraph of do_register: sent, then (wait) its reply read and
 * returned, else NULL. */
static Orion__Response *register_on(int fd, const struct tspec *t, size_t nt,
                                    const struct ospec *o, size_t no, const char *policy,
                                    bool wait)
{
    Orion__Tensor *tens = calloc(nt ? nt : 1, sizeof *tens);
    Orion__Tensor **tp = calloc(nt ? nt : 1, sizeof *tp);
    Orion__Op *ops = calloc(no ? no : 1, sizeof *ops);
    Orion__Op **op = calloc(no ? no : 1, sizeof *op);
    ck_assert(tens && tp && ops && op);
    for (size_t i = 0; i < nt; i++) {
        orion__tensor__init(&tens[i]);
        tens[i].id = t[i].id;
        tens[i].bytes = t[i].bytes;
        tens[i].align = t[i].align;
        tens[i].kind = (Orion__TensorKind)t[i].kind;
        tens[i].share = (char *)(t[i].share ? t[i].share : "");
        tp[i] = &tens[i];
    }
    for (size_t i = 0; i < no; i++) {
        orion__op__init(&ops[i]);
        ops[i].name = (char *)(o[i].name ? o[i].name : "");
        ops[i].n_inputs = o[i].n_in;
        ops[i].inputs = (uint64_t *)o[i].in;
        ops[i].n_outputs = o[i].n_out;
        ops[i].outputs = (uint64_t *)o[i].out;
        op[i] = &ops[i];
    }
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.name = (char *)"test-graph";
    rg.n_tensors = nt;
    rg.tensors = tp;
    rg.n_ops = no;
    rg.ops = op;
    rg.policy = (char *)(policy ? policy : "");
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    Orion__Response *r = NULL;
    if (wait) {
        r = call(fd, &req);
    } else {
        req.request_id = 1;
        ck_assert_int_eq(harness_send_request(fd, &req), 0);
    }
    free(tens);
    free(tp);
    free(ops);
    free(op);
    return r;
}

Orion__Response *do_register(int fd, const struct tspec *t, size_t nt, const struct ospec *o,
                             size_t no, const char *policy)
{
    return register_on(fd, t, nt, o, no, policy, true);
}

void send_register(int fd, const struct tspec *t, size_t nt, const struct ospec *o, size_t no,
                   const char *policy)
{
    (void)register_on(fd, t, nt, o, no, policy, false);
}

/* A valid three-op chain: in -> a -> b -> out. */
const struct tspec chain_t[CHAIN_TENSORS] = {
    { 1, 1024, 0, ORION__TENSOR_KIND__INPUT, NULL },
    { 2, 4096, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL },
    { 3, 2048, 0, ORION__TENSOR_KIND__INTERMEDIATE, NULL },
    { 4, 512, 0, ORION__TENSOR_KIND__OUTPUT, NULL },
};
const struct ospec chain_o[CHAIN_OPS] = {
    { "conv", { 1 }, 1, { 2 }, 1 },
    { "relu", { 2 }, 1, { 3 }, 1 },
    { "pool", { 3 }, 1, { 4 }, 1 },
};

int release_graph(int fd, uint64_t graph_id)
{
    Orion__ReleaseGraph rel = ORION__RELEASE_GRAPH__INIT;
    rel.graph_id = graph_id;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_RELEASE_GRAPH;
    req.release_graph = &rel;
    Orion__Response *r = call(fd, &req);
    int rc = code_of(r);
    if (rc == 0)
        ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_OK);
    orion__response__free_unpacked(r, NULL);
    return rc;
}

void register_chain_ok(int fd)
{
    Orion__Response *r = do_register(fd, chain_t, 4, chain_o, 3, NULL);
    ck_assert_msg(r->body_case == ORION__RESPONSE__BODY_REGISTER_GRAPH,
                  "valid chain refused: %d %s", code_of(r), msg_of(r));
    ck_assert_uint_eq(r->register_graph->n_tensors, 4);
    uint64_t id = r->register_graph->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(release_graph(fd, id), 0);
}

/* --- buffers -------------------------------------------------------------- */

Orion__Response *buf_req(int fd, Orion__Request__BodyCase what, const char *name,
                                uint64_t bytes, uint64_t align, int64_t timeout_ms,
                                Orion__WaitFor wait_for)
{
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__BufferCreate cr = ORION__BUFFER_CREATE__INIT;
    Orion__BufferOpen op = ORION__BUFFER_OPEN__INIT;
    Orion__BufferSeal se = ORION__BUFFER_SEAL__INIT;
    Orion__BufferRelease re = ORION__BUFFER_RELEASE__INIT;
    Orion__BufferWait wa = ORION__BUFFER_WAIT__INIT;
    req.body_case = what;
    switch (what) {
    case ORION__REQUEST__BODY_BUFFER_CREATE:
        cr.name = (char *)name;
        cr.bytes = bytes;
        cr.align = align;
        req.buffer_create = &cr;
        break;
    case ORION__REQUEST__BODY_BUFFER_OPEN:
        op.name = (char *)name;
        req.buffer_open = &op;
        break;
    case ORION__REQUEST__BODY_BUFFER_SEAL:
        se.name = (char *)name;
        req.buffer_seal = &se;
        break;
    case ORION__REQUEST__BODY_BUFFER_RELEASE:
        re.name = (char *)name;
        req.buffer_release = &re;
        break;
    case ORION__REQUEST__BODY_BUFFER_WAIT:
        wa.name = (char *)name;
        wa.timeout_ms = timeout_ms;
        wa.what = wait_for;
        req.buffer_wait = &wa;
        break;
    default:
        ck_abort_msg("not a buffer request");
    }
    return call(fd, &req);
}

int buf_code(int fd, Orion__Request__BodyCase what, const char *name, uint64_t bytes,
                    uint64_t align)
{
    Orion__Response *r = buf_req(fd, what, name, bytes, align, 0, ORION__WAIT_FOR__SEALED);
    int rc = code_of(r);
    orion__response__free_unpacked(r, NULL);
    return rc;
}

#define CREATE ORION__REQUEST__BODY_BUFFER_CREATE
#define OPEN ORION__REQUEST__BODY_BUFFER_OPEN
#define SEAL ORION__REQUEST__BODY_BUFFER_SEAL
#define RELEASE ORION__REQUEST__BODY_BUFFER_RELEASE
