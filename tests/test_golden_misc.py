"""Low rank, Winograd, distillation and storage accounting."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from golden import accounting as A
from golden import distill as D
from golden import lowrank as L
from golden import winograd as W

small = st.floats(-10, 10, allow_nan=False)


@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=small),
       st.integers(0, 12))
def test_svd_error_is_dropped_singular_values(w, r):
    r = min(r, min(w.shape))
    a, b = L.svd_truncate(w, rank=r)
    assert a.shape == (w.shape[0], r) and b.shape == (r, w.shape[1])
    s = np.linalg.svd(w, compute_uv=False)
    assert np.linalg.norm(w - a @ b) == pytest.approx(np.sqrt(np.sum(s[r:] ** 2)), abs=1e-8)


def test_svd_energy_rank():
    w = np.diag([3.0, 2.0, 1.0])
    a, b = L.svd_truncate(w, energy=13 / 14)
    assert a.shape[1] == 2
    a, b = L.svd_truncate(w, energy=1.0)
    assert np.allclose(a @ b, w)


@given(st.integers(0, 1000), st.integers(1, 6), st.integers(1, 5))
def test_tucker2(seed, ro, ri):
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(6, 5, 3, 3))
    ro, ri = min(ro, 6), min(ri, 5)
    c, uo, ui = L.tucker2(k, ro, ri)
    assert c.shape == (ro, ri, 3, 3)
    err = np.linalg.norm(k - L.tucker2_reconstruct(c, uo, ui))
    s1 = np.linalg.svd(k.reshape(6, -1), compute_uv=False)
    s2 = np.linalg.svd(np.moveaxis(k, 1, 0).reshape(5, -1), compute_uv=False)
    bound = np.sqrt(np.sum(s1[ro:] ** 2) + np.sum(s2[ri:] ** 2))  # HOSVD bound
    assert err <= bound + 1e-9
    c2, uo2, ui2 = L.tucker2(k, ro, ri, iters=5)
    assert np.linalg.norm(k - L.tucker2_reconstruct(c2, uo2, ui2)) <= err + 1e-9
    cf, uof, uif = L.tucker2(k, 6, 5)
    assert np.allclose(L.tucker2_reconstruct(cf, uof, uif), k)


@given(arrays(np.int64, (4,), elements=st.integers(-128, 127)),
       arrays(np.int64, (3,), elements=st.integers(-128, 127)))
def test_winograd_1d(d, g):
    direct = np.array([d[0:3] @ g, d[1:4] @ g])
    assert np.allclose(W.winograd_f23(d, g), direct)


@given(arrays(np.int64, (4, 4), elements=st.integers(-128, 127)),
       arrays(np.int64, (3, 3), elements=st.integers(-128, 127)))
def test_winograd_2d_exact(d, g):
    direct = W.conv2d_direct(d, g)
    assert np.allclose(W.winograd_f2x2_3x3(d, g), direct)
    assert np.array_equal(W.winograd_f2x2_3x3_int(d, W.kernel_transform_int(g)), direct)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 1000))
def test_winograd_tiled_conv(th, tw, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(2 * th + 2, 2 * tw + 2))
    g = rng.integers(-128, 128, size=(3, 3))
    assert np.array_equal(W.conv2d_winograd(x, g), W.conv2d_direct(x, g))


def test_winograd_extremes():
    d = np.full((4, 4), -128)
    g = np.full((3, 3), -128)
    assert np.array_equal(W.winograd_f2x2_3x3_int(d, W.kernel_transform_int(g)),
                          np.full((2, 2), 9 * 128 * 128))


@given(st.integers(0, 1000), st.floats(0.5, 10), st.floats(0, 1))
def test_distillation_gradient(seed, t, lam):
    rng = np.random.default_rng(seed)
    s, te = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    y = rng.integers(0, 5, 3)
    g = D.distillation_grad(s, te, y, t, lam)
    eps = 1e-6
    num = np.zeros_like(s)
    for i in np.ndindex(s.shape):
        sp, sm = s.copy(), s.copy()
        sp[i] += eps
        sm[i] -= eps
        lp = D.distillation_loss(sp, te, y, t, lam)
        lm = D.distillation_loss(sm, te, y, t, lam)
        num[i] = (lp - lm) / (2 * eps)
    assert np.allclose(g, num, atol=1e-6)


def test_softmax_temperature():
    z = np.array([[1.0, 2.0, 3.0]])
    assert np.allclose(D.softmax(z, 1e6), 1 / 3, atol=1e-5)
    assert D.softmax(z, 0.01)[0, 2] == pytest.approx(1.0)


def test_attention_transfer():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 4, 3, 3))
    assert D.attention_transfer_loss([a], [a]) == 0
    q = D.attention_map(a)
    assert np.allclose(np.linalg.norm(q, axis=1), 1)
    assert np.allclose(q[0], (a[0] ** 2).sum(0).ravel() / np.linalg.norm((a[0] ** 2).sum(0)))
    assert D.attention_transfer_loss([a], [a * 2 + 1], beta=2) > 0


def test_sharing_ratio_paper_example():
    # Deep Compression Fig. 3: 16 weights, 4 clusters, 32-bit -> 16*32 / (16*2 + 4*32) = 3.2
    assert A.sharing_ratio(16, 32, 4) == pytest.approx(3.2)


def test_account_layer_by_hand():
    codes = np.zeros((4, 3), dtype=int)  # column-major flat: col0 rows0-3, col1, col2
    codes[0, 0] = 1
    codes[3, 2] = 2  # flat index 11: gap 10 = 2 pads (4 positions each) + gap 2
    acc = A.account_layer("t", codes, k=4, index_bits=2, n_biases=4)
    assert acc.kept == 2 and acc.weights == 12
    assert acc.entries == 4              # [gap0,v1] [pad 3] [pad 3] [gap 2, v2]
    assert acc.weight_bits_pq == 2 and acc.index_bits_pq == 2
    ptr = 4 * 3                          # 4 pointers of ceil(log2(5)) = 3 bits
    assert acc.pointer_bits == ptr
    assert acc.total_bits_pq == 4 * (2 + 2) + 4 * 32 + ptr + 4 * 32
    # Huffman: weight symbols {1, 0, 0, 2} -> lengths 1, 2, 2 -> 6 bits;
    # gap symbols {0, 3, 3, 2} -> lengths 2, 1, 2 -> 6 bits.
    assert acc.weight_bits_pqh == 6 / 4 and acc.index_bits_pqh == 6 / 4
    assert acc.total_bits_pqh == 6 + 6 + 5 * (4 + 4) + 4 * 32 + ptr + 4 * 32
    assert acc.dense_bits == 32 * 16
