/* graph_reader.c - the table of input formats: pick the reader of an input. */
#include "graph_reader.h"
#include "graph_json.h"
#include "problem_csv.h"

#include <string.h>

/* In order of trial: the CSV reader takes anything, so it comes last. */
static const struct graph_reader *const readers[] = {
    &graph_json_reader,
    &problem_csv_reader,
};

#define N_READERS (sizeof(readers) / sizeof(readers[0]))

const struct graph_reader *graph_reader_pick(const char *path, const uint8_t *head, size_t n)
{
    for (size_t i = 0; i < N_READERS; i++)
        if (readers[i]->sniff(path, head, n))
            return readers[i];
    return NULL;
}

void plan_input_free(struct plan_input *in)
{
    if (in == NULL)
        return;
    if (in->release != NULL)
        in->release(in->owner);
    memset(in, 0, sizeof(*in));
}
