/* _orion.c - the CPython extension module under the `orion` package, on
 * liborion-client.
 *
 * Types: Client; the handles Plan, Buffer, Channel, Slot, Message (one C
 * layout, `struct handle`, told apart by `kind`); _View, a buffer-protocol
 * object over a range of the arena that numpy wraps with no copy. The
 * package's Python modules subclass the public types (orion/__init__.py)
 * and tell this module which classes to instantiate (_set_types).
 *
 * Lifetimes: no view ever dangles. A view holds a reference to its handle
 * and counts in the handle's n_views; a handle holds its client (and a Slot
 * or Message its channel, in whose n_views it counts while it is alive).
 * release() (done(), close()) while views exist is DEFERRED: the handle is
 * unusable from Python at once, and the C handle is freed when the last view
 * goes. Client.close() does the same for every handle it still has, and
 * closes the connection (unmapping the arena) only once no handle remains.
 *
 * Errors are orion.Error (an OSError): errno and the library's message
 * (orion_client_error: which op, which tensor, which name).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <orion/orion.h>

#if defined(__has_include)
#if __has_include(<orion/channel.h>)
#include <orion/channel.h>
#define ORION_PY_CHANNELS 1
#endif
#endif
#ifndef ORION_PY_CHANNELS
#define ORION_PY_CHANNELS 0
#endif

#include "offline.h"

static PyObject *orion_error; /* orion.Error */

/* Bumped in every forked child (pthread_atfork): a client made before has
 * an older generation, so its handles' local calls raise ECHILD as the
 * library's remote calls do, without a getpid() per call. */
static unsigned long fork_gen;

static void atfork_child(void)
{
    fork_gen++;
}

static PyObject *raise_msg(int code, const char *msg)
{
    PyObject *args;

    if (code > 0)
        code = -code;
    if (msg == NULL || msg[0] == '\0')
        msg = orion_strerror(code);
    args = Py_BuildValue("(is)", -code, msg);
    if (args != NULL) {
        PyErr_SetObject(orion_error, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* ---- Client ------------------------------------------------------------- */

struct handle;

typedef struct {
    PyObject_HEAD
    orion_client *c;           /* NULL once closed */
    struct handle *handles;    /* live top-level C handles (plans, buffers, channels) */
    Py_ssize_t n_handles;
    unsigned long gen;         /* fork_gen at connect */
    int closing;               /* close() called: no new calls; close when n_handles is 0 */
} client_object;

static PyTypeObject client_type;

static PyObject *raise_client(client_object *cl, int code)
{
    return raise_msg(code, cl->c != NULL ? orion_client_error(cl->c) : NULL);
}

/* 0 if cl may be used, else -1 with orion.Error set. */
static int client_check(client_object *cl)
{
    if (cl->closing || cl->c == NULL) {
        raise_msg(-EBADF, "the client is closed");
        return -1;
    }
    if (cl->gen != fork_gen) {
        raise_msg(-ECHILD, "the connection belongs to the parent process (connect again in "
                           "the child)");
        return -1;
    }
    return 0;
}

static void client_close_now(client_object *cl)
{
    if (cl->c != NULL) {
        orion_client *c = cl->c;
        cl->c = NULL;
        Py_BEGIN_ALLOW_THREADS
        orion_client_close(c);
        Py_END_ALLOW_THREADS
    }
}

/* ---- handles ------------------------------------------------------------ */

enum handle_kind { H_PLAN, H_BUFFER, H_CHANNEL, H_SLOT, H_MESSAGE };

struct handle {
    PyObject_HEAD
    client_object *client;     /* strong */
    struct handle *parent;     /* Slot, Message: the channel (strong); else NULL */
    struct handle *prev, *next; /* in client->handles (top-level handles only) */
    int kind;
    void *h;                   /* orion_plan / orion_buffer / orion_channel / slot address;
                                  NULL once freed */
    Py_ssize_t n_views;        /* views (and, for a channel, live slots and messages) */
    int pending;               /* released from Python: free h when n_views is 0 */
    int readonly;              /* views are read-only (sealed or opened buffer, message) */
    int published;             /* slot: handed to the channel */
    uint64_t nbytes;           /* buffer size, slot bytes, message bytes */
    uint64_t seq;              /* message */
    PyObject *info;            /* for the Python layer (a plan's dtypes and shapes) */
    PyObject *weakrefs;
};

static PyTypeObject plan_type, buffer_type, channel_type, slot_type, message_type, view_type;
/* The classes to instantiate (the package's subclasses; default the bases). */
static PyTypeObject *plan_cls = &plan_type, *buffer_cls = &buffer_type,
                    *channel_cls = &channel_type, *slot_cls = &slot_type,
                    *message_cls = &message_type;

static const char *const kind_words[] = {"plan", "buffer", "channel", "slot", "message"};

static struct handle *handle_new(PyTypeObject *cls, client_object *cl, struct handle *parent,
                                 int kind, void *h)
{
    struct handle *o = (struct handle *)cls->tp_alloc(cls, 0);

    if (o == NULL)
        return NULL;
    Py_INCREF(cl);
    o->client = cl;
    o->kind = kind;
    o->h = h;
    if (parent != NULL) {
        Py_INCREF(parent);
        o->parent = parent;
        parent->n_views++;
    } else {
        o->next = cl->handles;
        if (cl->handles != NULL)
            cl->handles->prev = o;
        cl->handles = o;
        cl->n_handles++;
    }
    return o;
}

static int handle_free(struct handle *o);

static void handle_drop_view(struct handle *o)
{
    assert(o->n_views > 0);
    if (--o->n_views == 0 && o->pending && o->h != NULL)
        (void)handle_free(o);
}

/* Free the C handle now (no view may exist). Returns the library's code. */
static int handle_free(struct handle *o)
{
    client_object *cl = o->client;
    void *h = o->h;
    int rc = 0;

    assert(o->n_views == 0);
    if (h == NULL)
        return 0;
    o->h = NULL;
    o->pending = 0;
    switch (o->kind) {
    case H_PLAN:
        Py_BEGIN_ALLOW_THREADS
        rc = orion_plan_release(h);
        Py_END_ALLOW_THREADS
        break;
    case H_BUFFER:
        Py_BEGIN_ALLOW_THREADS
        rc = orion_buffer_release(h);
        Py_END_ALLOW_THREADS
        break;
#if ORION_PY_CHANNELS
    case H_CHANNEL:
        Py_BEGIN_ALLOW_THREADS
        rc = orion_channel_close(h);
        Py_END_ALLOW_THREADS
        break;
    case H_MESSAGE:
        if (o->parent->h != NULL)
            rc = orion_channel_done(o->parent->h, h);
        break;
#endif
    default: /* a slot: nothing to give back (published or not) */
        break;
    }
    if (o->parent != NULL) {
        handle_drop_view(o->parent);
    } else {
        if (o->prev != NULL)
            o->prev->next = o->next;
        else
            cl->handles = o->next;
        if (o->next != NULL)
            o->next->prev = o->prev;
        o->prev = o->next = NULL;
        if (--cl->n_handles == 0 && cl->closing)
            client_close_now(cl);
    }
    return rc;
}

static void handle_dealloc(struct handle *o)
{
    PyObject_GC_UnTrack(o);
    if (o->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)o);
    /* Views hold a reference: none is left. A pending error cannot be reported. */
    (void)handle_free(o);
    Py_CLEAR(o->info);
    Py_CLEAR(o->parent);
    Py_CLEAR(o->client);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static int handle_traverse(struct handle *o, visitproc visit, void *arg)
{
    Py_VISIT(o->info);
    Py_VISIT(o->parent);
    Py_VISIT(o->client);
    return 0;
}

static int handle_clear(struct handle *o)
{
    Py_CLEAR(o->info);
    return 0;
}

/* 0 if o may be used from Python, else -1 with orion.Error set. */
static int handle_check(struct handle *o)
{
    if (o->h == NULL || o->pending) {
        char msg[64];
        snprintf(msg, sizeof(msg), "the %s was released", kind_words[o->kind]);
        raise_msg(-EBADF, msg);
        return -1;
    }
    if (o->client->gen != fork_gen) {
        raise_msg(-ECHILD, "the connection belongs to the parent process (connect again in "
                           "the child)");
        return -1;
    }
    return 0;
}

/* release(): free now, or when the last view goes. Raises the library's
 * error when it fails now; a second release does nothing. */
static PyObject *handle_release(struct handle *o, PyObject *Py_UNUSED(ignored))
{
    int rc;

    if (o->h == NULL || o->pending)
        Py_RETURN_NONE;
    if (o->n_views > 0) {
        o->pending = 1;
        Py_RETURN_NONE;
    }
    rc = handle_free(o);
    if (rc < 0)
        return raise_msg(rc, o->client->c != NULL ? orion_client_error(o->client->c) : NULL);
    Py_RETURN_NONE;
}

static PyObject *handle_enter(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_INCREF(self);
    return self;
}

static PyObject *handle_exit(struct handle *o, PyObject *Py_UNUSED(args))
{
    return handle_release(o, NULL);
}

static PyObject *handle_get_released(struct handle *o, void *Py_UNUSED(c))
{
    return PyBool_FromLong(o->h == NULL || o->pending);
}

static PyObject *handle_get_freed(struct handle *o, void *Py_UNUSED(c))
{
    return PyBool_FromLong(o->h == NULL);
}

static PyObject *handle_get_views(struct handle *o, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(o->n_views);
}

static PyObject *handle_get_client(struct handle *o, void *Py_UNUSED(c))
{
    Py_INCREF(o->client);
    return (PyObject *)o->client;
}

static PyMemberDef handle_members[] = {
    {"_info", T_OBJECT, offsetof(struct handle, info), 0, "data of the Python layer"},
    {NULL, 0, 0, 0, NULL},
};

/* ---- _View: a range of the arena, by the buffer protocol ----------------- */

typedef struct {
    PyObject_HEAD
    struct handle *owner; /* strong; counted in owner->n_views */
    void *ptr;
    Py_ssize_t len;
    int readonly;
} view_object;

static PyObject *view_new(struct handle *owner, void *ptr, uint64_t len, int readonly)
{
    view_object *v;

    if (len > (uint64_t)PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "region too large");
        return NULL;
    }
    v = PyObject_New(view_object, &view_type);
    if (v == NULL)
        return NULL;
    Py_INCREF(owner);
    v->owner = owner;
    owner->n_views++;
    v->ptr = ptr;
    v->len = (Py_ssize_t)len;
    v->readonly = readonly;
    return (PyObject *)v;
}

static void view_dealloc(view_object *v)
{
    struct handle *owner = v->owner;

    handle_drop_view(owner);
    PyObject_Free(v);
    Py_DECREF(owner);
}

static int view_getbuffer(view_object *v, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)v, v->ptr, v->len, v->readonly, flags);
}

static PyBufferProcs view_as_buffer = {
    .bf_getbuffer = (getbufferproc)view_getbuffer,
};

static Py_ssize_t view_length(view_object *v)
{
    return v->len;
}

static PySequenceMethods view_as_sequence = {
    .sq_length = (lenfunc)view_length,
};

static PyObject *view_get_address(view_object *v, void *Py_UNUSED(c))
{
    return PyLong_FromVoidPtr(v->ptr);
}

static PyObject *view_get_readonly(view_object *v, void *Py_UNUSED(c))
{
    return PyBool_FromLong(v->readonly);
}

static PyGetSetDef view_getset[] = {
    {"address", (getter)view_get_address, NULL, "the first byte's address", NULL},
    {"readonly", (getter)view_get_readonly, NULL, "whether writes are refused", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject view_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion._orion._View",
    .tp_basicsize = sizeof(view_object),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_as_sequence = &view_as_sequence,
    .tp_getset = view_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bytes of the arena, exported by the buffer protocol; keeps its handle alive.",
};

/* ---- Plan --------------------------------------------------------------- */

static PyObject *plan_region(struct handle *o, PyObject *arg)
{
    unsigned long long id = PyLong_AsUnsignedLongLong(arg);
    size_t n;
    struct orion_tensor_placement tp;
    void *ptr;

    if (id == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    ptr = orion_plan_tensor(o->h, id);
    if (ptr == NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no tensor %llu in this plan", id);
        return raise_msg(-ENOENT, msg);
    }
    n = orion_plan_tensor_count(o->h);
    for (size_t i = 0; i < n; i++) {
        if (orion_plan_tensor_at(o->h, i, &tp) == 0 && tp.id == id)
            return view_new(o, ptr, tp.bytes, 0);
    }
    return raise_msg(-ENOENT, "tensor not in the plan's table");
}

static PyObject *plan_offset(struct handle *o, PyObject *arg)
{
    unsigned long long id = PyLong_AsUnsignedLongLong(arg);
    void *ptr;

    if (id == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    ptr = orion_plan_tensor(o->h, id);
    if (ptr == NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no tensor %llu in this plan", id);
        return raise_msg(-ENOENT, msg);
    }
    return PyLong_FromUnsignedLongLong(
        (unsigned long long)((char *)ptr - (char *)orion_client_arena_base(o->client->c)));
}

static PyObject *plan_placements(struct handle *o, PyObject *Py_UNUSED(ignored))
{
    size_t n;
    PyObject *list;

    if (handle_check(o) < 0)
        return NULL;
    n = orion_plan_tensor_count(o->h);
    list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        struct orion_tensor_placement tp;
        PyObject *t;
        if (orion_plan_tensor_at(o->h, i, &tp) < 0) {
            Py_CLEAR(list);
            return raise_msg(-ERANGE, NULL);
        }
        t = Py_BuildValue("(KKKII)", (unsigned long long)tp.id, (unsigned long long)tp.offset,
                          (unsigned long long)tp.bytes, tp.first_op, tp.last_op);
        if (t == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static PyObject *plan_get_peak(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_plan_peak_bytes(o->h));
}

static PyObject *plan_get_lower_bound(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_plan_lower_bound_bytes(o->h));
}

static PyObject *plan_get_workspace(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_plan_workspace_offset(o->h));
}

static PyObject *plan_get_policy(struct handle *o, void *Py_UNUSED(c))
{
    const char *p;

    if (handle_check(o) < 0)
        return NULL;
    p = orion_plan_policy(o->h);
    return PyUnicode_FromString(p != NULL ? p : "");
}

#define HANDLE_COMMON_METHODS                                                              \
    {"release", (PyCFunction)handle_release, METH_NOARGS,                                  \
     "Give the handle back; deferred while views of it exist."},                           \
    {"__enter__", handle_enter, METH_NOARGS, NULL},                                        \
    {"__exit__", (PyCFunction)handle_exit, METH_VARARGS, NULL}

#define HANDLE_COMMON_GETSET                                                               \
    {"released", (getter)handle_get_released, NULL, "release() was called", NULL},        \
    {"_freed", (getter)handle_get_freed, NULL, "the C handle is gone", NULL},              \
    {"_views", (getter)handle_get_views, NULL, "live views", NULL},                        \
    {"client", (getter)handle_get_client, NULL, "the client", NULL}

static PyMethodDef plan_methods[] = {
    {"_region", (PyCFunction)plan_region, METH_O, "a _View of a tensor's bytes"},
    {"offset", (PyCFunction)plan_offset, METH_O, "a tensor's offset in the arena"},
    {"placements", (PyCFunction)plan_placements, METH_NOARGS,
     "[(id, arena offset, bytes, first_op, last_op)] in the graph's order"},
    HANDLE_COMMON_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef plan_getset[] = {
    {"peak_bytes", (getter)plan_get_peak, NULL, "workspace size", NULL},
    {"lower_bound_bytes", (getter)plan_get_lower_bound, NULL, "no plan can be smaller", NULL},
    {"workspace_offset", (getter)plan_get_workspace, NULL, "the workspace's arena offset", NULL},
    {"policy", (getter)plan_get_policy, NULL, "the planner policy used", NULL},
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- Buffer ------------------------------------------------------------- */

static PyObject *buffer_region(struct handle *o, PyObject *Py_UNUSED(ignored))
{
    if (handle_check(o) < 0)
        return NULL;
    return view_new(o, orion_buffer_ptr(o->h), orion_buffer_size(o->h), o->readonly);
}

static PyObject *buffer_seal(struct handle *o, PyObject *Py_UNUSED(ignored))
{
    int rc;

    if (handle_check(o) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_buffer_seal(o->h);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_client(o->client, rc);
    o->readonly = 1;
    Py_RETURN_NONE;
}

static PyObject *buffer_wait_unused(struct handle *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout_ms", NULL};
    long long timeout_ms = -1;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|L", kwlist, &timeout_ms))
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_buffer_wait_unused(o->h, timeout_ms);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_client(o->client, rc);
    Py_RETURN_NONE;
}

static PyObject *buffer_get_size(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_buffer_size(o->h));
}

static PyObject *buffer_get_offset(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_buffer_offset(o->h));
}

static PyObject *buffer_get_name(struct handle *o, void *Py_UNUSED(c))
{
    if (handle_check(o) < 0)
        return NULL;
    return PyUnicode_FromString(orion_buffer_name(o->h));
}

static PyObject *buffer_get_readonly(struct handle *o, void *Py_UNUSED(c))
{
    return PyBool_FromLong(o->readonly);
}

static PyMethodDef buffer_methods[] = {
    {"_region", (PyCFunction)buffer_region, METH_NOARGS, "a _View of the buffer's bytes"},
    {"seal", (PyCFunction)buffer_seal, METH_NOARGS,
     "The producer is done writing: later views are read-only."},
    {"wait_unused", (PyCFunction)(void (*)(void))buffer_wait_unused,
     METH_VARARGS | METH_KEYWORDS, "Wait until no other connection holds the buffer."},
    HANDLE_COMMON_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef buffer_getset[] = {
    {"nbytes", (getter)buffer_get_size, NULL, "size in bytes", NULL},
    {"offset", (getter)buffer_get_offset, NULL, "arena offset", NULL},
    {"name", (getter)buffer_get_name, NULL, "the buffer's name", NULL},
    {"readonly", (getter)buffer_get_readonly, NULL, "views are read-only", NULL},
    HANDLE_COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

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

#define HANDLE_TYPE(var, pyname, doc, methods, getset)                                     \
    static PyTypeObject var = {                                                            \
        PyVarObject_HEAD_INIT(NULL, 0)                                                     \
        .tp_name = pyname,                                                                 \
        .tp_basicsize = sizeof(struct handle),                                             \
        .tp_dealloc = (destructor)handle_dealloc,                                          \
        .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,         \
        .tp_doc = doc,                                                                     \
        .tp_traverse = (traverseproc)handle_traverse,                                      \
        .tp_clear = (inquiry)handle_clear,                                                 \
        .tp_weaklistoffset = offsetof(struct handle, weakrefs),                            \
        .tp_methods = methods,                                                             \
        .tp_members = handle_members,                                                      \
        .tp_getset = getset,                                                               \
    }

HANDLE_TYPE(plan_type, "orion._orion.Plan", "A registered graph (c.register).", plan_methods,
            plan_getset);
HANDLE_TYPE(buffer_type, "orion._orion.Buffer", "A named buffer.", buffer_methods,
            buffer_getset);
HANDLE_TYPE(channel_type, "orion._orion.Channel", "A channel endpoint.", channel_methods,
            channel_getset);
HANDLE_TYPE(slot_type, "orion._orion.Slot", "A producer's acquired slot.", slot_methods,
            slot_getset);
HANDLE_TYPE(message_type, "orion._orion.Message", "A received message.", message_methods,
            message_getset);

/* ---- Client methods ----------------------------------------------------- */

static int client_init(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"socket", NULL};
    PyObject *sock = Py_None, *bytes = NULL;
    const char *path = NULL;
    char err[512] = "";
    orion_client *c = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &sock))
        return -1;
    if (cl->c != NULL || cl->handles != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client already initialised");
        return -1;
    }
    if (sock != Py_None) {
        if (!PyUnicode_FSConverter(sock, &bytes))
            return -1;
        path = PyBytes_AS_STRING(bytes);
    }
    Py_BEGIN_ALLOW_THREADS
    rc = orion_client_connect(path, &c, err, sizeof(err));
    Py_END_ALLOW_THREADS
    Py_XDECREF(bytes);
    if (rc < 0) {
        raise_msg(rc, err);
        return -1;
    }
    cl->c = c;
    cl->gen = fork_gen;
    cl->closing = 0;
    return 0;
}

static void client_dealloc(client_object *cl)
{
    /* Every handle holds the client: none is left. */
    client_close_now(cl);
    Py_TYPE(cl)->tp_free((PyObject *)cl);
}

static PyObject *client_close(client_object *cl, PyObject *Py_UNUSED(ignored))
{
    struct handle *o, *next;

    if (cl->closing)
        Py_RETURN_NONE;
    cl->closing = 1;
    for (o = cl->handles; o != NULL; o = next) {
        next = o->next;
        if (o->n_views == 0)
            (void)handle_free(o);
        else
            o->pending = 1;
    }
    if (cl->n_handles == 0)
        client_close_now(cl);
    Py_RETURN_NONE;
}

static PyObject *client_exit(client_object *cl, PyObject *Py_UNUSED(args))
{
    return client_close(cl, NULL);
}

static PyObject *client_stats(client_object *cl, PyObject *Py_UNUSED(ignored))
{
    struct orion_stats st;
    int rc;

    if (client_check(cl) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_client_stats(cl->c, &st);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_client(cl, rc);
    /* The keys of `orionctl stats --json`; a non-finite fragmentation is 0 there too. */
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:d,s:I,s:I,s:I,s:K}", "arena_bytes",
                         (unsigned long long)st.arena_bytes, "used_bytes",
                         (unsigned long long)st.used_bytes, "free_bytes",
                         (unsigned long long)st.free_bytes, "largest_free_bytes",
                         (unsigned long long)st.largest_free_bytes, "fragmentation",
                         isfinite(st.fragmentation) ? st.fragmentation : 0.0,
                         "clients", st.clients, "graphs", st.graphs, "buffers", st.buffers,
                         "allocations", (unsigned long long)st.allocations);
}

/* Read a list of ints into a malloc'd array. */
static int id_list(PyObject *seq, uint64_t **out, size_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of tensor ids");
    Py_ssize_t len;

    *out = NULL;
    *n = 0;
    if (fast == NULL)
        return -1;
    len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Malloc(((size_t)len + 1) * sizeof(uint64_t));
    if (*out == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        (*out)[i] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if ((*out)[i] == (uint64_t)-1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyMem_Free(*out);
            *out = NULL;
            return -1;
        }
    }
    *n = (size_t)len;
    Py_DECREF(fast);
    return 0;
}

/* A tensor tuple: (id, bytes, align, kind, share, name). */
static int tensor_tuple(PyObject *t, struct orion_tensor_desc *d)
{
    unsigned long long id, bytes, align;
    int kind;

    memset(d, 0, sizeof(*d));
    if (!PyArg_ParseTuple(t, "KKKizz;tensor: (id, bytes, align, kind, share, name)", &id,
                          &bytes, &align, &kind, &d->share, &d->name))
        return -1;
    d->id = id;
    d->bytes = bytes;
    d->align = align;
    d->kind = (enum orion_tensor_kind)kind;
    return 0;
}

static PyObject *client_register(client_object *cl, PyObject *args)
{
    const char *name, *policy;
    PyObject *tensors, *ops, *tf = NULL, *of = NULL;
    orion_graph *g = NULL;
    orion_plan *p = NULL;
    struct handle *o;
    int rc;

    if (!PyArg_ParseTuple(args, "zOOz", &name, &tensors, &ops, &policy))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    tf = PySequence_Fast(tensors, "tensors: expected a sequence");
    of = tf != NULL ? PySequence_Fast(ops, "ops: expected a sequence") : NULL;
    if (of == NULL)
        goto err;
    rc = orion_graph_new(name, &g);
    if (rc < 0) {
        raise_msg(rc, NULL);
        goto err;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(tf); i++) {
        struct orion_tensor_desc d;
        if (tensor_tuple(PySequence_Fast_GET_ITEM(tf, i), &d) < 0)
            goto err;
        rc = orion_graph_add_tensor(g, &d);
        if (rc < 0) {
            raise_msg(rc, "add_tensor");
            goto err;
        }
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(of); i++) {
        const char *opname;
        PyObject *ins, *outs;
        uint64_t *in = NULL, *out = NULL;
        size_t n_in, n_out;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(of, i), "zOO;op: (name, inputs, outputs)",
                              &opname, &ins, &outs))
            goto err;
        if (id_list(ins, &in, &n_in) < 0)
            goto err;
        if (id_list(outs, &out, &n_out) < 0) {
            PyMem_Free(in);
            goto err;
        }
        rc = orion_graph_add_op(g, opname, in, n_in, out, n_out);
        PyMem_Free(in);
        PyMem_Free(out);
        if (rc < 0) {
            raise_msg(rc, "add_op");
            goto err;
        }
    }
    if (policy != NULL && (rc = orion_graph_set_policy(g, policy)) < 0) {
        raise_msg(rc, "set_policy");
        goto err;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = orion_graph_register(cl->c, g, &p);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        raise_client(cl, rc);
        goto err;
    }
    orion_graph_free(g);
    Py_DECREF(tf);
    Py_DECREF(of);
    o = handle_new(plan_cls, cl, NULL, H_PLAN, p);
    if (o == NULL)
        orion_plan_release(p);
    return (PyObject *)o;

err:
    orion_graph_free(g);
    Py_XDECREF(tf);
    Py_XDECREF(of);
    return NULL;
}

static PyObject *buffer_handle(client_object *cl, int rc, orion_buffer *b, int readonly)
{
    struct handle *o;

    if (rc < 0)
        return raise_client(cl, rc);
    o = handle_new(buffer_cls, cl, NULL, H_BUFFER, b);
    if (o == NULL) {
        orion_buffer_release(b);
        return NULL;
    }
    o->readonly = readonly;
    o->nbytes = orion_buffer_size(b);
    return (PyObject *)o;
}

static PyObject *client_buffer_create(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "nbytes", NULL};
    const char *name;
    unsigned long long nbytes;
    orion_buffer *b = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "sK", kwlist, &name, &nbytes))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_buffer_create(cl->c, name, nbytes, &b);
    Py_END_ALLOW_THREADS
    return buffer_handle(cl, rc, b, 0);
}

/* Views of a buffer someone else created are read-only: the creator writes,
 * then seals (docs/protocol.md); a waited-for buffer is sealed. */
static PyObject *client_buffer_open(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", NULL};
    const char *name;
    orion_buffer *b = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s", kwlist, &name))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_buffer_open(cl->c, name, &b);
    Py_END_ALLOW_THREADS
    return buffer_handle(cl, rc, b, 1);
}

static PyObject *client_buffer_wait(client_object *cl, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "timeout_ms", NULL};
    const char *name;
    long long timeout_ms = -1;
    orion_buffer *b = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|L", kwlist, &name, &timeout_ms))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = orion_buffer_wait(cl->c, name, timeout_ms, &b);
    Py_END_ALLOW_THREADS
    return buffer_handle(cl, rc, b, 1);
}

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

static PyObject *client_channel_create(client_object *cl, PyObject *args, PyObject *kw)
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

static PyObject *client_channel_open(client_object *cl, PyObject *args, PyObject *kw)
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

/* C's stats, or buffer open + release of `name`, n times, timed in C: the
 * baselines of bench/bench_python.py (same connection, same process). */
static PyObject *client_bench(client_object *cl, PyObject *args)
{
    const char *op, *name = NULL;
    long n;
    struct timespec t0, t1;
    int rc = 0;
    bool is_stats;

    if (!PyArg_ParseTuple(args, "sl|s", &op, &n, &name))
        return NULL;
    if (client_check(cl) < 0)
        return NULL;
    is_stats = strcmp(op, "stats") == 0;
    if (!is_stats && (strcmp(op, "buffer_open_release") != 0 || name == NULL)) {
        PyErr_SetString(PyExc_ValueError, "op: 'stats' or 'buffer_open_release' with a name");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n && rc == 0; i++) {
        if (is_stats) {
            struct orion_stats st;
            rc = orion_client_stats(cl->c, &st);
        } else {
            orion_buffer *b;
            rc = orion_buffer_open(cl->c, name, &b);
            if (rc == 0)
                rc = orion_buffer_release(b);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_client(cl, rc);
    return PyFloat_FromDouble((double)(t1.tv_sec - t0.tv_sec) +
                              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static PyObject *client_get_arena_base(client_object *cl, void *Py_UNUSED(c))
{
    if (client_check(cl) < 0)
        return NULL;
    return PyLong_FromVoidPtr(orion_client_arena_base(cl->c));
}

static PyObject *client_get_arena_bytes(client_object *cl, void *Py_UNUSED(c))
{
    if (client_check(cl) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(orion_client_arena_bytes(cl->c));
}

static PyObject *client_get_closed(client_object *cl, void *Py_UNUSED(c))
{
    return PyBool_FromLong(cl->closing || cl->c == NULL);
}

static PyObject *client_get_connected(client_object *cl, void *Py_UNUSED(c))
{
    return PyBool_FromLong(cl->c != NULL);
}

static PyMethodDef client_methods[] = {
    {"close", (PyCFunction)client_close, METH_NOARGS,
     "Close: handles without views are released now, the rest (and the connection) when "
     "their last view goes."},
    {"stats", (PyCFunction)client_stats, METH_NOARGS, "The daemon's figures, as a dict."},
    {"_register", (PyCFunction)client_register, METH_VARARGS, NULL},
    {"buffer_create", (PyCFunction)(void (*)(void))client_buffer_create,
     METH_VARARGS | METH_KEYWORDS, "Create a named buffer of nbytes."},
    {"buffer_open", (PyCFunction)(void (*)(void))client_buffer_open,
     METH_VARARGS | METH_KEYWORDS, "Open an existing named buffer (read-only views)."},
    {"buffer_wait", (PyCFunction)(void (*)(void))client_buffer_wait,
     METH_VARARGS | METH_KEYWORDS, "Wait until a named buffer is sealed, then open it."},
#if ORION_PY_CHANNELS
    {"channel_create", (PyCFunction)(void (*)(void))client_channel_create,
     METH_VARARGS | METH_KEYWORDS, "Create a channel; the caller is its producer."},
    {"channel_open", (PyCFunction)(void (*)(void))client_channel_open,
     METH_VARARGS | METH_KEYWORDS, "Open a channel as a consumer."},
#endif
    {"_bench", (PyCFunction)client_bench, METH_VARARGS, NULL},
    {"__enter__", handle_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)client_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef client_getset[] = {
    {"arena_base", (getter)client_get_arena_base, NULL, "the arena's address here", NULL},
    {"arena_bytes", (getter)client_get_arena_bytes, NULL, "the arena's size", NULL},
    {"closed", (getter)client_get_closed, NULL, "close() was called", NULL},
    {"_connected", (getter)client_get_connected, NULL, "the connection is open", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject client_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion._orion.Client",
    .tp_basicsize = sizeof(client_object),
    .tp_dealloc = (destructor)client_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A connection to orionrtd and the arena it shares.",
    .tp_methods = client_methods,
    .tp_getset = client_getset,
    .tp_init = (initproc)client_init,
    .tp_new = PyType_GenericNew,
};

/* ---- module functions --------------------------------------------------- */

/* plan_offline(tensors, ops, policy, time_limit) -> (peak, lower_bound,
 * policy, ms, [workspace offset or None per tensor]): the core's planning
 * pipeline (graph_plan_build), as `orionctl plan` runs it, with no daemon. */
static PyObject *mod_plan_offline(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *tensors, *ops, *tf = NULL, *of = NULL, *res = NULL, *offs;
    const char *policy;
    double time_limit = 0;
    struct offline_tensor *ts = NULL;
    struct offline_op *os = NULL;
    struct offline_result r;
    char err[1024] = "";
    Py_ssize_t nt = 0, no = 0;
    int rc;

    memset(&r, 0, sizeof(r));
    if (!PyArg_ParseTuple(args, "OOzd", &tensors, &ops, &policy, &time_limit))
        return NULL;
    tf = PySequence_Fast(tensors, "tensors: expected a sequence");
    of = tf != NULL ? PySequence_Fast(ops, "ops: expected a sequence") : NULL;
    if (of == NULL)
        goto out;
    nt = PySequence_Fast_GET_SIZE(tf);
    no = PySequence_Fast_GET_SIZE(of);
    if (nt > UINT32_MAX || no > UINT32_MAX) {
        raise_msg(-E2BIG, "too many tensors or ops");
        goto out;
    }
    ts = PyMem_Calloc((size_t)nt + 1, sizeof(*ts));
    os = PyMem_Calloc((size_t)no + 1, sizeof(*os));
    if (ts == NULL || os == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < nt; i++) {
        struct orion_tensor_desc d;
        if (tensor_tuple(PySequence_Fast_GET_ITEM(tf, i), &d) < 0)
            goto out;
        ts[i] = (struct offline_tensor){.id = d.id, .bytes = d.bytes, .align = d.align,
                                        .kind = (int)d.kind, .share = d.share, .name = d.name};
    }
    for (Py_ssize_t i = 0; i < no; i++) {
        PyObject *ins, *outs;
        uint64_t *in, *out;
        size_t n_in, n_out;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(of, i), "zOO", &os[i].name, &ins, &outs))
            goto out;
        if (id_list(ins, &in, &n_in) < 0)
            goto out;
        os[i].inputs = in;
        os[i].n_inputs = (uint32_t)n_in;
        if (id_list(outs, &out, &n_out) < 0)
            goto out;
        os[i].outputs = out;
        os[i].n_outputs = (uint32_t)n_out;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = offline_plan(ts, (uint32_t)nt, os, (uint32_t)no, policy, time_limit, &r, err,
                      sizeof(err));
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        raise_msg(rc, err);
        goto out;
    }
    offs = PyList_New(nt);
    for (Py_ssize_t i = 0; offs != NULL && i < nt; i++) {
        PyObject *v;
        if (r.off[i] == UINT64_MAX) {
            Py_INCREF(Py_None);
            v = Py_None;
        } else {
            v = PyLong_FromUnsignedLongLong(r.off[i]);
        }
        if (v == NULL)
            Py_CLEAR(offs);
        else
            PyList_SET_ITEM(offs, i, v);
    }
    if (offs != NULL)
        res = Py_BuildValue("(KKsdN)", (unsigned long long)r.peak_bytes,
                            (unsigned long long)r.lower_bound_bytes, r.policy, r.plan_ms, offs);
    free(r.off);

out:
    if (os != NULL) {
        for (Py_ssize_t i = 0; i < no; i++) {
            PyMem_Free((void *)os[i].inputs);
            PyMem_Free((void *)os[i].outputs);
        }
    }
    PyMem_Free(os);
    PyMem_Free(ts);
    Py_XDECREF(tf);
    Py_XDECREF(of);
    return res;
}

static PyObject *mod_policies(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    size_t n = offline_policy_count();
    PyObject *list = PyList_New((Py_ssize_t)n);

    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *s = PyUnicode_FromString(offline_policy_name(i));
        if (s == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    return list;
}

static PyObject *mod_set_types(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyTypeObject *p, *b, *c, *s, *msg;

    if (!PyArg_ParseTuple(args, "O!O!O!O!O!", &PyType_Type, &p, &PyType_Type, &b, &PyType_Type,
                          &c, &PyType_Type, &s, &PyType_Type, &msg))
        return NULL;
    if (!PyType_IsSubtype(p, &plan_type) || !PyType_IsSubtype(b, &buffer_type) ||
        !PyType_IsSubtype(c, &channel_type) || !PyType_IsSubtype(s, &slot_type) ||
        !PyType_IsSubtype(msg, &message_type)) {
        PyErr_SetString(PyExc_TypeError, "_set_types: not subclasses of the handle types");
        return NULL;
    }
    /* Module-lifetime references. */
    Py_INCREF(p);
    Py_INCREF(b);
    Py_INCREF(c);
    Py_INCREF(s);
    Py_INCREF(msg);
    plan_cls = p;
    buffer_cls = b;
    channel_cls = c;
    slot_cls = s;
    message_cls = msg;
    Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *Py_UNUSED(m), PyObject *arg)
{
    long code = PyLong_AsLong(arg);

    if (code == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(orion_strerror((int)(code > 0 ? -code : code)));
}

static PyObject *mod_default_socket(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_DecodeFSDefault(orion_default_socket_path());
}

static PyMethodDef module_methods[] = {
    {"plan_offline", mod_plan_offline, METH_VARARGS,
     "plan_offline(tensors, ops, policy, time_limit_s) -> (peak, lower_bound, policy, ms, "
     "offsets): plan with the core planner, no daemon"},
    {"policies", mod_policies, METH_NOARGS, "the planner's policies, the default first"},
    {"strerror", mod_strerror, METH_O, "orion_strerror"},
    {"default_socket_path", mod_default_socket, METH_NOARGS, "orion_default_socket_path"},
    {"_set_types", mod_set_types, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "orion._orion",
    .m_doc = "liborion-client for Python (the orion package wraps it).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__orion(void)
{
    static int atfork_done;
    PyTypeObject *types[] = {&client_type, &plan_type, &buffer_type, &channel_type,
                             &slot_type, &message_type, &view_type};
    const char *names[] = {"Client", "Plan", "Buffer", "Channel", "Slot", "Message", "_View"};
    PyObject *m;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    }
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    orion_error = PyErr_NewExceptionWithDoc(
        "orion.Error",
        "An orionrtd error: errno is the code (errno.ENOENT, ...), strerror the library's "
        "message (which op, which tensor, which name).",
        PyExc_OSError, NULL);
    if (orion_error == NULL || PyModule_AddObjectRef(m, "Error", orion_error) < 0)
        goto err;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0)
            goto err;
    }
    if (PyModule_AddIntConstant(m, "HAVE_CHANNELS", ORION_PY_CHANNELS) < 0 ||
        PyModule_AddStringConstant(m, "LIB_VERSION", orion_version()) < 0)
        goto err;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, atfork_child);
        atfork_done = 1;
    }
    return m;

err:
    Py_DECREF(m);
    return NULL;
}
