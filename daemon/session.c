/* session.c - see session.h. */
#include "session.h"

#include "dispatch.h"
#include "server.h"

#include <assert.h>
#include <stdlib.h>

struct sgraph *session_find_graph(struct session *s, uint64_t id)
{
    struct sgraph *g = s->graphs;
    while (g != NULL && g->id != id)
        g = g->next;
    return g;
}

void session_release_graph(struct session *s, struct sgraph *g)
{
    struct server *srv = s->srv;
    struct sgraph **p = &s->graphs;
    while (*p != g)
        p = &(*p)->next;
    *p = g->next;
    s->n_graphs--;
    if (g->has_ws) {
        int rc = buddy_free(srv->buddy, g->ws_off);
        assert(rc == 0);
        (void)rc;
        assert(s->owner.used_bytes >= g->ws_bytes);
        s->owner.used_bytes -= g->ws_bytes;
    }
    for (uint32_t i = 0; i < g->n_bufs; i++) {
        int rc = registry_release(srv->reg, g->bufs[i], &s->owner, REG_HOLD_GRAPH);
        assert(rc == 0);
        (void)rc;
    }
    free(g->bufs);
    free(g->name);
    free(g);
}

void session_release_all(struct session *s, struct session_released *rel)
{
    struct server *srv = s->srv;
    struct buddy_stats before, after;
    buddy_stats_get(srv->buddy, &before);
    registry_wait_cancel(srv->reg, &s->wait);
    if (s->job != NULL) {
        dispatch_detach_job(s->job);
        s->job = NULL;
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
        rel->bytes = after.free_bytes - before.free_bytes;
    }
}
