/* wire_internal.h - what the wire files share: the scan's counts, its entry
 * point and the varint reader. Not for the rest of the daemon. */
#ifndef ORION_WIRE_INTERNAL_H
#define ORION_WIRE_INTERNAL_H

#include "liveness.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string field's bytes [p, p + len). */
struct wire_str {
    const uint8_t *p;
    size_t len;
};

/* What wire_register_decode needs of the last RegisterGraph the scan
 * passed (the oneof keeps the last), so that it fills the graph in one more
 * pass rather than two: valid only where the scan found nothing bad. */
struct wire_rg {
    struct wire_str body;          /* its bytes */
    uint64_t tensors, ops, refs;   /* its own counts (the totals are below) */
    size_t name_bytes;             /* at least what its names keep, NULs too */
    struct wire_str name, policy;  /* the last of each (whole: not cut at a NUL) */
    uint64_t bad_op;               /* the first op over max_op_refs, or UINT64_MAX */
    uint64_t bad_refs;             /* its references */
    struct wire_str bad_name;      /* its name */
    bool mixed;                    /* an op lists an input after an output */
};

struct wire_counts {
    uint64_t request_id;
    uint64_t tensors;           /* over every RegisterGraph in the request */
    uint64_t ops;
    uint64_t unknown;
    uint32_t body;              /* the Request's last body field (the oneof's) */
    bool bad;                   /* a field protobuf-c would refuse (wire type) */
    uint64_t max_op_refs;       /* the limit wire_rg.bad_op is against */
    struct wire_rg rg;
};

/* Read one varint at *p (< end), advancing *p: 0, or -EPROTO. */
int wire_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* A varint as protobuf-c reads one inside a packed array: at most 10
 * bytes, the bits past 64 dropped. 0, or -EPROTO. */
int wire_pb_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* The same, with the one-byte case (keys, most lengths and ids) inline:
 * these run a few times for every byte of a large request. */
static inline int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (*p < end && **p < 0x80) {
        *v = *(*p)++;
        return 0;
    }
    return wire_varint_long(p, end, v);
}

static inline int wire_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (*p < end && **p < 0x80) {
        *v = *(*p)++;
        return 0;
    }
    return wire_pb_varint_long(p, end, v);
}

/* Scan msg as a Request (structure, counts against lim, unknown fields):
 * 0, or -EPROTO / -E2BIG with a message; *wc is filled either way. */
int wire_scan_request(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                      struct wire_counts *wc, char *err, size_t err_len);

/* wire_scan_request tries a scan written for a RegisterGraph's schema
 * first and leaves whatever that one does not expect to the general scan
 * over protobuf-c's descriptors; the tests compare the two, by the path:
 * WIRE_SCAN_GENERAL the general one alone, WIRE_SCAN_FAST the first alone
 * (-ENOTSUP where it does not take the frame). */
enum wire_scan_path { WIRE_SCAN_ANY, WIRE_SCAN_GENERAL, WIRE_SCAN_FAST };

int wire_scan_request_with(const uint8_t *msg, size_t len, const struct graph_limits *lim,
                           enum wire_scan_path path, struct wire_counts *wc, char *err,
                           size_t err_len);

#endif
