/* log.h - the daemon's one-line event log on stderr. */
#ifndef ORION_LOG_H
#define ORION_LOG_H

#include <stddef.h>

/* Print "orionrtd: " + the formatted message + a newline to stderr, in one
 * write so that lines from concurrent daemons do not interleave. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy s into out (out_len >= 1) for a log line: non-printable bytes become
 * '?', at most out_len - 1 bytes. s NULL gives "". Returns out. */
const char *log_clean(const char *s, char *out, size_t out_len);

#endif
