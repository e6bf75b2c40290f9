"""Low-rank factorisation: truncated SVD of dense layers, Tucker-2 of conv kernels."""

from __future__ import annotations

import numpy as np

__all__ = ["svd_rank_for_energy", "svd_truncate", "tucker2", "tucker2_reconstruct"]


def svd_rank_for_energy(s: np.ndarray, energy: float) -> int:
    """Smallest rank ``r`` with ``sum(s[:r]^2) >= energy * sum(s^2)``."""
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"energy fraction must be in (0, 1], not {energy!r}")
    e = np.cumsum(np.asarray(s, dtype=np.float64) ** 2)
    if e.size == 0 or e[-1] == 0:
        return 0
    return int(np.searchsorted(e, energy * e[-1] * (1 - 1e-12)) + 1)


def svd_truncate(w: np.ndarray, rank: int | None = None,
                 energy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``W ~ A @ B`` with ``A = U_r diag(s_r)`` of shape ``(m, r)`` and ``B = V_r^T`` ``(r, n)``.

    Denton et al., "Exploiting Linear Structure Within Convolutional Networks
    for Efficient Evaluation", NIPS 2014, section 3.2, and Xue et al., 2013:
    the best rank-``r`` approximation in Frobenius norm (Eckart-Young), whose
    error is ``sqrt(sum of the dropped s_i^2)``. Give either ``rank`` or the
    kept-``energy`` fraction of ``sum s_i^2``.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"need a 2-D matrix, not shape {w.shape}")
    if (rank is None) == (energy is None):
        raise ValueError("give exactly one of rank and energy")
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    r = svd_rank_for_energy(s, energy) if energy is not None else int(rank)
    if not 0 <= r <= s.size:
        raise ValueError(f"rank must be in [0, {s.size}], not {r}")
    return u[:, :r] * s[:r], vt[:r, :]


def _leading_left_vectors(m: np.ndarray, r: int) -> np.ndarray:
    u, _, _ = np.linalg.svd(m, full_matrices=False)
    return u[:, :r]


def tucker2(kernel: np.ndarray, rank_out: int, rank_in: int,
            iters: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tucker-2 decomposition of a conv kernel ``K`` of shape ``(T, S, kh, kw)``.

    Kim et al., "Compression of Deep Convolutional Neural Networks for Fast
    and Low Power Mobile Applications", ICLR 2016, equation (2):
    ``K ~ C x_1 U_out x_2 U_in`` with the core ``C`` of shape
    ``(rank_out, rank_in, kh, kw)``, ``U_out`` ``(T, rank_out)`` and ``U_in``
    ``(S, rank_in)``: a 1x1 conv to ``rank_in`` channels, a ``kh x kw`` conv,
    and a 1x1 conv back to ``T``. Factors start from the truncated HOSVD of
    the mode-1 and mode-2 unfoldings (De Lathauwer et al. 2000); ``iters``
    rounds of HOOI refine them (never increasing the error). Ranks are given
    (Kim et al. choose them by VBMF).
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 4:
        raise ValueError(f"need a (T, S, kh, kw) kernel, not shape {k.shape}")
    t, s = k.shape[:2]
    if not (1 <= rank_out <= t and 1 <= rank_in <= s):
        raise ValueError(f"ranks must be in [1, {t}] and [1, {s}]")
    u_out = _leading_left_vectors(k.reshape(t, -1), rank_out)
    u_in = _leading_left_vectors(np.moveaxis(k, 1, 0).reshape(s, -1), rank_in)
    for _ in range(iters):
        y = np.einsum("tshw,sb->tbhw", k, u_in)
        u_out = _leading_left_vectors(y.reshape(t, -1), rank_out)
        y = np.einsum("tshw,ta->ashw", k, u_out)
        u_in = _leading_left_vectors(np.moveaxis(y, 1, 0).reshape(s, -1), rank_in)
    core = np.einsum("tshw,ta,sb->abhw", k, u_out, u_in)
    return core, u_out, u_in


def tucker2_reconstruct(core: np.ndarray, u_out: np.ndarray, u_in: np.ndarray) -> np.ndarray:
    """``C x_1 U_out x_2 U_in``."""
    return np.einsum("abhw,ta,sb->tshw", core, u_out, u_in)
