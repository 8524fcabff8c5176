/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void log_msg(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "orionrtd: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failed log write */
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
