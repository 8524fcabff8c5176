/* orionctl_svg.h - pictures: a plan (op index across, workspace offset up, a
 * rectangle per tensor) and the arena of a running daemon (blocks by owner,
 * free space). */
#ifndef ORION_ORIONCTL_SVG_H
#define ORION_ORIONCTL_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <orion/orion.h>

/* One tensor of a plan: live over ops [first, last], at workspace offset off. */
struct svg_tensor {
    uint64_t id;
    const char *name;   /* may be NULL */
    const char *kind;   /* "intermediate", "input", ...; also its colour class */
    uint32_t first, last;
    uint64_t off, bytes;
};

struct svg_plan {
    const struct svg_tensor *t;
    size_t n;
    uint64_t peak_bytes, lower_bound_bytes;
    const char *policy;
    const char *title;  /* the input's name */
};

/* Write the plan as SVG to f: one <rect class="tensor k-KIND"> with a
 * <title> per tensor at least a pixel wide and high; tensors thinner than
 * that are summed into <rect class="aggregate"> cells of 2x2 pixels (their
 * <title> says how many tensors and bytes); <line class="lower-bound"> and
 * <line class="peak">. Returns 0, or -1 if writing failed. */
int svg_plan_write(FILE *f, const struct svg_plan *p);

/* Fetch the list from c and draw the arena to path: rows of the arena's
 * bytes, each allocation (a graph's workspace, a named buffer) a
 * <rect class="block"> coloured by owner, with a <title>; free space as
 * <rect class="free">; a legend of owners. Messages on stderr. 0 or a
 * negative errno. */
int svg_arena_write(orion_client *c, const char *path);

#endif
