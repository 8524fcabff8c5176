/* wire_cmp.h - two struct wire_graph compared field for field (names by
 * their text, references by value); for test_wire and fuzz_request. */
#ifndef ORION_TEST_WIRE_CMP_H
#define ORION_TEST_WIRE_CMP_H

#include <stdio.h>
#include <string.h>

#include "wire.h"

static int wire_cmp_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

/* NULL when a and b hold the same graph; else which field differs (in
 * why[why_len]). */
static const char *wire_graph_diff(const struct wire_graph *a, const struct wire_graph *b,
                                   char *why, size_t why_len)
{
    const struct graph *x = &a->g, *y = &b->g;
    if (wire_cmp_str(x->name, y->name))
        return snprintf(why, why_len, "graph name"), why;
    if (x->n_tensors != y->n_tensors || x->n_ops != y->n_ops)
        return snprintf(why, why_len, "counts %u/%u vs %u/%u", x->n_tensors, x->n_ops,
                        y->n_tensors, y->n_ops), why;
    for (uint32_t i = 0; i < x->n_tensors; i++) {
        const struct graph_tensor *s = &x->tensors[i], *t = &y->tensors[i];
        if (s->id != t->id || s->bytes != t->bytes || s->align != t->align ||
            s->kind != t->kind || wire_cmp_str(s->share, t->share) ||
            wire_cmp_str(s->name, t->name))
            return snprintf(why, why_len, "tensor %u", i), why;
    }
    for (uint32_t i = 0; i < x->n_ops; i++) {
        const struct graph_op *s = &x->ops[i], *t = &y->ops[i];
        if (wire_cmp_str(s->name, t->name) || s->n_inputs != t->n_inputs ||
            s->n_outputs != t->n_outputs)
            return snprintf(why, why_len, "op %u", i), why;
        for (uint32_t j = 0; j < s->n_inputs; j++)
            if (s->inputs[j] != t->inputs[j])
                return snprintf(why, why_len, "op %u input %u", i, j), why;
        for (uint32_t j = 0; j < s->n_outputs; j++)
            if (s->outputs[j] != t->outputs[j])
                return snprintf(why, why_len, "op %u output %u", i, j), why;
    }
    return NULL;
}

#endif
