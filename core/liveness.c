/* liveness.c - validate a static graph and compute its tensors' lifetimes.
 *
 * One pass over the tensor table builds a hash from id to index (and checks
 * every tensor on its own); one pass over the ops in execution order resolves
 * every reference through the hash and records, per tensor, the first and
 * last op touching it, the last op reading it and the op writing it. The
 * intervals then follow from the kind. Linear in tensors + references.
 */
#include "liveness.h"
#include "errmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define NONE UINT32_MAX

struct id_map {
    uint32_t *slot; /* index + 1; 0 = empty; NULL when dense */
    uint64_t mask;  /* capacity - 1, capacity a power of two */
    uint64_t seed;
    uint32_t dense; /* > 0: tensor k has id k for every k < dense, and no slots */
};

struct tensor_state {
    uint32_t first_touch;
    uint32_t last_touch;
    uint32_t last_read;
    uint32_t writer;
};

static const char *op_name(const struct graph_op *op)
{
    return op->name != NULL && op->name[0] != '\0' ? op->name : "unnamed";
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static int id_map_init(struct id_map *m, uint32_t n)
{
    uint64_t cap = 16;

    while (cap < 2 * (uint64_t)n)
        cap <<= 1;
    m->slot = calloc(cap, sizeof(*m->slot));
    if (m->slot == NULL)
        return -ENOMEM;
    m->mask = cap - 1;
    m->seed = mix64((uint64_t)(uintptr_t)m->slot ^ 0x9e3779b97f4a7c15ull);
    return 0;
}

/* Insert id -> idx. Returns NONE, or the index already holding id. */
static uint32_t id_map_insert(struct id_map *m, const struct graph_tensor *t, uint64_t id,
                              uint32_t idx)
{
    uint64_t h = mix64(id ^ m->seed) & m->mask;

    while (m->slot[h] != 0) {
        uint32_t other = m->slot[h] - 1;
        if (t[other].id == id)
            return other;
        h = (h + 1) & m->mask;
    }
    m->slot[h] = idx + 1;
    return NONE;
}

static uint32_t id_map_find(const struct id_map *m, const struct graph_tensor *t, uint64_t id)
{
    if (m->dense > 0)
        return id < m->dense ? (uint32_t)id : NONE;
    uint64_t h = mix64(id ^ m->seed) & m->mask;

    while (m->slot[h] != 0) {
        uint32_t idx = m->slot[h] - 1;
        if (t[idx].id == id)
            return idx;
        h = (h + 1) & m->mask;
    }
    return NONE;
}

static bool is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static const char *kind_word(enum tensor_kind k)
{
    switch (k) {
    case TENSOR_INTERMEDIATE: return "intermediate";
    case TENSOR_INPUT: return "input";
    case TENSOR_OUTPUT: return "output";
    case TENSOR_PERSISTENT: return "persistent";
    case TENSOR_EXPORT: return "export";
    case TENSOR_IMPORT: return "import";
    }
    return "unknown";
}

/* Checks of one tensor on its own. */
static int check_tensor(const struct graph_tensor *t, uint32_t i, const struct graph_limits *lim,
                        char *err, size_t err_len)
{
    uint64_t align = t->align == 0 ? TENSOR_ALIGN_DEFAULT : t->align;
    bool shared;

    switch (t->kind) {
    case TENSOR_INTERMEDIATE:
    case TENSOR_INPUT:
    case TENSOR_OUTPUT:
    case TENSOR_PERSISTENT:
        shared = false;
        break;
    case TENSOR_EXPORT:
    case TENSOR_IMPORT:
        shared = true;
        break;
    default:
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): unknown kind %d",
                (unsigned long long)t->id, i, (int)t->kind);
        return -EINVAL;
    }
    if (t->bytes == 0) {
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): bytes is 0",
                (unsigned long long)t->id, i);
        return -EINVAL;
    }
    if (t->bytes > lim->max_tensor_bytes) {
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): %llu bytes is above the limit of %llu",
                (unsigned long long)t->id, i, (unsigned long long)t->bytes,
                (unsigned long long)lim->max_tensor_bytes);
        return -EINVAL;
    }
    if (!is_pow2(align)) {
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): align %llu is not a power of two",
                (unsigned long long)t->id, i, (unsigned long long)align);
        return -EINVAL;
    }
    if (align > lim->max_align) {
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): align %llu is above the limit of %llu",
                (unsigned long long)t->id, i, (unsigned long long)align,
                (unsigned long long)lim->max_align);
        return -EINVAL;
    }
    if (shared && !liveness_name_valid(t->share)) {
        errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): an %s tensor needs a share name "
                "of 1-%u bytes of printable ASCII, no space",
                (unsigned long long)t->id, i, kind_word(t->kind), TENSOR_SHARE_MAX);
        return -EINVAL;
    }
    if (!shared && t->share != NULL) {
        errmsg_set(err, err_len,
                "tensor id %llu (tensors[%u]): share name \"%s\" on a %s tensor "
                "(only export and import tensors are shared)",
                (unsigned long long)t->id, i, t->share, kind_word(t->kind));
        return -EINVAL;
    }
    return 0;
}

/* Resolve the j-th reference of op i (an input if `reading`). */
static int resolve(const struct id_map *m, const struct graph *g, uint32_t i, uint32_t j,
                   uint64_t id, bool reading, uint32_t *idx, char *err, size_t err_len)
{
    *idx = id_map_find(m, g->tensors, id);
    if (*idx == NONE) {
        errmsg_set(err, err_len, "op %u (%s): %s %u names unknown tensor id %llu", i,
                op_name(&g->ops[i]), reading ? "input" : "output", j, (unsigned long long)id);
        return -EINVAL;
    }
    return 0;
}

static void touch(struct tensor_state *s, uint32_t i)
{
    if (s->first_touch == NONE)
        s->first_touch = i;
    s->last_touch = i;
}

static int walk_ops(const struct graph *g, const struct graph_limits *lim, const struct id_map *m,
                    struct tensor_state *st, char *err, size_t err_len)
{
    for (uint32_t i = 0; i < g->n_ops; i++) {
        const struct graph_op *op = &g->ops[i];
        uint64_t refs = (uint64_t)op->n_inputs + op->n_outputs;
        uint32_t idx;
        int rc;

        if ((rc = liveness_check_op_refs(i, op->name, refs, lim, err, err_len)) < 0)
            return rc;
        if ((op->n_inputs != 0 && op->inputs == NULL) ||
            (op->n_outputs != 0 && op->outputs == NULL)) {
            errmsg_set(err, err_len, "op %u (%s): reference array is NULL", i, op_name(op));
            return -EINVAL;
        }
        /* Reads first: an op reading and writing one tensor reads before its write. */
        for (uint32_t j = 0; j < op->n_inputs; j++) {
            rc = resolve(m, g, i, j, op->inputs[j], true, &idx, err, err_len);
            if (rc < 0)
                return rc;
            const struct graph_tensor *t = &g->tensors[idx];
            if (st[idx].writer == NONE &&
                (t->kind == TENSOR_INTERMEDIATE || t->kind == TENSOR_OUTPUT ||
                 t->kind == TENSOR_EXPORT)) {
                errmsg_set(err, err_len,
                        "op %u (%s): reads %s tensor id %llu before any op writes it", i,
                        op_name(op), kind_word(t->kind), (unsigned long long)t->id);
                return -EINVAL;
            }
            touch(&st[idx], i);
            st[idx].last_read = i;
        }
        for (uint32_t j = 0; j < op->n_outputs; j++) {
            rc = resolve(m, g, i, j, op->outputs[j], false, &idx, err, err_len);
            if (rc < 0)
                return rc;
            const struct graph_tensor *t = &g->tensors[idx];
            if (st[idx].writer != NONE && t->kind != TENSOR_PERSISTENT) {
                const struct graph_op *w = &g->ops[st[idx].writer];
                if (st[idx].writer == i)
                    errmsg_set(err, err_len, "op %u (%s): writes tensor id %llu twice", i,
                            op_name(op), (unsigned long long)t->id);
                else
                    errmsg_set(err, err_len,
                            "op %u (%s): writes tensor id %llu, already written by op %u (%s)",
                            i, op_name(op), (unsigned long long)t->id, st[idx].writer,
                            op_name(w));
                return -EINVAL;
            }
            touch(&st[idx], i);
            st[idx].writer = i;
        }
    }
    return 0;
}

static int finish(const struct graph *g, const struct tensor_state *st, struct tensor_live *live,
                  char *err, size_t err_len)
{
    uint32_t end = g->n_ops - 1;

    for (uint32_t k = 0; k < g->n_tensors; k++) {
        const struct graph_tensor *t = &g->tensors[k];
        const struct tensor_state *s = &st[k];

        switch (t->kind) {
        case TENSOR_INTERMEDIATE:
            if (s->first_touch == NONE) {
                errmsg_set(err, err_len,
                        "tensor id %llu (tensors[%u]): intermediate tensor that no op touches",
                        (unsigned long long)t->id, k);
                return -EINVAL;
            }
            /* Reads before the write were refused: first touch is the write. */
            live[k].first = s->first_touch;
            live[k].last = s->last_read != NONE && s->last_read > s->first_touch
                               ? s->last_read
                               : s->first_touch;
            break;
        case TENSOR_INPUT:
        case TENSOR_IMPORT:
            live[k].first = 0;
            live[k].last = s->last_touch == NONE ? 0 : s->last_touch;
            break;
        case TENSOR_OUTPUT:
        case TENSOR_EXPORT:
            if (s->writer == NONE) {
                errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): %s tensor that no op writes",
                        (unsigned long long)t->id, k, kind_word(t->kind));
                return -EINVAL;
            }
            live[k].first = s->first_touch;
            live[k].last = end;
            break;
        case TENSOR_PERSISTENT:
            live[k].first = 0;
            live[k].last = end;
            break;
        }
    }
    return 0;
}

int liveness_check_counts(uint64_t n_tensors, uint64_t n_ops, const struct graph_limits *lim,
                          char *err, size_t err_len)
{
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    if (lim == NULL)
        lim = &defaults;
    if (n_tensors > lim->max_tensors) {
        errmsg_set(err, err_len, "graph has %llu tensors, above the limit of %u (max_tensors)",
                   (unsigned long long)n_tensors, lim->max_tensors);
        return -E2BIG;
    }
    if (n_ops > lim->max_ops) {
        errmsg_set(err, err_len, "graph has %llu ops, above the limit of %u (max_ops)",
                   (unsigned long long)n_ops, lim->max_ops);
        return -E2BIG;
    }
    return 0;
}

int liveness_check_op_refs(uint32_t i, const char *name, uint64_t refs,
                           const struct graph_limits *lim, char *err, size_t err_len)
{
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    if (lim == NULL)
        lim = &defaults;
    if (refs > lim->max_op_refs) {
        errmsg_set(err, err_len,
                   "op %u (%s): %llu inputs + outputs is above the limit of %u (max_op_refs)", i,
                   name != NULL && name[0] != '\0' ? name : "unnamed", (unsigned long long)refs,
                   lim->max_op_refs);
        return -E2BIG;
    }
    return 0;
}

bool liveness_name_valid(const char *name)
{
    size_t n = 0;
    if (name == NULL)
        return false;
    for (; name[n] != '\0'; n++)
        if (name[n] <= 0x20 || name[n] >= 0x7f || n >= TENSOR_SHARE_MAX)
            return false;
    return n > 0;
}

int liveness_compute(const struct graph *g, const struct graph_limits *lim,
                     struct tensor_live *live, char *err, size_t err_len)
{
    static const struct graph_limits defaults = GRAPH_LIMITS_DEFAULT;
    struct tensor_state *st;
    struct id_map map;
    int rc;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (lim == NULL)
        lim = &defaults;
    if (g == NULL || live == NULL) {
        errmsg_set(err, err_len, "no graph");
        return -EINVAL;
    }
    if ((rc = liveness_check_counts(g->n_tensors, g->n_ops, lim, err, err_len)) < 0)
        return rc;
    if (g->n_ops == 0 || g->n_tensors == 0) {
        errmsg_set(err, err_len, "empty graph: %u ops, %u tensors (it needs at least one of each)",
                g->n_ops, g->n_tensors);
        return -EINVAL;
    }
    if (g->tensors == NULL || g->ops == NULL) {
        errmsg_set(err, err_len, "graph: tensor or op array is NULL");
        return -EINVAL;
    }

    /* Ids 0..n-1 in order (what the builders make): no map, so no
     * duplicates to look for; an id is its index. */
    map = (struct id_map){.dense = g->n_tensors};
    for (uint32_t k = 0; k < g->n_tensors && map.dense > 0; k++)
        if (g->tensors[k].id != k)
            map.dense = 0;
    rc = map.dense > 0 ? 0 : id_map_init(&map, g->n_tensors);
    if (rc < 0) {
        errmsg_set(err, err_len, "out of memory for %u tensors", g->n_tensors);
        return rc;
    }
    st = malloc((size_t)g->n_tensors * sizeof(*st));
    if (st == NULL) {
        errmsg_set(err, err_len, "out of memory for %u tensors", g->n_tensors);
        rc = -ENOMEM;
        goto err_free_map;
    }

    for (uint32_t k = 0; k < g->n_tensors; k++) {
        const struct graph_tensor *t = &g->tensors[k];
        uint32_t other;

        rc = check_tensor(t, k, lim, err, err_len);
        if (rc < 0)
            goto err_free_state;
        other = map.dense > 0 ? NONE : id_map_insert(&map, g->tensors, t->id, k);
        if (other != NONE) {
            errmsg_set(err, err_len, "tensor id %llu (tensors[%u]): duplicate id (also tensors[%u])",
                    (unsigned long long)t->id, k, other);
            rc = -EINVAL;
            goto err_free_state;
        }
        st[k] = (struct tensor_state){NONE, NONE, NONE, NONE};
    }

    rc = walk_ops(g, lim, &map, st, err, err_len);
    if (rc < 0)
        goto err_free_state;
    rc = finish(g, st, live, err, err_len);

err_free_state:
    free(st);
err_free_map:
    free(map.slot);
    return rc;
}
