"""k-means weight sharing (Deep Compression, section 3).

Han, Mao & Dally, "Deep Compression", ICLR 2016, section 3.1: the ``n``
weights of a layer are partitioned into ``k`` clusters ``C`` minimising the
within-cluster sum of squares ``sum_i sum_{w in c_i} |w - c_i|^2`` (eq. 2);
each weight is then stored as a ``log2(k)``-bit index into a shared codebook.
Section 3.2 compares three centroid initialisations, of which linear is the
best and the default here.

In one dimension Lloyd's algorithm is exact and fast: sort the centroids,
assign by the midpoints between neighbours, recompute means. Every Lloyd step
can only lower the objective, so the result is never worse than its
initialisation. A cluster that loses all members keeps its centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["init_centroids", "kmeans_1d", "WeightSharing", "share_weights", "wcss"]


def init_centroids(values: np.ndarray, k: int, method: str = "linear",
                   seed: int = 0) -> np.ndarray:
    """Initial centroids (Deep Compression section 3.2).

    ``linear``: ``k`` points evenly spaced over ``[min, max]``.
    ``random``: ``k`` weights drawn without replacement (Forgy), seeded.
    ``density``: evenly spaced on the y-axis of the empirical CDF, then mapped
    back to weights (quantiles), so dense regions get more centroids.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("cannot initialise centroids from no values")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    if method == "linear":
        c = np.linspace(v.min(), v.max(), k)
    elif method == "random":
        rng = np.random.default_rng(seed)
        c = rng.choice(v, size=k, replace=v.size < k)
    elif method == "density":
        c = np.quantile(v, (np.arange(k) + 0.5) / k)
    else:
        raise ValueError(f"method must be 'linear', 'random' or 'density', not {method!r}")
    return np.sort(c)


def _assign(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Nearest centroid for sorted ``c``; a value on a midpoint goes to the lower one."""
    mids = (c[1:] + c[:-1]) / 2.0
    return np.searchsorted(mids, v, side="left")


def wcss(values: np.ndarray, centroids: np.ndarray) -> float:
    """Within-cluster sum of squares with nearest-centroid assignment (Deep Compression eq. 2)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    c = np.sort(np.asarray(centroids, dtype=np.float64))
    return float(np.sum((v - c[_assign(v, c)]) ** 2))


def kmeans_1d(values: np.ndarray, centroids: np.ndarray, max_iter: int = 100,
              tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's algorithm in 1-D from the given centroids.

    Returns ``(codebook, labels)``: the sorted codebook and, per value, its
    centroid index. Stops when no assignment changes, after ``max_iter``
    steps, or when the objective improves by less than ``tol`` (relative).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    c = np.sort(np.asarray(centroids, dtype=np.float64).copy())
    k = c.size
    labels = _assign(v, c)
    prev = np.inf
    for _ in range(max_iter):
        sums = np.bincount(labels, weights=v, minlength=k)
        counts = np.bincount(labels, minlength=k)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        # Keep order; means of ordered 1-D clusters are ordered, empties may tie.
        c = np.sort(c)
        new = _assign(v, c)
        obj = float(np.sum((v - c[new]) ** 2))
        done = np.array_equal(new, labels) or (prev - obj) <= tol * max(prev, 1e-300)
        labels, prev = new, obj
        if done:
            break
    return c, labels


@dataclass(frozen=True)
class WeightSharing:
    """A weight-shared layer: ``weights = codebook[indices]`` where ``mask``."""

    codebook: np.ndarray   # (k,) float64, sorted
    indices: np.ndarray    # layer-shaped int64, 0 where pruned
    mask: np.ndarray       # layer-shaped bool, True = kept

    def reconstruct(self) -> np.ndarray:
        return np.where(self.mask, self.codebook[self.indices], 0.0)


def share_weights(w: np.ndarray, bits: int, mask: np.ndarray | None = None,
                  init: str = "linear", seed: int = 0, max_iter: int = 100,
                  reserve_zero: bool = False) -> WeightSharing:
    """Cluster the kept weights of one layer into ``2**bits`` shared values.

    Only weights where ``mask`` is ``True`` (all if ``None``) take part, as in
    Deep Compression where pruning precedes quantization. The codebook has
    ``k = 2**bits`` entries (fewer distinct kept values than ``k`` still give
    ``k`` entries, some possibly equal).

    ``reserve_zero=True`` is Zipcore's stored form: entry 0 of the codebook is
    the zero weight (pruned positions and relative-index padding), the kept
    weights share the other ``k - 1`` entries, and ``indices`` are the codes
    (0 where pruned).
    """
    w = np.asarray(w, dtype=np.float64)
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an integer in [1, 16], not {bits!r}")
    mask = np.ones(w.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != w.shape:
        raise ValueError(f"mask shape {mask.shape} != weight shape {w.shape}")
    kept = w[mask]
    k = 2**int(bits)
    shared = k - 1 if reserve_zero else k
    idx = np.zeros(w.shape, dtype=np.int64)
    if kept.size == 0 or shared == 0:
        return WeightSharing(np.zeros(k), idx, mask)
    c0 = init_centroids(kept, shared, init, seed)
    codebook, labels = kmeans_1d(kept, c0, max_iter=max_iter)
    if reserve_zero:
        codebook = np.concatenate([[0.0], codebook])
        labels = labels + 1
    idx[mask] = labels
    return WeightSharing(codebook, idx, mask)
