/* test_client_tools.c - the examples and orionctl against a real orionrtd:
 * producer/consumer checksums, orionctl's JSON.
 *
 * Each test starts its own daemon (harness_fixture.h). Helper processes are
 * forked (they connect on their own) and report through exit codes and pipes;
 * they never call ck_assert. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <orion/orion.h>

#include "client_checks.h"

/* --- the examples and orionctl ------------------------------------------ */

static char env_socket[160];

static const char *const *socket_env(void)
{
    static const char *env[2];
    snprintf(env_socket, sizeof env_socket, "ORION_SOCKET=%s", D.socket_path);
    env[0] = env_socket;
    env[1] = NULL;
    return env;
}

/* The value after "checksum=" on its line, or NULL. */
static char *checksum_of(const char *out)
{
    const char *p = strstr(out, "checksum=");
    if (!p)
        return NULL;
    p += strlen("checksum=");
    size_t n = strcspn(p, " \t\r\n");
    return n ? strndup(p, n) : NULL;
}

#if defined(PRODUCER_PATH) && defined(CONSUMER_PATH)
START_TEST(test_producer_and_consumer_examples_print_matching_checksums)
{
    harness_fixture_start(NULL);
    char cons_out[128];
    harness_daemon_path(&D, "consumer.out", cons_out, sizeof cons_out);
    const char *cons_argv[] = { CONSUMER_PATH, "--socket", D.socket_path, "--timeout-ms",
                                "10000", "example-frame", NULL };
    pid_t cons = harness_spawn(cons_argv, socket_env(), cons_out);
    ck_assert_int_gt(cons, 0);
    const char *prod_argv[] = { PRODUCER_PATH, "--socket", D.socket_path, "--timeout-ms",
                                "10000", "example-frame", "1M", NULL };
    int st;
    char *prod_out = NULL, *prod_err = NULL;
    int rc = harness_run_capture(prod_argv, socket_env(), CHILD_MS * harness_slowdown(), &st,
                                 &prod_out, &prod_err);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer failed: %s%s", prod_out,
                  prod_err);
    int cst;
    ck_assert_int_eq(harness_wait(cons, CHILD_MS * harness_slowdown(), &cst), 0);
    FILE *f = fopen(cons_out, "r");
    ck_assert_ptr_nonnull(f);
    char cbuf[8192];
    size_t n = fread(cbuf, 1, sizeof cbuf - 1, f);
    cbuf[n] = '\0';
    fclose(f);
    unlink(cons_out);
    ck_assert_msg(WIFEXITED(cst) && WEXITSTATUS(cst) == 0, "consumer failed: %s", cbuf);
    char *a = checksum_of(prod_out), *b = checksum_of(cbuf);
    ck_assert_msg(a && b, "no checksum= line: producer \"%s\" consumer \"%s\"", prod_out, cbuf);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(prod_out);
    free(prod_err);
    orion_client *c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST
#endif

#ifdef ORIONCTL_PATH
static json_t *run_orionctl_json(const char *const *argv)
{
    int st;
    char *out = NULL, *err = NULL;
    int rc = harness_run_capture(argv, socket_env(), CHILD_MS * harness_slowdown(), &st, &out,
                                 &err);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "orionctl %s failed: %s%s", argv[3],
                  out, err);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    ck_assert_msg(j != NULL, "orionctl %s: not JSON (%s): %s", argv[3], jerr.text, out);
    free(out);
    free(err);
    return j;
}

static uint64_t juint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "key \"%s\" missing or not an integer", key);
    ck_assert_int_ge(json_integer_value(v), 0);
    return (uint64_t)json_integer_value(v);
}

START_TEST(test_orionctl_stats_json_has_documented_keys)
{
    harness_fixture_start(NULL);
    orion_client *c = connect_ok();
    orion_buffer *b = NULL;
    ck_assert_int_eq(orion_buffer_create(c, "visible", 100000, &b), 0);
    struct orion_stats mine;
    ck_assert_int_eq(orion_client_stats(c, &mine), 0);

    const char *argv[] = { ORIONCTL_PATH, "--socket", D.socket_path, "stats", "--json", NULL };
    json_t *j = run_orionctl_json(argv);
    ck_assert(json_is_object(j));
    ck_assert_uint_eq(juint(j, "arena_bytes"), ARENA_16M);
    ck_assert_uint_eq(juint(j, "used_bytes"), mine.used_bytes);
    ck_assert_uint_eq(juint(j, "free_bytes"), ARENA_16M - mine.used_bytes);
    ck_assert_uint_le(juint(j, "largest_free_bytes"), juint(j, "free_bytes"));
    ck_assert_uint_eq(juint(j, "buffers"), 1);
    ck_assert_uint_eq(juint(j, "graphs"), 0);
    ck_assert_uint_eq(juint(j, "clients"), 2); /* us and orionctl */
    ck_assert_uint_eq(juint(j, "allocations"), mine.allocations);
    json_t *fr = json_object_get(j, "fragmentation");
    ck_assert_msg(json_is_number(fr), "fragmentation missing");
    ck_assert(json_number_value(fr) >= 0.0 && json_number_value(fr) <= 1.0);
    json_decref(j);
    ck_assert_int_eq(orion_buffer_release(b), 0);
    orion_client_close(c);
}
END_TEST

START_TEST(test_orionctl_register_json_prints_peak_and_lower_bound)
{
    harness_fixture_start(NULL);
    char path[128];
    harness_daemon_path(&D, "chain.json", path, sizeof path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    /* Live sizes per op: {1,2} 5120, {2,3} 6144, {3,4} 2560. */
    fputs("{\"name\": \"chain\", \"tensors\": ["
          "{\"id\": 1, \"bytes\": 1024, \"kind\": \"input\"},"
          "{\"id\": 2, \"bytes\": 4096},"
          "{\"id\": 3, \"bytes\": 2048},"
          "{\"id\": 4, \"bytes\": 512, \"kind\": \"output\"}],"
          "\"ops\": ["
          "{\"name\": \"conv\", \"inputs\": [1], \"outputs\": [2]},"
          "{\"name\": \"relu\", \"inputs\": [2], \"outputs\": [3]},"
          "{\"name\": \"pool\", \"inputs\": [3], \"outputs\": [4]}]}\n",
          f);
    fclose(f);
    const char *argv[] = { ORIONCTL_PATH, "--socket", D.socket_path, "register", "--json",
                           path, NULL };
    json_t *j = run_orionctl_json(argv);
    unlink(path);
    uint64_t lb = juint(j, "lower_bound_bytes");
    ck_assert_uint_eq(lb, 6144);
    ck_assert_uint_ge(juint(j, "peak_bytes"), lb);
    ck_assert_uint_le(juint(j, "peak_bytes"), 1024 + 4096 + 2048 + 512);
    json_t *t = json_object_get(j, "tensors");
    ck_assert_msg(json_is_array(t) && json_array_size(t) == 4, "tensors: not 4 placements");
    const uint64_t bytes[4] = { 1024, 4096, 2048, 512 };
    uint64_t off[4];
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(t, i);
        ck_assert_uint_eq(juint(e, "id"), i + 1);
        ck_assert_uint_eq(juint(e, "bytes"), bytes[i]);
        off[i] = juint(e, "offset");
        ck_assert_uint_eq(off[i] % 64, 0);
        ck_assert_uint_le(off[i] + bytes[i], ARENA_16M);
    }
    /* Neighbours in the chain are live together: their bytes are apart. */
    for (size_t i = 0; i + 1 < 4; i++)
        ck_assert_msg(off[i] + bytes[i] <= off[i + 1] || off[i + 1] + bytes[i + 1] <= off[i],
                      "tensors %zu and %zu overlap", i + 1, i + 2);
    json_decref(j);
    /* orionctl has exited: its registration went with it. */
    orion_client *c = connect_ok();
    assert_clean_via(c, 1);
    orion_client_close(c);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = harness_fixture_tcase("tools", 60);
#if defined(PRODUCER_PATH) && defined(CONSUMER_PATH)
    tcase_add_test(tc, test_producer_and_consumer_examples_print_matching_checksums);
#endif
#ifdef ORIONCTL_PATH
    tcase_add_test(tc, test_orionctl_stats_json_has_documented_keys);
    tcase_add_test(tc, test_orionctl_register_json_prints_peak_and_lower_bound);
#endif
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
