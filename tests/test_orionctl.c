/* test_orionctl.c - the real orionctl binary: plan a MiniMalloc CSV and a
 * graph JSON, check what it writes (the solution parses back and verifies,
 * the table is a valid plan, the summary line has its format), and its exits
 * for bad input and bad flags. The binary is $ORIONCTL if set, else the
 * compile-time ORIONCTL_PATH. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graph_json.h"
#include "planner.h"
#include "problem_csv.h"

#ifndef ORIONCTL_PATH
#define ORIONCTL_PATH "orionctl"
#endif

static char tmpdir[64];
static char err[1024];

struct run {
    int code; /* exit status, or 128 + signal */
    char *out;
    char *err;
};

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_orionctl.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char p[512];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

static char *tmp_path(const char *name)
{
    static char p[8][256];
    static int next;
    char *r = p[next++ % 8];

    snprintf(r, 256, "%s/%s", tmpdir, name);
    return r;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Run orionctl with args (NULL-terminated), stdin from in_path (NULL =
 * /dev/null); capture stdout and stderr. */
static struct run run_ctl_in(const char *in_path, const char *const *args)
{
    const char *bin = getenv("ORIONCTL") ? getenv("ORIONCTL") : ORIONCTL_PATH;
    char *out_path = tmp_path("stdout"), *err_path = tmp_path("stderr");
    const char *argv[32];
    struct run r = {0};
    int n = 0, status;
    pid_t pid;

    argv[n++] = bin;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || o < 0 || e < 0)
            _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ck_assert_msg(r.code != 127 && r.code != 126, "could not run %s", bin);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
}

#define RUN(r, ...)                                                                         \
    do {                                                                                    \
        const char *const a_[] = {__VA_ARGS__, NULL};                                       \
        (r) = run_ctl_in(NULL, a_);                                                         \
    } while (0)

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

struct summary {
    uint64_t peak, lb;
    char policy[64];
};

/* stderr must be exactly one summary line; parse it and check the ratio. */
static void parse_summary(const char *text, struct summary *s)
{
    static const char *re =
        "^peak=([0-9]+) lower_bound=([0-9]+) ratio=([0-9]+\\.[0-9]{4}|inf) "
        "policy=([A-Za-z0-9_.-]+) ms=[0-9]+\\.[0-9]{3}\n$";
    regex_t rx;
    regmatch_t m[5];
    char ratio[32];

    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED), 0);
    ck_assert_msg(regexec(&rx, text, 5, m, 0) == 0, "not a summary line: \"%s\"", text);
    regfree(&rx);
    s->peak = strtoull(text + m[1].rm_so, NULL, 10);
    s->lb = strtoull(text + m[2].rm_so, NULL, 10);
    snprintf(ratio, sizeof(ratio), "%.*s", (int)(m[3].rm_eo - m[3].rm_so), text + m[3].rm_so);
    snprintf(s->policy, sizeof(s->policy), "%.*s", (int)(m[4].rm_eo - m[4].rm_so),
             text + m[4].rm_so);
    if (s->lb > 0) {
        double want = (double)s->peak / (double)s->lb;
        ck_assert_msg(fabs(strtod(ratio, NULL) - want) <= 0.00005 + 1e-9, "ratio %s, want %.6f",
                      ratio, want);
    }
}

/* The solution CSV `out` must list the buffers of the input `in` in order,
 * each with an offset, and be a valid plan of the summary's peak. */
static void check_solution(const char *in, const char *out, const struct summary *s)
{
    struct problem a, b;
    uint64_t top = 0;

    ck_assert_msg(problem_csv_parse(in, strlen(in), &a, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(problem_csv_parse(out, strlen(out), &b, err, sizeof(err)) == 0,
                  "output does not parse: %s", err);
    ck_assert(b.has_offset);
    ck_assert_uint_eq(b.n, a.n);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_str_eq(b.ids[i], a.ids[i]);
        ck_assert_uint_eq(b.bufs[i].lower, a.bufs[i].lower);
        ck_assert_uint_eq(b.bufs[i].upper, a.bufs[i].upper);
        ck_assert_uint_eq(b.bufs[i].bytes, a.bufs[i].bytes);
        ck_assert_uint_eq(b.bufs[i].align, a.bufs[i].align);
        if (b.bufs[i].off + b.bufs[i].bytes > top)
            top = b.bufs[i].off + b.bufs[i].bytes;
    }
    ck_assert_uint_eq(top, s->peak);
    ck_assert_msg(planner_verify(b.bufs, b.n, s->peak, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(s->lb, planner_lower_bound(a.bufs, a.n));
    problem_free(&a);
    problem_free(&b);
}

/* Six buffers with an alignment column: b2 and b5 overlap nothing else at
 * times 4..6, so any valid plan fits the checks above. */
static const char *csv_text = "id,lower,upper,size,alignment\n"
                              "b1,0,3,100,1\n"
                              "b2,3,9,64,64\n"
                              "b3,0,9,40,8\n"
                              "b4,9,21,4096,4096\n"
                              "b5,0,21,7,1\n"
                              "b6,2,4,300,256\n";

START_TEST(test_orionctl_plan_csv_writes_a_solution_that_verifies)
{
    char *in = tmp_path("in.csv");
    struct summary s;
    struct run r;

    write_file(in, csv_text);
    RUN(r, "plan", in);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    parse_summary(r.err, &s);
    ck_assert_str_eq(s.policy, planner_default_policy());
    check_solution(csv_text, r.out, &s);
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_csv_under_every_policy)
{
    char *in = tmp_path("in.csv");

    write_file(in, csv_text);
    for (size_t k = 0; k < planner_policy_count(); k++) {
        struct summary s;
        struct run r;

        RUN(r, "plan", "--policy", planner_policy_name(k), in);
        ck_assert_msg(r.code == 0, "%s: exit %d: %s", planner_policy_name(k), r.code, r.err);
        parse_summary(r.err, &s);
        ck_assert_str_eq(s.policy, planner_policy_name(k));
        check_solution(csv_text, r.out, &s);
        run_free(&r);
    }
}
END_TEST

START_TEST(test_orionctl_plan_csv_to_a_file_and_from_stdin)
{
    char *in = tmp_path("in.csv"), *out = tmp_path("out.csv");
    const char *const args[] = {"plan", "-", "-o", out, NULL};
    struct summary s;
    struct run r;
    char *text;

    write_file(in, csv_text);
    r = run_ctl_in(in, args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_str_eq(r.out, "");
    parse_summary(r.err, &s);
    text = read_file(out);
    check_solution(csv_text, text, &s);
    free(text);
    run_free(&r);
}
END_TEST

/* The public MiniMalloc files: the README example and a challenging one. */
START_TEST(test_orionctl_plan_bench_csv_files_verify)
{
    const char *data = getenv("ORION_BENCH_DATA");
    const char *files[] = {"planner/minimalloc/input.12.csv", "planner/minimalloc/A.1048576.csv",
                           "planner/tflm/TestPersonDetectionModel.csv"};
    char path[4096];

    if (data == NULL) {
        printf("test_orionctl: ORION_BENCH_DATA unset: skipping the public CSV files\n");
        return;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct summary s;
        struct run r;
        char *text;

        snprintf(path, sizeof(path), "%s/%s", data, files[i]);
        if (access(path, R_OK) != 0) {
            printf("test_orionctl: %s absent: skipped\n", path);
            continue;
        }
        RUN(r, "plan", path);
        ck_assert_msg(r.code == 0, "%s: exit %d: %s", path, r.code, r.err);
        parse_summary(r.err, &s);
        text = read_file(path);
        check_solution(text, r.out, &s);
        free(text);
        run_free(&r);
    }
}
END_TEST

struct row {
    uint64_t id, off, bytes;
    unsigned first, last;
    char kind[16];
    int has_off;
};

/* Parse the table: a header line, then one row per tensor in graph order. */
static size_t parse_table(const char *text, struct row *rows, size_t max)
{
    const char *line = strchr(text, '\n');
    size_t n = 0;

    ck_assert_ptr_nonnull(line);
    ck_assert_msg(strstr(text, "id") < line && strstr(text, "offset") < line, "no header");
    for (line++; *line != '\0' && n < max; n++) {
        char off[32];
        int used = 0;
        struct row *w = &rows[n];
        ck_assert_msg(sscanf(line, "%" SCNu64 " %15s %u %u %31s %" SCNu64 "%n", &w->id, w->kind,
                             &w->first, &w->last, off, &w->bytes, &used) == 6,
                      "bad row: %.80s", line);
        w->has_off = strcmp(off, "-") != 0;
        w->off = w->has_off ? strtoull(off, NULL, 10) : 0;
        line = strchr(line, '\n');
        ck_assert_ptr_nonnull(line);
        line++;
    }
    return n;
}

static const char *example(const char *name)
{
    static char p[2][4096];
    static int next;
    const char *src = getenv("ORION_SOURCE_DIR");
    char *r = p[next++ % 2];

    if (src != NULL) {
        snprintf(r, 4096, "%s/examples/graphs/%s", src, name);
    } else {
        char dir[2048];
        char *slash;
        snprintf(dir, sizeof(dir), "%s", __FILE__);
        slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(r, 4096, "%s/../examples/graphs/%s", slash ? dir : ".", name);
    }
    return r;
}

/* Plan a graph file; check the table against the graph: every tensor in
 * order with its kind and bytes, workspace tensors aligned and disjoint
 * when their lifetimes meet, export/import without an offset. */
static void check_graph_run(const char *path, const char *policy)
{
    struct graph_json *gj;
    const struct graph *g;
    struct row rows[512];
    struct summary s;
    struct run r;
    size_t n;
    uint64_t top = 0;

    ck_assert_msg(graph_json_load(path, &gj, err, sizeof(err)) == 0, "%s", err);
    g = graph_json_graph(gj);
    if (policy != NULL)
        RUN(r, "plan", "--policy", policy, path);
    else
        RUN(r, "plan", path);
    ck_assert_msg(r.code == 0, "%s: exit %d: %s", path, r.code, r.err);
    parse_summary(r.err, &s);
    n = parse_table(r.out, rows, 512);
    ck_assert_uint_eq(n, g->n_tensors);
    for (size_t i = 0; i < n; i++) {
        const struct graph_tensor *t = &g->tensors[i];
        int shared = t->kind == TENSOR_EXPORT || t->kind == TENSOR_IMPORT;
        uint64_t align = t->align ? t->align : 64;

        ck_assert_uint_eq(rows[i].id, t->id);
        ck_assert_str_eq(rows[i].kind, graph_kind_name(t->kind));
        ck_assert_uint_eq(rows[i].bytes, t->bytes);
        ck_assert_uint_le(rows[i].first, rows[i].last);
        ck_assert_int_eq(rows[i].has_off, !shared);
        if (shared)
            continue;
        ck_assert_uint_eq(rows[i].off % align, 0);
        if (rows[i].off + rows[i].bytes > top)
            top = rows[i].off + rows[i].bytes;
        for (size_t j = 0; j < i; j++) {
            if (!rows[j].has_off || rows[i].first > rows[j].last || rows[j].first > rows[i].last)
                continue;
            ck_assert_msg(rows[i].off + rows[i].bytes <= rows[j].off ||
                              rows[j].off + rows[j].bytes <= rows[i].off,
                          "%s: tensors %llu and %llu overlap", path,
                          (unsigned long long)rows[i].id, (unsigned long long)rows[j].id);
        }
    }
    ck_assert_uint_eq(top, s.peak);
    ck_assert_uint_le(s.lb, s.peak);
    run_free(&r);
    graph_json_free(gj);
}

START_TEST(test_orionctl_plan_graph_prints_a_valid_table)
{
    const char *files[] = {"pipeline_stage.json", "stage1.json", "stage2.json",
                           "mobilenet_v2.json"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        check_graph_run(example(files[i]), NULL);
    for (size_t k = 0; k < planner_policy_count(); k++)
        check_graph_run(example("pipeline_stage.json"), planner_policy_name(k));
}
END_TEST

/* A graph is recognised by content, whatever its name. */
START_TEST(test_orionctl_plan_recognises_json_by_content)
{
    char *path = tmp_path("graph.txt");
    char *text = read_file(example("pipeline_stage.json"));

    write_file(path, text);
    free(text);
    check_graph_run(path, NULL);
}
END_TEST

START_TEST(test_orionctl_list_policies_marks_the_default)
{
    struct run r;
    int defaults = 0;

    RUN(r, "plan", "--list-policies");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    for (size_t k = 0; k < planner_policy_count(); k++) {
        const char *name = planner_policy_name(k);
        const char *line = r.out;
        int found = 0;
        while (line != NULL && *line != '\0') {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ' ') {
                found = 1;
                ck_assert_msg(memmem(line, len, planner_policy_describe(k),
                                     strlen(planner_policy_describe(k))) != NULL,
                              "%s: no description", name);
                if (memmem(line, len, "(default)", 9) != NULL) {
                    defaults++;
                    ck_assert_str_eq(name, planner_default_policy());
                }
            }
            line = end ? end + 1 : NULL;
        }
        ck_assert_msg(found, "policy %s not listed:\n%s", name, r.out);
    }
    ck_assert_int_eq(defaults, 1);
    run_free(&r);
}
END_TEST

/* The help names the default sockets in the order include/orion/common.h
 * tries them. */
START_TEST(test_orionctl_help_lists_default_sockets_in_the_rule_order)
{
    struct run r;

    RUN(r, "--help");
    ck_assert_int_eq(r.code, 0);
    const char *order[] = { "$ORION_SOCKET", "/run/orionrt/orionrtd.sock",
                            "$XDG_RUNTIME_DIR/orionrtd.sock", "/tmp/orionrtd-<uid>.sock" };
    const char *prev = r.out;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *at = strstr(r.out, order[i]);
        ck_assert_msg(at != NULL, "--help does not name %s:\n%s", order[i], r.out);
        ck_assert_msg(at > prev || i == 0, "--help names %s out of order:\n%s", order[i], r.out);
        prev = at;
    }
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_help_version_and_usage_exits)
{
    struct run r;

    RUN(r, "--help");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: orionctl"));
    ck_assert_ptr_nonnull(strstr(r.out, "plan"));
    run_free(&r);

    RUN(r, "--version");
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strncmp(r.out, "orionctl ", 9) == 0 && r.out[9] >= '0' && r.out[9] <= '9',
                  "%s", r.out);
    run_free(&r);

    RUN(r, "frobnicate");
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "frobnicate"));
    ck_assert_ptr_nonnull(strstr(r.err, "usage: orionctl"));
    run_free(&r);

    {
        const char *const none[] = {NULL};
        r = run_ctl_in(NULL, none);
        ck_assert_int_eq(r.code, 2);
        ck_assert_ptr_nonnull(strstr(r.err, "usage"));
        run_free(&r);
    }

    RUN(r, "--bogus", "plan");
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--bogus"));
    run_free(&r);

    RUN(r, "plan", "--bogus", "x.csv");
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--bogus"));
    ck_assert_ptr_nonnull(strstr(r.err, "usage: orionctl plan"));
    run_free(&r);

    RUN(r, "plan");
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no input"));
    run_free(&r);

    RUN(r, "plan", "a.csv", "b.csv");
    ck_assert_int_eq(r.code, 2);
    run_free(&r);

    RUN(r, "plan", "--time-limit", "soon", "a.csv");
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "soon"));
    run_free(&r);

    RUN(r, "plan", "--policy");
    ck_assert_int_eq(r.code, 2);
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_time_limit_is_accepted)
{
    char *in = tmp_path("in.csv");
    struct summary s;
    struct run r;

    write_file(in, csv_text);
    RUN(r, "plan", "--time-limit", "0.05", in);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    parse_summary(r.err, &s);
    check_solution(csv_text, r.out, &s);
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_missing_file_exits_1_naming_it)
{
    char *path = tmp_path("nope.csv");
    struct run r;

    RUN(r, "plan", path);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, path));
    ck_assert_ptr_nonnull(strstr(r.err, "No such file"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_malformed_csv_exits_1_naming_file_and_line)
{
    char *path = tmp_path("bad.csv");
    struct run r;

    write_file(path, "id,lower,upper,size\nb1,0,3,4\nb2,3,x,4\n");
    RUN(r, "plan", path);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, path));
    ck_assert_msg(strstr(r.err, "line 3") != NULL, "%s", r.err);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_invalid_graph_exits_1_naming_op_and_tensor)
{
    char *path = tmp_path("bad.json");
    struct run r;

    write_file(path, "{\"tensors\": [{\"id\": 1, \"bytes\": 8, \"kind\": \"input\"},"
                     " {\"id\": 2, \"bytes\": 8}, {\"id\": 3, \"bytes\": 8, \"kind\": \"output\"}],"
                     " \"ops\": [{\"name\": \"ADD\", \"inputs\": [1, 2], \"outputs\": [3]}]}");
    RUN(r, "plan", path);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, path));
    ck_assert_msg(strstr(r.err, "op 0") && strstr(r.err, "ADD") && strstr(r.err, "tensor id 2"),
                  "%s", r.err);
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    write_file(path, "{\"tensors\": [{\"id\": 1, \"bytes\": -8}], \"ops\": []}");
    RUN(r, "plan", path);
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, path) && strstr(r.err, "tensors[0].bytes"), "%s", r.err);
    run_free(&r);

    write_file(path, "{\"tensors\": [");
    RUN(r, "plan", path);
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, path) != NULL, "%s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(test_orionctl_plan_unknown_policy_exits_2_listing_policies)
{
    char *in = tmp_path("in.csv");
    struct run r;

    write_file(in, csv_text);
    RUN(r, "plan", "--policy", "magic", in);
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "magic"));
    ck_assert_ptr_nonnull(strstr(r.err, planner_default_policy()));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

static Suite *orionctl_suite(void)
{
    Suite *s = suite_create("orionctl");
    TCase *tc = tcase_create("plan");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_orionctl_plan_csv_writes_a_solution_that_verifies);
    tcase_add_test(tc, test_orionctl_plan_csv_under_every_policy);
    tcase_add_test(tc, test_orionctl_plan_csv_to_a_file_and_from_stdin);
    tcase_add_test(tc, test_orionctl_plan_bench_csv_files_verify);
    tcase_add_test(tc, test_orionctl_plan_graph_prints_a_valid_table);
    tcase_add_test(tc, test_orionctl_plan_recognises_json_by_content);
    tcase_add_test(tc, test_orionctl_list_policies_marks_the_default);
    tcase_add_test(tc, test_orionctl_help_version_and_usage_exits);
    tcase_add_test(tc, test_orionctl_help_lists_default_sockets_in_the_rule_order);
    tcase_add_test(tc, test_orionctl_plan_time_limit_is_accepted);
    tcase_add_test(tc, test_orionctl_plan_missing_file_exits_1_naming_it);
    tcase_add_test(tc, test_orionctl_plan_malformed_csv_exits_1_naming_file_and_line);
    tcase_add_test(tc, test_orionctl_plan_invalid_graph_exits_1_naming_op_and_tensor);
    tcase_add_test(tc, test_orionctl_plan_unknown_policy_exits_2_listing_policies);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(orionctl_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
