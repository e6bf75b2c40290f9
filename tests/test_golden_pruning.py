import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from golden import pruning as P

floats = st.floats(-10, 10, allow_nan=False, width=32)
mats = arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=floats)
ratios = st.floats(0, 1)


@given(mats, ratios)
def test_magnitude_exact_sparsity_and_order(w, s):
    m = P.magnitude_mask(w, s)
    assert m.shape == w.shape
    assert (~m).sum() == round(s * w.size)
    if m.any() and (~m).any():
        # every pruned weight is no larger than every kept one
        assert np.abs(w[~m]).max() <= np.abs(w[m]).min()


def test_magnitude_ties_are_deterministic():
    w = np.ones((2, 3))
    m = P.magnitude_mask(w, 0.5)
    assert m.tolist() == [[False, False, False], [True, True, True]]


@given(mats, st.floats(0, 5))
def test_threshold(w, t):
    m = P.threshold_mask(w, t)
    assert np.all(np.abs(w[m]) >= t) and np.all(np.abs(w[~m]) < t)


def test_han_threshold_is_quality_times_std():
    w = np.array([1.0, -1.0, 3.0, -3.0])
    assert P.han_threshold(w, 0.5) == pytest.approx(0.5 * np.std(w))


@given(st.lists(mats, min_size=1, max_size=4), ratios)
def test_global_exact_sparsity(ws, s):
    ms = P.global_magnitude_masks(ws, s)
    total = sum(w.size for w in ws)
    assert sum((~m).sum() for m in ms) == round(s * total)
    kept = np.concatenate([np.abs(w[m]) for w, m in zip(ws, ms)])
    cut = np.concatenate([np.abs(w[~m]) for w, m in zip(ws, ms)])
    if kept.size and cut.size:
        assert cut.max() <= kept.min()


@given(arrays(np.float64, st.tuples(*[st.integers(1, 6)] * 4), elements=floats), ratios,
       st.integers(0, 3), st.sampled_from(["l1", "l2"]))
def test_structured(w, s, axis, norm):
    m = P.structured_mask(w, s, axis=axis, norm=norm)
    other = tuple(a for a in range(4) if a != axis)
    slices = m.all(axis=other)
    assert np.array_equal(slices, m.any(axis=other))  # whole slices only
    assert (~slices).sum() == round(s * w.shape[axis])
    score = (np.abs(w).sum(axis=other) if norm == "l1" else np.sqrt((w * w).sum(axis=other)))
    if slices.any() and (~slices).any():
        assert score[~slices].max() <= score[slices].min()


@given(mats, ratios, st.integers(1, 5), st.integers(1, 5))
def test_block(w, s, bh, bw):
    m = P.block_mask(w, s, (bh, bw))
    nbr, nbc = -(-w.shape[0] // bh), -(-w.shape[1] // bw)
    tiles = [m[i * bh:(i + 1) * bh, j * bw:(j + 1) * bw] for i in range(nbr) for j in range(nbc)]
    assert all(t.all() or not t.any() for t in tiles)
    assert sum(not t.any() for t in tiles) == round(s * nbr * nbc)


@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 6).map(lambda x: 4 * x)),
              elements=floats))
def test_nm_2_4(w):
    m = P.nm_mask(w, 2, 4)
    g = m.reshape(w.shape[0], -1, 4)
    assert np.all(g.sum(axis=2) == 2)
    a = np.abs(w).reshape(g.shape)
    for kept, vals in zip(g.reshape(-1, 4), a.reshape(-1, 4)):
        assert vals[~kept].max() <= vals[kept].min()


def test_nm_rejects_bad_length():
    with pytest.raises(ValueError):
        P.nm_mask(np.ones((2, 6)), 2, 4)


@given(mats, ratios)
def test_obd(w, s):
    h = np.abs(np.cos(np.arange(w.size))).reshape(w.shape) + 0.1
    sal = P.obd_saliency(w, h)
    assert np.allclose(sal, h * w * w / 2)
    m = P.obd_mask(w, h, s)
    assert (~m).sum() == round(s * w.size)
    if m.any() and (~m).any():
        assert sal[~m].max() <= sal[m].min()


def test_bad_sparsity():
    with pytest.raises(ValueError):
        P.magnitude_mask(np.ones(4), 1.5)
