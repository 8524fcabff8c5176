/* plan.c - graphs and plans: Client._register (the tensor and op tuples in
 * an orion_graph, registered) and the Plan type with its tensors' views.
 */
#include "orion_ext.h"

#include <errno.h>
#include <string.h>

int id_list(PyObject *seq, uint64_t **out, size_t *n)
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
int tensor_tuple(PyObject *t, struct orion_tensor_desc *d)
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

PyObject *client_register(client_object *cl, PyObject *args)
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

/* ---- Plan --------------------------------------------------------------- */

/* The plan's tensor named by the Python int arg (its id in *id): its
 * pointer, or NULL with an exception set (not an int, released, forked
 * child, no such tensor). */
static void *tensor_of(struct handle *o, PyObject *arg, unsigned long long *id)
{
    *id = PyLong_AsUnsignedLongLong(arg);
    if (*id == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (handle_check(o) < 0)
        return NULL;
    void *ptr = orion_plan_tensor(o->h, *id);
    if (ptr == NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no tensor %llu in this plan", *id);
        raise_msg(-ENOENT, msg);
    }
    return ptr;
}

static PyObject *plan_region(struct handle *o, PyObject *arg)
{
    unsigned long long id;
    size_t n;
    struct orion_tensor_placement tp;
    void *ptr = tensor_of(o, arg, &id);

    if (ptr == NULL)
        return NULL;
    n = orion_plan_tensor_count(o->h);
    for (size_t i = 0; i < n; i++) {
        if (orion_plan_tensor_at(o->h, i, &tp) == 0 && tp.id == id)
            return view_new(o, ptr, tp.bytes, 0);
    }
    return raise_msg(-ENOENT, "tensor not in the plan's table");
}

static PyObject *plan_offset(struct handle *o, PyObject *arg)
{
    unsigned long long id;
    void *ptr = tensor_of(o, arg, &id);

    if (ptr == NULL)
        return NULL;
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

HANDLE_TYPE(plan_type, "orion._orion.Plan", "A registered graph (c.register).", plan_methods,
            plan_getset);

PyTypeObject *plan_cls = &plan_type;
