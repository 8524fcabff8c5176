/* log.h - the daemon's one-line event log on stderr, at levels.
 *
 * Under journald (JOURNAL_STREAM set: stderr is a journal stream) each line
 * starts with its syslog priority, "<3>" error, "<4>" warning, "<6>" info,
 * "<7>" debug (sd-daemon(3)), and journald adds the time; otherwise with an
 * ISO-8601 UTC timestamp ("2025-01-31T12:00:00.123Z "). */
#ifndef ORION_LOG_H
#define ORION_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

/* Lines above `lvl` are dropped (default LOG_LVL_INFO). The format (journal
 * or timestamps) is decided from the environment at the first line. */
void log_set_level(enum log_level lvl);

/* "error", "warn", "info", "debug" into *out: 0, or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Print the prefix, "orionrtd: ", the formatted message and a newline to
 * stderr at lvl, in one write so that lines from concurrent daemons do not
 * interleave. */
void log_at(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_at(LOG_LVL_INFO, ...): the events an operator follows. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Per-buffer (and per-channel) events, a line per hand-off: off by default. */
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)

/* Copy s into out (out_len >= 1) for a log line: non-printable bytes become
 * '?', at most out_len - 1 bytes. s NULL gives "". Returns out. */
const char *log_clean(const char *s, char *out, size_t out_len);

#endif
