/* handle.c - the base of the extension module: orion.Error, the fork
 * check, the Client's connection check and close, and the handles' lifetimes
 * (see orion_ext.h). Calls into no other file of the module.
 */
#include "orion_ext.h"

#include <assert.h>
#include <errno.h>

PyObject *orion_error; /* orion.Error */

/* See orion_ext.h. */
unsigned long fork_gen;

void atfork_child(void)
{
    fork_gen++;
}

PyObject *raise_msg(int code, const char *msg)
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

PyObject *raise_client(client_object *cl, int code)
{
    return raise_msg(code, cl->c != NULL ? orion_client_error(cl->c) : NULL);
}

int client_check(client_object *cl)
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

void client_close_now(client_object *cl)
{
    if (cl->c != NULL) {
        orion_client *c = cl->c;
        cl->c = NULL;
        Py_BEGIN_ALLOW_THREADS
        orion_client_close(c);
        Py_END_ALLOW_THREADS
    }
}

static const char *const kind_words[] = {"plan", "buffer", "channel", "slot", "message"};

struct handle *handle_new(PyTypeObject *cls, client_object *cl, struct handle *parent,
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

void handle_drop_view(struct handle *o)
{
    assert(o->n_views > 0);
    if (--o->n_views == 0 && o->pending && o->h != NULL)
        (void)handle_free(o);
}

int handle_free(struct handle *o)
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

void handle_dealloc(struct handle *o)
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

int handle_traverse(struct handle *o, visitproc visit, void *arg)
{
    Py_VISIT(o->info);
    Py_VISIT(o->parent);
    Py_VISIT(o->client);
    return 0;
}

int handle_clear(struct handle *o)
{
    Py_CLEAR(o->info);
    return 0;
}

int handle_check(struct handle *o)
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
PyObject *handle_release(struct handle *o, PyObject *Py_UNUSED(ignored))
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

PyObject *handle_enter(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_INCREF(self);
    return self;
}

PyObject *handle_exit(struct handle *o, PyObject *Py_UNUSED(args))
{
    return handle_release(o, NULL);
}

PyObject *handle_get_released(struct handle *o, void *Py_UNUSED(c))
{
    return PyBool_FromLong(o->h == NULL || o->pending);
}

PyObject *handle_get_freed(struct handle *o, void *Py_UNUSED(c))
{
    return PyBool_FromLong(o->h == NULL);
}

PyObject *handle_get_views(struct handle *o, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(o->n_views);
}

PyObject *handle_get_client(struct handle *o, void *Py_UNUSED(c))
{
    Py_INCREF(o->client);
    return (PyObject *)o->client;
}

PyMemberDef handle_members[] = {
    {"_info", T_OBJECT, offsetof(struct handle, info), 0, "data of the Python layer"},
    {NULL, 0, 0, 0, NULL},
};
