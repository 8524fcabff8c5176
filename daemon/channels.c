/* channels.c - the daemon's channel records, their endpoints, waits and who
 * pays (see channels.h). */
#include "channels.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAN_DEPTH_DEFAULT 4u
#define CHAN_CONSUMERS_DEFAULT 8u

struct channel {
    char *name;
    struct chan_ref ref;          /* geometry, layout, attached: the truth */
    uint64_t off;                 /* arena offset of the region */
    uint64_t alloc_bytes;         /* as allocated, charged to payer */
    uint64_t mem_bytes;           /* record and name, charged to payer */
    struct reg_owner *payer;
    struct chan_ep *producer;     /* NULL: none (gone, or not yet taken over) */
    struct chan_ep *consumers[CHAN_MAX_CONSUMERS];
    uint32_t n_consumers;
    bool broken;                  /* chan_inspect failed once: no new endpoints */
    struct channel *prev, *next;
};

struct channels {
    buddy *b;
    uint8_t *base;
    struct channel *list;
    uint32_t n;
    struct chan_wait *waits;      /* pending opens, all names */
};

int channels_new(buddy *b, void *base, struct channels **out)
{
    struct channels *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return -ENOMEM;
    cs->b = b;
    cs->base = base;
    *out = cs;
    return 0;
}

static void free_channel(struct channels *cs, struct channel *ch)
{
    if (ch->prev != NULL)
        ch->prev->next = ch->next;
    else
        cs->list = ch->next;
    if (ch->next != NULL)
        ch->next->prev = ch->prev;
    cs->n--;
    int rc = buddy_free(cs->b, ch->off);
    assert(rc == 0);
    (void)rc;
    if (ch->payer != NULL) {
        registry_unaccount(ch->payer, ch->alloc_bytes);
        registry_uncharge(ch->payer, ch->mem_bytes);
    }
    free(ch->name);
    free(ch);
}

void channels_free(struct channels *cs)
{
    if (cs == NULL)
        return;
    /* Endpoints belong to sessions, which are gone by now; free what is left
     * without touching owners that may be gone too. */
    while (cs->list != NULL) {
        struct channel *ch = cs->list;
        ch->payer = NULL;
        if (ch->producer != NULL)
            free(ch->producer);
        for (uint32_t i = 0; i < CHAN_MAX_CONSUMERS; i++)
            free(ch->consumers[i]);
        free_channel(cs, ch);
    }
    free(cs);
}

uint32_t channels_count(const struct channels *cs)
{
    return cs->n;
}

int channels_geom_check(struct chan_geom *g, char *err, size_t err_len)
{
    if (g->depth == 0)
        g->depth = CHAN_DEPTH_DEFAULT;
    if (g->max_consumers == 0)
        g->max_consumers = CHAN_CONSUMERS_DEFAULT;
    uint64_t total;
    int rc = chan_layout_bytes(g, &total);
    if (rc == -EINVAL)
        snprintf(err, err_len, "bad channel geometry slot_bytes=%llu depth=%u max_consumers=%u: "
                 "slot_bytes must be 1..%llu, depth 1..%u, max_consumers 1..%u",
                 (unsigned long long)g->slot_bytes, g->depth, g->max_consumers,
                 (unsigned long long)CHAN_MAX_SLOT_BYTES, CHAN_MAX_DEPTH, CHAN_MAX_CONSUMERS);
    else if (rc < 0)
        snprintf(err, err_len, "channel of %u slots of %llu bytes does not fit in 64 bits",
                 g->depth, (unsigned long long)g->slot_bytes);
    return rc;
}

static struct channel *find(struct channels *cs, const char *name)
{
    struct channel *ch = cs->list;
    while (ch != NULL && strcmp(ch->name, name) != 0)
        ch = ch->next;
    return ch;
}

/* Add arena bytes to o (and its user's quota), checking its limits unless
 * forced: the charge follows a channel that is already allocated. */
static int account(struct reg_owner *o, uint64_t limit, uint64_t bytes, bool force, char *err,
                   size_t err_len)
{
    struct reg_quota *q = o->quota;
    if (!force && limit != 0 && (o->used_bytes > limit || bytes > limit - o->used_bytes)) {
        snprintf(err, err_len, "client limit of %llu bytes would be passed: %llu in use, "
                 "%llu asked", (unsigned long long)limit, (unsigned long long)o->used_bytes,
                 (unsigned long long)bytes);
        return -ENOSPC;
    }
    if (!force && q != NULL && q->limit != 0 &&
        (q->used_bytes > q->limit || bytes > q->limit - q->used_bytes)) {
        snprintf(err, err_len, "user limit of %llu bytes would be passed: this user's "
                 "connections hold %llu, %llu asked (--uid-limit)",
                 (unsigned long long)q->limit, (unsigned long long)q->used_bytes,
                 (unsigned long long)bytes);
        return -ENOSPC;
    }
    o->used_bytes += bytes;
    if (q != NULL)
        q->used_bytes += bytes;
    return 0;
}

/* Move ch's charge to `to` (limits checked unless forced). */
static int move_charge(struct channel *ch, struct chan_party *to, bool force, char *err,
                       size_t err_len)
{
    struct reg_owner *o = to->owner;
    if (o == ch->payer)
        return 0;
    int rc = account(o, to->limit, ch->alloc_bytes, force, err, err_len);
    if (rc < 0)
        return rc;
    if (force)
        o->mem_bytes += ch->mem_bytes;
    else if ((rc = registry_charge(o, ch->mem_bytes, err, err_len)) < 0) {
        registry_unaccount(o, ch->alloc_bytes);
        return rc;
    }
    registry_unaccount(ch->payer, ch->alloc_bytes);
    registry_uncharge(ch->payer, ch->mem_bytes);
    ch->payer = o;
    return 0;
}

/* Does o have an endpoint on ch? */
static bool has_ep(const struct channel *ch, const struct reg_owner *o)
{
    if (ch->producer != NULL && ch->producer->party->owner == o)
        return true;
    for (uint32_t i = 0; i < ch->ref.geom.max_consumers; i++)
        if (ch->consumers[i] != NULL && ch->consumers[i]->party->owner == o)
            return true;
    return false;
}

/* The block is read only here, checked against the records. */
static int inspect(struct channel *ch, char *err, size_t err_len)
{
    struct chan_info info;
    if (!ch->broken && chan_inspect(&ch->ref, &info) == 0)
        return 0;
    if (!ch->broken)
        snprintf(err, err_len, "channel '%s' is corrupt (%s): its control block was "
                 "overwritten; close every end of it and create it again", ch->name,
                 info.why != NULL ? info.why : "unknown");
    else
        snprintf(err, err_len, "channel '%s' is corrupt: its control block was overwritten; "
                 "close every end of it and create it again", ch->name);
    ch->broken = true;
    return -EPROTO;
}

static int new_ep(struct channel *ch, struct chan_party *p, bool producer,
                  struct chan_ep **out, char *err, size_t err_len)
{
    int rc = registry_charge(p->owner, sizeof(struct chan_ep), err, err_len);
    if (rc < 0)
        return rc;
    struct chan_ep *ep = calloc(1, sizeof(*ep));
    if (ep == NULL) {
        registry_uncharge(p->owner, sizeof(struct chan_ep));
        snprintf(err, err_len, "out of memory for an end of channel '%s'", ch->name);
        return -ENOMEM;
    }
    ep->ch = ch;
    ep->party = p;
    ep->producer = producer;
    *out = ep;
    return 0;
}

static void link_ep(struct chan_party *p, struct chan_ep *ep)
{
    ep->prev = NULL;
    ep->next = p->eps;
    if (p->eps != NULL)
        p->eps->prev = ep;
    p->eps = ep;
    p->n_eps++;
}

static int attach(struct channel *ch, struct chan_party *p, struct chan_ep **out, char *err,
                  size_t err_len)
{
    if (ch->n_consumers >= ch->ref.geom.max_consumers) {
        snprintf(err, err_len, "channel '%s' has its max_consumers=%u consumers attached",
                 ch->name, ch->ref.geom.max_consumers);
        return -EBUSY;
    }
    int rc = inspect(ch, err, err_len);
    if (rc < 0)
        return rc;
    struct chan_ep *ep;
    if ((rc = new_ep(ch, p, false, &ep, err, err_len)) < 0)
        return rc;
    rc = chan_attach(&ch->ref, &ep->index, &ep->start_seq);
    assert(rc == 0); /* n_consumers < max_consumers: an index is free */
    (void)rc;
    ch->consumers[ep->index] = ep;
    ch->n_consumers++;
    link_ep(p, ep);
    *out = ep;
    return 0;
}

static void wait_unlink(struct channels *cs, struct chan_wait *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        cs->waits = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->pending = false;
}

/* A channel of that name now exists: its waiting opens attach. */
static void resolve_waits(struct channels *cs, struct channel *ch)
{
    struct chan_wait *w = cs->waits, *next;
    for (; w != NULL; w = next) {
        next = w->next;
        if (strcmp(w->name, ch->name) != 0)
            continue;
        wait_unlink(cs, w);
        struct chan_ep *ep = NULL;
        char err[256] = "";
        int rc = attach(ch, w->party, &ep, err, sizeof(err));
        w->cb(w, rc, ep);
    }
}

static int take_over(struct channel *ch, struct chan_party *p, const struct chan_geom *g,
                     struct chan_ep **out, char *err, size_t err_len)
{
    const struct chan_geom *h = &ch->ref.geom;
    if (ch->producer != NULL) {
        snprintf(err, err_len, "channel '%s' has a live producer%s", ch->name,
                 ch->producer->party == p ? " (this connection)" : "");
        return -EEXIST;
    }
    if (g->slot_bytes != h->slot_bytes || g->depth != h->depth ||
        g->max_consumers != h->max_consumers) {
        snprintf(err, err_len, "channel '%s' exists with slot_bytes=%llu depth=%u "
                 "max_consumers=%u; a producer can take it over only with the same, not "
                 "slot_bytes=%llu depth=%u max_consumers=%u", ch->name,
                 (unsigned long long)h->slot_bytes, h->depth, h->max_consumers,
                 (unsigned long long)g->slot_bytes, g->depth, g->max_consumers);
        return -EINVAL;
    }
    int rc = inspect(ch, err, err_len);
    if (rc < 0)
        return rc;
    struct chan_ep *ep;
    if ((rc = new_ep(ch, p, true, &ep, err, err_len)) < 0)
        return rc;
    if ((rc = move_charge(ch, p, false, err, err_len)) < 0) {
        registry_uncharge(p->owner, sizeof(struct chan_ep));
        free(ep);
        return rc;
    }
    rc = chan_takeover(&ch->ref, g);
    assert(rc == 0); /* same geometry, producer gone */
    (void)rc;
    ch->producer = ep;
    link_ep(p, ep);
    *out = ep;
    return 0;
}

int channels_create(struct channels *cs, struct chan_party *p, const char *name,
                    const struct chan_geom *g, struct chan_ep **out, bool *takeover,
                    char *err, size_t err_len)
{
    if (!registry_name_valid(name)) {
        snprintf(err, err_len, "bad channel name: 1-%u bytes of printable ASCII, no space",
                 REGISTRY_NAME_MAX);
        return -EINVAL;
    }
    struct channel *ch = find(cs, name);
    if (ch != NULL) {
        *takeover = true;
        return take_over(ch, p, g, out, err, err_len);
    }
    *takeover = false;
    struct chan_ep *ep = NULL;
    uint64_t total;
    int rc = chan_layout_bytes(g, &total);
    if (rc < 0) {
        snprintf(err, err_len, "bad channel geometry");
        return rc;
    }
    size_t name_len = strlen(name);
    uint64_t mem = sizeof(struct channel) + name_len + 1;
    if ((rc = registry_charge(p->owner, mem, err, err_len)) < 0)
        return rc;
    rc = -ENOMEM;
    snprintf(err, err_len, "out of memory for channel '%s'", name);
    if ((ch = calloc(1, sizeof(*ch))) == NULL)
        goto err_uncharge;
    if ((ch->name = malloc(name_len + 1)) == NULL)
        goto err_free_ch;
    memcpy(ch->name, name, name_len + 1);
    if ((rc = new_ep(ch, p, true, &ep, err, err_len)) < 0)
        goto err_free_name;
    char why[256];
    if ((rc = registry_alloc(cs->b, p->owner, p->limit, total, CHAN_ALIGN, &ch->off,
                             &ch->alloc_bytes, why, sizeof(why))) < 0) {
        snprintf(err, err_len, "channel '%s' of %llu bytes: %s", name,
                 (unsigned long long)total, why);
        goto err_free_ep;
    }
    rc = chan_init(&ch->ref, cs->base + ch->off, total, g);
    assert(rc == 0); /* geometry checked, offset aligned (buddy blocks >= 64) */
    (void)rc;
    ch->mem_bytes = mem;
    ch->payer = p->owner;
    ch->producer = ep;
    ch->next = cs->list;
    if (cs->list != NULL)
        cs->list->prev = ch;
    cs->list = ch;
    cs->n++;
    link_ep(p, ep);
    *out = ep;
    err[0] = '\0';
    resolve_waits(cs, ch);
    return 0;

err_free_ep:
    registry_uncharge(p->owner, sizeof(struct chan_ep));
    free(ep);
err_free_name:
    free(ch->name);
err_free_ch:
    free(ch);
err_uncharge:
    registry_uncharge(p->owner, mem);
    return rc;
}

int channels_open(struct channels *cs, struct chan_party *p, const char *name, bool may_wait,
                  struct chan_ep **out, char *err, size_t err_len)
{
    if (!registry_name_valid(name)) {
        snprintf(err, err_len, "bad channel name: 1-%u bytes of printable ASCII, no space",
                 REGISTRY_NAME_MAX);
        return -EINVAL;
    }
    err[0] = '\0';
    struct channel *ch = find(cs, name);
    if (ch != NULL)
        return attach(ch, p, out, err, err_len);
    if (!may_wait) {
        snprintf(err, err_len, "no channel '%s'", name);
        return -ENOENT;
    }
    struct chan_wait *w = &p->wait;
    assert(!w->pending);
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->party = p;
    w->pending = true;
    w->prev = NULL;
    w->next = cs->waits;
    if (cs->waits != NULL)
        cs->waits->prev = w;
    cs->waits = w;
    return 1;
}

void channels_wait_cancel(struct channels *cs, struct chan_party *p)
{
    struct chan_wait *w = &p->wait;
    if (w->pending)
        wait_unlink(cs, w);
}

struct chan_ep *channels_find_ep(struct chan_party *p, const char *name, bool producer,
                                 uint32_t index)
{
    for (struct chan_ep *ep = p->eps; ep != NULL; ep = ep->next)
        if (ep->producer == producer && (producer || ep->index == index) &&
            strcmp(ep->ch->name, name) == 0)
            return ep;
    return NULL;
}

void channels_release(struct channels *cs, struct chan_ep *ep)
{
    struct channel *ch = ep->ch;
    struct chan_party *p = ep->party;
    int rc;
    if (ep->producer) {
        rc = chan_producer_gone(&ch->ref);
        assert(rc == 0);
        ch->producer = NULL;
    } else {
        rc = chan_detach(&ch->ref, ep->index);
        assert(rc == 0);
        ch->consumers[ep->index] = NULL;
        ch->n_consumers--;
    }
    (void)rc;
    if (ep->prev != NULL)
        ep->prev->next = ep->next;
    else
        p->eps = ep->next;
    if (ep->next != NULL)
        ep->next->prev = ep->prev;
    p->n_eps--;
    registry_uncharge(p->owner, sizeof(struct chan_ep));
    free(ep);

    if (ch->producer == NULL && ch->n_consumers == 0) {
        free_channel(cs, ch);
        return;
    }
    if (has_ep(ch, ch->payer))
        return;
    /* The payer left: the producer pays, else the lowest consumer index. */
    struct chan_party *to = ch->producer != NULL ? ch->producer->party : NULL;
    for (uint32_t i = 0; to == NULL && i < ch->ref.geom.max_consumers; i++)
        if (ch->consumers[i] != NULL)
            to = ch->consumers[i]->party;
    char err[8];
    rc = move_charge(ch, to, true, err, sizeof(err));
    assert(rc == 0);
}

uint32_t channels_party_gone(struct channels *cs, struct chan_party *p)
{
    uint32_t n = p->n_eps;
    channels_wait_cancel(cs, p);
    while (p->eps != NULL)
        channels_release(cs, p->eps);
    return n;
}

void channels_view(const struct chan_ep *ep, struct chan_view *v)
{
    const struct channel *ch = ep->ch;
    *v = (struct chan_view){
        .name = ch->name,
        .off = ch->off,
        .region_bytes = ch->ref.region_bytes,
        .geom = ch->ref.geom,
        .consumers = ch->n_consumers,
    };
}

int channels_foreach(const struct channels *cs,
                     int (*cb)(const struct channel_summary *c, void *arg), void *arg)
{
    for (const struct channel *ch = cs->list; ch != NULL; ch = ch->next) {
        const struct chan_ep *cons[CHAN_MAX_CONSUMERS];
        uint32_t n = 0;
        for (uint32_t i = 0; i < CHAN_MAX_CONSUMERS && n < ch->n_consumers; i++)
            if (ch->consumers[i] != NULL)
                cons[n++] = ch->consumers[i];
        struct chan_info info;
        memset(&info, 0, sizeof(info));
        bool bad = chan_inspect(&ch->ref, &info) < 0;
        struct channel_summary c = {
            .name = ch->name,
            .off = ch->off,
            .region_bytes = ch->ref.region_bytes,
            .geom = ch->ref.geom,
            .producer = ch->producer,
            .consumers = cons,
            .n_consumers = n,
            .sequence = info.head,
            .slots_in_flight = info.busy_slots,
            .broken = ch->broken || bad,
        };
        int rc = cb(&c, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}
