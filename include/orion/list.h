/* orion/list.h - what the daemon holds and for whom (List), and its bytes
 * per uid. */
#ifndef ORION_LIST_H
#define ORION_LIST_H

#include "client.h"
#include "common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orion_list orion_list;

/* A registered graph. Strings are valid until orion_list_free. */
struct orion_list_graph {
    uint64_t id;
    const char *name;
    int32_t owner_pid;
    uint32_t owner_uid;
    const char *client_name;     /* the owner's name at the handshake */
    uint64_t client_id;          /* the daemon's number for the owning connection */
    uint64_t workspace_off;      /* arena offset */
    uint64_t workspace_bytes;    /* 0: the graph has no workspace */
};

/* A named buffer. */
struct orion_list_buffer {
    const char *name;
    uint64_t off;
    uint64_t bytes;              /* as asked */
    uint64_t alloc_bytes;        /* as allocated */
    bool sealed;
    bool orphaned;               /* its creator left before sealing it */
    uint64_t creator_client_id;
    int32_t creator_pid;         /* 0 once the creator has disconnected */
    size_t n_holders;
};

/* One connection holding a buffer. */
struct orion_list_holder {
    uint64_t client_id;
    int32_t pid;
    uint32_t uid;
    const char *client_name;
    uint64_t conn_holds;         /* create, open and wait holds */
    uint64_t graph_holds;        /* export and import holds of its graphs */
};

/* One end of a channel: the connection holding it. */
struct orion_list_end {
    uint64_t client_id;
    int32_t pid;
    uint32_t uid;
    const char *client_name;
    uint32_t index;              /* consumers: the consumer index */
};

/* A channel. */
struct orion_list_channel {
    const char *name;
    uint64_t off;                /* arena offset of its region */
    uint64_t region_bytes;
    uint64_t slot_bytes;
    uint32_t depth;
    uint32_t max_consumers;
    bool has_producer;           /* false while it has none (gone, before a takeover) */
    struct orion_list_end producer;
    size_t n_consumers;
    uint64_t sequence;           /* messages published: the next one's seq */
    uint32_t slots_in_flight;    /* slots not free */
    bool broken;                 /* its control block was found corrupt */
};

/* Ask the daemon what it holds now. On 0, *out is a snapshot to free with
 * orion_list_free. */
ORION_API int orion_client_list(orion_client *c, orion_list **out);

/* The arena's size, as the daemon reported it with the list. */
ORION_API uint64_t orion_list_arena_bytes(const orion_list *l);

/* Graphs (by owning connection, newest first) and buffers (by name). */
ORION_API size_t orion_list_n_graphs(const orion_list *l);
ORION_API size_t orion_list_n_buffers(const orion_list *l);

/* Fill *out with graph / buffer i, or holder j of buffer i. 0, or -EINVAL
 * when an index is out of range. */
ORION_API int orion_list_graph(const orion_list *l, size_t i, struct orion_list_graph *out);
ORION_API int orion_list_buffer(const orion_list *l, size_t i, struct orion_list_buffer *out);
ORION_API int orion_list_holder(const orion_list *l, size_t i, size_t j,
                                struct orion_list_holder *out);

/* Channels (by name): their count, channel i, consumer j of channel i. 0, or
 * -EINVAL when an index is out of range. */
ORION_API size_t orion_list_n_channels(const orion_list *l);
ORION_API int orion_list_channel(const orion_list *l, size_t i, struct orion_list_channel *out);
ORION_API int orion_list_consumer(const orion_list *l, size_t i, size_t j,
                                  struct orion_list_end *out);

/* orion_list_free(NULL) does nothing. */
ORION_API void orion_list_free(orion_list *l);

/* Bytes charged to one uid's live connections (workspaces and the buffers
 * they created). */
struct orion_uid_usage {
    uint32_t uid;
    uint64_t used_bytes;
    uint32_t clients;
};

/* orion_client_stats, and the per-uid rows of the same reply (ascending
 * uid): up to cap of them in rows (may be NULL if cap is 0), their total in
 * *n_rows. */
ORION_API int orion_client_stats_uids(orion_client *c, struct orion_stats *st,
                                      struct orion_uid_usage *rows, size_t cap, size_t *n_rows);

#ifdef __cplusplus
}
#endif
#endif
