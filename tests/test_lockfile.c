/* test_lockfile.c - Check suite "lockfile": the daemon's single-instance
 * lock beside its socket (daemon/lockfile.c). Each test uses its own
 * directory under /tmp. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockfile.h"

static char dir[64];
static char sock[128];
static char lockp[136];
static char err[512];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/orion-ut-lock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/orionrtd.sock", dir);
    snprintf(lockp, sizeof(lockp), "%s.lock", sock);
    err[0] = '\0';
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static long pid_in(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long pid = -1;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

START_TEST(test_lockfile_creates_file_beside_socket_with_pid)
{
    struct lockfile lf;
    ck_assert_int_eq(lockfile_acquire(sock, false, &lf, err, sizeof(err)), 0);
    ck_assert_str_eq(lf.path, lockp);
    ck_assert_int_eq(pid_in(lockp), (long)getpid());
    ck_assert_int_eq(fcntl(lf.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    struct stat st;
    ck_assert_int_eq(lstat(sock, &st), -1); /* the socket path is not touched */
    lockfile_release(&lf);
    ck_assert_int_eq(access(lockp, F_OK), -1);
}
END_TEST

/* flock locks belong to the open file, so a second open in the same process
 * conflicts as another process's would. */
START_TEST(test_lockfile_second_holder_is_refused_naming_socket_and_pid)
{
    struct lockfile a, b;
    ck_assert_int_eq(lockfile_acquire(sock, false, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(lockfile_acquire(sock, false, &b, err, sizeof(err)), -EADDRINUSE);
    char want[64];
    snprintf(want, sizeof(want), "pid %ld", (long)getpid());
    ck_assert_msg(strstr(err, "in use by a running daemon") && strstr(err, sock) &&
                  strstr(err, want), "message: %s", err);
    ck_assert_ptr_null(b.path);
    lockfile_release(&b); /* a failed acquire is safe to release */
    ck_assert_int_eq(access(lockp, F_OK), 0); /* the holder's file stays */
    lockfile_release(&a);
}
END_TEST

START_TEST(test_lockfile_held_by_another_process_is_refused)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct lockfile lf;
        close(p[0]);
        int rc = lockfile_acquire(sock, false, &lf, err, sizeof(err));
        char c = rc == 0 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    close(p[1]);
    char c = 0;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    struct lockfile lf;
    ck_assert_int_eq(lockfile_acquire(sock, false, &lf, err, sizeof(err)), -EADDRINUSE);
    /* The holder dies without clean-up: its file stays, its lock does not. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(access(lockp, F_OK), 0);
    ck_assert_int_eq(lockfile_acquire(sock, false, &lf, err, sizeof(err)), 0);
    ck_assert_int_eq(pid_in(lockp), (long)getpid());
    lockfile_release(&lf);
    close(p[0]);
}
END_TEST

START_TEST(test_lockfile_refuses_a_symlink)
{
    char target[160];
    snprintf(target, sizeof(target), "%s/elsewhere", dir);
    ck_assert_int_eq(symlink(target, lockp), 0);
    struct lockfile lf;
    int rc = lockfile_acquire(sock, false, &lf, err, sizeof(err));
    ck_assert_int_eq(rc, -ELOOP);
    ck_assert_msg(strstr(err, lockp) != NULL, "message: %s", err);
    ck_assert_int_eq(access(target, F_OK), -1); /* nothing created through it */
}
END_TEST

START_TEST(test_lockfile_release_leaves_a_file_that_is_not_ours)
{
    struct lockfile lf;
    ck_assert_int_eq(lockfile_acquire(sock, false, &lf, err, sizeof(err)), 0);
    ck_assert_int_eq(unlink(lockp), 0);
    int fd = open(lockp, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    lockfile_release(&lf);
    ck_assert_int_eq(access(lockp, F_OK), 0);
}
END_TEST

START_TEST(test_lockfile_makes_the_parent_directory_when_asked)
{
    char sub[160];
    snprintf(sub, sizeof(sub), "%s/run/orionrtd.sock", dir);
    struct lockfile lf;
    ck_assert_int_eq(lockfile_acquire(sub, false, &lf, err, sizeof(err)), -ENOENT);
    ck_assert_int_eq(lockfile_acquire(sub, true, &lf, err, sizeof(err)), 0);
    struct stat st;
    char d[160];
    snprintf(d, sizeof(d), "%s/run", dir);
    ck_assert_int_eq(stat(d, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0755);
    lockfile_release(&lf);
}
END_TEST

static Suite *lockfile_suite(void)
{
    Suite *s = suite_create("lockfile");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lockfile_creates_file_beside_socket_with_pid);
    tcase_add_test(tc, test_lockfile_second_holder_is_refused_naming_socket_and_pid);
    tcase_add_test(tc, test_lockfile_held_by_another_process_is_refused);
    tcase_add_test(tc, test_lockfile_refuses_a_symlink);
    tcase_add_test(tc, test_lockfile_release_leaves_a_file_that_is_not_ours);
    tcase_add_test(tc, test_lockfile_makes_the_parent_directory_when_asked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lockfile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
