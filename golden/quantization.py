"""Scalar quantizers: uniform affine/symmetric, dynamic fixed point, KL calibration,
logarithmic, binary and ternary.

All functions take and return NumPy arrays. Integer codes are returned as
``int64``; reconstruction (``dequantize``) as ``float64``. Rounding is
round-half-to-even unless stochastic rounding is asked for, in which case an
explicit ``seed`` makes it reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "QuantizedTensor",
    "qrange",
    "uniform_params",
    "quantize",
    "dequantize",
    "uniform_quantize",
    "dynamic_fixed_point",
    "kl_calibrate",
    "log2_quantize",
    "binarize",
    "ternarize_twn",
    "ttq_init",
    "ttq_quantize",
]


def _check_bits(bits: int, lo: int = 2, hi: int = 16) -> int:
    if not isinstance(bits, (int, np.integer)) or not lo <= bits <= hi:
        raise ValueError(f"bits must be an integer in [{lo}, {hi}], not {bits!r}")
    return int(bits)


def qrange(bits: int, symmetric: bool) -> tuple[int, int]:
    """Integer code range: symmetric ``[-(2^(b-1)-1), 2^(b-1)-1]``, affine ``[0, 2^b-1]``.

    The symmetric range is the "restricted" one of Jacob et al. 2018 / TFLite
    weights, so that ``-q`` is always representable.
    """
    bits = _check_bits(bits)
    if symmetric:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


@dataclass(frozen=True)
class QuantizedTensor:
    """Integer codes ``q`` with ``x ~ scale * (q - zero_point)``.

    ``scale`` and ``zero_point`` are scalars (per tensor) or 1-D arrays along
    ``axis`` (per channel).
    """

    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    symmetric: bool
    axis: int | None

    def dequantize(self) -> np.ndarray:
        return dequantize(self.q, self.scale, self.zero_point, self.axis)


def _expand(p: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if axis is None or p.ndim == 0:
        return p
    shape = [1] * ndim
    shape[axis % ndim] = p.size
    return p.reshape(shape)


def uniform_params(x: np.ndarray, bits: int, symmetric: bool = True,
                   axis: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point covering the range of ``x`` (per tensor or per channel).

    Jacob et al., "Quantization and Training of Neural Networks for Efficient
    Integer-Arithmetic-Only Inference", CVPR 2018, equation (1):
    ``r = S (q - Z)``. Symmetric: ``Z = 0``, ``S = max|x| / qmax``. Affine:
    the range ``[min(x, 0), max(x, 0)]`` is mapped onto ``[0, 2^b - 1]`` with
    an integer ``Z`` so that real zero is exactly representable (a
    requirement for zero padding and for pruned weights). ``axis`` is the
    channel axis for per-channel parameters.
    """
    x = np.asarray(x, dtype=np.float64)
    qmin, qmax = qrange(bits, symmetric)
    red = None if axis is None else tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    if symmetric:
        amax = np.max(np.abs(x), axis=red) if x.size else np.float64(0.0)
        scale = np.where(amax > 0, amax / qmax, 1.0)
        zp = np.zeros_like(scale)
    else:
        lo = np.minimum(np.min(x, axis=red), 0.0) if x.size else np.float64(0.0)
        hi = np.maximum(np.max(x, axis=red), 0.0) if x.size else np.float64(0.0)
        span = hi - lo
        scale = np.where(span > 0, span / (qmax - qmin), 1.0)
        zp = np.clip(np.rint(qmin - lo / scale), qmin, qmax)
    return np.asarray(scale, dtype=np.float64), np.asarray(zp, dtype=np.float64)


def quantize(x: np.ndarray, scale, zero_point, bits: int, symmetric: bool = True,
             axis: int | None = None, rounding: str = "half_even",
             seed: int | None = None) -> np.ndarray:
    """``q = clip(round(x / S) + Z, qmin, qmax)`` with the chosen rounding.

    ``rounding="half_even"``: round half to even (IEEE default, ``np.rint``).
    ``rounding="stochastic"``: ``floor(x / S + u)``, ``u ~ U[0, 1)``, unbiased
    (Gupta et al., "Deep Learning with Limited Numerical Precision", ICML
    2015, equation (5)); needs ``seed``.
    """
    x = np.asarray(x, dtype=np.float64)
    qmin, qmax = qrange(bits, symmetric)
    s = _expand(scale, x.ndim, axis)
    z = _expand(zero_point, x.ndim, axis)
    v = x / s
    if rounding == "half_even":
        r = np.rint(v)
    elif rounding == "stochastic":
        if seed is None:
            raise ValueError("stochastic rounding needs an explicit seed")
        r = np.floor(v + np.random.default_rng(seed).random(v.shape))
    else:
        raise ValueError(f"rounding must be 'half_even' or 'stochastic', not {rounding!r}")
    return np.clip(r + z, qmin, qmax).astype(np.int64)


def dequantize(q: np.ndarray, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """``r = S (q - Z)``."""
    q = np.asarray(q)
    return _expand(scale, q.ndim, axis) * (q.astype(np.float64) - _expand(zero_point, q.ndim, axis))


def uniform_quantize(x: np.ndarray, bits: int, symmetric: bool = True, axis: int | None = None,
                     rounding: str = "half_even", seed: int | None = None) -> QuantizedTensor:
    """Uniform quantization with parameters from the range of ``x`` (see ``uniform_params``)."""
    scale, zp = uniform_params(x, bits, symmetric, axis)
    q = quantize(x, scale, zp, bits, symmetric, axis, rounding, seed)
    return QuantizedTensor(q, scale, zp, bits, symmetric, axis)


def dynamic_fixed_point(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Dynamic fixed point: one fractional length per layer.

    Courbariaux et al., "Training deep neural networks with low precision
    multiplications", 2014, and Gysel et al., "Ristretto", 2016, section 3.1:
    the integer length ``il = ceil(log2(max|x|)) + 1`` (sign bit included)
    covers the largest magnitude and the fractional length is
    ``fl = bits - il``. Returns ``(q, fl)`` with ``x ~ q * 2^-fl`` and ``q``
    saturated to ``[-2^(b-1), 2^(b-1) - 1]`` (two's complement).
    """
    bits = _check_bits(bits)
    x = np.asarray(x, dtype=np.float64)
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    il = int(np.ceil(np.log2(amax))) + 1 if amax > 0 else 1
    fl = bits - il
    q = np.clip(np.rint(x * 2.0**fl), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.int64)
    return q, fl


def _kl_div(p: np.ndarray, q: np.ndarray) -> float:
    m = p > 0
    if np.any(q[m] == 0):
        return float("inf")
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def kl_calibrate(activations: np.ndarray, num_bins: int = 2048,
                 num_quantized_bins: int = 128) -> float:
    """Activation threshold minimising KL(P || Q): the 8-bit TensorRT method.

    Migacz, "8-bit Inference with TensorRT", GTC 2017 (calibration slides):
    a ``num_bins`` histogram of ``|x|`` over ``[0, max|x|]``; for every
    candidate ``i`` in ``num_quantized_bins .. num_bins`` the reference P is
    the first ``i`` bins with the outlier mass folded into bin ``i - 1``, Q
    is those ``i`` bins merged into ``num_quantized_bins`` levels and expanded
    back over the non-empty bins; the ``i`` with the smallest KL divergence
    gives the threshold ``(i + 0.5) * bin_width`` (the middle of bin ``i``,
    as in the reference implementations). Saturating values above the
    threshold then maps to ``[-127, 127]`` with ``scale = threshold / 127``.
    """
    x = np.abs(np.asarray(activations, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("no activations to calibrate")
    amax = float(x.max())
    if amax == 0.0:
        return 0.0
    hist, edges = np.histogram(x, bins=num_bins, range=(0.0, amax))
    hist = hist.astype(np.float64)
    width = edges[1] - edges[0]
    best_i, best_kl = num_bins, float("inf")
    for i in range(num_quantized_bins, num_bins + 1):
        ref = hist[:i].copy()
        ref[i - 1] += hist[i:].sum()
        sliced = hist[:i]
        nonzero = sliced != 0
        # Merge i bins into num_quantized_bins levels (last level takes the remainder).
        step = i // num_quantized_bins
        idx = np.minimum(np.arange(i) // step, num_quantized_bins - 1)
        sums = np.bincount(idx, weights=sliced, minlength=num_quantized_bins)
        counts = np.bincount(idx, weights=nonzero, minlength=num_quantized_bins)
        expanded = np.where(nonzero, sums[idx] / np.maximum(counts[idx], 1), 0.0)
        if ref.sum() == 0 or expanded.sum() == 0:
            continue
        kl = _kl_div(ref / ref.sum(), expanded / expanded.sum())
        if kl < best_kl:
            best_kl, best_i = kl, i
    return float((best_i + 0.5) * width) if best_i < num_bins else amax


def log2_quantize(x: np.ndarray, bits: int, fsr: int | None = None) -> np.ndarray:
    """Logarithmic (power-of-two) quantization.

    Miyashita et al., "Convolutional Neural Networks using Logarithmic Data
    Representation", 2016, equation (3):
    ``LogQuant(x) = sign(x) * 2^clip(round(log2|x|), FSR - 2^bits + 1, FSR)``
    (the paper's clip with ``2^bits`` exponent codes; its own lower bound
    ``FSR - 2^bits`` would need one code more), where ``bits`` counts the
    exponent bits (the sign is extra) and ``FSR``
    (full-scale range) defaults to ``ceil(log2(max|x|))`` so that the largest
    magnitude is representable. Rounding happens in the log domain; values
    whose rounded exponent falls below the range become zero.
    Returns the reconstructed values (``float64``).
    """
    bits = _check_bits(bits, 1, 8)
    x = np.asarray(x, dtype=np.float64)
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    if amax == 0.0:
        return np.zeros_like(x)
    if fsr is None:
        fsr = int(np.ceil(np.log2(amax)))
    lo, hi = fsr - 2**bits + 1, fsr
    with np.errstate(divide="ignore"):
        e = np.rint(np.log2(np.abs(x)))
    under = ~(e >= lo)  # also catches log2(0) = -inf
    e = np.clip(np.nan_to_num(e, neginf=lo), lo, hi)
    out = np.sign(x) * np.exp2(e)
    out[under] = 0.0
    return out


def binarize(w: np.ndarray, axis: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary weights with the XNOR-Net / BWN scale.

    Rastegari et al., "XNOR-Net", ECCV 2016, equations (3)-(4):
    ``B = sign(W)`` (with ``sign(0) = +1``) and ``alpha = mean|W|`` per output
    channel (``axis``; ``None`` for one scale per tensor); ``alpha * B`` is the
    least-squares binary approximation of ``W``. Returns ``(B, alpha)`` with
    ``B`` in ``{-1, +1}`` as ``int64``.
    """
    w = np.asarray(w, dtype=np.float64)
    b = np.where(w >= 0, 1, -1).astype(np.int64)
    if axis is None:
        alpha = np.asarray(np.mean(np.abs(w)))
    else:
        red = tuple(a for a in range(w.ndim) if a != axis % w.ndim)
        alpha = np.mean(np.abs(w), axis=red)
    return b, alpha


def ternarize_twn(w: np.ndarray, delta_factor: float = 0.7) -> tuple[np.ndarray, float, float]:
    """Ternary weights (TWN): ``delta = 0.7 mean|W|``, ``alpha`` fitted.

    Li & Liu, "Ternary Weight Networks", 2016, equations (9)-(10):
    ``t_i = sign(w_i)`` where ``|w_i| > delta`` else 0, and
    ``alpha = mean(|w_i| : |w_i| > delta)``, the least-squares scale for that
    support. Returns ``(t, alpha, delta)``, ``t`` in ``{-1, 0, 1}``.
    """
    w = np.asarray(w, dtype=np.float64)
    delta = float(delta_factor) * float(np.mean(np.abs(w))) if w.size else 0.0
    sup = np.abs(w) > delta
    t = (np.sign(w) * sup).astype(np.int64)
    alpha = float(np.mean(np.abs(w[sup]))) if sup.any() else 0.0
    return t, alpha, delta


def ttq_init(w: np.ndarray, t: float = 0.05) -> tuple[float, float, float]:
    """Initial TTQ scales: ``delta = t * max|W|``; ``Wp``, ``Wn`` the mean magnitudes
    of the weights above ``delta`` and below ``-delta``.

    Zhu et al., "Trained Ternary Quantization", ICLR 2017, equation (9) for the
    threshold; the two scales are then trained (see the compression pipeline).
    Returns ``(wp, wn, delta)`` with ``wp, wn >= 0``.
    """
    w = np.asarray(w, dtype=np.float64)
    delta = float(t) * float(np.max(np.abs(w))) if w.size else 0.0
    pos, neg = w[w > delta], w[w < -delta]
    wp = float(pos.mean()) if pos.size else 0.0
    wn = float(-neg.mean()) if neg.size else 0.0
    return wp, wn, delta


def ttq_quantize(w: np.ndarray, wp: float, wn: float, delta: float) -> np.ndarray:
    """TTQ forward: ``Wp`` where ``w > delta``, ``-Wn`` where ``w < -delta``, else 0
    (Zhu et al. 2017, equation (6))."""
    w = np.asarray(w, dtype=np.float64)
    return np.where(w > delta, wp, np.where(w < -delta, -wn, 0.0))
