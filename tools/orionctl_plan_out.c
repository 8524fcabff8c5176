/* orionctl_plan_out.c - see orionctl_plan_out.h. */
#include "orionctl_plan_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph_json.h"
#include "orionctl_out.h"
#include "orionctl_svg.h"

static int tensor_json(json_t *arr, uint64_t id, const char *id_str, const char *name,
                       const char *kind, uint64_t first, uint64_t last, uint64_t off,
                       int has_off, uint64_t bytes)
{
    json_t *e = json_object();
    if (e == NULL)
        return -ENOMEM;
    int rc = id_str != NULL ? out_str(0, e, "id", id_str) : out_u64(0, e, "id", id);
    rc = name != NULL ? out_str(rc, e, "name", name) : out_new(rc, e, "name", json_null());
    rc = out_str(rc, e, "kind", kind);
    rc = out_new(rc, e, "dtype", json_null());
    rc = out_new(rc, e, "shape", json_null());
    rc = out_u64(rc, e, "first_op", first);
    rc = out_u64(rc, e, "last_op", last);
    rc = has_off ? out_u64(rc, e, "offset", off) : out_new(rc, e, "offset", json_null());
    rc = out_u64(rc, e, "bytes", bytes);
    if (rc == 0 && json_array_append_new(arr, e) != 0)
        return -ENOMEM;
    if (rc != 0)
        json_decref(e);
    return rc;
}

static int summary_json(json_t *o, const char *policy, uint64_t peak, uint64_t lb, double ms)
{
    int rc = out_str(0, o, "policy", policy);
    rc = out_u64(rc, o, "peak_bytes", peak);
    rc = out_u64(rc, o, "lower_bound_bytes", lb);
    return out_new(rc, o, "ms", json_real(ms));
}

static int finish(FILE *f, json_t *o, json_t *arr, int rc)
{
    if (rc == 0) {
        rc = out_new(0, o, "tensors", arr);
        arr = NULL;
    }
    json_decref(arr);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    return out_json(o, f);
}

int plan_out_graph_json(FILE *f, const struct graph *g, const struct graph_plan *plan)
{
    json_t *o = json_object(), *arr = json_array();
    int rc = o == NULL || arr == NULL ? -ENOMEM : 0;
    if (rc == 0)
        rc = summary_json(o, plan->policy, plan->peak_bytes, plan->lower_bound_bytes,
                          plan->plan_ms);
    for (uint32_t k = 0; rc == 0 && k < g->n_tensors; k++) {
        const struct graph_tensor *t = &g->tensors[k];
        const char *kind = graph_kind_name(t->kind);
        rc = tensor_json(arr, t->id, NULL, t->name, kind != NULL ? kind : "?",
                         plan->live[k].first, plan->live[k].last, plan->off[k],
                         plan->off[k] != GRAPH_OFF_NONE, t->bytes);
    }
    return finish(f, o, arr, rc);
}

int plan_out_problem_json(FILE *f, const struct problem *p, uint64_t peak, uint64_t lb,
                          const char *policy, double ms)
{
    json_t *o = json_object(), *arr = json_array();
    int rc = o == NULL || arr == NULL ? -ENOMEM : 0;
    if (rc == 0)
        rc = summary_json(o, policy, peak, lb, ms);
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        const struct plan_buffer *b = &p->bufs[i];
        /* MiniMalloc's upper is exclusive: the last op is upper - 1. */
        rc = tensor_json(arr, 0, p->ids[i], NULL, "buffer", b->lower, b->upper - 1, b->off, 1,
                         b->bytes);
    }
    return finish(f, o, arr, rc);
}

static int write_svg(const char *path, const char *src, const struct svg_plan *sp)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "orionctl plan: %s: cannot open for writing: %s\n", path,
                strerror(errno));
        return 1;
    }
    int bad = svg_plan_write(f, sp) != 0;
    bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "orionctl plan: %s: cannot write the picture of %s\n", path, src);
    return bad;
}

int plan_out_graph_svg(const char *svg_path, const char *src, const struct graph *g,
                       const struct graph_plan *plan)
{
    struct svg_tensor *t = calloc((size_t)g->n_tensors + 1, sizeof(*t));
    if (t == NULL) {
        fprintf(stderr, "orionctl plan: out of memory drawing %s\n", src);
        return 1;
    }
    size_t n = 0;
    for (uint32_t k = 0; k < g->n_tensors; k++) {
        if (plan->off[k] == GRAPH_OFF_NONE)
            continue; /* exports and imports live outside the workspace */
        const char *kind = graph_kind_name(g->tensors[k].kind);
        t[n++] = (struct svg_tensor){g->tensors[k].id, g->tensors[k].name,
                                     kind != NULL ? kind : "intermediate", plan->live[k].first,
                                     plan->live[k].last, plan->off[k], g->tensors[k].bytes};
    }
    struct svg_plan sp = {t, n, plan->peak_bytes, plan->lower_bound_bytes, plan->policy,
                          g->name != NULL && g->name[0] != '\0' ? g->name : src};
    int status = write_svg(svg_path, src, &sp);
    free(t);
    return status;
}

int plan_out_problem_svg(const char *svg_path, const char *src, const struct problem *p,
                         uint64_t peak, uint64_t lb, const char *policy)
{
    struct svg_tensor *t = calloc(p->n + 1, sizeof(*t));
    if (t == NULL) {
        fprintf(stderr, "orionctl plan: out of memory drawing %s\n", src);
        return 1;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_buffer *b = &p->bufs[i];
        char *end;
        unsigned long long id = strtoull(p->ids[i], &end, 10);
        t[i] = (struct svg_tensor){*end == '\0' ? id : i, p->ids[i], "buffer",
                                   (uint32_t)b->lower, (uint32_t)(b->upper - 1), b->off, b->bytes};
    }
    struct svg_plan sp = {t, p->n, peak, lb, policy, src};
    int status = write_svg(svg_path, src, &sp);
    free(t);
    return status;
}
