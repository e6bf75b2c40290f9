import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from golden import kmeans as K

vals = arrays(np.float64, st.integers(1, 300), elements=st.floats(-5, 5, allow_nan=False))


@given(vals, st.integers(1, 5), st.sampled_from(["linear", "random", "density"]),
       st.integers(0, 1000))
def test_never_worse_than_init(v, bits, init, seed):
    c0 = K.init_centroids(v, 2**bits, init, seed)
    c, labels = K.kmeans_1d(v, c0)
    assert K.wcss(v, c) <= K.wcss(v, c0) + 1e-9
    assert np.all(np.diff(c) >= 0)
    # labels are nearest-centroid assignments
    assert np.allclose(np.abs(v - c[labels]), np.min(np.abs(v[:, None] - c[None, :]), axis=1))


def test_linear_init_spans_range():
    v = np.array([-2.0, 0.1, 3.0])
    assert K.init_centroids(v, 6, "linear").tolist() == pytest.approx(np.linspace(-2, 3, 6))


def test_density_init_follows_cdf():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0, 0.1, 9000), rng.uniform(-5, 5, 1000)])
    c = K.init_centroids(v, 8, "density")
    assert np.sum(np.abs(c) < 0.3) >= 5  # most centroids where the mass is


def test_share_weights_only_clusters_kept():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(20, 30))
    mask = np.abs(w) > 1.0
    ws = K.share_weights(w, 3, mask)
    assert ws.codebook.size == 8
    rec = ws.reconstruct()
    assert np.all(rec[~mask] == 0)
    assert np.all(np.isin(rec[mask], ws.codebook))
    # centroids are means of kept weights: inside their range, and the pruned
    # zeros did not pull a centroid to 0 (no kept weight has |w| <= 1)
    assert ws.codebook.min() >= w[mask].min() and ws.codebook.max() <= w[mask].max()
    assert np.sum(np.abs(ws.codebook) > 1.0) >= 6


def test_exact_when_k_covers_values():
    v = np.array([1.0, 1.0, 2.0, 5.0])
    c, labels = K.kmeans_1d(v, K.init_centroids(v, 4, "linear"))
    assert np.allclose(c[labels], v)


def test_reserve_zero_codes():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(10, 10))
    mask = np.abs(w) > 0.5
    ws = K.share_weights(w, 4, mask, reserve_zero=True)
    assert ws.codebook.size == 16 and ws.codebook[0] == 0
    assert np.all(ws.indices[~mask] == 0) and np.all(ws.indices[mask] >= 1)
    assert np.array_equal(ws.codebook[ws.indices], ws.reconstruct())
