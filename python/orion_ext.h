/* orion_ext.h - what the files of the extension module _orion share: the
 * Client and handle layouts, the base helpers (handle.c: orion.Error, the fork
 * check, the handles' lifetimes; view.c: _View), and each type's object and
 * the Client methods that make its handles. Internal to the module.
 *
 * The module (_orion.c) under the `orion` package, on liborion-client.
 * Types: Client (client.c); the handles Plan (plan.c), Buffer (buffer.c),
 * Channel, Slot, Message (channel.c) (one C layout, `struct handle`, told
 * apart by `kind`); _View (view.c), a buffer-protocol object over a range of
 * the arena that numpy wraps with no copy. The package's Python modules
 * subclass the public types (orion/__init__.py) and tell this module which
 * classes to instantiate (_set_types).
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
 *
 * Calls go one way: handle.c calls none of the others; view.c only handle.c;
 * plan.c, buffer.c and channel.c those two; client.c those; _orion.c any.
 */
#ifndef ORION_PY_EXT_H
#define ORION_PY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>

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

/* ---- handle.c: errors, the fork check, the Client's connection ---------- */

extern PyObject *orion_error; /* orion.Error */

/* Bumped in every forked child (pthread_atfork(atfork_child)): a client made
 * before has an older generation, so its handles' local calls raise ECHILD as
 * the library's remote calls do, without a getpid() per call. */
extern unsigned long fork_gen;
void atfork_child(void);

/* Set orion.Error(-code, msg) (msg NULL or empty: orion_strerror(code));
 * returns NULL. */
PyObject *raise_msg(int code, const char *msg);

struct handle;

typedef struct {
    PyObject_HEAD
    orion_client *c;           /* NULL once closed */
    struct handle *handles;    /* live top-level C handles (plans, buffers, channels) */
    Py_ssize_t n_handles;
    unsigned long gen;         /* fork_gen at connect */
    int closing;               /* close() called: no new calls; close when n_handles is 0 */
} client_object;

/* orion.Error for code with the client's last message. Returns NULL. */
PyObject *raise_client(client_object *cl, int code);

/* 0 if cl may be used, else -1 with orion.Error set. */
int client_check(client_object *cl);

/* Close the connection now (unmaps the arena); no handle may remain. */
void client_close_now(client_object *cl);

/* ---- handle.c: the handles ---------------------------------------------- */

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

/* A new handle of class cls on cl (a Slot or Message: parent is its channel,
 * in whose n_views it counts; else it joins cl->handles). NULL on error. */
struct handle *handle_new(PyTypeObject *cls, client_object *cl, struct handle *parent,
                          int kind, void *h);

/* Free the C handle now (no view may exist). Returns the library's code. */
int handle_free(struct handle *o);

/* One view (or child) of o has gone; frees a released o with none left. */
void handle_drop_view(struct handle *o);

/* 0 if o may be used from Python, else -1 with orion.Error set. */
int handle_check(struct handle *o);

/* The slots and methods every handle type shares (HANDLE_TYPE below). */
void handle_dealloc(struct handle *o);
int handle_traverse(struct handle *o, visitproc visit, void *arg);
int handle_clear(struct handle *o);
PyObject *handle_release(struct handle *o, PyObject *ignored);
PyObject *handle_enter(PyObject *self, PyObject *ignored);
PyObject *handle_exit(struct handle *o, PyObject *args);
PyObject *handle_get_released(struct handle *o, void *c);
PyObject *handle_get_freed(struct handle *o, void *c);
PyObject *handle_get_views(struct handle *o, void *c);
PyObject *handle_get_client(struct handle *o, void *c);
extern PyMemberDef handle_members[];

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

#define HANDLE_TYPE(var, pyname, doc, methods, getset)                                     \
    PyTypeObject var = {                                                            \
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

/* ---- view.c: _View -------------------------------------------------------- */

extern PyTypeObject view_type;

/* A _View of [ptr, ptr + len) owned by `owner` (counted in its n_views). */
PyObject *view_new(struct handle *owner, void *ptr, uint64_t len, int readonly);

/* ---- The types, and the classes to instantiate (the package's subclasses,
 * set by _set_types; by default the types themselves). --------------------- */

extern PyTypeObject client_type;                                 /* client.c */
extern PyTypeObject plan_type, buffer_type;                      /* plan.c, buffer.c */
extern PyTypeObject channel_type, slot_type, message_type;       /* channel.c */
extern PyTypeObject *plan_cls, *buffer_cls, *channel_cls, *slot_cls, *message_cls;

/* ---- plan.c: graphs --------------------------------------------------------- */

/* Read a list of ints into a PyMem_Malloc'd array. 0, or -1 with an error set. */
int id_list(PyObject *seq, uint64_t **out, size_t *n);

/* A tensor tuple: (id, bytes, align, kind, share, name). 0, or -1. */
int tensor_tuple(PyObject *t, struct orion_tensor_desc *d);

/* Client._register(name, tensors, ops, policy) -> Plan. */
PyObject *client_register(client_object *cl, PyObject *args);

/* ---- buffer.c, channel.c: the Client methods that open them ------------- */

PyObject *client_buffer_create(client_object *cl, PyObject *args, PyObject *kw);
PyObject *client_buffer_open(client_object *cl, PyObject *args, PyObject *kw);
PyObject *client_buffer_wait(client_object *cl, PyObject *args, PyObject *kw);
#if ORION_PY_CHANNELS
PyObject *client_channel_create(client_object *cl, PyObject *args, PyObject *kw);
PyObject *client_channel_open(client_object *cl, PyObject *args, PyObject *kw);
#endif

#endif
