"""Model import from ONNX (built here with onnx.helper, checked against ONNX's own
reference evaluator) and from .npz."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from golden.importers import ModelImportError, load_model, load_npz, load_onnx, save_npz
from golden.nn import lenet5, mlp


def _save(tmp_path, nodes, inits, in_shape, out_dim, name="m"):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, out_dim])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path, model


def _check_against_reference(path, model, in_shape):
    rng = np.random.default_rng(0)
    x = rng.random((5, *in_shape)).astype(np.float32)
    ref = ReferenceEvaluator(model).run(None, {"x": x})[0]
    ours = load_onnx(path).forward(x.reshape(5, -1).astype(np.float64))
    assert np.allclose(ours, ref, atol=1e-4)


def test_gemm_mlp(tmp_path):
    rng = np.random.default_rng(1)
    inits = {"w1": rng.normal(size=(16, 8)), "b1": rng.normal(size=16),
             "w2": rng.normal(size=(4, 16)), "b2": rng.normal(size=4)}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
    path, model = _save(tmp_path, nodes, inits, [8], 4)
    _check_against_reference(path, model, [8])


def test_matmul_add(tmp_path):
    rng = np.random.default_rng(2)
    inits = {"w": rng.normal(size=(8, 3)), "b": rng.normal(size=3)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["y"])]
    path, model = _save(tmp_path, nodes, inits, [8], 3)
    _check_against_reference(path, model, [8])


def test_conv_pool_flatten(tmp_path):
    rng = np.random.default_rng(3)
    inits = {"k": rng.normal(size=(3, 1, 3, 3)), "kb": rng.normal(size=3),
             "w": rng.normal(size=(3 * 3 * 3, 5)), "b": rng.normal(size=5)}
    nodes = [helper.make_node("Conv", ["x", "k", "kb"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["y"])]
    path, model = _save(tmp_path, nodes, inits, [1, 8, 8], 5)
    _check_against_reference(path, model, [1, 8, 8])


def test_unsupported_operator_is_named(tmp_path):
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
             helper.make_node("Sigmoid", ["h"], ["y"], name="act1")]
    path, _ = _save(tmp_path, nodes, {"w": rng.normal(size=(3, 4))}, [4], 3)
    with pytest.raises(ModelImportError, match="unsupported ONNX operator Sigmoid"):
        load_onnx(path)


def test_not_an_onnx_file(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelImportError):
        load_model(p)


@pytest.mark.parametrize("build", [lambda: mlp([64, 20, 10], 1),
                                   lambda: lenet5((1, 28, 28), 10, 1)])
def test_npz_round_trip(tmp_path, build):
    m = build()
    save_npz(m, tmp_path / "m.npz")
    back = load_npz(tmp_path / "m.npz")
    x = np.random.default_rng(0).random((3, int(np.prod(m.input_shape))))
    assert np.allclose(back.forward(x), m.forward(x))


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "bad.npz", w0=np.ones((3, 4)))
    with pytest.raises(ModelImportError, match="no bias"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "chain.npz", w0=np.ones((3, 4)), b0=np.ones(3), w1=np.ones((2, 5)),
             b1=np.ones(2))
    with pytest.raises(ModelImportError, match="do not chain"):
        load_npz(tmp_path / "chain.npz")
    with pytest.raises(ModelImportError, match="unknown model format"):
        (tmp_path / "m.pt").write_bytes(b"x")
        load_model(tmp_path / "m.pt")
