/* orionctl_metrics.c - `orionctl stats --prometheus`: the daemon's figures in
 * Prometheus's text exposition format (version 0.0.4), for node-exporter's
 * textfile collector or any scraper that reads a file. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "orionctl_metrics.h"

struct gauge {
    const char *name;
    const char *help;
};

static void head(FILE *f, const struct gauge *g)
{
    fprintf(f, "# HELP orionrtd_%s %s\n# TYPE orionrtd_%s gauge\n", g->name, g->help, g->name);
}

static void gauge_u64(FILE *f, const struct gauge *g, uint64_t v)
{
    head(f, g);
    fprintf(f, "orionrtd_%s %" PRIu64 "\n", g->name, v);
}

int metrics_write(FILE *f, const struct orion_stats *st, const struct orion_uid_usage *rows,
                  size_t n_rows)
{
    static const struct gauge arena = {"arena_bytes", "Size of the shared arena in bytes."};
    static const struct gauge used = {"used_bytes", "Arena bytes allocated."};
    static const struct gauge free_ = {"free_bytes", "Arena bytes free."};
    static const struct gauge largest = {"largest_free_block_bytes",
                                         "Bytes of the largest free block of the arena."};
    static const struct gauge frag = {"fragmentation_ratio",
                                      "1 - largest free block / free bytes (0 when nothing is free)."};
    static const struct gauge clients = {"clients", "Connections served."};
    static const struct gauge graphs = {"graphs", "Graphs registered."};
    static const struct gauge buffers = {"buffers", "Named buffers."};
    static const struct gauge allocs = {"allocations", "Live allocations of the buddy allocator."};
    static const struct gauge uid_used = {"uid_used_bytes",
                                          "Arena bytes charged to a uid's live connections."};
    static const struct gauge uid_clients = {"uid_clients", "Connections of a uid."};

    gauge_u64(f, &arena, st->arena_bytes);
    gauge_u64(f, &used, st->used_bytes);
    gauge_u64(f, &free_, st->free_bytes);
    gauge_u64(f, &largest, st->largest_free_bytes);
    head(f, &frag);
    fprintf(f, "orionrtd_%s %.6f\n", frag.name, isfinite(st->fragmentation) ? st->fragmentation : 0.0);
    gauge_u64(f, &clients, st->clients);
    gauge_u64(f, &graphs, st->graphs);
    gauge_u64(f, &buffers, st->buffers);
    gauge_u64(f, &allocs, st->allocations);
    head(f, &uid_used);
    for (size_t i = 0; i < n_rows; i++)
        fprintf(f, "orionrtd_%s{uid=\"%" PRIu32 "\"} %" PRIu64 "\n", uid_used.name, rows[i].uid,
                rows[i].used_bytes);
    head(f, &uid_clients);
    for (size_t i = 0; i < n_rows; i++)
        fprintf(f, "orionrtd_%s{uid=\"%" PRIu32 "\"} %" PRIu32 "\n", uid_clients.name,
                rows[i].uid, rows[i].clients);
    return ferror(f) ? -1 : 0;
}
