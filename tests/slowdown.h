/* slowdown.h - the factor deadlines and time limits of the pure tests (no
 * harness) stretch by: $ORION_TEST_SLOWDOWN (scripts/test.sh sets it for the
 * sanitizer and valgrind builds), else 10 under valgrind, else 1. */
#ifndef ORION_TEST_SLOWDOWN_H
#define ORION_TEST_SLOWDOWN_H

#include <stdlib.h>
#include <string.h>

static inline double test_slowdown(void)
{
    const char *s = getenv("ORION_TEST_SLOWDOWN");
    if (s && *s) {
        double f = atof(s);
        return f >= 1 ? f : 1;
    }
    s = getenv("LD_PRELOAD");
    return s && strstr(s, "vgpreload") ? 10 : 1;
}

#endif
