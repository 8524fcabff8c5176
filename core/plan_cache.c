/* plan_cache.c - the plan cache: a hash table of plans by problem, in LRU order, under one lock.
 *
 * Each entry owns one block: the header, then the n buffers (lifetime,
 * size, alignment and the planned offset). Buckets chain entries with the
 * same hash slot; a doubly linked list orders them from the most recently
 * used (head) to the least (tail), which is evicted first. A hit compares
 * the whole key, never the hash alone.
 */
#include "plan_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_MAX 63

struct entry {
    struct entry *chain;        /* next in the bucket */
    struct entry *prev, *next;  /* LRU: prev is more recent */
    uint64_t hash, peak, lower_bound;
    double time_limit_s;
    size_t n, bytes;
    char policy[POLICY_MAX + 1];
    struct plan_buffer b[];     /* the key, with the plan's offsets */
};

struct plan_cache {
    pthread_mutex_t lock;
    struct entry **bucket;
    size_t n_buckets;           /* a power of two */
    struct entry *head, *tail;
    struct plan_cache_stats st;
};

size_t plan_cache_entry_bytes(size_t n)
{
    return sizeof(struct entry) + n * sizeof(struct plan_buffer);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t key_hash(const char *policy, double tl, const struct plan_buffer *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL, t;
    for (const char *p = policy; *p; p++)
        h = mix(h, (unsigned char)*p);
    memcpy(&t, &tl, sizeof(t));
    h = mix(mix(h, t), n);
    /* A lane a field: four chains of multiplies side by side rather than
     * one four times as long (a miss hashes its key twice). */
    uint64_t l0 = h, l1 = h ^ 0x9e3779b97f4a7c15ULL, l2 = h ^ 0xc2b2ae3d27d4eb4fULL,
             l3 = h ^ 0x165667b19e3779f9ULL;
    for (size_t i = 0; i < n; i++) {
        l0 = mix(l0, b[i].lower);
        l1 = mix(l1, b[i].upper);
        l2 = mix(l2, b[i].bytes);
        l3 = mix(l3, b[i].align);
    }
    h = mix(mix(mix(l0, l1), l2), l3);
    return h ^ (h >> 29);
}

static bool key_equal(const struct entry *e, uint64_t hash, const char *policy, double tl,
                      const struct plan_buffer *b, size_t n)
{
    if (e->hash != hash || e->n != n || e->time_limit_s != tl || strcmp(e->policy, policy) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (e->b[i].lower != b[i].lower || e->b[i].upper != b[i].upper ||
            e->b[i].bytes != b[i].bytes || e->b[i].align != b[i].align)
            return false;
    return true;
}

int plan_cache_new(size_t max_entries, size_t max_bytes, struct plan_cache **out)
{
    struct plan_cache *c;
    size_t nb = 16;

    *out = NULL;
    if (max_entries == 0 || max_bytes == 0 || max_entries > SIZE_MAX / 4)
        return -EINVAL;
    while (nb < 2 * max_entries)
        nb *= 2;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->bucket = calloc(nb, sizeof(*c->bucket));
    if (!c->bucket)
        goto err_free_cache;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        goto err_free_buckets;
    c->n_buckets = nb;
    c->st.max_entries = max_entries;
    c->st.max_bytes = max_bytes;
    *out = c;
    return 0;

err_free_buckets:
    free(c->bucket);
err_free_cache:
    free(c);
    return -ENOMEM;
}

static void lru_unlink(struct plan_cache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct plan_cache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Take e out of its bucket and the list, and free it. */
static void drop(struct plan_cache *c, struct entry *e)
{
    struct entry **p = &c->bucket[e->hash & (c->n_buckets - 1)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    lru_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= e->bytes;
    free(e);
}

void plan_cache_free(struct plan_cache *c)
{
    if (!c)
        return;
    while (c->head)
        drop(c, c->head);
    pthread_mutex_destroy(&c->lock);
    free(c->bucket);
    free(c);
}

static struct entry *find(struct plan_cache *c, uint64_t hash, const char *policy, double tl,
                          const struct plan_buffer *b, size_t n)
{
    struct entry *e = c->bucket[hash & (c->n_buckets - 1)];
    while (e && !key_equal(e, hash, policy, tl, b, n))
        e = e->chain;
    return e;
}

int plan_cache_get(struct plan_cache *c, const char *policy, double time_limit_s,
                   struct plan_buffer *b, size_t n, uint64_t *peak, uint64_t *lower_bound)
{
    uint64_t h = key_hash(policy, time_limit_s, b, n);
    struct entry *e;
    int found = 0;

    pthread_mutex_lock(&c->lock);
    e = find(c, h, policy, time_limit_s, b, n);
    if (e) {
        for (size_t i = 0; i < n; i++)
            b[i].off = e->b[i].off;
        *peak = e->peak;
        *lower_bound = e->lower_bound;
        lru_unlink(c, e);
        lru_push_front(c, e);
        c->st.hits++;
        found = 1;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

int plan_cache_put(struct plan_cache *c, const char *policy, double time_limit_s,
                   const struct plan_buffer *b, size_t n, uint64_t peak, uint64_t lower_bound)
{
    uint64_t h = key_hash(policy, time_limit_s, b, n);
    size_t bytes;
    struct entry *e, *old;

    if (strlen(policy) > POLICY_MAX || n > (SIZE_MAX - sizeof(*e)) / sizeof(*b))
        return -E2BIG;
    bytes = plan_cache_entry_bytes(n);
    if (bytes > c->st.max_bytes)
        return -E2BIG;
    /* Built outside the lock: the copy is the O(n) part. */
    e = malloc(bytes);
    if (!e)
        return -ENOMEM;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->peak = peak;
    e->lower_bound = lower_bound;
    e->time_limit_s = time_limit_s;
    e->n = n;
    e->bytes = bytes;
    strcpy(e->policy, policy);
    memcpy(e->b, b, n * sizeof(*b));

    pthread_mutex_lock(&c->lock);
    old = find(c, h, policy, time_limit_s, b, n);
    if (old)
        drop(c, old);
    while (c->tail && (c->st.entries + 1 > c->st.max_entries ||
                       c->st.bytes + bytes > c->st.max_bytes)) {
        drop(c, c->tail);
        c->st.evictions++;
    }
    e->chain = c->bucket[h & (c->n_buckets - 1)];
    c->bucket[h & (c->n_buckets - 1)] = e;
    lru_push_front(c, e);
    c->st.entries++;
    c->st.bytes += bytes;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void plan_cache_get_stats(struct plan_cache *c, struct plan_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
