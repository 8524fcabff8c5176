/* test_wire.c - daemon/wire.c: wire_register_decode against protobuf-c's
 * unpack and wire_graph_build, on generated RegisterGraphs; and the
 * RegisterGraphReply writer against protobuf-c's packing. */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_cmp.h"
#include "wire_internal.h"

/* ---- a small protobuf writer, so the bytes can be anything a client may
 * send: fields out of order, repeated, packed or not, unknown ones ---- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (n == 0)
        return; /* d may be NULL: memcpy must not see it */
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = v & 0x7f;
        v >>= 7;
        t[n] |= v ? 0x80 : 0;
        n++;
    } while (v);
    put(b, t, n);
}

static void put_key(struct buf *b, uint32_t num, unsigned wt)
{
    put_varint(b, ((uint64_t)num << 3) | wt);
}

static void put_bytes(struct buf *b, uint32_t num, const void *d, size_t n)
{
    put_key(b, num, 2);
    put_varint(b, n);
    put(b, d, n);
}

static void put_sub(struct buf *b, uint32_t num, const struct buf *sub)
{
    put_bytes(b, num, sub->p, sub->len);
}

static uint64_t rnd(uint64_t n)
{
    return n == 0 ? 0 : (((uint64_t)random() << 31) ^ (uint64_t)random()) % n;
}

static uint64_t rnd_value(void)
{
    switch (rnd(4)) {
    case 0: return rnd(4);
    case 1: return rnd(1000);
    case 2: return rnd(UINT32_MAX);
    default: return ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^ rnd(4);
    }
}

/* A random name: often empty, sometimes with a NUL inside or long. */
static void put_name(struct buf *b, uint32_t num)
{
    char s[300];
    size_t n = rnd(5) == 0 ? rnd(sizeof(s)) : rnd(12);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + rnd(26));
    if (n > 2 && rnd(6) == 0)
        s[rnd(n)] = '\0';
    put_bytes(b, num, s, n);
}

static void put_unknown(struct buf *b)
{
    uint32_t num = 20 + (uint32_t)rnd(1000);
    switch (rnd(4)) {
    case 0:
        put_key(b, num, 0);
        put_varint(b, rnd_value());
        break;
    case 1: {
        uint64_t v = rnd_value();
        put_key(b, num, 1);
        put(b, &v, 8);
        break;
    }
    case 2: {
        uint32_t v = (uint32_t)rnd_value();
        put_key(b, num, 5);
        put(b, &v, 4);
        break;
    }
    default:
        put_name(b, num);
    }
}

static void put_tensor(struct buf *b)
{
    struct buf t = {0};
    unsigned n = (unsigned)rnd(9);
    for (unsigned i = 0; i < n; i++) {
        uint32_t f = 1 + (uint32_t)rnd(7);
        if (f <= 3) {
            put_key(&t, f, 0);
            put_varint(&t, rnd_value());
        } else if (f == 4) {
            put_key(&t, 4, 0);
            put_varint(&t, rnd(3) == 0 ? rnd_value() : rnd(7));
        } else if (f <= 6) {
            put_name(&t, f);
        } else {
            put_unknown(&t);
        }
    }
    put_sub(b, 2, &t);
    free(t.p);
}

/* n references, packed or not; below 2^63 (nine bytes a varint at most)
 * when small. */
static void put_refs_of(struct buf *b, uint32_t num, unsigned n, bool small)
{
    if (rnd(2) == 0) {
        struct buf pk = {0};
        for (unsigned i = 0; i < n; i++)
            put_varint(&pk, rnd_value() >> (small ? 1 : 0));
        put_key(b, num, 2);
        put_varint(b, pk.len);
        if (pk.len > 0)
            put(b, pk.p, pk.len);
        free(pk.p);
    } else {
        for (unsigned i = 0; i < n; i++) {
            put_key(b, num, 0);
            put_varint(b, rnd_value() >> (small ? 1 : 0));
        }
    }
}

static void put_refs(struct buf *b, uint32_t num, unsigned n)
{
    put_refs_of(b, num, n, false);
}

static void put_op(struct buf *b)
{
    struct buf o = {0};
    unsigned n = (unsigned)rnd(7);
    for (unsigned i = 0; i < n; i++) {
        switch (rnd(4)) {
        case 0: put_name(&o, 1); break;
        case 1: put_refs(&o, 2, (unsigned)rnd(6)); break;
        case 2: put_refs(&o, 3, (unsigned)rnd(6)); break;
        default: put_unknown(&o);
        }
    }
    put_sub(b, 3, &o);
    free(o.p);
}

/* A RegisterGraph body of random shape into rg. */
static void gen_register_graph(struct buf *rg, unsigned max_items)
{
    unsigned n = (unsigned)rnd(max_items + 1);
    for (unsigned i = 0; i < n; i++) {
        switch (rnd(12)) {
        case 0: put_name(rg, 1); break;
        case 1: {
            bool named = rnd(2) != 0; /* one draw for the text and its length */
            put_bytes(rg, 4, named ? "linear-scan" : "", named ? 11 : 0);
            break;
        }
        case 2: put_unknown(rg); break;
        case 3: case 4: case 5: case 6: put_op(rg); break;
        default: put_tensor(rg);
        }
    }
}

/* A Request{request_id, register_graph} of random shape; sometimes with
 * an earlier RegisterGraph that the oneof's last one replaces. */
static void gen_request(struct buf *msg, unsigned max_items)
{
    struct buf rg = {0};
    put_key(msg, 1, 0);
    put_varint(msg, rnd_value());
    if (rnd(4) == 0)
        put_unknown(msg);
    if (rnd(6) == 0) {
        gen_register_graph(&rg, max_items);
        put_sub(msg, 3, &rg);
        rg.len = 0;
    }
    gen_register_graph(&rg, max_items);
    put_sub(msg, 3, &rg);
    free(rg.p);
}

/* Decode msg both ways; they must agree on everything. Returns the code. */
static int check_both(const uint8_t *msg, size_t len, const struct graph_limits *lim)
{
    Orion__Request *req = NULL;
    uint64_t rid = 0, drid = 0;
    char err[512] = "", derr[512] = "", policy[128], why[64];
    struct wire_graph wg = {0}, wd;
    int rc = wire_unpack(msg, len, lim, &req, &rid, err, sizeof(err));
    if (rc == 0) {
        ck_assert_int_eq(req->body_case, ORION__REQUEST__BODY_REGISTER_GRAPH);
        rc = wire_graph_build(req->register_graph, lim, &wg, err, sizeof(err));
    }
    int drc = wire_register_decode(msg, len, lim, &wd, &drid, policy, sizeof(policy), derr,
                                   sizeof(derr));
    ck_assert_int_eq(drc, rc);
    ck_assert_str_eq(derr, err);
    if (req != NULL) {
        ck_assert_uint_eq(drid, req->request_id);
        ck_assert_str_eq(policy, req->register_graph->policy);
    }
    if (rc == 0) {
        const char *d = wire_graph_diff(&wg, &wd, why, sizeof(why));
        ck_assert_msg(d == NULL, "graphs differ: %s", d);
        wire_graph_free(&wg);
    } else if (req != NULL) {
        /* A refused graph keeps its name. */
        const char *n = req->register_graph->name;
        ck_assert(rc == -ENOMEM || wire_cmp_str(wd.g.name, n[0] != '\0' ? n : NULL) == 0);
    }
    wire_graph_free(&wd);
    wire_request_free(req);
    return rc;
}

START_TEST(test_wire_register_decode_equals_protobuf_c_on_generated_graphs)
{
    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    srandom(1);
    int built = 0;
    for (int i = 0; i < 3000; i++) {
        struct buf msg = {0};
        gen_request(&msg, i % 10 == 0 ? 400 : 30);
        built += check_both(msg.p, msg.len, &lim) == 0;
        free(msg.p);
    }
    ck_assert_int_gt(built, 2000);
}
END_TEST

/* A RegisterGraph as encoders write it (every field known, of its wire
 * type; names, tensors and ops in any order, references packed or not,
 * sometimes an input after an output), in a Request with its id first. */
static void put_tensor_canon(struct buf *b)
{
    struct buf t = {0};
    unsigned n = (unsigned)rnd(8);
    for (unsigned i = 0; i < n; i++) {
        uint32_t f = 1 + (uint32_t)rnd(6);
        if (f <= 4) {
            put_key(&t, f, 0);
            put_varint(&t, f == 4 ? rnd(7) : rnd_value() >> 1); /* below 2^63: 9 bytes */
        } else {
            put_name(&t, f);
        }
    }
    put_sub(b, 2, &t);
    free(t.p);
}

static void put_op_canon(struct buf *b)
{
    struct buf o = {0};
    unsigned n = (unsigned)rnd(5);
    for (unsigned i = 0; i < n; i++) {
        switch (rnd(3)) {
        case 0: put_name(&o, 1); break;
        case 1: put_refs_of(&o, 2, (unsigned)rnd(6), true); break;
        default: put_refs_of(&o, 3, (unsigned)rnd(6), true); break;
        }
    }
    put_sub(b, 3, &o);
    free(o.p);
}

static void gen_request_canon(struct buf *msg, unsigned max_items)
{
    struct buf rg = {0};
    unsigned n = (unsigned)rnd(max_items + 1);
    for (unsigned i = 0; i < n; i++) {
        switch (rnd(10)) {
        case 0: put_name(&rg, 1); break;
        case 1: put_bytes(&rg, 4, "greedy-size", 11); break;
        case 2: case 3: case 4: put_op_canon(&rg); break;
        default: put_tensor_canon(&rg);
        }
    }
    if (rnd(8) != 0) { /* the id is left out when it is zero */
        put_key(msg, 1, 0);
        put_varint(msg, rnd_value());
    }
    put_sub(msg, 3, &rg);
    free(rg.p);
}

/* One byte changed, dropped or added, or the frame cut short. */
static void mutate(struct buf *msg)
{
    size_t at = rnd(msg->len + 1);
    switch (rnd(4)) {
    case 0:
        if (at < msg->len)
            msg->p[at] = (uint8_t)rnd(256);
        break;
    case 1:
        if (at < msg->len)
            memmove(msg->p + at, msg->p + at + 1, msg->len - at - 1), msg->len--;
        break;
    case 2: {
        uint8_t c = (uint8_t)rnd(256);
        put(msg, &c, 1); /* room; then moved into place */
        memmove(msg->p + at + 1, msg->p + at, msg->len - at - 1);
        msg->p[at] = c;
        break;
    }
    default:
        msg->len = at;
    }
}

static void str_eq(struct wire_str a, struct wire_str b)
{
    ck_assert_ptr_eq(a.p, b.p);
    ck_assert_uint_eq(a.len, b.len);
}

/* Where the schema's own scan takes msg, the general one must say the same
 * of it, count for count. Returns whether it took it. */
static bool check_scans(const uint8_t *msg, size_t len, const struct graph_limits *lim)
{
    struct wire_counts f, g;
    char ferr[512] = "", gerr[512] = "";
    int frc = wire_scan_request_with(msg, len, lim, WIRE_SCAN_FAST, &f, ferr, sizeof(ferr));
    int grc = wire_scan_request_with(msg, len, lim, WIRE_SCAN_GENERAL, &g, gerr, sizeof(gerr));
    if (frc == -ENOTSUP)
        return false;
    ck_assert_int_eq(frc, grc);
    ck_assert_str_eq(ferr, gerr);
    ck_assert_uint_eq(f.request_id, g.request_id);
    ck_assert_uint_eq(f.tensors, g.tensors);
    ck_assert_uint_eq(f.ops, g.ops);
    ck_assert_uint_eq(f.unknown, g.unknown);
    ck_assert_uint_eq(f.body, g.body);
    ck_assert_int_eq(f.bad, g.bad);
    str_eq(f.rg.body, g.rg.body);
    ck_assert_uint_eq(f.rg.tensors, g.rg.tensors);
    ck_assert_uint_eq(f.rg.ops, g.rg.ops);
    ck_assert_uint_eq(f.rg.refs, g.rg.refs);
    ck_assert_uint_eq(f.rg.name_bytes, g.rg.name_bytes);
    str_eq(f.rg.name, g.rg.name);
    str_eq(f.rg.policy, g.rg.policy);
    ck_assert_uint_eq(f.rg.bad_op, g.rg.bad_op);
    if (f.rg.bad_op != UINT64_MAX) {
        ck_assert_uint_eq(f.rg.bad_refs, g.rg.bad_refs);
        str_eq(f.rg.bad_name, g.rg.bad_name);
    }
    ck_assert_int_eq(f.rg.mixed, g.rg.mixed);
    return true;
}

START_TEST(test_wire_scan_for_the_schema_counts_as_the_general_one)
{
    /* a low op limit, so that ops over it come up */
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    lim.max_op_refs = 8;
    srandom(2);
    int taken = 0, mutated_taken = 0, mutated_left = 0, mixed = 0, bad_op = 0;
    for (int i = 0; i < 6000; i++) {
        struct buf msg = {0};
        gen_request_canon(&msg, i % 10 == 0 ? 300 : 25);
        if (i % 2 == 1) {
            for (unsigned k = 1 + (unsigned)rnd(3); k > 0; k--)
                mutate(&msg);
            if (check_scans(msg.p, msg.len, &lim))
                mutated_taken++;
            else
                mutated_left++;
        } else {
            ck_assert_msg(check_scans(msg.p, msg.len, &lim), "frame %d left to the general scan",
                          i);
            taken++;
            struct wire_counts wc;
            char err[512];
            (void)wire_scan_request(msg.p, msg.len, &lim, &wc, err, sizeof(err));
            mixed += wc.rg.mixed;
            bad_op += wc.rg.bad_op != UINT64_MAX;
        }
        /* and whichever scan takes it, the decode is protobuf-c's (for a
         * RegisterGraph: a changed byte can make it another body) */
        struct wire_counts wc;
        char err[512];
        if (wire_scan_request(msg.p, msg.len, &lim, &wc, err, sizeof(err)) < 0 ||
            wc.body == ORION__REQUEST__BODY_REGISTER_GRAPH)
            (void)check_both(msg.p, msg.len, &lim);
        free(msg.p);
    }
    ck_assert_int_eq(taken, 3000);
    ck_assert_int_gt(mutated_taken, 150);
    ck_assert_int_gt(mutated_left, 300);
    ck_assert_int_gt(mixed, 100);
    ck_assert_int_gt(bad_op, 100);
}
END_TEST

START_TEST(test_wire_scan_for_the_schema_leaves_the_unusual_to_the_general_one)
{
    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    /* request_id 7, RegisterGraph { tensor { id 1, bytes 64 } } and a
     * variation on it each */
    static const struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } cases[] = {
        {"canonical", {0x08, 7, 0x1a, 6, 0x12, 4, 0x08, 1, 0x10, 64}, 10},
        {"an unknown field in the tensor",
         {0x08, 7, 0x1a, 8, 0x12, 6, 0x08, 1, 0x10, 64, 0x38, 1}, 12},
        {"a two-byte key", {0x08, 7, 0x1a, 7, 0x12, 5, 0x88, 0x00, 1, 0x10, 64}, 11},
        {"bytes as a length-delimited field",
         {0x08, 7, 0x1a, 7, 0x12, 5, 0x08, 1, 0x12, 1, 64}, 11},
        {"a ten-byte varint",
         {0x08, 7, 0x1a, 15, 0x12, 13, 0x08, 1, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff},
         16},
        {"the id after the body", {0x1a, 6, 0x12, 4, 0x08, 1, 0x10, 64, 0x08, 7}, 10},
        {"bytes after the body", {0x08, 7, 0x1a, 5, 0x12, 4, 0x08, 1, 0x10, 64}, 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wire_counts wc;
        char err[512];
        int rc = wire_scan_request_with(cases[i].b, cases[i].n, &lim, WIRE_SCAN_FAST, &wc, err,
                                        sizeof(err));
        ck_assert_msg(i == 0 ? rc == 0 : rc == -ENOTSUP, "%s: %d", cases[i].what, rc);
        (void)check_scans(cases[i].b, cases[i].n, &lim);
        (void)check_both(cases[i].b, cases[i].n, &lim);
    }
}
END_TEST

START_TEST(test_wire_register_decode_refuses_as_wire_graph_build)
{
    /* Small limits, so that counts and references go over them. */
    struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    lim.max_op_refs = 4;
    srandom(2);
    int refused = 0;
    for (int i = 0; i < 2000; i++) {
        struct buf msg = {0};
        gen_request(&msg, 30);
        Orion__Request *req = NULL;
        uint64_t rid;
        char err[512];
        struct wire_graph wg;
        if (wire_unpack(msg.p, msg.len, &lim, &req, &rid, err, sizeof(err)) == 0 &&
            wire_graph_build(req->register_graph, &lim, &wg, err, sizeof(err)) < 0)
            refused++;
        else if (req != NULL)
            wire_graph_free(&wg);
        wire_request_free(req);
        check_both(msg.p, msg.len, &lim);
        free(msg.p);
    }
    ck_assert_int_gt(refused, 100);
}
END_TEST

START_TEST(test_wire_register_decode_refuses_a_long_graph_name)
{
    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    char name[WIRE_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    struct buf rg = {0}, msg = {0};
    put_bytes(&rg, 1, name, sizeof(name));
    put_key(&msg, 1, 0);
    put_varint(&msg, 5);
    put_sub(&msg, 3, &rg);
    check_both(msg.p, msg.len, &lim);
    struct wire_graph wd;
    uint64_t rid;
    char policy[16], err[256];
    ck_assert_int_eq(wire_register_decode(msg.p, msg.len, &lim, &wd, &rid, policy,
                                          sizeof(policy), err, sizeof(err)), -EINVAL);
    ck_assert_uint_eq(rid, 5);
    ck_assert_uint_eq(strlen(wd.g.name), sizeof(name));
    wire_graph_free(&wd);
    free(rg.p);
    free(msg.p);
}
END_TEST

START_TEST(test_wire_register_decode_says_enomsg_for_other_bodies)
{
    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    /* A RegisterGraph and then a Stats: the oneof keeps the last. */
    static const uint8_t msg[] = {0x08, 0x01, 0x1a, 0x00, 0x52, 0x00};
    struct wire_graph wd;
    uint64_t rid;
    char policy[16], err[256];
    ck_assert_int_eq(wire_register_decode(msg, sizeof(msg), &lim, &wd, &rid, policy,
                                          sizeof(policy), err, sizeof(err)), -ENOMSG);
    /* And the other way round it is a RegisterGraph. */
    static const uint8_t msg2[] = {0x08, 0x01, 0x52, 0x00, 0x1a, 0x02, 0x0a, 0x00};
    ck_assert_int_eq(wire_register_decode(msg2, sizeof(msg2), &lim, &wd, &rid, policy,
                                          sizeof(policy), err, sizeof(err)), 0);
    ck_assert_uint_eq(wd.g.n_tensors, 0);
    wire_graph_free(&wd);
    check_both(msg2, sizeof(msg2), &lim);
}
END_TEST

START_TEST(test_wire_register_decode_refuses_wrong_wire_types)
{
    static const struct graph_limits lim = GRAPH_LIMITS_DEFAULT;
    /* Tensor.id (varint) sent length-delimited; Op.name as a varint. */
    static const uint8_t bad1[] = {0x08, 0x01, 0x1a, 0x05, 0x12, 0x03, 0x0a, 0x01, 0x00};
    static const uint8_t bad2[] = {0x08, 0x01, 0x1a, 0x04, 0x1a, 0x02, 0x08, 0x01};
    struct wire_graph wd;
    uint64_t rid;
    char policy[16], err[256];
    ck_assert_int_eq(wire_register_decode(bad1, sizeof(bad1), &lim, &wd, &rid, policy,
                                          sizeof(policy), err, sizeof(err)), -EPROTO);
    ck_assert_int_eq(wire_register_decode(bad2, sizeof(bad2), &lim, &wd, &rid, policy,
                                          sizeof(policy), err, sizeof(err)), -EPROTO);
    check_both(bad1, sizeof(bad1), &lim);
    check_both(bad2, sizeof(bad2), &lim);
}
END_TEST

/* One value of a reply's field: often zero (absent on the wire), or any
 * width. */
static uint64_t rnd_field(void)
{
    return rnd(3) == 0 ? 0 : rnd_value();
}

START_TEST(test_wire_reply_register_packs_as_protobuf_c)
{
    srandom(3);
    for (int k = 0; k < 500; k++) {
        uint32_t n = (uint32_t)(k % 50 == 0 ? rnd(20000) : rnd(40));
        struct graph_tensor *t = calloc(n + 1, sizeof(*t));
        uint64_t *off = calloc(n + 1, sizeof(*off));
        struct tensor_live *live = calloc(n + 1, sizeof(*live));
        Orion__TensorPlacement *tp = calloc(n + 1, sizeof(*tp));
        Orion__TensorPlacement **tpp = calloc(n + 1, sizeof(*tpp));
        ck_assert(t && off && live && tp && tpp);
        for (uint32_t i = 0; i < n; i++) {
            t[i].id = rnd_field();
            t[i].bytes = rnd_field();
            off[i] = rnd_field();
            live[i].first = (uint32_t)rnd_field();
            live[i].last = (uint32_t)rnd_field();
            orion__tensor_placement__init(&tp[i]);
            tp[i].id = t[i].id;
            tp[i].offset = off[i];
            tp[i].bytes = t[i].bytes;
            tp[i].first_op = live[i].first;
            tp[i].last_op = live[i].last;
            tpp[i] = &tp[i];
        }
        static const char *policies[] = {NULL, "", "linear-scan", "best-fit"};
        struct wire_register_reply r = {
            .request_id = rnd_field(),
            .graph_id = rnd_field(),
            .ws_off = rnd_field(),
            .peak_bytes = rnd_field(),
            .lower_bound_bytes = rnd_field(),
            .policy = policies[rnd(4)],
            .n_tensors = n,
            .tensors = t,
            .place_off = off,
            .live = live,
        };
        Orion__RegisterGraphReply rr = ORION__REGISTER_GRAPH_REPLY__INIT;
        rr.graph_id = r.graph_id;
        rr.workspace_offset = r.ws_off;
        rr.peak_bytes = r.peak_bytes;
        rr.lower_bound_bytes = r.lower_bound_bytes;
        rr.policy = (char *)(r.policy != NULL ? r.policy : "");
        rr.n_tensors = n;
        rr.tensors = tpp;
        Orion__Response resp = ORION__RESPONSE__INIT;
        resp.request_id = r.request_id;
        resp.body_case = ORION__RESPONSE__BODY_REGISTER_GRAPH;
        resp.register_graph = &rr;
        size_t want = orion__response__get_packed_size(&resp);
        ck_assert_uint_eq(wire_reply_register_size(&r), want);
        size_t room = wire_reply_register_max(&r);
        ck_assert_uint_ge(room, want);
        uint8_t *a = malloc(want + 1), *b = malloc(room);
        ck_assert(a && b);
        ck_assert_uint_eq(orion__response__pack(&resp, a), want);
        ck_assert_uint_eq(wire_reply_register_pack(&r, b), want);
        ck_assert_int_eq(memcmp(a, b, want), 0);
        free(a);
        free(b);
        free(t);
        free(off);
        free(live);
        free(tp);
        free(tpp);
    }
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("register_decode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_wire_register_decode_equals_protobuf_c_on_generated_graphs);
    tcase_add_test(tc, test_wire_register_decode_refuses_as_wire_graph_build);
    tcase_add_test(tc, test_wire_register_decode_refuses_a_long_graph_name);
    tcase_add_test(tc, test_wire_register_decode_says_enomsg_for_other_bodies);
    tcase_add_test(tc, test_wire_register_decode_refuses_wrong_wire_types);
    tcase_add_test(tc, test_wire_scan_for_the_schema_counts_as_the_general_one);
    tcase_add_test(tc, test_wire_scan_for_the_schema_leaves_the_unusual_to_the_general_one);
    suite_add_tcase(s, tc);
    tc = tcase_create("reply");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_wire_reply_register_packs_as_protobuf_c);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
