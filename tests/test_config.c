/* test_config.c - Check suite "config": orionrtd's flags (daemon/config.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "planner.h"

/* Parse a NULL-terminated list of flags after "orionrtd". */
static int parse(struct config *cfg, const char *const *flags)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"orionrtd";
    for (; *flags != NULL && argc < 31; flags++)
        argv[argc++] = (char *)*flags;
    argv[argc] = NULL;
    return config_parse(argc, argv, cfg);
}

START_TEST(test_config_size_suffixes_are_powers_of_1024)
{
    uint64_t v;
    ck_assert_int_eq(config_parse_size("123", &v), 0);
    ck_assert_uint_eq(v, 123);
    ck_assert_int_eq(config_parse_size("4K", &v), 0);
    ck_assert_uint_eq(v, 4 * 1024);
    ck_assert_int_eq(config_parse_size("256M", &v), 0);
    ck_assert_uint_eq(v, 256ull * 1024 * 1024);
    ck_assert_int_eq(config_parse_size("2g", &v), 0);
    ck_assert_uint_eq(v, 2ull * 1024 * 1024 * 1024);
    ck_assert_int_eq(config_parse_size("1T", &v), 0);
    ck_assert_uint_eq(v, 1ull << 40);
    ck_assert_int_eq(config_parse_size("64MiB", &v), 0);
    ck_assert_uint_eq(v, 64ull << 20);
}
END_TEST

START_TEST(test_config_size_refuses_garbage_and_overflow)
{
    uint64_t v = 7;
    const char *bad[] = {"", "M", "-1", " 1", "1X", "1.5M", "1MM", "99999999999999999999",
                         "20000000T", "1Mx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(config_parse_size(bad[i], &v) == -EINVAL, "accepted '%s'", bad[i]);
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_config_defaults)
{
    struct config cfg;
    setenv("ORION_SOCKET", "/tmp/from-env.sock", 1);
    const char *none[] = {NULL};
    ck_assert_int_eq(parse(&cfg, none), 0);
    ck_assert_str_eq(cfg.socket_path, "/tmp/from-env.sock");
    ck_assert(!cfg.socket_is_default);
    ck_assert_uint_eq(cfg.arena_bytes, 256ull << 20);
    ck_assert_uint_eq(cfg.socket_mode, 0660);
    ck_assert(!cfg.huge_pages);
    ck_assert_uint_eq(cfg.max_frame, 16u << 20);
    ck_assert_uint_eq(cfg.client_limit, 0);
    ck_assert_uint_eq(cfg.max_tensors, 1u << 20);
    ck_assert_uint_eq(cfg.min_block, 4096);
    ck_assert_uint_eq(cfg.max_clients, 1024);
    ck_assert_uint_eq(cfg.hello_timeout_ms, 10000);
    ck_assert_str_eq(cfg.policy, planner_default_policy());
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_default_socket_follows_the_client_rule)
{
    bool from_env;
    unsetenv("ORION_SOCKET");
    setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    char *p = config_default_socket(&from_env);
    ck_assert(!from_env);
    if (geteuid() == 0) {
        ck_assert_str_eq(p, "/run/orionrt/orionrtd.sock");
    } else {
        ck_assert_str_eq(p, "/run/user/4242/orionrtd.sock");
        free(p);
        unsetenv("XDG_RUNTIME_DIR");
        char want[64];
        snprintf(want, sizeof(want), "/tmp/orionrtd-%u.sock", (unsigned)geteuid());
        p = config_default_socket(&from_env);
        ck_assert_str_eq(p, want);
    }
    free(p);
    setenv("ORION_SOCKET", "/x/y.sock", 1);
    p = config_default_socket(&from_env);
    ck_assert(from_env);
    ck_assert_str_eq(p, "/x/y.sock");
    free(p);
}
END_TEST

START_TEST(test_config_every_flag_is_taken)
{
    struct config cfg;
    const char *flags[] = {"--socket", "/tmp/s.sock", "--arena-size", "64M", "--huge-pages",
                           "--socket-mode", "0600", "--max-frame", "1M", "--client-limit", "8M", "--max-tensors", "1000",
                           "--policy", planner_policy_name(planner_policy_count() - 1),
                           "--min-block", "16K", "--max-clients", "2", "--hello-timeout",
                           "0.3", NULL};
    ck_assert_int_eq(parse(&cfg, flags), 0);
    ck_assert_str_eq(cfg.socket_path, "/tmp/s.sock");
    ck_assert(!cfg.socket_is_default);
    ck_assert_uint_eq(cfg.arena_bytes, 64ull << 20);
    ck_assert(cfg.huge_pages);
    ck_assert_uint_eq(cfg.socket_mode, 0600);
    ck_assert_uint_eq(cfg.max_frame, 1u << 20);
    ck_assert_uint_eq(cfg.client_limit, 8ull << 20);
    ck_assert_uint_eq(cfg.max_tensors, 1000);
    ck_assert_str_eq(cfg.policy, planner_policy_name(planner_policy_count() - 1));
    ck_assert_uint_eq(cfg.min_block, 16 * 1024);
    ck_assert_uint_eq(cfg.max_clients, 2);
    ck_assert_uint_eq(cfg.hello_timeout_ms, 300);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_hello_timeout_takes_whole_and_fractional_seconds)
{
    const char *const ok[][2] = { {"10", "10000"}, {"0.001", "1"}, {".5", "500"},
                                  {"2.25", "2250"}, {"3600", "3600000"} };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct config cfg;
        const char *flags[] = {"--hello-timeout", ok[i][0], NULL};
        ck_assert_int_eq(parse(&cfg, flags), 0);
        ck_assert_msg(cfg.hello_timeout_ms == strtoull(ok[i][1], NULL, 10), "%s: %llu ms",
                      ok[i][0], (unsigned long long)cfg.hello_timeout_ms);
        config_free(&cfg);
    }
}
END_TEST

START_TEST(test_config_bad_flags_are_usage_errors)
{
    const char *const cases[][4] = {
        {"--bogus", NULL},
        {"--arena-size", "0", NULL},
        {"--arena-size", "12Q", NULL},
        {"--socket-mode", "0999", NULL},
        {"--max-frame", "2G", NULL},
        {"--max-tensors", "0", NULL},
        {"--policy", "no-such-policy", NULL},
        {"--min-block", "3000", NULL},
        {"--min-block", "8", NULL},
        {"--max-clients", "0", NULL},
        {"--max-clients", "-1", NULL},
        {"--max-clients", "2M", NULL},
        {"--max-clients", "many", NULL},
        {"--hello-timeout", "0", NULL},
        {"--hello-timeout", "0.0004", NULL},
        {"--hello-timeout", "-1", NULL},
        {"--hello-timeout", "3601", NULL},
        {"--hello-timeout", "1e3", NULL},
        {"--hello-timeout", "0x10", NULL},
        {"--hello-timeout", "inf", NULL},
        {"--hello-timeout", "10s", NULL},
        {"--hello-timeout", "", NULL},
        {"--hello-timeout", ".", NULL},
        {"--arena-size", "4K", "--min-block", "8K"},
        {"--socket", NULL},
        {"--shm-name", NULL},
        {"--huge-pages=yes", NULL},
        {"extra", NULL},
    };
    FILE *quiet = freopen("/dev/null", "w", stderr);
    (void)quiet;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        const char *flags[5] = {cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL};
        int rc = parse(&cfg, flags);
        config_free(&cfg);
        ck_assert_msg(rc == -EINVAL, "case %zu (%s %s): rc %d", i, cases[i][0],
                      cases[i][1] ? cases[i][1] : "", rc);
    }
}
END_TEST

START_TEST(test_config_help_names_every_flag)
{
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(out), STDOUT_FILENO), 0);
    struct config cfg;
    const char *flags[] = {"--help", NULL};
    int rc = parse(&cfg, flags);
    config_free(&cfg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ck_assert_int_eq(rc, 1);
    char text[8192];
    rewind(out);
    size_t n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    const char *names[] = {"--socket", "--arena-size", "--huge-pages", "--shm-name",
                           "--socket-mode", "--arena-mode", "--max-frame", "--client-limit", "--max-tensors",
                           "--policy", "--min-block", "--max-clients", "--hello-timeout",
                           "--help", "--version"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(text, names[i]) != NULL, "--help does not name %s:\n%s", names[i],
                      text);
    ck_assert_ptr_nonnull(strstr(text, "(default 1024)"));
    ck_assert_ptr_nonnull(strstr(text, "(default 10)"));
}
END_TEST

/* The arena has no name and no mode any more: the old flags still start the
 * daemon (units and scripts that pass them keep working), with a warning
 * that names the flag, and whatever their value. */
START_TEST(test_config_shm_name_and_arena_mode_are_ignored_with_a_warning)
{
    FILE *errf = tmpfile();
    ck_assert_ptr_nonnull(errf);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(errf), STDERR_FILENO), 0);
    struct config cfg;
    const char *flags[] = {"--shm-name", "/orion-x", "--arena-mode", "0640", "--shm-name",
                           "not-a-name", "--arena-mode=rw", NULL};
    int rc = parse(&cfg, flags);
    config_free(&cfg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_eq(rc, 0);
    char text[4096];
    rewind(errf);
    size_t n = fread(text, 1, sizeof(text) - 1, errf);
    text[n] = '\0';
    fclose(errf);
    ck_assert_msg(strstr(text, "warning: --shm-name is deprecated and ignored") &&
                  strstr(text, "warning: --arena-mode is deprecated and ignored") &&
                  strstr(text, "memfd"), "stderr: %s", text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_config_size_suffixes_are_powers_of_1024);
    tcase_add_test(tc, test_config_size_refuses_garbage_and_overflow);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_default_socket_follows_the_client_rule);
    tcase_add_test(tc, test_config_every_flag_is_taken);
    tcase_add_test(tc, test_config_hello_timeout_takes_whole_and_fractional_seconds);
    tcase_add_test(tc, test_config_bad_flags_are_usage_errors);
    tcase_add_test(tc, test_config_help_names_every_flag);
    tcase_add_test(tc, test_config_shm_name_and_arena_mode_are_ignored_with_a_warning);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
