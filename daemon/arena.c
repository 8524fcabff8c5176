/* arena.c - see arena.h.
 *
 * Order of set-up (each step undone, by closing the memfd, on failure of a
 * later one):
 *   choose the backing      --huge-pages: hugetlbfs if enough free pages,
 *                           else shmem THP if shmem_enabled allows madvise
 *   check the room          MemAvailable and the memory cgroup (or the free
 *                           huge pages): refuse what cannot be reserved,
 *                           before allocating anything
 *   memfd_create            MFD_CLOEXEC | MFD_ALLOW_SEALING [| MFD_HUGETLB]
 *   ftruncate(bytes)
 *   mmap                    the daemon's own mapping
 *   reserve                 fallocate(0, bytes): every page allocated now.
 *                           THP: madvise(MADV_HUGEPAGE) then
 *                           MADV_POPULATE_WRITE first, because tmpfs's
 *                           fallocate sees no mapping and so, in "advise"
 *                           mode, would allocate small pages
 *   F_ADD_SEALS             shrink, grow, seal: from here on nobody, the
 *                           daemon included, changes the object's size
 */
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THP_SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_PMD_SIZE "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

/* Read up to len-1 bytes of path into buf, NUL-terminated. Returns the
 * length or a negative errno. */
static ssize_t read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* One /proc/meminfo field, in bytes for "kB" lines, else the bare count. */
static int meminfo(const char *key, uint64_t *out)
{
    char buf[8192];
    if (read_text("/proc/meminfo", buf, sizeof(buf)) < 0)
        return -ENOENT;
    size_t klen = strlen(key);
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end;
            unsigned long long v = strtoull(line + klen + 1, &end, 10);
            while (*end == ' ')
                end++;
            *out = strncmp(end, "kB", 2) == 0 ? (uint64_t)v * 1024 : (uint64_t)v;
            return 0;
        }
        line = next != NULL ? next + 1 : NULL;
    }
    return -ENOENT;
}

static int read_u64(const char *path, uint64_t *out)
{
    char buf[64];
    if (read_text(path, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
        return -ENOENT; /* missing, or "max" */
    *out = strtoull(buf, NULL, 10);
    return 0;
}

/* Lower *room to what the memory cgroup (and each ancestor) still allows:
 * v2 memory.max - memory.current, v1 memory.limit_in_bytes - usage. Files
 * that cannot be read (another cgroup namespace, no controller) are skipped. */
static void cgroup_room(uint64_t *room)
{
    char buf[4096];
    if (read_text("/proc/self/cgroup", buf, sizeof(buf)) < 0)
        return;
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        const char *root = NULL, *max_file = NULL, *cur_file = NULL;
        if (c2 != NULL && c2 == c1 + 1 && strncmp(line, "0:", 2) == 0) {
            root = "/sys/fs/cgroup";
            max_file = "memory.max";
            cur_file = "memory.current";
        } else if (c2 != NULL) {
            *c2 = '\0';
            for (char *tok = strtok(c1 + 1, ","); tok != NULL; tok = strtok(NULL, ","))
                if (strcmp(tok, "memory") == 0)
                    root = "/sys/fs/cgroup/memory";
            max_file = "memory.limit_in_bytes";
            cur_file = "memory.usage_in_bytes";
        }
        if (root != NULL) {
            char cg[1024];
            snprintf(cg, sizeof(cg), "%s", c2 + 1);
            for (;;) {
                char p[1400];
                uint64_t lim, cur;
                snprintf(p, sizeof(p), "%s%s/%s", root, strcmp(cg, "/") == 0 ? "" : cg,
                         max_file);
                if (read_u64(p, &lim) == 0) {
                    snprintf(p, sizeof(p), "%s%s/%s", root, strcmp(cg, "/") == 0 ? "" : cg,
                             cur_file);
                    if (read_u64(p, &cur) == 0 && lim - (cur < lim ? cur : lim) < *room)
                        *room = lim - (cur < lim ? cur : lim);
                }
                char *slash = strrchr(cg, '/');
                if (slash == NULL || strcmp(cg, "/") == 0)
                    break;
                if (slash == cg)
                    cg[1] = '\0';
                else
                    *slash = '\0';
            }
        }
        line = next;
    }
}

int arena_room(bool hugetlb, uint64_t *avail, const char **what)
{
    if (hugetlb) {
        uint64_t nfree, rsvd = 0, size;
        if (meminfo("HugePages_Free", &nfree) < 0 || meminfo("Hugepagesize", &size) < 0)
            return -ENOENT;
        meminfo("HugePages_Rsvd", &rsvd);
        *avail = (nfree > rsvd ? nfree - rsvd : 0) * size;
        *what = "free huge pages, HugePages_Free - HugePages_Rsvd in /proc/meminfo";
        return 0;
    }
    if (meminfo("MemAvailable", avail) < 0)
        return -ENOENT;
    uint64_t mem = *avail;
    cgroup_room(avail);
    *what = *avail < mem ? "the memory cgroup's limit less its usage"
                         : "MemAvailable in /proc/meminfo";
    return 0;
}

const char *arena_pages_str(enum arena_pages p)
{
    switch (p) {
    case ARENA_PAGES_HUGETLB: return "hugetlbfs huge pages";
    case ARENA_PAGES_THP: return "transparent huge pages (madvise)";
    default: return "base pages";
    }
}

/* The shmem THP mode in brackets, e.g. "advise" from
 * "always within_size [advise] never deny force". */
static void thp_shmem_mode(char *out, size_t len)
{
    char buf[256];
    snprintf(out, len, "unavailable");
    if (read_text(THP_SHMEM_ENABLED, buf, sizeof(buf)) <= 0)
        return;
    char *l = strchr(buf, '['), *r = l != NULL ? strchr(l, ']') : NULL;
    if (r != NULL)
        snprintf(out, len, "%.*s", (int)(r - l - 1), l + 1);
}

/* Pick the huge-page backing for `bytes`, or say in why why there is none. */
static int choose_huge(uint64_t bytes, struct arena *a, char *why, size_t why_len)
{
    uint64_t hp_size = 0, avail = 0;
    const char *what;
    char mode[32];
    if (meminfo("Hugepagesize", &hp_size) == 0 && hp_size > 0 &&
        arena_room(true, &avail, &what) == 0 && bytes % hp_size == 0 && bytes <= avail) {
        a->pages = ARENA_PAGES_HUGETLB;
        a->page_bytes = hp_size;
        return 0;
    }
    thp_shmem_mode(mode, sizeof(mode));
    if (strcmp(mode, "always") == 0 || strcmp(mode, "within_size") == 0 ||
        strcmp(mode, "advise") == 0 || strcmp(mode, "force") == 0) {
        uint64_t pmd = 0;
        a->pages = ARENA_PAGES_THP;
        a->page_bytes = read_u64(THP_PMD_SIZE, &pmd) == 0 && pmd > 0 ? pmd : hp_size;
        return 0;
    }
    char hp[160];
    if (hp_size == 0)
        snprintf(hp, sizeof(hp), "no hugetlbfs pages on this kernel");
    else if (bytes % hp_size != 0)
        snprintf(hp, sizeof(hp), "the arena is not a multiple of the %" PRIu64
                 "-byte hugetlbfs page", hp_size);
    else
        snprintf(hp, sizeof(hp), "%" PRIu64 " bytes of hugetlbfs pages free, %" PRIu64
                 " wanted (vm.nr_hugepages)", avail, bytes);
    snprintf(why, why_len, "no huge pages available: %s, and shmem transparent huge "
             "pages are '%s' (%s; 'advise', 'within_size', 'always' or 'force' would do)",
             hp, mode, THP_SHMEM_ENABLED);
    return -EOPNOTSUPP;
}

static void fill_room(bool hugetlb, char *out, size_t len)
{
    uint64_t avail;
    const char *what;
    if (arena_room(hugetlb, &avail, &what) == 0)
        snprintf(out, len, "; %" PRIu64 " bytes (%" PRIu64 " MiB) available, %s", avail,
                 avail >> 20, what);
    else
        out[0] = '\0';
}

int arena_open(uint64_t bytes, bool huge_pages, struct arena *a, char *err, size_t err_len)
{
    int rc;
    char room[192];
    memset(a, 0, sizeof(*a));
    a->share_fd = -1;
    a->pages = ARENA_PAGES_SMALL;
    a->page_bytes = (uint64_t)sysconf(_SC_PAGESIZE);
    if (bytes == 0 || bytes > (uint64_t)SIZE_MAX || (off_t)bytes < 0) {
        snprintf(err, err_len, "arena size %" PRIu64 " is not usable", bytes);
        return -EINVAL;
    }
    if (huge_pages) {
        char why[512];
        if ((rc = choose_huge(bytes, a, why, sizeof(why))) < 0) {
            snprintf(err, err_len, "--huge-pages: %s", why);
            return rc;
        }
    }
    bool hugetlb = a->pages == ARENA_PAGES_HUGETLB;
    uint64_t avail;
    const char *what;
    if (arena_room(hugetlb, &avail, &what) == 0 && bytes > avail) {
        snprintf(err, err_len, "arena of %" PRIu64 " bytes (%" PRIu64 " MiB) is too large to "
                 "reserve: %" PRIu64 " bytes (%" PRIu64 " MiB) available, %s", bytes,
                 bytes >> 20, avail, avail >> 20, what);
        return -ENOMEM;
    }

    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugetlb ? MFD_HUGETLB : 0);
    a->share_fd = memfd_create("orionrtd-arena", flags);
    if (a->share_fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot create the arena (memfd_create): %s", strerror(errno));
        return rc;
    }
    if (ftruncate(a->share_fd, (off_t)bytes) < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot size the arena to %" PRIu64 " bytes: %s", bytes,
                 strerror(errno));
        goto err_close_fd;
    }
    a->base = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->share_fd, 0);
    if (a->base == MAP_FAILED) {
        rc = -errno;
        a->base = NULL;
        snprintf(err, err_len, "cannot map %" PRIu64 " bytes of the arena: %s", bytes,
                 strerror(errno));
        goto err_close_fd;
    }
    if (a->pages == ARENA_PAGES_THP) {
        if (madvise(a->base, (size_t)bytes, MADV_HUGEPAGE) < 0) {
            rc = -errno;
            snprintf(err, err_len, "--huge-pages: madvise(MADV_HUGEPAGE) on the arena: %s",
                     strerror(errno));
            goto err_unmap;
        }
        if (madvise(a->base, (size_t)bytes, MADV_POPULATE_WRITE) < 0) {
            rc = -errno;
            fill_room(false, room, sizeof(room));
            snprintf(err, err_len, "cannot reserve %" PRIu64 " bytes for the arena "
                     "(MADV_POPULATE_WRITE): %s%s", bytes, strerror(errno), room);
            goto err_unmap;
        }
    }
    /* Over pages already populated this only confirms them. */
    if (fallocate(a->share_fd, 0, 0, (off_t)bytes) < 0) {
        rc = -errno;
        fill_room(hugetlb, room, sizeof(room));
        snprintf(err, err_len, "cannot reserve %" PRIu64 " bytes (%" PRIu64 " MiB) for the "
                 "arena (fallocate): %s%s", bytes, bytes >> 20, strerror(errno), room);
        goto err_unmap;
    }
    if (fcntl(a->share_fd, F_ADD_SEALS, ARENA_SEALS) < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot seal the arena: %s", strerror(errno));
        goto err_unmap;
    }
    a->bytes = bytes;
    return 0;

err_unmap:
    munmap(a->base, (size_t)bytes);
    a->base = NULL;
err_close_fd:
    close(a->share_fd);
    a->share_fd = -1;
    return rc;
}

void arena_close(struct arena *a)
{
    if (a->base != NULL)
        munmap(a->base, (size_t)a->bytes);
    if (a->share_fd >= 0)
        close(a->share_fd);
    a->base = NULL;
    a->share_fd = -1;
    a->bytes = 0;
}
