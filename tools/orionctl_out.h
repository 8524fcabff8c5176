/* orionctl_out.h - what orionctl's subcommands share to print: JSON values
 * and objects. */
#ifndef ORION_ORIONCTL_OUT_H
#define ORION_ORIONCTL_OUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* obj[key] = v. 0, -ERANGE (v above INT64_MAX: jansson integers are signed)
 * or -ENOMEM. Does nothing and returns rc when rc is already non-zero, so
 * that a run of them reads rc = out_u64(rc, ...). */
int out_u64(int rc, json_t *obj, const char *key, uint64_t v);

/* obj[key] = s (NULL: ""), obj[key] = a bool, or a new reference to val
 * (consumed). Same rc convention as out_u64. */
int out_str(int rc, json_t *obj, const char *key, const char *s);
int out_bool(int rc, json_t *obj, const char *key, int v);
int out_new(int rc, json_t *obj, const char *key, json_t *val);

/* Print obj on one line to f, then a newline; consumes obj. 0 or -EIO. */
int out_json(json_t *obj, FILE *f);

#endif
