/* orionctl_svg.c - see orionctl_svg.h. Plain SVG 1.1 with a <style> block,
 * readable in any browser; the tooltips are <title> elements. */
#include "orionctl_svg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define W 1200
#define H 720
#define ML 100   /* margins: left, right, top, bottom */
#define MR 30
#define MT 50
#define MB 60
#define PW (W - ML - MR)  /* plot area */
#define PH (H - MT - MB)
#define CELL 2            /* aggregation cell, pixels */

/* XML-escape s into f. */
static void esc(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

static void human(char *buf, size_t len, uint64_t v)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    size_t u = 0;
    while (x >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        x /= 1024.0;
        u++;
    }
    snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", x, units[u]);
}

static void header(FILE *f, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fputs("<style>\n"
          "rect.tensor, rect.block { stroke: #1b1b1b; stroke-width: 0.3; }\n"
          ".k-intermediate { fill: #4e79a7; } .k-input { fill: #59a14f; }\n"
          ".k-output { fill: #f28e2b; } .k-persistent { fill: #9c755f; }\n"
          ".k-export { fill: #e15759; } .k-import { fill: #b07aa1; } .k-buffer { fill: #4e79a7; }\n"
          "rect.aggregate { fill: #4e79a7; opacity: 0.75; }\n"
          "rect.free { fill: #e8e8e8; stroke: #bbb; stroke-width: 0.3; }\n"
          "line.lower-bound { stroke: #d62728; stroke-width: 1.5; stroke-dasharray: 6 4; }\n"
          "line.peak { stroke: #222; stroke-width: 1; }\n"
          ".axis { stroke: #444; stroke-width: 1; } text.label { fill: #222; }\n"
          "</style>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fputs("<text class=\"label\" x=\"10\" y=\"22\" font-size=\"15\">", f);
    esc(f, title);
    fputs("</text>\n", f);
}

/* Per aggregation cell: how many sub-pixel tensors cover it, and their bytes. */
struct cell {
    uint32_t n;
    uint64_t bytes;
};

int svg_plan_write(FILE *f, const struct svg_plan *p)
{
    uint32_t n_ops = 1;
    for (size_t i = 0; i < p->n; i++)
        if (p->t[i].last + 1 > n_ops)
            n_ops = p->t[i].last + 1;
    double ymax = (double)(p->peak_bytes > 0 ? p->peak_bytes : 1);
    double sx = (double)PW / n_ops, sy = (double)PH / ymax;
    enum { CW = PW / CELL + 1, CH = PH / CELL + 1 };
    struct cell *grid = calloc((size_t)CW * CH, sizeof(*grid));
    if (grid == NULL)
        return -1;
    char title[512], a[32], b[32];
    human(a, sizeof(a), p->peak_bytes);
    human(b, sizeof(b), p->lower_bound_bytes);
    snprintf(title, sizeof(title), "%s: %zu tensors over %" PRIu32 " ops, peak %s, lower bound %s, "
             "policy %s", p->title, p->n, n_ops, a, b, p->policy);
    header(f, title);
    size_t drawn = 0, aggregated = 0;
    fprintf(f, "<g id=\"tensors\">\n");
    for (size_t i = 0; i < p->n; i++) {
        const struct svg_tensor *t = &p->t[i];
        double x = ML + t->first * sx, w = (t->last + 1 - t->first) * sx;
        double h = (double)t->bytes * sy, y = MT + PH - ((double)t->off * sy) - h;
        if (w >= 1.0 && h >= 1.0) {
            fprintf(f, "<rect class=\"tensor k-%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                       "height=\"%.2f\"><title>tensor %" PRIu64, t->kind, x, y, w, h, t->id);
            if (t->name != NULL && t->name[0] != '\0') {
                fputs(" ", f);
                esc(f, t->name);
            }
            fprintf(f, " (%s): ops %" PRIu32 "-%" PRIu32 ", offset %" PRIu64 ", %" PRIu64
                       " bytes</title></rect>\n", t->kind, t->first, t->last, t->off, t->bytes);
            drawn++;
            continue;
        }
        /* Thinner than a pixel: counted in every cell it touches. */
        aggregated++;
        int c0 = (int)((x - ML) / CELL), c1 = (int)((x - ML + w) / CELL);
        int r0 = (int)((MT + PH - y - h) / CELL), r1 = (int)((MT + PH - y) / CELL);
        for (int c = c0; c <= c1 && c < CW; c++)
            for (int r = r0; r <= r1 && r < CH; r++) {
                grid[(size_t)r * CW + (size_t)c].n++;
                grid[(size_t)r * CW + (size_t)c].bytes += t->bytes;
            }
    }
    fprintf(f, "</g>\n<g id=\"aggregates\">\n");
    for (int r = 0; r < CH; r++)
        for (int c = 0; c < CW; c++) {
            const struct cell *e = &grid[(size_t)r * CW + (size_t)c];
            if (e->n == 0)
                continue;
            fprintf(f, "<rect class=\"aggregate\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\">"
                       "<title>%" PRIu32 " tensors thinner than a pixel here (%" PRIu64
                       " bytes)</title></rect>\n", ML + c * CELL, MT + PH - (r + 1) * CELL,
                    CELL, CELL, e->n, e->bytes);
        }
    free(grid);
    double ylb = MT + PH - (double)p->lower_bound_bytes * sy;
    fprintf(f, "</g>\n<line class=\"peak\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT,
            ML + PW, MT);
    fprintf(f, "<line class=\"lower-bound\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\">"
               "<title>lower bound %" PRIu64 " bytes</title></line>\n", ML, ylb, ML + PW, ylb,
            p->lower_bound_bytes);
    fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\" fill=\"#d62728\">"
               "lower bound</text>\n", ML + PW, ylb - 4);
    /* Axes: offset up, op index across. */
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT, ML, MT + PH);
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT + PH,
            ML + PW, MT + PH);
    for (int k = 0; k <= 4; k++) {
        char lab[32];
        human(lab, sizeof(lab), (uint64_t)(ymax * k / 4));
        fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                ML - 6, MT + PH - PH * k / 4.0 + 4, lab);
    }
    uint32_t step = (n_ops + 3) / 4;
    for (uint64_t v = 0; v <= n_ops; v += step)
        fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%" PRIu64
                   "</text>\n", ML + PW * (double)v / n_ops, MT + PH + 18, v);
    /* The legend: the kinds drawn. */
    static const char *kinds[] = {"intermediate", "input", "output", "persistent", "buffer"};
    int lx = ML;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t i = 0;
        while (i < p->n && strcmp(p->t[i].kind, kinds[k]) != 0)
            i++;
        if (i == p->n)
            continue;
        fprintf(f, "<rect class=\"k-%s\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\"/>"
                   "<text class=\"label\" x=\"%d\" y=\"%d\">%s</text>\n", kinds[k], lx, H - 30,
                lx + 16, H - 20, kinds[k]);
        lx += 110;
    }
    fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">op index</text>\n",
            ML + PW / 2, H - 18);
    fprintf(f, "<text class=\"label\" x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
               "text-anchor=\"middle\">workspace offset</text>\n", MT + PH / 2, MT + PH / 2);
    fprintf(f, "<!-- %zu tensors drawn, %zu aggregated -->\n</svg>\n", drawn, aggregated);
    return ferror(f) ? -1 : 0;
}

/* ---- the arena -------------------------------------------------------- */

#define ROWS 16
#define ROW_H 30
#define ROW_GAP 6

struct block {
    uint64_t off, bytes;
    uint64_t owner;     /* client id; 0 = no live owner */
    char what[320];
};

static int cmp_block(const void *a, const void *b)
{
    const struct block *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static const char *palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

/* Draw [off, off+bytes) over the rows, splitting at row ends; pieces
 * narrower than a pixel are widened to one so that every block shows. */
static void span(FILE *f, uint64_t arena, uint64_t off, uint64_t bytes, const char *cls,
                 const char *fill, const char *title)
{
    uint64_t per_row = (arena + ROWS - 1) / ROWS;
    while (bytes > 0) {
        uint64_t row = off / per_row, in = off % per_row;
        uint64_t take = bytes < per_row - in ? bytes : per_row - in;
        double x = ML + (double)in * PW / (double)per_row, w = (double)take * PW / (double)per_row;
        if (w < 1.0)
            w = 1.0;
        fprintf(f, "<rect class=\"%s\" x=\"%.2f\" y=\"%" PRIu64 "\" width=\"%.2f\" height=\"%d\"",
                cls, x, MT + row * (ROW_H + ROW_GAP), w, ROW_H);
        if (fill != NULL)
            fprintf(f, " fill=\"%s\"", fill);
        fputs("><title>", f);
        esc(f, title);
        fputs("</title></rect>\n", f);
        off += take;
        bytes -= take;
    }
}

static int arena_draw(FILE *f, const orion_list *l)
{
    size_t ng = orion_list_n_graphs(l), nb = orion_list_n_buffers(l);
    uint64_t arena = orion_list_arena_bytes(l);
    struct block *bl = calloc(ng + nb + 1, sizeof(*bl));
    uint64_t *owners = calloc(ng + nb + 1, sizeof(*owners));
    if (bl == NULL || owners == NULL) {
        free(bl);
        free(owners);
        return -ENOMEM;
    }
    size_t n = 0, n_owners = 0;
    for (size_t i = 0; i < ng; i++) {
        struct orion_list_graph g;
        if (orion_list_graph(l, i, &g) < 0 || g.workspace_bytes == 0)
            continue;
        bl[n] = (struct block){g.workspace_off, g.workspace_bytes, g.client_id, ""};
        snprintf(bl[n].what, sizeof(bl[n].what), "graph %" PRIu64 " '%s' workspace: offset %"
                 PRIu64 ", %" PRIu64 " bytes; pid %" PRId32 " (%s)", g.id, g.name,
                 g.workspace_off, g.workspace_bytes, g.owner_pid, g.client_name);
        n++;
    }
    for (size_t i = 0; i < nb; i++) {
        struct orion_list_buffer b;
        if (orion_list_buffer(l, i, &b) < 0)
            continue;
        bool live = b.creator_pid != 0;
        bl[n] = (struct block){b.off, b.alloc_bytes, live ? b.creator_client_id : 0, ""};
        snprintf(bl[n].what, sizeof(bl[n].what), "buffer '%s': offset %" PRIu64 ", %" PRIu64
                 " bytes (%s), %zu holder%s; creator %s%" PRId32, b.name, b.off, b.bytes,
                 b.sealed ? "sealed" : "open", b.n_holders, b.n_holders == 1 ? "" : "s",
                 live ? "pid " : "gone, was client ", live ? b.creator_pid
                                                           : (int32_t)b.creator_client_id);
        n++;
    }
    qsort(bl, n, sizeof(*bl), cmp_block);
    char title[256], a[32];
    human(a, sizeof(a), arena);
    snprintf(title, sizeof(title), "orionrtd arena: %s in %d rows of %" PRIu64 " bytes; %zu "
             "blocks", a, ROWS, (arena + ROWS - 1) / ROWS, n);
    header(f, title);
    for (int r = 0; r < ROWS; r++) {
        char lab[32];
        human(lab, sizeof(lab), (uint64_t)r * ((arena + ROWS - 1) / ROWS));
        fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                ML - 6, MT + r * (ROW_H + ROW_GAP) + ROW_H / 2 + 4, lab);
    }
    /* Free space: the gaps between the blocks. */
    uint64_t at = 0;
    char t[128];
    for (size_t i = 0; i <= n; i++) {
        uint64_t end = i < n ? bl[i].off : arena;
        if (end > at) {
            snprintf(t, sizeof(t), "free: offset %" PRIu64 ", %" PRIu64 " bytes", at, end - at);
            span(f, arena, at, end - at, "free", NULL, t);
        }
        if (i < n && bl[i].off + bl[i].bytes > at)
            at = bl[i].off + bl[i].bytes;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_owners && owners[k] != bl[i].owner)
            k++;
        if (k == n_owners)
            owners[n_owners++] = bl[i].owner;
        span(f, arena, bl[i].off, bl[i].bytes, "block",
             bl[i].owner == 0 ? "#888888" : palette[k % N_PALETTE], bl[i].what);
    }
    /* The legend: one swatch per owner. */
    int ly = MT + ROWS * (ROW_H + ROW_GAP) + 14;
    for (size_t k = 0; k < n_owners && k < 12; k++) {
        int32_t pid = 0;
        const char *name = "";
        for (size_t i = 0; i < ng && pid == 0; i++) {
            struct orion_list_graph g;
            if (orion_list_graph(l, i, &g) == 0 && g.client_id == owners[k])
                pid = g.owner_pid, name = g.client_name;
        }
        for (size_t i = 0; i < nb && pid == 0; i++) {
            struct orion_list_buffer b;
            if (orion_list_buffer(l, i, &b) == 0 && b.creator_client_id == owners[k])
                pid = b.creator_pid;
        }
        int lx = ML + (int)(k % 4) * 270, yy = ly + (int)(k / 4) * 18;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                   "<text class=\"label\" x=\"%d\" y=\"%d\">", lx, yy,
                owners[k] == 0 ? "#888888" : palette[k % N_PALETTE], lx + 16, yy + 10);
        if (owners[k] == 0)
            fputs("creator gone", f);
        else {
            fprintf(f, "client %" PRIu64 ", pid %" PRId32 " ", owners[k], pid);
            esc(f, name);
        }
        fputs("</text>\n", f);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" class=\"free\"/>"
               "<text class=\"label\" x=\"%d\" y=\"%d\">free</text>\n", ML + 3 * 270,
            ly + 3 * 18 + 6, ML + 3 * 270 + 16, ly + 3 * 18 + 16);
    fputs("</svg>\n", f);
    free(bl);
    free(owners);
    return ferror(f) ? -EIO : 0;
}

int svg_arena_write(orion_client *c, const char *path)
{
    orion_list *l;
    int rc = orion_client_list(c, &l);
    if (rc < 0) {
        fprintf(stderr, "orionctl: stats --svg: list: %s\n", orion_client_error(c));
        return rc;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        rc = -errno;
        fprintf(stderr, "orionctl: stats --svg: %s: cannot open for writing: %s\n", path,
                strerror(-rc));
        orion_list_free(l);
        return rc;
    }
    rc = arena_draw(f, l);
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    if (rc < 0)
        fprintf(stderr, "orionctl: stats --svg: %s: cannot write: %s\n", path, strerror(-rc));
    orion_list_free(l);
    return rc;
}
