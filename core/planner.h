/* planner.h - offline placement of buffers with known lifetimes.
 *
 * A planning problem is MiniMalloc's: buffers live over half-open intervals
 * [lower, upper) of time, each with a size and an alignment; a plan gives each
 * an offset so that no two buffers whose intervals overlap share a byte. Its
 * peak is max(off + bytes); the lower bound is the largest sum of sizes live
 * at one time. Policies are chosen by name behind one interface.
 * Pure: no I/O, no globals; reentrant (the daemon runs it on a thread pool).
 */
#ifndef ORION_PLANNER_H
#define ORION_PLANNER_H

#include <stddef.h>
#include <stdint.h>

struct plan_buffer {
    uint64_t lower;  /* first time the buffer is live */
    uint64_t upper;  /* first time it is dead again (exclusive), > lower */
    uint64_t bytes;  /* > 0 */
    uint64_t align;  /* 0 or 1 = none; else a power of two */
    uint64_t off;    /* out: the planned offset */
};

struct planner_opts {
    double time_limit_s; /* 0: the policy's fast default; > 0: may search this long */
};
/* With time_limit_s > 0 the default policy first computes its fast plan
 * (deterministic; milliseconds, up to about a second on traces of 10k+
 * buffers with thousands live at once) and then searches until the limit,
 * never returning a worse plan: so a limit shorter than the fast mode is
 * overrun by the fast mode. Policies without a search ignore the limit. */

/* Plan n buffers with the named policy (NULL = planner_default_policy()).
 * Fills b[i].off and *peak. Returns 0, -EINVAL (unknown policy, bad buffer:
 * message in err) or -ENOMEM. */
int planner_run(const char *policy, struct plan_buffer *b, size_t n,
                const struct planner_opts *opts, uint64_t *peak,
                char *err, size_t err_len);

const char *planner_default_policy(void);
size_t planner_policy_count(void);
const char *planner_policy_name(size_t i);        /* NULL past the end */
const char *planner_policy_describe(size_t i);    /* one line, NULL past the end */

/* The largest sum of sizes of buffers live at one time. */
uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n);

/* Check a plan: every buffer aligned and within [0, peak), no two buffers with
 * overlapping intervals overlapping in bytes. Returns 0 or -EINVAL with the
 * first violation (naming both buffer indices) in err. */
int planner_verify(const struct plan_buffer *b, size_t n, uint64_t peak,
                   char *err, size_t err_len);

#endif
