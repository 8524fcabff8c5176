/* registry.c - see registry.h. */
#include "registry.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reg_hold {
    struct reg_buffer *buf;
    struct reg_owner *owner;
    uint64_t n_conn;
    uint64_t n_graph;
    struct reg_hold *buf_next;            /* in buf->holders */
    struct reg_hold *own_prev, *own_next; /* in owner->holds */
};

/* SEALED waits are kept by name (the buffer may not exist yet) in these
 * buckets, UNUSED waits on their buffer: waking costs the waiters of that
 * name or buffer, not every waiter. */
#define WAIT_BUCKETS 1024u

struct registry {
    buddy *buddy;
    struct reg_buffer **table;
    size_t n_buckets;                     /* a power of two */
    size_t n_buffers;
    struct reg_wait *sealed_waits[WAIT_BUCKETS];
    bool owner_leaving;                   /* in registry_owner_gone */
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int registry_new(buddy *b, struct registry **out)
{
    struct registry *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->n_buckets = 64;
    r->table = calloc(r->n_buckets, sizeof(*r->table));
    if (r->table == NULL) {
        free(r);
        return -ENOMEM;
    }
    r->buddy = b;
    *out = r;
    return 0;
}

static void free_buffer_mem(struct reg_buffer *b)
{
    while (b->holders != NULL) {
        struct reg_hold *h = b->holders;
        b->holders = h->buf_next;
        free(h);
    }
    free(b->name);
    free(b);
}

void registry_free(struct registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_buckets; i++) {
        while (r->table[i] != NULL) {
            struct reg_buffer *b = r->table[i];
            r->table[i] = b->hnext;
            for (struct reg_wait *w = b->unused_waits; w != NULL; w = w->next)
                w->pending = false;
            buddy_free(r->buddy, b->off);
            free_buffer_mem(b);
        }
    }
    for (size_t i = 0; i < WAIT_BUCKETS; i++)
        for (struct reg_wait *w = r->sealed_waits[i]; w != NULL; w = w->next)
            w->pending = false;
    free(r->table);
    free(r);
}

bool registry_name_valid(const char *name)
{
    return liveness_name_valid(name);
}

uint64_t registry_owner_conn_holds(const struct reg_owner *o)
{
    uint64_t n = 0;
    for (const struct reg_hold *h = o->holds; h != NULL; h = h->own_next)
        n += h->n_conn;
    return n;
}

size_t registry_count(const struct registry *r)
{
    return r->n_buffers;
}

int registry_foreach(const struct registry *r,
                     int (*fn)(const struct reg_buffer *b, void *arg), void *arg)
{
    for (size_t i = 0; i < r->n_buckets; i++) {
        for (const struct reg_buffer *b = r->table[i]; b != NULL; b = b->hnext) {
            int rc = fn(b, arg);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int registry_foreach_holder(const struct reg_buffer *b,
                            int (*fn)(const struct reg_owner *o, uint64_t n_conn,
                                      uint64_t n_graph, void *arg),
                            void *arg)
{
    for (const struct reg_hold *h = b->holders; h != NULL; h = h->buf_next) {
        int rc = fn(h->owner, h->n_conn, h->n_graph, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

struct reg_buffer *registry_find(struct registry *r, const char *name)
{
    struct reg_buffer *b = r->table[hash_name(name) & (r->n_buckets - 1)];
    while (b != NULL && strcmp(b->name, name) != 0)
        b = b->hnext;
    return b;
}

static void table_grow(struct registry *r)
{
    size_t n = r->n_buckets * 2;
    struct reg_buffer **t = calloc(n, sizeof(*t));
    if (t == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < r->n_buckets; i++) {
        while (r->table[i] != NULL) {
            struct reg_buffer *b = r->table[i];
            r->table[i] = b->hnext;
            size_t k = hash_name(b->name) & (n - 1);
            b->hnext = t[k];
            t[k] = b;
        }
    }
    free(r->table);
    r->table = t;
    r->n_buckets = n;
}

static void table_remove(struct registry *r, struct reg_buffer *b)
{
    struct reg_buffer **p = &r->table[hash_name(b->name) & (r->n_buckets - 1)];
    while (*p != b)
        p = &(*p)->hnext;
    *p = b->hnext;
    r->n_buffers--;
}

/* Daemon memory a buffer record costs its creator. */
static uint64_t buffer_cost(const char *name)
{
    return sizeof(struct reg_buffer) + strlen(name) + 1;
}

/* o's record on b, looked for in the shorter of the two lists: a buffer many
 * connections wait on gains a holder per waiter when it is sealed, and each
 * new holder must not cost a walk over all the others. */
static struct reg_hold *find_hold(const struct reg_buffer *b, const struct reg_owner *o)
{
    struct reg_hold *h;
    if (o->n_holds < b->n_holders) {
        for (h = o->holds; h != NULL && h->buf != b; h = h->own_next)
            ;
    } else {
        for (h = b->holders; h != NULL && h->owner != o; h = h->buf_next)
            ;
    }
    return h;
}

uint64_t registry_holds(const struct reg_buffer *b, const struct reg_owner *o,
                        enum reg_hold_kind kind)
{
    const struct reg_hold *h = find_hold(b, o);
    if (h == NULL)
        return 0;
    return kind == REG_HOLD_CONN ? h->n_conn : h->n_graph;
}

int registry_hold(struct registry *r, struct reg_buffer *b, struct reg_owner *o,
                  enum reg_hold_kind kind)
{
    (void)r;
    struct reg_hold *h = find_hold(b, o);
    if (h == NULL) {
        if (registry_charge(o, sizeof(*h), NULL, 0) < 0)
            return -ENOSPC;
        if ((h = calloc(1, sizeof(*h))) == NULL) {
            registry_uncharge(o, sizeof(*h));
            return -ENOMEM;
        }
        h->buf = b;
        h->owner = o;
        h->buf_next = b->holders;
        b->holders = h;
        h->own_next = o->holds;
        if (o->holds != NULL)
            o->holds->own_prev = h;
        o->holds = h;
        o->n_holds++;
        b->n_holders++;
        if (o->id != b->creator_id)
            b->other_held = true;
    }
    if (kind == REG_HOLD_CONN)
        h->n_conn++;
    else
        h->n_graph++;
    return 0;
}

/* The list a pending wait is on. */
static struct reg_wait **wait_list(struct registry *r, struct reg_wait *w)
{
    if (w->what == REG_WAIT_UNUSED)
        return &w->buf->unused_waits;
    return &r->sealed_waits[hash_name(w->name) & (WAIT_BUCKETS - 1)];
}

static void wait_unlink(struct registry *r, struct reg_wait *w)
{
    assert(w->pending);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        *wait_list(r, w) = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    if (w->oprev != NULL)
        w->oprev->onext = w->onext;
    else
        w->owner->waits = w->onext;
    if (w->onext != NULL)
        w->onext->oprev = w->oprev;
    w->oprev = w->onext = NULL;
    w->pending = false;
}

static void wait_link(struct registry *r, struct reg_wait *w)
{
    struct reg_wait **l = wait_list(r, w);
    w->prev = NULL;
    w->next = *l;
    if (*l != NULL)
        (*l)->prev = w;
    *l = w;
    w->oprev = NULL;
    w->onext = w->owner->waits;
    if (w->owner->waits != NULL)
        w->owner->waits->oprev = w;
    w->owner->waits = w;
    w->pending = true;
}

static bool unused_ready(const struct reg_buffer *b, const struct reg_owner *o)
{
    for (const struct reg_hold *h = b->holders; h != NULL; h = h->buf_next)
        if (h->owner != o)
            return false;
    return b->creator_id != o->id || b->other_held;
}

/* A wait resolved with `status` during a scan (already unlinked), to be
 * called back once the scan is over. */
static void ready_push(struct reg_wait **ready, struct reg_wait **tail, struct reg_wait *w,
                       int status)
{
    w->status = status;
    w->next = NULL;
    if (*tail != NULL)
        (*tail)->next = w;
    else
        *ready = w;
    *tail = w;
}

/* Call back the detached waits of `ready`, in the order they were resolved.
 * w->next is read first: once called back, the wait is its owner's again. */
static void ready_run(struct reg_wait *ready, struct reg_buffer *b)
{
    while (ready != NULL) {
        struct reg_wait *w = ready;
        ready = w->next;
        w->next = NULL;
        w->cb(w, w->status, b);
    }
}

/* Resolve every pending wait that b's state now satisfies, in one pass over
 * the waits on b's name (a name may have thousands of waiters): SEALED waits
 * first, newest first, then UNUSED ones, each judged against the
 * state the ones before it left (a SEALED wait's new hold makes an UNUSED
 * wait not ready, as it must); they are unlinked onto a private list and the
 * callbacks run after the scan. No wait becomes ready by another's
 * resolution (resolving only adds holds), so one pass sees all of them. */
static void wake_waits(struct registry *r, struct reg_buffer *b)
{
    struct reg_wait *ready = NULL, *tail = NULL, *next;
    for (struct reg_wait *w = r->sealed_waits[hash_name(b->name) & (WAIT_BUCKETS - 1)];
         w != NULL; w = next) {
        next = w->next;
        if (strcmp(w->name, b->name) != 0)
            continue;
        if (b->sealed) {
            if (registry_hold(r, b, w->owner, REG_HOLD_CONN) < 0)
                continue; /* try again on the next change, or time out */
            wait_unlink(r, w);
            ready_push(&ready, &tail, w, 0);
        } else if (b->orphaned) {
            wait_unlink(r, w);
            ready_push(&ready, &tail, w, -EPIPE);
        }
    }
    for (struct reg_wait *w = b->unused_waits; w != NULL; w = next) {
        next = w->next;
        if (unused_ready(b, w->owner)) {
            wait_unlink(r, w);
            ready_push(&ready, &tail, w, r->owner_leaving ? REG_WAIT_HOLDER_GONE : 0);
        }
    }
    ready_run(ready, b);
}

static void created_unlink(struct reg_buffer *b)
{
    if (b->cprev != NULL)
        b->cprev->cnext = b->cnext;
    else
        b->creator->created = b->cnext;
    if (b->cnext != NULL)
        b->cnext->cprev = b->cprev;
    b->cprev = b->cnext = NULL;
}

static void free_buffer(struct registry *r, struct reg_buffer *b)
{
    assert(b->holders == NULL);
    struct reg_wait *gone = NULL, *gone_tail = NULL;
    while (b->unused_waits != NULL) {
        struct reg_wait *w = b->unused_waits;
        wait_unlink(r, w);
        ready_push(&gone, &gone_tail, w, -ENOENT);
    }
    ready_run(gone, b);
    table_remove(r, b);
    if (b->creator != NULL) {
        assert(b->creator->used_bytes >= b->alloc_bytes);
        b->creator->used_bytes -= b->alloc_bytes;
        registry_uncharge(b->creator, buffer_cost(b->name));
        created_unlink(b);
    }
    if (b->quota != NULL) {
        assert(b->quota->used_bytes >= b->alloc_bytes);
        b->quota->used_bytes -= b->alloc_bytes;
    }
    int rc = buddy_free(r->buddy, b->off);
    assert(rc == 0);
    (void)rc;
    free_buffer_mem(b);
}

/* Remove hold record h from its buffer and owner; free the buffer if it was
 * the last. */
static void drop_record(struct registry *r, struct reg_hold *h)
{
    struct reg_buffer *b = h->buf;
    struct reg_owner *o = h->owner;
    struct reg_hold **p = &b->holders;
    while (*p != h)
        p = &(*p)->buf_next;
    *p = h->buf_next;
    b->n_holders--;
    if (h->own_prev != NULL)
        h->own_prev->own_next = h->own_next;
    else
        o->holds = h->own_next;
    if (h->own_next != NULL)
        h->own_next->own_prev = h->own_prev;
    o->n_holds--;
    registry_uncharge(o, sizeof(*h));
    b->last_drop_gone = r->owner_leaving;
    free(h);
    if (b->holders == NULL)
        free_buffer(r, b);
    else
        wake_waits(r, b);
}

int registry_release(struct registry *r, struct reg_buffer *b, struct reg_owner *o,
                     enum reg_hold_kind kind)
{
    struct reg_hold *h = find_hold(b, o);
    uint64_t *n = h == NULL ? NULL : (kind == REG_HOLD_CONN ? &h->n_conn : &h->n_graph);
    if (n == NULL || *n == 0)
        return -ENOENT;
    (*n)--;
    if (h->n_conn == 0 && h->n_graph == 0)
        drop_record(r, h);
    return 0;
}

int registry_create(struct registry *r, const char *name, uint64_t bytes, uint64_t align,
                    struct reg_owner *o, enum reg_hold_kind kind, uint64_t limit,
                    struct reg_buffer **out, char *err, size_t err_len)
{
    int rc;
    if (!registry_name_valid(name)) {
        snprintf(err, err_len, "bad buffer name: 1-255 bytes of printable ASCII, no space");
        return -EINVAL;
    }
    if (bytes == 0) {
        snprintf(err, err_len, "buffer '%s': size 0", name);
        return -EINVAL;
    }
    if (align == 0)
        align = REGISTRY_ALIGN_DEFAULT;
    if ((align & (align - 1)) != 0 || align > REGISTRY_ALIGN_MAX) {
        snprintf(err, err_len, "buffer '%s': alignment %llu is not a power of two up to %llu",
                 name, (unsigned long long)align, (unsigned long long)REGISTRY_ALIGN_MAX);
        return -EINVAL;
    }
    if (registry_find(r, name) != NULL) {
        snprintf(err, err_len, "buffer '%s' exists", name);
        return -EEXIST;
    }
    char why[300];
    if ((rc = registry_charge(o, buffer_cost(name), why, sizeof(why))) < 0) {
        snprintf(err, err_len, "buffer '%s': %s", name, why);
        return rc;
    }
    struct reg_buffer *b = calloc(1, sizeof(*b));
    if (b == NULL)
        goto err_uncharge;
    if ((b->name = strdup(name)) == NULL)
        goto err_free_buf;
    rc = registry_alloc(r->buddy, o, limit, bytes, align, &b->off, &b->alloc_bytes, why,
                        sizeof(why));
    if (rc < 0) {
        snprintf(err, err_len, "buffer '%s': %s", name, why);
        free(b->name);
        free(b);
        registry_uncharge(o, buffer_cost(name));
        return rc;
    }
    b->bytes = bytes;
    b->creator = o;
    b->creator_id = o->id;
    b->quota = o->quota;
    b->cnext = o->created;
    if (o->created != NULL)
        o->created->cprev = b;
    o->created = b;
    if (r->n_buffers >= r->n_buckets)
        table_grow(r);
    size_t k = hash_name(name) & (r->n_buckets - 1);
    b->hnext = r->table[k];
    r->table[k] = b;
    r->n_buffers++;
    if ((rc = registry_hold(r, b, o, kind)) < 0) {
        free_buffer(r, b);
        if (rc == -ENOSPC) {
            registry_charge_msg(o, sizeof(struct reg_hold), why, sizeof(why));
            snprintf(err, err_len, "buffer '%s': %s", name, why);
            return rc;
        }
        goto err_nomem;
    }
    *out = b;
    return 0;

err_free_buf:
    free(b);
err_uncharge:
    registry_uncharge(o, buffer_cost(name));
err_nomem:
    snprintf(err, err_len, "out of memory creating buffer '%s'", name);
    return -ENOMEM;
}

int registry_seal(struct registry *r, struct reg_buffer *b, struct reg_owner *o)
{
    if (b->creator != o)
        return -EPERM;
    if (b->sealed)
        return -EALREADY;
    b->sealed = true;
    wake_waits(r, b);
    return 0;
}

int registry_wait(struct registry *r, struct reg_wait *w, const char *name, bool may_block,
                  struct reg_buffer **out)
{
    if (!registry_name_valid(name))
        return -EINVAL;
    strcpy(w->name, name);
    w->buf = NULL;
    w->pending = false;
    struct reg_buffer *b = registry_find(r, name);
    if (w->what == REG_WAIT_UNUSED) {
        if (b == NULL || find_hold(b, w->owner) == NULL)
            return -ENOENT;
        if (unused_ready(b, w->owner)) {
            *out = b;
            return b->last_drop_gone ? REG_WAIT_HOLDER_GONE : 0;
        }
        w->buf = b;
    } else {
        if (b != NULL && b->sealed) {
            int rc = registry_hold(r, b, w->owner, REG_HOLD_CONN);
            if (rc < 0)
                return rc;
            *out = b;
            return 0;
        }
        if (b != NULL && b->orphaned)
            return -EPIPE;
        /* Its creator is the only one who may seal it, and a connection
         * that waits sends nothing else: it would wait for ever. */
        if (may_block && b != NULL && b->creator == w->owner)
            return -EDEADLK;
    }
    if (!may_block)
        return -ETIMEDOUT;
    wait_link(r, w);
    return REG_WAIT_PENDING;
}

void registry_wait_cancel(struct registry *r, struct reg_wait *w)
{
    if (w->pending)
        wait_unlink(r, w);
}

void registry_owner_gone(struct registry *r, struct reg_owner *o)
{
    while (o->waits != NULL)
        wait_unlink(r, o->waits);
    /* Orphans first, so that their waiters hear -EPIPE even when dropping
     * this owner's holds then frees the buffer. */
    while (o->created != NULL) {
        struct reg_buffer *b = o->created;
        created_unlink(b);
        b->creator = NULL;
        if (!b->sealed) {
            b->orphaned = true;
            wake_waits(r, b);
        }
    }
    r->owner_leaving = true;
    while (o->holds != NULL)
        drop_record(r, o->holds);
    r->owner_leaving = false;
}
