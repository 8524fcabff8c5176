/* bench_buddy.c - the buddy allocator against glibc malloc/free, same run,
 * same sequence of sizes.
 *
 * Size mixes (bytes drawn log-uniformly: an octave 2^lg chosen uniformly, then
 * a uniform size inside it, so most sizes are not block multiples):
 *   mixed: 4 KiB .. 4 MiB  (tensor-like; glibc serves sizes above its mmap
 *          threshold, 128 KiB at start and raised dynamically up to 32 MiB as
 *          mmapped chunks are freed, with mmap/munmap: that is its real cost)
 *   small: 4 KiB .. 64 KiB (all below glibc's mmap threshold: heap only)
 * Patterns:
 *   plain:   alloc then free at once, repeated
 *   working: N allocations live; each step frees a random one and allocates
 *            the next size in its place
 * Neither side touches the memory it gets (malloc writes only its own chunk
 * headers; the buddy arena is never touched at all: it hands out offsets).
 * The buddy arena is 1 GiB of 4 KiB blocks. Each figure is the best of a few
 * repetitions. Last line: the headline (mixed sizes, working set).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buddy.h"

#define ARENA_BYTES (1ull << 30)
#define MIN_BLOCK 4096ull
#define N_OPS (1u << 20)
#define REPEAT 3

/* Keep the compiler from eliding a malloc/free pair or a dead result. */
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static uint64_t rng_state = 0x5eed5eedull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_sizes(uint64_t *sizes, unsigned lg_lo, unsigned lg_hi)
{
    for (unsigned i = 0; i < N_OPS; i++) {
        unsigned lg = lg_lo + (unsigned)(rng_next() % (lg_hi - lg_lo));
        sizes[i] = (1ull << lg) + rng_next() % (1ull << lg);
    }
}

static double malloc_plain(const uint64_t *sizes)
{
    double t0 = now_ns();
    for (unsigned i = 0; i < N_OPS; i++) {
        void *p = malloc(sizes[i]);
        ESCAPE(p);
        free(p);
    }
    return (now_ns() - t0) / N_OPS;
}

static double buddy_plain(buddy *b, const uint64_t *sizes, int pow2, unsigned *n_fail)
{
    double t0 = now_ns();
    for (unsigned i = 0; i < N_OPS; i++) {
        uint64_t off;
        int rc = pow2 ? buddy_alloc_pow2(b, sizes[i], &off) : buddy_alloc(b, sizes[i], 0, &off);
        if (rc != 0) {
            (*n_fail)++;
            continue;
        }
        ESCAPE(off);
        buddy_free(b, off);
    }
    return (now_ns() - t0) / N_OPS;
}

static double malloc_working(const uint64_t *sizes, const uint32_t *victim, unsigned n_live)
{
    void **live = calloc(n_live, sizeof(*live));
    if (live == NULL)
        return -1;
    for (unsigned i = 0; i < n_live; i++)
        live[i] = malloc(sizes[i]);
    double t0 = now_ns();
    for (unsigned i = 0; i < N_OPS; i++) {
        uint32_t v = victim[i];
        free(live[v]);
        live[v] = malloc(sizes[i]);
        ESCAPE(live[v]);
    }
    double t = (now_ns() - t0) / N_OPS;
    for (unsigned i = 0; i < n_live; i++)
        free(live[i]);
    free(live);
    return t;
}

#define NONE UINT64_MAX

static double buddy_working(buddy *b, const uint64_t *sizes, const uint32_t *victim,
                            unsigned n_live, int pow2, unsigned *n_fail)
{
    uint64_t *live = malloc(n_live * sizeof(*live));
    if (live == NULL)
        return -1;
    for (unsigned i = 0; i < n_live; i++) {
        int rc = pow2 ? buddy_alloc_pow2(b, sizes[i], &live[i])
                      : buddy_alloc(b, sizes[i], 0, &live[i]);
        if (rc != 0)
            live[i] = NONE;
    }
    double t0 = now_ns();
    for (unsigned i = 0; i < N_OPS; i++) {
        uint32_t v = victim[i];
        if (live[v] != NONE)
            buddy_free(b, live[v]);
        int rc = pow2 ? buddy_alloc_pow2(b, sizes[i], &live[v])
                      : buddy_alloc(b, sizes[i], 0, &live[v]);
        if (rc != 0) {
            live[v] = NONE;
            (*n_fail)++;
        }
    }
    double t = (now_ns() - t0) / N_OPS;
    for (unsigned i = 0; i < n_live; i++)
        if (live[i] != NONE)
            buddy_free(b, live[i]);
    free(live);
    return t;
}

struct result {
    double malloc_ns, buddy_ns, pow2_ns;
    unsigned n_fail;
};

static double best(double a, double b)
{
    return a < b ? a : b;
}

static int run_case(const char *name, unsigned lg_lo, unsigned lg_hi, unsigned n_live,
                    struct result *r)
{
    uint64_t *sizes = malloc(N_OPS * sizeof(*sizes));
    uint32_t *victim = malloc(N_OPS * sizeof(*victim));
    buddy *b = NULL;
    int rc = -ENOMEM;
    if (sizes == NULL || victim == NULL)
        goto out;
    rc = buddy_create(ARENA_BYTES, MIN_BLOCK, &b);
    if (rc != 0)
        goto out;
    make_sizes(sizes, lg_lo, lg_hi);
    for (unsigned i = 0; i < N_OPS; i++)
        victim[i] = n_live ? (uint32_t)(rng_next() % n_live) : 0;

    memset(r, 0, sizeof(*r));
    r->malloc_ns = r->buddy_ns = r->pow2_ns = 1e30;
    /* Alternate the two sides so that neither always runs on a cold cache. */
    for (int rep = 0; rep < REPEAT; rep++) {
        if (n_live == 0) {
            r->malloc_ns = best(r->malloc_ns, malloc_plain(sizes));
            r->buddy_ns = best(r->buddy_ns, buddy_plain(b, sizes, 0, &r->n_fail));
            r->pow2_ns = best(r->pow2_ns, buddy_plain(b, sizes, 1, &r->n_fail));
        } else {
            r->malloc_ns = best(r->malloc_ns, malloc_working(sizes, victim, n_live));
            r->buddy_ns = best(r->buddy_ns, buddy_working(b, sizes, victim, n_live, 0, &r->n_fail));
            r->pow2_ns = best(r->pow2_ns, buddy_working(b, sizes, victim, n_live, 1, &r->n_fail));
        }
    }
    printf("%-30s malloc %8.1f ns/pair   buddy_alloc %7.1f ns/pair (x%5.2f)   "
           "buddy_alloc_pow2 %7.1f ns/pair (x%5.2f)   buddy ENOSPC %u\n",
           name, r->malloc_ns, r->buddy_ns, r->malloc_ns / r->buddy_ns, r->pow2_ns,
           r->malloc_ns / r->pow2_ns, r->n_fail);
    rc = 0;
out:
    buddy_destroy(b);
    free(victim);
    free(sizes);
    return rc;
}

int main(void)
{
    printf("buddy: 1 GiB arena, 4 KiB blocks; %u pairs per figure, best of %d; "
           "glibc malloc with default tunables\n",
           N_OPS, REPEAT);
    struct result mixed_ws, mixed_plain, small_ws, small_plain;
    if (run_case("mixed 4K-4M, working set 256", 12, 22, 256, &mixed_ws) != 0 ||
        run_case("mixed 4K-4M, plain pair", 12, 22, 0, &mixed_plain) != 0 ||
        run_case("small 4K-64K, working set 4096", 12, 16, 4096, &small_ws) != 0 ||
        run_case("small 4K-64K, plain pair", 12, 16, 0, &small_plain) != 0) {
        fprintf(stderr, "bench_buddy: cannot set up (out of memory)\n");
        return 1;
    }
    printf("buddy_ns_per_pair=%.1f malloc_ns_per_pair=%.1f speedup=%.2f "
           "small_buddy_ns_per_pair=%.1f small_malloc_ns_per_pair=%.1f small_speedup=%.2f\n",
           mixed_ws.buddy_ns, mixed_ws.malloc_ns, mixed_ws.malloc_ns / mixed_ws.buddy_ns,
           small_ws.buddy_ns, small_ws.malloc_ns, small_ws.malloc_ns / small_ws.buddy_ns);
    return 0;
}
