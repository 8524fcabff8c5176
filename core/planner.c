/* planner.c - the planner's interface: the table of policies, lookup by name, planner_run.
 *
 * The policies are descriptors (struct planner_policy), each exported by its
 * own file (see planner_internal.h); this file lists them, finds one by
 * name, formats their list for messages, and runs one after validating the
 * problem. It calls the policies; they never call it.
 */
#include "planner.h"
#include "planner_internal.h"
#include "errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#define NONE UINT32_MAX

/* The default first. */
static const struct planner_policy *const policies[] = {
    &planner_portfolio_policy,
    &planner_linear_scan_policy,
    &planner_greedy_size_policy,
};

#define N_POLICIES (sizeof(policies) / sizeof(policies[0]))

const char *planner_default_policy(void)
{
    return policies[0]->name;
}

size_t planner_policy_count(void)
{
    return N_POLICIES;
}

const char *planner_policy_name(size_t i)
{
    return i < N_POLICIES ? policies[i]->name : NULL;
}

const char *planner_policy_describe(size_t i)
{
    return i < N_POLICIES ? policies[i]->describe : NULL;
}

const struct planner_policy *planner_find(const char *name)
{
    if (name == NULL)
        return policies[0];
    for (size_t i = 0; i < N_POLICIES; i++)
        if (strcmp(policies[i]->name, name) == 0)
            return policies[i];
    return NULL;
}

int planner_policies_format(char *out, size_t len, const char *sep)
{
    size_t used = 0;

    if (out == NULL || len == 0)
        return -ENOSPC;
    out[0] = '\0';
    for (size_t i = 0; i < N_POLICIES; i++) {
        const char *parts[2] = {i > 0 ? sep : "", policies[i]->name};
        for (size_t k = 0; k < 2; k++) {
            size_t m = strlen(parts[k]);
            if (m >= len - used) {
                memcpy(out + used, parts[k], len - used - 1);
                out[len - 1] = '\0';
                return -ENOSPC;
            }
            memcpy(out + used, parts[k], m + 1);
            used += m;
        }
    }
    return 0;
}

/* Every buffer sane, and the sum of bytes plus worst alignment padding fits
 * in uint64, so no offset a policy computes can overflow. */
static int validate(const struct plan_buffer *b, size_t n, char *err, size_t err_len)
{
    uint64_t total = 0;
    size_t i;

    if (n >= NONE) {
        errmsg_set(err, err_len, "too many buffers: %zu (at most %u)", n, NONE - 1);
        return -EINVAL;
    }
    for (i = 0; i < n; i++) {
        uint64_t a = align_of(&b[i]);
        if (b[i].bytes == 0) {
            errmsg_set(err, err_len, "buffer %zu: size is 0", i);
            return -EINVAL;
        }
        if (b[i].upper <= b[i].lower) {
            errmsg_set(err, err_len,
                    "buffer %zu: upper %" PRIu64 " is not above lower %" PRIu64
                    " (upper is exclusive)",
                    i, b[i].upper, b[i].lower);
            return -EINVAL;
        }
        if (a & (a - 1)) {
            errmsg_set(err, err_len, "buffer %zu: alignment %" PRIu64 " is not a power of two", i,
                    b[i].align);
            return -EINVAL;
        }
        if (b[i].bytes > UINT64_MAX - total || a - 1 > UINT64_MAX - total - b[i].bytes) {
            errmsg_set(err, err_len, "buffer %zu: total size overflows 64 bits", i);
            return -EINVAL;
        }
        total += b[i].bytes + (a - 1);
    }
    return 0;
}

int planner_run(const char *policy, struct plan_buffer *b, size_t n,
                const struct planner_opts *opts, uint64_t *peak, char *err, size_t err_len)
{
    const struct planner_policy *pol = planner_find(policy);
    int rc;

    if (pol == NULL) {
        char list[256];
        planner_policies_format(list, sizeof(list), ", ");
        errmsg_set(err, err_len, "unknown planner policy \"%s\" (policies: %s)", policy, list);
        return -EINVAL;
    }
    if (opts && !(opts->time_limit_s >= 0)) {
        errmsg_set(err, err_len, "time limit must be >= 0 seconds");
        return -EINVAL;
    }
    if (n > 0 && !b) {
        errmsg_set(err, err_len, "no buffers given");
        return -EINVAL;
    }
    rc = validate(b, n, err, err_len);
    if (rc < 0)
        return rc;
    *peak = 0;
    if (opts && opts->stats)
        *opts->stats = (struct planner_stats){0};
    if (n == 0)
        return 0;
    rc = pol->run(b, n, opts, peak);
    if (rc == -ENOMEM)
        errmsg_set(err, err_len, "out of memory planning %zu buffers", n);
    else if (rc == -EAGAIN)
        errmsg_set(err, err_len, "planning %zu buffers needs a search, and none was allowed",
                   n);
    return rc;
}
