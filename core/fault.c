/* fault.c - the allocation countdown of fault.h. */
#include "fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* This file is the allocator itself: never wrap it. */
#undef malloc
#undef calloc
#undef realloc
#undef strdup

static _Atomic uint64_t countdown;  /* 0: disarmed */
static _Atomic uint64_t injected;

bool fault_built_in(void)
{
#ifdef ORION_FAULT_INJECTION
    return true;
#else
    return false;
#endif
}

int fault_arm(uint64_t n)
{
    if (!fault_built_in())
        return -ENOSYS;
    atomic_store(&countdown, n);
    return 0;
}

uint64_t fault_injected(void)
{
    return atomic_load(&injected);
}

/* Does this allocation fail? Exactly one caller sees the count reach 0. */
static bool fail_now(void)
{
    uint64_t c = atomic_load(&countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_fetch_add(&injected, 1);
                return true;
            }
            return false;
        }
    }
    return false;
}

void *fault_malloc(size_t n)
{
    return fail_now() ? NULL : malloc(n);
}

void *fault_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : calloc(n, size);
}

void *fault_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : realloc(p, n);
}

char *fault_strdup(const char *s)
{
    return fail_now() ? NULL : strdup(s);
}
