/* client.c - the Client type: connect, close (deferred while handles have
 * views), stats, the C baselines for the benchmark, and the method table
 * that reaches the graph, buffer and channel calls.
 */
#include "orion_ext.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

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

PyTypeObject client_type = {
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
