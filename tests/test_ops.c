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
    orion_client_close(c);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("list");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
#ifdef ORIONCTL_PATH
    tcase_add_test(tc, test_list_json_names_live_holders_pids_and_graph_owner);
#endif
    tcase_add_test(tc, test_list_through_the_library_and_stats_per_uid);
    suite_add_tcase(s, tc);
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
