/* uids.c - per-user connection counts and arena quotas. */
#include "uids.h"

#include <stdlib.h>

struct uid_usage *uids_get(struct uids *u, uid_t uid)
{
    for (struct uid_usage *e = u->list; e != NULL; e = e->next)
        if (e->uid == uid)
            return e;
    struct uid_usage *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->uid = uid;
    e->quota.limit = u->limit;
    e->next = u->list;
    u->list = e;
    return e;
}

void uids_prune(struct uids *u)
{
    struct uid_usage **p = &u->list;
    while (*p != NULL) {
        struct uid_usage *e = *p;
        if (e->conns == 0 && e->quota.used_bytes == 0) {
            *p = e->next;
            free(e);
        } else {
            p = &e->next;
        }
    }
}

void uids_free(struct uids *u)
{
    while (u->list != NULL) {
        struct uid_usage *e = u->list;
        u->list = e->next;
        free(e);
    }
}
