/* test_arena.c - Check suite "arena": the daemon's arena (daemon/arena.c), a
 * sealed, reserved memfd: size, seals, reservation, the shared mapping, what
 * a process that received the descriptor over a socket can and cannot do,
 * the refusals (too large, no huge pages), close. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "arena.h"

static char err[512];

static void setup(void)
{
    err[0] = '\0';
}

/* Does any name in /dev/shm refer to the object behind fd? */
static bool named_in_dev_shm(int fd)
{
    struct stat want, st;
    if (fstat(fd, &want) < 0)
        return false;
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_dev == want.st_dev && st.st_ino == want.st_ino)
            found = true;
    closedir(d);
    return found;
}

START_TEST(test_arena_is_a_sealed_memfd_of_its_size)
{
    struct arena a;
    ck_assert_int_eq(arena_open(1 << 20, false, &a, err, sizeof(err)), 0);
    struct stat st;
    ck_assert_int_eq(fstat(a.share_fd, &st), 0);
    ck_assert_int_eq(st.st_size, 1 << 20);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(a.bytes, 1 << 20);
    ck_assert_ptr_nonnull(a.base);
    int seals = fcntl(a.share_fd, F_GET_SEALS);
    ck_assert_int_eq(seals & ARENA_SEALS, ARENA_SEALS);
    /* Not sealed against writes: clients write the bytes they map. */
    ck_assert_int_eq(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);
    char link[64], target[256];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", a.share_fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_msg(strncmp(target, "/memfd:orionrtd-arena", 21) == 0, "fd is %s", target);
    ck_assert_int_eq(fcntl(a.share_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    arena_close(&a);
}
END_TEST

START_TEST(test_arena_leaves_nothing_in_dev_shm)
{
    struct arena a;
    ck_assert_int_eq(arena_open(1 << 20, false, &a, err, sizeof(err)), 0);
    ck_assert(!named_in_dev_shm(a.share_fd));
    arena_close(&a);
}
END_TEST

/* Every page is allocated at start-up: nobody can take SIGBUS later for want
 * of memory. A sparse object (ftruncate alone) has no blocks. */
START_TEST(test_arena_is_reserved_in_full)
{
    struct arena a;
    ck_assert_int_eq(arena_open(8 << 20, false, &a, err, sizeof(err)), 0);
    struct stat st;
    ck_assert_int_eq(fstat(a.share_fd, &st), 0);
    ck_assert_msg((uint64_t)st.st_blocks * 512 >= (8u << 20), "only %lld bytes allocated",
                  (long long)st.st_blocks * 512);
    arena_close(&a);
}
END_TEST

START_TEST(test_arena_share_fd_maps_the_same_bytes)
{
    struct arena a;
    ck_assert_int_eq(arena_open(64 << 10, false, &a, err, sizeof(err)), 0);
    char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, a.share_fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    memcpy((char *)a.base + 4096, "orion", 6);
    ck_assert_str_eq(p + 4096, "orion");
    p[100] = 42;
    ck_assert_int_eq(((char *)a.base)[100], 42);
    munmap(p, 64 << 10);
    arena_close(&a);
}
END_TEST

static int send_fd(int sock, int fd)
{
    char byte = 'A';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof(u));
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf) };
    if (recvmsg(sock, &m, 0) != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c == NULL || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

/* What a hostile client does with the descriptor it received: each attempt
 * to change the object must fail with EPERM. Exit code: the step that did
 * not (0 = all refused). */
static int hostile_client(int sock, uint64_t bytes)
{
    int fd = recv_fd(sock);
    if (fd < 0)
        return 10;
    if (ftruncate(fd, 0) == 0 || errno != EPERM)
        return 1;
    if (ftruncate(fd, (off_t)bytes / 2) == 0 || errno != EPERM)
        return 2;
    if (ftruncate(fd, (off_t)bytes * 2) == 0 || errno != EPERM)
        return 3;
    if (fallocate(fd, 0, (off_t)bytes, 4096) == 0 || errno != EPERM)
        return 4;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)bytes, 4096) == 0 || errno != EPERM)
        return 5;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || errno != EPERM)
        return 6;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0 || errno != EPERM)
        return 7;
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != bytes)
        return 8;
    /* It may still write what it maps, up to the last byte, without SIGBUS. */
    char *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 9;
    p[0] = 1;
    p[bytes - 1] = 2;
    munmap(p, (size_t)bytes);
    return 0;
}

START_TEST(test_arena_received_fd_cannot_resize_or_reseal)
{
    const uint64_t bytes = 1 << 20;
    struct arena a;
    ck_assert_int_eq(arena_open(bytes, false, &a, err, sizeof(err)), 0);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        _exit(hostile_client(sv[1], bytes));
    }
    close(sv[1]);
    ck_assert_int_eq(send_fd(sv[0], a.share_fd), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the receiving process changed the object (step %d, status %#x)",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
    struct stat sb;
    ck_assert_int_eq(fstat(a.share_fd, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)bytes);
    ck_assert_int_eq(((char *)a.base)[bytes - 1], 2);
    close(sv[0]);
    arena_close(&a);
}
END_TEST

/* An flock on the arena descriptor is the client's business: nothing in the
 * arena depends on it (the single-instance lock is lockfile.c's). */
START_TEST(test_arena_flock_on_its_fd_does_not_stop_another_arena)
{
    struct arena a, b;
    ck_assert_int_eq(arena_open(64 << 10, false, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(flock(a.share_fd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(arena_open(64 << 10, false, &b, err, sizeof(err)), 0);
    arena_close(&b);
    arena_close(&a);
}
END_TEST

START_TEST(test_arena_larger_than_memory_is_refused_naming_both_sizes)
{
    uint64_t avail;
    const char *what;
    ck_assert_int_eq(arena_room(false, &avail, &what), 0);
    ck_assert_uint_gt(avail, 0);
    uint64_t want = (avail + ((uint64_t)1 << 30)) & ~(((uint64_t)1 << 20) - 1);
    struct arena a;
    int rc = arena_open(want, false, &a, err, sizeof(err));
    ck_assert_int_eq(rc, -ENOMEM);
    char w[32];
    snprintf(w, sizeof(w), "%llu bytes", (unsigned long long)want);
    ck_assert_msg(strstr(err, "too large") && strstr(err, w) && strstr(err, "available"),
                  "message: %s", err);
    ck_assert_int_eq(arena_open((uint64_t)1 << 50, false, &a, err, sizeof(err)), -ENOMEM);
    ck_assert_int_eq(arena_open(0, false, &a, err, sizeof(err)), -EINVAL);
}
END_TEST

static bool thp_shmem_usable(void)
{
    char buf[256] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    return strstr(buf, "[advise]") || strstr(buf, "[always]") || strstr(buf, "[within_size]") ||
           strstr(buf, "[force]");
}

static bool hugetlb_free(uint64_t bytes)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return false;
    char line[128];
    unsigned long long nfree = 0, rsvd = 0, kb = 0;
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "HugePages_Free: %llu", &nfree);
        sscanf(line, "HugePages_Rsvd: %llu", &rsvd);
        sscanf(line, "Hugepagesize: %llu", &kb);
    }
    fclose(f);
    return kb > 0 && nfree > rsvd && (nfree - rsvd) * kb * 1024 >= bytes;
}

/* With huge pages on offer the arena uses them; without, a clear refusal
 * that says what was looked at. */
START_TEST(test_arena_huge_pages_used_or_refused_with_reason)
{
    const uint64_t bytes = 8 << 20;
    struct arena a;
    int rc = arena_open(bytes, true, &a, err, sizeof(err));
    if (hugetlb_free(bytes)) {
        ck_assert_msg(rc == 0, "%s", err);
        ck_assert_int_eq(a.pages, ARENA_PAGES_HUGETLB);
    } else if (thp_shmem_usable()) {
        ck_assert_msg(rc == 0, "%s", err);
        ck_assert_int_eq(a.pages, ARENA_PAGES_THP);
    } else {
        ck_assert_int_eq(rc, -EOPNOTSUPP);
        ck_assert_msg(strstr(err, "--huge-pages") && strstr(err, "hugetlbfs") &&
                      strstr(err, "shmem_enabled"), "message: %s", err);
        return;
    }
    ck_assert_int_eq(fcntl(a.share_fd, F_GET_SEALS) & ARENA_SEALS, ARENA_SEALS);
    ((char *)a.base)[bytes - 1] = 7;
    arena_close(&a);
}
END_TEST

START_TEST(test_arena_close_is_safe_twice)
{
    struct arena a;
    ck_assert_int_eq(arena_open(64 << 10, false, &a, err, sizeof(err)), 0);
    int fd = a.share_fd;
    arena_close(&a);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    arena_close(&a);
    ck_assert_int_eq(a.share_fd, -1);
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_arena_is_a_sealed_memfd_of_its_size);
    tcase_add_test(tc, test_arena_leaves_nothing_in_dev_shm);
    tcase_add_test(tc, test_arena_is_reserved_in_full);
    tcase_add_test(tc, test_arena_share_fd_maps_the_same_bytes);
    tcase_add_test(tc, test_arena_received_fd_cannot_resize_or_reseal);
    tcase_add_test(tc, test_arena_flock_on_its_fd_does_not_stop_another_arena);
    tcase_add_test(tc, test_arena_larger_than_memory_is_refused_naming_both_sizes);
    tcase_add_test(tc, test_arena_huge_pages_used_or_refused_with_reason);
    tcase_add_test(tc, test_arena_close_is_safe_twice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arena_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
