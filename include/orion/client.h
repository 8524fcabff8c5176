/* orion/client.h - a connection to orionrtd and the arena it shares. */
#ifndef ORION_CLIENT_H
#define ORION_CLIENT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orion_client orion_client;

/* Connect to the daemon at socket_path (NULL = orion_default_socket_path()),
 * shake hands (protocol version) and map the arena from the descriptor the
 * daemon passes. On success *out is a client to free with orion_client_close.
 * On failure *out is NULL and, if err is not NULL, err holds the reason.
 * A client belongs to the process that connected: in a forked child every
 * call on it fails with -ECHILD (connect again in the child). Calls on one
 * client from several threads are serialised. */
ORION_API int orion_client_connect(const char *socket_path, orion_client **out,
                                   char *err, size_t err_len);

/* Close the connection and unmap the arena. The daemon releases everything
 * the connection held (graphs, buffer references), also while children
 * forked since still have the connection's descriptor. Handles made from this
 * client (plans, buffers) must be freed before, or are invalid after.
 * orion_client_close(NULL) does nothing. */
ORION_API void orion_client_close(orion_client *c);

/* What the calling thread's last call on c said if it failed, "" if it
 * succeeded or the thread has made none. Each thread has its own message on
 * each client: threads sharing c see only their own calls' messages, never
 * another thread's, and may call this while another thread's call on c is
 * in progress. The string is valid until the calling thread's next call on
 * c, or orion_client_close(c). */
ORION_API const char *orion_client_error(const orion_client *c);

/* The arena as mapped in this process. */
ORION_API void *orion_client_arena_base(const orion_client *c);
ORION_API uint64_t orion_client_arena_bytes(const orion_client *c);

struct orion_stats {
    uint64_t arena_bytes;
    uint64_t used_bytes;
    uint64_t free_bytes;
    uint64_t largest_free_bytes;
    double fragmentation;   /* 1 - largest_free / free */
    uint32_t clients;
    uint32_t graphs;
    uint32_t buffers;
    uint64_t allocations;   /* live buddy allocations */
    uint64_t plan_cache_hits;    /* registrations whose plan came from the daemon's cache */
    uint64_t plan_cache_misses;  /* registrations it had to plan */
    uint32_t plan_cache_entries; /* plans kept now */
    uint32_t channels;      /* channels alive */
};

/* The daemon's figures, as of now. */
ORION_API int orion_client_stats(orion_client *c, struct orion_stats *st);

#ifdef __cplusplus
}
#endif
#endif
