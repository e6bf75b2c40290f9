import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st

from golden import sparse as S


@st.composite
def sparse_ints(draw):
    rows = draw(st.integers(1, 40))
    cols = draw(st.integers(1, 20))
    density = draw(st.floats(0, 1))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 16, size=(rows, cols)) * (rng.random((rows, cols)) < density)
    return w


@given(sparse_ints(), st.integers(1, 5))
def test_relindex_1d_round_trip(w, bits):
    v = w.ravel()
    g, vals = S.relindex_encode_1d(v, bits)
    assert g.size == vals.size and (g.size == 0 or g.max() <= 2**bits - 1)
    assert np.count_nonzero(vals) == np.count_nonzero(v)
    assert np.array_equal(S.relindex_decode_1d(g, vals, v.size), v)


def test_relindex_padding_matches_paper():
    # Deep Compression Fig. 2 style: 3-bit gaps, a gap of 8 needs one filler zero.
    v = np.zeros(15, dtype=int)
    v[[1, 4, 14]] = [3, 5, 7]
    g, vals = S.relindex_encode_1d(v, 3)
    assert g.tolist() == [1, 2, 7, 1]
    assert vals.tolist() == [3, 5, 0, 7]


@given(sparse_ints(), st.integers(1, 8), st.integers(1, 4))
def test_eie_round_trip(w, n_pe, bits):
    m = S.eie_encode(w, n_pe, bits)
    assert len(m.pes) == n_pe
    for k, pe in enumerate(m.pes):
        assert pe.colptr.size == w.shape[1] + 1
        assert np.count_nonzero(pe.values) == np.count_nonzero(w[k::n_pe])
    assert m.entries - m.padding == np.count_nonzero(w)
    assert np.array_equal(S.eie_decode(m), w)


def test_eie_example_from_paper():
    # EIE Fig. 2/3: PE0 holds rows 0 and 4 of an 8-row matrix over 4 PEs.
    w = np.zeros((8, 2), dtype=int)
    w[0, 0], w[4, 0], w[4, 1] = 1, 2, 3
    m = S.eie_encode(w, 4, 4)
    pe0 = m.pes[0]
    assert pe0.values.tolist() == [1, 2, 3]
    assert pe0.gaps.tolist() == [0, 0, 1]
    assert pe0.colptr.tolist() == [0, 2, 3]


@given(sparse_ints())
def test_bitmask_round_trip(w):
    mb, vals = S.bitmask_encode(w)
    assert mb.size == -(-w.size // 8)
    assert np.array_equal(S.bitmask_decode(mb, vals, w.shape), w)


@given(sparse_ints())
def test_csr_round_trip_matches_scipy(w):
    indptr, idx, vals = S.csr_encode(w)
    ref = scipy.sparse.csr_array(w)
    ref.sort_indices()
    assert np.array_equal(indptr, ref.indptr) and np.array_equal(idx, ref.indices)
    assert np.array_equal(S.csr_decode(indptr, idx, vals, w.shape), w)


def test_decoders_reject_bad_input():
    with pytest.raises(ValueError):
        S.relindex_decode_1d(np.array([5]), np.array([1]), 3)
    with pytest.raises(ValueError):
        S.bitmask_decode(np.array([0xFF], dtype=np.uint8), np.array([1]), (8,))
    with pytest.raises(ValueError):
        S.csr_decode([0, 1], [7], [1], (1, 3))
