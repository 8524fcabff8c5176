/* graph_json.c - graph JSON to struct graph (and back), with jansson; the graph-json reader.
 *
 * The parsed jansson document is kept alive: the graph's strings point into
 * it. Tensors, ops and one array holding every op's references are ours.
 */
#include "graph_json.h"
#include "errmsg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct graph_json {
    struct graph graph;
    json_t *root;
    struct graph_tensor *tensors;
    struct tensor_meta *meta;      /* per tensor: dtype and shape, if given */
    struct graph_op *ops;
    uint64_t *refs;
};

static const char *const kind_names[] = {
    [TENSOR_INTERMEDIATE] = "intermediate", [TENSOR_INPUT] = "input",
    [TENSOR_OUTPUT] = "output",             [TENSOR_PERSISTENT] = "persistent",
    [TENSOR_EXPORT] = "export",             [TENSOR_IMPORT] = "import",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *graph_kind_name(enum tensor_kind k)
{
    if ((unsigned)k >= N_KINDS)
        return NULL;
    return kind_names[k];
}

int graph_kind_parse(const char *s, enum tensor_kind *k)
{
    if (s == NULL)
        return -EINVAL;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (enum tensor_kind)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* A tensor's optional dtype and shape (pointing into the document). */
struct tensor_meta {
    const char *dtype;     /* NULL: not given */
    const json_t *shape;   /* an array of non-negative integers, or NULL */
};

/* Element types and their sizes; python/orion/graph.py's DTYPES is the same. */
static const struct {
    const char *name;
    uint64_t bytes;
} dtypes[] = {
    {"bool", 1},    {"int8", 1},    {"uint8", 1},    {"int16", 2},     {"uint16", 2},
    {"float16", 2}, {"int32", 4},   {"uint32", 4},   {"float32", 4},   {"int64", 8},
    {"uint64", 8},  {"float64", 8}, {"complex64", 8}, {"complex128", 16},
};
#define N_DTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

/* The keys a tensor may carry; any other is refused (a typo such as "knd"
 * must not be silently ignored). */
static const char *const tensor_keys[] = {"id",    "bytes", "kind",  "align",
                                          "share", "name",  "dtype", "shape"};
#define N_TENSOR_KEYS (sizeof(tensor_keys) / sizeof(tensor_keys[0]))

uint64_t graph_dtype_bytes(const char *dtype)
{
    for (size_t i = 0; dtype != NULL && i < N_DTYPES; i++) {
        if (strcmp(dtype, dtypes[i].name) == 0)
            return dtypes[i].bytes;
    }
    return 0;
}

/* A non-negative JSON integer. */
static int get_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* An optional string member: absent or null = NULL. */
static int get_opt_string(const json_t *obj, const char *key, const char **out)
{
    const json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    *out = json_string_value(v);
    return 0;
}

static int get_u64(const json_t *v, uint64_t *out);

/* dtype, shape and the keys of tensors[i] (id already read): unknown keys,
 * an unknown dtype, a bad shape and bytes other than dtype x shape are
 * refused, naming the tensor. */
static int parse_tensor_meta(const json_t *t, size_t i, const char *src,
                             const struct graph_tensor *gt, struct tensor_meta *m, char *err,
                             size_t err_len)
{
    const char *key;
    const json_t *v;
    uint64_t elem = 0, n = 1, d;
    bool overflow = false;

    json_object_foreach((json_t *)t, key, v) {
        size_t k = 0;
        while (k < N_TENSOR_KEYS && strcmp(key, tensor_keys[k]) != 0)
            k++;
        if (k == N_TENSOR_KEYS) {
            errmsg_set(err, err_len,
                    "%s: tensors[%zu] (id %llu): unknown key \"%s\" (expected id, bytes, "
                    "kind, align, share, name, dtype, shape)",
                    src, i, (unsigned long long)gt->id, key);
            return -EINVAL;
        }
    }
    m->dtype = NULL;
    m->shape = NULL;
    v = json_object_get(t, "dtype");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || (elem = graph_dtype_bytes(json_string_value(v))) == 0) {
            errmsg_set(err, err_len,
                    "%s: tensors[%zu].dtype: expected one of bool, int8, uint8, int16, "
                    "uint16, float16, int32, uint32, float32, int64, uint64, float64, "
                    "complex64, complex128",
                    src, i);
            return -EINVAL;
        }
        m->dtype = json_string_value(v);
    }
    v = json_object_get(t, "shape");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_array(v)) {
            errmsg_set(err, err_len,
                    "%s: tensors[%zu].shape: expected an array of non-negative integers", src,
                    i);
            return -EINVAL;
        }
        for (size_t j = 0; j < json_array_size(v); j++) {
            if (get_u64(json_array_get(v, j), &d) < 0) {
                errmsg_set(err, err_len,
                        "%s: tensors[%zu].shape[%zu]: expected a non-negative integer", src, i,
                        j);
                return -EINVAL;
            }
            if (d != 0 && n > UINT64_MAX / d)
                overflow = true;
            n *= d;
        }
        m->shape = v;
    }
    if (m->dtype != NULL && m->shape != NULL &&
        (overflow || (n != 0 && elem > UINT64_MAX / n) || n * elem != gt->bytes)) {
        errmsg_set(err, err_len,
                "%s: tensors[%zu].bytes: %llu, but dtype %s x shape is %s%llu bytes", src, i,
                (unsigned long long)gt->bytes, m->dtype, overflow ? "above " : "",
                overflow ? (unsigned long long)UINT64_MAX : (unsigned long long)(n * elem));
        return -EINVAL;
    }
    return 0;
}

static int parse_tensor(const json_t *t, size_t i, const char *src, struct graph_tensor *out,
                        char *err, size_t err_len)
{
    const json_t *v;
    const char *kind;

    if (!json_is_object(t)) {
        errmsg_set(err, err_len, "%s: tensors[%zu]: expected an object", src, i);
        return -EINVAL;
    }
    v = json_object_get(t, "id");
    if (v == NULL) {
        errmsg_set(err, err_len, "%s: tensors[%zu].id: missing", src, i);
        return -EINVAL;
    }
    if (get_u64(v, &out->id) < 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].id: expected a non-negative integer", src, i);
        return -EINVAL;
    }
    v = json_object_get(t, "bytes");
    if (v == NULL) {
        errmsg_set(err, err_len, "%s: tensors[%zu].bytes: missing", src, i);
        return -EINVAL;
    }
    if (get_u64(v, &out->bytes) < 0 || out->bytes == 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].bytes: expected a positive integer", src, i);
        return -EINVAL;
    }
    out->align = 0;
    v = json_object_get(t, "align");
    if (v != NULL && get_u64(v, &out->align) < 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].align: expected a non-negative integer", src,
                i);
        return -EINVAL;
    }
    if (get_opt_string(t, "kind", &kind) < 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].kind: expected a string", src, i);
        return -EINVAL;
    }
    out->kind = TENSOR_INTERMEDIATE;
    if (kind != NULL && graph_kind_parse(kind, &out->kind) < 0) {
        errmsg_set(err, err_len,
                "%s: tensors[%zu].kind: unknown kind \"%s\" (expected intermediate, input, "
                "output, persistent, export or import)",
                src, i, kind);
        return -EINVAL;
    }
    if (get_opt_string(t, "share", &out->share) < 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].share: expected a string", src, i);
        return -EINVAL;
    }
    if (get_opt_string(t, "name", &out->name) < 0) {
        errmsg_set(err, err_len, "%s: tensors[%zu].name: expected a string", src, i);
        return -EINVAL;
    }
    return 0;
}

/* Check ops[i]'s reference array `key` (absent = empty) and count it. */
static int count_refs(const json_t *op, size_t i, const char *key, const char *src,
                      size_t *total, char *err, size_t err_len)
{
    const json_t *a = json_object_get(op, key);
    size_t n;

    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a)) {
        errmsg_set(err, err_len, "%s: ops[%zu].%s: expected an array of tensor ids", src, i, key);
        return -EINVAL;
    }
    n = json_array_size(a);
    if (n > UINT32_MAX) {
        errmsg_set(err, err_len, "%s: ops[%zu].%s: %zu entries, more than %u", src, i, key, n,
                UINT32_MAX);
        return -EINVAL;
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t id;
        if (get_u64(json_array_get(a, j), &id) < 0) {
            errmsg_set(err, err_len,
                    "%s: ops[%zu].%s[%zu]: expected a tensor id (a non-negative integer)", src,
                    i, key, j);
            return -EINVAL;
        }
    }
    *total += n;
    return 0;
}

static uint32_t fill_refs(const json_t *op, const char *key, uint64_t *dst)
{
    const json_t *a = json_object_get(op, key);
    size_t n = json_is_array(a) ? json_array_size(a) : 0;

    for (size_t j = 0; j < n; j++)
        dst[j] = (uint64_t)json_integer_value(json_array_get(a, j));
    return (uint32_t)n;
}

static int convert(struct graph_json *gj, const char *src, char *err, size_t err_len)
{
    const json_t *root = gj->root, *tensors, *ops;
    size_t n_tensors, n_ops, n_refs = 0, used = 0;

    if (!json_is_object(root)) {
        errmsg_set(err, err_len, "%s: expected a JSON object at the top level", src);
        return -EINVAL;
    }
    if (get_opt_string(root, "name", &gj->graph.name) < 0) {
        errmsg_set(err, err_len, "%s: name: expected a string", src);
        return -EINVAL;
    }
    tensors = json_object_get(root, "tensors");
    if (!json_is_array(tensors)) {
        errmsg_set(err, err_len, "%s: tensors: %s", src,
                tensors == NULL ? "missing (expected an array of tensors)"
                                : "expected an array of tensors");
        return -EINVAL;
    }
    ops = json_object_get(root, "ops");
    if (!json_is_array(ops)) {
        errmsg_set(err, err_len, "%s: ops: %s", src,
                ops == NULL ? "missing (expected an array of ops)" : "expected an array of ops");
        return -EINVAL;
    }
    n_tensors = json_array_size(tensors);
    n_ops = json_array_size(ops);
    if (n_tensors > UINT32_MAX || n_ops > UINT32_MAX) {
        errmsg_set(err, err_len, "%s: %zu tensors and %zu ops: more than %u", src, n_tensors,
                n_ops, UINT32_MAX);
        return -EINVAL;
    }

    gj->tensors = calloc(n_tensors ? n_tensors : 1, sizeof(*gj->tensors));
    gj->meta = calloc(n_tensors ? n_tensors : 1, sizeof(*gj->meta));
    gj->ops = calloc(n_ops ? n_ops : 1, sizeof(*gj->ops));
    if (gj->tensors == NULL || gj->meta == NULL || gj->ops == NULL) {
        errmsg_set(err, err_len, "%s: out of memory", src);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_tensors; i++) {
        const json_t *t = json_array_get(tensors, i);
        int rc = parse_tensor(t, i, src, &gj->tensors[i], err, err_len);
        if (rc == 0)
            rc = parse_tensor_meta(t, i, src, &gj->tensors[i], &gj->meta[i], err, err_len);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < n_ops; i++) {
        const json_t *op = json_array_get(ops, i);
        int rc;

        if (!json_is_object(op)) {
            errmsg_set(err, err_len, "%s: ops[%zu]: expected an object", src, i);
            return -EINVAL;
        }
        if (get_opt_string(op, "name", &gj->ops[i].name) < 0) {
            errmsg_set(err, err_len, "%s: ops[%zu].name: expected a string", src, i);
            return -EINVAL;
        }
        rc = count_refs(op, i, "inputs", src, &n_refs, err, err_len);
        if (rc == 0)
            rc = count_refs(op, i, "outputs", src, &n_refs, err, err_len);
        if (rc < 0)
            return rc;
    }
    gj->refs = malloc((n_refs ? n_refs : 1) * sizeof(*gj->refs));
    if (gj->refs == NULL) {
        errmsg_set(err, err_len, "%s: out of memory", src);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_ops; i++) {
        const json_t *op = json_array_get(ops, i);
        struct graph_op *o = &gj->ops[i];

        o->inputs = gj->refs + used;
        o->n_inputs = fill_refs(op, "inputs", gj->refs + used);
        used += o->n_inputs;
        o->outputs = gj->refs + used;
        o->n_outputs = fill_refs(op, "outputs", gj->refs + used);
        used += o->n_outputs;
    }
    gj->graph.tensors = gj->tensors;
    gj->graph.n_tensors = (uint32_t)n_tensors;
    gj->graph.ops = gj->ops;
    gj->graph.n_ops = (uint32_t)n_ops;
    return 0;
}

int graph_json_parse(const char *text, size_t len, const char *source,
                     struct graph_json **out, char *err, size_t err_len)
{
    struct graph_json *gj;
    json_error_t jerr;
    int rc;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    *out = NULL;
    if (source == NULL)
        source = "<memory>";
    gj = calloc(1, sizeof(*gj));
    if (gj == NULL) {
        errmsg_set(err, err_len, "%s: out of memory", source);
        return -ENOMEM;
    }
    gj->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (gj->root == NULL) {
        errmsg_set(err, err_len, "%s:%d:%d: %s", source, jerr.line, jerr.column, jerr.text);
        rc = -EINVAL;
        goto err_free;
    }
    rc = convert(gj, source, err, err_len);
    if (rc < 0)
        goto err_free;
    *out = gj;
    return 0;

err_free:
    graph_json_free(gj);
    return rc;
}

/* Read all of f into a malloc'd buffer. */
static int slurp(FILE *f, char **buf, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);

    if (b == NULL)
        return -ENOMEM;
    for (;;) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(b);
                return -e;
            }
            break;
        }
        if (n == cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
    }
    *buf = b;
    *len = n;
    return 0;
}

int graph_json_load(const char *path, struct graph_json **out, char *err, size_t err_len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *src = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (f == NULL) {
        rc = -errno;
        errmsg_set(err, err_len, "%s: cannot open: %s", src, strerror(-rc));
        return rc;
    }
    rc = slurp(f, &text, &len);
    if (!is_stdin)
        fclose(f);
    if (rc < 0) {
        errmsg_set(err, err_len, "%s: cannot read: %s", src, strerror(-rc));
        return rc;
    }
    rc = graph_json_parse(text, len, src, out, err, err_len);
    free(text);
    return rc;
}

const struct graph *graph_json_graph(const struct graph_json *gj)
{
    return &gj->graph;
}

const char *graph_json_tensor_dtype(const struct graph_json *gj, uint32_t i)
{
    return i < gj->graph.n_tensors ? gj->meta[i].dtype : NULL;
}

int graph_json_tensor_shape(const struct graph_json *gj, uint32_t i, uint64_t *dims,
                            size_t max_dims)
{
    const json_t *s;
    size_t n;

    if (i >= gj->graph.n_tensors || (s = gj->meta[i].shape) == NULL)
        return -1;
    n = json_array_size(s);
    for (size_t j = 0; j < n && j < max_dims; j++)
        dims[j] = (uint64_t)json_integer_value(json_array_get(s, j));
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- the reader row ------------------------------------------------------ */

/* A graph: the first non-space byte is '{', or the name ends in .json. */
static bool json_sniff(const char *path, const uint8_t *head, size_t n)
{
    size_t plen = strlen(path);

    for (size_t i = 0; i < n; i++) {
        if (isspace(head[i]))
            continue;
        if (head[i] == '{')
            return true;
        break;
    }
    return plen >= 5 && strcmp(path + plen - 5, ".json") == 0;
}

static void json_release(void *owner)
{
    graph_json_free(owner);
}

static int json_load(const char *src, const uint8_t *data, size_t len, struct plan_input *out,
                     char *err, size_t err_len)
{
    struct graph_json *gj;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = graph_json_parse((const char *)data, len, src, &gj, err, err_len);
    if (rc < 0)
        return rc;
    out->graph = &gj->graph;
    out->owner = gj;
    out->release = json_release;
    return 0;
}

const struct graph_reader graph_json_reader = {
    .name = "graph-json",
    .sniff = json_sniff,
    .load = json_load,
};

void graph_json_free(struct graph_json *gj)
{
    if (gj == NULL)
        return;
    json_decref(gj->root);
    free(gj->refs);
    free(gj->ops);
    free(gj->meta);
    free(gj->tensors);
    free(gj);
}

/* --- writing ------------------------------------------------------------ */

/* v NULL: a value jansson refused (a string that is not UTF-8, an id above
 * 2^63 - 1) or memory ran out; the former is far likelier. */
static int set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return -EINVAL;
    return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

static json_t *id_array(const uint64_t *ids, uint32_t n)
{
    json_t *a = json_array();

    for (uint32_t j = 0; a != NULL && j < n; j++) {
        if (ids[j] > INT64_MAX || json_array_append_new(a, json_integer((json_int_t)ids[j])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int graph_json_write(FILE *f, const struct graph *g)
{
    json_t *root = json_object(), *tensors = json_array(), *ops = json_array();
    int rc = -ENOMEM;

    if (root == NULL || tensors == NULL || ops == NULL)
        goto out;
    if (g->name != NULL && (rc = set_new(root, "name", json_string(g->name))) < 0)
        goto out;
    rc = -ENOMEM;
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        json_t *o = json_object();
        const char *kind = graph_kind_name(t->kind);

        if (o == NULL || json_array_append_new(tensors, o) < 0)
            goto out;
        if (t->id > INT64_MAX || t->bytes > INT64_MAX || t->align > INT64_MAX ||
            kind == NULL) {
            rc = -EINVAL;
            goto out;
        }
        if ((rc = set_new(o, "id", json_integer((json_int_t)t->id))) < 0 ||
            (rc = set_new(o, "bytes", json_integer((json_int_t)t->bytes))) < 0)
            goto out;
        if (t->kind != TENSOR_INTERMEDIATE && (rc = set_new(o, "kind", json_string(kind))) < 0)
            goto out;
        if (t->align != 0 &&
            (rc = set_new(o, "align", json_integer((json_int_t)t->align))) < 0)
            goto out;
        if (t->share != NULL && (rc = set_new(o, "share", json_string(t->share))) < 0)
            goto out;
        if (t->name != NULL && (rc = set_new(o, "name", json_string(t->name))) < 0)
            goto out;
        rc = -ENOMEM;
    }
    for (uint32_t i = 0; i < g->n_ops; i++) {
        const struct graph_op *op = &g->ops[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(ops, o) < 0)
            goto out;
        if (op->name != NULL && (rc = set_new(o, "name", json_string(op->name))) < 0)
            goto out;
        if ((rc = set_new(o, "inputs", id_array(op->inputs, op->n_inputs))) < 0 ||
            (rc = set_new(o, "outputs", id_array(op->outputs, op->n_outputs))) < 0)
            goto out;
        rc = -ENOMEM;
    }
    rc = json_object_set(root, "tensors", tensors) < 0 || json_object_set(root, "ops", ops) < 0
             ? -ENOMEM
             : 0;
    if (rc == 0 && (json_dumpf(root, f, JSON_INDENT(1)) < 0 || fputc('\n', f) == EOF))
        rc = -EIO;

out:
    json_decref(ops);
    json_decref(tensors);
    json_decref(root);
    return rc;
}
