/* arena.h - the daemon's shared arena: one sealed memfd.
 *
 * The arena is a memfd_create object with no name anywhere (nothing in
 * /dev/shm, nothing left behind by a crash), reserved in full at start-up so
 * that no process that maps it can take SIGBUS because memory ran out, and
 * sealed (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before any client
 * receives it: ftruncate, a growing fallocate or a new seal from a client
 * fails with EPERM. A client can write the bytes it maps, never change the
 * object.
 *
 * Residual: sealing against writes would stop the clients too, so a client
 * can still punch a hole (FALLOC_FL_PUNCH_HOLE); that zeroes bytes it could
 * have zeroed by writing and gives the pages back, and the next touch
 * allocates them again (no SIGBUS: the size is sealed).
 *
 * The single-instance lock is not here: it is lockfile.h's, on a file that
 * no client ever receives.
 */
#ifndef ORION_ARENA_H
#define ORION_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h> /* F_SEAL_* */

/* How the arena's pages are backed. */
enum arena_pages {
    ARENA_PAGES_SMALL = 0, /* tmpfs pages of the base size (4 KiB) */
    ARENA_PAGES_HUGETLB,   /* MFD_HUGETLB: pages reserved in hugetlbfs */
    ARENA_PAGES_THP,       /* tmpfs with MADV_HUGEPAGE (shmem THP "advise" and kin) */
};

struct arena {
    int share_fd;          /* the memfd: the daemon's mapping, and what clients
                            * receive (SCM_RIGHTS); sealed */
    void *base;            /* the daemon's mapping */
    uint64_t bytes;
    enum arena_pages pages;
    uint64_t page_bytes;   /* size of one page of that backing */
};

/* The seals every arena carries once arena_open returned. */
#define ARENA_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Create, reserve (every page allocated now), map and seal an arena of
 * `bytes` bytes. huge_pages: back it with huge pages, MFD_HUGETLB when enough
 * hugetlbfs pages are free and bytes is a multiple of their size, else
 * transparent huge pages where shmem_enabled allows them on request; neither:
 * -EOPNOTSUPP. Returns 0 and fills *a, or a negative errno with a sentence
 * for the operator in err: -ENOMEM (more than the memory available: the
 * message names the size wanted and what is available; or the reservation
 * itself failed), -EINVAL (size), -EOPNOTSUPP, or the errno of the failed
 * call. On failure nothing is left (the memfd is closed). */
int arena_open(uint64_t bytes, bool huge_pages, struct arena *a, char *err, size_t err_len);

/* Bytes that can still be reserved for an arena: MemAvailable, lowered by
 * the memory cgroup's room (v1 or v2, every ancestor), or for hugetlb the
 * free, unreserved huge pages. *what names the source for messages. Returns
 * 0 or a negative errno (no /proc/meminfo). */
int arena_room(bool hugetlb, uint64_t *avail, const char **what);

/* Words for a backing: "base pages", "hugetlbfs huge pages", "transparent
 * huge pages (madvise)". */
const char *arena_pages_str(enum arena_pages p);

/* Unmap and close. Safe on a zeroed-then-closed or already closed arena
 * (share_fd -1, base NULL). */
void arena_close(struct arena *a);

#endif
