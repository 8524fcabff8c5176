/* session.c - a connection's graphs and holds, and their release. */
#include "session.h"

#include "server.h"

#include <assert.h>
#include <stdlib.h>

void session_cancel_set(struct session *s, void (*cb)(void *arg), void *arg)
{
    assert(s->cancel_cb == NULL);
    s->cancel_cb = cb;
    s->cancel_arg = arg;
}

void session_cancel_clear(struct session *s)
{
    s->cancel_cb = NULL;
    s->cancel_arg = NULL;
}

struct sgraph *session_find_graph(struct session *s, uint64_t id)
{
    struct sgraph *g = s->graphs;
    while (g != NULL && g->id != id)
        g = g->next;
    return g;
}

void sgraph_free(buddy *b, struct registry *reg, struct reg_owner *o, struct sgraph *g)
{
    for (uint32_t i = g->n_bufs; i-- > 0;) {
        int rc = registry_release(reg, g->bufs[i], o, REG_HOLD_GRAPH);
        assert(rc == 0);
        (void)rc;
    }
    if (g->has_ws) {
        int rc = buddy_free(b, g->ws_off);
        assert(rc == 0);
        (void)rc;
        registry_unaccount(o, g->ws_bytes);
    }
    if (g->mem_bytes > 0)
        registry_uncharge(o, g->mem_bytes);
    free(g->bufs);
    free(g->name);
    free(g);
}

void session_add_graph(struct session *s, struct sgraph *g)
{
    g->next = s->graphs;
    s->graphs = g;
    s->n_graphs++;
}

void session_release_graph(struct session *s, struct sgraph *g)
{
    struct sgraph **p = &s->graphs;
    while (*p != g)
        p = &(*p)->next;
    *p = g->next;
    s->n_graphs--;
    sgraph_free(s->srv->buddy, s->srv->reg, &s->owner, g);
}

void session_release_all(struct session *s, struct session_released *rel)
{
    struct server *srv = s->srv;
    struct buddy_stats before, after;
    buddy_stats_get(srv->buddy, &before);
    registry_wait_cancel(srv->reg, &s->wait);
    /* Channel ends first: a dead consumer's slots free and a dead producer's
     * consumers learn -EPIPE at once; the charge moves before the owner goes. */
    uint32_t n_ends = channels_party_gone(srv->channels, &s->chan);
    if (s->cancel_cb != NULL) {
        void (*cb)(void *) = s->cancel_cb;
        void *arg = s->cancel_arg;
        session_cancel_clear(s);
        cb(arg);
    }
    uint32_t n_graphs = s->n_graphs;
    while (s->graphs != NULL) {
        session_release_graph(s, s->graphs);
        srv->n_graphs--;
    }
    uint64_t holds = registry_owner_conn_holds(&s->owner);
    registry_owner_gone(srv->reg, &s->owner);
    buddy_stats_get(srv->buddy, &after);
    if (rel != NULL) {
        rel->graphs = n_graphs;
        rel->holds = (uint32_t)(holds > UINT32_MAX ? UINT32_MAX : holds);
        rel->channel_ends = n_ends;
        rel->bytes = after.free_bytes - before.free_bytes;
    }
}
