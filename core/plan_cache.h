/* plan_cache.h - plans kept by their planning problem, so a problem planned again is not replanned.
 *
 * The key is the whole problem: every buffer's lifetime, size and alignment
 * in order, the policy's name and the time limit. A hit gives back the very
 * offsets and peak that were put, so it is as valid as the plan that was.
 * Bounded in entries and in bytes (a plan's key and offsets counted);
 * the least recently used entry goes first. One lock inside: the daemon's
 * loop and its pool threads may share one cache. Pure otherwise: no I/O.
 */
#ifndef ORION_PLAN_CACHE_H
#define ORION_PLAN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "planner.h"

struct plan_cache;

struct plan_cache_stats {
    uint64_t hits, misses, evictions;
    uint64_t entries, bytes;  /* now */
    uint64_t max_entries, max_bytes;
};

/* A cache of at most max_entries plans and max_bytes (both > 0). Returns 0
 * and *out, -EINVAL or -ENOMEM. */
int plan_cache_new(size_t max_entries, size_t max_bytes, struct plan_cache **out);

/* Free c and every plan in it; NULL does nothing. */
void plan_cache_free(struct plan_cache *c);

/* The plan of b[0..n) under (policy, time_limit_s), if kept: fills b[i].off,
 * *peak and *lower_bound (the problem's, as put: a hit need not compute
 * it), counts a hit, makes it the most recent and returns 1; else counts a
 * miss and returns 0. policy is the planner's name (not NULL). */
int plan_cache_get(struct plan_cache *c, const char *policy, double time_limit_s,
                   struct plan_buffer *b, size_t n, uint64_t *peak, uint64_t *lower_bound);

/* Keep a copy of the plan of b[0..n) (b[i].off) with its peak and the
 * problem's lower bound, evicting the least recently used plans until it
 * fits; an equal key already kept is replaced. Returns 0, -E2BIG (one plan
 * above max_bytes: nothing kept) or -ENOMEM. */
int plan_cache_put(struct plan_cache *c, const char *policy, double time_limit_s,
                   const struct plan_buffer *b, size_t n, uint64_t peak, uint64_t lower_bound);

/* The counters and sizes now. */
void plan_cache_get_stats(struct plan_cache *c, struct plan_cache_stats *out);

/* What a plan of n buffers costs of max_bytes (its key and offsets). */
size_t plan_cache_entry_bytes(size_t n);

#endif
