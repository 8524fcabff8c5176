/* wire_reply.c - a RegisterGraphReply written straight to its frame bytes
 * (what protobuf-c's packing gives, byte for byte, without building a
 * TensorPlacement object per tensor). */
#include "wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- RegisterGraphReply straight to the wire --------------------------- */

static size_t varint_len(uint64_t v)
{
    return ((size_t)(64 - __builtin_clzll(v | 1)) + 6) / 7;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A proto3 scalar: absent when zero (as protobuf-c packs it). */
static size_t scalar_len(uint64_t v)
{
    return v == 0 ? 0 : 1 + varint_len(v);
}

static uint8_t *scalar_put(uint8_t *p, uint32_t num, uint64_t v)
{
    if (v == 0)
        return p;
    *p++ = (uint8_t)(num << 3);
    return varint_put(p, v);
}

static size_t placement_len(const struct wire_register_reply *r, uint32_t i)
{
    return scalar_len(r->tensors[i].id) + scalar_len(r->place_off[i]) +
           scalar_len(r->tensors[i].bytes) + scalar_len(r->live[i].first) +
           scalar_len(r->live[i].last);
}

static size_t reply_body_len(const struct wire_register_reply *r)
{
    size_t n = scalar_len(r->graph_id) + scalar_len(r->ws_off) + scalar_len(r->peak_bytes) +
               scalar_len(r->lower_bound_bytes);
    size_t pl = r->policy != NULL ? strlen(r->policy) : 0;
    if (pl > 0)
        n += 1 + varint_len(pl) + pl;
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        size_t t = placement_len(r, i);
        n += 1 + varint_len(t) + t;
    }
    return n;
}

size_t wire_reply_register_size(const struct wire_register_reply *r)
{
    size_t body = reply_body_len(r);
    return scalar_len(r->request_id) + 1 + varint_len(body) + body;
}

size_t wire_reply_register_max(const struct wire_register_reply *r)
{
    /* Four scalars and a request id of 11 bytes at most, two keys, a body
     * length of 10, the policy; placements of 3 x 11 + 2 x 6 + 2 bytes. */
    size_t pl = r->policy != NULL ? strlen(r->policy) : 0;
    return 5 * 11 + 2 + 10 + (1 + 10 + pl) + (size_t)r->n_tensors * 47;
}

size_t wire_reply_register_pack(const struct wire_register_reply *r, uint8_t *out)
{
    uint8_t *p = scalar_put(out, 1, r->request_id);
    *p++ = (ORION__RESPONSE__BODY_REGISTER_GRAPH << 3) | 2;
    /* The body goes after room for its length, which is known once it is
     * written; then it moves down next to the length's actual bytes. */
    uint8_t *len_at = p, *body = p + 10;
    p = body;
    p = scalar_put(p, 1, r->graph_id);
    p = scalar_put(p, 2, r->ws_off);
    p = scalar_put(p, 3, r->peak_bytes);
    p = scalar_put(p, 4, r->lower_bound_bytes);
    size_t pl = r->policy != NULL ? strlen(r->policy) : 0;
    if (pl > 0) {
        *p++ = (5 << 3) | 2;
        p = varint_put(p, pl);
        memcpy(p, r->policy, pl);
        p += pl;
    }
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        /* Five varint fields are at most 45 bytes: a placement's length
         * is one byte, written once its fields are. */
        *p++ = (6 << 3) | 2;
        uint8_t *len = p++;
        p = scalar_put(p, 1, r->tensors[i].id);
        p = scalar_put(p, 2, r->place_off[i]);
        p = scalar_put(p, 3, r->tensors[i].bytes);
        p = scalar_put(p, 4, r->live[i].first);
        p = scalar_put(p, 5, r->live[i].last);
        *len = (uint8_t)(p - len - 1);
    }
    size_t body_len = (size_t)(p - body);
    uint8_t *q = varint_put(len_at, body_len);
    memmove(q, body, body_len);
    return (size_t)(q + body_len - out);
}
