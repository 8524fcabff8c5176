/* frame_cache.h - RegisterGraph frames already decoded and planned, by
 * their bytes.
 *
 * A replica of a model, or a worker that registers and releases the same
 * graph every iteration, sends the same bytes each time but for the
 * request id. Decoding them, computing lifetimes and looking the plan up
 * were most of such a registration's cost; a frame whose bytes after its
 * leading request id equal those of one kept (memcmp, behind a hash) reuses
 * that frame's graph and plan as they were. Decoding and planning are pure
 * functions of the bytes and of limits fixed for the daemon's life, so the
 * result is the same; only placing the workspace and the reply are per
 * registration.
 *
 * Bounded in entries and bytes, least recently used out first. Pure (no
 * I/O, no libuv) and not locked: the event loop's alone. */
#ifndef ORION_FRAME_CACHE_H
#define ORION_FRAME_CACHE_H

#include "graph.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame_cache;

/* A kept frame: read-only for users, valid until the next frame_cache_put
 * or frame_cache_free. */
struct frame_cache_entry {
    struct wire_graph wg;       /* its graph (ops dropped: liveness has run) */
    struct graph_plan plan;     /* and its plan */
    const char *policy;         /* the policy that planned it (a static name) */
    /* The cache's own: */
    struct frame_cache_entry *chain, *prev, *next;
    uint64_t hash;
    size_t key_len, bytes;
    uint8_t key[];
};

/* At most max_entries frames and max_bytes (both > 0): 0 and *out,
 * -EINVAL or -ENOMEM. */
int frame_cache_new(size_t max_entries, size_t max_bytes, struct frame_cache **out);
void frame_cache_free(struct frame_cache *c);

/* The key of msg[0..len): the bytes after a leading request_id field (key
 * 1, a varint), its hash and the id. false when msg does not start with
 * one (such a frame is not cached). */
bool frame_cache_key(const uint8_t *msg, size_t len, uint64_t *request_id,
                     const uint8_t **key, size_t *key_len, uint64_t *hash);

/* The entry of key, made the most recent; NULL if none. Counts a hit or a
 * miss. */
const struct frame_cache_entry *frame_cache_get(struct frame_cache *c, const uint8_t *key,
                                                size_t key_len, uint64_t hash);

/* Keep key with *wg and *plan (taken: zeroed on success), evicting the
 * least recently used until it fits. Returns 0 and *out (the entry, which
 * the caller may use at once), -E2BIG (larger than the whole cache; nothing
 * taken) or -ENOMEM. */
int frame_cache_put(struct frame_cache *c, const uint8_t *key, size_t key_len, uint64_t hash,
                    struct wire_graph *wg, struct graph_plan *plan, const char *policy,
                    const struct frame_cache_entry **out);

struct frame_cache_stats {
    uint64_t hits, misses, evictions;
    size_t entries, bytes;
};
void frame_cache_get_stats(const struct frame_cache *c, struct frame_cache_stats *out);

#endif
