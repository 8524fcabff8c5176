/* buffer.c - named buffers: Client.buffer_create/_open/_wait and the Buffer
 * type with its view.
 */
#include "orion_ext.h"

#include <errno.h>

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

PyObject *client_buffer_create(client_object *cl, PyObject *args, PyObject *kw)
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
PyObject *client_buffer_open(client_object *cl, PyObject *args, PyObject *kw)
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

PyObject *client_buffer_wait(client_object *cl, PyObject *args, PyObject *kw)
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

HANDLE_TYPE(buffer_type, "orion._orion.Buffer", "A named buffer.", buffer_methods,
            buffer_getset);

PyTypeObject *buffer_cls = &buffer_type;
