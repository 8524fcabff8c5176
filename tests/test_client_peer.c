/* test_client_peer.c - Check suite "client_peer": liborion-client checks who
 * answers on the socket (SO_PEERCRED) before it trusts the replies and the
 * arena: a listener of another uid is refused with a message naming that
 * uid, unless the user names it in ORION_DAEMON_UID. Needs root (to be
 * another uid); skipped otherwise. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "orion/orion.h"

#define OTHER_UID 65534 /* nobody */

static char sock_path[108];

/* Listen at sock_path as OTHER_UID and accept; close what connects. */
static int impostor(void *arg)
{
    int ready = *(int *)arg;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        return 1;
    if (chmod(sock_path, 0666) < 0 || setgid(OTHER_UID) < 0 || setuid(OTHER_UID) < 0)
        return 2;
    if (listen(s, 8) < 0) /* SO_PEERCRED is taken here: as OTHER_UID */
        return 3;
    if (write(ready, "r", 1) != 1)
        return 4;
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c >= 0)
            close(c);
    }
}

static pid_t start_impostor(void)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/orion-peer-%d.sock", (int)getpid());
    unlink(sock_path);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = harness_fork(impostor, &p[1]);
    ck_assert_int_gt(pid, 0);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    close(p[1]);
    return pid;
}

static void stop_impostor(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    harness_wait(pid, 5000, &st);
    unlink(sock_path);
}

START_TEST(test_client_refuses_a_daemon_of_another_uid)
{
    if (geteuid() != 0) {
        printf("test_client_refuses_a_daemon_of_another_uid: skipped, needs root\n");
        return;
    }
    pid_t pid = start_impostor();
    unsetenv("ORION_DAEMON_UID");
    orion_client *c = NULL;
    char err[512];
    int rc = orion_client_connect(sock_path, &c, err, sizeof err);
    ck_assert_int_eq(rc, -EPERM);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "of uid 65534") && strstr(err, "ORION_DAEMON_UID=65534"),
                  "message: %s", err);
    /* Named by the user: trusted, so the client goes on to the handshake,
     * which this listener does not answer (it closes): another error. */
    setenv("ORION_DAEMON_UID", "65534", 1);
    rc = orion_client_connect(sock_path, &c, err, sizeof err);
    ck_assert_msg(rc < 0 && rc != -EPERM, "rc %d: %s", rc, err);
    setenv("ORION_DAEMON_UID", "nobody", 1);
    rc = orion_client_connect(sock_path, &c, err, sizeof err);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, "ORION_DAEMON_UID='nobody' is not a uid"), "message: %s", err);
    unsetenv("ORION_DAEMON_UID");
    stop_impostor(pid);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_peer");
    TCase *tc = tcase_create("peer");
    tcase_set_timeout(tc, 30 * harness_slowdown());
    tcase_add_test(tc, test_client_refuses_a_daemon_of_another_uid);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
