/* test_buddy.c - Check suite "buddy": the buddy allocator (core/buddy.c).
 *
 * Expected figures are derived here independently of the allocator: from the
 * arithmetic of the case, or from a shadow model that records which blocks
 * every live allocation covers and computes the canonical free blocks of a
 * buddy system from that occupancy alone.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The suite compiles the allocator itself, so that the corruption tests can
 * reach its private metadata and show that buddy_check catches each broken
 * invariant (the property tests rely on it). The copy in liborion_core.a is
 * then never pulled in: every buddy_* symbol is already defined here. */
#include "buddy.c"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

static void assert_ok(const buddy *b)
{
    char err[256] = "";
    if (buddy_check(b, err, sizeof(err)) != 0)
        ck_abort_msg("buddy_check: %s", err);
}

static struct buddy_stats stats_of(const buddy *b)
{
    struct buddy_stats st;
    buddy_stats_get(b, &st);
    return st;
}

/* ------------------------------------------------------------------------- */

START_TEST(test_buddy_create_rejects_bad_sizes)
{
    buddy *b = NULL;
    ck_assert_int_eq(buddy_create(1 * MiB, 0, &b), -EINVAL);
    ck_assert_int_eq(buddy_create(1 * MiB, 8, &b), -EINVAL);      /* below 16 */
    ck_assert_int_eq(buddy_create(1 * MiB, 3000, &b), -EINVAL);   /* not a power of two */
    ck_assert_int_eq(buddy_create(4095, 4096, &b), -EINVAL);      /* smaller than one block */
    ck_assert_int_eq(buddy_create(0, 4096, &b), -EINVAL);
    ck_assert_int_eq(buddy_create(1 * MiB, 4096, NULL), -EINVAL);
    ck_assert_ptr_null(b);
    buddy_destroy(NULL); /* does nothing */
}
END_TEST

START_TEST(test_buddy_alloc_free_basic)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(1 * MiB, 4 * KiB, &b), 0);
    assert_ok(b);
    struct buddy_stats st = stats_of(b);
    ck_assert_uint_eq(st.arena_bytes, 1 * MiB);
    ck_assert_uint_eq(st.min_block_bytes, 4 * KiB);
    ck_assert_uint_eq(st.n_orders, 9); /* 256 blocks: orders 0..8 */
    ck_assert_uint_eq(st.n_free[8], 1);
    ck_assert_uint_eq(st.free_bytes, 1 * MiB);

    uint64_t a, c;
    ck_assert_int_eq(buddy_alloc(b, 100, 0, &a), 0);
    ck_assert_uint_eq(a, 0); /* lowest block first */
    assert_ok(b);
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 0, &c), 0);
    ck_assert_uint_eq(c, 4 * KiB);
    assert_ok(b);
    uint64_t sz;
    ck_assert_int_eq(buddy_alloc_size(b, a, &sz), 0);
    ck_assert_uint_eq(sz, 4 * KiB);
    st = stats_of(b);
    ck_assert_uint_eq(st.used_bytes, 8 * KiB);
    ck_assert_uint_eq(st.free_bytes, 1 * MiB - 8 * KiB);
    ck_assert_uint_eq(st.n_allocs, 2);
    ck_assert_int_eq(buddy_free(b, a), 0);
    assert_ok(b);
    ck_assert_int_eq(buddy_free(b, c), 0);
    assert_ok(b);
    st = stats_of(b);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.n_allocs, 0);
    ck_assert_uint_eq(st.n_free[8], 1);
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_split_leaves_one_free_block_per_order_and_merges_back)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(1 * MiB, 4 * KiB, &b), 0);
    uint64_t off;
    ck_assert_int_eq(buddy_alloc_pow2(b, 1, &off), 0);
    assert_ok(b);
    /* Splitting the order-8 block down to order 0 frees one upper half at each
     * order 0..7. */
    struct buddy_stats st = stats_of(b);
    for (unsigned o = 0; o < 8; o++)
        ck_assert_uint_eq(st.n_free[o], 1);
    ck_assert_uint_eq(st.n_free[8], 0);
    ck_assert_uint_eq(st.largest_free_bytes, 512 * KiB);
    ck_assert_int_eq(buddy_free(b, off), 0);
    assert_ok(b);
    st = stats_of(b);
    for (unsigned o = 0; o < 8; o++)
        ck_assert_uint_eq(st.n_free[o], 0);
    ck_assert_uint_eq(st.n_free[8], 1);
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_fill_with_min_blocks_then_free_in_random_order_merges_to_one)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(1 * MiB, 4 * KiB, &b), 0);
    uint64_t offs[256];
    bool seen[256] = {false};
    for (unsigned i = 0; i < 256; i++) {
        ck_assert_int_eq(buddy_alloc_pow2(b, 4 * KiB, &offs[i]), 0);
        ck_assert_uint_eq(offs[i] % (4 * KiB), 0);
        ck_assert(!seen[offs[i] / (4 * KiB)]);
        seen[offs[i] / (4 * KiB)] = true;
    }
    assert_ok(b);
    uint64_t x;
    ck_assert_int_eq(buddy_alloc_pow2(b, 1, &x), -ENOSPC);
    ck_assert_int_eq(buddy_alloc(b, 1, 0, &x), -ENOSPC);
    struct buddy_stats st = stats_of(b);
    ck_assert_uint_eq(st.free_bytes, 0);
    ck_assert_uint_eq(st.largest_free_bytes, 0);
    ck_assert(st.fragmentation == 0.0);
    /* Fisher-Yates with a fixed LCG. */
    uint32_t r = 12345;
    for (unsigned i = 255; i > 0; i--) {
        r = r * 1103515245u + 12345u;
        unsigned j = (r >> 8) % (i + 1);
        uint64_t t = offs[i];
        offs[i] = offs[j];
        offs[j] = t;
    }
    for (unsigned i = 0; i < 256; i++) {
        ck_assert_int_eq(buddy_free(b, offs[i]), 0);
        assert_ok(b);
    }
    st = stats_of(b);
    ck_assert_uint_eq(st.n_free[8], 1);
    ck_assert_uint_eq(st.largest_free_bytes, 1 * MiB);
    buddy_destroy(b);
}
END_TEST

/* Non-power-of-two arenas: the initial blocks are the set bits of the block
 * count; the tail below a block is unused; everything can be allocated and
 * freeing it all returns to the initial state (roots never merge). */
START_TEST(test_buddy_non_power_of_two_arenas_tile_and_restore)
{
    static const struct {
        uint64_t arena, min;
    } cases[] = {
        {6 * 4096, 4096},          {7 * 4096, 4096},       {100 * 4096 + 123, 4096},
        {4096, 4096},              {4096 + 4095, 4096},    {1000 * 64 + 63, 64},
        {(1u << 20) - 4096, 4096}, {3 * 16, 16},           {12345 * 16 + 5, 16},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        buddy *b;
        ck_assert_int_eq(buddy_create(cases[c].arena, cases[c].min, &b), 0);
        assert_ok(b);
        uint64_t nb = cases[c].arena / cases[c].min;
        struct buddy_stats st = stats_of(b);
        ck_assert_uint_eq(st.free_bytes, nb * cases[c].min);
        unsigned top = 0;
        for (unsigned o = 0; o < 64; o++) {
            ck_assert_uint_eq(st.n_free[o], (nb >> o) & 1);
            if ((nb >> o) & 1)
                top = o;
        }
        ck_assert_uint_eq(st.n_orders, top + 1);
        ck_assert_uint_eq(st.largest_free_bytes, (1ull << top) * cases[c].min);

        uint64_t *offs = malloc(nb * sizeof(*offs));
        ck_assert_ptr_nonnull(offs);
        for (uint64_t i = 0; i < nb; i++) {
            ck_assert_int_eq(buddy_alloc(b, cases[c].min, 0, &offs[i]), 0);
            ck_assert_uint_lt(offs[i] + cases[c].min, cases[c].arena + 1);
        }
        uint64_t x;
        ck_assert_int_eq(buddy_alloc(b, 1, 0, &x), -ENOSPC);
        assert_ok(b);
        for (uint64_t i = 0; i < nb; i++)
            ck_assert_int_eq(buddy_free(b, offs[nb - 1 - i]), 0);
        assert_ok(b);
        st = stats_of(b);
        for (unsigned o = 0; o < 64; o++)
            ck_assert_uint_eq(st.n_free[o], (nb >> o) & 1);
        free(offs);
        buddy_destroy(b);
    }
}
END_TEST

START_TEST(test_buddy_alloc_exact_holds_only_rounded_size)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(8 * MiB, 4 * KiB, &b), 0);
    uint64_t a, c, d;
    ck_assert_int_eq(buddy_alloc(b, 5 * MiB, 0, &a), 0);
    assert_ok(b);
    struct buddy_stats st = stats_of(b);
    ck_assert_uint_eq(st.used_bytes, 5 * MiB);
    ck_assert_uint_eq(st.free_bytes, 3 * MiB);
    /* The tail 8 - 5 = 3 MiB = 2 MiB + 1 MiB blocks. */
    ck_assert_uint_eq(st.n_free[9], 1);
    ck_assert_uint_eq(st.n_free[8], 1);
    ck_assert_uint_eq(st.largest_free_bytes, 2 * MiB);
    ck_assert(st.fragmentation == 1.0 - 2.0 / 3.0);
    uint64_t sz;
    ck_assert_int_eq(buddy_alloc_size(b, a, &sz), 0);
    ck_assert_uint_eq(sz, 5 * MiB);
    /* The 3 MiB left are allocatable (as the aligned 2 MiB and 1 MiB blocks:
     * one exact 3 MiB request needs an aligned 4 MiB block), and then nothing
     * is left. */
    ck_assert_int_eq(buddy_alloc(b, 3 * MiB, 0, &d), -ENOSPC);
    ck_assert_int_eq(buddy_alloc(b, 2 * MiB, 0, &c), 0);
    ck_assert_uint_eq(c, 6 * MiB);
    ck_assert_int_eq(buddy_alloc(b, 1 * MiB, 0, &d), 0);
    ck_assert_uint_eq(d, 5 * MiB);
    assert_ok(b);
    st = stats_of(b);
    ck_assert_uint_eq(st.used_bytes, 8 * MiB);
    ck_assert_uint_eq(st.free_bytes, 0);
    uint64_t e;
    ck_assert_int_eq(buddy_alloc(b, 1, 0, &e), -ENOSPC);
    ck_assert_int_eq(buddy_free(b, a), 0);
    assert_ok(b);
    ck_assert_int_eq(buddy_free(b, c), 0);
    assert_ok(b);
    ck_assert_int_eq(buddy_free(b, d), 0);
    assert_ok(b);
    st = stats_of(b);
    ck_assert_uint_eq(st.n_free[11], 1);
    ck_assert_uint_eq(st.used_bytes, 0);

    /* A byte count that is not a block multiple rounds up to blocks only. */
    ck_assert_int_eq(buddy_alloc(b, 5 * MiB + 1, 0, &a), 0);
    ck_assert_int_eq(buddy_alloc_size(b, a, &sz), 0);
    ck_assert_uint_eq(sz, 5 * MiB + 4 * KiB);
    ck_assert_uint_eq(stats_of(b).used_bytes, 5 * MiB + 4 * KiB);
    ck_assert_int_eq(buddy_free(b, a), 0);

    /* The classic path holds the whole power of two. */
    ck_assert_int_eq(buddy_alloc_pow2(b, 5 * MiB, &a), 0);
    ck_assert_uint_eq(stats_of(b).used_bytes, 8 * MiB);
    ck_assert_int_eq(buddy_alloc_size(b, a, &sz), 0);
    ck_assert_uint_eq(sz, 8 * MiB);
    ck_assert_int_eq(buddy_free(b, a), 0);
    assert_ok(b);
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_alloc_honours_alignment)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(4 * MiB, 4 * KiB, &b), 0);
    uint64_t a, c, d, e, f;
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 0, &a), 0);
    ck_assert_uint_eq(a, 0);
    /* The next 4 KiB block (4 KiB) is not 64 KiB aligned: skipped. */
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 64 * KiB, &c), 0);
    ck_assert_uint_eq(c % (64 * KiB), 0);
    ck_assert_uint_ne(c, a);
    /* Alignment larger than the block that holds the request. */
    ck_assert_int_eq(buddy_alloc(b, 12 * KiB, 1 * MiB, &d), 0);
    ck_assert_uint_eq(d % (1 * MiB), 0);
    ck_assert_uint_eq(stats_of(b).used_bytes, 4 * KiB + 4 * KiB + 12 * KiB);
    /* Alignment below a block is always met. */
    ck_assert_int_eq(buddy_alloc(b, 100, 256, &e), 0);
    ck_assert_uint_eq(e % 4096, 0);
    /* Bad or impossible alignments. */
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 3 * KiB, &f), -EINVAL);
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 8 * MiB, &f), -ENOSPC);
    assert_ok(b);
    ck_assert_int_eq(buddy_free(b, a), 0);
    ck_assert_int_eq(buddy_free(b, c), 0);
    ck_assert_int_eq(buddy_free(b, d), 0);
    ck_assert_int_eq(buddy_free(b, e), 0);
    assert_ok(b);
    ck_assert_uint_eq(stats_of(b).n_free[10], 1);
    buddy_destroy(b);
}
END_TEST

static void assert_bad_free_changes_nothing(buddy *b, uint64_t off)
{
    struct buddy_stats before = stats_of(b), after;
    ck_assert_int_eq(buddy_free(b, off), -EINVAL);
    uint64_t sz;
    ck_assert_int_eq(buddy_alloc_size(b, off, &sz), -EINVAL);
    after = stats_of(b);
    ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0, "stats changed by bad free of %llu",
                  (unsigned long long)off);
    assert_ok(b);
}

START_TEST(test_buddy_free_rejects_every_bad_offset_and_changes_nothing)
{
    buddy *b;
    /* 40 blocks and a bit: a non-power-of-two arena with an unused tail. */
    ck_assert_int_eq(buddy_create(40 * 4096 + 100, 4096, &b), 0);
    uint64_t a, c, p;
    ck_assert_int_eq(buddy_alloc(b, 5 * 4096, 0, &a), 0);  /* pieces 4 + 1 blocks */
    ck_assert_int_eq(buddy_alloc_pow2(b, 3 * 4096, &p), 0); /* 4 blocks */
    ck_assert_int_eq(buddy_alloc(b, 4096, 0, &c), 0);
    assert_ok(b);

    assert_bad_free_changes_nothing(b, 40 * 4096);         /* past the last block */
    assert_bad_free_changes_nothing(b, 40 * 4096 + 64);    /* in the unused tail */
    assert_bad_free_changes_nothing(b, UINT64_MAX);        /* far out of range */
    assert_bad_free_changes_nothing(b, UINT64_MAX & ~4095ull);
    assert_bad_free_changes_nothing(b, a + 1);             /* misaligned */
    assert_bad_free_changes_nothing(b, a + 2048);
    assert_bad_free_changes_nothing(b, a + 4096);          /* inside the first piece */
    assert_bad_free_changes_nothing(b, a + 4 * 4096);      /* start of the second piece */
    assert_bad_free_changes_nothing(b, p + 4096);          /* inside a pow2 block */
    assert_bad_free_changes_nothing(b, p + 3 * 4096);      /* beyond its request, same block */
    assert_bad_free_changes_nothing(b, 16 * 4096);         /* a free block's start */

    /* Double free: the second is refused and changes nothing. */
    ck_assert_int_eq(buddy_free(b, c), 0);
    assert_ok(b);
    assert_bad_free_changes_nothing(b, c);
    ck_assert_int_eq(buddy_free(b, a), 0);
    assert_bad_free_changes_nothing(b, a);
    assert_bad_free_changes_nothing(b, a + 4 * 4096);
    ck_assert_int_eq(buddy_free(b, p), 0);
    assert_bad_free_changes_nothing(b, p);
    assert_bad_free_changes_nothing(b, 0);
    struct buddy_stats st = stats_of(b);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.n_free[5], 1); /* 40 = 32 + 8 */
    ck_assert_uint_eq(st.n_free[3], 1);
    ck_assert_int_eq(buddy_free(NULL, 0), -EINVAL);
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_alloc_rejects_zero_and_exhausts_with_enospc)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(64 * KiB, 4 * KiB, &b), 0);
    uint64_t x;
    ck_assert_int_eq(buddy_alloc(b, 0, 0, &x), -EINVAL);
    ck_assert_int_eq(buddy_alloc_pow2(b, 0, &x), -EINVAL);
    ck_assert_int_eq(buddy_alloc(b, 64 * KiB + 1, 0, &x), -ENOSPC);
    ck_assert_int_eq(buddy_alloc_pow2(b, 64 * KiB + 1, &x), -ENOSPC);
    ck_assert_int_eq(buddy_alloc(b, UINT64_MAX, 0, &x), -ENOSPC);
    ck_assert_int_eq(buddy_alloc_pow2(b, UINT64_MAX, &x), -ENOSPC);
    ck_assert_int_eq(buddy_alloc(b, 64 * KiB, 0, &x), 0);
    ck_assert_uint_eq(x, 0);
    uint64_t y;
    ck_assert_int_eq(buddy_alloc(b, 1, 0, &y), -ENOSPC);
    ck_assert_int_eq(buddy_free(b, x), 0);
    /* 16 blocks: 7 + 9 exact fit; then 1 more block does not. */
    ck_assert_int_eq(buddy_alloc(b, 7 * 4 * KiB, 0, &x), 0);
    ck_assert_int_eq(buddy_alloc(b, 9 * 4 * KiB, 0, &y), -ENOSPC); /* needs an aligned 16 */
    ck_assert_int_eq(buddy_alloc(b, 8 * 4 * KiB, 0, &y), 0);
    uint64_t z;
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 0, &z), 0);
    ck_assert_int_eq(buddy_alloc(b, 4 * KiB, 0, &z), -ENOSPC);
    assert_ok(b);
    buddy_destroy(b);
}
END_TEST

/* ---- shadow model --------------------------------------------------------- */

/* Check's ck_assert_* records the location of every passing assertion (a
 * write to its pipe), too slow for a million of them; these call into Check
 * only on failure. */
#define REQUIRE_OP(a, op, b)                                                                      \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                       \
        if (!(a_ op b_))                                                                           \
            ck_abort_msg("%s %s %s failed: %lld vs %lld", #a, #op, #b, a_, b_);                    \
    } while (0)
#define REQUIRE_EQ(a, b) REQUIRE_OP(a, ==, b)
#define REQUIRE_LT(a, b) REQUIRE_OP(a, <, b)
#define REQUIRE_LE(a, b) REQUIRE_OP(a, <=, b)
#define REQUIRE_GT(a, b) REQUIRE_OP(a, >, b)
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg("%s failed", #c);                                                         \
    } while (0)
#define REQUIRE_MSG(c, ...)                                                                        \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

struct live {
    uint64_t off, bytes; /* bytes: block-rounded bytes held */
};

struct model {
    uint64_t min, nb;
    int32_t *owner;        /* per block: index in live[], or -1 */
    struct live *live;
    size_t n_live, cap;
    uint64_t used;
};

static void model_init(struct model *m, uint64_t arena, uint64_t min)
{
    m->min = min;
    m->nb = arena / min;
    m->owner = malloc(m->nb * sizeof(*m->owner));
    REQUIRE(m->owner);
    for (uint64_t i = 0; i < m->nb; i++)
        m->owner[i] = -1;
    m->cap = 1024;
    m->live = malloc(m->cap * sizeof(*m->live));
    REQUIRE(m->live);
    m->n_live = 0;
    m->used = 0;
}

static void model_fini(struct model *m)
{
    free(m->owner);
    free(m->live);
}

static void model_mark(struct model *m, size_t idx)
{
    uint64_t s = m->live[idx].off / m->min, n = m->live[idx].bytes / m->min;
    for (uint64_t i = s; i < s + n; i++)
        m->owner[i] = (int32_t)idx;
}

static void model_add(struct model *m, uint64_t off, uint64_t bytes)
{
    REQUIRE_EQ(off % m->min, 0);
    REQUIRE_LE(off + bytes, m->nb * m->min);
    uint64_t s = off / m->min, n = bytes / m->min;
    for (uint64_t i = s; i < s + n; i++)
        REQUIRE_MSG(m->owner[i] < 0, "block %llu handed out twice", (unsigned long long)i);
    if (m->n_live == m->cap) {
        m->cap *= 2;
        m->live = realloc(m->live, m->cap * sizeof(*m->live));
        REQUIRE(m->live);
    }
    m->live[m->n_live] = (struct live){off, bytes};
    model_mark(m, m->n_live++);
    m->used += bytes;
}

static void model_remove(struct model *m, size_t idx)
{
    uint64_t s = m->live[idx].off / m->min, n = m->live[idx].bytes / m->min;
    for (uint64_t i = s; i < s + n; i++)
        m->owner[i] = -1;
    m->used -= m->live[idx].bytes;
    m->live[idx] = m->live[--m->n_live];
    if (idx < m->n_live)
        model_mark(m, idx);
}

/* The free blocks a buddy system with eager merging must have for the model's
 * occupancy: an aligned block inside the arena is free iff none of its blocks
 * is owned and its parent is not (or does not fit in the arena). Fills
 * n_free[], and returns the free block count. */
static void model_expected_free(const struct model *m, uint64_t n_free[64], uint64_t *largest)
{
    memset(n_free, 0, 64 * sizeof(uint64_t));
    *largest = 0;
    /* empty[o][p] through a rolling array: all_free(o, p). */
    uint64_t nb = m->nb;
    bool *cur = malloc(nb * sizeof(bool)), *up = malloc(nb * sizeof(bool));
    REQUIRE(cur != NULL && up != NULL);
    for (uint64_t i = 0; i < nb; i++)
        cur[i] = m->owner[i] < 0;
    for (unsigned o = 0; (nb >> o) > 0; o++) {
        uint64_t np = nb >> o, npp = nb >> (o + 1);
        for (uint64_t p = 0; p < npp; p++)
            up[p] = cur[2 * p] && cur[2 * p + 1];
        for (uint64_t p = 0; p < np; p++) {
            bool parent_free = (p >> 1) < npp && up[p >> 1];
            if (cur[p] && !parent_free) {
                n_free[o]++;
                *largest = (1ull << o) * m->min;
            }
        }
        bool *t = cur;
        cur = up;
        up = t;
    }
    free(cur);
    free(up);
}

static void model_compare(const struct model *m, const buddy *b)
{
    assert_ok(b);
    struct buddy_stats st = stats_of(b);
    REQUIRE_EQ(st.used_bytes, m->used);
    REQUIRE_EQ(st.free_bytes, m->nb * m->min - m->used);
    REQUIRE_EQ(st.n_allocs, m->n_live);
    uint64_t n_free[64], largest;
    model_expected_free(m, n_free, &largest);
    for (unsigned o = 0; o < 64; o++)
        REQUIRE_MSG(st.n_free[o] == n_free[o], "order %u: %llu free blocks, model %llu", o,
                      (unsigned long long)st.n_free[o], (unsigned long long)n_free[o]);
    REQUIRE_EQ(st.largest_free_bytes, largest);
    uint64_t fb = m->nb * m->min - m->used;
    double frag = fb == 0 ? 0.0 : 1.0 - (double)largest / (double)fb;
    REQUIRE_MSG(st.fragmentation == frag, "fragmentation %g, model %g", st.fragmentation, frag);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A size with a log-uniform number of blocks up to nb/2, and a random byte
 * remainder. */
static uint64_t random_bytes(uint64_t *r, const struct model *m)
{
    unsigned top = 0;
    while ((2ull << top) <= m->nb / 2 + 1)
        top++;
    /* Half of them small, so that many allocations are live at once. */
    unsigned lg = (unsigned)(rng_next(r) % (top + 1));
    if ((rng_next(r) & 1) && lg > 2)
        lg %= 3;
    uint64_t blocks = (1ull << lg) + rng_next(r) % (1ull << lg);
    if (blocks > m->nb)
        blocks = m->nb;
    uint64_t bytes = blocks * m->min;
    if (rng_next(r) & 1)
        bytes -= rng_next(r) % m->min; /* not a block multiple */
    return bytes;
}

static uint64_t round_blocks(uint64_t bytes, uint64_t min)
{
    return (bytes + min - 1) / min * min;
}

static uint64_t pow2_ceil(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* n_ops random operations against the model; compare every `every` ops. */
static void run_property(uint64_t arena, uint64_t min, uint64_t seed, unsigned n_ops,
                         unsigned every)
{
    buddy *b;
    REQUIRE_EQ(buddy_create(arena, min, &b), 0);
    struct model m;
    model_init(&m, arena, min);
    uint64_t r = seed;
    unsigned n_enospc = 0, n_ok = 0;
    for (unsigned step = 0; step < n_ops; step++) {
        unsigned what = (unsigned)(rng_next(&r) % 100);
        if (what < 40) {
            uint64_t bytes = random_bytes(&r, &m), align = 0, off;
            unsigned ak = (unsigned)(rng_next(&r) % 4);
            if (ak == 1)
                align = min >> (rng_next(&r) % 3);
            else if (ak == 2)
                align = min << (rng_next(&r) % 6);
            int rc = buddy_alloc(b, bytes, align, &off);
            uint64_t held = round_blocks(bytes, min);
            if (rc == 0) {
                n_ok++;
                if (align != 0)
                    REQUIRE_EQ(off % align, 0);
                uint64_t sz;
                REQUIRE_EQ(buddy_alloc_size(b, off, &sz), 0);
                REQUIRE_EQ(sz, held);
                model_add(&m, off, held);
            } else {
                REQUIRE_EQ(rc, -ENOSPC);
                n_enospc++;
                /* No free block can hold it. */
                uint64_t need = pow2_ceil(held / min) * min;
                if (align > need)
                    need = align;
                REQUIRE_LT(stats_of(b).largest_free_bytes, need);
            }
        } else if (what < 55) {
            uint64_t bytes = random_bytes(&r, &m), off;
            int rc = buddy_alloc_pow2(b, bytes, &off);
            uint64_t held = pow2_ceil(round_blocks(bytes, min) / min) * min;
            if (rc == 0) {
                n_ok++;
                REQUIRE_EQ(off % held, 0);
                model_add(&m, off, held);
            } else {
                REQUIRE_EQ(rc, -ENOSPC);
                n_enospc++;
                REQUIRE_LT(stats_of(b).largest_free_bytes, held);
            }
        } else if (what < 95) {
            if (m.n_live > 0) {
                size_t i = (size_t)(rng_next(&r) % m.n_live);
                REQUIRE_EQ(buddy_free(b, m.live[i].off), 0);
                model_remove(&m, i);
            }
        } else {
            /* A bad free: an offset that is not a live allocation's start. */
            uint64_t off = rng_next(&r) % (arena + 2 * min);
            if (rng_next(&r) & 1)
                off -= off % min;
            bool is_start = false;
            for (size_t i = 0; i < m.n_live; i++)
                is_start |= m.live[i].off == off;
            if (!is_start)
                REQUIRE_EQ(buddy_free(b, off), -EINVAL);
        }
        if (step % every == 0) {
            model_compare(&m, b);
        } else {
            struct buddy_stats st = stats_of(b);
            REQUIRE_EQ(st.used_bytes, m.used);
        }
    }
    model_compare(&m, b);
    /* Both outcomes must have happened, or the run tested little. */
    REQUIRE_GT(n_ok, n_ops / 10);
    REQUIRE_GT(n_enospc, 0);
    while (m.n_live > 0) {
        REQUIRE_EQ(buddy_free(b, m.live[m.n_live - 1].off), 0);
        model_remove(&m, m.n_live - 1);
    }
    model_compare(&m, b);
    model_fini(&m);
    buddy_destroy(b);
}

static const struct {
    uint64_t arena, min;
} shapes[] = {
    {256 * 4096, 4096},      /* power of two */
    {1000 * 64 + 63, 64},    /* not: 1000 = 512 + 256 + 128 + 64 + 32 + 8 */
    {97 * 16, 16},           /* odd block count */
};

START_TEST(test_buddy_random_ops_match_shadow_model_checked_every_step)
{
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        run_property(shapes[s].arena, shapes[s].min, 0x1234 + (uint64_t)_i * 77 + s, 5000, 1);
}
END_TEST

START_TEST(test_buddy_long_random_ops_match_shadow_model)
{
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        run_property(shapes[s].arena, shapes[s].min, 0xabcdef + (uint64_t)_i * 1001 + s, 200000,
                     997);
}
END_TEST

/* ---- buddy_check catches corruption ---------------------------------------- */

/* 64 blocks of 4 KiB with an exact 5-block allocation at 0 (pieces of order
 * 2 and 0, tail blocks 5 (o0) and 6 (o1)) and the free order-3, -4, -5 blocks
 * at 8, 16, 32. */
static buddy *corruptible(uint64_t *a)
{
    buddy *b;
    ck_assert_int_eq(buddy_create(64 * 4096, 4096, &b), 0);
    ck_assert_int_eq(buddy_alloc(b, 5 * 4096, 0, a), 0);
    ck_assert_uint_eq(*a, 0);
    assert_ok(b);
    return b;
}

static void assert_check_fails(buddy *b, const char *needle)
{
    char err[256] = "";
    ck_assert_int_eq(buddy_check(b, err, sizeof(err)), -EFAULT);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
    ck_assert_int_eq(buddy_check(b, NULL, 0), -EFAULT);
}

START_TEST(test_buddy_check_catches_free_bit_inside_allocation)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    push_free(b, 2, 0); /* block 2 lies inside the order-2 piece at 0 */
    assert_check_fails(b, "do not start a block");
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_hole_in_tiling)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    pop_free(b, 8, 3);
    assert_check_fails(b, "hole");
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_unmerged_buddies)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    pop_free(b, 16, 4);
    push_free(b, 16, 3);
    push_free(b, 24, 3);
    assert_check_fails(b, "not merged");
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_block_both_free_and_allocated)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    push_free(b, 4, 0); /* the order-0 piece of the allocation */
    assert_check_fails(b, "allocated");
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_bad_counters)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    b->n_free[3]++;
    assert_check_fails(b, "n_free");
    b->n_free[3]--;
    b->avail ^= 1ull << 3;
    assert_check_fails(b, "avail");
    b->avail ^= 1ull << 3;
    b->used_blocks++;
    assert_check_fails(b, "used_blocks");
    b->used_blocks--;
    b->n_allocs++;
    assert_check_fails(b, "n_allocs");
    b->n_allocs--;
    assert_ok(b);
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_bad_summary_bits)
{
    buddy *b;
    /* 4000 blocks: order 0 has a two-level bitmap tree of 63 words, the last
     * one used up to bit 31. */
    ck_assert_int_eq(buddy_create(4000ull * 4096, 4096, &b), 0);
    uint64_t a;
    ck_assert_int_eq(buddy_alloc_pow2(b, 4096, &a), 0);
    ck_assert_uint_ge(b->map[0].n_levels, 2);
    b->map[0].level[1][0] ^= 2; /* says word 1 of level 0 is non-zero */
    assert_check_fails(b, "summary");
    b->map[0].level[1][0] ^= 2;
    b->map[0].level[0][b->map[0].n_words[0] - 1] |= 1ull << 63; /* past the last position */
    b->n_free[0]++;
    assert_check_fails(b, "past the last position");
    buddy_destroy(b);
}
END_TEST

START_TEST(test_buddy_check_catches_bad_piece_metadata)
{
    uint64_t a;
    buddy *b = corruptible(&a);
    uint8_t saved = b->meta[0];
    b->meta[0] &= (uint8_t)~META_MORE; /* the allocation seems to end after piece 1 */
    assert_check_fails(b, "continuation");
    b->meta[0] = saved;
    b->meta[4] |= META_MORE; /* and now it runs on into the free tail */
    assert_check_fails(b, "another piece follows");
    b->meta[4] &= (uint8_t)~META_MORE;
    b->meta[1] = 1; /* a stray head inside the order-2 piece */
    assert_check_fails(b, "metadata");
    b->meta[1] = 0;
    b->meta[9] = META_CONT; /* flags without an order inside a free block */
    assert_check_fails(b, "metadata");
    b->meta[9] = 0;
    b->meta[8] = META_CONT; /* flags without an order at a free block's start */
    assert_check_fails(b, "without an order");
    b->meta[8] = 0;
    assert_ok(b);
    ck_assert_int_eq(buddy_free(b, a), 0);
    assert_ok(b);
    buddy_destroy(b);
}
END_TEST

static Suite *buddy_suite(void)
{
    Suite *s = suite_create("buddy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buddy_create_rejects_bad_sizes);
    tcase_add_test(tc, test_buddy_alloc_free_basic);
    tcase_add_test(tc, test_buddy_split_leaves_one_free_block_per_order_and_merges_back);
    tcase_add_test(tc, test_buddy_fill_with_min_blocks_then_free_in_random_order_merges_to_one);
    tcase_add_test(tc, test_buddy_non_power_of_two_arenas_tile_and_restore);
    tcase_add_test(tc, test_buddy_alloc_exact_holds_only_rounded_size);
    tcase_add_test(tc, test_buddy_alloc_honours_alignment);
    tcase_add_test(tc, test_buddy_free_rejects_every_bad_offset_and_changes_nothing);
    tcase_add_test(tc, test_buddy_alloc_rejects_zero_and_exhausts_with_enospc);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("check");
    tcase_add_test(tk, test_buddy_check_catches_free_bit_inside_allocation);
    tcase_add_test(tk, test_buddy_check_catches_hole_in_tiling);
    tcase_add_test(tk, test_buddy_check_catches_unmerged_buddies);
    tcase_add_test(tk, test_buddy_check_catches_block_both_free_and_allocated);
    tcase_add_test(tk, test_buddy_check_catches_bad_counters);
    tcase_add_test(tk, test_buddy_check_catches_bad_summary_bits);
    tcase_add_test(tk, test_buddy_check_catches_bad_piece_metadata);
    suite_add_tcase(s, tk);
    TCase *tp = tcase_create("property");
    tcase_set_timeout(tp, 120);
    tcase_add_loop_test(tp, test_buddy_random_ops_match_shadow_model_checked_every_step, 0, 3);
    tcase_add_loop_test(tp, test_buddy_long_random_ops_match_shadow_model, 0, 2);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buddy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
