"""Winograd minimal filtering F(2,3) and F(2x2,3x3).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016,
section 4.1: ``Y = A^T [(G g) * (B^T d)]`` in 1-D and
``Y = A^T [(G g G^T) * (B^T d B)] A`` in 2-D, with ``*`` elementwise. A
4x4 input tile and a 3x3 kernel give a 2x2 output tile with 16 multiplies
instead of 36. Convolution here means CNN-style correlation (no kernel flip).

``G`` has halves; for exact integer arithmetic ``G2 = 2 G`` is integral, so
the pre-transformed kernel ``U2 = G2 g G2^T = 4 U`` is integral and
``Y = A^T [U2 * V] A / 4`` is exact (the division leaves no remainder).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BT", "G", "AT", "G2",
    "winograd_f23", "winograd_f2x2_3x3", "kernel_transform_int", "winograd_f2x2_3x3_int",
    "conv2d_direct", "conv2d_winograd",
]

BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]], dtype=np.int64)
G = np.array([[1.0, 0.0, 0.0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0.0, 0.0, 1.0]])
AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]], dtype=np.int64)
G2 = (2 * G).astype(np.int64)


def winograd_f23(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """F(2,3): 4 inputs, 3 taps -> 2 outputs with 4 multiplies (Lavin & Gray eq. 5-6)."""
    d = np.asarray(d, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if d.shape != (4,) or g.shape != (3,):
        raise ValueError("F(2,3) needs d of shape (4,) and g of shape (3,)")
    return AT @ ((G @ g) * (BT @ d))


def winograd_f2x2_3x3(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """F(2x2,3x3) on one 4x4 tile in floating point (Lavin & Gray eq. 8)."""
    d = np.asarray(d, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if d.shape != (4, 4) or g.shape != (3, 3):
        raise ValueError("F(2x2,3x3) needs a 4x4 tile and a 3x3 kernel")
    u = G @ g @ G.T
    v = BT @ d @ BT.T
    return AT @ (u * v) @ AT.T


def kernel_transform_int(g: np.ndarray) -> np.ndarray:
    """Integer pre-transformed kernel ``U2 = G2 g G2^T = 4 G g G^T`` (4x4, int64)."""
    g = np.asarray(g, dtype=np.int64)
    if g.shape != (3, 3):
        raise ValueError("kernel must be 3x3")
    return G2 @ g @ G2.T


def winograd_f2x2_3x3_int(d: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Exact integer F(2x2,3x3): 4x4 int tile ``d`` and ``U2`` -> 2x2 int output.

    Computes ``M = U2 * (B^T d B)`` (the 16 multiplies), ``A^T M A`` and
    divides by 4 exactly (arithmetic shift right by 2 of a multiple of 4).
    """
    d = np.asarray(d, dtype=np.int64)
    u2 = np.asarray(u2, dtype=np.int64)
    if d.shape != (4, 4) or u2.shape != (4, 4):
        raise ValueError("need a 4x4 tile and a 4x4 transformed kernel")
    y4 = AT @ (u2 * (BT @ d @ BT.T)) @ AT.T
    assert np.all(y4 % 4 == 0)
    return y4 >> 2


def conv2d_direct(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Valid 2-D correlation of one channel: ``y[i, j] = sum g[u, v] x[i+u, j+v]``."""
    x = np.asarray(x)
    g = np.asarray(g)
    kh, kw = g.shape
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw))[:oh, :ow]
    return np.einsum("ijuv,uv->ij", win, g)


def conv2d_winograd(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Valid 3x3 correlation tiled with integer F(2x2,3x3); output size must be even.

    Overlapping 4x4 tiles at stride 2, each through ``winograd_f2x2_3x3_int``.
    """
    x = np.asarray(x, dtype=np.int64)
    oh, ow = x.shape[0] - 2, x.shape[1] - 2
    if oh < 2 or ow < 2 or oh % 2 or ow % 2:
        raise ValueError("output height and width must be even and >= 2")
    u2 = kernel_transform_int(g)
    y = np.zeros((oh, ow), dtype=np.int64)
    for i in range(0, oh, 2):
        for j in range(0, ow, 2):
            y[i:i + 2, j:j + 2] = winograd_f2x2_3x3_int(x[i:i + 4, j:j + 4], u2)
    return y
