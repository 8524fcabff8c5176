/* planner_greedy_size.c - the greedy-size policy: TensorFlow Lite's GreedyMemoryPlanner.
 *
 * Size descending (ties: lower index first); each buffer goes into the
 * smallest gap between already placed buffers whose lifetimes overlap its
 * own, else above all of them: one best-fit pass of the gap engine
 * (planner_gap.c).
 */
#include "planner_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static int greedy_size_run(struct plan_buffer *b, size_t n, const struct planner_opts *opts,
                           uint64_t *peak)
{
    struct engine e;
    uint32_t *order = malloc(n * sizeof(*order) + 1);
    struct order_key *key = malloc(n * sizeof(*key) + 1);
    size_t i;
    int rc;

    (void)opts; /* no search, so no time limit to honour */
    if (!order || !key) {
        rc = -ENOMEM;
        goto out;
    }
    /* TFLite: size descending; ties keep the earlier buffer first. */
    for (i = 0; i < n; i++)
        key[i] = (struct order_key){(double)b[i].bytes, 0, 0, (uint32_t)i};
    planner_sort_keys(key, n);
    for (i = 0; i < n; i++)
        order[i] = key[i].idx;
    free(key); /* 32 bytes a buffer, not kept beside the engine */
    key = NULL;
    rc = planner_engine_init(&e, b, n, NULL);
    if (rc < 0)
        goto out;
    rc = planner_engine_pass(&e, order, RULE_BEST_FIT, UINT64_MAX, peak);
    if (rc == 0)
        for (i = 0; i < n; i++)
            b[i].off = e.off[i];
    planner_engine_free(&e);
out:
    free(key);
    free(order);
    return rc;
}

const struct planner_policy planner_greedy_size_policy = {
    .name = "greedy-size",
    .describe = "TensorFlow Lite's greedy by size: largest first, smallest gap that "
                "fits among overlapping placed buffers",
    .run = greedy_size_run,
};
