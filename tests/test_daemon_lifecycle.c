/* test_daemon_lifecycle.c - orionrtd's start and stop: signals, readiness, a second
 * daemon, stale sockets and shm objects, socket activation, bad flags.
 *
 * Each test starts its own daemon (harness_fixture.h) on a private socket and
 * shm name, so the tests are independent and may run in any order. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_checks.h"
#include "frame.h"

static bool path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static bool shm_exists(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/dev/shm%s", name);
    return path_exists(p);
}

START_TEST(test_sigterm_exits_zero_and_removes_socket_and_lock)
{
    harness_fixture_start(NULL);
    int fd = session(); /* a client still connected does not stop a clean exit */
    ck_assert(path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name)); /* the arena is a memfd: no name at all */
    char lock[128];
    snprintf(lock, sizeof lock, "%s.lock", D.socket_path);
    ck_assert(path_exists(lock));
    int st;
    ck_assert_int_eq(harness_daemon_stop(&D, &st), 0);
    char buf[64];
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon %s",
                  harness_status_str(st, buf, sizeof buf));
    ck_assert_msg(!path_exists(D.socket_path), "socket file left behind");
    ck_assert_msg(!path_exists(lock), "lock file left behind");
    ck_assert_int_eq(harness_expect_close(fd, 1000, NULL), 0);
    close(fd);
}
END_TEST

START_TEST(test_daemon_notifies_ready_with_mainpid_and_stopping)
{
    harness_fixture_start(NULL); /* returns once READY=1 came (harness.h) */
    char want[64];
    snprintf(want, sizeof want, "MAINPID=%ld", (long)D.pid);
    ck_assert_msg(strstr(D.notify_msg, want), "READY message without %s: %s", want,
                  D.notify_msg);
    /* Nothing else is sent while it serves. */
    int fd = session();
    close(fd);
    char msg[512];
    ck_assert_int_eq(harness_daemon_notify(&D, 50, msg, sizeof msg), -ETIMEDOUT);
    pid_t pid = D.pid;
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int rc = harness_daemon_notify(&D, 5000 * harness_slowdown(), msg, sizeof msg);
    ck_assert_msg(rc > 0, "no notification on SIGTERM: %s", strerror(-rc));
    ck_assert_msg(strstr(msg, "STOPPING=1"), "on SIGTERM: %s", msg);
    /* Reap it here: a second SIGTERM from the teardown would hit a daemon
     * already on its way out. */
    int st;
    ck_assert_int_eq(harness_wait(pid, 5000 * harness_slowdown(), &st), 0);
    D.pid = 0;
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_sigint_exits_zero)
{
    harness_fixture_start(NULL);
    ck_assert_int_eq(kill(D.pid, SIGINT), 0);
    int st;
    ck_assert_int_eq(harness_wait(D.pid, 5000 * harness_slowdown(), &st), 0);
    D.pid = 0;
    char buf[64];
    char *log = harness_daemon_log(&D);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon %s on SIGINT: %s",
                  harness_status_str(st, buf, sizeof buf), log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

START_TEST(test_second_daemon_on_live_socket_exits_nonzero_naming_socket)
{
    harness_fixture_start(NULL);
    struct harness_daemon d2;
    ck_assert_int_eq(harness_daemon_prepare(&d2), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, D.socket_path, HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1M", NULL };
    ck_assert_int_eq(harness_daemon_run(&d2, args, 5000), 0);
    char *log = harness_daemon_log(&d2);
    ck_assert_msg(WIFEXITED(d2.status) && WEXITSTATUS(d2.status) != 0, "second daemon: %s",
                  log);
    ck_assert_msg(strstr(log, D.socket_path), "message does not name the socket: %s", log);
    free(log);
    ck_assert_msg(!shm_exists(d2.shm_name), "refused daemon left its shm object");
    /* The first daemon keeps serving on its socket. */
    int fd = session();
    ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
    close(fd);
    harness_daemon_cleanup(&d2);
}
END_TEST

/* --shm-name is ignored now: two daemons given the same name each serve
 * their own arena. */
START_TEST(test_two_daemons_given_one_shm_name_serve_separate_arenas)
{
    harness_fixture_start(NULL);
    int fd = session();
    ck_assert_int_eq(buf_code(fd, CREATE, "survivor", 4096, 0), 0);
    struct harness_daemon d2;
    memset(&d2, 0, sizeof d2);
    const char *args[] = { HARNESS_FLAG_SHM, D.shm_name, HARNESS_FLAG_ARENA, "1M", NULL };
    char *why = NULL;
    int rc = harness_daemon_start_explained(&d2, args, &why);
    ck_assert_msg(rc == 0, "second daemon: %s", why ? why : "");
    int fd2 = harness_session(d2.socket_path);
    ck_assert_int_ge(fd2, 0);
    ck_assert_uint_eq(stats_on(fd2).arena_bytes, 1u << 20);
    close(fd2);
    ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
    ck_assert_int_eq(buf_code(fd, OPEN, "survivor", 0, 0), 0);
    ck_assert(!shm_exists(D.shm_name));
    close(fd);
    harness_daemon_cleanup(&d2);
}
END_TEST

/* The daemon never looks in /dev/shm: an object of the old name stays as it
 * is, and the arena is the daemon's own. */
START_TEST(test_shm_object_of_the_old_name_is_left_alone)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    int sfd = shm_open(D.shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    ck_assert_msg(sfd >= 0, "shm_open: %s", strerror(errno));
    ck_assert_int_eq(ftruncate(sfd, 4096), 0);
    harness_fixture_start(NULL);
    int fd = harness_connect(D.socket_path);
    uint64_t bytes = 0;
    int afd = -1;
    ck_assert_int_eq(harness_hello(fd, ORION_PROTOCOL_VERSION, &bytes, &afd, NULL), 0);
    ck_assert_uint_eq(bytes, ARENA_16M);
    struct stat sb, ob;
    ck_assert_int_eq(fstat(afd, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, ARENA_16M);
    ck_assert_int_eq(fstat(sfd, &ob), 0);
    ck_assert_int_eq(ob.st_size, 4096);
    ck_assert(sb.st_ino != ob.st_ino || sb.st_dev != ob.st_dev);
    ck_assert(shm_exists(D.shm_name));
    close(sfd);
    close(afd);
    close(fd);
}
END_TEST

START_TEST(test_stale_socket_file_is_replaced)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s); /* the file stays; nobody listens */
    ck_assert(path_exists(D.socket_path));
    ck_assert_int_eq(harness_connect(D.socket_path), -ECONNREFUSED);
    harness_fixture_start(NULL);
    int fd = session();
    ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
    close(fd);
}
END_TEST

START_TEST(test_socket_activation_serves_and_leaves_socket_to_systemd)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* What orionrtd.socket does: bind and listen, then hand it over. */
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    for (int round = 0; round < 2; round++) {
        /* The second round is a restart on the same socket (Restart=). */
        int rc = harness_daemon_start_activated(&D, lfd, NULL);
        if (rc < 0) {
            char *log = harness_daemon_log(&D);
            ck_abort_msg("round %d: not started (%s): %s", round, strerror(-rc), log);
        }
        int fd = session();
        ck_assert_uint_eq(stats_on(fd).arena_bytes, ARENA_16M);
        ck_assert_int_eq(buf_code(fd, CREATE, "activated", 4096, 0), 0);
        close(fd);
        int st;
        ck_assert_int_eq(harness_daemon_stop(&D, &st), 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ck_assert_msg(path_exists(D.socket_path), "round %d: the daemon removed the socket "
                      "systemd owns", round);
        ck_assert(!shm_exists(D.shm_name));
    }
    close(lfd);
}
END_TEST

START_TEST(test_unknown_flag_exits_2)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           "--no-such-flag", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 5000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 2, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "no-such-flag"), "message does not name the flag: %s", log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

START_TEST(test_absurd_arena_size_exits_1_with_message)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* 1024T (= 1 PiB) parses as a size; no host can back it. */
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1024T", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "arena"), "message does not say what failed: %s", log);
    free(log);
    ck_assert_msg(!path_exists(D.socket_path), "socket left behind");
    ck_assert_msg(!shm_exists(D.shm_name), "shm object left behind");
}
END_TEST

START_TEST(test_unparsable_arena_size_is_a_usage_error_naming_the_flag)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    /* No P suffix: a value the flag cannot take is a usage error (exit 2). */
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_SHM, "@SHM@",
                           HARNESS_FLAG_ARENA, "1P", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 2, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, HARNESS_FLAG_ARENA) && strstr(log, "1P"),
                  "message does not name flag and value: %s", log);
    free(log);
    ck_assert(!path_exists(D.socket_path));
    ck_assert(!shm_exists(D.shm_name));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = harness_fixture_tcase("lifecycle", 60);
    tcase_add_test(tc, test_sigterm_exits_zero_and_removes_socket_and_lock);
    tcase_add_test(tc, test_sigint_exits_zero);
    tcase_add_test(tc, test_daemon_notifies_ready_with_mainpid_and_stopping);
    tcase_add_test(tc, test_second_daemon_on_live_socket_exits_nonzero_naming_socket);
    tcase_add_test(tc, test_two_daemons_given_one_shm_name_serve_separate_arenas);
    tcase_add_test(tc, test_shm_object_of_the_old_name_is_left_alone);
    tcase_add_test(tc, test_stale_socket_file_is_replaced);
    tcase_add_test(tc, test_socket_activation_serves_and_leaves_socket_to_systemd);
    tcase_add_test(tc, test_unknown_flag_exits_2);
    tcase_add_test(tc, test_absurd_arena_size_exits_1_with_message);
    tcase_add_test(tc, test_unparsable_arena_size_is_a_usage_error_naming_the_flag);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
