"""Pruning masks: unstructured, structured, block, N:M and Optimal Brain Damage.

Every function returns a boolean mask of the weight's shape, ``True`` where a
weight is *kept*. Masks hit the requested sparsity exactly: for ``n`` prunable
units (weights, rows, filters or blocks) and sparsity ``s`` exactly
``round(s * n)`` units are removed. Ties in the ranking score are broken
deterministically: among equal scores the unit with the lower flat index (for
the global variant: lower layer index, then lower flat index) is pruned first.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "magnitude_mask",
    "threshold_mask",
    "han_threshold",
    "global_magnitude_masks",
    "structured_mask",
    "block_mask",
    "nm_mask",
    "obd_saliency",
    "obd_mask",
    "sparsity",
]


def _check_sparsity(s: float) -> float:
    s = float(s)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], not {s!r}")
    return s


def _lowest_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` lowest scores, ties broken by lower index first."""
    flat = np.asarray(scores, dtype=np.float64).ravel()
    # lexsort sorts by the last key first: score, then index.
    order = np.lexsort((np.arange(flat.size), flat))
    return order[:k]


def _mask_from_scores(scores: np.ndarray, s: float) -> np.ndarray:
    s = _check_sparsity(s)
    scores = np.asarray(scores)
    k = int(round(s * scores.size))
    keep = np.ones(scores.size, dtype=bool)
    keep[_lowest_k(scores, k)] = False
    return keep.reshape(scores.shape)


def sparsity(mask: np.ndarray) -> float:
    """Fraction of pruned (``False``) entries of a mask."""
    mask = np.asarray(mask, dtype=bool)
    return 1.0 - mask.sum() / mask.size if mask.size else 0.0


def magnitude_mask(w: np.ndarray, s: float) -> np.ndarray:
    """Unstructured magnitude pruning of one layer by ratio.

    Han et al., "Learning both Weights and Connections for Efficient Neural
    Networks", NIPS 2015, section 3: connections with the smallest ``|w|`` are
    removed. Exactly ``round(s * w.size)`` weights are pruned.
    """
    return _mask_from_scores(np.abs(np.asarray(w, dtype=np.float64)), s)


def han_threshold(w: np.ndarray, quality: float) -> float:
    """Han et al. 2015's layer threshold: a quality parameter times the std of the weights."""
    return float(quality) * float(np.std(np.asarray(w, dtype=np.float64)))


def threshold_mask(w: np.ndarray, threshold: float) -> np.ndarray:
    """Unstructured pruning by threshold (Han et al. 2015, section 3).

    Weights with ``|w| < threshold`` are removed; ``|w| >= threshold`` is kept.
    """
    if threshold < 0 or not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite and >= 0, not {threshold!r}")
    return np.abs(np.asarray(w)) >= threshold


def global_magnitude_masks(weights: list[np.ndarray], s: float) -> list[np.ndarray]:
    """Magnitude pruning with one ranking across all layers.

    The ``round(s * N)`` smallest ``|w|`` over all ``N`` weights of all layers
    are removed (as in global magnitude pruning, e.g. Frankle & Carbin 2019);
    layers end up with different sparsities. Ties: lower layer, then lower
    flat index, is pruned first.
    """
    s = _check_sparsity(s)
    flats = [np.abs(np.asarray(w, dtype=np.float64)).ravel() for w in weights]
    allw = np.concatenate(flats) if flats else np.zeros(0)
    keep = _mask_from_scores(allw, s)
    out, start = [], 0
    for w, f in zip(weights, flats):
        out.append(keep[start:start + f.size].reshape(np.shape(w)))
        start += f.size
    return out


def structured_mask(w: np.ndarray, s: float, axis: int = 0, norm: str = "l1") -> np.ndarray:
    """Structured pruning of whole slices along ``axis`` by their L1 or L2 norm.

    ``axis=0`` of a dense ``(out, in)`` matrix prunes rows (output neurons),
    ``axis=1`` prunes columns (input neurons); ``axis=0`` of a conv kernel
    ``(out, in, kh, kw)`` prunes whole filters. Li et al., "Pruning Filters
    for Efficient ConvNets", ICLR 2017, section 3.1: filters ranked by
    ``s_j = sum |F_j|`` (L1); L2 is offered as the common variant. Exactly
    ``round(s * w.shape[axis])`` slices are removed.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim < 1:
        raise ValueError("structured pruning needs at least a 1-D tensor")
    axis = axis % w.ndim
    other = tuple(a for a in range(w.ndim) if a != axis)
    if norm == "l1":
        score = np.abs(w).sum(axis=other)
    elif norm == "l2":
        score = np.sqrt((w * w).sum(axis=other))
    else:
        raise ValueError(f"norm must be 'l1' or 'l2', not {norm!r}")
    keep = _mask_from_scores(score, s)
    shape = [1] * w.ndim
    shape[axis] = w.shape[axis]
    return np.broadcast_to(keep.reshape(shape), w.shape).copy()


def block_mask(w: np.ndarray, s: float, block: tuple[int, int] = (4, 4)) -> np.ndarray:
    """Block pruning of a 2-D matrix: whole ``block`` tiles by their L1 norm.

    Narang et al., "Block-Sparse Recurrent Neural Networks", 2017, and Mao et
    al., "Exploring the Granularity of Sparsity in CNNs", CVPRW 2017: the tile
    norm ``sum |w|`` ranks tiles. Edge tiles may be partial. Exactly
    ``round(s * n_tiles)`` tiles are removed.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"block pruning needs a 2-D matrix, not shape {w.shape}")
    bh, bw = (int(b) for b in block)
    if bh < 1 or bw < 1:
        raise ValueError(f"block sizes must be >= 1, not {block!r}")
    rows, cols = w.shape
    nbr, nbc = -(-rows // bh), -(-cols // bw)
    padded = np.zeros((nbr * bh, nbc * bw))
    padded[:rows, :cols] = np.abs(w)
    score = padded.reshape(nbr, bh, nbc, bw).sum(axis=(1, 3))
    keep = _mask_from_scores(score, s)
    full = np.repeat(np.repeat(keep, bh, axis=0), bw, axis=1)
    return full[:rows, :cols].copy()


def nm_mask(w: np.ndarray, n: int = 2, m: int = 4, axis: int = -1) -> np.ndarray:
    """N:M fine-grained structured sparsity: keep the ``n`` largest ``|w|`` of every ``m``.

    Groups are ``m`` consecutive weights along ``axis`` (the input/reduction
    axis by default), as in Mishra et al., "Accelerating Sparse Deep Neural
    Networks", 2021 (2:4 on Ampere) and Zhou et al., "Learning N:M
    Fine-grained Structured Sparse Neural Networks", ICLR 2021. Within a group,
    ties keep the lower index. ``w.shape[axis]`` must be a multiple of ``m``.
    """
    w = np.asarray(w, dtype=np.float64)
    if not (isinstance(n, int) and isinstance(m, int)) or not 0 <= n <= m or m < 1:
        raise ValueError(f"need integers 0 <= n <= m, m >= 1, not n={n!r}, m={m!r}")
    axis = axis % w.ndim
    if w.shape[axis] % m:
        raise ValueError(f"axis {axis} of length {w.shape[axis]} is not a multiple of m={m}")
    moved = np.moveaxis(np.abs(w), axis, -1)
    groups = moved.reshape(-1, m)
    # Stable sort on -|w| keeps lower indices first among ties.
    order = np.argsort(-groups, axis=1, kind="stable")
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, order[:, :n], True, axis=1)
    return np.moveaxis(keep.reshape(moved.shape), -1, axis).copy()


def obd_saliency(w: np.ndarray, hessian_diag: np.ndarray) -> np.ndarray:
    """Optimal Brain Damage saliency ``s_i = h_ii * w_i**2 / 2``.

    LeCun, Denker & Solla, "Optimal Brain Damage", NIPS 1990, equation (7):
    the second-order estimate of the loss increase when ``w_i`` is set to zero
    at a local minimum with a diagonal Hessian.
    """
    w = np.asarray(w, dtype=np.float64)
    h = np.asarray(hessian_diag, dtype=np.float64)
    if w.shape != h.shape:
        raise ValueError(f"Hessian diagonal shape {h.shape} != weight shape {w.shape}")
    return h * w * w / 2.0


def obd_mask(w: np.ndarray, hessian_diag: np.ndarray, s: float) -> np.ndarray:
    """Prune the ``round(s * n)`` weights of lowest OBD saliency (LeCun et al. 1990, step 5)."""
    return _mask_from_scores(obd_saliency(w, hessian_diag), s)
