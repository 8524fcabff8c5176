/* orionctl_list.c - `orionctl list`: every graph and named buffer a running
 * orionrtd holds, and for whom, as a table or as JSON. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <orion/orion.h>

#include "orionctl.h"
#include "orionctl_out.h"

static void list_usage(FILE *f)
{
    fprintf(f, "usage: orionctl [--socket PATH] list [--json]\n"
               "  show every graph (owner pid, uid and client name, workspace) and named\n"
               "  buffer (bytes, sealed, creator, holders with their pids)\n"
               "  --json  print one JSON object (keys in docs/protocol.md)\n");
}

static json_t *graph_json(const struct orion_list_graph *g)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = out_u64(0, o, "id", g->id);
    rc = out_str(rc, o, "name", g->name);
    rc = out_u64(rc, o, "owner_pid", (uint64_t)(g->owner_pid < 0 ? 0 : g->owner_pid));
    rc = out_u64(rc, o, "owner_uid", g->owner_uid);
    rc = out_str(rc, o, "client_name", g->client_name);
    rc = out_u64(rc, o, "client_id", g->client_id);
    rc = out_u64(rc, o, "workspace_offset", g->workspace_off);
    rc = out_u64(rc, o, "workspace_bytes", g->workspace_bytes);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *holder_json(const struct orion_list_holder *h)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = out_u64(0, o, "pid", (uint64_t)(h->pid < 0 ? 0 : h->pid));
    rc = out_u64(rc, o, "uid", h->uid);
    rc = out_str(rc, o, "client_name", h->client_name);
    rc = out_u64(rc, o, "client_id", h->client_id);
    rc = out_u64(rc, o, "conn_holds", h->conn_holds);
    rc = out_u64(rc, o, "graph_holds", h->graph_holds);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *buffer_json(const orion_list *l, size_t i, const struct orion_list_buffer *b)
{
    json_t *o = json_object();
    json_t *hs = json_array();
    int rc = o == NULL || hs == NULL ? -ENOMEM : 0;
    rc = out_str(rc, o, "name", b->name);
    rc = out_u64(rc, o, "offset", b->off);
    rc = out_u64(rc, o, "bytes", b->bytes);
    rc = out_u64(rc, o, "alloc_bytes", b->alloc_bytes);
    rc = out_bool(rc, o, "sealed", b->sealed);
    rc = out_bool(rc, o, "orphaned", b->orphaned);
    rc = out_u64(rc, o, "creator_pid", (uint64_t)(b->creator_pid < 0 ? 0 : b->creator_pid));
    rc = out_u64(rc, o, "creator_client_id", b->creator_client_id);
    for (size_t j = 0; rc == 0 && j < b->n_holders; j++) {
        struct orion_list_holder h;
        rc = orion_list_holder(l, i, j, &h);
        json_t *e = rc == 0 ? holder_json(&h) : NULL;
        if (rc == 0 && (e == NULL || json_array_append_new(hs, e) != 0))
            rc = -ENOMEM;
    }
    if (rc == 0) {
        rc = out_new(rc, o, "holders", hs);
        hs = NULL;
    }
    json_decref(hs);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *end_json(const struct orion_list_end *e, bool consumer)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = out_u64(0, o, "pid", (uint64_t)(e->pid < 0 ? 0 : e->pid));
    rc = out_u64(rc, o, "uid", e->uid);
    rc = out_str(rc, o, "client_name", e->client_name);
    rc = out_u64(rc, o, "client_id", e->client_id);
    if (consumer)
        rc = out_u64(rc, o, "index", e->index);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *channel_json(const orion_list *l, size_t i, const struct orion_list_channel *c)
{
    json_t *o = json_object();
    json_t *cs = json_array();
    int rc = o == NULL || cs == NULL ? -ENOMEM : 0;
    rc = out_str(rc, o, "name", c->name);
    rc = out_u64(rc, o, "offset", c->off);
    rc = out_u64(rc, o, "region_bytes", c->region_bytes);
    rc = out_u64(rc, o, "slot_bytes", c->slot_bytes);
    rc = out_u64(rc, o, "depth", c->depth);
    rc = out_u64(rc, o, "max_consumers", c->max_consumers);
    rc = out_u64(rc, o, "sequence", c->sequence);
    rc = out_u64(rc, o, "slots_in_flight", c->slots_in_flight);
    rc = out_bool(rc, o, "broken", c->broken);
    if (rc == 0)
        rc = out_new(rc, o, "producer", c->has_producer ? end_json(&c->producer, false)
                                                        : json_null());
    for (size_t j = 0; rc == 0 && j < c->n_consumers; j++) {
        struct orion_list_end e;
        rc = orion_list_consumer(l, i, j, &e);
        json_t *x = rc == 0 ? end_json(&e, true) : NULL;
        if (rc == 0 && (x == NULL || json_array_append_new(cs, x) != 0))
            rc = -ENOMEM;
    }
    if (rc == 0) {
        rc = out_new(rc, o, "consumers", cs);
        cs = NULL;
    }
    json_decref(cs);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int list_json(const orion_list *l)
{
    json_t *o = json_object();
    json_t *gs = json_array(), *bs = json_array(), *cs = json_array();
    int rc = o == NULL || gs == NULL || bs == NULL || cs == NULL ? -ENOMEM : 0;
    rc = out_u64(rc, o, "arena_bytes", orion_list_arena_bytes(l));
    for (size_t i = 0; rc == 0 && i < orion_list_n_graphs(l); i++) {
        struct orion_list_graph g;
        rc = orion_list_graph(l, i, &g);
        json_t *e = rc == 0 ? graph_json(&g) : NULL;
        if (rc == 0 && (e == NULL || json_array_append_new(gs, e) != 0))
            rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < orion_list_n_buffers(l); i++) {
        struct orion_list_buffer b;
        rc = orion_list_buffer(l, i, &b);
        json_t *e = rc == 0 ? buffer_json(l, i, &b) : NULL;
        if (rc == 0 && (e == NULL || json_array_append_new(bs, e) != 0))
            rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < orion_list_n_channels(l); i++) {
        struct orion_list_channel c;
        rc = orion_list_channel(l, i, &c);
        json_t *e = rc == 0 ? channel_json(l, i, &c) : NULL;
        if (rc == 0 && (e == NULL || json_array_append_new(cs, e) != 0))
            rc = -ENOMEM;
    }
    if (rc == 0) {
        rc = out_new(rc, o, "graphs", gs);
        rc = out_new(rc, o, "buffers", bs);
        rc = out_new(rc, o, "channels", cs);
        gs = bs = cs = NULL;
    }
    json_decref(gs);
    json_decref(bs);
    json_decref(cs);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    return out_json(o, stdout);
}

static void list_table(const orion_list *l)
{
    printf("graphs: %zu\n", orion_list_n_graphs(l));
    if (orion_list_n_graphs(l) > 0)
        printf("  %8s %-20s %8s %6s %-16s %14s %14s\n", "ID", "NAME", "PID", "UID", "CLIENT",
               "WS_OFFSET", "WS_BYTES");
    for (size_t i = 0; i < orion_list_n_graphs(l); i++) {
        struct orion_list_graph g;
        if (orion_list_graph(l, i, &g) == 0)
            printf("  %8" PRIu64 " %-20s %8" PRId32 " %6" PRIu32 " %-16s %14" PRIu64
                   " %14" PRIu64 "\n", g.id, g.name, g.owner_pid, g.owner_uid,
                   g.client_name[0] != '\0' ? g.client_name : "-", g.workspace_off,
                   g.workspace_bytes);
    }
    printf("buffers: %zu\n", orion_list_n_buffers(l));
    if (orion_list_n_buffers(l) > 0)
        printf("  %-24s %14s %14s %-8s %8s  %s\n", "NAME", "OFFSET", "BYTES", "STATE",
               "CREATOR", "HOLDERS (pid:client x holds)");
    for (size_t i = 0; i < orion_list_n_buffers(l); i++) {
        struct orion_list_buffer b;
        if (orion_list_buffer(l, i, &b) != 0)
            continue;
        printf("  %-24s %14" PRIu64 " %14" PRIu64 " %-8s %8" PRId32 " ", b.name, b.off, b.bytes,
               b.sealed ? "sealed" : b.orphaned ? "orphaned" : "open", b.creator_pid);
        for (size_t j = 0; j < b.n_holders; j++) {
            struct orion_list_holder h;
            if (orion_list_holder(l, i, j, &h) == 0)
                printf(" %" PRId32 ":%s x%" PRIu64, h.pid,
                       h.client_name[0] != '\0' ? h.client_name : "-",
                       h.conn_holds + h.graph_holds);
        }
        printf("\n");
    }
    printf("channels: %zu\n", orion_list_n_channels(l));
    if (orion_list_n_channels(l) > 0)
        printf("  %-24s %12s %6s %10s %10s %8s %8s  %s\n", "NAME", "SLOT_BYTES", "DEPTH",
               "SEQUENCE", "IN_FLIGHT", "STATE", "PRODUCER", "CONSUMERS (index:pid:client)");
    for (size_t i = 0; i < orion_list_n_channels(l); i++) {
        struct orion_list_channel c;
        if (orion_list_channel(l, i, &c) != 0)
            continue;
        printf("  %-24s %12" PRIu64 " %6" PRIu32 " %10" PRIu64 " %10" PRIu32 " %8s ", c.name,
               c.slot_bytes, c.depth, c.sequence, c.slots_in_flight,
               c.broken ? "broken" : "ok");
        if (c.has_producer)
            printf("%8" PRId32, c.producer.pid);
        else
            printf("%8s", "-");
        printf(" ");
        for (size_t j = 0; j < c.n_consumers; j++) {
            struct orion_list_end e;
            if (orion_list_consumer(l, i, j, &e) == 0)
                printf(" %" PRIu32 ":%" PRId32 ":%s", e.index, e.pid,
                       e.client_name[0] != '\0' ? e.client_name : "-");
        }
        printf("\n");
    }
}

int orionctl_list_main(const char *socket_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool as_json = false;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (ch) {
        case 'j':
            as_json = true;
            break;
        case 'h':
            list_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "orionctl list: unknown option: %s\n", argv[optind - 1]);
            list_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "orionctl list: unexpected argument: %s\n", argv[optind]);
        list_usage(stderr);
        return 2;
    }
    orion_client *c;
    char err[512];
    if (orion_client_connect(socket_path, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "orionctl: %s\n", err);
        return 1;
    }
    orion_list *l;
    int rc = orion_client_list(c, &l);
    if (rc < 0) {
        fprintf(stderr, "orionctl: list: %s\n", orion_client_error(c));
        orion_client_close(c);
        return 1;
    }
    orion_client_close(c);
    int status = 0;
    if (as_json) {
        rc = list_json(l);
        if (rc < 0) {
            fprintf(stderr, "orionctl: list: cannot print JSON: %s\n", orion_strerror(rc));
            status = 1;
        }
    } else {
        list_table(l);
    }
    orion_list_free(l);
    return fflush(stdout) == 0 ? status : 1;
}
