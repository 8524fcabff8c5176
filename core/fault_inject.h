/* fault_inject.h - forced into every source of a fault-injection build
 * (-include): the allocator calls go through fault.h's countdown. Code that
 * must not fail by injection (buffers libuv owns) calls (malloc)(n). */
#ifndef ORION_FAULT_INJECT_H
#define ORION_FAULT_INJECT_H

#include <stdlib.h>
#include <string.h>

#include "fault.h"

#define malloc(n) fault_malloc(n)
#define calloc(n, size) fault_calloc(n, size)
#define realloc(p, n) fault_realloc(p, n)
#define strdup(s) fault_strdup(s)

#endif
