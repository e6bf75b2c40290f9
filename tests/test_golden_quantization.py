import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from golden import quantization as Q

floats = st.floats(-100, 100, allow_nan=False, width=32)
vecs = arrays(np.float64, st.integers(1, 64), elements=floats)
mats = arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 16)), elements=floats)
bits = st.integers(2, 16)


@given(vecs, bits, st.booleans())
def test_uniform_error_within_half_step(x, b, sym):
    qt = Q.uniform_quantize(x, b, symmetric=sym)
    lo, hi = Q.qrange(b, sym)
    assert qt.q.min() >= lo and qt.q.max() <= hi
    err = np.abs(qt.dequantize() - x)
    assert np.all(err <= qt.scale / 2 * (1 + 1e-9) + 1e-12)


@given(vecs, bits)
def test_affine_represents_zero_exactly(x, b):
    scale, zp = Q.uniform_params(x, b, symmetric=False)
    assert zp == int(zp)
    q = Q.quantize(np.zeros(1), scale, zp, b, symmetric=False)
    assert Q.dequantize(q, scale, zp)[0] == 0.0


@given(mats, bits, st.booleans())
def test_per_channel_error_within_half_step(x, b, sym):
    qt = Q.uniform_quantize(x, b, symmetric=sym, axis=0)
    assert qt.scale.shape == (x.shape[0],)
    err = np.abs(qt.dequantize() - x)
    assert np.all(err <= qt.scale[:, None] / 2 * (1 + 1e-9) + 1e-12)


def test_half_even_rounding():
    q = Q.quantize(np.array([0.5, 1.5, 2.5, -0.5, -1.5]), 1.0, 0.0, 8)
    assert q.tolist() == [0, 2, 2, 0, -2]


@given(vecs, bits, st.integers(0, 2**32 - 1))
def test_stochastic_within_one_step_and_seeded(x, b, seed):
    s, z = Q.uniform_params(x, b)
    q1 = Q.quantize(x, s, z, b, rounding="stochastic", seed=seed)
    q2 = Q.quantize(x, s, z, b, rounding="stochastic", seed=seed)
    assert np.array_equal(q1, q2)
    assert np.all(np.abs(Q.dequantize(q1, s, z) - x) < s * (1 + 1e-9))


def test_stochastic_is_unbiased():
    x = np.full(200_000, 0.3)
    q = Q.quantize(x, 1.0, 0.0, 8, rounding="stochastic", seed=1)
    assert abs(q.mean() - 0.3) < 0.01


def test_stochastic_needs_seed():
    with pytest.raises(ValueError):
        Q.quantize(np.ones(2), 1.0, 0.0, 8, rounding="stochastic")


@given(vecs, st.integers(4, 16))
def test_dynamic_fixed_point(x, b):
    q, fl = Q.dynamic_fixed_point(x, b)
    step = 2.0 ** -fl
    err = np.abs(q * step - x)
    sat = (q == 2 ** (b - 1) - 1) | (q == -(2 ** (b - 1)))
    assert np.all(err[~sat] <= step / 2 + 1e-12)
    assert np.all(err[sat] <= step + 1e-12)


def test_kl_calibration_clips_outliers():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 100_000), [50.0]])
    t = Q.kl_calibrate(x)
    assert 2.0 < t < 20.0, t       # ignores the lone outlier at 50
    u = rng.uniform(-1, 1, 100_000)
    assert Q.kl_calibrate(u) > 0.9  # nothing to clip in a uniform distribution


@given(vecs, st.integers(1, 5))
def test_log2(x, b):
    y = Q.log2_quantize(x, b)
    nz = y != 0
    e = np.log2(np.abs(y[nz]))
    assert np.all(e == np.round(e))                      # powers of two
    assert np.all(np.sign(y[nz]) == np.sign(x[nz]))
    fsr = int(np.ceil(np.log2(np.abs(x).max()))) if np.abs(x).max() > 0 else 0
    inside = nz & (np.abs(x) >= 2.0 ** (fsr - 2**b + 1))
    assert len(np.unique(np.abs(y[nz]))) <= 2**b
    assert np.all(np.abs(np.log2(np.abs(y[inside])) - np.log2(np.abs(x[inside]))) <= 0.5 + 1e-9)


@given(mats)
def test_binary_scale_is_least_squares(w):
    b, alpha = Q.binarize(w, axis=0)
    assert set(np.unique(b)) <= {-1, 1}
    for i in range(w.shape[0]):
        err = lambda a, i=i: np.sum((w[i] - a * b[i]) ** 2)  # noqa: E731
        assert err(alpha[i]) <= err(alpha[i] * 1.01) + 1e-9
        assert err(alpha[i]) <= err(alpha[i] * 0.99) + 1e-9


@given(vecs)
def test_twn(w):
    t, alpha, delta = Q.ternarize_twn(w)
    assert delta == pytest.approx(0.7 * np.mean(np.abs(w)))
    assert set(np.unique(t)) <= {-1, 0, 1}
    assert np.array_equal(t != 0, np.abs(w) > delta)
    if (t != 0).any():
        err = lambda a: np.sum((w - a * t) ** 2)  # noqa: E731
        assert err(alpha) <= min(err(alpha * 1.01), err(alpha * 0.99)) + 1e-9


def test_ttq():
    w = np.array([-1.0, -0.5, -0.01, 0.0, 0.02, 0.4, 0.8])
    wp, wn, delta = Q.ttq_init(w, 0.05)
    assert delta == pytest.approx(0.05)
    assert wp == pytest.approx(0.6) and wn == pytest.approx(0.75)
    assert Q.ttq_quantize(w, 2.0, 3.0, delta).tolist() == [-3, -3, 0, 0, 0, 2, 2]
