/* buddy.c - a buddy allocator over the offsets of an arena it never touches.
 *
 * Units. Everything inside is counted in order-0 blocks ("blocks") of
 * min_block_bytes = 1 << shift; an offset is (block index << shift). The
 * arena holds n_blocks = arena_bytes >> shift blocks; the tail below one
 * block is never handed out.
 *
 * Orders and buddies. A block of order o covers the blocks
 * [i << o, (i + 1) << o) for its position i at that order, and exists only
 * when it lies wholly inside the arena: i < n_blocks >> o. Its buddy is
 * position i ^ 1 (block index s ^ (1 << o)), its parent position i >> 1 at
 * order o + 1. When the buddy's position is out of range (a non-power-of-two
 * arena: the buddy would run past the end) the block never merges. The
 * arena therefore starts as the largest aligned blocks given by the set bits
 * of n_blocks, high to low:
 *
 *     n_blocks = 6 = 0b110:   [0 ........ 4)[4 .. 6)
 *                             order 2, pos 0  order 1, pos 2 (buddy pos 3
 *                                             would be [6, 8): never merges)
 *
 * Free blocks. Order o has a bitmap with one bit per position, set when that
 * block is free (and, by eager merging, its buddy is not). To find the lowest
 * free block of an order in O(log64 n) the bitmap is a tree: level 0 holds
 * the bits, each bit of level l + 1 says "word i of level l is non-zero", and
 * the top level is one word. A word of `avail` says which orders have any
 * free block, so the first order >= k with a block is one ctz. Metadata is
 * about two bits per block for all the bitmaps plus one byte per block.
 *
 * Allocations. meta[s] is zero except at the first block of an allocated
 * piece: its order + 1, plus META_CONT when the piece is not the first of its
 * allocation and META_MORE when another piece of it follows right after. An exact allocation of L blocks
 * (buddy_alloc) taken from an aligned block of order k >= log2(L) is the
 * pieces given by the set bits of L from high to low, laid end to end from
 * the block's start; each piece is naturally aligned, so it is an ordinary
 * buddy block. The rest of the block (the tail) is freed at once, one block
 * per clear bit of L - 1 below k. Freeing walks the chain of pieces from
 * its head (no CONT) while MORE says so, to learn L, then merges upwards
 * from the last block of the allocation (see buddy_free). A pow2
 * allocation is a chain of one piece.
 *
 *     L = 5 in a block of order 3:  [0 ...... 4)[4)[5)[6 .. 8)
 *                                    piece o2  p o0 free o0  free o1
 */
#include "buddy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MORE 0x80u
#define META_CONT 0x40u
#define META_ORDER1 0x3fu /* order + 1; 0: not the head of a piece */

/* 2^60 blocks at most (16-byte blocks, 64-bit offsets): 10 levels of 64. */
#define MAX_LEVELS 11

struct order_map {
    uint64_t n_pos;               /* positions at this order: n_blocks >> o */
    unsigned n_levels;            /* levels of the tree; the top one is one word */
    uint64_t *level[MAX_LEVELS];  /* level[0]: one bit per position */
    uint64_t n_words[MAX_LEVELS];
};

struct buddy {
    uint64_t arena_bytes;
    unsigned shift;               /* log2(min_block_bytes) */
    uint64_t n_blocks;
    unsigned n_orders;
    uint64_t avail;               /* bit o: order o has a free block */
    uint64_t used_blocks;
    uint64_t n_allocs;
    uint64_t n_free[BUDDY_MAX_ORDERS];
    struct order_map map[BUDDY_MAX_ORDERS];
    uint8_t *meta;                /* n_blocks bytes */
    uint64_t *words;              /* all the bitmaps, one allocation */
};

static unsigned floor_log2(uint64_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

static unsigned ceil_log2(uint64_t x)
{
    return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1);
}

static bool map_test(const struct order_map *m, uint64_t pos)
{
    return (m->level[0][pos >> 6] >> (pos & 63)) & 1u;
}

/* The free lists. Positions are block indices >> o. A push sets the bit
 * and every summary bit above it (setting one already set costs less than
 * the mispredicted branch that would skip it). A pop clears a summary bit
 * only when the word below it turns zero; when it takes the order's only
 * free block the path's words are all that one bit, so it zeroes them
 * without reading them (a split leaves one block on each order it passes
 * and a merge takes it back, so that case is common).
 *
 * push_pos and take_free keep n_free[o]; the caller keeps avail: a loop
 * that pushes or takes on several orders gathers their bits in a local and
 * writes avail once, which the compiler cannot do by itself because avail
 * may alias a bitmap word. */

static inline void push_pos(buddy *b, uint64_t pos, unsigned o)
{
    struct order_map *m = &b->map[o];
    for (unsigned l = 0; l < m->n_levels; l++) {
        m->level[l][pos >> 6] |= 1ull << (pos & 63);
        pos >>= 6;
    }
    b->n_free[o]++;
}

/* Clear the summary bits above a level-0 word that has just become zero
 * (the map keeps another free block, so the walk stops below the top). */
static void clear_up(struct order_map *m, uint64_t wpos)
{
    for (unsigned l = 1; l < m->n_levels; l++) {
        uint64_t *w = &m->level[l][wpos >> 6];
        uint64_t v = *w & ~(1ull << (wpos & 63));
        *w = v;
        if (v != 0)
            return;
        wpos >>= 6;
    }
}

/* Take the block at pos off order o's free list if it is there; returns
 * whether it was, and adds bit o to *emptied when it was the last one. pos
 * may be n_pos (the missing buddy of the last block of an odd count): its
 * bit lies in the last word, past the end, and is never set. */
static inline bool take_free(buddy *b, uint64_t pos, unsigned o, uint64_t *emptied)
{
    struct order_map *m = &b->map[o];
    uint64_t *w = &m->level[0][pos >> 6];
    uint64_t bit = 1ull << (pos & 63);
    uint64_t v = *w;
    if ((v & bit) == 0)
        return false;
    if (--b->n_free[o] == 0) {
        for (unsigned l = 0; l < m->n_levels; l++) {
            m->level[l][pos >> 6] = 0;
            pos >>= 6;
        }
        *emptied |= 1ull << o;
        return true;
    }
    v ^= bit;
    *w = v;
    if (v == 0)
        clear_up(m, pos >> 6);
    return true;
}

/* By block index s of a block of order o, as the tests corrupt state. */
static inline void push_free(buddy *b, uint64_t s, unsigned o)
{
    push_pos(b, s >> o, o);
    b->avail |= 1ull << o;
}

/* The block must be free. */
static inline void pop_free(buddy *b, uint64_t s, unsigned o)
{
    uint64_t emptied = 0;
    take_free(b, s >> o, o, &emptied);
    b->avail &= ~emptied;
}

/* The lowest set position; the map must not be empty. */
static uint64_t map_first(const struct order_map *m)
{
    uint64_t pos = 0;
    for (unsigned l = m->n_levels; l-- > 0;)
        pos = (pos << 6) | (unsigned)__builtin_ctzll(m->level[l][pos]);
    return pos;
}

/* Take the lowest free block of the first order >= k that has one, and split
 * it down to order k; returns its block index, or -ENOSPC. */
static inline int take_block(buddy *b, unsigned k, uint64_t *s_out)
{
    if (k >= b->n_orders)
        return -ENOSPC;
    uint64_t cand = b->avail & (~0ull << k);
    if (cand == 0)
        return -ENOSPC;
    unsigned j = (unsigned)__builtin_ctzll(cand);
    uint64_t pos = map_first(&b->map[j]);
    pop_free(b, pos << j, j);
    /* Keep the lower half, free the upper one, down to order k. */
    b->avail |= (1ull << j) - (1ull << k);
    while (j > k) {
        j--;
        pos <<= 1;
        push_pos(b, pos | 1, j);
    }
    *s_out = pos << k;
    return 0;
}

int buddy_create(uint64_t arena_bytes, uint64_t min_block_bytes, buddy **out)
{
    if (out == NULL || min_block_bytes < 16 || (min_block_bytes & (min_block_bytes - 1)) != 0 ||
        arena_bytes < min_block_bytes)
        return -EINVAL;
    unsigned shift = floor_log2(min_block_bytes);
    uint64_t n_blocks = arena_bytes >> shift;
    if (n_blocks > SIZE_MAX / 2)
        return -ENOMEM;

    buddy *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    b->arena_bytes = arena_bytes;
    b->shift = shift;
    b->n_blocks = n_blocks;
    b->n_orders = floor_log2(n_blocks) + 1;

    /* Size every order's bitmap tree, then carve them out of one array. */
    uint64_t total = 0;
    for (unsigned o = 0; o < b->n_orders; o++) {
        struct order_map *m = &b->map[o];
        m->n_pos = n_blocks >> o;
        uint64_t bits = m->n_pos;
        do {
            uint64_t w = (bits + 63) / 64;
            m->n_words[m->n_levels++] = w;
            total += w;
            bits = w;
        } while (bits > 1);
    }
    b->words = calloc(total, sizeof(uint64_t));
    if (b->words == NULL)
        goto err_free_b;
    b->meta = calloc(n_blocks, 1);
    if (b->meta == NULL)
        goto err_free_words;
    uint64_t *p = b->words;
    for (unsigned o = 0; o < b->n_orders; o++) {
        struct order_map *m = &b->map[o];
        for (unsigned l = 0; l < m->n_levels; l++) {
            m->level[l] = p;
            p += m->n_words[l];
        }
    }

    /* The largest aligned blocks, by the set bits of n_blocks high to low. */
    uint64_t s = 0;
    for (unsigned o = b->n_orders; o-- > 0;) {
        if (n_blocks & (1ull << o)) {
            push_free(b, s, o);
            s += 1ull << o;
        }
    }
    *out = b;
    return 0;

err_free_words:
    free(b->words);
err_free_b:
    free(b);
    return -ENOMEM;
}

void buddy_destroy(buddy *b)
{
    if (b == NULL)
        return;
    free(b->meta);
    free(b->words);
    free(b);
}

/* Blocks for `bytes`, or 0 when it cannot fit in the arena at all. */
static uint64_t blocks_for(const buddy *b, uint64_t bytes)
{
    uint64_t n = (bytes >> b->shift) + ((bytes & ((1ull << b->shift) - 1)) != 0);
    return n > b->n_blocks ? 0 : n;
}

int buddy_alloc(buddy *b, uint64_t bytes, uint64_t align, uint64_t *off)
{
    if (b == NULL || off == NULL || bytes == 0 || (align & (align - 1)) != 0)
        return -EINVAL;
    uint64_t len = blocks_for(b, bytes);
    if (len == 0)
        return -ENOSPC;
    unsigned k = ceil_log2(len);
    /* An alignment above the block that holds the request takes a bigger
     * block; its tail is given back like any other. */
    if (align > (1ull << b->shift)) {
        unsigned a = floor_log2(align) - b->shift;
        if (a > k)
            k = a;
    }
    uint64_t s;
    int rc = take_block(b, k, &s);
    if (rc != 0)
        return rc;
    *off = s << b->shift;
    b->used_blocks += len;
    b->n_allocs++;

    /* The pieces: the set bits of len, high to low, laid end to end from s. */
    uint8_t cont = 0;
    uint64_t p = 0, rest = len;
    do {
        unsigned o = floor_log2(rest);
        rest ^= 1ull << o;
        b->meta[s + p] = (uint8_t)((o + 1) | cont | (rest != 0 ? META_MORE : 0));
        cont = META_CONT;
        p += 1ull << o;
    } while (rest != 0);
    /* The tail [len, 2^k) of the block, as aligned blocks from len upwards:
     * one of order o for each bit o < k that is clear in last = len - 1, at
     * (last | (2^o - 1)) + 1 (s is 2^k-aligned, so each fits), and each next
     * one is larger, so none is another's buddy. */
    uint64_t last = len - 1;
    uint64_t tail = ~last & ((1ull << k) - 1);
    b->avail |= tail;
    for (uint64_t z = tail; z != 0; z &= z - 1) {
        unsigned o = (unsigned)__builtin_ctzll(z);
        push_pos(b, ((s + last) >> o) + 1, o);
    }
    return 0;
}

int buddy_alloc_pow2(buddy *b, uint64_t bytes, uint64_t *off)
{
    if (b == NULL || off == NULL || bytes == 0)
        return -EINVAL;
    uint64_t len = blocks_for(b, bytes);
    if (len == 0)
        return -ENOSPC;
    unsigned k = ceil_log2(len);
    uint64_t s;
    int rc = take_block(b, k, &s);
    if (rc != 0)
        return rc;
    b->meta[s] = (uint8_t)(k + 1);
    b->used_blocks += 1ull << k;
    b->n_allocs++;
    *off = s << b->shift;
    return 0;
}

/* The block index of the allocation starting at off, or -EINVAL. */
static int alloc_start(const buddy *b, uint64_t off, uint64_t *s_out)
{
    if ((off & ((1ull << b->shift) - 1)) != 0)
        return -EINVAL;
    uint64_t s = off >> b->shift;
    if (s >= b->n_blocks || (b->meta[s] & META_ORDER1) == 0 || (b->meta[s] & META_CONT) != 0)
        return -EINVAL;
    *s_out = s;
    return 0;
}

/* Free the block at pos of order o, merging it with free buddies. A
 * buddy past the end (pos ^ 1 == n_pos) is never free: see take_free. */
static inline void free_block(buddy *b, uint64_t pos, unsigned o)
{
    unsigned top = b->n_orders - 1;
    uint64_t emptied = 0;
    while (o < top && take_free(b, pos ^ 1, o, &emptied)) {
        pos >>= 1;
        o++;
    }
    push_pos(b, pos, o);
    b->avail = (b->avail & ~emptied) | (1ull << o);
}

int buddy_free(buddy *b, uint64_t off)
{
    uint64_t s;
    if (b == NULL || alloc_start(b, off, &s) != 0)
        return -EINVAL;
    uint8_t mt = b->meta[s];
    b->meta[s] = 0;
    b->n_allocs--;
    unsigned o = (mt & META_ORDER1) - 1u;
    if ((mt & META_MORE) == 0) {
        /* One piece: every pow2 allocation, and exact ones of 2^n blocks. */
        b->used_blocks -= 1ull << o;
        free_block(b, s >> o, o);
        return 0;
    }

    /* Several pieces: the set bits of len, high to low, laid end to end
     * from s, which started a block of order >= c = ceil_log2(len). */
    uint64_t len = 0;
    for (;;) {
        len += 1ull << o;
        if ((mt & META_MORE) == 0)
            break;
        mt = b->meta[s + len];
        b->meta[s + len] = 0;
        o = (mt & META_ORDER1) - 1u;
    }
    b->used_blocks -= len;

    /* Merge from the order-0 block holding the allocation's last block,
     * `last`, up to order c. At order o the merged block is the one holding
     * last, [last & ~(2^o - 1), +2^o). When bit o of last is set, it is a
     * right half: its buddy lies inside the allocation and merges. When the
     * bit is clear, its buddy is the tail block to the right (at alloc time
     * freed whole), which merges only if it is free again. */
    uint64_t last = len - 1;
    unsigned c = floor_log2(len) + 1;
    uint64_t emptied = 0;
    for (uint64_t z = ~last & ((1ull << c) - 1); z != 0; z &= z - 1) {
        o = (unsigned)__builtin_ctzll(z);
        if (!take_free(b, ((s + last) >> o) + 1, o, &emptied)) {
            /* Stuck at order o: free the merged block, then the pieces left
             * of it (the bits of len above o) as they are, since each one's
             * buddy to the right holds the block just freed. */
            push_pos(b, (s + last) >> o, o);
            uint64_t hi = len & ~((2ull << o) - 1);
            b->avail = (b->avail & ~emptied) | (1ull << o) | hi;
            while (hi != 0) {
                unsigned p = (unsigned)__builtin_ctzll(hi);
                hi ^= 1ull << p;
                push_pos(b, (s + hi) >> p, p);
            }
            return 0;
        }
    }
    b->avail &= ~emptied;
    free_block(b, s >> c, c);
    return 0;
}

int buddy_alloc_size(const buddy *b, uint64_t off, uint64_t *bytes)
{
    uint64_t s;
    if (b == NULL || bytes == NULL || alloc_start(b, off, &s) != 0)
        return -EINVAL;
    uint64_t n = 0;
    uint8_t mt;
    do {
        mt = b->meta[s];
        unsigned o = (mt & META_ORDER1) - 1u;
        s += 1ull << o;
        n += 1ull << o;
    } while (mt & META_MORE);
    *bytes = n << b->shift;
    return 0;
}

void buddy_stats_get(const buddy *b, struct buddy_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (b == NULL)
        return;
    st->arena_bytes = b->arena_bytes;
    st->min_block_bytes = 1ull << b->shift;
    st->used_bytes = b->used_blocks << b->shift;
    /* Bytes below one block at the end are never handed out: count them as
     * neither used nor free, so free_bytes is what could be allocated. */
    st->free_bytes = (b->n_blocks - b->used_blocks) << b->shift;
    st->n_allocs = b->n_allocs;
    st->n_orders = b->n_orders;
    memcpy(st->n_free, b->n_free, sizeof(st->n_free));
    if (b->avail != 0)
        st->largest_free_bytes = 1ull << (floor_log2(b->avail) + b->shift);
    if (st->free_bytes != 0)
        st->fragmentation = 1.0 - (double)st->largest_free_bytes / (double)st->free_bytes;
}

/* --- invariant check ----------------------------------------------------- */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (err != NULL && err_len > 0)                                                           \
            snprintf(err, err_len, __VA_ARGS__);                                                   \
        return -EFAULT;                                                                            \
    } while (0)

/* One order's bitmap tree: summaries match, no bits past n_pos, popcount. */
static int check_map(const buddy *b, unsigned o, char *err, size_t err_len)
{
    const struct order_map *m = &b->map[o];
    if (m->n_pos != b->n_blocks >> o)
        FAIL("order %u: %llu positions, expected %llu", o, (unsigned long long)m->n_pos,
             (unsigned long long)(b->n_blocks >> o));
    uint64_t bits = 0;
    for (uint64_t w = 0; w < m->n_words[0]; w++)
        bits += (uint64_t)__builtin_popcountll(m->level[0][w]);
    if (bits != b->n_free[o])
        FAIL("order %u: %llu free bits but n_free says %llu", o, (unsigned long long)bits,
             (unsigned long long)b->n_free[o]);
    if (((b->avail >> o) & 1u) != (bits != 0))
        FAIL("order %u: avail bit %u but %llu free blocks", o, (unsigned)((b->avail >> o) & 1u),
             (unsigned long long)bits);
    uint64_t tail = m->n_pos & 63;
    if (tail != 0 && (m->level[0][m->n_words[0] - 1] >> tail) != 0)
        FAIL("order %u: free bit set past the last position %llu", o,
             (unsigned long long)m->n_pos);
    for (unsigned l = 0; l + 1 < m->n_levels; l++) {
        for (uint64_t w = 0; w < m->n_words[l]; w++) {
            bool up = (m->level[l + 1][w >> 6] >> (w & 63)) & 1u;
            if (up != (m->level[l][w] != 0))
                FAIL("order %u level %u: summary bit %llu is %d, word is %s", o, l + 1,
                     (unsigned long long)w, up, m->level[l][w] ? "non-zero" : "zero");
        }
        uint64_t t = m->n_words[l] & 63;
        if (t != 0 && (m->level[l + 1][m->n_words[l + 1] - 1] >> t) != 0)
            FAIL("order %u level %u: summary bit set past the end", o, l + 1);
    }
    return 0;
}

static int check_zero_meta(const buddy *b, uint64_t from, uint64_t to, char *err, size_t err_len)
{
    for (uint64_t i = from; i < to; i++)
        if (b->meta[i] != 0)
            FAIL("block %llu inside block [%llu, %llu) has metadata 0x%02x",
                 (unsigned long long)i, (unsigned long long)from - 1, (unsigned long long)to,
                 b->meta[i]);
    return 0;
}

int buddy_check(const buddy *b, char *err, size_t err_len)
{
    if (b == NULL)
        FAIL("no allocator");
    if (b->n_blocks == 0 || b->n_orders != floor_log2(b->n_blocks) + 1)
        FAIL("n_orders %u does not fit %llu blocks", b->n_orders, (unsigned long long)b->n_blocks);
    uint64_t total_free = 0;
    for (unsigned o = 0; o < BUDDY_MAX_ORDERS; o++) {
        if (o >= b->n_orders) {
            if (b->n_free[o] != 0 || ((b->avail >> o) & 1u))
                FAIL("order %u beyond the top order has free blocks", o);
            continue;
        }
        int rc = check_map(b, o, err, err_len);
        if (rc != 0)
            return rc;
        total_free += b->n_free[o] << o;
    }

    /* Walk the arena block by block: every block start is either exactly one
     * free block or one allocated piece, and they tile [0, n_blocks). */
    uint64_t n_free_seen = 0, used = 0, n_allocs = 0;
    bool want_cont = false; /* the previous piece said MORE */
    unsigned prev_order = 0;
    uint64_t s = 0;
    while (s < b->n_blocks) {
        uint8_t mt = b->meta[s];
        unsigned max_o = s == 0 ? b->n_orders - 1 : (unsigned)__builtin_ctzll(s);
        if (max_o >= b->n_orders)
            max_o = b->n_orders - 1;
        int free_o = -1;
        for (unsigned o = 0; o <= max_o; o++) {
            if ((s >> o) < b->map[o].n_pos && map_test(&b->map[o], s >> o)) {
                if (free_o >= 0)
                    FAIL("block %llu is free at orders %d and %u", (unsigned long long)s, free_o,
                         o);
                free_o = (int)o;
            }
        }
        if (want_cont && (mt & META_CONT) == 0)
            FAIL("the allocation before block %llu says another piece follows, but none does",
                 (unsigned long long)s);
        if (mt & META_ORDER1) {
            unsigned o = (mt & META_ORDER1) - 1u;
            if (free_o >= 0)
                FAIL("block %llu is allocated (order %u) and free (order %d)",
                     (unsigned long long)s, o, free_o);
            if (o >= b->n_orders || (s & ((1ull << o) - 1)) != 0 || s + (1ull << o) > b->n_blocks)
                FAIL("allocated piece at block %llu has bad order %u", (unsigned long long)s, o);
            if (mt & META_CONT) {
                if (!want_cont || o >= prev_order)
                    FAIL("continuation piece at block %llu (order %u) does not follow a "
                         "larger piece of an allocation",
                         (unsigned long long)s, o);
            } else {
                n_allocs++;
            }
            int rc = check_zero_meta(b, s + 1, s + (1ull << o), err, err_len);
            if (rc != 0)
                return rc;
            used += 1ull << o;
            want_cont = (mt & META_MORE) != 0;
            prev_order = o;
            s += 1ull << o;
        } else {
            if (mt != 0)
                FAIL("block %llu has metadata 0x%02x without an order",
                     (unsigned long long)s, mt);
            if (free_o < 0)
                FAIL("block %llu is neither free nor allocated (a hole in the tiling)",
                     (unsigned long long)s);
            unsigned o = (unsigned)free_o;
            uint64_t pos = s >> o;
            if ((pos ^ 1) < b->map[o].n_pos && map_test(&b->map[o], pos ^ 1))
                FAIL("free block %llu and its buddy %llu (order %u) are not merged",
                     (unsigned long long)s, (unsigned long long)((pos ^ 1) << o), o);
            int rc = check_zero_meta(b, s + 1, s + (1ull << o), err, err_len);
            if (rc != 0)
                return rc;
            n_free_seen++;
            s += 1ull << o;
        }
    }
    if (want_cont)
        FAIL("the last allocation says another piece follows past the end of the arena");
    if (s != b->n_blocks)
        FAIL("blocks run past the end of the arena (%llu > %llu)", (unsigned long long)s,
             (unsigned long long)b->n_blocks);
    uint64_t n_free_total = 0;
    for (unsigned o = 0; o < b->n_orders; o++)
        n_free_total += b->n_free[o];
    if (n_free_seen != n_free_total)
        FAIL("%llu free bits do not start a block of the tiling (%llu of %llu seen)",
             (unsigned long long)(n_free_total - n_free_seen), (unsigned long long)n_free_seen,
             (unsigned long long)n_free_total);
    if (used != b->used_blocks)
        FAIL("allocated pieces cover %llu blocks but used_blocks is %llu",
             (unsigned long long)used, (unsigned long long)b->used_blocks);
    if (used + total_free != b->n_blocks)
        FAIL("used %llu + free %llu blocks != %llu in the arena", (unsigned long long)used,
             (unsigned long long)total_free, (unsigned long long)b->n_blocks);
    if (n_allocs != b->n_allocs)
        FAIL("%llu allocation heads but n_allocs is %llu", (unsigned long long)n_allocs,
             (unsigned long long)b->n_allocs);
    return 0;
}
