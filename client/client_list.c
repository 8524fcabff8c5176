/* client_list.c - what the daemon holds (List, kept as its decoded reply
 * behind accessors) and the stats with their per-uid rows. */
#include <errno.h>
#include <stdlib.h>

#include "client_internal.h"

struct orion_list {
    Orion__Response *resp;      /* owned; every string points into it */
};

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

int orion_client_list(orion_client *c, orion_list **out)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (out == NULL)
        return client_fail(c, -EINVAL, "orion_client_list: out is NULL");
    *out = NULL;
    orion_list *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return client_fail(c, -ENOMEM, "out of memory for a list");
    Orion__List body = ORION__LIST__INIT;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_LIST;
    req.list = &body;
    rc = client_call(c, &req, ORION__RESPONSE__BODY_LIST, &l->resp);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

uint64_t orion_list_arena_bytes(const orion_list *l)
{
    return l != NULL ? l->resp->list->arena_bytes : 0;
}

size_t orion_list_n_graphs(const orion_list *l)
{
    return l != NULL ? l->resp->list->n_graphs : 0;
}

size_t orion_list_n_buffers(const orion_list *l)
{
    return l != NULL ? l->resp->list->n_buffers : 0;
}

int orion_list_graph(const orion_list *l, size_t i, struct orion_list_graph *out)
{
    if (l == NULL || out == NULL || i >= l->resp->list->n_graphs)
        return -EINVAL;
    const Orion__ListGraph *g = l->resp->list->graphs[i];
    *out = (struct orion_list_graph){
        .id = g->id,
        .name = str(g->name),
        .owner_pid = g->owner_pid,
        .owner_uid = g->owner_uid,
        .client_name = str(g->client_name),
        .client_id = g->client_id,
        .workspace_off = g->workspace_offset,
        .workspace_bytes = g->workspace_bytes,
    };
    return 0;
}

int orion_list_buffer(const orion_list *l, size_t i, struct orion_list_buffer *out)
{
    if (l == NULL || out == NULL || i >= l->resp->list->n_buffers)
        return -EINVAL;
    const Orion__ListBuffer *b = l->resp->list->buffers[i];
    *out = (struct orion_list_buffer){
        .name = str(b->name),
        .off = b->offset,
        .bytes = b->bytes,
        .alloc_bytes = b->alloc_bytes,
        .sealed = b->sealed,
        .orphaned = b->orphaned,
        .creator_client_id = b->creator_client_id,
        .creator_pid = b->creator_pid,
        .n_holders = b->n_holders,
    };
    return 0;
}

int orion_list_holder(const orion_list *l, size_t i, size_t j, struct orion_list_holder *out)
{
    if (l == NULL || out == NULL || i >= l->resp->list->n_buffers ||
        j >= l->resp->list->buffers[i]->n_holders)
        return -EINVAL;
    const Orion__ListHolder *h = l->resp->list->buffers[i]->holders[j];
    *out = (struct orion_list_holder){
        .client_id = h->client_id,
        .pid = h->pid,
        .uid = h->uid,
        .client_name = str(h->client_name),
        .conn_holds = h->conn_holds,
        .graph_holds = h->graph_holds,
    };
    return 0;
}

size_t orion_list_n_channels(const orion_list *l)
{
    return l != NULL ? l->resp->list->n_channels : 0;
}

static struct orion_list_end end_of(const Orion__ListEnd *e)
{
    return (struct orion_list_end){
        .client_id = e->client_id,
        .pid = e->pid,
        .uid = e->uid,
        .client_name = str(e->client_name),
        .index = e->index,
    };
}

int orion_list_channel(const orion_list *l, size_t i, struct orion_list_channel *out)
{
    if (l == NULL || out == NULL || i >= l->resp->list->n_channels)
        return -EINVAL;
    const Orion__ListChannel *ch = l->resp->list->channels[i];
    *out = (struct orion_list_channel){
        .name = str(ch->name),
        .off = ch->offset,
        .region_bytes = ch->region_bytes,
        .slot_bytes = ch->slot_bytes,
        .depth = ch->depth,
        .max_consumers = ch->max_consumers,
        .has_producer = ch->producer != NULL,
        .n_consumers = ch->n_consumers,
        .sequence = ch->sequence,
        .slots_in_flight = ch->slots_in_flight,
        .broken = ch->broken,
    };
    if (ch->producer != NULL)
        out->producer = end_of(ch->producer);
    return 0;
}

int orion_list_consumer(const orion_list *l, size_t i, size_t j, struct orion_list_end *out)
{
    if (l == NULL || out == NULL || i >= l->resp->list->n_channels ||
        j >= l->resp->list->channels[i]->n_consumers)
        return -EINVAL;
    *out = end_of(l->resp->list->channels[i]->consumers[j]);
    return 0;
}

void orion_list_free(orion_list *l)
{
    if (l == NULL)
        return;
    orion__response__free_unpacked(l->resp, NULL);
    free(l);
}

int orion_client_stats_uids(orion_client *c, struct orion_stats *st,
                            struct orion_uid_usage *rows, size_t cap, size_t *n_rows)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (st == NULL || n_rows == NULL || (rows == NULL && cap != 0))
        return client_fail(c, -EINVAL, "orion_client_stats_uids: st, n_rows or rows is NULL");
    Orion__Stats body = ORION__STATS__INIT;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &body;
    Orion__Response *resp;
    rc = client_call(c, &req, ORION__RESPONSE__BODY_STATS, &resp);
    if (rc < 0)
        return rc;
    const Orion__StatsReply *s = resp->stats;
    *st = (struct orion_stats){
        .arena_bytes = s->arena_bytes,
        .used_bytes = s->used_bytes,
        .free_bytes = s->free_bytes,
        .largest_free_bytes = s->largest_free_bytes,
        .fragmentation = s->fragmentation,
        .clients = s->clients,
        .graphs = s->graphs,
        .buffers = s->buffers,
        .allocations = s->allocations,
        .plan_cache_hits = s->plan_cache_hits,
        .plan_cache_misses = s->plan_cache_misses,
        .plan_cache_entries = s->plan_cache_entries,
        .channels = s->channels,
    };
    for (size_t i = 0; i < s->n_uids && i < cap; i++)
        rows[i] = (struct orion_uid_usage){
            .uid = s->uids[i]->uid,
            .used_bytes = s->uids[i]->used_bytes,
            .clients = s->uids[i]->clients,
        };
    *n_rows = s->n_uids;
    orion__response__free_unpacked(resp, NULL);
    return 0;
}

int orion_client_stats(orion_client *c, struct orion_stats *st)
{
    size_t n_rows;
    if (st == NULL) {
        int rc = client_check_usable(c);
        return rc < 0 ? rc : client_fail(c, -EINVAL, "orion_client_stats: st is NULL");
    }
    return orion_client_stats_uids(c, st, NULL, 0, &n_rows);
}
