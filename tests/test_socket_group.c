/* test_socket_group.c - Check suite "socket_group": orionrtd --socket-group
 * against a real daemon (tests/harness.h): the socket file it makes belongs
 * to the group named, mode 0660, and serves; an unknown group stops it (exit
 * 1, the group named) before it makes the socket; and, as orionrtd.service
 * runs it (no capabilities, SupplementaryGroups=), membership of the group
 * is what lets it chown, and its absence is an error that says so. */
#include <check.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct harness_daemon D;

static void teardown(void)
{
    harness_daemon_cleanup(&D);
    memset(&D, 0, sizeof D);
}

/* A group the socket may be given to that is not our effective one: as
 * root an existing system group (daemon, nogroup: nothing is added to
 * /etc/group), else one of our supplementary groups. 0 if there is none. */
static int pick_group(char *name, size_t len, gid_t *gid)
{
    if (geteuid() == 0) {
        static const char *const names[] = { "daemon", "nogroup", "bin", NULL };
        for (int i = 0; names[i] != NULL; i++) {
            struct group *gr = getgrnam(names[i]);
            if (gr != NULL && gr->gr_gid != getegid()) {
                snprintf(name, len, "%s", gr->gr_name);
                *gid = gr->gr_gid;
                return 1;
            }
        }
        return 0;
    }
    gid_t groups[256];
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++) {
        struct group *gr = getgrgid(groups[i]);
        if (groups[i] != getegid() && gr != NULL) {
            snprintf(name, len, "%s", gr->gr_name);
            *gid = groups[i];
            return 1;
        }
    }
    return 0;
}

START_TEST(test_socket_belongs_to_the_group_with_mode_0660)
{
    char name[64];
    gid_t gid;
    if (!pick_group(name, sizeof name, &gid)) {
        printf("socket_group: skipped: no group other than our own to give the socket to\n");
        return;
    }
    const char *extra[] = { "--socket-group", name, NULL };
    char *why = NULL;
    if (harness_daemon_start_explained(&D, extra, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
    struct stat st;
    ck_assert_int_eq(lstat(D.socket_path, &st), 0);
    ck_assert_msg(S_ISSOCK(st.st_mode), "not a socket");
    ck_assert_msg(st.st_gid == gid, "socket gid %lu, want %lu (%s)", (unsigned long)st.st_gid,
                  (unsigned long)gid, name);
    ck_assert_msg((st.st_mode & 07777) == 0660, "mode %04o", (unsigned)(st.st_mode & 07777));
    int fd = harness_session(D.socket_path);
    ck_assert_int_ge(fd, 0);
    close(fd);

    /* The group by number too, as chown(1) takes it. */
    ck_assert_msg(harness_daemon_finish(&D, &why) == 0, "%s", why);
    memset(&D, 0, sizeof D);
    char num[32];
    snprintf(num, sizeof num, "%lu", (unsigned long)gid);
    const char *by_number[] = { "--socket-group", num, NULL };
    if (harness_daemon_start_explained(&D, by_number, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
    ck_assert_int_eq(lstat(D.socket_path, &st), 0);
    ck_assert_int_eq(st.st_gid, gid);
}
END_TEST

START_TEST(test_unknown_group_exits_1_naming_it_before_making_the_socket)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_ARENA, "16M",
                           "--socket-group", "orion-no-such-group", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000 * harness_slowdown()), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "--socket-group orion-no-such-group: no such group"),
                  "message: %s", log);
    free(log);
    ck_assert(access(D.socket_path, F_OK) != 0);
}
END_TEST

/* Run the daemon as orionrtd.service does: root with an empty capability
 * bounding set, with or without the group among its supplementary groups. */
static void run_without_caps(const char *group, gid_t gid, bool member)
{
    const char *env = getenv("ORIONRTD");
    static char orig[1024];
    static bool have_orig;
    /* The same process may run this twice (CK_FORK=no): build on the
     * original daemon command, not on the last run's. */
    if (!have_orig) {
        snprintf(orig, sizeof orig, "%s", env != NULL ? env : "");
        have_orig = true;
    }
    env = orig;
    char cmd[2048], groups[64];
    snprintf(groups, sizeof groups, "--groups=%lu", (unsigned long)gid);
    snprintf(cmd, sizeof cmd, "setpriv --bounding-set=-all --inh-caps=-all %s %s",
             member ? groups : "--clear-groups", env && *env ? env : ORIONRTD_PATH);
    setenv("ORIONRTD", cmd, 1);
    const char *extra[] = { "--socket-group", group, NULL };
    char *why = NULL;
    if (member) {
        if (harness_daemon_start_explained(&D, extra, &why) < 0)
            ck_abort_msg("%s", why ? why : "orionrtd did not start");
        struct stat st;
        ck_assert_int_eq(lstat(D.socket_path, &st), 0);
        ck_assert_int_eq(st.st_gid, gid);
        ck_assert_int_eq(st.st_mode & 07777, 0660);
        return;
    }
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_ARENA, "16M",
                           "--socket-group", group, NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000 * harness_slowdown()), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, group) && strstr(log, "Operation not permitted") &&
                  strstr(log, "SupplementaryGroups="), "message: %s", log);
    free(log);
    ck_assert_msg(access(D.socket_path, F_OK) != 0, "the refused socket was left behind");
}

static bool can_drop_caps(char *name, size_t len, gid_t *gid)
{
    if (geteuid() != 0 || system("setpriv --help >/dev/null 2>&1") != 0 ||
        !pick_group(name, len, gid)) {
        printf("socket_group: skipped: needs root and setpriv (util-linux)\n");
        return false;
    }
    return true;
}

START_TEST(test_without_capabilities_a_member_of_the_group_may_chown)
{
    char name[64];
    gid_t gid;
    if (can_drop_caps(name, sizeof name, &gid))
        run_without_caps(name, gid, true);
}
END_TEST

START_TEST(test_without_capabilities_nor_the_group_it_says_why)
{
    char name[64];
    gid_t gid;
    if (can_drop_caps(name, sizeof name, &gid))
        run_without_caps(name, gid, false);
}
END_TEST

static Suite *socket_group_suite(void)
{
    Suite *s = suite_create("socket_group");
    TCase *tc = tcase_create("socket_group");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_socket_belongs_to_the_group_with_mode_0660);
    tcase_add_test(tc, test_unknown_group_exits_1_naming_it_before_making_the_socket);
    tcase_add_test(tc, test_without_capabilities_a_member_of_the_group_may_chown);
    tcase_add_test(tc, test_without_capabilities_nor_the_group_it_says_why);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(socket_group_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
