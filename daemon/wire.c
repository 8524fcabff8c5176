/* wire.c - the bounded scan of a request's wire bytes, and its decode by
 * protobuf-c. */
#include "wire.h"

#include "errmsg.h"
#include "wire_internal.h"

#include <assert.h>
#include <pthread.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


int wire_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -EPROTO;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -EPROTO;
        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -EPROTO;
}

/* A varint as protobuf-c reads one inside a packed array: at most 10 bytes,
 * the bits past 64 dropped. */
int wire_pb_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*p == end)
            return -EPROTO;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -EPROTO;
}

/* The wire type protobuf-c wants for f. */
static unsigned field_wire_type(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
        return 2;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    default:
        return 0;
    }
}

/* Would protobuf-c take [p, end) as the packed array of f (wt: the type of
 * its elements)? *count gets its elements when it would. */
static bool packed_ok(unsigned wt, const uint8_t *p, const uint8_t *end, uint64_t *count)
{
    uint64_t v, k = 0;
    if (wt == 5 || wt == 1) {
        *count = (uint64_t)(end - p) / (wt == 5 ? 4 : 8);
        return (end - p) % (wt == 5 ? 4 : 8) == 0;
    }
    for (; p < end; k++)
        if (wire_pb_varint(&p, end, &v) < 0)
            return false;
    *count = k;
    return true;
}

/* What the scan asks of the schema, looked up once: for every message
 * reachable from Request, its fields by number (below FAST_NUMS, which
 * covers the schema's) with their wire types and their messages' tables.
 * protobuf_c_message_descriptor_get_field's search was a third of a scan. */
#define FAST_NUMS 32u
#define FAST_MAX 64u

struct fast_desc {
    const ProtobufCMessageDescriptor *d;
    const ProtobufCFieldDescriptor *f[FAST_NUMS];
    const struct fast_desc *sub[FAST_NUMS];
    uint8_t wt[FAST_NUMS];
};

static struct fast_desc fast[FAST_MAX];
static size_t n_fast;
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;

static const struct fast_desc *fast_find(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_fast; i++)
        if (fast[i].d == d)
            return &fast[i];
    return NULL;
}

/* d's table, made with those of its messages (the schema has no cycles);
 * NULL past FAST_MAX (the scan then asks protobuf-c). */
static const struct fast_desc *fast_add(const ProtobufCMessageDescriptor *d)
{
    const struct fast_desc *have = fast_find(d);
    if (have != NULL || n_fast == FAST_MAX)
        return have;
    struct fast_desc *fd = &fast[n_fast++];
    fd->d = d;
    for (uint32_t num = 1; num < FAST_NUMS; num++) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        fd->f[num] = f;
        fd->wt[num] = f != NULL ? (uint8_t)field_wire_type(f) : 0;
        if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
            fd->sub[num] = fast_add(f->descriptor);
    }
    return fd;
}

static void fast_init(void)
{
    (void)fast_add(&orion__request__descriptor);
}

/* Walk the fields of one message of type d in [p, end), descending into the
 * sub-messages the schema names (it has no cycles, so the depth is the
 * schema's), and count what decoding would multiply. No allocation. fd is
 * d's table, or NULL. Of a RegisterGraph, its Tensors and Ops (which
 * appear nowhere else) it also keeps wc->rg. */
static int wire_scan(const ProtobufCMessageDescriptor *d, const struct fast_desc *fd,
                     const uint8_t *p, const uint8_t *end, struct wire_counts *wc)
{
    bool is_rg = d == &orion__register_graph__descriptor;
    bool is_op = d == &orion__op__descriptor;
    uint64_t op_in = 0, op_out = 0;
    struct wire_str op_name = {NULL, 0};
    if (is_rg)
        wc->rg = (struct wire_rg){.body = {p, (size_t)(end - p)}, .bad_op = UINT64_MAX,
                                  .name_bytes = 1};
    else if (d == &orion__tensor__descriptor)
        wc->rg.name_bytes += 2; /* its share and name, NUL-ended */
    while (p < end) {
        uint64_t key, v;
        const uint8_t *at = p;
        if (wire_varint(&p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
            return -EPROTO;
        if (p - at > 5)
            wc->bad = true;     /* protobuf-c reads keys of at most 5 bytes */
        uint32_t num = (uint32_t)(key >> 3);
        bool known = fd != NULL && num < FAST_NUMS;
        const ProtobufCFieldDescriptor *f =
            known ? fd->f[num] : protobuf_c_message_descriptor_get_field(d, num);
        unsigned fwt = f == NULL ? 0 : known ? fd->wt[num] : field_wire_type(f);
        if (f == NULL) {
            wc->unknown++;
        } else if ((key & 7) != fwt && f->type != PROTOBUF_C_TYPE_BOOL) {
            /* Recorded, not refused: wire_unpack leaves it to protobuf-c
             * (which reads a bool from any wire type). */
            if (!(f->label == PROTOBUF_C_LABEL_REPEATED && fwt != 2 && (key & 7) == 2))
                wc->bad = true;
        }
        if (f != NULL && d == &orion__request__descriptor &&
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            wc->body = num;
        switch (key & 7) {
        case 0: /* varint */
            if (wire_varint(&p, end, &v) < 0)
                return -EPROTO;
            if (d == &orion__request__descriptor && num == 1)
                wc->request_id = v;
            if (is_op && (num == 2 || num == 3)) { /* a reference, not packed */
                if (num == 2 && op_out > 0)
                    wc->rg.mixed = true;
                ++*(num == 2 ? &op_in : &op_out);
            }
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return -EPROTO;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return -EPROTO;
            p += 4;
            break;
        case 2: /* length-delimited */
            at = p;
            if (wire_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -EPROTO;
            if (p - at > 5)
                wc->bad = true; /* and lengths of at most 5 */
            if (f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED && fwt != 2) {
                uint64_t k = 0;
                if (!packed_ok(fwt, p, p + v, &k))
                    wc->bad = true;
                if (is_op && (num == 2 || num == 3)) { /* packed references */
                    if (num == 2 && op_out > 0)
                        wc->rg.mixed = true;
                    *(num == 2 ? &op_in : &op_out) += k;
                }
            } else if (is_op && num == 1) {
                op_name = (struct wire_str){p, (size_t)v};
            } else if (is_rg && (num == 1 || num == 4)) {
                *(num == 1 ? &wc->rg.name : &wc->rg.policy) = (struct wire_str){p, (size_t)v};
            } else if (d == &orion__tensor__descriptor && (num == 5 || num == 6)) {
                wc->rg.name_bytes += (size_t)v;
            }
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (is_rg && num == 2) {
                    wc->tensors++;
                    wc->rg.tensors++;
                } else if (is_rg && num == 3) {
                    wc->ops++;
                    wc->rg.ops++;
                }
                const struct fast_desc *sub = known ? fd->sub[num] : fast_find(f->descriptor);
                if (wire_scan(f->descriptor, sub, p, p + v, wc) < 0)
                    return -EPROTO;
            }
            p += v;
            break;
        default: /* groups: protobuf-c refuses them too */
            return -EPROTO;
        }
    }
    if (is_op) {
        uint64_t refs = op_in + op_out;
        wc->rg.refs += refs;
        wc->rg.name_bytes += op_name.len + 1;
        if (wc->rg.bad_op == UINT64_MAX && refs > wc->max_op_refs) {
            wc->rg.bad_op = wc->rg.ops - 1; /* counted as the RegisterGraph entered it */
            wc->rg.bad_refs = refs;
            wc->rg.bad_name = op_name;
        }
    }
    return 0;
}

/* ---- the common RegisterGraph, scanned for its schema alone -------------- */

/* Skip one varint that wire_varint would take (at most 9 bytes: a tenth,
 * whose last byte must also be 0 or 1, is left to the general scan). */
static inline bool skip_varint(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *q = *p, *lim = end - q > 9 ? q + 9 : end;
    while (q < lim && *q >= 0x80)
        q++;
    if (q == lim)
        return false;
    *p = q + 1;
    return true;
}

/* A length of at most 5 bytes that fits in [*p, end), read and passed. */
static inline bool take_len(const uint8_t **p, const uint8_t *end, struct wire_str *s)
{
    const uint8_t *at = *p;
    uint64_t v;
    if (wire_varint(p, end, &v) < 0 || *p - at > 5 || v > (uint64_t)(end - *p))
        return false;
    *s = (struct wire_str){*p, (size_t)v};
    *p += v;
    return true;
}

/* The varints of a packed array as wire_pb_varint reads them (at most 10
 * bytes each), counted; false where one is cut short or longer. */
static inline bool count_packed(const uint8_t *p, const uint8_t *end, uint64_t *count)
{
    uint64_t k = 0;
    unsigned run = 0, bad = 0;
    for (; p < end; p++) { /* without a branch a byte: ids past 127 take two */
        unsigned more = *p >> 7;
        k += more ^ 1;
        run = (run + 1) * more;
        bad |= run >= 10;
    }
    *count = k;
    return run == 0 && !bad;
}

static bool fast_tensor(const uint8_t *p, const uint8_t *end, struct wire_rg *rg)
{
    struct wire_str s;
    rg->name_bytes += 2; /* its share and name, NUL-ended */
    /* In the schema's order first, in a row (see fill_tensor); the loop
     * takes whatever follows. */
    for (unsigned num = 1; num <= 4; num++)
        if (p < end && *p == (num << 3 | 0) && (p++, !skip_varint(&p, end)))
            return false;
    for (unsigned num = 5; num <= 6; num++)
        if (p < end && *p == (num << 3 | 2)) {
            p++;
            if (!take_len(&p, end, &s))
                return false;
            rg->name_bytes += s.len;
        }
    while (p < end) {
        switch (*p++) {
        case 1 << 3 | 0: /* id, bytes, align, kind */
        case 2 << 3 | 0:
        case 3 << 3 | 0:
        case 4 << 3 | 0:
            if (!skip_varint(&p, end))
                return false;
            break;
        case 5 << 3 | 2: /* share, name */
        case 6 << 3 | 2:
            if (!take_len(&p, end, &s))
                return false;
            rg->name_bytes += s.len;
            break;
        default:
            return false;
        }
    }
    return true;
}

static bool fast_op(const uint8_t *p, const uint8_t *end, struct wire_rg *rg, uint64_t max_refs)
{
    struct wire_str s, name = {NULL, 0};
    uint64_t in = 0, out = 0, k;
    /* As encoders write an op (its name, then its inputs and outputs
     * packed), in a row; the loop takes whatever follows. */
    if (p < end && *p == (1 << 3 | 2) && (p++, !take_len(&p, end, &name)))
        return false;
    if (p < end && *p == (2 << 3 | 2)) {
        p++;
        if (!take_len(&p, end, &s) || !count_packed(s.p, s.p + s.len, &in))
            return false;
    }
    if (p < end && *p == (3 << 3 | 2)) {
        p++;
        if (!take_len(&p, end, &s) || !count_packed(s.p, s.p + s.len, &out))
            return false;
    }
    while (p < end) {
        uint8_t key = *p++;
        switch (key) {
        case 1 << 3 | 2:
            if (!take_len(&p, end, &name))
                return false;
            break;
        case 2 << 3 | 0: /* a reference, not packed */
        case 3 << 3 | 0:
            if (!skip_varint(&p, end))
                return false;
            if (key >> 3 == 2 && out > 0)
                rg->mixed = true;
            ++*(key >> 3 == 2 ? &in : &out);
            break;
        case 2 << 3 | 2: /* packed references */
        case 3 << 3 | 2:
            if (!take_len(&p, end, &s) || !count_packed(s.p, s.p + s.len, &k))
                return false;
            if (key >> 3 == 2 && out > 0)
                rg->mixed = true;
            *(key >> 3 == 2 ? &in : &out) += k;
            break;
        default:
            return false;
        }
    }
    rg->refs += in + out;
    rg->name_bytes += name.len + 1;
    if (rg->bad_op == UINT64_MAX && in + out > max_refs) {
        rg->bad_op = rg->ops - 1;
        rg->bad_refs = in + out;
        rg->bad_name = name;
    }
    return true;
}

/* A Request that is a request_id and a RegisterGraph and nothing else, each
 * field known and of the wire type its schema gives, every key one byte,
 * every length at most five, every varint at most nine (what every encoder
 * writes): *wc as wire_scan leaves it, true. At anything else false, with
 * *wc half made: the general scan starts over. Two thirds of a large
 * registration's scan was wire_scan's table lookups and checks. */
static bool fast_register(const uint8_t *p, const uint8_t *end, struct wire_counts *wc)
{
    struct wire_rg *rg = &wc->rg;
    struct wire_str s;
    uint64_t v;
    if (p < end && *p == (1 << 3 | 0)) {
        p++;
        if (wire_varint(&p, end, &v) < 0)
            return false;
        wc->request_id = v;
    }
    if (p == end || *p++ != (ORION__REQUEST__BODY_REGISTER_GRAPH << 3 | 2) ||
        !take_len(&p, end, &s) || p != end)
        return false;
    wc->body = ORION__REQUEST__BODY_REGISTER_GRAPH;
    *rg = (struct wire_rg){.body = s, .bad_op = UINT64_MAX, .name_bytes = 1};
    for (p = s.p; p < end;) {
        switch (*p++) {
        case 1 << 3 | 2:
            if (!take_len(&p, end, &rg->name))
                return false;
            break;
        case 4 << 3 | 2:
            if (!take_len(&p, end, &rg->policy))
                return false;
            break;
        case 2 << 3 | 2:
            wc->tensors++;
            rg->tensors++;
            if (!take_len(&p, end, &s) || !fast_tensor(s.p, s.p + s.len, rg))
                return false;
            break;
        case 3 << 3 | 2:
            wc->ops++;
            rg->ops++;
            if (!take_len(&p, end, &s) || !fast_op(s.p, s.p + s.len, rg, wc->max_op_refs))
                return false;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* protobuf-c's allocations, so that running out of memory while decoding
 * is told apart from bytes that are not a Request (it returns NULL for
 * both). malloc is fault_malloc in fault-injection builds. */
static void *pb_alloc(void *data, size_t n)
{
    void *p = malloc(n);
    if (p == NULL && data != NULL)
        *(bool *)data = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static ProtobufCAllocator pb_free_allocator = {pb_alloc, pb_free, NULL};

void wire_request_free(Orion__Request *req)
{
    if (req != NULL)
        orion__request__free_unpacked(req, &pb_free_allocator);
}

/* The scan and its limits: what wire_unpack refuses before protobuf-c. */
int wire_scan_request_with(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                           enum wire_scan_path path, struct wire_counts *wc, char *err,
                           size_t err_len)
{
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    memset(wc, 0, sizeof(*wc));
    wc->max_op_refs = (lim != NULL ? lim : &defaults)->max_op_refs;
    wc->rg.bad_op = UINT64_MAX;
    bool took = path != WIRE_SCAN_GENERAL && fast_register(msg, msg + len, wc);
    if (!took && path == WIRE_SCAN_FAST)
        return -ENOTSUP;
    if (!took) {
        uint64_t max_op_refs = wc->max_op_refs;
        memset(wc, 0, sizeof(*wc));
        wc->max_op_refs = max_op_refs;
        wc->rg.bad_op = UINT64_MAX;
        (void)pthread_once(&fast_once, fast_init);
        if (wire_scan(&orion__request__descriptor, fast_find(&orion__request__descriptor), msg,
                      msg + len, wc) < 0)
            return -EPROTO;
    }
    int rc = liveness_check_counts(wc->tensors, wc->ops, lim, err, err_len);
    if (rc < 0)
        return rc;
    if (wc->unknown > WIRE_UNKNOWN_MAX) {
        errmsg_set(err, err_len, "request carries %llu fields this daemon does not know, "
                   "the limit is %u", (unsigned long long)wc->unknown, WIRE_UNKNOWN_MAX);
        return -E2BIG;
    }
    return 0;
}

int wire_scan_request(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                      struct wire_counts *wc, char *err, size_t err_len)
{
    return wire_scan_request_with(msg, len, lim, WIRE_SCAN_ANY, wc, err, err_len);
}

int wire_check(const uint8_t *msg, size_t len, const struct graph_limits *lim,
               uint64_t *request_id, uint32_t *body, char *err, size_t err_len)
{
    struct wire_counts wc;
    int rc = wire_scan_request(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    *body = wc.body;
    return rc;
}

int wire_unpack(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                Orion__Request **out, uint64_t *request_id, char *err, size_t err_len)
{
    struct wire_counts wc;
    *out = NULL;
    int rc = wire_scan_request(msg, len, lim, &wc, err, err_len);
    *request_id = wc.request_id;
    if (rc < 0)
        return rc;
    bool nomem = false;
    ProtobufCAllocator a = {pb_alloc, pb_free, &nomem};
    *out = orion__request__unpack(&a, len, msg);
    if (*out != NULL)
        return 0;
    if (nomem) {
        errmsg_set(err, err_len, "out of memory decoding a request of %zu bytes", len);
        return -ENOMEM;
    }
    return -EPROTO;
}
