/* errmsg.h - the one way the core and the tools fill a caller's message
 * buffer. Pure: formats into memory the caller owns. */
#ifndef ORION_ERRMSG_H
#define ORION_ERRMSG_H

#include <stddef.h>

/* Format into err[err_len] (always NUL-terminated, truncated if need be).
 * err NULL or err_len 0: does nothing. */
void errmsg_set(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
