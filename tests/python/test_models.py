"""Model files in: every shipped .tflite, ONNX models built here, the CLI."""
import errno
import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import orion
from conftest import BENCH_DATA, BUILD, models_dir

TFL_NP = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
          "int32": np.int32, "int64": np.int64, "bool": np.bool_, "float16": np.float16}


def tflite_models():
    d = os.path.join(BENCH_DATA, "models")
    return sorted(glob.glob(os.path.join(d, "*.tflite"))) or [None]


@pytest.mark.parametrize("model", tflite_models(),
                         ids=lambda m: os.path.basename(m) if m else "none")
def test_tflite_imports_registers_and_plans_as_the_shipped_graph(model, client):
    if model is None:
        models_dir()
    g = orion.models.load_tflite(model)
    base = os.path.splitext(os.path.basename(model))[0]
    ref = orion.Graph.from_json(os.path.join(BENCH_DATA, "graphs", base + ".json"))
    assert g.tensor_ids() == ref.tensor_ids()
    for t in g.tensor_ids():
        assert g.tensor_bytes(t) == ref.tensor_bytes(t), t
        assert g.tensor_kind(t) == ref.tensor_kind(t), t
        assert g.tensor_dtype(t) in TFL_NP and g.tensor_shape(t) is not None
        if ref.tensor_name(t):
            assert g.tensor_name(t) == ref.tensor_name(t)
    assert [o[1:] for o in g.ops()] == [o[1:] for o in ref.ops()]

    # Converted to JSON and read back, it plans exactly as the shipped graph.
    conv = orion.Graph.from_dict(g.to_dict())
    a, b = orion.plan_offline(conv), orion.plan_offline(ref)
    assert (a["peak"], a["lower_bound"], a["offsets"]) == (b["peak"], b["lower_bound"],
                                                         b["offsets"])
    for t in conv.tensor_ids():
        assert conv.tensor_shape(t) == g.tensor_shape(t)

    # Registered with the daemon: views with the model's dtypes and shapes, and
    # the daemon's plan is the shipped graph's plan.
    with client.register(g) as p, client.register(ref) as q:
        assert (p.peak_bytes, p.lower_bound_bytes) == (q.peak_bytes, q.lower_bound_bytes)
        assert [t - p.workspace_offset for t in map(p.offset, g.tensor_ids())] == \
               [t - q.workspace_offset for t in map(q.offset, ref.tensor_ids())]
        for t in g.tensor_ids():
            v = p.tensor(t)
            assert v.dtype == TFL_NP[g.tensor_dtype(t)]
            assert v.shape == tuple(g.tensor_shape(t))
            assert v.ctypes.data == client.arena_base + p.offset(t)
            del v


def _onnx_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), "w2")
    fc = numpy_helper.from_array(rng.standard_normal((16 * 8 * 8, 10)).astype(np.float32), "fc")
    shape = numpy_helper.from_array(np.array([1, 16 * 8 * 8], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["res"]),                      # residual
        helper.make_node("Concat", ["res", "r1"], ["cat"], axis=1),           # 16 channels
        helper.make_node("MaxPool", ["cat"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["pool", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        initializer=[w1, w2, fc, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)


def test_onnx_imports_with_inferred_shapes(tmp_path, client):
    pytest.importorskip("onnx")
    path = str(tmp_path / "tiny.onnx")
    _onnx_model(path)
    g = orion.models.load_onnx(path)
    by = {g.tensor_name(t): t for t in g.tensor_ids()}
    want = {"x": (1, 3, 16, 16), "c1": (1, 8, 16, 16), "r1": (1, 8, 16, 16),
            "c2": (1, 8, 16, 16), "res": (1, 8, 16, 16), "cat": (1, 16, 16, 16),
            "pool": (1, 16, 8, 8), "flat": (1, 1024), "y": (1, 10), "w1": (8, 3, 3, 3),
            "fc": (1024, 10), "shape": (2,)}
    for name, shape in want.items():
        assert g.tensor_shape(by[name]) == shape, name
    assert g.tensor_dtype(by["shape"]) == "int64" and g.tensor_dtype(by["y"]) == "float32"
    assert g.tensor_kind(by["x"]) == "input" and g.tensor_kind(by["y"]) == "output"
    assert g.tensor_kind(by["w1"]) == "persistent" and g.tensor_kind(by["cat"]) == "intermediate"
    assert [o[0] for o in g.ops()] == ["Conv", "Relu", "Conv", "Add", "Concat", "MaxPool",
                                      "Reshape", "MatMul"]
    with client.register(g) as p:
        assert p.tensor(by["pool"]).shape == (1, 16, 8, 8)
        assert p.tensor(by["pool"]).dtype == np.float32
        # Lifetimes let the dead intermediates share bytes.
        assert p.peak_bytes < sum(g.tensor_bytes(t) for t in g.tensor_ids())


def test_onnx_unknown_intermediate_shape_is_an_error_naming_it(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Mystery", ["a"], ["who_knows"], domain="example.custom"),
             helper.make_node("Relu", ["who_knows"], ["y"])]
    graph = helper.make_graph(
        nodes, "opaque", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("example.custom", 1)])
    path = str(tmp_path / "opaque.onnx")
    onnx.save(model, path)
    with pytest.raises(orion.Error) as e:
        orion.models.load_onnx(path)
    assert e.value.errno == errno.EINVAL and "who_knows" in e.value.strerror


def test_json_refuses_unknown_tensor_keys_and_checks_bytes(tmp_path):
    p = tmp_path / "g.json"
    p.write_text('{"tensors": [{"id": 3, "bytes": 4, "knd": "input"}], "ops": []}')
    with pytest.raises(orion.Error, match=r'tensors\[0\] \(id 3\): unknown key "knd"'):
        orion.Graph.from_json(str(p))
    p.write_text('{"tensors": [{"id": 3, "bytes": 4, "dtype": "float32", "shape": [2]}],'
                 ' "ops": []}')
    with pytest.raises(orion.Error, match="is not float32 x"):
        orion.Graph.from_json(str(p))
    # and the C reader says the same
    orionctl = os.path.join(BUILD, "tools", "orionctl")
    r = subprocess.run([orionctl, "plan", str(p)], capture_output=True, text=True)
    assert r.returncode != 0 and "dtype float32 x shape is 8 bytes" in r.stderr


def test_cli_plan_prints_orionctl_summary_and_convert_round_trips(tmp_path):
    model = os.path.join(models_dir(), "person_detect.tflite")
    env = dict(os.environ)
    out = str(tmp_path / "pd.json")

    def summary(cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        line = r.stderr.strip().splitlines()[-1]
        assert re.fullmatch(r"peak=\d+ lower_bound=\d+ ratio=[\d.]+ policy=\S+ ms=[\d.]+", line)
        return line.rsplit(" ms=", 1)[0]

    py = summary([sys.executable, "-m", "orion", "plan", model, "--policy", "greedy-size"])
    r = subprocess.run([sys.executable, "-m", "orion", "convert", model, "-o", out], env=env)
    assert r.returncode == 0
    orionctl = os.path.join(BUILD, "tools", "orionctl")
    c = summary([orionctl, "plan", "--policy", "greedy-size", out])
    assert py == c
    shipped = os.path.join(BENCH_DATA, "graphs", "person_detect.json")
    assert summary([orionctl, "plan", "--policy", "greedy-size", shipped]) == c
    assert summary([sys.executable, "-m", "orion", "plan", "--time-limit", "0.1", model]) \
        .startswith("peak=")
