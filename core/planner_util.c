/* planner_util.c - what the planner files share: events, sort keys, clock.
 *
 * Called by the policies, the engines, verify and the interface; calls none
 * of them (libc only), so no planner file calls back into one that calls it.
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- events: the time sweep of the bound, verify and the engines ------ */

/* Sort events by time: LSD radix, a byte a pass, skipping bytes in which
 * all times agree. Stable, so what the caller's order put first among
 * equal times stays first. Returns 0 or -ENOMEM. */
int planner_sort_events(struct event *ev, size_t m)
{
    struct event *tmp, *src = ev, *dst;
    uint64_t all_or = 0, all_and = UINT64_MAX;
    size_t i, cnt[256];
    unsigned shift;

    if (m < 2)
        return 0;
    tmp = malloc(m * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    dst = tmp;
    for (i = 0; i < m; i++) {
        all_or |= ev[i].t;
        all_and &= ev[i].t;
    }
    for (shift = 0; shift < 64; shift += 8) {
        size_t sum = 0;
        struct event *t;
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        memset(cnt, 0, sizeof(cnt));
        for (i = 0; i < m; i++)
            cnt[(src[i].t >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            size_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < m; i++)
            dst[cnt[(src[i].t >> shift) & 0xff]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != ev)
        memcpy(ev, src, m * sizeof(*ev));
    free(tmp);
    return 0;
}

/* Starts and ends of all buffers in time order; at equal times ends come
 * before starts (half-open lifetimes), then by index. */
struct event *planner_make_events(const struct plan_buffer *b, size_t n)
{
    struct event *ev;
    size_t i;
    if (n > SIZE_MAX / 2 / sizeof(*ev))
        return NULL;
    ev = malloc(2 * n * sizeof(*ev) + 1);
    if (!ev)
        return NULL;
    for (i = 0; i < n; i++) {
        ev[i] = (struct event){b[i].upper, 0, (uint32_t)i};
        ev[n + i] = (struct event){b[i].lower, 1, (uint32_t)i};
    }
    if (planner_sort_events(ev, 2 * n) < 0) {
        free(ev);
        return NULL;
    }
    return ev;
}

/* ---- shared helpers ---------------------------------------------------- */

/* Descending k1, k2, k3; then ascending index. */
int planner_key_cmp(const void *pa, const void *pb)
{
    const struct order_key *a = pa, *b = pb;
    if (a->k1 != b->k1)
        return a->k1 > b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 > b->k2 ? -1 : 1;
    if (a->k3 != b->k3)
        return a->k3 > b->k3 ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

double planner_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
