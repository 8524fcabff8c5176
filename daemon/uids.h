/* uids.h - what each user (peer uid) has: connections, and arena bytes
 * against the per-user quota. One record per uid seen, kept while it has
 * connections or bytes. */
#ifndef ORION_UIDS_H
#define ORION_UIDS_H

#include "registry.h"

#include <stdint.h>
#include <sys/types.h>

struct uid_usage {
    uid_t uid;
    uint32_t conns;
    struct reg_quota quota;   /* arena bytes of its connections and of their buffers */
    struct uid_usage *next;
};

struct uids {
    struct uid_usage *list;   /* few users on a host: a list */
    uint64_t limit;           /* each user's quota limit, 0 = none */
};

/* The record of uid, made (conns 0) if there is none. NULL: out of memory. */
struct uid_usage *uids_get(struct uids *u, uid_t uid);

/* Drop records with no connection and no bytes. */
void uids_prune(struct uids *u);

/* Free every record. */
void uids_free(struct uids *u);

#endif
