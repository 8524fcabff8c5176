/* registry_account.c - arena bytes and daemon memory charged to owners
 * (connections) and their users' quotas: the registry's accounting, which
 * the graphs' workspaces and channels use too. Calls the buddy allocator
 * only. */
#include "registry.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int registry_alloc(buddy *b, struct reg_owner *o, uint64_t limit, uint64_t bytes,
                   uint64_t align, uint64_t *off, uint64_t *got, char *err, size_t err_len)
{
    struct buddy_stats st;
    buddy_stats_get(b, &st);
    uint64_t mb = st.min_block_bytes;
    if (bytes == 0 || bytes > st.arena_bytes) {
        if (bytes == 0) {
            snprintf(err, err_len, "size 0 cannot be allocated");
            return -EINVAL;
        }
        snprintf(err, err_len,
                 "arena cannot hold %llu bytes: %llu free, largest free block %llu "
                 "(arena %llu bytes)",
                 (unsigned long long)bytes, (unsigned long long)st.free_bytes,
                 (unsigned long long)st.largest_free_bytes,
                 (unsigned long long)st.arena_bytes);
        return -ENOSPC;
    }
    uint64_t want = (bytes + mb - 1) / mb * mb;
    if (align <= mb)
        align = 0;
    if (o != NULL && limit != 0 && (o->used_bytes > limit || want > limit - o->used_bytes)) {
        snprintf(err, err_len,
                 "client limit of %llu bytes would be passed: %llu in use, %llu asked",
                 (unsigned long long)limit, (unsigned long long)o->used_bytes,
                 (unsigned long long)want);
        return -ENOSPC;
    }
    struct reg_quota *q = o != NULL ? o->quota : NULL;
    if (q != NULL && q->limit != 0 && (q->used_bytes > q->limit || want > q->limit - q->used_bytes)) {
        snprintf(err, err_len,
                 "user limit of %llu bytes would be passed: this user's connections hold %llu, "
                 "%llu asked (--uid-limit)",
                 (unsigned long long)q->limit, (unsigned long long)q->used_bytes,
                 (unsigned long long)want);
        return -ENOSPC;
    }
    int rc = buddy_alloc(b, want, align, off);
    if (rc == -ENOSPC) {
        snprintf(err, err_len, "arena cannot hold %llu bytes: %llu free, largest free block %llu",
                 (unsigned long long)want, (unsigned long long)st.free_bytes,
                 (unsigned long long)st.largest_free_bytes);
        return rc;
    }
    if (rc < 0) {
        snprintf(err, err_len, "cannot allocate %llu bytes aligned to %llu: %s",
                 (unsigned long long)want, (unsigned long long)align, strerror(-rc));
        return rc;
    }
    if (buddy_alloc_size(b, *off, got) < 0)
        *got = want;
    if (o != NULL)
        o->used_bytes += *got;
    if (q != NULL)
        q->used_bytes += *got;
    return 0;
}

void registry_unaccount(struct reg_owner *o, uint64_t bytes)
{
    assert(o->used_bytes >= bytes);
    o->used_bytes -= bytes;
    if (o->quota != NULL) {
        assert(o->quota->used_bytes >= bytes);
        o->quota->used_bytes -= bytes;
    }
}

void registry_charge_msg(const struct reg_owner *o, uint64_t n, char *err, size_t err_len)
{
    if (err != NULL)
        snprintf(err, err_len, "this connection makes the daemon hold %llu bytes of "
                 "records and names; %llu more would pass its limit of %llu "
                 "(--client-memory)", (unsigned long long)o->mem_bytes,
                 (unsigned long long)n, (unsigned long long)o->mem_limit);
}

int registry_charge(struct reg_owner *o, uint64_t n, char *err, size_t err_len)
{
    if (o->mem_limit != 0 && (o->mem_bytes > o->mem_limit || n > o->mem_limit - o->mem_bytes)) {
        registry_charge_msg(o, n, err, err_len);
        return -ENOSPC;
    }
    o->mem_bytes += n;
    return 0;
}

void registry_uncharge(struct reg_owner *o, uint64_t n)
{
    assert(o->mem_bytes >= n);
    o->mem_bytes -= n;
}
