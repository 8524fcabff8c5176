/* log.c - see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int journal = -1; /* -1: not decided yet */

void log_set_level(enum log_level lvl)
{
    max_level = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

static size_t prefix(enum log_level lvl, char *line, size_t len)
{
    static const int prio[] = {3, 4, 6, 7};
    if (journal < 0) {
        const char *js = getenv("JOURNAL_STREAM");
        journal = js != NULL && *js != '\0';
    }
    if (journal)
        return (size_t)snprintf(line, len, "<%d>orionrtd: ", prio[lvl]);
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, len, "%Y-%m-%dT%H:%M:%S", &tm);
    return n + (size_t)snprintf(line + n, len - n, ".%03ldZ orionrtd: ", ts.tv_nsec / 1000000);
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
{
    if (lvl > max_level)
        return;
    char line[1024];
    size_t n = prefix(lvl, line, sizeof(line));
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failed log write */
}

void log_at(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
}

void log_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_INFO, fmt, ap);
    va_end(ap);
}

const char *log_clean(const char *s, char *out, size_t out_len)
{
    size_t i = 0;
    if (s != NULL) {
        for (; s[i] != '\0' && i + 1 < out_len; i++)
            out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    }
    out[i] = '\0';
    return out;
}
