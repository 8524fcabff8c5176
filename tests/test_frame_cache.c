/* test_frame_cache.c - the daemon's cache of RegisterGraph frames decoded
 * and planned (daemon/frame_cache.c): keys, hits, misses, eviction by
 * entries and by bytes, and that what it keeps is what was put. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame_cache.h"

/* A frame: field 1 (request id) as a varint, then `body`. */
static size_t frame(uint8_t *out, uint64_t id, const char *body)
{
    size_t n = 0;
    out[n++] = 0x08;
    do {
        out[n] = (uint8_t)(id & 0x7f);
        id >>= 7;
        out[n++] |= id ? 0x80 : 0;
    } while (id);
    size_t b = strlen(body);
    memcpy(out + n, body, b);
    return n + b;
}

/* A decoded graph of nt tensors with a name block, and its plan, as the
 * daemon would hand them over. */
static void make_graph(struct wire_graph *wg, struct graph_plan *p, uint32_t nt, uint64_t tag)
{
    memset(wg, 0, sizeof(*wg));
    memset(p, 0, sizeof(*p));
    wg->tensors = calloc(nt, sizeof(*wg->tensors));
    wg->names_len = 8;
    wg->names = malloc(wg->names_len);
    ck_assert(wg->tensors && wg->names);
    memcpy(wg->names, "graphnm", 8);
    for (uint32_t i = 0; i < nt; i++)
        wg->tensors[i] = (struct graph_tensor){ .id = tag + i, .bytes = 64 * (i + 1) };
    wg->g.name = wg->names;
    wg->g.tensors = wg->tensors;
    wg->g.n_tensors = nt;
    p->n_tensors = nt;
    p->live = calloc(nt, sizeof(*p->live));
    p->off = calloc(nt, sizeof(*p->off));
    ck_assert(p->live && p->off);
    for (uint32_t i = 0; i < nt; i++)
        p->off[i] = 128 * i + tag;
    p->peak_bytes = 1000 + tag;
}

static const struct frame_cache_entry *put(struct frame_cache *c, const uint8_t *msg, size_t len,
                                           uint32_t nt, uint64_t tag, int want)
{
    uint64_t id, h;
    const uint8_t *key;
    size_t key_len;
    ck_assert(frame_cache_key(msg, len, &id, &key, &key_len, &h));
    struct wire_graph wg;
    struct graph_plan p;
    make_graph(&wg, &p, nt, tag);
    const struct frame_cache_entry *e = NULL;
    ck_assert_int_eq(frame_cache_put(c, key, key_len, h, &wg, &p, "portfolio", &e), want);
    if (want < 0) {
        ck_assert_ptr_null(e);
        ck_assert_ptr_nonnull(wg.tensors); /* nothing taken */
        wire_graph_free(&wg);
        graph_plan_free(&p);
    } else {
        ck_assert_ptr_null(wg.tensors); /* taken */
        ck_assert_ptr_null(p.off);
    }
    return e;
}

static const struct frame_cache_entry *get(struct frame_cache *c, const uint8_t *msg, size_t len)
{
    uint64_t id, h;
    const uint8_t *key;
    size_t key_len;
    ck_assert(frame_cache_key(msg, len, &id, &key, &key_len, &h));
    return frame_cache_get(c, key, key_len, h);
}

START_TEST(test_key_is_the_bytes_after_a_leading_request_id)
{
    uint8_t a[64], b[64];
    size_t na = frame(a, 5, "\x1a\x02" "xy"), nb = frame(b, 300000, "\x1a\x02" "xy");
    uint64_t id, ha, hb;
    const uint8_t *ka, *kb;
    size_t la, lb;
    ck_assert(frame_cache_key(a, na, &id, &ka, &la, &ha));
    ck_assert_uint_eq(id, 5);
    ck_assert(frame_cache_key(b, nb, &id, &kb, &lb, &hb));
    ck_assert_uint_eq(id, 300000);
    ck_assert_uint_eq(la, 4);
    ck_assert_uint_eq(lb, 4);
    ck_assert_int_eq(memcmp(ka, kb, 4), 0);
    ck_assert_uint_eq(ha, hb);
    /* No leading request id, or a varint that never ends: no key. */
    const uint8_t nolead[] = {0x1a, 0x00}, unended[] = {0x08, 0x80, 0x80};
    ck_assert(!frame_cache_key(nolead, sizeof(nolead), &id, &ka, &la, &ha));
    ck_assert(!frame_cache_key(unended, sizeof(unended), &id, &ka, &la, &ha));
}
END_TEST

START_TEST(test_hit_returns_what_was_put_and_other_bytes_miss)
{
    struct frame_cache *c;
    ck_assert_int_eq(frame_cache_new(8, 1 << 20, &c), 0);
    uint8_t f1[64], f2[64], f3[64];
    size_t n1 = frame(f1, 1, "\x1a\x03" "abc"), n2 = frame(f2, 99, "\x1a\x03" "abc"),
           n3 = frame(f3, 1, "\x1a\x03" "abd");
    const struct frame_cache_entry *e = put(c, f1, n1, 3, 10, 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_eq(get(c, f2, n2), e); /* another request id: the same */
    ck_assert_uint_eq(e->wg.g.n_tensors, 3);
    ck_assert_uint_eq(e->wg.g.tensors[2].id, 12);
    ck_assert_uint_eq(e->plan.off[2], 256 + 10);
    ck_assert_uint_eq(e->plan.peak_bytes, 1010);
    ck_assert_str_eq(e->policy, "portfolio");
    ck_assert_ptr_null(get(c, f3, n3));
    struct frame_cache_stats st;
    frame_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.entries, 1);
    /* The same key again replaces the entry. */
    put(c, f2, n2, 2, 20, 0);
    frame_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(get(c, f1, n1)->wg.g.n_tensors, 2);
    frame_cache_free(c);
}
END_TEST

START_TEST(test_least_recently_used_goes_first_by_entries_and_by_bytes)
{
    struct frame_cache *c;
    ck_assert_int_eq(frame_cache_new(3, 1 << 20, &c), 0);
    uint8_t f[5][16];
    size_t n[5];
    const char *bodies[5] = {"\x1a\x01" "a", "\x1a\x01" "b", "\x1a\x01" "c", "\x1a\x01" "d",
                             "\x1a\x01" "e"};
    for (int i = 0; i < 5; i++)
        n[i] = frame(f[i], 7, bodies[i]);
    for (int i = 0; i < 3; i++)
        put(c, f[i], n[i], 2, (uint64_t)i, 0);
    ck_assert_ptr_nonnull(get(c, f[0], n[0])); /* 0 is recent now: 1 is the oldest */
    put(c, f[3], n[3], 2, 3, 0);
    ck_assert_ptr_null(get(c, f[1], n[1]));
    ck_assert_ptr_nonnull(get(c, f[0], n[0]));
    ck_assert_ptr_nonnull(get(c, f[2], n[2]));
    ck_assert_ptr_nonnull(get(c, f[3], n[3]));
    struct frame_cache_stats st;
    frame_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_uint_eq(st.entries, 3);
    frame_cache_free(c);

    /* By bytes: room for about two entries of 100 tensors. */
    ck_assert_int_eq(frame_cache_new(100, 2 * 100 * 72 + 2 * 400, &c), 0);
    put(c, f[0], n[0], 100, 0, 0);
    put(c, f[1], n[1], 100, 1, 0);
    put(c, f[2], n[2], 100, 2, 0);
    frame_cache_get_stats(c, &st);
    ck_assert_uint_le(st.bytes, 2 * 100 * 72 + 2 * 400);
    ck_assert_uint_ge(st.evictions, 1);
    ck_assert_ptr_null(get(c, f[0], n[0]));
    ck_assert_ptr_nonnull(get(c, f[2], n[2]));
    /* Larger than the whole cache: refused, nothing taken or lost. */
    put(c, f[4], n[4], 1000, 4, -E2BIG);
    ck_assert_ptr_nonnull(get(c, f[2], n[2]));
    frame_cache_free(c);
    frame_cache_free(NULL);
    ck_assert_int_eq(frame_cache_new(0, 1, &c), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("frame_cache");
    TCase *t = tcase_create("core");
    tcase_add_test(t, test_key_is_the_bytes_after_a_leading_request_id);
    tcase_add_test(t, test_hit_returns_what_was_put_and_other_bytes_miss);
    tcase_add_test(t, test_least_recently_used_goes_first_by_entries_and_by_bytes);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
