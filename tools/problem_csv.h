/* problem_csv.h - MiniMalloc CSV planning problems: read and write.
 *
 * Format: a header line naming the columns, then one buffer a line.
 * Required columns (any order): id, lower, upper, size. Optional: alignment,
 * offset (a solution). Other columns are kept verbatim and written back.
 * Ids are strings kept for output; numbers are non-negative decimal integers
 * (no sign, no spaces other than around a field); `upper` is exclusive.
 * Blank lines and a trailing "\r" are ignored. Fields are plain: no quoting.
 */
#ifndef ORION_PROBLEM_CSV_H
#define ORION_PROBLEM_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "graph_reader.h"
#include "planner.h"

struct problem {
    struct plan_buffer *bufs; /* n buffers; bufs[i].off from `offset` or 0 */
    char **ids;               /* n NUL-terminated ids */
    size_t n;
    bool has_offset;          /* the input had an `offset` column */
    bool has_alignment;       /* the input had an `alignment` column */
    /* Kept to write the input columns back in their order. */
    size_t n_cols;            /* columns of the header */
    char **col_names;         /* n_cols names */
    char **cells;             /* n * n_cols raw cells, row-major */
    char *storage;            /* the text that ids, names and cells point into */
};

/* Parse CSV text (len bytes, need not be NUL-terminated) into *p, which the
 * caller later frees with problem_free(). On error returns -EINVAL (the
 * message, "line 7: column 'size': not a number: 'x'", in err) or -ENOMEM,
 * and leaves *p empty. */
int problem_csv_parse(const char *text, size_t len, struct problem *p, char *err,
                      size_t err_len);

/* Read the file at path ("-" = stdin) and parse it as above. Returns 0,
 * -EINVAL, -ENOMEM, or the negative errno of open/read (message in err). */
int problem_csv_read(const char *path, struct problem *p, char *err, size_t err_len);

/* Write p: its input columns in input order, the `offset` column replaced
 * by (or, if absent, appended as) bufs[i].off, one line a buffer in input
 * order. Returns 0 or -EIO when the stream fails. */
int problem_csv_write(FILE *f, const struct problem *p);

/* Free what problem_csv_parse/read allocated and zero *p. NULL is fine. */
void problem_free(struct problem *p);

/* The row of graph_reader.c's table for MiniMalloc CSV ("minimalloc-csv"):
 * the last row, it takes any input the rows before it did not, and loads a
 * planning problem. */
extern const struct graph_reader problem_csv_reader;

#endif
