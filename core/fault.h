/* fault.h - allocation-failure injection, in SQLite's way: a countdown that
 * makes the n-th allocation from now fail, so that tests can walk every
 * unwind path of a request.
 *
 * Only builds configured with -DORION_FAULT_INJECTION=ON inject: there the
 * core's and the daemon's sources are compiled with fault_inject.h forced
 * in, which routes malloc, calloc, realloc and strdup through fault_*().
 * Elsewhere fault_arm() says -ENOSYS and nothing is wrapped. */
#ifndef ORION_FAULT_H
#define ORION_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Is injection built in? */
bool fault_built_in(void);

/* Make the n-th allocation from now (n >= 1) fail, once; 0 disarms.
 * Thread-safe. Returns 0, or -ENOSYS where injection is not built in. */
int fault_arm(uint64_t n);

/* Allocations that failed by injection since start. */
uint64_t fault_injected(void);

void *fault_malloc(size_t n);
void *fault_calloc(size_t n, size_t size);
void *fault_realloc(void *p, size_t n);
char *fault_strdup(const char *s);

#endif
