/* frame_cache.c - see frame_cache.h. */
#include "frame_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 256u /* a power of two; entries are few */

struct frame_cache {
    struct frame_cache_entry *bucket[N_BUCKETS];
    struct frame_cache_entry *head, *tail; /* most recent first */
    size_t max_entries, max_bytes;
    struct frame_cache_stats st;
};

int frame_cache_new(size_t max_entries, size_t max_bytes, struct frame_cache **out)
{
    *out = NULL;
    if (max_entries == 0 || max_bytes == 0)
        return -EINVAL;
    struct frame_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    *out = c;
    return 0;
}

static void entry_free(struct frame_cache_entry *e)
{
    wire_graph_free(&e->wg);
    graph_plan_free(&e->plan);
    free(e);
}

void frame_cache_free(struct frame_cache *c)
{
    if (c == NULL)
        return;
    struct frame_cache_entry *e = c->head;
    while (e != NULL) {
        struct frame_cache_entry *next = e->next;
        entry_free(e);
        e = next;
    }
    free(c);
}

/* 64-bit words mixed by multiplication, four lanes at a time (the lanes'
 * multiplies overlap; one chain was a tenth of a cached registration): a
 * bucket index and a quick inequality, not a defence (a collision costs
 * one memcmp). */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h[4] = {0x9e3779b97f4a7c15ull ^ n, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
                     0x27d4eb2f165667c5ull};
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        for (int k = 0; k < 4; k++)
            h[k] = mix(h[k], w[k]);
        p += 32;
        n -= 32;
    }
    uint64_t r = mix(mix(mix(h[0], h[1]), h[2]), h[3]);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        r = mix(r, w);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    r = (r ^ w) * 0xc4ceb9fe1a85ec53ull;
    return r ^ (r >> 29);
}

bool frame_cache_key(const uint8_t *msg, size_t len, uint64_t *request_id,
                     const uint8_t **key, size_t *key_len, uint64_t *hash)
{
    if (len < 2 || msg[0] != 0x08)
        return false;
    uint64_t id = 0;
    size_t i = 1;
    for (unsigned shift = 0; i < len && shift < 64; shift += 7) {
        uint8_t b = msg[i++];
        id |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *request_id = id;
            *key = msg + i;
            *key_len = len - i;
            *hash = hash_bytes(*key, *key_len);
            return true;
        }
    }
    return false;
}

static void lru_unlink(struct frame_cache *c, struct frame_cache_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct frame_cache *c, struct frame_cache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static struct frame_cache_entry **slot_of(struct frame_cache *c, const uint8_t *key,
                                          size_t key_len, uint64_t hash)
{
    struct frame_cache_entry **pe = &c->bucket[hash & (N_BUCKETS - 1)];
    while (*pe != NULL && ((*pe)->hash != hash || (*pe)->key_len != key_len ||
                           memcmp((*pe)->key, key, key_len) != 0))
        pe = &(*pe)->chain;
    return pe;
}

static void drop(struct frame_cache *c, struct frame_cache_entry *e)
{
    struct frame_cache_entry **pe = &c->bucket[e->hash & (N_BUCKETS - 1)];
    while (*pe != e)
        pe = &(*pe)->chain;
    *pe = e->chain;
    lru_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= e->bytes;
    entry_free(e);
}

const struct frame_cache_entry *frame_cache_get(struct frame_cache *c, const uint8_t *key,
                                                size_t key_len, uint64_t hash)
{
    struct frame_cache_entry *e = *slot_of(c, key, key_len, hash);
    if (e == NULL) {
        c->st.misses++;
        return NULL;
    }
    c->st.hits++;
    lru_unlink(c, e);
    lru_push_front(c, e);
    return e;
}

/* What an entry holds: its key, the graph's tensors and names, the plan's
 * lifetimes and offsets. */
static size_t entry_bytes(size_t key_len, const struct wire_graph *wg,
                          const struct graph_plan *plan)
{
    return sizeof(struct frame_cache_entry) + key_len +
           (size_t)wg->g.n_tensors * sizeof(*wg->tensors) + wg->names_len +
           (size_t)plan->n_tensors * (sizeof(*plan->live) + sizeof(*plan->off));
}

int frame_cache_put(struct frame_cache *c, const uint8_t *key, size_t key_len, uint64_t hash,
                    struct wire_graph *wg, struct graph_plan *plan, const char *policy,
                    const struct frame_cache_entry **out)
{
    *out = NULL;
    size_t bytes = entry_bytes(key_len, wg, plan);
    if (bytes > c->max_bytes)
        return -E2BIG;
    struct frame_cache_entry *e = malloc(sizeof(*e) + key_len);
    if (e == NULL)
        return -ENOMEM;
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    e->hash = hash;
    e->bytes = bytes;
    e->policy = policy;
    e->wg = *wg;
    e->plan = *plan;
    memset(wg, 0, sizeof(*wg));
    memset(plan, 0, sizeof(*plan));

    struct frame_cache_entry *old = *slot_of(c, key, key_len, hash);
    if (old != NULL)
        drop(c, old);
    while (c->tail != NULL &&
           (c->st.entries + 1 > c->max_entries || c->st.bytes + bytes > c->max_bytes)) {
        drop(c, c->tail);
        c->st.evictions++;
    }
    struct frame_cache_entry **b = &c->bucket[hash & (N_BUCKETS - 1)];
    e->chain = *b;
    *b = e;
    lru_push_front(c, e);
    c->st.entries++;
    c->st.bytes += bytes;
    *out = e;
    return 0;
}

void frame_cache_get_stats(const struct frame_cache *c, struct frame_cache_stats *out)
{
    *out = c->st;
}
