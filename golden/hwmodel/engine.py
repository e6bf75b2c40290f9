"""What the Zipcore engine computes: a whole ``.zcm`` model in integers.

This is the bit-exact specification the engine RTL is checked against.
``engine_model`` fixes every integer the hardware holds; ``engine_forward``
runs a batch through it.

Tensors are signed 8-bit with zero point 0 and one scale each: the network
input's is ``ZModel.input_scale``; every other tensor's is the
``act_scale`` stored with the layer that reads it (a max-pool keeps its
input's scale, so the layer after a max-pool reads the pool's scale).
Per weighted layer, with ``s_in`` its input scale and ``s_out`` its output's:

* ``shared`` layers: the codebook becomes int8 with one scale per layer,
  ``s_w = max|codebook| / 127`` and ``w_q = round(codebook / s_w)`` (entry 0
  stays 0, the pruned weight). ``binary`` layers use the signs (+1/-1) as
  weights and ``s_w = alpha`` per row (the BWN add/subtract).
* the bias is int32, ``round(b / (s_w * s_in))`` (saturated to int32);
* the accumulator is the int32 sum of ``w_q * x_q`` over the row plus the
  bias, wrapping modulo ``2**32`` (the hardware's accumulator width; the
  sizes that run here stay far inside it);
* every layer but the last requantizes with ``M = s_w * s_in / s_out``
  (``golden.fixedpoint``: Q31 ``M0``, right shift, ReLU if the layer has
  one) to int8;
* the last layer's int32 accumulators are the output; the class is the
  argmax of ``acc * s_w`` per row (with one ``s_w`` per layer, the argmax of
  the accumulators).

Convolutions are lowered by im2col with zero padding (``x_q = 0`` is the
real 0); max-pooling compares int8 values, which is exact because the scale
is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fixedpoint import INT32_MAX, INT32_MIN, quantize_multiplier, requantize
from ..zcm import ZcmError, ZLayer, ZModel
from .compute import wrap

__all__ = ["EngineLayer", "EngineModel", "engine_model", "quantize_input", "engine_forward",
           "engine_predict", "int8_codebook", "layer_forward"]


@dataclass
class EngineLayer:
    """One layer as the engine holds it (integers only, besides ``out_scale``)."""

    kind: str                          # fc | conv | maxpool
    in_shape: tuple                    # (c, h, w), or (features,) for fc
    out_shape: tuple
    weights: np.ndarray | None = None  # (out, inp) int: int8 codebook values or +-1
    bias: np.ndarray | None = None     # (out,) int32
    multiplier: np.ndarray | None = None   # (out,) Q31 M0; None on the last layer
    shift: np.ndarray | None = None        # (out,) right shift
    relu: bool = False
    out_scale: np.ndarray | None = None    # (out,) the real value of one output step
    kh: int = 0
    kw: int = 0
    stride: int = 1
    pad: int = 0
    pool: int = 0


@dataclass
class EngineModel:
    layers: list
    input_scale: float
    input_shape: tuple
    classes: int


def _scales(zm: ZModel) -> list[float]:
    """The scale of each layer's input tensor."""
    s, out = float(zm.input_scale), []
    for i, ly in enumerate(zm.layers):
        if i and zm.layers[i - 1].kind != "maxpool":
            s = float(ly.act_scale)
        out.append(s)
    return out


def int8_codebook(ly: ZLayer) -> tuple[np.ndarray, float]:
    """A shared layer's codebook as the engine's int8 values, and their scale."""
    cb = np.asarray(ly.codebook, dtype=np.float64)
    top = float(np.max(np.abs(cb))) if cb.size else 0.0
    s_w = top / 127.0 if top > 0 else 1.0
    return np.clip(np.rint(cb / s_w), -127, 127).astype(np.int64), s_w


def engine_model(zm: ZModel) -> EngineModel:
    """The integers the engine computes ``zm`` with. Raises ``ZcmError`` with one
    line for a model the engine cannot run (a scale ratio ``M >= 1``)."""
    scales = _scales(zm)
    layers: list[EngineLayer] = []
    weighted = [i for i, ly in enumerate(zm.layers) if ly.storage != "none"]
    if not weighted or weighted[-1] != len(zm.layers) - 1:
        raise ZcmError("the engine needs a model that ends with a weighted layer")
    shape = tuple(zm.input_shape)
    for i, ly in enumerate(zm.layers):
        s_in = scales[i]
        in_shape = shape if ly.kind != "fc" else (int(np.prod(shape)),)
        out_shape = tuple(ly.out_shape) if ly.kind != "fc" else (ly.out,)
        if ly.kind == "maxpool":
            layers.append(EngineLayer("maxpool", in_shape, out_shape, pool=ly.pool))
            shape = out_shape
            continue
        if ly.storage == "shared":
            cb, s_w = int8_codebook(ly)
            w = cb[np.asarray(ly.codes)]
            s_row = np.full(ly.out, s_w)
        elif ly.storage == "binary":
            w = np.asarray(ly.signs, dtype=np.int64)
            s_row = np.asarray(ly.alpha, dtype=np.float64)
        else:
            raise ZcmError(f"layer {i}: a {ly.kind} layer without weights")
        step = s_row * s_in                              # real value of one accumulator step
        b = np.zeros(ly.out) if ly.bias is None else np.asarray(ly.bias, dtype=np.float64)
        bias = np.where(step > 0, np.rint(b / np.where(step > 0, step, 1.0)), 0.0)
        bias = np.clip(bias, INT32_MIN, INT32_MAX).astype(np.int64)
        el = EngineLayer(ly.kind, in_shape, out_shape, weights=w.astype(np.int64), bias=bias,
                         relu=ly.act == "relu", kh=ly.kh, kw=ly.kw, stride=ly.stride,
                         pad=ly.pad)
        if i == weighted[-1]:
            el.out_scale = step
        else:
            s_out = scales[i + 1]
            mult = np.zeros(ly.out, dtype=np.int64)
            sh = np.zeros(ly.out, dtype=np.int64)
            for r, st in enumerate(step):
                m = st / s_out
                if m >= 1.0:
                    raise ZcmError(f"layer {i}: scale ratio {m:.3g} >= 1; the requantizer "
                                   "only shifts right")
                if m > 0:
                    mult[r], sh[r] = quantize_multiplier(m)
            el.multiplier, el.shift = mult, sh
            el.out_scale = np.full(ly.out, s_out)
        layers.append(el)
        shape = out_shape
    return EngineModel(layers, float(zm.input_scale), tuple(zm.input_shape), zm.classes)


def quantize_input(em: EngineModel, x: np.ndarray) -> np.ndarray:
    """Float inputs ``(batch, ...)`` -> int8 at the model's input scale."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return np.clip(np.rint(x / em.input_scale), -128, 127).astype(np.int64)


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """(batch, c, h, w) -> (batch, oh * ow, c * kh * kw), patch order (c, u, v)."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]                  # (b, c, oh, ow, kh, kw)
    b, _, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(b, oh * ow, -1)


def layer_forward(el: EngineLayer, x: np.ndarray) -> np.ndarray:
    """One layer on int8 inputs ``(batch, prod(in_shape))``; int8 outputs, or the
    int32 accumulators when the layer has no multiplier (the last)."""
    b = len(x)
    if el.kind == "maxpool":
        c, h, w = el.in_shape
        k = el.pool
        xr = x.reshape(b, c, h, w)[:, :, :h - h % k, :w - w % k]
        xr = xr.reshape(b, c, h // k, k, w // k, k).max(axis=(3, 5))
        return xr.reshape(b, -1)
    if el.kind == "conv":
        cols = _im2col(x.reshape((b,) + el.in_shape), el.kh, el.kw, el.stride, el.pad)
        acc = wrap(np.einsum("bpk,ok->bop", cols, el.weights) + el.bias[None, :, None], 32)
    else:
        acc = wrap(x @ el.weights.T + el.bias[None, :], 32)
    if el.multiplier is None:
        return acc.reshape(b, -1)
    y = requantize(acc, _bcast(el.multiplier, acc), _bcast(el.shift, acc), relu=el.relu)
    return y.reshape(b, -1)


def _bcast(v: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Per-row (output channel) values against ``(b, out)`` or ``(b, out, positions)``."""
    return v[None, :] if acc.ndim == 2 else v[None, :, None]


def engine_forward(em: EngineModel, xq: np.ndarray) -> np.ndarray:
    """int8 inputs ``(batch, features)`` -> the last layer's int32 accumulators."""
    x = np.asarray(xq, dtype=np.int64)
    for el in em.layers:
        x = layer_forward(el, x)
    return x


def engine_predict(em: EngineModel, x: np.ndarray) -> np.ndarray:
    """Float inputs -> class indices, as the engine computes them."""
    acc = engine_forward(em, quantize_input(em, x))
    return np.argmax(acc * em.layers[-1].out_scale[None, :], axis=1)
