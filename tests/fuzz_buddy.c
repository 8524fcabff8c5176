/* fuzz_buddy.c - libFuzzer target for the buddy allocator.
 *
 * The input is a program: two bytes choose the arena (min block 2^(4..11),
 * 1 .. 4096 blocks and a tail), then each 4-byte group is one operation
 * (alloc, alloc_pow2, free of a live allocation, free of an arbitrary offset,
 * alloc_size). A shadow list of live allocations checks that no two overlap,
 * that they are in bounds and aligned, that used_bytes adds up, that bad frees
 * are refused; buddy_check runs after every operation. Any violation aborts,
 * which is how a fuzz target reports a finding.
 *
 * Built with clang -fsanitize=fuzzer (tests/CMakeLists.txt adds fuzz_buddy
 * when the compiler is clang). With -DFUZZ_BUDDY_MAIN it is a plain program
 * that runs the files named on its command line, to replay a corpus.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buddy.h"

#define MAX_LIVE 512

struct live {
    uint64_t off, bytes;
};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_buddy: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check(const buddy *b, const struct live *live, size_t n_live, uint64_t usable)
{
    char err[256];
    if (buddy_check(b, err, sizeof(err)) != 0)
        fail("buddy_check", err);
    struct buddy_stats st;
    buddy_stats_get(b, &st);
    uint64_t used = 0;
    for (size_t i = 0; i < n_live; i++)
        used += live[i].bytes;
    if (st.used_bytes != used || st.n_allocs != n_live || st.free_bytes != usable - used)
        fail("stats disagree with the live allocations", NULL);
}

static void add_live(struct live *live, size_t *n_live, uint64_t off, uint64_t bytes,
                     uint64_t usable)
{
    if (off + bytes > usable || off + bytes < off)
        fail("allocation out of bounds", NULL);
    for (size_t i = 0; i < *n_live; i++)
        if (off < live[i].off + live[i].bytes && live[i].off < off + bytes)
            fail("allocations overlap", NULL);
    live[(*n_live)++] = (struct live){off, bytes};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint64_t min = 16ull << (data[0] & 7);
    uint64_t n_blocks = 1 + (((uint64_t)data[1] << 4) | (data[0] >> 4));
    uint64_t arena = n_blocks * min + (((data[0] >> 3) & 1) ? min - 1 : 0);
    uint64_t usable = n_blocks * min;
    data += 2;
    size -= 2;

    buddy *b;
    if (buddy_create(arena, min, &b) != 0)
        fail("buddy_create refused a valid arena", NULL);
    static struct live live[MAX_LIVE];
    size_t n_live = 0;
    for (; size >= 4; data += 4, size -= 4) {
        uint16_t arg = (uint16_t)(data[1] | data[2] << 8);
        uint64_t off, bytes;
        switch (data[0] % 5) {
        case 0: { /* exact: up to 2^15 blocks-ish, scaled by min */
            if (n_live == MAX_LIVE)
                break;
            bytes = ((uint64_t)arg * min) >> (data[3] & 7);
            uint64_t align = (data[3] >> 3) ? 1ull << (data[3] >> 3) : 0;
            int rc = buddy_alloc(b, bytes, align, &off);
            if (bytes == 0) {
                if (rc != -EINVAL)
                    fail("alloc of 0 bytes not refused", NULL);
                break;
            }
            if (rc == -ENOSPC)
                break;
            if (rc != 0)
                fail("alloc failed with an unexpected error", NULL);
            if (align != 0 && off % align != 0)
                fail("alignment not honoured", NULL);
            add_live(live, &n_live, off, (bytes + min - 1) / min * min, usable);
            break;
        }
        case 1: { /* pow2 */
            if (n_live == MAX_LIVE)
                break;
            bytes = ((uint64_t)arg * min) >> (data[3] & 7);
            int rc = buddy_alloc_pow2(b, bytes, &off);
            if (bytes == 0 || rc == -ENOSPC)
                break;
            if (rc != 0)
                fail("alloc_pow2 failed with an unexpected error", NULL);
            uint64_t blk = min;
            while (blk < bytes)
                blk <<= 1;
            if (off % blk != 0)
                fail("pow2 block not aligned to its size", NULL);
            add_live(live, &n_live, off, blk, usable);
            break;
        }
        case 2: /* free a live allocation */
            if (n_live == 0)
                break;
            {
                size_t i = arg % n_live;
                if (buddy_free(b, live[i].off) != 0)
                    fail("free of a live allocation refused", NULL);
                live[i] = live[--n_live];
            }
            break;
        case 3: { /* free an arbitrary offset: must be refused unless live */
            off = ((uint64_t)arg << 8 | data[3]) % (usable + 2 * min);
            size_t i;
            for (i = 0; i < n_live && live[i].off != off; i++)
                ;
            int rc = buddy_free(b, off);
            if (i < n_live) {
                if (rc != 0)
                    fail("free of a live allocation refused", NULL);
                live[i] = live[--n_live];
            } else if (rc != -EINVAL) {
                fail("bad free not refused", NULL);
            }
            break;
        }
        default: /* alloc_size of a live allocation */
            if (n_live == 0)
                break;
            {
                size_t i = arg % n_live;
                if (buddy_alloc_size(b, live[i].off, &bytes) != 0 || bytes != live[i].bytes)
                    fail("alloc_size disagrees", NULL);
            }
            break;
        }
        check(b, live, n_live, usable);
    }
    while (n_live > 0)
        if (buddy_free(b, live[--n_live].off) != 0)
            fail("final free refused", NULL);
    check(b, live, 0, usable);
    struct buddy_stats st;
    buddy_stats_get(b, &st);
    for (unsigned o = 0; o < BUDDY_MAX_ORDERS; o++)
        if (st.n_free[o] != ((n_blocks >> o) & 1))
            fail("freeing everything did not merge back to the initial blocks", NULL);
    buddy_destroy(b);
    return 0;
}

#ifdef FUZZ_BUDDY_MAIN
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
