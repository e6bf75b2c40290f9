"""Bit-exact models of the compute blocks: MAC lanes, XNOR-popcount, binary and
ternary accumulation, the folded batch-norm threshold and the Winograd tile.

Every function works on NumPy integer arrays and states the width of its
result; the matching hardware block in ``hw/`` produces exactly these bits.
"""

from __future__ import annotations

import numpy as np

from ..winograd import AT, BT

__all__ = ["KINDS", "weight_range", "acc_bits", "wrap", "mac_lanes", "xnor_acc_bits",
           "xnor_popcount", "fold_bn_threshold", "threshold", "winograd_bits",
           "winograd_tile"]

KINDS = ("int", "binary", "ternary")


def weight_range(kind: str, weight_bits: int) -> tuple[int, int]:
    """Smallest and largest weight value of a kind (binary weights are the
    bits 0 and 1 standing for -1 and +1)."""
    if kind == "int":
        return -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    if kind == "binary":
        return 0, 1
    if kind == "ternary":
        return -1, 1
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def acc_bits(kind: str, weight_bits: int, act_bits: int, max_len: int) -> int:
    """Signed accumulator width that holds any dot product of at most
    ``max_len`` terms of signed ``act_bits`` activations and ``kind`` weights."""
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    if kind == "int":
        largest = 1 << (weight_bits + act_bits - 2)      # (-2**(w-1)) * (-2**(a-1))
    elif kind in ("binary", "ternary"):
        largest = 1 << (act_bits - 1)                    # -(-2**(a-1))
    else:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return (max_len * largest).bit_length() + 1


def wrap(x, bits: int) -> np.ndarray:
    """Two's-complement wrap of integers to ``bits`` bits."""
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1) << (bits - 1)
    return ((x + half) & ((half << 1) - 1)) - half


def mac_lanes(weights, acts, kind: str = "int", bits: int | None = None) -> np.ndarray:
    """Per-lane dot products of a (terms, lanes) weight and activation array.

    ``kind`` "int": signed weights; "binary": weight bit 1 adds the
    activation, bit 0 subtracts it; "ternary": weights -1, 0, +1 (zeros add
    nothing). The result wraps to ``bits`` when given (the hardware's
    behaviour past its documented ``max_len``).
    """
    w = np.asarray(weights, dtype=np.int64)
    a = np.asarray(acts, dtype=np.int64)
    if w.shape != a.shape or w.ndim != 2:
        raise ValueError("weights and activations must both be (terms, lanes)")
    if kind == "binary":
        if np.any((w != 0) & (w != 1)):
            raise ValueError("binary weights must be 0 (-1) or 1 (+1)")
        w = 2 * w - 1
    elif kind == "ternary":
        if np.any(np.abs(w) > 1):
            raise ValueError("ternary weights must be -1, 0 or +1")
    elif kind != "int":
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    s = (w * a).sum(axis=0)
    return wrap(s, bits) if bits else s


def xnor_acc_bits(width: int, max_len: int) -> int:
    """Signed width of an XNOR-popcount result over ``max_len`` words of ``width`` bits."""
    return (max_len * width).bit_length() + 1


def xnor_popcount(wbits, abits) -> np.ndarray:
    """Binary dot products: bits (terms, lanes, width), 1 = +1 and 0 = -1.

    Returns ``2 * popcount(xnor(w, a)) - n`` per lane, ``n`` = terms * width.
    Padding both operands with 0 bits adds +1 per padded bit; fold that
    constant into the threshold.
    """
    w = np.asarray(wbits, dtype=np.int64)
    a = np.asarray(abits, dtype=np.int64)
    if w.shape != a.shape or w.ndim != 3:
        raise ValueError("bits must both be (terms, lanes, width)")
    if np.any((w | a) & ~1):
        raise ValueError("bits must be 0 or 1")
    agree = (w == a).sum(axis=(0, 2))
    return 2 * agree - w.shape[0] * w.shape[2]


def fold_bn_threshold(gamma, beta, mean, var, eps: float = 1e-5):
    """FINN-style fold of batch norm followed by sign into an integer compare.

    For an integer pre-activation ``x``, ``sign(gamma (x - mean) /
    sqrt(var + eps) + beta)`` (with sign(0) = +1, bit 1) equals
    ``threshold(x, tau, flip)``. Returns int64 ``tau`` and bool ``flip``.
    ``gamma == 0`` gives a constant: ``tau`` = the int64 minimum, ``flip`` =
    ``beta < 0``.
    """
    gamma, beta, mean, var = (np.asarray(v, dtype=np.float64)
                              for v in np.broadcast_arrays(gamma, beta, mean, var))
    sigma = np.sqrt(var + eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean - beta * sigma / gamma
    tau = np.where(gamma > 0, np.ceil(t), np.floor(t) + 1)
    lowest = np.iinfo(np.int64).min
    tau = np.where(gamma == 0, lowest, np.clip(tau, lowest // 2, -(lowest // 2)))
    flip = np.where(gamma == 0, beta < 0, gamma < 0)
    return tau.astype(np.int64), flip.astype(bool)


def threshold(x, tau, flip) -> np.ndarray:
    """``(x >= tau) xor flip`` as 0/1 bits."""
    x, tau, flip = (np.asarray(v, dtype=np.int64) for v in (x, tau, flip))
    return ((x >= tau) ^ (flip != 0)).astype(np.int64)


def winograd_bits(act_bits: int, weight_bits: int) -> tuple[int, int]:
    """(transformed-kernel width, output width) of the F(2x2,3x3) tile.

    ``U2 = G2 g G2^T`` has entries up to ``9 * 2**(weight_bits-1)`` in
    magnitude; an output is a 9-term dot product of the tile and the kernel.
    """
    return weight_bits + 4, act_bits + weight_bits + 3


def winograd_tile(d, u2) -> np.ndarray:
    """What the tile computes: ``(A^T [U2 * (B^T d B)] A) >> 2`` (floor).

    For ``u2 = golden.winograd.kernel_transform_int(g)`` this is exactly the
    direct 3x3 correlation of ``d`` with ``g`` (2x2 output).
    """
    d = np.asarray(d, dtype=np.int64)
    u2 = np.asarray(u2, dtype=np.int64)
    if d.shape != (4, 4) or u2.shape != (4, 4):
        raise ValueError("need a 4x4 tile and a 4x4 transformed kernel")
    return (AT @ (u2 * (BT @ d @ BT.T)) @ AT.T) >> 2
