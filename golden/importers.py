"""Model import: NumPy ``.npz`` files and ONNX graphs, into ``golden.nn.Model``.

``.npz``: arrays ``w0, b0, w1, b1, ...`` in layer order. A 2-D ``w`` is a
dense layer ``(out, in)``, a 4-D one a convolution ``(out, in, kh, kw)``
(stride 1, no padding). ReLU follows every layer but the last; ``pool<i>``
(an integer ``k``) adds a ``k x k`` max-pool after layer ``i``, and
``input_shape`` (e.g. ``[1, 28, 28]``) gives one sample's shape (default:
``[in]`` of the first dense layer).

ONNX: a chain of Gemm, MatMul (+ Add), Conv, Relu, MaxPool, Flatten and
Reshape nodes with weights as initializers. Anything else is refused with
one line naming the operator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .nn import Conv2D, Dense, Flatten, MaxPool2D, Model, ReLU

__all__ = ["ModelImportError", "load_npz", "save_npz", "load_onnx", "load_model"]


class ModelImportError(ValueError):
    """The model file cannot be imported; the message is one line."""


def load_npz(path) -> Model:
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ModelImportError(f"cannot read {path} as .npz: {e}") from None
    layers = []
    i = 0
    n = sum(1 for k in z.files if k.startswith("w") and k[1:].isdigit())
    if n == 0:
        raise ModelImportError(f"{path}: no weight arrays w0, w1, ...")
    first = None
    spatial = False
    while f"w{i}" in z.files:
        w = z[f"w{i}"].astype(np.float64)
        if f"b{i}" not in z.files:
            raise ModelImportError(f"{path}: w{i} has no bias b{i}")
        b = z[f"b{i}"].astype(np.float64)
        if b.shape != (w.shape[0],):
            raise ModelImportError(f"{path}: b{i} has shape {b.shape}, expected ({w.shape[0]},)")
        if w.ndim == 2:
            if spatial:
                layers.append(Flatten())
                spatial = False
            layers.append(Dense(w, b))
        elif w.ndim == 4:
            layers.append(Conv2D(w, b))
            spatial = True
        else:
            raise ModelImportError(f"{path}: w{i} must be 2-D or 4-D, not {w.ndim}-D")
        first = first or layers[-1]
        if i < n - 1:
            layers.append(ReLU())
        if f"pool{i}" in z.files:
            layers.append(MaxPool2D(int(z[f"pool{i}"])))
        i += 1
    if "input_shape" in z.files:
        shape = tuple(int(v) for v in z["input_shape"])
    elif isinstance(first, Dense):
        shape = (first.w.shape[1],)
    else:
        raise ModelImportError(f"{path}: a convolutional model needs input_shape")
    model = Model(layers, shape, Path(path).stem)
    _check_runs(model, path)
    return model


def save_npz(model: Model, path):
    """Write a Dense/Conv2D/ReLU/MaxPool/Flatten model in the .npz layout above."""
    arrays = {"input_shape": np.asarray(model.input_shape)}
    i = -1
    for ly in model.layers:
        if hasattr(ly, "w"):
            i += 1
            arrays[f"w{i}"], arrays[f"b{i}"] = ly.w * ly.mask, ly.b
        elif isinstance(ly, MaxPool2D):
            arrays[f"pool{i}"] = np.asarray(ly.k)
    np.savez(path, **arrays)


def _check_runs(model: Model, path):
    try:
        model.forward(np.zeros((1, int(np.prod(model.input_shape)))))
    except ValueError as e:
        raise ModelImportError(f"{path}: layer shapes do not chain ({e})") from None


def _attrs(node) -> dict:
    import onnx  # noqa: PLC0415

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def load_onnx(path) -> Model:
    try:
        import onnx  # noqa: PLC0415
        from onnx import numpy_helper  # noqa: PLC0415
    except ImportError:
        raise ModelImportError("ONNX import needs the onnx package: pip install onnx") from None
    try:
        g = onnx.load(str(path)).graph
    except Exception as e:  # onnx raises DecodeError and friends  # noqa: BLE001
        raise ModelImportError(f"cannot read {path} as ONNX: {e}") from None
    inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    consts = {}
    for node in g.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        raise ModelImportError(f"{path}: need exactly one graph input, found {len(inputs)}")
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1:]
    if not dims or any(d <= 0 for d in dims):
        raise ModelImportError(f"{path}: the input needs a static shape after the batch axis")
    layers = []
    nodes = [n for n in g.node if n.op_type != "Constant"]
    k = 0
    spatial = len(dims) == 3
    while k < len(nodes):
        node = nodes[k]
        op = node.op_type
        at = _attrs(node)
        name = node.name or op
        if op == "Gemm":
            w = inits.get(node.input[1])
            if w is None:
                raise ModelImportError(f"{path}: Gemm {name} needs its weight as an initializer")
            w = w if at.get("transB", 0) else w.T
            if at.get("transA", 0):
                raise ModelImportError(f"{path}: Gemm {name} with transA is not supported")
            w = w * at.get("alpha", 1.0)
            b = inits.get(node.input[2], np.zeros(w.shape[0])) if len(node.input) > 2 \
                else np.zeros(w.shape[0])
            layers.append(Dense(w, np.broadcast_to(b * at.get("beta", 1.0), (w.shape[0],)).copy()))
        elif op == "MatMul":
            w = inits.get(node.input[1])
            if w is None:
                raise ModelImportError(f"{path}: MatMul {name} needs its weight as an initializer")
            b = np.zeros(w.shape[1])
            if k + 1 < len(nodes) and nodes[k + 1].op_type == "Add":
                add = nodes[k + 1]
                bias = [inits[x] for x in add.input if x in inits]
                if len(bias) != 1:
                    raise ModelImportError(f"{path}: Add {add.name} after MatMul needs one "
                                           "initializer operand")
                b = np.broadcast_to(bias[0], (w.shape[1],)).copy()
                k += 1
            layers.append(Dense(w.T.copy(), b))
        elif op == "Conv":
            w = inits.get(node.input[1])
            if w is None or w.ndim != 4:
                raise ModelImportError(f"{path}: Conv {name} needs a 4-D initializer weight")
            if at.get("group", 1) != 1 or any(d != 1 for d in at.get("dilations", [1, 1])):
                raise ModelImportError(f"{path}: Conv {name}: groups and dilations unsupported")
            strides = at.get("strides", [1, 1])
            pads = at.get("pads", [0, 0, 0, 0])
            if len(set(strides)) != 1 or len(set(pads)) != 1:
                raise ModelImportError(f"{path}: Conv {name}: only equal strides and pads")
            b = inits.get(node.input[2], np.zeros(w.shape[0])) if len(node.input) > 2 \
                else np.zeros(w.shape[0])
            layers.append(Conv2D(w, b.copy(), int(strides[0]), int(pads[0])))
        elif op == "Relu":
            layers.append(ReLU())
        elif op == "MaxPool":
            ks = at.get("kernel_shape", [2, 2])
            if len(set(ks)) != 1 or at.get("strides", ks) != ks or any(at.get("pads", [0])):
                raise ModelImportError(f"{path}: MaxPool {name}: only k x k windows at stride k")
            layers.append(MaxPool2D(int(ks[0])))
        elif op in ("Flatten", "Reshape"):
            if spatial:
                layers.append(Flatten())
                spatial = False
        else:
            raise ModelImportError(f"{path}: unsupported ONNX operator {op} (node {name})")
        if op == "Gemm" or op == "MatMul":
            spatial = False
        k += 1
    if not any(hasattr(ly, "w") for ly in layers):
        raise ModelImportError(f"{path}: no weighted layers")
    shape = tuple(dims) if len(dims) == 3 else (int(np.prod(dims)),)
    model = Model(layers, shape, Path(path).stem)
    _check_runs(model, path)
    return model


def load_model(path) -> Model:
    p = Path(path)
    if not p.exists():
        raise ModelImportError(f"{p}: no such file")
    if p.suffix == ".npz":
        return load_npz(p)
    if p.suffix == ".onnx":
        return load_onnx(p)
    raise ModelImportError(f"{p}: unknown model format (use .npz or .onnx)")
