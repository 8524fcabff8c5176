/* frame.c - length-prefixed framing; see frame.h. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void frame_reader_init(struct frame_reader *r, uint32_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame ? max_frame : FRAME_MAX_DEFAULT;
}

void frame_reader_free(struct frame_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

void frame_put_header(uint8_t hdr[FRAME_HEADER_BYTES], uint32_t n)
{
    hdr[0] = (uint8_t)(n & 0xff);
    hdr[1] = (uint8_t)((n >> 8) & 0xff);
    hdr[2] = (uint8_t)((n >> 16) & 0xff);
    hdr[3] = (uint8_t)((n >> 24) & 0xff);
}

uint32_t frame_get_header(const uint8_t hdr[FRAME_HEADER_BYTES])
{
    return (uint32_t)hdr[0] | ((uint32_t)hdr[1] << 8) |
           ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 24);
}

int frame_reader_feed(struct frame_reader *r, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    /* Drop consumed bytes first so the buffer stays bounded by one frame. */
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        uint8_t *nb = realloc(r->buf, cap);
        if (nb == NULL)
            return -ENOMEM;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return 0;
}

void frame_reader_trim(struct frame_reader *r)
{
    if (r->pos < r->len || r->cap <= FRAME_KEEP_BYTES)
        return;
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = r->pos = 0;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **msg, size_t *len)
{
    size_t avail = r->len - r->pos;
    if (avail < FRAME_HEADER_BYTES)
        return 0;
    uint32_t n = frame_get_header(r->buf + r->pos);
    if (n == 0 || n > r->max_frame)
        return -EMSGSIZE;
    if (avail - FRAME_HEADER_BYTES < n)
        return 0;
    *msg = r->buf + r->pos + FRAME_HEADER_BYTES;
    *len = n;
    r->pos += FRAME_HEADER_BYTES + (size_t)n;
    return 1;
}
