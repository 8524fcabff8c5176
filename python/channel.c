/* channel.c - channels: Client.channel_create/_open and the Channel, Slot and
 * Message types; the channel calls exist only when liborion-client has
 * channels (ORION_PY_CHANNELS), the types always.
 */
#include "orion_ext.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#if ORION_PY_CHANNELS
static PyObject *channel_handle(client_object *cl, int rc, orion_channel *ch)
{
    struct handle *o;

    if (rc < 0)
        return raise_client(cl, rc);
    o = handle_new(channel_cls, cl, NULL, H_CHANNEL, ch);
    if (o == NULL) {
        orion_channel_close(ch);
        return NULL;
    }
    o->nbytes = orion_channel_slot_bytes(ch);
    return (PyObject *)o;
}

PyObject *client_channel_create(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "slot_bytes", "depth", "max_consumers", NULL};
    const char *name;
    unsigned long long slot_bytes;
    unsigned int depth = 4, max_consumers = 8;
    struct orion_channel_config cfg;
    orion_channel *ch = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "sK|II", kwlist, &name, &slot_bytes, &depth,
                                     &max_consumers))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.slot_bytes = slot_bytes;
    cfg.depth = depth;
    cfg.max_consumers = max_consumers;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_channel_create(cl->c, name, &cfg, &ch);
    Py_END_ALLOW_THREADS
    return channel_handle(cl, rc, ch);
}

PyObject *client_channel_open(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "timeout_ms", NULL};
    const char *name;
    long long timeout_ms = -1;
    orion_channel *ch = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|L", kwlist, &name, &timeout_ms))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_channel_open(cl->c, name, timeout_ms, &ch);
    Py_END_ALLOW_THREADS
    return channel_handle(cl, rc, ch);
}
#endif

/* ---- Channel, Slot, Message (when liborion-client has channels) ---------- */

#if ORION_PY_CHANNELS
static PyObject *channel_acquire(struct handle *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout_ms", NULL};
    long long timeout_ms = -1;
    void *slot = NULL;
    struct handle *s;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|L", kwlist, &timeout_ms))
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    rc = orion_channel_acquire(o->h, 0, &slot);
    if (rc == -ETIMEDOUT && timeout_ms != 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = orion_channel_acquire(o->h, timeout_ms, &slot);
        Py_END_ALLOW_THREADS
    }
    if (rc < 0)
        return raise_client(o->client, rc);
    s = handle_new(slot_cls, o->client, o, H_SLOT, slot);
    if (s != NULL)
        s->nbytes = orion_channel_slot_bytes(o->h);
    return (PyObject *)s;
}

static PyObject *channel_publish(struct handle *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"slot", "nbytes", NULL};
    PyObject *nb = Py_None;
    struct handle *s;
    uint64_t bytes;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O", kwlist, &slot_type, &s, &nb))
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    if (s->parent != o || s->h == NULL || s->published)
        return raise_msg(-EINVAL, "not an unpublished slot of this channel");
    if (nb == Py_None) {
        bytes = s->nbytes;
    } else {
        bytes = PyLong_AsUnsignedLongLong(nb);
        if (bytes == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
    }
    rc = orion_channel_publish(o->h, s->h, bytes);
    if (rc < 0)
        return raise_client(o->client, rc);
    s->published = 1;
    /* The slot's views stay mapped (the channel lives while they do), but
     * the bytes belong to the consumers now. */
    s->pending = 1;
    if (s->n_views == 0)
        (void)handle_free(s);
    Py_RETURN_NONE;
}

static PyObject *channel_receive(struct handle *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout_ms", NULL};
    long long timeout_ms = -1;
    const void *slot = NULL;
    uint64_t bytes = 0, seq = 0;
    struct handle *m;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|L", kwlist, &timeout_ms))
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    /* Try once with the GIL held (the steady state: no system call); sleep
     * without it. */
    rc = orion_channel_receive(o->h, 0, &slot, &bytes, &seq);
    if (rc == -ETIMEDOUT && timeout_ms != 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = orion_channel_receive(o->h, timeout_ms, &slot, &bytes, &seq);
        Py_END_ALLOW_THREADS
    }
    if (rc < 0)
        return raise_client(o->client, rc);
    m = handle_new(message_cls, o->client, o, H_MESSAGE, (void *)slot);
    if (m == NULL) {
        orion_channel_done(o->h, slot);
        return NULL;
    }
    m->nbytes = bytes;
    m->seq = seq;
    m->readonly = 1;
    return (PyObject *)m;
}

static PyObject *channel_get_slot_bytes(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_channel_slot_bytes(o->h));
}

static PyObject *channel_get_consumers(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromLong(orion_channel_consumers(o->h));
}

/* C's receive + done, n times, timed in C: the baseline of bench_python. */
static PyObject *channel_bench_receive_done(struct handle *o, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    struct timespec t0, t1;
    int rc = 0;

    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n && rc == 0; i++) {
        const void *slot;
        rc = orion_channel_receive(o->h, -1, &slot, NULL, NULL);
        if (rc == 0)
            rc = orion_channel_done(o->h, slot);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_client(o->client, rc);
    return PyFloat_FromDouble((double)(t1.tv_sec - t0.tv_sec) +
                              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static PyMethodDef channel_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))channel_acquire, METH_VARARGS | METH_KEYWORDS,
     "A free slot (producer); waits while every slot is in flight."},
    {"publish", (PyCFunction)(void (*)(void))channel_publish, METH_VARARGS | METH_KEYWORDS,
     "Publish an acquired slot (nbytes default: the slot's size)."},
    {"receive", (PyCFunction)(void (*)(void))channel_receive, METH_VARARGS | METH_KEYWORDS,
     "The next message (consumer)."},
    {"_bench_receive_done", (PyCFunction)channel_bench_receive_done, METH_O, NULL},
    {"close", (PyCFunction)handle_release, METH_NOARGS,
     "Detach; deferred while slots, messages or views of them exist."},
    HANDLE_COMMON_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef channel_getset[] = {
    {"slot_bytes", (getter)channel_get_slot_bytes, NULL, "bytes of one slot", NULL},
    {"consumers", (getter)channel_get_consumers, NULL, "consumers attached", NULL},
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};
#else
static PyMethodDef channel_methods[] = {
    {"close", (PyCFunction)handle_release, METH_NOARGS, NULL},
    HANDLE_COMMON_METHODS,
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef channel_getset[] = {
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};
#endif

/* A slot's or message's bytes. */
static PyObject *piece_region(struct handle *o, PyObject *Py_UNUSED(ignored))
{
    if (handle_check(o) < 0)
        return NULL;
    return view_new(o, o->h, o->nbytes, o->readonly);
}

static PyObject *piece_get_nbytes(struct handle *o, void *Py_UNUSED(c))
{
    return PyLong_FromUnsignedLongLong(o->nbytes);
}

static PyObject *piece_get_seq(struct handle *o, void *Py_UNUSED(c))
{
    return PyLong_FromUnsignedLongLong(o->seq);
}

static PyMethodDef slot_methods[] = {
    {"_region", (PyCFunction)piece_region, METH_NOARGS, "a _View of the slot's bytes"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef slot_getset[] = {
    {"nbytes", (getter)piece_get_nbytes, NULL, "the slot's size", NULL},
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef message_methods[] = {
    {"_region", (PyCFunction)piece_region, METH_NOARGS, "a _View of the message's bytes"},
    {"done", (PyCFunction)handle_release, METH_NOARGS,
     "Finished with the message; deferred while views of it exist."},
    HANDLE_COMMON_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef message_getset[] = {
    {"nbytes", (getter)piece_get_nbytes, NULL, "bytes published", NULL},
    {"seq", (getter)piece_get_seq, NULL, "sequence number (0, 1, 2, ... per channel)", NULL},
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

HANDLE_TYPE(channel_type, "orion._orion.Channel", "A channel endpoint.", channel_methods,
            channel_getset);
HANDLE_TYPE(slot_type, "orion._orion.Slot", "A producer's acquired slot.", slot_methods,
            slot_getset);
HANDLE_TYPE(message_type, "orion._orion.Message", "A received message.", message_methods,
            message_getset);

PyTypeObject *channel_cls = &channel_type, *slot_cls = &slot_type,
             *message_cls = &message_type;
