/* bench_arena.c - the arena with and without huge pages, same run.
 *
 * For each backing (base pages, then --huge-pages' choice when this machine
 * offers huge pages) the daemon's arena_open() makes a 1 GiB arena (or
 * argv[1], e.g. 256M), and a client-like mapping of its descriptor (plain
 * mmap MAP_SHARED, as liborion-client does) is measured:
 *   reserve:     arena_open itself (memfd, fallocate or populate, seals)
 *   first touch: a fresh mapping, one write per 4 KiB page, in order: the
 *                page faults a client pays on its first pass
 *   sweep:       4096 tensors of (arena / 4096) bytes visited in a shuffled
 *                order, each written (memset) then read back (sum): a
 *                producer/consumer pass over every tensor
 *   random:      4M dependent 8-byte reads at random offsets: TLB-bound
 * Each figure is the best of REPEAT runs. Ratios are base / huge (above 1:
 * huge pages faster). When huge pages are unavailable the bench says why and
 * prints the baseline only. Last line: key=value pairs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "arena.h"
#include "config.h"

#define DEFAULT_BYTES (1ull << 30)
#define N_TENSORS 4096u
#define N_RANDOM (4u << 20)
#define REPEAT 3

static uint64_t rng_state = 0x5eed5eedull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct figures {
    double reserve_ms, first_touch_ms, sweep_ms, random_ns;
    const char *pages;
    uint64_t page_bytes;
};

static volatile uint64_t sink;

static int measure(uint64_t bytes, bool huge, struct figures *f, char *err, size_t err_len)
{
    f->reserve_ms = f->first_touch_ms = f->sweep_ms = f->random_ns = 1e300;
    uint32_t *order = malloc(N_TENSORS * sizeof(*order));
    if (order == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < N_TENSORS; i++)
        order[i] = i;
    for (uint32_t i = N_TENSORS - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rng_next() % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    uint64_t tensor = bytes / N_TENSORS;
    int rc = 0;
    for (int rep = 0; rep < REPEAT; rep++) {
        struct arena a;
        double t0 = now_ms();
        if ((rc = arena_open(bytes, huge, &a, err, err_len)) < 0)
            break;
        double t1 = now_ms();
        if (t1 - t0 < f->reserve_ms)
            f->reserve_ms = t1 - t0;
        f->pages = arena_pages_str(a.pages);
        f->page_bytes = a.page_bytes;

        volatile unsigned char *p =
            mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a.share_fd, 0);
        if (p == MAP_FAILED) {
            rc = -errno;
            snprintf(err, err_len, "mmap: %s", strerror(errno));
            arena_close(&a);
            break;
        }
        t0 = now_ms();
        for (uint64_t off = 0; off < bytes; off += 4096)
            p[off] = (unsigned char)off;
        t1 = now_ms();
        if (t1 - t0 < f->first_touch_ms)
            f->first_touch_ms = t1 - t0;

        t0 = now_ms();
        uint64_t sum = 0;
        for (uint32_t i = 0; i < N_TENSORS; i++) {
            unsigned char *t = (unsigned char *)p + (uint64_t)order[i] * tensor;
            memset(t, (int)(i & 0xff), (size_t)tensor);
            const uint64_t *w = (const uint64_t *)t;
            for (uint64_t k = 0; k < tensor / 8; k += 8)
                sum += w[k];
        }
        t1 = now_ms();
        sink = sum;
        if (t1 - t0 < f->sweep_ms)
            f->sweep_ms = t1 - t0;

        /* Dependent loads: each address depends on the last value read. */
        uint64_t words = bytes / 8, idx = rng_next() % words;
        volatile uint64_t *w = (volatile uint64_t *)p;
        t0 = now_ms();
        for (uint32_t i = 0; i < N_RANDOM; i++)
            idx = (idx * 6364136223846793005ull + 1442695040888963407ull + w[idx]) % words;
        t1 = now_ms();
        sink = idx;
        double ns = (t1 - t0) * 1e6 / N_RANDOM;
        if (ns < f->random_ns)
            f->random_ns = ns;
        munmap((void *)p, (size_t)bytes);
        arena_close(&a);
    }
    free(order);
    return rc;
}

static void print_figures(const char *name, uint64_t bytes, const struct figures *f)
{
    printf("%-5s %-34s reserve %8.1f ms  first touch %8.1f ms  sweep %7.1f ms "
           "(%5.2f GB/s)  random %6.1f ns\n",
           name, f->pages, f->reserve_ms, f->first_touch_ms, f->sweep_ms,
           (double)bytes / (f->sweep_ms * 1e6), f->random_ns);
}

int main(int argc, char **argv)
{
    uint64_t bytes = DEFAULT_BYTES;
    if (argc > 1 && (config_parse_size(argv[1], &bytes) < 0 || bytes < (64ull << 20) ||
                     bytes % (2ull << 20) != 0)) {
        fprintf(stderr, "usage: bench_arena [SIZE]   (a multiple of 2M, at least 64M; "
                "default 1G)\n");
        return 2;
    }
    char err[512];
    struct figures base, huge;
    printf("arena: %" PRIu64 " MiB, %u tensors of %" PRIu64 " KiB, %u random reads; "
           "best of %d\n", bytes >> 20, N_TENSORS, bytes / N_TENSORS >> 10, N_RANDOM, REPEAT);
    if (measure(bytes, false, &base, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_arena: %s\n", err);
        return 1;
    }
    print_figures("base", bytes, &base);
    int rc = measure(bytes, true, &huge, err, sizeof(err));
    if (rc == -EOPNOTSUPP) {
        printf("huge pages unavailable on this machine, baseline only: %s\n", err);
        printf("arena_mib=%" PRIu64 " huge=unavailable base_reserve_ms=%.1f "
               "base_first_touch_ms=%.1f base_sweep_ms=%.1f base_random_ns=%.1f\n",
               bytes >> 20, base.reserve_ms, base.first_touch_ms, base.sweep_ms,
               base.random_ns);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "bench_arena: huge pages: %s\n", err);
        return 1;
    }
    print_figures("huge", bytes, &huge);
    printf("ratios base/huge: reserve x%.2f  first touch x%.2f  sweep x%.2f  random x%.2f\n",
           base.reserve_ms / huge.reserve_ms, base.first_touch_ms / huge.first_touch_ms,
           base.sweep_ms / huge.sweep_ms, base.random_ns / huge.random_ns);
    printf("arena_mib=%" PRIu64 " huge=%s huge_page_kib=%" PRIu64 " base_reserve_ms=%.1f "
           "base_first_touch_ms=%.1f base_sweep_ms=%.1f base_random_ns=%.1f "
           "huge_reserve_ms=%.1f huge_first_touch_ms=%.1f huge_sweep_ms=%.1f "
           "huge_random_ns=%.1f reserve_speedup=%.2f first_touch_speedup=%.2f "
           "sweep_speedup=%.2f random_speedup=%.2f\n",
           bytes >> 20, strstr(huge.pages, "hugetlbfs") ? "hugetlb" : "thp",
           huge.page_bytes >> 10, base.reserve_ms, base.first_touch_ms, base.sweep_ms,
           base.random_ns, huge.reserve_ms, huge.first_touch_ms, huge.sweep_ms,
           huge.random_ns, base.reserve_ms / huge.reserve_ms,
           base.first_touch_ms / huge.first_touch_ms, base.sweep_ms / huge.sweep_ms,
           base.random_ns / huge.random_ns);
    return 0;
}
