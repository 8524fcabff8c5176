/* view.c - _View: a range of the arena exported by the buffer protocol,
 * keeping its handle alive (see orion_ext.h).
 */
#include "orion_ext.h"

typedef struct {
    PyObject_HEAD
    struct handle *owner; /* strong; counted in owner->n_views */
    void *ptr;
    Py_ssize_t len;
    int readonly;
} view_object;

PyObject *view_new(struct handle *owner, void *ptr, uint64_t len, int readonly)
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

PyTypeObject view_type = {
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
