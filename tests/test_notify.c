/* test_notify.c - Check suite "notify": systemd's readiness datagrams
 * (daemon/notify.c), received here on a socket the test binds. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* Bind a datagram socket at addr (len bytes of sun_path used). */
static int bind_dgram(const char *sun_path, size_t path_len)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sun_path, path_len);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

START_TEST(test_notify_without_notify_socket_does_nothing)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(notify_send("READY=1"), 0);
}
END_TEST

START_TEST(test_notify_sends_state_to_abstract_socket)
{
    char name[64];
    int n = snprintf(name, sizeof(name), "@orion-notify-%d", (int)getpid());
    char abstract[64];
    memcpy(abstract, name, (size_t)n);
    abstract[0] = '\0';
    int fd = bind_dgram(abstract, (size_t)n);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(notify_send("READY=1\nSTATUS=up"), 0);
    char buf[128];
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_eq(got, (ssize_t)strlen("READY=1\nSTATUS=up"));
    buf[got] = '\0';
    ck_assert_str_eq(buf, "READY=1\nSTATUS=up");
    close(fd);
}
END_TEST

START_TEST(test_notify_sends_state_to_path_socket)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/orion-notify-%d.sock", (int)getpid());
    unlink(path);
    int fd = bind_dgram(path, strlen(path) + 1);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(notify_send("STOPPING=1"), 0);
    char buf[64];
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_eq(got, 10);
    buf[got] = '\0';
    ck_assert_str_eq(buf, "STOPPING=1");
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(test_notify_refuses_bad_addresses)
{
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(notify_send("READY=1"), -EINVAL);
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path));
    long_path[0] = '/';
    long_path[199] = '\0';
    setenv("NOTIFY_SOCKET", long_path, 1);
    ck_assert_int_eq(notify_send("READY=1"), -EINVAL);
    /* Nobody listening: the error is reported, not fatal. */
    setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT);
}
END_TEST

static Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_notify_without_notify_socket_does_nothing);
    tcase_add_test(tc, test_notify_sends_state_to_abstract_socket);
    tcase_add_test(tc, test_notify_sends_state_to_path_socket);
    tcase_add_test(tc, test_notify_refuses_bad_addresses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(notify_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
