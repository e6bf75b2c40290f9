"""Integer requantization by the gemmlowp / TensorFlow Lite method.

An int32 accumulator ``acc`` holding ``sum(w_q * x_q)`` becomes an int8
activation with scale ratio ``M = s_w * s_x / s_y`` written as
``M = M0 * 2**-shift`` with ``M0`` a Q31 fixed-point number in ``[0.5, 1)``
(Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018, section 2.2). The formulas
follow gemmlowp's ``fixedpoint.h`` and TFLite's
``MultiplyByQuantizedMultiplier`` term for term:

* ``SaturatingRoundingDoublingHighMul(a, b)``: ``(a*b + nudge) / 2**31`` with
  C's truncating division, ``nudge = 2**30`` if ``a*b >= 0`` else
  ``1 - 2**30``; saturates the single overflowing case ``a == b == -2**31``.
* ``RoundingDivideByPOT(x, e)``: ``(x >> e) + (remainder > threshold)``
  with ``remainder = x & (2**e - 1)`` and ``threshold = (2**e - 1) >> 1``
  plus one when ``x < 0`` (round half away from zero).
* then ``+ zero_point`` and a clamp to ``[qmin, qmax]`` (ReLU raises ``qmin``
  to the zero point).

Only right shifts (``M < 1``) are supported, as in every convolution and
fully connected layer whose output scale is not smaller than its inputs'
product; ``quantize_multiplier`` refuses ``M >= 1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INT32_MIN", "INT32_MAX", "quantize_multiplier", "srdhm", "rounding_divide_by_pot",
           "requantize"]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize_multiplier(m: float) -> tuple[int, int]:
    """``M`` in ``(0, 1)`` -> ``(M0, shift)`` with ``M ~= M0 * 2**-(31 + shift)``.

    ``M0`` is in ``[2**30, 2**31 - 1]`` and ``shift`` in ``0..31`` (TFLite's
    ``QuantizeMultiplier`` for multipliers below one). ``M == 0`` gives
    ``(0, 0)``.
    """
    m = float(m)
    if not np.isfinite(m) or m < 0 or m >= 1:
        raise ValueError(f"the real multiplier must be in [0, 1), not {m!r}")
    if m == 0:
        return 0, 0
    frac, exp = np.frexp(m)                  # m = frac * 2**exp, frac in [0.5, 1)
    q = int(round(frac * (1 << 31)))
    if q == 1 << 31:                          # rounding reached 1.0
        q //= 2
        exp += 1
    shift = -int(exp)
    if shift > 31:                            # too small to represent: flush to zero
        return 0, 0
    return q, shift


def srdhm(a, b) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 arrays."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b                                # |ab| <= 2**62 fits int64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    q = np.where(v >= 0, v >> 31, -((-v) >> 31))   # C division truncates toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, q).astype(np.int64)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    if np.any((e < 0) | (e > 31)):
        raise ValueError("exponent must be in 0..31")
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def requantize(acc, multiplier, shift, zero_point=0, *, relu: bool = False, bits: int = 8):
    """int32 accumulators -> signed ``bits``-bit activations (TFLite's formula).

    ``multiplier`` (``M0``, ``0..2**31-1``), ``shift`` (``0..31``, a right
    shift), ``zero_point`` and ``relu`` may be scalars or per-channel arrays
    broadcast against ``acc``.
    """
    acc = np.asarray(acc, dtype=np.int64)
    if np.any((acc < INT32_MIN) | (acc > INT32_MAX)):
        raise ValueError("accumulators must be int32")
    m0 = np.asarray(multiplier, dtype=np.int64)
    if np.any((m0 < 0) | (m0 > INT32_MAX)):
        raise ValueError("multiplier must be in 0..2**31-1")
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    zp = np.asarray(zero_point, dtype=np.int64)
    if np.any((zp < qmin) | (zp > qmax)):
        raise ValueError(f"zero point must fit {bits} bits")
    y = rounding_divide_by_pot(srdhm(acc, m0), shift) + zp
    lo = np.where(np.asarray(relu), np.maximum(zp, qmin), qmin)
    return np.clip(y, lo, qmax).astype(np.int64)
