/* test_arena_daemon.c - Check suite "arena_daemon": the arena and the
 * single-instance lock as real client processes meet them, against a real
 * orionrtd (tests/harness.h): a client cannot resize or reseal the arena it
 * received; the arena is reserved before the daemon is ready; a client that
 * flocks its arena descriptor does not stop a restart after SIGKILL; a second
 * daemon stops at the lock before it touches the socket path; --huge-pages
 * and a too large arena are refused with reasons. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "frame.h"

#define ARENA_16M ((uint64_t)16 << 20)

static struct harness_daemon D;

static void teardown(void)
{
    char lock[128];
    snprintf(lock, sizeof lock, "%s.lock", D.socket_path);
    harness_daemon_cleanup(&D);
    if (D.base[0] != '\0')
        unlink(lock); /* left by the SIGKILLed daemons of these tests */
    memset(&D, 0, sizeof D);
}

static void start_daemon(const char *const *extra)
{
    char *why = NULL;
    if (harness_daemon_start_explained(&D, extra, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
}

/* Connect and hello; the arena descriptor in *afd. */
static int hello(const char *path, int *afd, uint64_t *bytes)
{
    int fd = harness_connect(path);
    if (fd < 0)
        return fd;
    int rc = harness_hello(fd, ORION_PROTOCOL_VERSION, bytes, afd, NULL);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* A hostile client: everything that would change the object must fail with
 * EPERM. Returns the step that did not (0: all refused). */
static int hostile_client(void *arg)
{
    const char *path = arg;
    uint64_t bytes = 0;
    int afd = -1;
    int fd = hello(path, &afd, &bytes);
    if (fd < 0 || afd < 0)
        return 20;
    if (ftruncate(afd, 0) == 0 || errno != EPERM)
        return 1;
    if (ftruncate(afd, (off_t)bytes * 2) == 0 || errno != EPERM)
        return 2;
    if (fallocate(afd, 0, (off_t)bytes, 1 << 20) == 0 || errno != EPERM)
        return 3;
    if (fallocate(afd, FALLOC_FL_KEEP_SIZE, (off_t)bytes, 1 << 20) == 0 || errno != EPERM)
        return 4;
    if (fcntl(afd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0 || errno != EPERM)
        return 5;
    if (fcntl(afd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || errno != EPERM)
        return 6;
    /* Its writes still reach the last byte. */
    char *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
    if (p == MAP_FAILED)
        return 7;
    p[bytes - 1] = 0x5a;
    munmap(p, (size_t)bytes);
    close(afd);
    close(fd);
    return 0;
}

START_TEST(test_client_cannot_truncate_grow_or_reseal_the_arena)
{
    start_daemon(NULL);
    pid_t pid = harness_fork(hostile_client, D.socket_path);
    ck_assert_int_gt(pid, 0);
    int st;
    ck_assert_int_eq(harness_wait(pid, 10000 * harness_slowdown(), &st), 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a client changed the arena (step %d; status %#x)",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
    /* A new client is served the whole arena, its bytes intact. */
    uint64_t bytes = 0;
    int afd = -1;
    int fd = hello(D.socket_path, &afd, &bytes);
    ck_assert_msg(fd >= 0, "hello after the attack: %s", strerror(-fd));
    struct stat sb;
    ck_assert_int_eq(fstat(afd, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, ARENA_16M);
    unsigned char *p = mmap(NULL, (size_t)bytes, PROT_READ, MAP_SHARED, afd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_uint_eq(p[bytes - 1], 0x5a);
    munmap(p, (size_t)bytes);
    close(afd);
    close(fd);
}
END_TEST

START_TEST(test_arena_is_reserved_and_sealed_when_the_daemon_is_ready)
{
    start_daemon(NULL);
    uint64_t bytes = 0;
    int afd = -1;
    int fd = hello(D.socket_path, &afd, &bytes);
    ck_assert_int_ge(fd, 0);
    struct stat sb;
    ck_assert_int_eq(fstat(afd, &sb), 0);
    ck_assert_msg((uint64_t)sb.st_blocks * 512 >= ARENA_16M,
                  "arena not reserved: %lld of %llu bytes allocated",
                  (long long)sb.st_blocks * 512, (unsigned long long)ARENA_16M);
    int seals = fcntl(afd, F_GET_SEALS);
    ck_assert_msg(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
                  (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), "seals %#x", seals);
    close(afd);
    close(fd);
}
END_TEST

struct flocker {
    const char *path;
    int ready_fd; /* write end: 'h' after hello, then 'y'/'n' for the flock */
    int go_fd;    /* read end: one byte once the daemon is dead */
};

/* A client that outlives the daemon and takes flock(LOCK_EX) on its arena
 * descriptor (the daemon's own lock, if it was on the arena, is gone with
 * it), then sits. */
static int flocking_client(void *arg)
{
    struct flocker *f = arg;
    uint64_t bytes;
    int afd = -1;
    int fd = hello(f->path, &afd, &bytes);
    if (fd < 0 || afd < 0)
        return 1;
    char c = 'h';
    if (write(f->ready_fd, &c, 1) != 1 || read(f->go_fd, &c, 1) != 1)
        return 2;
    c = 'n';
    for (int i = 0; i < 200 && c != 'y'; i++) {
        if (flock(afd, LOCK_EX | LOCK_NB) == 0)
            c = 'y';
        else
            usleep(10000);
    }
    if (write(f->ready_fd, &c, 1) != 1)
        return 3;
    for (;;)
        pause();
}

START_TEST(test_client_flock_on_arena_fd_does_not_block_a_restart)
{
    start_daemon(NULL);
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    struct flocker f = { D.socket_path, up[1], down[0] };
    pid_t client = harness_fork(flocking_client, &f);
    ck_assert_int_gt(client, 0);
    close(up[1]);
    close(down[0]);
    char c = 0;
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    ck_assert_int_eq(c, 'h');
    /* The daemon crashes; the client keeps its descriptor and flocks it. */
    ck_assert_int_eq(kill(D.pid, SIGKILL), 0);
    int st;
    ck_assert_int_eq(harness_wait(D.pid, 5000 * harness_slowdown(), &st), 0);
    D.pid = 0;
    ck_assert_int_eq(write(down[1], "g", 1), 1);
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    close(up[0]);
    close(down[1]);
    ck_assert_int_eq(c, 'y');
    char *why = NULL;
    int rc = harness_daemon_start_explained(&D, NULL, &why);
    kill(client, SIGKILL);
    waitpid(client, NULL, 0);
    ck_assert_msg(rc == 0, "restart blocked by a client's flock: %s", why ? why : "");
    int fd = harness_session(D.socket_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}
END_TEST

/* A daemon that holds the lock but has not bound yet (the start-up race):
 * simulated by the test holding the lock. The second daemon must stop at
 * the lock, leaving the stale socket file at the path as it was. */
START_TEST(test_second_daemon_stops_at_the_lock_before_touching_the_socket)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s); /* a stale socket file: nobody listens */
    struct stat before, after;
    ck_assert_int_eq(lstat(D.socket_path, &before), 0);
    char lock[128];
    snprintf(lock, sizeof lock, "%s.lock", D.socket_path);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(pwrite(lfd, "4242\n", 5, 0), 5);

    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_ARENA, "1M", NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, "in use by a running daemon") && strstr(log, D.socket_path) &&
                  strstr(log, "pid 4242"), "message: %s", log);
    free(log);
    ck_assert_msg(lstat(D.socket_path, &after) == 0 && after.st_ino == before.st_ino,
                  "the refused daemon touched the socket path");
    ck_assert_int_eq(access(lock, F_OK), 0); /* not removed by the loser */

    /* Once the lock is free, a daemon starts and replaces the stale socket. */
    close(lfd);
    start_daemon(NULL);
    int fd = harness_session(D.socket_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}
END_TEST

START_TEST(test_huge_pages_are_used_or_refused_with_the_reason)
{
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_ARENA, "16M",
                           "--huge-pages", NULL };
    int rc = harness_daemon_run(&D, args, 3000 * harness_slowdown());
    char *log = harness_daemon_log(&D);
    if (rc == -ETIMEDOUT) {
        /* Started (huge pages on offer) and ran until killed: it says which. */
        ck_assert_msg(strstr(log, "huge pages"), "log: %s", log);
    } else {
        char buf[64];
        ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                      harness_status_str(D.status, buf, sizeof buf), log);
        ck_assert_msg(strstr(log, "--huge-pages") && strstr(log, "hugetlbfs") &&
                      strstr(log, "shmem_enabled"), "message: %s", log);
        ck_assert(access(D.socket_path, F_OK) != 0);
    }
    free(log);
}
END_TEST

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long long kb = 0;
    char line[128];
    while (f != NULL && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return (uint64_t)kb * 1024;
}

START_TEST(test_arena_larger_than_memory_is_refused_naming_both_sizes)
{
    uint64_t avail = mem_available();
    ck_assert_uint_gt(avail, 0);
    uint64_t want_g = (avail >> 30) * 2 + 2;
    char size[32], want[48];
    snprintf(size, sizeof size, "%lluG", (unsigned long long)want_g);
    snprintf(want, sizeof want, "%llu bytes", (unsigned long long)(want_g << 30));
    ck_assert_int_eq(harness_daemon_prepare(&D), 0);
    const char *args[] = { HARNESS_FLAG_SOCKET, "@SOCKET@", HARNESS_FLAG_ARENA, size, NULL };
    ck_assert_int_eq(harness_daemon_run(&D, args, 10000 * harness_slowdown()), 0);
    char *log = harness_daemon_log(&D);
    char buf[64];
    ck_assert_msg(WIFEXITED(D.status) && WEXITSTATUS(D.status) == 1, "daemon %s: %s",
                  harness_status_str(D.status, buf, sizeof buf), log);
    ck_assert_msg(strstr(log, want) && strstr(log, "available") && strstr(log, "reserve"),
                  "message: %s", log);
    free(log);
    ck_assert(access(D.socket_path, F_OK) != 0);
}
END_TEST

static Suite *arena_daemon_suite(void)
{
    Suite *s = suite_create("arena_daemon");
    TCase *tc = tcase_create("arena");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_client_cannot_truncate_grow_or_reseal_the_arena);
    tcase_add_test(tc, test_arena_is_reserved_and_sealed_when_the_daemon_is_ready);
    tcase_add_test(tc, test_client_flock_on_arena_fd_does_not_block_a_restart);
    tcase_add_test(tc, test_second_daemon_stops_at_the_lock_before_touching_the_socket);
    tcase_add_test(tc, test_huge_pages_are_used_or_refused_with_the_reason);
    tcase_add_test(tc, test_arena_larger_than_memory_is_refused_naming_both_sizes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arena_daemon_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
