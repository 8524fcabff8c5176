"""Model files to orion.Graph: .tflite (flatbuffers table access, with the
field positions of TensorFlow Lite's schema written out here) and .onnx
(onnx.load + shape inference)."""
import errno
import math
import os

from ._orion import Error
from .graph import Graph, DTYPES

# ---- TensorFlow Lite ------------------------------------------------------
#
# A .tflite file is a flatbuffer whose root table is a Model. Only what a
# memory plan needs is read, by field position (a field's vtable slot is
# 4 + 2 * its index in the schema's table declaration):
#   Model:    0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers
#   SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name
#   Tensor:   0 shape, 1 type, 2 buffer, 3 name, 4 quantization, 5 is_variable
#   Operator: 0 opcode_index, 1 inputs, 2 outputs
#   OperatorCode: 0 deprecated_builtin_code (int8), 1 custom_code, 2 version,
#                 3 builtin_code (int32; the larger of the two is the code)
#   Buffer:   0 data, 1 offset, 2 size (data outside the flatbuffer, > 2 GB models)

def _slot(i):
    return 4 + 2 * i


# TensorType -> our dtype name (None: no fixed element size).
_TFL_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: None,  # string
    6: "bool", 7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128",
    12: "uint64", 13: None, 14: None, 15: "uint32", 16: "uint16",  # resource, variant
}

# BuiltinOperator codes -> names, for the op names (informational).
_TFL_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 7: "EMBEDDING_LOOKUP", 8: "FLOOR",
    9: "FULLY_CONNECTED", 10: "HASHTABLE_LOOKUP", 11: "L2_NORMALIZATION", 12: "L2_POOL_2D",
    13: "LOCAL_RESPONSE_NORMALIZATION", 14: "LOGISTIC", 15: "LSH_PROJECTION", 16: "LSTM",
    17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 20: "RELU_N1_TO_1", 21: "RELU6", 22: "RESHAPE",
    23: "RESIZE_BILINEAR", 24: "RNN", 25: "SOFTMAX", 26: "SPACE_TO_DEPTH", 27: "SVDF",
    28: "TANH", 29: "CONCAT_EMBEDDINGS", 30: "SKIP_GRAM", 31: "CALL", 32: "CUSTOM",
    33: "EMBEDDING_LOOKUP_SPARSE", 34: "PAD", 35: "UNIDIRECTIONAL_SEQUENCE_RNN", 36: "GATHER",
    37: "BATCH_TO_SPACE_ND", 38: "SPACE_TO_BATCH_ND", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB",
    42: "DIV", 43: "SQUEEZE", 44: "UNIDIRECTIONAL_SEQUENCE_LSTM", 45: "STRIDED_SLICE",
    46: "BIDIRECTIONAL_SEQUENCE_RNN", 47: "EXP", 48: "TOPK_V2", 49: "SPLIT", 50: "LOG_SOFTMAX",
    51: "DELEGATE", 52: "BIDIRECTIONAL_SEQUENCE_LSTM", 53: "CAST", 54: "PRELU", 55: "MAXIMUM",
    56: "ARG_MAX", 57: "MINIMUM", 58: "LESS", 59: "NEG", 60: "PADV2", 61: "GREATER",
    62: "GREATER_EQUAL", 63: "LESS_EQUAL", 64: "SELECT", 65: "SLICE", 66: "SIN",
    67: "TRANSPOSE_CONV", 68: "SPARSE_TO_DENSE", 69: "TILE", 70: "EXPAND_DIMS", 71: "EQUAL",
    72: "NOT_EQUAL", 73: "LOG", 74: "SUM", 75: "SQRT", 76: "RSQRT", 77: "SHAPE", 78: "POW",
    79: "ARG_MIN", 80: "FAKE_QUANT", 81: "REDUCE_PROD", 82: "REDUCE_MAX", 83: "PACK",
    84: "LOGICAL_OR", 85: "ONE_HOT", 86: "LOGICAL_AND", 87: "LOGICAL_NOT", 88: "UNPACK",
    89: "REDUCE_MIN", 90: "FLOOR_DIV", 91: "REDUCE_ANY", 92: "SQUARE", 93: "ZEROS_LIKE",
    94: "FILL", 95: "FLOOR_MOD", 96: "RANGE", 97: "RESIZE_NEAREST_NEIGHBOR", 98: "LEAKY_RELU",
    99: "SQUARED_DIFFERENCE", 100: "MIRROR_PAD", 101: "ABS", 102: "SPLIT_V", 103: "UNIQUE",
    104: "CEIL", 105: "REVERSE_V2", 106: "ADD_N", 107: "GATHER_ND", 108: "COS", 109: "WHERE",
    110: "RANK", 111: "ELU", 112: "REVERSE_SEQUENCE", 113: "MATRIX_DIAG", 114: "QUANTIZE",
    115: "MATRIX_SET_DIAG", 116: "ROUND", 117: "HARD_SWISH", 118: "IF", 119: "WHILE",
    120: "NON_MAX_SUPPRESSION_V4", 121: "NON_MAX_SUPPRESSION_V5", 122: "SCATTER_ND",
    123: "SELECT_V2", 124: "DENSIFY", 125: "SEGMENT_SUM", 126: "BATCH_MATMUL",
    127: "PLACEHOLDER_FOR_GREATER_OP_CODES", 128: "CUMSUM", 129: "CALL_ONCE",
    130: "BROADCAST_TO", 131: "RFFT2D", 132: "CONV_3D", 133: "IMAG", 134: "REAL",
    135: "COMPLEX_ABS", 136: "HASHTABLE", 137: "HASHTABLE_FIND", 138: "HASHTABLE_IMPORT",
    139: "HASHTABLE_SIZE", 140: "REDUCE_ALL", 141: "CONV_3D_TRANSPOSE", 142: "VAR_HANDLE",
    143: "READ_VARIABLE", 144: "ASSIGN_VARIABLE", 145: "BROADCAST_ARGS", 146: "RANDOM_STANDARD_NORMAL",
    147: "BUCKETIZE", 148: "RANDOM_UNIFORM", 149: "MULTINOMIAL", 150: "GELU",
    151: "DYNAMIC_UPDATE_SLICE", 152: "RELU_0_TO_1", 153: "UNSORTED_SEGMENT_PROD",
    154: "UNSORTED_SEGMENT_MAX", 155: "UNSORTED_SEGMENT_SUM", 156: "ATAN2",
}


class _Table:
    """A flatbuffers table with access by field index."""

    def __init__(self, buf, pos):
        import flatbuffers
        self._fb = flatbuffers
        self.t = flatbuffers.table.Table(buf, pos)

    def _off(self, i):
        return self.t.Offset(_slot(i))

    def scalar(self, i, flags, default=0):
        o = self._off(i)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def string(self, i):
        o = self._off(i)
        return self.t.String(o + self.t.Pos).decode("utf-8", "replace") if o else None

    def vector_len(self, i):
        o = self._off(i)
        return self.t.VectorLen(o) if o else 0

    def int_vector(self, i):
        o = self._off(i)
        if not o:
            return []
        n = self.t.VectorLen(o)
        start = self.t.Vector(o)
        n_flags = self._fb.number_types.Int32Flags
        return [self.t.Get(n_flags, start + 4 * k) for k in range(n)]

    def table_vector(self, i):
        o = self._off(i)
        if not o:
            return []
        n = self.t.VectorLen(o)
        start = self.t.Vector(o)
        return [_Table(self.t.Bytes, self.t.Indirect(start + 4 * k)) for k in range(n)]


def load_tflite(path):
    """Read a .tflite model's subgraph 0 into an orion.Graph: its operators
    in order, every tensor with its dtype and shape; tensors with data in a
    buffer (constants) and variables persistent; the subgraph's inputs and
    outputs as such. Tensor ids are the model's tensor indices."""
    import flatbuffers
    N = flatbuffers.number_types
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    if len(buf) < 8 or bytes(buf[4:8]) != b"TFL3":
        raise Error(errno.EINVAL, "%s: not a TensorFlow Lite model (no TFL3 identifier)" % path)
    model = _Table(buf, flatbuffers.encode.Get(N.UOffsetTFlags.packer_type, buf, 0))
    subgraphs = model.table_vector(2)
    if not subgraphs:
        raise Error(errno.EINVAL, "%s: the model has no subgraph" % path)
    buffers = model.table_vector(4)
    codes = []
    for oc in model.table_vector(1):
        code = max(oc.scalar(0, N.Int8Flags), oc.scalar(3, N.Int32Flags))
        codes.append(oc.string(1) if code == 32 and oc.string(1) else
                     _TFL_OPS.get(code, "BUILTIN_%d" % code))
    sg = subgraphs[0]
    inputs, outputs = set(sg.int_vector(1)), set(sg.int_vector(2))
    name = os.path.splitext(os.path.basename(path))[0]
    ops = sg.table_vector(3)
    op_refs = [([i for i in op.int_vector(1) if i >= 0], [o for o in op.int_vector(2) if o >= 0])
               for op in ops]
    # Tensors no op reads or writes (an LSTM's "intermediates", say) take no
    # memory in the plan: they are left out, as the shipped graphs do.
    used = set(inputs) | set(outputs)
    for ins, outs in op_refs:
        used.update(ins)
        used.update(outs)
    g = Graph(name)
    for idx, t in enumerate(sg.table_vector(0)):
        if idx not in used:
            continue
        shape = t.int_vector(0)
        ttype = t.scalar(1, N.Int8Flags)
        tname = t.string(3)
        if ttype not in _TFL_TYPES or _TFL_TYPES[ttype] is None:
            raise Error(errno.EINVAL, "%s: tensor %d (%s): type %d has no fixed element size"
                        % (path, idx, tname, ttype))
        if any(d < 0 for d in shape):
            raise Error(errno.EINVAL, "%s: tensor %d (%s): dynamic shape %s"
                        % (path, idx, tname, shape))
        b = t.scalar(2, N.Uint32Flags)
        const = 0 < b < len(buffers) and (buffers[b].vector_len(0) > 0 or
                                         buffers[b].scalar(1, N.Uint64Flags) > 0)
        variable = bool(t.scalar(5, N.BoolFlags))
        if idx in inputs:
            kind = "input"
        elif idx in outputs:
            kind = "output"
        elif const or variable:
            kind = "persistent"
        else:
            kind = "intermediate"
        g.add_tensor(idx, dtype=_TFL_TYPES[ttype], shape=shape, kind=kind, name=tname)
    for op, (ins, outs) in zip(ops, op_refs):
        ci = op.scalar(0, N.Uint32Flags)
        g.add_op(codes[ci] if ci < len(codes) else "OP_%d" % ci, ins, outs)
    return g


# ---- ONNX -----------------------------------------------------------------

# TensorProto.DataType -> our dtype name.
_ONNX_TYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
               7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
               13: "uint64", 14: "complex64", 15: "complex128"}


def load_onnx(path):
    """Read an .onnx model into an orion.Graph: nodes in order, initializers
    persistent, graph inputs and outputs as such, every other value's dtype
    and shape from ONNX shape inference. A value whose shape cannot be
    inferred (or has a symbolic dimension) is an error naming it."""
    import onnx
    from onnx import shape_inference
    model = onnx.load(str(path))
    try:
        model = shape_inference.infer_shapes(model)
    except Exception as e:  # onnx raises its own InferenceError types
        raise Error(errno.EINVAL, "%s: shape inference failed: %s" % (path, e)) from None
    gr = model.graph
    info = {}
    for vi in list(gr.input) + list(gr.value_info) + list(gr.output):
        info[vi.name] = vi
    init = {t.name: t for t in gr.initializer}
    graph_inputs = [vi.name for vi in gr.input if vi.name not in init]
    graph_outputs = [vi.name for vi in gr.output]
    ids = {}
    g = Graph(gr.name or os.path.splitext(os.path.basename(path))[0])

    def declare(vname, kind):
        if vname in ids:
            return ids[vname]
        if vname in init:
            t = init[vname]
            elem, dims = t.data_type, list(t.dims)
        else:
            vi = info.get(vname)
            tt = vi.type.tensor_type if vi is not None and vi.type.HasField("tensor_type") \
                else None
            if tt is None or not tt.HasField("shape"):
                raise Error(errno.EINVAL, "%s: %s %r: shape inference gave no shape"
                            % (path, kind, vname))
            dims = []
            for d in tt.shape.dim:
                if not d.HasField("dim_value"):
                    raise Error(errno.EINVAL, "%s: %s %r: dimension %r is not known"
                                % (path, kind, vname, d.dim_param or "?"))
                dims.append(d.dim_value)
            elem = tt.elem_type
        if elem not in _ONNX_TYPES:
            raise Error(errno.EINVAL, "%s: %s %r: element type %d has no fixed size"
                        % (path, kind, vname, elem))
        i = len(ids)
        ids[vname] = i
        nbytes = DTYPES[_ONNX_TYPES[elem]] * math.prod(dims)
        # A 0-byte tensor (a dimension 0) cannot be planned; give it one element's room.
        g.add_tensor(i, max(nbytes, 1) if nbytes == 0 else None,
                     dtype=None if nbytes == 0 else _ONNX_TYPES[elem],
                     shape=None if nbytes == 0 else dims, kind=kind, name=vname)
        return i

    for n in graph_inputs:
        declare(n, "input")
    for n in init:
        declare(n, "persistent")
    for n in graph_outputs:
        if n in init:
            continue
    for node in gr.node:
        ins = [declare(x, "intermediate") for x in node.input if x]
        outs = []
        for x in node.output:
            if not x:
                continue
            outs.append(declare(x, "output" if x in graph_outputs else "intermediate"))
        g.add_op(node.op_type, ins, outs)
    return g


def load(path):
    """A model or graph JSON by its contents: .tflite, .onnx or orion graph JSON."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[4:8] == b"TFL3":
        return load_tflite(path)
    if head.lstrip()[:1] == b"{" or str(path).endswith(".json"):
        return Graph.from_json(path)
    if str(path).endswith(".onnx"):
        return load_onnx(path)
    raise Error(errno.EINVAL, "%s: not a .tflite, .onnx or graph JSON file" % path)
