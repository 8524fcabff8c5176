/* client_buffer.c - named buffers: create, open, wait, seal, wait_unused,
 * release. A handle is this connection's hold on the buffer (one hold per
 * handle); its pointer is base + offset, checked against the arena. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

struct orion_buffer {
    orion_client *c;
    char *name;
    uint64_t off;
    uint64_t bytes;
};

/* Check a BufferReply for `name` and, if out is not NULL, make a handle.
 * A reply for another name, or outside the arena, is -EPROTO: the daemon
 * then holds something we cannot name, so the connection is ended. */
static int buffer_from_reply(orion_client *c, const char *name, uint64_t min_bytes,
                             const Orion__BufferReply *r, orion_buffer **out)
{
    if (r->name == NULL || strcmp(r->name, name) != 0) {
        client_mark_broken(c);
        return client_fail(c, -EPROTO, "orionrtd answered for buffer '%s' when '%s' was asked",
                           r->name ? r->name : "", name);
    }
    if (r->bytes < min_bytes || !client_range_ok(c, r->offset, r->bytes)) {
        client_mark_broken(c);
        return client_fail(c, -EPROTO,
                           "orionrtd placed buffer '%s' at [%llu, +%llu), not %llu bytes inside the %llu-byte arena",
                           name, (unsigned long long)r->offset, (unsigned long long)r->bytes,
                           (unsigned long long)min_bytes, (unsigned long long)c->arena_bytes);
    }
    if (out == NULL)
        return 0;
    orion_buffer *b = calloc(1, sizeof(*b));
    char *n = strdup(name);
    if (b == NULL || n == NULL) {
        free(b);
        free(n);
        return client_fail(c, -ENOMEM, "out of memory for buffer '%s'", name);
    }
    *b = (orion_buffer){ .c = c, .name = n, .off = r->offset, .bytes = r->bytes };
    *out = b;
    return 0;
}

static int send_release(orion_client *c, const char *name)
{
    Orion__BufferRelease body = ORION__BUFFER_RELEASE__INIT;
    body.name = (char *)name;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_RELEASE;
    req.buffer_release = &body;
    Orion__Response *resp;
    int rc = client_call(c, &req, ORION__RESPONSE__BODY_OK, &resp);
    if (rc == 0)
        orion__response__free_unpacked(resp, NULL);
    return rc;
}

/* Send req, expect a BufferReply for name, make the handle. If the handle
 * cannot be made for want of memory, the hold just taken is given back. */
static int buffer_call(orion_client *c, Orion__Request *req, const char *name, uint64_t min_bytes,
                       orion_buffer **out)
{
    Orion__Response *resp;
    int rc = client_call(c, req, ORION__RESPONSE__BODY_BUFFER, &resp);
    if (rc < 0)
        return rc;
    rc = buffer_from_reply(c, name, min_bytes, resp->buffer, out);
    orion__response__free_unpacked(resp, NULL);
    if (rc == -ENOMEM && out != NULL) {
        char keep[CLIENT_ERR_LEN];
        snprintf(keep, sizeof(keep), "%s", orion_client_error(c));
        (void)send_release(c, name);
        client_fail(c, rc, "%s", keep);
    }
    return rc;
}

/* The checks every constructor shares. */
static int begin(orion_client *c, const char *name, orion_buffer **out)
{
    int rc = client_check_usable(c);
    if (rc < 0)
        return rc;
    if (out == NULL)
        return client_fail(c, -EINVAL, "out is NULL");
    *out = NULL;
    return client_check_name(c, name);
}

int orion_buffer_create(orion_client *c, const char *name, uint64_t bytes, orion_buffer **out)
{
    int rc = begin(c, name, out);
    if (rc < 0)
        return rc;
    if (bytes == 0)
        return client_fail(c, -EINVAL, "buffer '%s': size must be above 0", name);
    Orion__BufferCreate body = ORION__BUFFER_CREATE__INIT;
    body.name = (char *)name;
    body.bytes = bytes;
    body.align = 0;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_CREATE;
    req.buffer_create = &body;
    return buffer_call(c, &req, name, bytes, out);
}

int orion_buffer_open(orion_client *c, const char *name, orion_buffer **out)
{
    int rc = begin(c, name, out);
    if (rc < 0)
        return rc;
    Orion__BufferOpen body = ORION__BUFFER_OPEN__INIT;
    body.name = (char *)name;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_OPEN;
    req.buffer_open = &body;
    return buffer_call(c, &req, name, 0, out);
}

int orion_buffer_wait(orion_client *c, const char *name, int64_t timeout_ms, orion_buffer **out)
{
    int rc = begin(c, name, out);
    if (rc < 0)
        return rc;
    /* The daemon does the timing; the call blocks until its reply. */
    Orion__BufferWait body = ORION__BUFFER_WAIT__INIT;
    body.name = (char *)name;
    body.timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    body.what = ORION__WAIT_FOR__SEALED;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &body;
    return buffer_call(c, &req, name, 0, out);
}

int orion_buffer_seal(orion_buffer *b)
{
    if (b == NULL)
        return -EINVAL;
    int rc = client_check_usable(b->c);
    if (rc < 0)
        return rc;
    Orion__BufferSeal body = ORION__BUFFER_SEAL__INIT;
    body.name = b->name;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_SEAL;
    req.buffer_seal = &body;
    return buffer_call(b->c, &req, b->name, 0, NULL);
}

int orion_buffer_wait_unused(orion_buffer *b, int64_t timeout_ms)
{
    if (b == NULL)
        return -EINVAL;
    int rc = client_check_usable(b->c);
    if (rc < 0)
        return rc;
    Orion__BufferWait body = ORION__BUFFER_WAIT__INIT;
    body.name = b->name;
    body.timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    body.what = ORION__WAIT_FOR__UNUSED;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &body;
    Orion__Response *resp;
    rc = client_call(b->c, &req, ORION__RESPONSE__BODY_BUFFER, &resp);
    if (rc < 0)
        return rc;
    bool gone = resp->buffer->holder_gone;
    orion__response__free_unpacked(resp, NULL);
    if (gone)
        return client_fail(b->c, -EOWNERDEAD, "buffer '%s' is unused: its last other holder "
                           "disconnected (exited or was killed) without releasing it", b->name);
    return 0;
}

void *orion_buffer_ptr(const orion_buffer *b)
{
    return b != NULL ? (char *)b->c->base + b->off : NULL;
}

uint64_t orion_buffer_size(const orion_buffer *b)
{
    return b != NULL ? b->bytes : 0;
}

uint64_t orion_buffer_offset(const orion_buffer *b)
{
    return b != NULL ? b->off : 0;
}

const char *orion_buffer_name(const orion_buffer *b)
{
    return b != NULL ? b->name : NULL;
}

int orion_buffer_release(orion_buffer *b)
{
    if (b == NULL)
        return 0;
    /* In a forked child: -ECHILD, the socket untouched; the handle is freed
     * whatever the outcome. */
    int rc = send_release(b->c, b->name);
    free(b->name);
    free(b);
    return rc;
}
