/* test_arena.c - Check suite "arena": the daemon's shared-memory object
 * (daemon/arena.c): exclusive creation, mode, size, the live-daemon lock,
 * stale-object reclaim, unlink. Each test uses its own object name. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"

static char name[64];
static char err[512];

static void setup(void)
{
    static int n;
    snprintf(name, sizeof(name), "/orion-ut-arena-%d-%d", (int)getpid(), n++);
    shm_unlink(name);
    err[0] = '\0';
}

static void teardown(void)
{
    shm_unlink(name);
}

static bool shm_exists(const char *nm)
{
    int fd = shm_open(nm, O_RDONLY, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

START_TEST(test_arena_creates_object_of_size_and_mode)
{
    struct arena a;
    ck_assert_int_eq(arena_open(name, 1 << 20, 0640, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(a.reclaimed, 0);
    struct stat st;
    ck_assert_int_eq(fstat(a.share_fd, &st), 0);
    ck_assert_int_eq(st.st_size, 1 << 20);
    /* fchmod: the umask does not narrow the requested mode */
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
    ck_assert_uint_eq(a.bytes, 1 << 20);
    ck_assert_ptr_nonnull(a.base);
    ck_assert(shm_exists(name));
    arena_close(&a);
    ck_assert(!shm_exists(name));
}
END_TEST

START_TEST(test_arena_share_fd_maps_the_same_bytes)
{
    struct arena a;
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &a, err, sizeof(err)), 0);
    ck_assert_int_ne(a.share_fd, a.lock_fd);
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

START_TEST(test_arena_refuses_name_held_by_a_live_arena)
{
    struct arena a, b;
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &b, err, sizeof(err)), -EBUSY);
    ck_assert_msg(strstr(err, "another orionrtd holds") && strstr(err, name), "message: %s", err);
    /* The live one is untouched. */
    ck_assert(shm_exists(name));
    struct stat st;
    ck_assert_int_eq(fstat(a.share_fd, &st), 0);
    ck_assert_int_eq(st.st_size, 64 << 10);
    arena_close(&a);
}
END_TEST

START_TEST(test_arena_reclaims_stale_object)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 4096), 0);
    close(fd);
    struct arena a;
    ck_assert_int_eq(arena_open(name, 128 << 10, 0600, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(a.reclaimed, 1);
    struct stat st;
    ck_assert_int_eq(fstat(a.share_fd, &st), 0);
    ck_assert_int_eq(st.st_size, 128 << 10);
    arena_close(&a);
}
END_TEST

/* A client that kept its descriptor after the daemon died must not make the
 * object look alive: the lock is on the daemon's private open. */
START_TEST(test_arena_client_descriptor_does_not_keep_the_lock)
{
    struct arena a;
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &a, err, sizeof(err)), 0);
    int client_fd = dup(a.share_fd);
    ck_assert_int_ge(client_fd, 0);
    /* The daemon "crashes": its descriptors close, nothing is unlinked. */
    munmap(a.base, (size_t)a.bytes);
    close(a.lock_fd);
    close(a.share_fd);
    free(a.name);
    struct arena b;
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &b, err, sizeof(err)), 0);
    ck_assert_int_eq(b.reclaimed, 1);
    close(client_fd);
    arena_close(&b);
}
END_TEST

START_TEST(test_arena_too_large_is_refused_and_leaves_nothing)
{
    struct arena a;
    int rc = arena_open(name, (uint64_t)1 << 50, 0600, &a, err, sizeof(err));
    ck_assert_msg(rc == -ENOSPC || rc == -ENOMEM || rc == -EFBIG, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "too large") != NULL, "message: %s", err);
    ck_assert(!shm_exists(name));
    ck_assert_int_eq(arena_open(name, 0, 0600, &a, err, sizeof(err)), -EINVAL);
    ck_assert(!shm_exists(name));
}
END_TEST

START_TEST(test_arena_close_is_safe_twice)
{
    struct arena a;
    ck_assert_int_eq(arena_open(name, 64 << 10, 0600, &a, err, sizeof(err)), 0);
    arena_close(&a);
    arena_close(&a);
    ck_assert(!shm_exists(name));
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_arena_creates_object_of_size_and_mode);
    tcase_add_test(tc, test_arena_share_fd_maps_the_same_bytes);
    tcase_add_test(tc, test_arena_refuses_name_held_by_a_live_arena);
    tcase_add_test(tc, test_arena_reclaims_stale_object);
    tcase_add_test(tc, test_arena_client_descriptor_does_not_keep_the_lock);
    tcase_add_test(tc, test_arena_too_large_is_refused_and_leaves_nothing);
    tcase_add_test(tc, test_arena_close_is_safe_twice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    umask(077); /* the mode test must see fchmod win over the umask */
    SRunner *sr = srunner_create(arena_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
