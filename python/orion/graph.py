"""orion.Graph: a static graph to register, with each tensor's dtype and shape.

The JSON form is orionrtd's graph JSON (examples/graphs/README.md), with the
optional per-tensor keys "dtype" and "shape". Graph.from_json applies the
rules tools/graph_json.c applies: "id" and "bytes" required, "bytes" equal
to dtype x shape when both are given, an unknown key in a tensor refused
with a message naming the key and the tensor.
"""
import errno
import json
import math

from ._orion import Error

KINDS = ("intermediate", "input", "output", "persistent", "export", "import")

# dtype name -> bytes per element; the names tools/graph_json.c accepts.
DTYPES = {
    "bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "float16": 2,
    "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8, "float64": 8,
    "complex64": 8, "complex128": 16,
}

TENSOR_KEYS = ("id", "bytes", "kind", "align", "share", "name", "dtype", "shape")


def dtype_name(dtype):
    """The canonical name of dtype (a name, or anything numpy.dtype takes)."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype
    import numpy
    name = numpy.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError("dtype %r: not one of %s" % (dtype, ", ".join(DTYPES)))
    return name


def _shape_tuple(shape):
    t = tuple(int(d) for d in shape)
    if any(d < 0 for d in t):
        raise ValueError("shape %r: dimensions must be >= 0" % (shape,))
    return t


def nbytes_of(dtype, shape):
    return DTYPES[dtype_name(dtype)] * math.prod(_shape_tuple(shape))


class Graph:
    """Ops in execution order and a table of tensors (see orion/graph.h)."""

    def __init__(self, name=None):
        self.name = name
        self._tensors = {}   # id -> dict, in the order added
        self._ops = []       # (name, [inputs], [outputs])

    def add_tensor(self, id, bytes=None, *, dtype=None, shape=None, kind="intermediate",
                   share=None, align=0, name=None):
        """Add a tensor. bytes defaults to dtype x shape; when all three are
        given they must agree."""
        id = int(id)
        if id < 0:
            raise ValueError("tensor id %d: must be >= 0" % id)
        if id in self._tensors:
            raise ValueError("tensor %d: already added" % id)
        if kind not in KINDS:
            raise ValueError("tensor %d: unknown kind %r (expected %s)"
                             % (id, kind, ", ".join(KINDS)))
        if dtype is not None:
            dtype = dtype_name(dtype)
        if shape is not None:
            shape = _shape_tuple(shape)
        if bytes is None:
            if dtype is None or shape is None:
                raise ValueError("tensor %d: give bytes, or dtype and shape" % id)
            bytes = nbytes_of(dtype, shape)
        bytes = int(bytes)
        if dtype is not None and shape is not None and bytes != nbytes_of(dtype, shape):
            raise ValueError("tensor %d: bytes %d is not %s x %s = %d"
                             % (id, bytes, dtype, list(shape), nbytes_of(dtype, shape)))
        self._tensors[id] = {"id": id, "bytes": bytes, "kind": kind, "align": int(align),
                             "share": share, "name": name, "dtype": dtype, "shape": shape}

    def add_op(self, name, inputs, outputs):
        """Append an op (execution order is the order of calls)."""
        self._ops.append((name, [int(i) for i in inputs], [int(o) for o in outputs]))

    def tensor_ids(self):
        return list(self._tensors)

    def _t(self, id):
        try:
            return self._tensors[id]
        except KeyError:
            raise KeyError("no tensor %r in graph %r" % (id, self.name)) from None

    def tensor_shape(self, id):
        return self._t(id)["shape"]

    def tensor_dtype(self, id):
        return self._t(id)["dtype"]

    def tensor_name(self, id):
        return self._t(id)["name"]

    def tensor_bytes(self, id):
        return self._t(id)["bytes"]

    def tensor_kind(self, id):
        return self._t(id)["kind"]

    def ops(self):
        """[(name, inputs, outputs)] in execution order."""
        return [(n, list(i), list(o)) for n, i, o in self._ops]

    def __repr__(self):
        return "<orion.Graph %r: %d tensors, %d ops>" % (self.name, len(self._tensors),
                                                        len(self._ops))

    # What _orion's register and plan_offline take.
    def _tensor_tuples(self):
        return [(t["id"], t["bytes"], t["align"], KINDS.index(t["kind"]), t["share"], t["name"])
                for t in self._tensors.values()]

    def _op_tuples(self):
        return self._ops

    # ---- JSON ----------------------------------------------------------

    def to_dict(self):
        tensors = []
        for t in self._tensors.values():
            o = {"id": t["id"], "bytes": t["bytes"]}
            if t["kind"] != "intermediate":
                o["kind"] = t["kind"]
            if t["align"]:
                o["align"] = t["align"]
            for k in ("share", "name", "dtype"):
                if t[k] is not None:
                    o[k] = t[k]
            if t["shape"] is not None:
                o["shape"] = list(t["shape"])
            tensors.append(o)
        d = {}
        if self.name is not None:
            d["name"] = self.name
        d["tensors"] = tensors
        d["ops"] = [{"name": n, "inputs": i, "outputs": o} if n is not None
                    else {"inputs": i, "outputs": o} for n, i, o in self._ops]
        return d

    def to_json(self, path):
        """Write graph JSON (with dtype and shape where known) to path."""
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")

    @classmethod
    def from_dict(cls, d, source="<dict>"):
        def bad(msg):
            return Error(errno.EINVAL, "%s: %s" % (source, msg))

        if not isinstance(d, dict):
            raise bad("expected a JSON object at the top level")
        name = d.get("name")
        if name is not None and not isinstance(name, str):
            raise bad("name: expected a string")
        for key in ("tensors", "ops"):
            if key not in d:
                raise bad("%s: missing (expected an array of %s)" % (key, key))
            if not isinstance(d[key], list):
                raise bad("%s: expected an array of %s" % (key, key))
        g = cls(name)
        for i, t in enumerate(d["tensors"]):
            where = "tensors[%d]" % i
            if not isinstance(t, dict):
                raise bad(where + ": expected an object")
            tid = t.get("id")
            if "id" not in t:
                raise bad(where + ".id: missing")
            if not _is_uint(tid):
                raise bad(where + ".id: expected a non-negative integer")
            where = "tensors[%d] (id %d)" % (i, tid)
            for k in t:
                if k not in TENSOR_KEYS:
                    raise bad('%s: unknown key "%s" (expected %s)'
                              % (where, k, ", ".join(TENSOR_KEYS)))
            if "bytes" not in t:
                raise bad(where + ".bytes: missing")
            if not _is_uint(t["bytes"]) or t["bytes"] == 0:
                raise bad(where + ".bytes: expected a positive integer")
            align = t.get("align", 0)
            if not _is_uint(align):
                raise bad(where + ".align: expected a non-negative integer")
            kind = t.get("kind") or "intermediate"
            if kind not in KINDS:
                raise bad('%s.kind: unknown kind "%s"' % (where, kind))
            for k in ("share", "name"):
                if t.get(k) is not None and not isinstance(t[k], str):
                    raise bad("%s.%s: expected a string" % (where, k))
            dtype = t.get("dtype")
            if dtype is not None and dtype not in DTYPES:
                raise bad('%s.dtype: unknown dtype "%s" (expected %s)'
                          % (where, dtype, ", ".join(DTYPES)))
            shape = t.get("shape")
            if shape is not None and (not isinstance(shape, list)
                                      or not all(_is_uint(x) for x in shape)):
                raise bad(where + ".shape: expected an array of non-negative integers")
            if dtype is not None and shape is not None and \
                    t["bytes"] != nbytes_of(dtype, shape):
                raise bad("%s.bytes: %d is not %s x %s = %d bytes"
                          % (where, t["bytes"], dtype, shape, nbytes_of(dtype, shape)))
            if tid in g._tensors:
                raise bad(where + ": duplicate tensor id")
            g.add_tensor(tid, t["bytes"], dtype=dtype, shape=shape, kind=kind,
                         share=t.get("share"), align=align, name=t.get("name"))
        for i, op in enumerate(d["ops"]):
            if not isinstance(op, dict):
                raise bad("ops[%d]: expected an object" % i)
            if op.get("name") is not None and not isinstance(op["name"], str):
                raise bad("ops[%d].name: expected a string" % i)
            refs = []
            for k in ("inputs", "outputs"):
                a = op.get(k) or []
                if not isinstance(a, list) or not all(_is_uint(x) for x in a):
                    raise bad("ops[%d].%s: expected an array of tensor ids" % (i, k))
                refs.append(a)
            g.add_op(op.get("name"), refs[0], refs[1])
        return g

    @classmethod
    def from_json(cls, path):
        """Read graph JSON from path."""
        with open(path, "rb") as f:
            text = f.read()
        try:
            d = json.loads(text)
        except ValueError as e:
            raise Error(errno.EINVAL, "%s: %s" % (path, e)) from None
        return cls.from_dict(d, str(path))


def _is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
