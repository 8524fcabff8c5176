/* graph_reader.h - the input formats orionctl plans, as one table of readers.
 *
 * A reader is a descriptor {name, sniff, load}, exported by the file of its
 * format (graph_json.c: graph_json_reader; problem_csv.c:
 * problem_csv_reader) and listed in graph_reader.c, as the planner's
 * policies are. Adding a format (a .tflite or .onnx model) is a file and a
 * row: its sniff recognises the bytes or the name, its load produces a
 * struct plan_input.
 *
 * What a reader loads is a plan input: either a graph (ops and tensors;
 * planned by graph_plan_build(), which computes the lifetimes), which is
 * what a model format gives, or a planning problem already in lifetimes
 * (MiniMalloc CSV: buffers with [lower, upper); planned by planner_run()).
 * Exactly one of the two is set.
 */
#ifndef ORION_GRAPH_READER_H
#define ORION_GRAPH_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct graph;
struct problem;

struct plan_input {
    const struct graph *graph; /* a graph, or NULL */
    struct problem *problem;   /* a planning problem (problem_csv.h), or NULL */
    void *owner;               /* what graph or problem lives in */
    void (*release)(void *owner); /* frees owner; set by the reader's load */
};

struct graph_reader {
    const char *name; /* static: the format's name, such as "graph-json" */
    /* Whether this reader takes the input: path as the user gave it ("-" =
     * stdin), head[0..n) its first bytes (orionctl passes all of them). */
    bool (*sniff)(const char *path, const uint8_t *head, size_t n);
    /* Load data[0..len) (need not be NUL-terminated) into *out, which the
     * caller frees with plan_input_free(). src names the input in messages.
     * Returns 0; or -EINVAL with a message in err that starts with src
     * ("g.json: tensors[3].bytes: expected a positive integer"), or -ENOMEM;
     * *out is then empty. */
    int (*load)(const char *src, const uint8_t *data, size_t len, struct plan_input *out,
                char *err, size_t err_len);
};

/* The reader of an input: the first row of the table whose sniff takes it
 * (graph JSON: first non-space byte '{' or a name ending in .json; then
 * MiniMalloc CSV, the last row, which takes anything). NULL if none does. */
const struct graph_reader *graph_reader_pick(const char *path, const uint8_t *head, size_t n);

/* Release what a reader's load put in *in and zero it. NULL or a zeroed
 * input is fine. */
void plan_input_free(struct plan_input *in);

#endif
