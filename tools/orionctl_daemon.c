/* orionctl_daemon.c - the orionctl subcommands that talk to a running
 * orionrtd through liborion-client: stats and register. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <orion/orion.h>

#include "errmsg.h"
#include "graph_json.h"
#include "orionctl.h"
#include "orionctl_metrics.h"
#include "orionctl_svg.h"

/* Connect or say why not (the library's message names the socket). */
static orion_client *connect_or_report(const char *socket_path)
{
    char err[512];
    orion_client *c;
    if (orion_client_connect(socket_path, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "orionctl: %s\n", err);
        return NULL;
    }
    return c;
}

/* jansson integers are signed 64-bit; no byte count of a real arena comes
 * near, but refuse rather than print a wrong number. */
static int set_u64(json_t *obj, const char *key, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX)
        return -ERANGE;
    return json_object_set_new(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : -ENOMEM;
}

/* Print obj compactly on one line; consumes obj. */
static int print_json(json_t *obj)
{
    int rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (rc != 0)
        return -EIO;
    fputc('\n', stdout);
    return 0;
}

static void stats_usage(FILE *f)
{
    fprintf(f, "usage: orionctl [--socket PATH] stats [--json | --prometheus] [--svg OUT.svg]\n"
               "  show the arena's byte counts, fragmentation and the daemon's counts\n"
               "  --json          print one JSON object\n"
               "  --prometheus    print Prometheus text exposition (with bytes per uid)\n"
               "  --svg OUT.svg   draw the arena: blocks by owner, and free space\n");
}

/* The stats and every per-uid row of one reply; message printed. */
static int stats_fetch(orion_client *c, struct orion_stats *st, struct orion_uid_usage **rows,
                       size_t *n_rows)
{
    size_t cap = 64;
    for (;;) {
        struct orion_uid_usage *r = calloc(cap, sizeof(*r));
        if (r == NULL) {
            fprintf(stderr, "orionctl: stats: out of memory\n");
            return -ENOMEM;
        }
        size_t n;
        int rc = orion_client_stats_uids(c, st, r, cap, &n);
        if (rc < 0) {
            fprintf(stderr, "orionctl: stats: %s\n", orion_client_error(c));
            free(r);
            return rc;
        }
        if (n <= cap) {
            *rows = r;
            *n_rows = n;
            return 0;
        }
        free(r);
        cap = n; /* more uids connected meanwhile: ask again with room for them */
    }
}

static int stats_json(const struct orion_stats *st)
{
    json_t *o = json_object();
    if (o == NULL)
        return -ENOMEM;
    /* A non-finite fragmentation (nothing free) is printed as 0: JSON has no NaN. */
    double frag = isfinite(st->fragmentation) ? st->fragmentation : 0.0;
    int rc = 0;
    rc = rc ? rc : set_u64(o, "arena_bytes", st->arena_bytes);
    rc = rc ? rc : set_u64(o, "used_bytes", st->used_bytes);
    rc = rc ? rc : set_u64(o, "free_bytes", st->free_bytes);
    rc = rc ? rc : set_u64(o, "largest_free_bytes", st->largest_free_bytes);
    if (rc == 0 && json_object_set_new(o, "fragmentation", json_real(frag)) != 0)
        rc = -ENOMEM;
    rc = rc ? rc : set_u64(o, "clients", st->clients);
    rc = rc ? rc : set_u64(o, "graphs", st->graphs);
    rc = rc ? rc : set_u64(o, "buffers", st->buffers);
    rc = rc ? rc : set_u64(o, "channels", st->channels);
    rc = rc ? rc : set_u64(o, "allocations", st->allocations);
    rc = rc ? rc : set_u64(o, "plan_cache_hits", st->plan_cache_hits);
    rc = rc ? rc : set_u64(o, "plan_cache_misses", st->plan_cache_misses);
    rc = rc ? rc : set_u64(o, "plan_cache_entries", st->plan_cache_entries);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    return print_json(o);
}

/* A size in bytes with a binary unit beside it, for people. */
static void print_bytes_row(const char *label, uint64_t v)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double x = (double)v;
    size_t u = 0;
    while (x >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        x /= 1024.0;
        u++;
    }
    printf("%-20s %20" PRIu64 "  (%.1f %s)\n", label, v, x, units[u]);
}

int orionctl_stats_main(const char *socket_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "prometheus", no_argument, NULL, 'P' },
        { "svg", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool as_json = false, as_prom = false;
    const char *svg_path = NULL;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "jPS:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j':
            as_json = true;
            break;
        case 'P':
            as_prom = true;
            break;
        case 'S':
            svg_path = optarg;
            break;
        case 'h':
            stats_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "orionctl stats: %s: %s\n",
                    optopt == 'S' ? "option requires an argument" : "unknown option",
                    argv[optind - 1]);
            stats_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "orionctl stats: unexpected argument: %s\n", argv[optind]);
        stats_usage(stderr);
        return 2;
    }
    if (as_json && as_prom) {
        fprintf(stderr, "orionctl stats: --json and --prometheus are two formats; give one\n");
        stats_usage(stderr);
        return 2;
    }

    orion_client *c = connect_or_report(socket_path);
    if (c == NULL)
        return 1;
    struct orion_stats st;
    struct orion_uid_usage *rows = NULL;
    size_t n_rows = 0;
    int rc = stats_fetch(c, &st, &rows, &n_rows);
    if (rc == 0 && svg_path != NULL)
        rc = svg_arena_write(c, svg_path);
    orion_client_close(c);
    if (rc < 0) {
        free(rows);
        return 1;
    }
    if (svg_path != NULL && !as_json && !as_prom) {
        free(rows);
        return 0;
    }
    if (as_prom) {
        rc = metrics_write(stdout, &st, rows, n_rows);
        free(rows);
        return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
    }
    free(rows);

    if (as_json) {
        rc = stats_json(&st);
        if (rc < 0) {
            fprintf(stderr, "orionctl: stats: cannot print JSON: %s\n", orion_strerror(rc));
            return 1;
        }
    } else {
        print_bytes_row("arena", st.arena_bytes);
        print_bytes_row("used", st.used_bytes);
        print_bytes_row("free", st.free_bytes);
        print_bytes_row("largest free block", st.largest_free_bytes);
        printf("%-20s %20.4f\n", "fragmentation", st.fragmentation);
        printf("%-20s %20" PRIu32 "\n", "clients", st.clients);
        printf("%-20s %20" PRIu32 "\n", "graphs", st.graphs);
        printf("%-20s %20" PRIu32 "\n", "buffers", st.buffers);
        printf("%-20s %20" PRIu32 "\n", "channels", st.channels);
        printf("%-20s %20" PRIu64 "\n", "allocations", st.allocations);
        printf("%-20s %20" PRIu64 "\n", "plan cache hits", st.plan_cache_hits);
        printf("%-20s %20" PRIu64 "\n", "plan cache misses", st.plan_cache_misses);
        printf("%-20s %20" PRIu32 "\n", "plan cache entries", st.plan_cache_entries);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static void register_usage(FILE *f)
{
    fprintf(f, "usage: orionctl [--socket PATH] register GRAPH.json [--json] [--hold] [--policy NAME]\n"
               "  register a graph with orionrtd and show where each tensor lies\n"
               "  --json         print one JSON object\n"
               "  --hold         keep the registration until SIGTERM or SIGINT (exit 0)\n"
               "  --policy NAME  the planner policy (default: the daemon's)\n");
}

static int kind_to_orion(enum tensor_kind k, enum orion_tensor_kind *out)
{
    switch (k) {
    case TENSOR_INTERMEDIATE: *out = ORION_TENSOR_INTERMEDIATE; return 0;
    case TENSOR_INPUT: *out = ORION_TENSOR_INPUT; return 0;
    case TENSOR_OUTPUT: *out = ORION_TENSOR_OUTPUT; return 0;
    case TENSOR_PERSISTENT: *out = ORION_TENSOR_PERSISTENT; return 0;
    case TENSOR_EXPORT: *out = ORION_TENSOR_EXPORT; return 0;
    case TENSOR_IMPORT: *out = ORION_TENSOR_IMPORT; return 0;
    }
    return -EINVAL;
}

/* The loaded JSON graph as a client-side description; message in err. */
static int graph_to_orion(const struct graph *g, const char *policy, orion_graph **out,
                          char *err, size_t err_len)
{
    orion_graph *og;
    int rc = orion_graph_new(g->name, &og);
    if (rc < 0) {
        errmsg_set(err, err_len, "%s", orion_strerror(rc));
        return rc;
    }
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        struct orion_tensor_desc d = {
            .id = t->id, .bytes = t->bytes, .align = t->align,
            .share = t->share, .name = t->name,
        };
        rc = kind_to_orion(t->kind, &d.kind);
        if (rc == 0)
            rc = orion_graph_add_tensor(og, &d);
        if (rc < 0) {
            errmsg_set(err, err_len, "tensor %" PRIu64 " (tensors[%" PRIu32 "]): %s%s", t->id, i,
                       orion_strerror(rc),
                       (t->kind == TENSOR_EXPORT || t->kind == TENSOR_IMPORT) && rc == -EINVAL
                           ? " (export and import tensors need a \"share\" name)"
                           : "");
            goto err_free_graph;
        }
    }
    for (uint32_t i = 0; i < g->n_ops; i++) {
        const struct graph_op *o = &g->ops[i];
        rc = orion_graph_add_op(og, o->name, o->inputs, o->n_inputs, o->outputs, o->n_outputs);
        if (rc < 0) {
            errmsg_set(err, err_len, "op %" PRIu32 ": %s", i, orion_strerror(rc));
            goto err_free_graph;
        }
    }
    rc = orion_graph_set_policy(og, policy);
    if (rc < 0) {
        errmsg_set(err, err_len, "%s", orion_strerror(rc));
        goto err_free_graph;
    }
    *out = og;
    return 0;

err_free_graph:
    orion_graph_free(og);
    return rc;
}

static int plan_json(const orion_plan *p)
{
    json_t *o = json_object();
    json_t *arr = json_array();
    int rc = (o == NULL || arr == NULL) ? -ENOMEM : 0;
    rc = rc ? rc : set_u64(o, "peak_bytes", orion_plan_peak_bytes(p));
    rc = rc ? rc : set_u64(o, "lower_bound_bytes", orion_plan_lower_bound_bytes(p));
    if (rc == 0 && json_object_set_new(o, "policy", json_string(orion_plan_policy(p))) != 0)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < orion_plan_tensor_count(p); i++) {
        struct orion_tensor_placement t;
        rc = orion_plan_tensor_at(p, i, &t);
        json_t *e = rc == 0 ? json_object() : NULL;
        if (rc == 0 && e == NULL)
            rc = -ENOMEM;
        rc = rc ? rc : set_u64(e, "id", t.id);
        rc = rc ? rc : set_u64(e, "offset", t.offset);
        rc = rc ? rc : set_u64(e, "bytes", t.bytes);
        if (rc == 0 && json_array_append(arr, e) != 0)
            rc = -ENOMEM;
        json_decref(e);
    }
    if (rc == 0 && json_object_set(o, "tensors", arr) != 0)
        rc = -ENOMEM;
    json_decref(arr);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    return print_json(o);
}

static void plan_table(const orion_plan *p)
{
    for (size_t i = 0; i < orion_plan_tensor_count(p); i++) {
        struct orion_tensor_placement t;
        if (orion_plan_tensor_at(p, i, &t) == 0)
            printf("id=%" PRIu64 " offset=%" PRIu64 " bytes=%" PRIu64 "\n", t.id, t.offset,
                   t.bytes);
    }
    printf("peak=%" PRIu64 " lower_bound=%" PRIu64 " policy=%s\n", orion_plan_peak_bytes(p),
           orion_plan_lower_bound_bytes(p), orion_plan_policy(p));
}

static volatile sig_atomic_t hold_done;

static void hold_signal_cb(int sig)
{
    (void)sig;
    hold_done = 1;
}

int orionctl_register_main(const char *socket_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "hold", no_argument, NULL, 'H' },
        { "policy", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool as_json = false, hold = false;
    const char *policy = NULL;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "jHp:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j':
            as_json = true;
            break;
        case 'H':
            hold = true;
            break;
        case 'p':
            policy = optarg;
            break;
        case 'h':
            register_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "orionctl register: %s: %s\n",
                    optopt == 'p' ? "option requires an argument" : "unknown option",
                    argv[optind - 1]);
            register_usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "orionctl register: expected one GRAPH.json, got %d arguments\n",
                argc - optind);
        register_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];

    int status = 1;
    char err[512];
    struct graph_json *gj;
    if (graph_json_load(path, &gj, err, sizeof(err)) < 0) {
        fprintf(stderr, "orionctl: %s\n", err);
        return 1;
    }
    orion_graph *og;
    if (graph_to_orion(graph_json_graph(gj), policy, &og, err, sizeof(err)) < 0) {
        fprintf(stderr, "orionctl: %s: %s\n", path, err);
        goto err_free_json;
    }
    orion_client *c = connect_or_report(socket_path);
    if (c == NULL)
        goto err_free_graph;
    orion_plan *p;
    int rc = orion_graph_register(c, og, &p);
    if (rc < 0) {
        fprintf(stderr, "orionctl: register %s: %s\n", path, orion_client_error(c));
        goto err_close;
    }

    /* With --hold, SIGTERM/SIGINT are caught from before the plan is printed:
     * whoever reads the output may signal at once. They stay blocked outside
     * sigsuspend, so none is lost between the check and the wait. */
    sigset_t block, old;
    sigemptyset(&old);
    if (hold) {
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, &old);
        struct sigaction sa = { .sa_handler = hold_signal_cb };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    if (as_json) {
        rc = plan_json(p);
        if (rc < 0) {
            fprintf(stderr, "orionctl: register: cannot print JSON: %s\n", orion_strerror(rc));
            goto err_release;
        }
    } else {
        plan_table(p);
    }
    if (fflush(stdout) != 0)
        goto err_release;
    if (hold) {
        while (!hold_done)
            sigsuspend(&old);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    status = 0;

err_release:
    rc = orion_plan_release(p);
    /* After --hold the daemon may be gone: closing ends the registration
     * anyway, so only a plain run reports a failed release. */
    if (rc < 0 && status == 0 && !hold) {
        fprintf(stderr, "orionctl: release %s: %s\n", path, orion_client_error(c));
        status = 1;
    }
err_close:
    orion_client_close(c);
err_free_graph:
    orion_graph_free(og);
err_free_json:
    graph_json_free(gj);
    return status;
}
