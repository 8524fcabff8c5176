/* frame.h - the framing both sides of the socket share.
 *
 * A frame is a 4-byte little-endian length n, then n bytes of one serialized
 * orion.Request or orion.Response. A length of 0 or above the receiver's
 * maximum is a protocol error: the receiver closes that connection.
 */
#ifndef ORION_FRAME_H
#define ORION_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ORION_PROTOCOL_VERSION 1u
#define FRAME_HEADER_BYTES 4u
#define FRAME_MAX_DEFAULT (16u << 20)
#define FRAME_KEEP_BYTES ((size_t)64 << 10)

struct frame_reader {
    uint8_t *buf;       /* bytes received and not yet consumed */
    size_t len;
    size_t cap;
    size_t pos;         /* start of the next unconsumed frame */
    uint32_t max_frame;
};

void frame_reader_init(struct frame_reader *r, uint32_t max_frame);
void frame_reader_free(struct frame_reader *r);

/* Append n received bytes. Returns 0 or -ENOMEM. */
int frame_reader_feed(struct frame_reader *r, const void *data, size_t n);

/* Take the next complete frame: returns 1 and points *msg and *len at its body
 * (valid until the next feed or free), 0 if more bytes are needed, or
 * -EMSGSIZE for a length of 0 or above max_frame (the stream cannot be
 * resynchronised after that). */
int frame_reader_next(struct frame_reader *r, const uint8_t **msg, size_t *len);

/* Once every byte fed is consumed, give back a buffer grown above 64 KiB by
 * a large frame, so that an idle connection does not keep it. Invalidates
 * the frames next() returned. */
void frame_reader_trim(struct frame_reader *r);

/* Encode a header for a body of n bytes into hdr[4]. */
void frame_put_header(uint8_t hdr[FRAME_HEADER_BYTES], uint32_t n);

/* Decode a header. */
uint32_t frame_get_header(const uint8_t hdr[FRAME_HEADER_BYTES]);

#endif
