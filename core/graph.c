/* graph.c - validate, liveness, plan (or find the plan in a cache) and verify one graph's workspace. */
#include "graph.h"
#include "plan_cache.h"
#include "errmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool in_workspace(enum tensor_kind k)
{
    return k != TENSOR_EXPORT && k != TENSOR_IMPORT;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int graph_plan_build(const struct graph *g, const struct graph_limits *lim,
                     const char *policy, const struct planner_opts *opts,
                     struct graph_plan *out, char *err, size_t err_len)
{
    return graph_plan_build_cached(g, lim, policy, opts, NULL, out, err, err_len);
}

int graph_plan_build_cached(const struct graph *g, const struct graph_limits *lim,
                            const char *policy, const struct planner_opts *opts,
                            struct plan_cache *cache, struct graph_plan *out, char *err,
                            size_t err_len)
{
    int rc = graph_plan_prepare(g, lim, policy, out, err, err_len);
    if (rc < 0)
        return rc;
    rc = graph_plan_solve(out, opts, cache, err, err_len);
    if (rc == -EAGAIN) /* no_search: nothing planned, nothing kept */
        graph_plan_free(out);
    return rc;
}

int graph_plan_prepare(const struct graph *g, const struct graph_limits *lim,
                       const char *policy, struct graph_plan *out, char *err, size_t err_len)
{
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    const struct planner_policy *pol;
    struct graph_plan p = {0};
    uint64_t sum = 0;
    size_t m = 0;
    int rc;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (out == NULL || g == NULL) {
        errmsg_set(err, err_len, "no graph or no plan to fill");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));

    pol = planner_find(policy);
    if (pol == NULL) {
        char list[256];
        planner_policies_format(list, sizeof(list), ", ");
        errmsg_set(err, err_len, "unknown planner policy \"%s\" (policies: %s)", policy, list);
        return -EINVAL;
    }
    p.policy = pol->name;
    /* Liveness checks the counts too, but the arrays are sized before it runs. */
    if (lim == NULL)
        lim = &defaults;
    if ((rc = liveness_check_counts(g->n_tensors, g->n_ops, lim, err, err_len)) < 0)
        return rc;

    p.n_tensors = g->n_tensors;
    p.live = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*p.live));
    if (p.live == NULL) {
        errmsg_set(err, err_len, "out of memory for %u tensors", g->n_tensors);
        rc = -ENOMEM;
        goto err_free_plan;
    }
    rc = liveness_compute(g, lim, p.live, err, err_len);
    if (rc < 0)
        goto err_free_plan;

    for (uint32_t k = 0; k < g->n_tensors; k++)
        if (in_workspace(g->tensors[k].kind))
            m++;
    p.buf = malloc((m ? m : 1) * sizeof(*p.buf));
    /* Buffer i is tensor i when every tensor is in the workspace. */
    if (m < g->n_tensors)
        p.buf_tensor = malloc(m * sizeof(*p.buf_tensor));
    if (p.buf == NULL || (m < g->n_tensors && p.buf_tensor == NULL)) {
        errmsg_set(err, err_len, "out of memory for %zu workspace tensors", m);
        rc = -ENOMEM;
        goto err_free_plan;
    }

    m = 0;
    for (uint32_t k = 0; k < g->n_tensors; k++) {
        const struct graph_tensor *t = &g->tensors[k];
        uint64_t align = t->align == 0 ? TENSOR_ALIGN_DEFAULT : t->align;

        if (!in_workspace(t->kind))
            continue;
        /* Bytes plus the worst alignment padding must fit, so that no
         * planner's offset arithmetic can wrap. */
        if (t->bytes > UINT64_MAX - sum || align - 1 > UINT64_MAX - sum - t->bytes) {
            errmsg_set(err, err_len,
                    "tensor id %llu (tensors[%u]): the workspace's total size overflows "
                    "64 bits",
                    (unsigned long long)t->id, k);
            rc = -EINVAL;
            goto err_free_plan;
        }
        sum += t->bytes + (align - 1);
        p.buf[m] = (struct plan_buffer){
            .lower = p.live[k].first,
            .upper = (uint64_t)p.live[k].last + 1,
            .bytes = t->bytes,
            .align = align,
            .off = 0,
        };
        if (p.buf_tensor != NULL)
            p.buf_tensor[m] = k;
        m++;
    }
    p.n_buf = m;
    *out = p;
    return 0;

err_free_plan:
    graph_plan_free(&p);
    return rc;
}

int graph_plan_solve(struct graph_plan *out, const struct planner_opts *opts,
                     struct plan_cache *cache, char *err, size_t err_len)
{
    double limit = opts ? opts->time_limit_s : 0;
    struct graph_plan p = *out;
    struct plan_buffer *buf = p.buf;
    size_t m = p.n_buf;
    struct timespec t0, t1;
    int rc;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The key is the problem after liveness: what the planner sees. */
    if (m > 0 && cache != NULL && !p.missed &&
        plan_cache_get(cache, p.policy, limit, buf, m, &p.peak_bytes, &p.lower_bound_bytes))
        p.cached = true;
    else
        p.lower_bound_bytes = planner_lower_bound(buf, m);
    if (m > 0 && !p.cached) {
        struct planner_opts o = opts != NULL ? *opts : (struct planner_opts){0};
        o.lower_bound = p.lower_bound_bytes; /* computed above: not again */
        rc = planner_run(p.policy, buf, m, &o, &p.peak_bytes, err, err_len);
        if (rc == -EAGAIN) { /* opts->no_search: *out as it was, to be solved again */
            out->missed = cache != NULL;
            return rc;
        }
        if (rc < 0)
            goto err_free_plan;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p.plan_ms = ms_between(&t0, &t1);

    /* A cached plan was verified before it was kept, for this very problem
     * (the key is every buffer), and the cache is the daemon's own memory:
     * a hit skips the check (a few per cent of a cached registration). */
    if (!p.cached) {
        char why[256];
        rc = planner_verify(buf, m, p.peak_bytes, why, sizeof(why));
        if (rc == -ENOMEM) {
            errmsg_set(err, err_len, "out of memory verifying the plan of %zu tensors", m);
            goto err_free_plan;
        }
        if (rc < 0) {
            errmsg_set(err, err_len, "policy %s produced an invalid plan: %s", p.policy, why);
            rc = -EFAULT;
            goto err_free_plan;
        }
    }
    /* Out of memory only costs a later hit; -E2BIG: too large to keep. */
    if (m > 0 && cache != NULL && !p.cached)
        (void)plan_cache_put(cache, p.policy, limit, buf, m, p.peak_bytes, p.lower_bound_bytes);
    /* The offsets are allocated only now: not beside the planner's memory. */
    p.off = malloc((p.n_tensors ? p.n_tensors : 1) * sizeof(*p.off));
    if (p.off == NULL) {
        errmsg_set(err, err_len, "out of memory for %u tensors", p.n_tensors);
        rc = -ENOMEM;
        goto err_free_plan;
    }
    for (uint32_t k = 0; k < p.n_tensors; k++)
        p.off[k] = GRAPH_OFF_NONE;
    for (size_t i = 0; i < m; i++)
        p.off[p.buf_tensor != NULL ? p.buf_tensor[i] : i] = buf[i].off;

    free(p.buf_tensor);
    free(p.buf);
    p.buf_tensor = NULL;
    p.buf = NULL;
    p.n_buf = 0;
    p.missed = false;
    *out = p;
    return 0;

err_free_plan:
    graph_plan_free(&p);
    memset(out, 0, sizeof(*out));
    return rc;
}

void graph_plan_free(struct graph_plan *p)
{
    if (p == NULL)
        return;
    free(p->live);
    free(p->off);
    free(p->buf);
    free(p->buf_tensor);
    memset(p, 0, sizeof(*p));
}
