/* packings.c - the tight packings' generator (packings.h). */
#include "packings.h"

#include <errno.h>
#include <stdlib.h>

#define W 4096u   /* time */
#define H 65536u  /* offset, in units */
#define UNIT 64u

struct rect {
    uint32_t x0, x1, y0, y1;
};

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

size_t packings_size(size_t i)
{
    /* geometric from 150 to 2,000 */
    static const uint16_t n[PACKINGS_N] = {150,  166,  184,  204,  227,  251,  279,
                                           309,  343,  380,  422,  468,  519,  576,
                                           639,  708,  786,  871,  966,  1071, 1188,
                                           1318, 1462, 1621, 1798, 2000};
    return i < PACKINGS_N ? n[i] : 0;
}

int packings_make(uint64_t seed, size_t n, struct plan_buffer **out, size_t *n_out,
                  uint64_t *optimum)
{
    struct rect *r;
    struct plan_buffer *b;
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    uint32_t col;
    size_t m = 1, i, k;

    *out = NULL;
    if (n < 1 || n > H)
        return -EINVAL;
    r = malloc(n * sizeof(*r));
    if (!r)
        return -ENOMEM;
    r[0] = (struct rect){0, W, 0, H};
    while (m < n) {
        /* the piece to cut: the larger of two picked at random (by area),
         * so pieces stay of mixed sizes without collapsing to slivers */
        size_t a = (size_t)(next(&s) % m), c = (size_t)(next(&s) % m);
        uint64_t area_a = (uint64_t)(r[a].x1 - r[a].x0) * (r[a].y1 - r[a].y0);
        uint64_t area_c = (uint64_t)(r[c].x1 - r[c].x0) * (r[c].y1 - r[c].y0);
        struct rect p = r[area_c > area_a ? c : a];
        size_t at = area_c > area_a ? c : a;
        uint32_t w = p.x1 - p.x0, h = p.y1 - p.y0;
        int vertical = w >= 2 && (h < 2 || next(&s) % 2 == 0);
        if (w < 2 && h < 2)
            continue; /* a unit piece; the larger pick finds another soon */
        if (vertical) {
            uint32_t x = p.x0 + 1 + (uint32_t)(next(&s) % (w - 1));
            r[at].x1 = x;
            r[m++] = (struct rect){x, p.x1, p.y0, p.y1};
        } else {
            uint32_t y = p.y0 + 1 + (uint32_t)(next(&s) % (h - 1));
            r[at].y1 = y;
            r[m++] = (struct rect){p.x0, p.x1, y, p.y1};
        }
    }
    b = malloc(n * sizeof(*b));
    if (!b) {
        free(r);
        return -ENOMEM;
    }
    col = (uint32_t)(next(&s) % W);
    for (i = 0, k = 0; i < n; i++) {
        int live_at_col = r[i].x0 <= col && col < r[i].x1;
        if (!live_at_col && next(&s) % 12 == 0)
            continue;
        b[k++] = (struct plan_buffer){.lower = r[i].x0,
                                      .upper = r[i].x1,
                                      .bytes = (uint64_t)(r[i].y1 - r[i].y0) * UNIT,
                                      .align = UNIT,
                                      .off = (uint64_t)r[i].y0 * UNIT};
    }
    free(r);
    *out = b;
    *n_out = k;
    *optimum = (uint64_t)H * UNIT;
    return 0;
}
