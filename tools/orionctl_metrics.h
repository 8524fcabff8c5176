/* orionctl_metrics.h - the daemon's stats as Prometheus text. */
#ifndef ORION_ORIONCTL_METRICS_H
#define ORION_ORIONCTL_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include <orion/orion.h>

/* Write st and the per-uid rows to f as Prometheus text exposition: every
 * metric named orionrtd_*, with # HELP and # TYPE, units in the names.
 * Returns 0, or -1 if writing f failed. */
int metrics_write(FILE *f, const struct orion_stats *st, const struct orion_uid_usage *rows,
                  size_t n_rows);

#endif
