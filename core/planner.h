/* planner.h - offline placement of buffers with known lifetimes.
 *
 * A planning problem is MiniMalloc's: buffers live over half-open intervals
 * [lower, upper) of time, each with a size and an alignment; a plan gives each
 * an offset so that no two buffers whose intervals overlap share a byte. Its
 * peak is max(off + bytes); the lower bound is the largest sum of sizes live
 * at one time, with the padding their alignments force (planner_lower_bound). Policies are chosen by name behind one interface.
 * Pure: no I/O, no globals; reentrant (the daemon runs it on a thread pool).
 */
#ifndef ORION_PLANNER_H
#define ORION_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plan_buffer {
    uint64_t lower;  /* first time the buffer is live */
    uint64_t upper;  /* first time it is dead again (exclusive), > lower */
    uint64_t bytes;  /* > 0 */
    uint64_t align;  /* 0 or 1 = none; else a power of two */
    uint64_t off;    /* out: the planned offset */
};

/* What a run did, for tests and benchmarks to assert on (not a clock). */
struct planner_stats {
    uint64_t work;         /* engine units: neighbours and tree nodes visited, placements */
    uint64_t search_nodes; /* branch-and-bound nodes */
    uint64_t lower_bound;  /* the bound the policy measured its plan against */
    uint32_t passes;       /* greedy passes (gap, skyline) made */
    uint32_t at_bound;     /* 1: stopped because the plan was within tolerance of it */
};

struct planner_opts {
    double time_limit_s; /* 0: the policy's fast default; > 0: may search this long */
    struct planner_stats *stats; /* NULL, or out: zeroed by planner_run, filled by
                                    the policies that search (portfolio) */
    /* Without a time limit, a policy that would search gives up instead,
     * with -EAGAIN and nothing planned, so that the caller can plan the
     * problem again without this where time is cheaper (the daemon's event
     * loop hands such a graph to its thread pool). The portfolio gives up
     * at once from 2,048 buffers or some 15,000 overlapping pairs on, and
     * else where greedy-size's pass and a dive of bounded work leave its
     * plan above the tolerance: what it spends is about a millisecond at
     * most, and a plan it returns is the one it makes without the option.
     * The others never search. Deterministic: the same problem gives up
     * the same way. */
    bool no_search;
    /* 0, or planner_lower_bound() of exactly the buffers being planned, for
     * a caller that has it already (graph_plan_solve computes it for the
     * reply): the policy need not compute it again. */
    uint64_t lower_bound;
};
/* With time_limit_s > 0 the default policy first computes its fast plan
 * (deterministic; milliseconds, up to about a second on traces of 10k+
 * buffers with thousands live at once) and then searches until the limit,
 * never returning a worse plan: so a limit shorter than the fast mode is
 * overrun by the fast mode. Policies without a search ignore the limit.
 * The fast mode stops as soon as its plan is within PLANNER_TOLERANCE of
 * the lower bound (below 2,048 buffers greedy-size's pass runs first: a
 * problem it solves at the bound costs a small multiple of greedy-size's
 * time; then the search's first dive at the bound; from 2,048 on two skyline passes run first, and without a limit
 * greedy-size's pass is skipped where it is costly and the plan is already
 * within 1% of the bound); with a limit the search stops only at a proven
 * optimum. */
#define PLANNER_TOLERANCE 1e-6

/* A policy is a descriptor, as SQLite's mem5.c is a methods struct: the
 * file that implements it (core/planner_<name>.c) exports exactly one
 * `const struct planner_policy planner_<name>_policy`, and planner.c's table
 * lists them. Adding a policy is a file and a row. */
struct planner_policy {
    const char *name;     /* static: what --policy and the protocol call it */
    const char *describe; /* static: one line for --list-policies */
    /* Fill b[i].off and *peak for b[0..n), n > 0, already validated by
     * planner_run (so n < UINT32_MAX and no offset computed can overflow).
     * opts may be NULL. Returns 0, -EAGAIN (opts->no_search) or -ENOMEM.
     * Call it through planner_run. */
    int (*run)(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
               uint64_t *peak);
};

/* Plan n buffers with the named policy (NULL = planner_default_policy()).
 * Fills b[i].off and *peak. Returns 0, -EINVAL (unknown policy: the message
 * names it and lists the policies; bad buffer: the message names its index),
 * -EAGAIN (opts->no_search and it would search: nothing planned) or -ENOMEM; the
 * message is in err. */
int planner_run(const char *policy, struct plan_buffer *b, size_t n,
                const struct planner_opts *opts, uint64_t *peak,
                char *err, size_t err_len);

/* The policy called `name` (NULL = the default), or NULL if there is none.
 * The descriptor is static: its name can be kept as the policy's name. */
const struct planner_policy *planner_find(const char *name);

/* The policies' names in table order (the default first), joined by sep:
 * "portfolio, linear-scan, greedy-size" with sep ", ". Always NUL-terminates
 * out[len] (len > 0). Returns 0, or -ENOSPC when it had to truncate. */
int planner_policies_format(char *out, size_t len, const char *sep);

const char *planner_default_policy(void);
size_t planner_policy_count(void);
const char *planner_policy_name(size_t i);        /* NULL past the end */
const char *planner_policy_describe(size_t i);    /* one line, NULL past the end */

/* No plan of b[0..n) has a smaller peak: over every time t, the sum of the
 * sizes live at t, each rounded up to G (the smallest alignment live at t),
 * less the largest such rounding (the topmost buffer needs no padding
 * above it). With no alignments it is the largest sum of sizes live at one
 * time. O(n log n); 0 when out of memory. */
uint64_t planner_lower_bound(const struct plan_buffer *b, size_t n);

/* Check a plan: every buffer aligned and within [0, peak), no two buffers with
 * overlapping intervals overlapping in bytes. Returns 0 or -EINVAL with the
 * first violation (naming both buffer indices) in err. */
int planner_verify(const struct plan_buffer *b, size_t n, uint64_t peak,
                   char *err, size_t err_len);

#endif
