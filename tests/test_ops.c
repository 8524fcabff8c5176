/* test_ops.c - operating orionrtd: `orionctl list` naming live holders,
 * stats per uid, the Prometheus metrics, the config file, log levels.
 *
 * Each test starts its own daemon (harness.h). Helper processes are forked
 * (they connect on their own) and report through pipes; they never call
 * ck_assert. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "harness.h"

#define CHILD_MS 15000

static struct harness_daemon D;

static void teardown(void)
{
    char *why = NULL;
    int rc = harness_daemon_finish(&D, &why);
    ck_assert_msg(rc == 0, "%s", why ? why : "out of memory");
    free(why);
}

static void start_daemon(const char *const *extra)
{
    char *why = NULL;
    if (harness_daemon_start_explained(&D, extra, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
}

static orion_client *connect_ok(void)
{
    orion_client *c = NULL;
    char err[256] = "";
    int rc = orion_client_connect(D.socket_path, &c, err, sizeof err);
    ck_assert_msg(rc == 0 && c, "connect %s: %d %s", D.socket_path, rc, err);
    return c;
}

/* A child that connects, creates (create != 0) or opens `name`, writes one
 * byte to `ready` and holds it until killed. */
struct holder_arg {
    const char *name;
    int create;
    int ready;
};

static int holder_main(void *p)
{
    struct holder_arg *a = p;
    orion_client *c;
    char err[256];
    if (orion_client_connect(D.socket_path, &c, err, sizeof err) < 0)
        return 10;
    orion_buffer *b;
    int rc = a->create ? orion_buffer_create(c, a->name, 8192, &b) : orion_buffer_open(c, a->name, &b);
    if (rc < 0)
        return 11;
    if (write(a->ready, "x", 1) != 1)
        return 12;
    for (;;)
        pause();
}

static pid_t start_holder(const char *name, int create)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    struct holder_arg a = { name, create, fds[1] };
    pid_t pid = harness_fork(holder_main, &a);
    ck_assert_msg(pid > 0, "fork: %d", (int)pid);
    close(fds[1]);
    char x;
    ssize_t n = read(fds[0], &x, 1); /* EOF (0) if the child failed */
    close(fds[0]);
    ck_assert_msg(n == 1, "holder of '%s' did not start", name);
    return pid;
}

static void stop_holder(pid_t pid)
{
    int st;
    kill(pid, SIGKILL);
    harness_wait(pid, CHILD_MS, &st);
}

#ifdef ORIONCTL_PATH
static json_t *orionctl_json(const char *const *args)
{
    const char *argv[16] = { ORIONCTL_PATH, "--socket", D.socket_path };
    size_t n = 3;
    for (; args[n - 3] != NULL && n < 15; n++)
        argv[n] = args[n - 3];
    argv[n] = NULL;
    int st;
    char *out = NULL, *err = NULL;
    int rc = harness_run_capture(argv, NULL, CHILD_MS * harness_slowdown(), &st, &out, &err);
    ck_assert_msg(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "orionctl %s: rc %d, %s",
                  args[0], rc, err ? err : "");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", je.text, out);
    free(out);
    free(err);
    return j;
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v != NULL && strcmp(v, val) == 0)
            return e;
    }
    return NULL;
}

static json_int_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "key '%s' is not an integer", key);
    return json_integer_value(v);
}

START_TEST(test_list_json_names_live_holders_pids_and_graph_owner)
{
    start_daemon(NULL);
    pid_t creator = start_holder("ops/shared", 1);
    pid_t opener = start_holder("ops/shared", 0);

    orion_client *c = connect_ok();
    orion_graph *g;
    ck_assert_int_eq(orion_graph_new("ops-graph", &g), 0);
    ck_assert_int_eq(orion_graph_add_tensor(g, &(struct orion_tensor_desc){ .id = 1, .bytes = 4096,
                                                .kind = ORION_TENSOR_INPUT }), 0);
    ck_assert_int_eq(orion_graph_add_tensor(g, &(struct orion_tensor_desc){ .id = 2, .bytes = 8192 }), 0);
    ck_assert_int_eq(orion_graph_add_op(g, "op", (uint64_t[]){ 1 }, 1, (uint64_t[]){ 2 }, 1), 0);
    orion_plan *p;
    ck_assert_int_eq(orion_graph_register(c, g, &p), 0);

    json_t *j = orionctl_json((const char *[]){ "list", "--json", NULL });
    ck_assert_msg(json_is_array(json_object_get(j, "channels")), "no channels array");
    ck_assert_int_eq(int_of(j, "arena_bytes"), (json_int_t)orion_client_arena_bytes(c));

    json_t *b = find_by(json_object_get(j, "buffers"), "name", "ops/shared");
    ck_assert_msg(b != NULL, "ops/shared not listed");
    ck_assert_int_eq(int_of(b, "bytes"), 8192);
    ck_assert(json_is_false(json_object_get(b, "sealed")));
    ck_assert_int_eq(int_of(b, "creator_pid"), creator);
    json_t *hs = json_object_get(b, "holders");
    ck_assert_int_eq(json_array_size(hs), 2);
    int seen_creator = 0, seen_opener = 0;
    size_t i;
    json_t *h;
    json_array_foreach(hs, i, h) {
        json_int_t pid = int_of(h, "pid");
        seen_creator += pid == creator;
        seen_opener += pid == opener;
        ck_assert_int_eq(int_of(h, "conn_holds"), 1);
        ck_assert_int_eq(int_of(h, "uid"), (json_int_t)getuid());
        ck_assert_str_eq(json_string_value(json_object_get(h, "client_name")), "test_ops");
    }
    ck_assert_msg(seen_creator == 1 && seen_opener == 1, "holders are not the two children");

    json_t *gr = find_by(json_object_get(j, "graphs"), "name", "ops-graph");
    ck_assert_msg(gr != NULL, "ops-graph not listed");
    ck_assert_int_eq(int_of(gr, "owner_pid"), getpid());
    ck_assert_int_eq(int_of(gr, "owner_uid"), (json_int_t)getuid());
    ck_assert_str_eq(json_string_value(json_object_get(gr, "client_name")), "test_ops");
    ck_assert_int_ge(int_of(gr, "workspace_bytes"), 8192);
    json_decref(j);

    /* The opener dies: it is no longer listed as a holder. */
    stop_holder(opener);
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    for (;;) {
        j = orionctl_json((const char *[]){ "list", "--json", NULL });
        b = find_by(json_object_get(j, "buffers"), "name", "ops/shared");
        ck_assert(b != NULL);
        size_t n = json_array_size(json_object_get(b, "holders"));
        json_decref(j);
        if (n == 1)
            break;
        ck_assert_msg(harness_now_ms() < deadline, "dead opener still listed");
        usleep(10000);
    }
    stop_holder(creator);
    orion_plan_release(p);
    orion_graph_free(g);
    orion_client_close(c);
}
END_TEST

/* Run orionctl with args; its stdout in *out. Returns the exit status. */
static int orionctl_run(const char *const *args, char **out, char **err)
{
    const char *argv[24] = { ORIONCTL_PATH };
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 23; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int st;
    int rc = harness_run_capture(argv, NULL, CHILD_MS * harness_slowdown(), &st, out, err);
    ck_assert_msg(rc == 0, "orionctl did not run: %d", rc);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The value of attribute `name` in the element starting at tag, as a double.
 * (Searches a copy of the tag: the sanitizers' strstr measures the whole
 * rest of the file on every call.) */
static double attr(const char *tag, const char *name)
{
    char el[512], key[32];
    size_t n = strcspn(tag, ">");
    ck_assert(n < sizeof el);
    memcpy(el, tag, n);
    el[n] = '\0';
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(el, key);
    ck_assert_msg(p != NULL, "no %s in %s", name, el);
    return strtod(p + strlen(key), NULL);
}

/* Count elements "<rect class=\"CLS" in svg and check each lies inside the
 * picture and has a <title>. */
static size_t count_rects(const char *svg, const char *cls, double w, double h)
{
    char key[64];
    snprintf(key, sizeof key, "<rect class=\"%s", cls);
    size_t n = 0, klen = strlen(key);
    const char *end = svg + strlen(svg);
    for (const char *p = memmem(svg, (size_t)(end - svg), key, klen); p != NULL;
         p = memmem(p + 1, (size_t)(end - p - 1), key, klen)) {
        double x = attr(p, "x"), y = attr(p, "y"), rw = attr(p, "width"), rh = attr(p, "height");
        ck_assert_msg(x >= 0 && y >= 0 && rw > 0 && rh > 0 && x + rw <= w + 0.01 &&
                      y + rh <= h + 0.01, "rect outside the picture: %.120s", p);
        const char *gt = p + strcspn(p, ">");
        ck_assert_msg(strncmp(gt, "><title>", 8) == 0, "rect without a title: %.120s", p);
        n++;
    }
    return n;
}

START_TEST(test_plan_svg_has_a_titled_rect_per_tensor_and_the_lower_bound)
{
    char path[] = "/tmp/orion-ops-svg-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    char *out = NULL, *err = NULL;
    const char *g = ORION_SOURCE_DIR "/examples/graphs/stage1.json";
    int rc = orionctl_run((const char *[]){ "plan", g, "--svg", path, NULL }, &out, &err);
    ck_assert_msg(rc == 0, "plan --svg: %s", err);
    char *svg = read_file(path);
    ck_assert_msg(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>") != NULL, "not SVG");
    /* stage1: 4 tensors, one an export outside the workspace. */
    ck_assert_uint_eq(count_rects(svg, "tensor ", 1200, 720), 3);
    ck_assert_uint_eq(count_rects(svg, "aggregate", 1200, 720), 0);
    ck_assert_msg(strstr(svg, "<line class=\"lower-bound\"") != NULL, "no lower bound line");
    ck_assert_msg(strstr(svg, "class=\"tensor k-input\"") != NULL, "input not coloured as such");
    free(svg);
    free(out);
    free(err);

    /* 20,000 tensors: every one is drawn or aggregated, the file stays small. */
    char csv[] = "/tmp/orion-ops-csv-XXXXXX";
    fd = mkstemp(csv);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "id,lower,upper,size\n");
    unsigned s = 1;
    for (int i = 0; i < 20000; i++) {
        s = s * 1103515245u + 12345u;
        unsigned lo = (s >> 8) % 4000;
        fprintf(f, "%d,%u,%u,%u\n", i, lo, lo + 1 + (s >> 4) % 100, 64u << ((s >> 12) % 12));
    }
    fclose(f);
    rc = orionctl_run((const char *[]){ "plan", "--policy", "linear-scan", csv, "--svg", path,
                                        "-o", "/dev/null", NULL }, &out, &err);
    ck_assert_msg(rc == 0, "plan --svg of 20000: %s", err);
    svg = read_file(path);
    size_t drawn = count_rects(svg, "tensor ", 1200, 720);
    size_t cells = count_rects(svg, "aggregate", 1200, 720);
    const char *c = strstr(svg, "<!-- ");
    ck_assert(c != NULL);
    size_t d2 = 0, a2 = 0;
    ck_assert_int_eq(sscanf(c, "<!-- %zu tensors drawn, %zu aggregated", &d2, &a2), 2);
    ck_assert_uint_eq(d2, drawn);
    ck_assert_uint_eq(d2 + a2, 20000);
    ck_assert_msg(a2 > 0 && cells > 0 && cells < 600 * 360, "aggregation: %zu cells", cells);
    ck_assert_msg(strlen(svg) < 40u << 20, "SVG of %zu bytes", strlen(svg));
    free(svg);
    unlink(csv);
    unlink(path);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_plan_json_has_every_tensor_and_the_summary)
{
    char *out = NULL, *err = NULL;
    const char *g = ORION_SOURCE_DIR "/examples/graphs/stage1.json";
    int rc = orionctl_run((const char *[]){ "plan", g, "--json", NULL }, &out, &err);
    ck_assert_msg(rc == 0, "plan --json: %s", err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    ck_assert_int_ge(int_of(j, "peak_bytes"), int_of(j, "lower_bound_bytes"));
    ck_assert(json_is_string(json_object_get(j, "policy")));
    ck_assert(json_is_number(json_object_get(j, "ms")));
    json_t *ts = json_object_get(j, "tensors");
    ck_assert_int_eq(json_array_size(ts), 4);
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t) {
        ck_assert(json_is_string(json_object_get(t, "kind")));
        ck_assert_int_le(int_of(t, "first_op"), int_of(t, "last_op"));
        ck_assert_int_gt(int_of(t, "bytes"), 0);
        json_t *off = json_object_get(t, "offset");
        ck_assert(json_is_integer(off) || json_is_null(off));
    }
    json_decref(j);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_stats_prometheus_has_help_type_and_per_uid_bytes)
{
    start_daemon(NULL);
    pid_t holder = start_holder("ops/metrics", 1);
    char *out = NULL, *err = NULL;
    int rc = orionctl_run((const char *[]){ "--socket", D.socket_path, "stats", "--prometheus",
                                            NULL }, &out, &err);
    ck_assert_msg(rc == 0, "stats --prometheus: %s", err);
    ck_assert_msg(strstr(out, "# HELP orionrtd_used_bytes ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "# TYPE orionrtd_used_bytes gauge\n") != NULL, "%s", out);
    char want[64];
    snprintf(want, sizeof want, "orionrtd_uid_used_bytes{uid=\"%u\"} ", (unsigned)getuid());
    const char *p = strstr(out, want);
    ck_assert_msg(p != NULL, "no per-uid line in %s", out);
    ck_assert_uint_ge(strtoull(p + strlen(want), NULL, 10), 8192);
    /* Every sample line names an orionrtd_ metric. */
    for (const char *l = out; *l != '\0'; l = strchr(l, '\n') + 1) {
        ck_assert_msg(*l == '#' || strncmp(l, "orionrtd_", 9) == 0, "line: %.60s", l);
        if (strchr(l, '\n') == NULL)
            break;
    }
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char path[] = "/tmp/orion-ops-prom-XXXXXX";
        int fd = mkstemp(path);
        ck_assert(fd >= 0);
        ck_assert_int_eq(write(fd, out, strlen(out)), (ssize_t)strlen(out));
        close(fd);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
        int st = system(cmd);
        unlink(path);
        ck_assert_msg(st == 0, "promtool check metrics failed on:\n%s", out);
    } else {
        fprintf(stderr, "test_ops: promtool not installed: metrics checked by this test only\n");
    }
    free(out);
    free(err);

    /* The arena picture: a block for the buffer, free space, titles. */
    char svgp[] = "/tmp/orion-ops-arena-XXXXXX";
    int fd = mkstemp(svgp);
    ck_assert(fd >= 0);
    close(fd);
    rc = orionctl_run((const char *[]){ "--socket", D.socket_path, "stats", "--svg", svgp, NULL },
                      &out, &err);
    ck_assert_msg(rc == 0, "stats --svg: %s", err);
    char *svg = read_file(svgp);
    ck_assert_uint_eq(count_rects(svg, "block", 1200, 720), 1);
    ck_assert_uint_ge(count_rects(svg, "free", 1200, 720), 16);
    ck_assert_msg(strstr(svg, "buffer 'ops/metrics'") != NULL, "block not titled");
    free(svg);
    unlink(svgp);
    free(out);
    free(err);
    stop_holder(holder);
}
END_TEST
#endif

START_TEST(test_list_through_the_library_and_stats_per_uid)
{
    start_daemon(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b;
    ck_assert_int_eq(orion_buffer_create(c, "ops/mine", 100000, &b), 0);
    orion_list *l;
    ck_assert_int_eq(orion_client_list(c, &l), 0);
    ck_assert_uint_eq(orion_list_n_buffers(l), 1);
    struct orion_list_buffer lb;
    ck_assert_int_eq(orion_list_buffer(l, 0, &lb), 0);
    ck_assert_str_eq(lb.name, "ops/mine");
    ck_assert_int_eq(lb.creator_pid, getpid());
    ck_assert_uint_ge(lb.alloc_bytes, 100000);
    ck_assert_uint_eq(lb.n_holders, 1);
    struct orion_list_holder h;
    ck_assert_int_eq(orion_list_holder(l, 0, 0, &h), 0);
    ck_assert_int_eq(h.pid, getpid());
    ck_assert_int_eq(orion_list_holder(l, 0, 1, &h), -EINVAL);
    ck_assert_int_eq(orion_list_buffer(l, 1, &lb), -EINVAL);
    ck_assert_uint_eq(orion_list_n_graphs(l), 0);
    orion_list_free(l);
    orion_list_free(NULL);

    struct orion_stats st;
    struct orion_uid_usage rows[4];
    size_t n = 0;
    ck_assert_int_eq(orion_client_stats_uids(c, &st, rows, 4, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(rows[0].uid, getuid());
    ck_assert_uint_eq(rows[0].clients, 1);
    ck_assert_uint_eq(rows[0].used_bytes, st.used_bytes);
    ck_assert_uint_ge(rows[0].used_bytes, 100000);
    orion_buffer_release(b);
    orion_client_close(c);
}
END_TEST


static void write_conf(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_config_file_is_read_and_flags_override_it)
{
    char conf[128];
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    harness_daemon_path(&D, "conf", conf, sizeof conf);
    /* The harness passes --arena-size 16M, which overrides the file's 8M. */
    write_conf(conf, "# orionrtd.conf\narena-size = 8M\nclient-limit = 4K\n\nlog-level = debug\n");
    start_daemon((const char *[]){ "--config", conf, NULL });
    orion_client *c = connect_ok();
    ck_assert_uint_eq(orion_client_arena_bytes(c), (uint64_t)16 << 20);
    orion_buffer *b;
    ck_assert_int_eq(orion_buffer_create(c, "ops/small", 4096, &b), 0);
    orion_buffer *over = NULL;
    ck_assert_int_eq(orion_buffer_create(c, "ops/over", 8192, &over), -ENOSPC);
    orion_buffer_release(b);
    orion_client_close(c);
    char *log = harness_daemon_log(&D);
    ck_assert_msg(strstr(log, "created buffer 'ops/small'") != NULL, "log-level from the file "
                  "not applied: %s", log);
    free(log);
    unlink(conf);
}
END_TEST

/* Run the daemon on a config file; its exit status and log. */
static int run_with_conf(const char *text, char **log)
{
    char conf[128];
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    harness_daemon_path(&D, "conf", conf, sizeof conf);
    write_conf(conf, text);
    int rc = harness_daemon_run(&D, (const char *[]){ "--socket", "@SOCKET@", "--config", conf,
                                                      NULL }, CHILD_MS);
    ck_assert_int_eq(rc, 0);
    *log = harness_daemon_log(&D);
    unlink(conf);
    return WIFEXITED(D.status) ? WEXITSTATUS(D.status) : 128;
}

START_TEST(test_config_file_errors_name_the_line)
{
    char *log;
    ck_assert_int_eq(run_with_conf("arena-size = 8M\n\nno-such-key = 1\n", &log), 2);
    ck_assert_msg(strstr(log, "conf:3: unknown key 'no-such-key'") != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(run_with_conf("# two lines\narena-size = lots\n", &log), 2);
    ck_assert_msg(strstr(log, "conf:2: bad value for --arena-size: 'lots'") != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(run_with_conf("huge-pages = maybe\n", &log), 2);
    ck_assert_msg(strstr(log, "conf:1: bad value for huge-pages: 'maybe'") != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(run_with_conf("[daemon]\narena-size = 8M\n", &log), 2);
    ck_assert_msg(strstr(log, "conf:2: section [daemon]") != NULL, "%s", log);
    free(log);
}
END_TEST

START_TEST(test_log_levels_timestamps_and_journal_priorities)
{
    /* info (the default): no per-buffer lines; each line has an ISO-8601 time. */
    unsetenv("JOURNAL_STREAM");
    start_daemon(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b;
    ck_assert_int_eq(orion_buffer_create(c, "ops/quiet", 4096, &b), 0);
    orion_buffer_release(b);
    orion_client_close(c);
    char *log = harness_daemon_log(&D);
    ck_assert_msg(strstr(log, "created buffer") == NULL, "per-buffer line at info: %s", log);
    int y, mo, d, h, mi, sec, ms;
    const char *line = strstr(log, "orionrtd: listening on ");
    ck_assert(line != NULL && line - log >= 25);
    line -= 25; /* "2025-01-31T12:00:00.123Z " */
    ck_assert_msg(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ orionrtd: ", &y, &mo, &d, &h, &mi,
                         &sec, &ms) == 7, "no ISO-8601 time: %.80s", line);
    free(log);
    char *why = NULL;
    ck_assert_int_eq(harness_daemon_finish(&D, &why), 0);
    memset(&D, 0, sizeof D);

    /* Under journald: a priority prefix, debug lines at <7>. */
    setenv("JOURNAL_STREAM", "8:12345", 1);
    start_daemon((const char *[]){ "--log-level", "debug", NULL });
    c = connect_ok();
    ck_assert_int_eq(orion_buffer_create(c, "ops/loud", 4096, &b), 0);
    orion_buffer_release(b);
    orion_client_close(c);
    log = harness_daemon_log(&D);
    ck_assert_msg(strstr(log, "<6>orionrtd: listening on ") != NULL, "%.200s", log);
    /* Client 1 is the harness's readiness probe. */
    ck_assert_msg(strstr(log, "<7>orionrtd: client 2: created buffer 'ops/loud'") != NULL,
                  "%s", log);
    free(log);
    unsetenv("JOURNAL_STREAM");
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tcc = tcase_create("config and logs");
    tcase_add_checked_fixture(tcc, NULL, teardown);
    tcase_set_timeout(tcc, 60);
    tcase_add_test(tcc, test_config_file_is_read_and_flags_override_it);
    tcase_add_test(tcc, test_config_file_errors_name_the_line);
    tcase_add_test(tcc, test_log_levels_timestamps_and_journal_priorities);
    suite_add_tcase(s, tcc);
    TCase *tc = tcase_create("list");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
#ifdef ORIONCTL_PATH
    tcase_add_test(tc, test_list_json_names_live_holders_pids_and_graph_owner);
#endif
    tcase_add_test(tc, test_list_through_the_library_and_stats_per_uid);
    suite_add_tcase(s, tc);

#ifdef ORIONCTL_PATH
    tc = tcase_create("pictures and metrics");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_plan_svg_has_a_titled_rect_per_tensor_and_the_lower_bound);
    tcase_add_test(tc, test_plan_json_has_every_tensor_and_the_summary);
    tcase_add_test(tc, test_stats_prometheus_has_help_type_and_per_uid_bytes);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
