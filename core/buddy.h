/* buddy.h - a buddy allocator over the offsets [0, arena_bytes) of an arena.
 *
 * The allocator never touches the arena: it hands out offsets, and all of its
 * metadata (free lists, block orders, live allocations) lives in ordinary
 * process memory. Pure: no I/O, no locks, not thread-safe.
 */
#ifndef ORION_BUDDY_H
#define ORION_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#define BUDDY_MAX_ORDERS 64

typedef struct buddy buddy;

struct buddy_stats {
    uint64_t arena_bytes;        /* bytes managed */
    uint64_t min_block_bytes;    /* size of an order-0 block */
    uint64_t used_bytes;         /* bytes held by live allocations (block-rounded) */
    uint64_t free_bytes;         /* usable - used_bytes, where usable is arena_bytes
                                  * rounded down to min_block_bytes */
    uint64_t largest_free_bytes; /* the largest free block */
    double fragmentation;        /* 1 - largest_free / free; 0 when nothing is free */
    uint64_t n_allocs;           /* live allocations */
    unsigned n_orders;           /* orders in use: 0 .. n_orders-1 */
    uint64_t n_free[BUDDY_MAX_ORDERS]; /* free blocks per order */
};

/* Create an allocator for arena_bytes bytes with order-0 blocks of
 * min_block_bytes (a power of two, >= 16). arena_bytes need not be a power of
 * two: the tail below min_block_bytes is unused, the rest is split into the
 * largest aligned blocks (a block whose buddy would run past the end never
 * merges). Metadata: about 1.25 bytes per order-0 block (20 MiB for 64 GiB of
 * 4 KiB blocks), caller owns *out and frees it with buddy_destroy().
 * Returns 0, -EINVAL (bad sizes, arena smaller than one block) or -ENOMEM. */
int buddy_create(uint64_t arena_bytes, uint64_t min_block_bytes, buddy **out);

/* Free the allocator's metadata. buddy_destroy(NULL) does nothing. */
void buddy_destroy(buddy *b);

/* Allocate exactly `bytes` (rounded up to min_block_bytes) at an offset aligned
 * to `align` (0 = min_block_bytes; a power of two). The request is carved from
 * the lowest free power-of-two block that holds it (or, for an alignment
 * larger than that, from a block of the alignment's size) and the unused tail
 * of that block is given back at once, as Linux's alloc_pages_exact does.
 * used_bytes grows by the rounded size only. Returns 0 and the offset in *off,
 * -EINVAL (bytes 0, align not a power of two) or -ENOSPC (no free block of
 * that size, including requests larger than the arena). */
int buddy_alloc(buddy *b, uint64_t bytes, uint64_t align, uint64_t *off);

/* Classic allocation: one power-of-two block of at least `bytes`, aligned to
 * its own size; used_bytes grows by the whole block. Returns 0, -EINVAL
 * (bytes 0) or -ENOSPC. */
int buddy_alloc_pow2(buddy *b, uint64_t bytes, uint64_t *off);

/* Free the allocation that starts at `off`, merging free buddies. An offset
 * that is not the start of a live allocation (out of range, misaligned, inside
 * an allocation, already freed) is refused with -EINVAL and changes nothing. */
int buddy_free(buddy *b, uint64_t off);

/* The bytes held by the live allocation at `off` (block-rounded), or -EINVAL. */
int buddy_alloc_size(const buddy *b, uint64_t off, uint64_t *bytes);

/* Fill *st (O(1): counters kept up to date by every call). */
void buddy_stats_get(const buddy *b, struct buddy_stats *st);

/* Walk all metadata and check every invariant (free lists consistent, free
 * buddies merged, blocks tile the arena, byte counts add up). O(arena blocks x
 * orders): for tests and debugging. Returns 0, or -EFAULT and a description of
 * the first broken invariant in err (may be NULL). */
int buddy_check(const buddy *b, char *err, size_t err_len);

#endif
