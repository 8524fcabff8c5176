/* _orion.c - the extension module _orion under the `orion` package: its
 * functions (offline planning, policies, _set_types, strerror) and its
 * initialisation; the types live in the other files (see orion_ext.h).
 */
#include "orion_ext.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "offline.h"

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
