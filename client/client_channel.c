/* client_channel.c - channels: create, open and close through the daemon;
 * acquire, publish, receive and done on the ring (proto/chan.h) with no
 * system call. A handle is one end: the producer's, or one consumer index. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "client_internal.h"

struct orion_channel {
    orion_client *c;
    char *name;
    bool producer;
    uint32_t index;            /* consumer index */
    unsigned fork_gen;         /* fork_gen when made: another one is a child */
    struct chan_geom geom;     /* the daemon's, from its reply */
    union {
        struct chan_producer p;
        struct chan_consumer k;
    } u;
};

static int check_handle(orion_channel *ch)
{
    if (ch == NULL)
        return -EINVAL;
    if (client_fork_gen() != ch->fork_gen)
        return client_fail(ch->c, -ECHILD, "channel '%s' belongs to the process that opened "
                           "it: connect and open it again in the child", ch->name);
    return 0;
}

static int send_close(orion_client *c, const char *name, bool producer, uint32_t index)
{
    Orion__ChannelClose body = ORION__CHANNEL_CLOSE__INIT;
    body.name = (char *)name;
    body.producer = producer;
    body.index = index;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_CHANNEL_CLOSE;
    req.channel_close = &body;
    Orion__Response *resp;
    int rc = client_call(c, &req, ORION__RESPONSE__BODY_OK, &resp);
    if (rc == 0)
        orion__response__free_unpacked(resp, NULL);
    return rc;
}

/* Check a ChannelReply against what was asked and the arena; the daemon's
 * geometry is the only one the ends are built from. -EPROTO marks c broken
 * (the daemon holds an end we cannot name). */
static int check_reply(orion_client *c, const char *name, bool producer,
                       const struct orion_channel_config *cfg, const Orion__ChannelReply *r,
                       struct chan_geom *g)
{
    const char *why = NULL;
    struct chan_layout l;
    *g = (struct chan_geom){r->slot_bytes, r->depth, r->max_consumers};
    if (r->name == NULL || strcmp(r->name, name) != 0)
        why = "for another channel";
    else if (r->producer != producer)
        why = producer ? "with a consumer end to a create" : "with a producer end to an open";
    else if (chan_layout(g, &l) < 0)
        why = "with an impossible geometry";
    else if (cfg != NULL && (g->slot_bytes != cfg->slot_bytes ||
                             (cfg->depth != 0 && g->depth != cfg->depth) ||
                             (cfg->max_consumers != 0 && g->max_consumers != cfg->max_consumers)))
        why = "with another geometry than asked";
    else if (r->region_bytes < l.total_bytes || !client_range_ok(c, r->offset, r->region_bytes) ||
             r->offset % CHAN_ALIGN != 0)
        why = "with a region outside the arena, misaligned or too small";
    else if (!producer && r->index >= g->max_consumers)
        why = "with a consumer index above max_consumers";
    if (why == NULL)
        return 0;
    client_mark_broken(c);
    return client_fail(c, -EPROTO, "orionrtd answered for channel '%s' %s (offset %llu, "
                       "%llu bytes, slot_bytes=%llu depth=%u max_consumers=%u)", name, why,
                       (unsigned long long)r->offset, (unsigned long long)r->region_bytes,
                       (unsigned long long)r->slot_bytes, r->depth, r->max_consumers);
}

/* Send req, check the reply and build the end. When the end cannot be built
 * (memory, a block that does not match), the end the daemon just made is
 * given back. */
static int channel_call(orion_client *c, Orion__Request *req, const char *name, bool producer,
                        const struct orion_channel_config *cfg, orion_channel **out)
{
    Orion__Response *resp;
    int rc = client_call(c, req, ORION__RESPONSE__BODY_CHANNEL, &resp);
    if (rc < 0)
        return rc;
    const Orion__ChannelReply *r = resp->channel;
    struct chan_geom g;
    if ((rc = check_reply(c, name, producer, cfg, r, &g)) < 0)
        goto err_free_resp;
    uint32_t index = producer ? 0 : r->index;
    orion_channel *ch = calloc(1, sizeof(*ch));
    char *n = strdup(name);
    if (ch == NULL || n == NULL) {
        free(ch);
        free(n);
        rc = client_fail(c, -ENOMEM, "out of memory for channel '%s'", name);
        goto err_close;
    }
    void *base = (char *)c->base + r->offset;
    if (producer)
        rc = chan_producer_open(&ch->u.p, base, r->region_bytes, &g);
    else
        rc = chan_consumer_open(&ch->u.k, base, r->region_bytes, &g, index, r->start_seq);
    if (rc < 0) {
        free(ch);
        free(n);
        rc = client_fail(c, rc, rc == -ENOMEM ? "out of memory for channel '%s'"
                         : "channel '%s': its control block does not match the daemon's "
                           "geometry (overwritten?)", name);
        goto err_close;
    }
    ch->c = c;
    ch->name = n;
    ch->producer = producer;
    ch->index = index;
    ch->geom = g;
    ch->fork_gen = client_fork_gen();
    orion__response__free_unpacked(resp, NULL);
    *out = ch;
    return 0;

err_close: {
        char keep[CLIENT_ERR_LEN];
        snprintf(keep, sizeof(keep), "%s", orion_client_error(c));
        (void)send_close(c, name, producer, index);
        client_fail(c, rc, "%s", keep);
    }
err_free_resp:
    orion__response__free_unpacked(resp, NULL);
    return rc;
}

static int begin(orion_client *c, const char *name, orion_channel **out)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (out == NULL)
        return client_fail(c, -EINVAL, "out is NULL");
    *out = NULL;
    if (name == NULL)
        return client_fail(c, -EINVAL, "channel name is NULL");
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return client_fail(c, -EINVAL, "channel name must be 1-255 bytes, not %zu", len);
    return 0;
}

int orion_channel_create(orion_client *c, const char *name,
                         const struct orion_channel_config *cfg, orion_channel **out)
{
    int rc = begin(c, name, out);
    if (rc < 0)
        return rc;
    if (cfg == NULL)
        return client_fail(c, -EINVAL, "channel '%s': cfg is NULL", name);
    if (cfg->slot_bytes == 0)
        return client_fail(c, -EINVAL, "channel '%s': slot_bytes must be above 0", name);
    Orion__ChannelCreate body = ORION__CHANNEL_CREATE__INIT;
    body.name = (char *)name;
    body.slot_bytes = cfg->slot_bytes;
    body.depth = cfg->depth;
    body.max_consumers = cfg->max_consumers;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_CHANNEL_CREATE;
    req.channel_create = &body;
    return channel_call(c, &req, name, true, cfg, out);
}

int orion_channel_open(orion_client *c, const char *name, int64_t timeout_ms,
                       orion_channel **out)
{
    int rc = begin(c, name, out);
    if (rc < 0)
        return rc;
    Orion__ChannelOpen body = ORION__CHANNEL_OPEN__INIT;
    body.name = (char *)name;
    body.timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_CHANNEL_OPEN;
    req.channel_open = &body;
    return channel_call(c, &req, name, false, NULL, out);
}

/* Words for the ring's errors, on the calling thread's message. */
static int ring_fail(orion_channel *ch, int rc, const char *op, int64_t timeout_ms)
{
    switch (rc) {
    case -ETIMEDOUT:
        return client_fail(ch->c, rc, "channel '%s': %s: nothing within %lld ms", ch->name, op,
                           (long long)timeout_ms);
    case -EPIPE:
        return client_fail(ch->c, rc, ch->producer
                           ? "channel '%s': %s: the daemon counts this producer as gone"
                           : "channel '%s': %s: the producer is gone and everything it "
                             "published was received", ch->name, op);
    case -EPROTO:
        return client_fail(ch->c, rc, "channel '%s': %s: the control block is corrupt "
                           "(overwritten in shared memory); close and create it again",
                           ch->name, op);
    case -ENOBUFS:
        return client_fail(ch->c, rc, "channel '%s': %s: all %u slots are acquired and not "
                           "published", ch->name, op, ch->geom.depth);
    default:
        return client_fail(ch->c, rc, "channel '%s': %s: %s", ch->name, op, strerror(-rc));
    }
}

int orion_channel_acquire(orion_channel *ch, int64_t timeout_ms, void **slot)
{
    int rc = check_handle(ch);
    if (rc < 0)
        return rc;
    if (!ch->producer || slot == NULL)
        return client_fail(ch->c, -EINVAL, "channel '%s': acquire %s", ch->name,
                           slot == NULL ? "with slot NULL" : "on a consumer end");
    rc = chan_acquire(&ch->u.p, timeout_ms, slot);
    return rc == 0 ? 0 : ring_fail(ch, rc, "acquire", timeout_ms);
}

int orion_channel_publish(orion_channel *ch, void *slot, uint64_t bytes)
{
    int rc = check_handle(ch);
    if (rc < 0)
        return rc;
    if (!ch->producer)
        return client_fail(ch->c, -EINVAL, "channel '%s': publish on a consumer end", ch->name);
    rc = chan_publish(&ch->u.p, slot, bytes);
    if (rc == -EINVAL)
        return client_fail(ch->c, rc, bytes > ch->geom.slot_bytes
                           ? "channel '%s': publish of %llu bytes, slots hold %llu"
                           : "channel '%s': publish of a slot that is not the oldest acquired "
                             "(%llu bytes; slots of %llu)", ch->name,
                           (unsigned long long)bytes, (unsigned long long)ch->geom.slot_bytes);
    return rc == 0 ? 0 : ring_fail(ch, rc, "publish", 0);
}

int orion_channel_receive(orion_channel *ch, int64_t timeout_ms, const void **slot,
                          uint64_t *bytes, uint64_t *seq)
{
    int rc = check_handle(ch);
    if (rc < 0)
        return rc;
    if (ch->producer || slot == NULL)
        return client_fail(ch->c, -EINVAL, "channel '%s': receive %s", ch->name,
                           slot == NULL ? "with slot NULL" : "on the producer end");
    rc = chan_receive(&ch->u.k, timeout_ms, slot, bytes, seq);
    return rc == 0 ? 0 : ring_fail(ch, rc, "receive", timeout_ms);
}

int orion_channel_done(orion_channel *ch, const void *slot)
{
    int rc = check_handle(ch);
    if (rc < 0)
        return rc;
    if (ch->producer)
        return client_fail(ch->c, -EINVAL, "channel '%s': done on the producer end", ch->name);
    rc = chan_done(&ch->u.k, slot);
    if (rc == -EINVAL)
        return client_fail(ch->c, rc, "channel '%s': done on a slot this consumer does not "
                           "hold", ch->name);
    return rc == 0 ? 0 : ring_fail(ch, rc, "done", 0);
}

int orion_channel_consumers(const orion_channel *ch)
{
    if (ch == NULL)
        return -EINVAL;
    if (client_fork_gen() != ch->fork_gen)
        return -ECHILD;
    struct chan_ctl *ctl = ch->producer ? ch->u.p.ctl : ch->u.k.ctl;
    uint64_t m = atomic_load_explicit(&ctl->attached, memory_order_relaxed);
    if (ch->geom.max_consumers < 64)
        m &= (UINT64_C(1) << ch->geom.max_consumers) - 1;
    return __builtin_popcountll(m);
}

uint64_t orion_channel_slot_bytes(const orion_channel *ch)
{
    return ch != NULL ? ch->geom.slot_bytes : 0;
}

uint32_t orion_channel_depth(const orion_channel *ch)
{
    return ch != NULL ? ch->geom.depth : 0;
}

const char *orion_channel_name(const orion_channel *ch)
{
    return ch != NULL ? ch->name : NULL;
}

int orion_channel_set_spin_ns(orion_channel *ch, uint32_t spin_ns)
{
    if (ch == NULL)
        return -EINVAL;
    if (ch->producer)
        ch->u.p.spin_ns = spin_ns;
    else
        ch->u.k.spin_ns = spin_ns;
    return 0;
}

int orion_channel_close(orion_channel *ch)
{
    if (ch == NULL)
        return 0;
    int rc = check_handle(ch);
    if (ch->producer)
        chan_producer_close(&ch->u.p);
    else
        chan_consumer_close(&ch->u.k);
    /* In a forked child the socket is the parent's: only the handle goes. */
    if (rc == 0)
        rc = send_close(ch->c, ch->name, ch->producer, ch->index);
    free(ch->name);
    free(ch);
    return rc;
}
