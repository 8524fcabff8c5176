/* packings.h - tight packings with a known optimum: guillotine cuts of a rectangle.
 *
 * Shared by bench_planner and tests/test_packings.c (compiled into both). */
#ifndef ORION_BENCH_PACKINGS_H
#define ORION_BENCH_PACKINGS_H

#include <stddef.h>
#include <stdint.h>

#include "planner.h"

/* Instances of the bench set: PACKINGS_N of them, sizes 150 to 2,000. */
#define PACKINGS_N 26

/* The buffer count (before drops) of instance i < PACKINGS_N. */
size_t packings_size(size_t i);

/* Cuts a rectangle of time [0, 4096) x offset [0, 65536 units of 64 bytes)
 * into n pieces by guillotine cuts (each cut splits one piece across its
 * whole width or height at a random place, the seed decides), then drops
 * about one piece in twelve, never one live at the time of the column kept
 * whole (so the load there, hence the lower bound, is the rectangle's
 * height). Each piece is a buffer [x0, x1) of (y1 - y0) * 64 bytes,
 * alignment 64, with off = y0 * 64: the cut layout, a plan at the optimum.
 * *out (malloc'd, the caller frees it) gets *n_out buffers; *optimum the
 * height in bytes. Returns 0, -EINVAL (n < 1 or above 65536) or -ENOMEM. */
int packings_make(uint64_t seed, size_t n, struct plan_buffer **out, size_t *n_out,
                  uint64_t *optimum);

#endif
