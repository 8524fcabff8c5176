/* orionctl_plan.c - `orionctl plan`: plan a MiniMalloc CSV or a graph JSON
 * offline, verify the plan and show it.
 *
 * A CSV gets its solution back as CSV (the input columns plus `offset`); a
 * graph gets a table of its tensors. Either way exactly one summary line goes
 * to stderr:
 *   peak=<bytes> lower_bound=<bytes> ratio=<peak/lb> policy=<name> ms=<ms>
 * (ratio is 1.0000 when both are 0, "inf" when only the bound is 0).
 * Which format the input is, and reading it, is graph_reader.h's table.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "graph_json.h"
#include "graph_reader.h"
#include "orionctl.h"
#include "orionctl_plan_out.h"
#include "planner.h"
#include "problem_csv.h"

#define ERR_LEN 1024
/* A load's message: the source's name and then up to ERR_LEN of its own. */
#define LOAD_ERR_LEN (ERR_LEN + 4096)

struct plan_args {
    const char *policy; /* the planner's static name */
    struct planner_opts opts;
    const char *in;     /* path or "-" */
    const char *out;    /* NULL = stdout */
    bool json;          /* --json: the plan as one JSON object */
    const char *svg;    /* --svg FILE: and as a picture */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: orionctl plan [--policy NAME] [--time-limit SECONDS] IN.csv [-o OUT.csv]\n"
            "       orionctl plan [--policy NAME] [--time-limit SECONDS] GRAPH.json [-o OUT]\n"
            "       orionctl plan --list-policies\n"
            "\n"
            "Plans a MiniMalloc CSV (id,lower,upper,size[,alignment]; upper exclusive) and\n"
            "writes the solution CSV (the input columns plus offset), or plans a graph JSON\n"
            "and writes a table of its tensors (id, kind, lifetime, offset, bytes, name).\n"
            "A file whose first non-space character is '{', or named *.json, is a graph.\n"
            "IN may be '-' (stdin). One summary line goes to stderr:\n"
            "  peak=<bytes> lower_bound=<bytes> ratio=<peak/lb> policy=<name> ms=<ms>\n"
            "\n"
            "options:\n"
            "  -p, --policy NAME        planner policy (default: %s)\n"
            "  -t, --time-limit SECONDS let the policy search this long (default 0: its\n"
            "                           fast default)\n"
            "  -o, --output FILE        write to FILE instead of stdout\n"
            "  -j, --json               write the plan as one JSON object (every tensor's id,\n"
            "                           name, kind, lifetime, offset, bytes; peak, lower\n"
            "                           bound, policy, ms)\n"
            "  -s, --svg FILE           also draw the plan to FILE (SVG)\n"
            "  -l, --list-policies      list the policies and exit\n"
            "  -h, --help               show this help\n",
            planner_default_policy());
}

static void list_policies(void)
{
    const char *def = planner_default_policy();
    size_t n = planner_policy_count();
    int width = 0;

    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(planner_policy_name(i));
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = planner_policy_name(i);
        const char *desc = planner_policy_describe(i);
        printf("%-*s  %s%s\n", width, name, desc != NULL ? desc : "",
               strcmp(name, def) == 0 ? " (default)" : "");
    }
}

static int parse_args(int argc, char **argv, struct plan_args *a, bool *listed)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"time-limit", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"svg", required_argument, NULL, 's'},
        {"list-policies", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct planner_policy *found;
    const char *policy = NULL;
    char *end;
    int c;

    *listed = false;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "p:t:o:js:lh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy = optarg;
            break;
        case 't':
            errno = 0;
            a->opts.time_limit_s = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !isfinite(a->opts.time_limit_s) ||
                a->opts.time_limit_s < 0) {
                fprintf(stderr,
                        "orionctl plan: --time-limit: expected a number of seconds >= 0, got "
                        "'%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 's':
            a->svg = optarg;
            break;
        case 'l':
            list_policies();
            *listed = true;
            return 0;
        case 'h':
            usage(stdout);
            *listed = true;
            return 0;
        default:
            fprintf(stderr, "orionctl plan: %s: %s\n",
                    optopt != 0 && strchr("ptos", optopt) != NULL ? "option needs an argument"
                                                                 : "unknown option",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "orionctl plan: %s\n",
                optind >= argc ? "no input file given" : "more than one input file given");
        usage(stderr);
        return 2;
    }
    a->in = argv[optind];
    found = planner_find(policy);
    if (found == NULL) {
        char list[256];
        planner_policies_format(list, sizeof(list), "\n  ");
        fprintf(stderr, "orionctl plan: unknown policy '%s'; the policies are:\n  %s\n", policy,
                list);
        return 2;
    }
    a->policy = found->name;
    return 0;
}

/* Read all of path ("-" = stdin) into a NUL-terminated malloc'd buffer. */
static int read_all(const char *path, char **text, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *b;
    int rc = 0;

    if (f == NULL)
        return -errno;
    b = malloc(cap);
    if (b == NULL) {
        rc = -ENOMEM;
        goto out_close;
    }
    for (;;) {
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = errno ? -errno : -EIO;
            break;
        }
        if (n + 1 == cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                rc = -ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (rc < 0) {
        free(b);
        goto out_close;
    }
    b[n] = '\0';
    *text = b;
    *len = n;
out_close:
    if (!is_stdin)
        fclose(f);
    return rc;
}

static void summary(uint64_t peak, uint64_t lb, const char *policy, double ms)
{
    char ratio[32];

    if (lb == 0)
        snprintf(ratio, sizeof(ratio), "%s", peak == 0 ? "1.0000" : "inf");
    else
        snprintf(ratio, sizeof(ratio), "%.4f", (double)peak / (double)lb);
    fprintf(stderr, "peak=%llu lower_bound=%llu ratio=%s policy=%s ms=%.3f\n",
            (unsigned long long)peak, (unsigned long long)lb, ratio, policy, ms);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Open the output (stdout when path is NULL). */
static FILE *open_out(const char *path)
{
    FILE *f = path == NULL ? stdout : fopen(path, "w");

    if (f == NULL)
        fprintf(stderr, "orionctl plan: %s: cannot open for writing: %s\n", path,
                strerror(errno));
    return f;
}

/* Flush and close the output; 0 or 1 (the exit status). */
static int close_out(FILE *f, const char *path)
{
    bool bad = fflush(f) != 0 || ferror(f);

    if (f != stdout && fclose(f) != 0)
        bad = true;
    if (bad) {
        fprintf(stderr, "orionctl plan: %s: write failed: %s\n",
                path != NULL ? path : "<stdout>", strerror(errno));
        return 1;
    }
    return 0;
}

/* Plan, verify and write a problem (the caller owns p and frees it). */
static int plan_problem(const struct plan_args *a, const char *src, struct problem *p)
{
    char err[ERR_LEN];
    uint64_t peak = 0, lb;
    double t0, ms;
    FILE *f;
    int rc, status;

    t0 = now_ms();
    if (p->n > 0) {
        rc = planner_run(a->policy, p->bufs, p->n, &a->opts, &peak, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "orionctl plan: %s: planning failed: %s\n", src, err);
            return 1;
        }
    }
    ms = now_ms() - t0;
    rc = planner_verify(p->bufs, p->n, peak, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "orionctl plan: %s: policy %s produced an invalid plan: %s\n", src,
                a->policy, err);
        return 1;
    }
    lb = planner_lower_bound(p->bufs, p->n);
    if (a->svg != NULL && plan_out_problem_svg(a->svg, src, p, peak, lb, a->policy) != 0)
        return 1;
    f = open_out(a->out);
    if (f == NULL)
        return 1;
    rc = a->json ? plan_out_problem_json(f, p, peak, lb, a->policy, ms) : problem_csv_write(f, p);
    status = close_out(f, a->out);
    if (rc < 0 && status == 0) {
        fprintf(stderr, "orionctl plan: %s: write failed\n",
                a->out != NULL ? a->out : "<stdout>");
        status = 1;
    }
    if (status == 0)
        summary(peak, lb, a->policy, ms);
    return status;
}

static void print_table(FILE *f, const struct graph *g, const struct graph_plan *plan)
{
    fprintf(f, "%10s  %-12s  %6s  %6s  %12s  %12s  %s\n", "id", "kind", "first", "last",
            "offset", "bytes", "name");
    for (uint32_t k = 0; k < g->n_tensors; k++) {
        const struct graph_tensor *t = &g->tensors[k];
        const char *kind = graph_kind_name(t->kind);
        char off[24];

        if (plan->off[k] == GRAPH_OFF_NONE)
            snprintf(off, sizeof(off), "-");
        else
            snprintf(off, sizeof(off), "%llu", (unsigned long long)plan->off[k]);
        fprintf(f, "%10llu  %-12s  %6u  %6u  %12s  %12llu  %s\n", (unsigned long long)t->id,
                kind != NULL ? kind : "?", plan->live[k].first, plan->live[k].last, off,
                (unsigned long long)t->bytes, t->name != NULL ? t->name : "");
    }
}

/* Plan a graph and write its table of tensors. */
static int plan_graph(const struct plan_args *a, const char *src, const struct graph *g)
{
    char err[ERR_LEN];
    struct graph_plan plan;
    FILE *f;
    int rc, status = 1;

    rc = graph_plan_build(g, NULL, a->policy, &a->opts, &plan, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "orionctl plan: %s: invalid graph: %s\n", src, err);
        return 1;
    }
    if (a->svg != NULL && plan_out_graph_svg(a->svg, src, g, &plan) != 0)
        goto out_free_plan;
    f = open_out(a->out);
    if (f == NULL)
        goto out_free_plan;
    if (a->json) {
        if (plan_out_graph_json(f, g, &plan) < 0) {
            fprintf(stderr, "orionctl plan: %s: cannot write JSON\n", src);
            close_out(f, a->out);
            goto out_free_plan;
        }
    } else {
        print_table(f, g, &plan);
    }
    status = close_out(f, a->out);
    if (status == 0)
        summary(plan.peak_bytes, plan.lower_bound_bytes, plan.policy, plan.plan_ms);
out_free_plan:
    graph_plan_free(&plan);
    return status;
}

int orionctl_plan_main(int argc, char **argv)
{
    struct plan_args a = {0};
    const struct graph_reader *reader;
    struct plan_input in;
    char err[LOAD_ERR_LEN];
    bool done;
    const char *src;
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = parse_args(argc, argv, &a, &done);
    if (rc != 0 || done)
        return rc;
    src = strcmp(a.in, "-") == 0 ? "<stdin>" : a.in;
    rc = read_all(a.in, &text, &len);
    if (rc < 0) {
        fprintf(stderr, "orionctl plan: %s: cannot read: %s\n", src, strerror(-rc));
        return 1;
    }
    reader = graph_reader_pick(a.in, (const uint8_t *)text, len);
    if (reader == NULL) {
        fprintf(stderr, "orionctl plan: %s: not a format orionctl can read\n", src);
        free(text);
        return 1;
    }
    rc = reader->load(src, (const uint8_t *)text, len, &in, err, sizeof(err));
    free(text);
    if (rc < 0) {
        fprintf(stderr, "orionctl plan: %s\n", err);
        return 1;
    }
    rc = in.graph != NULL ? plan_graph(&a, src, in.graph) : plan_problem(&a, src, in.problem);
    plan_input_free(&in);
    return rc;
}
