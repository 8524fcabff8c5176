/* graph_json.h - read (and write) orionrtd graph JSON.
 *
 * The format is /work/shared/bench/graphs/README.md's:
 *   {"name": "...",
 *    "tensors": [{"id": 0, "bytes": 16, "kind": "input", "align": 64,
 *                 "share": "stage1/out", "name": "..."}, ...],
 *    "ops": [{"name": "CONV_2D", "inputs": [0, 1], "outputs": [2]}, ...]}
 * "tensors" and "ops" are required arrays (they may be empty here; liveness
 * refuses an empty graph). Per tensor: "id" (non-negative integer) and
 * "bytes" (positive integer) are required; "kind" (intermediate, input,
 * output, persistent, export, import; default intermediate), "align"
 * (non-negative integer, 0 = default), "share" and "name" (strings, or null),
 * "dtype" (bool, int8, uint8, int16, uint16, float16, int32, uint32, float32,
 * int64, uint64, float64, complex64, complex128) and "shape" (an array of
 * non-negative integers) are optional; when both dtype and shape are given,
 * bytes must equal their product. Any other key in a tensor is refused
 * ("tensors[3] (id 7): unknown key \"knd\""). Per op: "inputs" and
 * "outputs" (arrays of tensor ids, default empty) and "name" are optional.
 * Unknown keys elsewhere (top level, ops: "id", ...) are ignored;
 * duplicate keys in one object are refused. Ids and sizes are JSON integers,
 * so at most 2^63 - 1 (jansson's json_int_t).
 * Only the syntax and the types are checked here: what the graph means is
 * liveness_compute()'s to judge.
 */
#ifndef ORION_GRAPH_JSON_H
#define ORION_GRAPH_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "graph_reader.h"
#include "liveness.h"

/* A loaded graph: owns every string and array that its `graph` points to. */
struct graph_json;

/* Parse len bytes of JSON text (need not be NUL-terminated). `source` names
 * the text in messages (a file name; NULL = "<memory>"). On success *out is
 * the loaded graph (free with graph_json_free) and 0 is returned; else
 * -EINVAL with a message naming the source and the place, e.g.
 * "g.json: tensors[3].bytes: expected a positive integer" or
 * "g.json:4:7: syntax error: ...", or -ENOMEM. */
int graph_json_parse(const char *text, size_t len, const char *source,
                     struct graph_json **out, char *err, size_t err_len);

/* Read the file at path ("-" = stdin) and parse it as above. Returns 0,
 * -EINVAL, -ENOMEM, or the negative errno of open/read, with a message. */
int graph_json_load(const char *path, struct graph_json **out, char *err, size_t err_len);

/* The graph; valid until graph_json_free(gj). */
const struct graph *graph_json_graph(const struct graph_json *gj);

/* Tensor i's "dtype" (in the order of graph_json_graph(gj)->tensors), or
 * NULL when not given; valid until graph_json_free(gj). */
const char *graph_json_tensor_dtype(const struct graph_json *gj, uint32_t i);

/* Tensor i's "shape": its rank (dims[0..min(rank, max_dims)) filled), or -1
 * when not given. */
int graph_json_tensor_shape(const struct graph_json *gj, uint32_t i, uint64_t *dims,
                            size_t max_dims);

/* Bytes of one element of dtype ("float32": 4), 0 for an unknown name. */
uint64_t graph_dtype_bytes(const char *dtype);

/* Free gj and everything it owns. NULL is fine. */
void graph_json_free(struct graph_json *gj);

/* Write g as graph JSON (the format above; default fields omitted) to f.
 * Returns 0, -EIO when the stream fails, -EINVAL (an id or size above
 * 2^63 - 1, an unknown kind, a string that is not UTF-8) or -ENOMEM. */
int graph_json_write(FILE *f, const struct graph *g);

/* The row of graph_reader.c's table for graph JSON ("graph-json"): it takes
 * an input whose first non-space byte is '{' or whose name ends in .json,
 * and loads a graph. */
extern const struct graph_reader graph_json_reader;

/* The JSON word for a kind ("intermediate", ...), or NULL for an unknown
 * value. */
const char *graph_kind_name(enum tensor_kind k);

/* Parse a kind word. Returns 0 and sets *k, or -EINVAL. */
int graph_kind_parse(const char *s, enum tensor_kind *k);

#endif
