/* orionctl_plan_out.h - a plan (of a graph or of a MiniMalloc problem) as
 * JSON and as an SVG picture, for `orionctl plan --json / --svg`. */
#ifndef ORION_ORIONCTL_PLAN_OUT_H
#define ORION_ORIONCTL_PLAN_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "graph.h"
#include "problem_csv.h"

/* One JSON object on one line to f: policy, peak_bytes, lower_bound_bytes,
 * ms, and tensors[] of {id, name, kind, dtype, shape, first_op, last_op,
 * offset, bytes} (dtype and shape null: the inputs carry neither; offset
 * null for a tensor outside the workspace). 0 or a negative errno. */
int plan_out_graph_json(FILE *f, const struct graph *g, const struct graph_plan *plan);
int plan_out_problem_json(FILE *f, const struct problem *p, uint64_t peak, uint64_t lb,
                          const char *policy, double ms);

/* Draw the plan to svg_path (orionctl_svg.h); src names the input in the
 * title and in messages (printed). 0 or 1 (the exit status). */
int plan_out_graph_svg(const char *svg_path, const char *src, const struct graph *g,
                       const struct graph_plan *plan);
int plan_out_problem_svg(const char *svg_path, const char *src, const struct problem *p,
                         uint64_t peak, uint64_t lb, const char *policy);

#endif
