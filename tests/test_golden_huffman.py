import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from golden import huffman as H

freq_lists = st.lists(st.integers(0, 1000), min_size=1, max_size=40)


def brute_force_cost(freqs, max_len):
    """Minimum sum(f * l) over all length vectors with Kraft <= 1 and 1 <= l <= max_len."""
    used = [f for f in freqs if f > 0]
    best = None
    for ls in itertools.product(range(1, max_len + 1), repeat=len(used)):
        if sum(1 << (max_len - v) for v in ls) <= 1 << max_len:
            c = sum(f * v for f, v in zip(used, ls))
            best = c if best is None else min(best, c)
    return best


@given(st.lists(st.integers(1, 50), min_size=2, max_size=5), st.integers(1, 5))
def test_optimal_against_brute_force(freqs, max_len):
    if 2**max_len < len(freqs):
        with pytest.raises(ValueError):
            H.code_lengths(np.array(freqs), max_len)
        return
    lengths = H.code_lengths(np.array(freqs), max_len)
    assert lengths.max() <= max_len
    assert int(np.dot(freqs, lengths)) == brute_force_cost(freqs, max_len)


@given(st.lists(st.integers(1, 50), min_size=2, max_size=6))
def test_unlimited_optimal_against_brute_force(freqs):
    freqs = freqs[:5]
    lengths = H.code_lengths(np.array(freqs))
    assert int(np.dot(freqs, lengths)) == brute_force_cost(freqs, len(freqs) - 1)


@given(freq_lists, st.one_of(st.none(), st.integers(6, 16)))
def test_kraft(freqs, max_len):
    f = np.array(freqs)
    lengths = H.code_lengths(f, max_len)
    used = np.count_nonzero(f)
    assert np.array_equal(lengths > 0, f > 0)
    ks = H.kraft_sum(lengths)
    if used >= 2:
        assert ks == 1          # a Huffman / package-merge code is full
    elif used == 1:
        assert ks == Fraction(1, 2)
    if max_len:
        assert lengths.max(initial=0) <= max_len


@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=300), st.integers(9, 16))
def test_limit_costs_no_less_than_unlimited(freqs, max_len):
    f = np.array(freqs)
    free = H.code_lengths(f)
    lim = H.code_lengths(f, max_len)
    assert lim.max() <= max_len
    assert H.kraft_sum(lim) <= 1
    assert np.dot(f, lim) >= np.dot(f, free)
    if free.max() <= max_len:
        assert np.dot(f, lim) == np.dot(f, free)


def test_canonical_codes_are_prefix_free_and_ordered():
    lengths = np.array([3, 3, 3, 3, 3, 2, 4, 4])      # RFC 1951's example
    codes = H.canonical_codes(lengths)
    assert codes.tolist() == [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111]


@given(st.lists(st.integers(0, 30), min_size=1, max_size=2000), st.integers(0, 2**31),
       st.one_of(st.none(), st.integers(5, 16)))
def test_round_trip(symbols, seed, max_len):
    s = np.array(symbols)
    f = np.bincount(s, minlength=31)
    if max_len is not None and 2**max_len < np.count_nonzero(f):
        return
    lengths = H.code_lengths(f, max_len)
    data, nbits = H.encode(s, lengths)
    assert nbits == H.encoded_bits(s, lengths) == int(np.dot(f, lengths))
    assert data.size == -(-nbits // 8)
    assert np.array_equal(H.decode(data, nbits, lengths, s.size), s)


def test_round_trip_max_length_16():
    f = np.array([2**i for i in range(17)])              # Fibonacci-like skew: long codes
    lengths = H.code_lengths(f, 16)
    assert lengths.max() == 16
    rng = np.random.default_rng(3)
    s = rng.integers(0, 17, 5000)
    data, nbits = H.encode(s, lengths)
    assert np.array_equal(H.decode(data, nbits, lengths, s.size), s)


def test_single_symbol():
    lengths = H.code_lengths(np.array([0, 7, 0]))
    assert lengths.tolist() == [0, 1, 0]
    data, nbits = H.encode(np.ones(9, dtype=int), lengths)
    assert nbits == 9
    assert H.decode(data, nbits, lengths, 9).tolist() == [1] * 9
    with pytest.raises(H.HuffmanError, match="invalid code"):
        H.decode(np.array([0x80], dtype=np.uint8), 8, lengths, 2)


def test_decode_errors():
    lengths = np.array([1, 2, 2])
    data, nbits = H.encode(np.array([0, 1, 2, 1]), lengths)
    with pytest.raises(H.HuffmanError, match="ends"):
        H.decode(data, nbits, lengths, 5)
    with pytest.raises(H.HuffmanError, match="past the end"):
        H.decode(data, nbits - 1, lengths, 4)
    with pytest.raises(H.HuffmanError, match="over-subscribed"):
        H.decode(data, nbits, np.array([1, 1, 1]), 4)
    with pytest.raises(H.HuffmanError):
        H.encode(np.array([3]), lengths)
    with pytest.raises(H.HuffmanError, match="no code"):
        H.encode(np.array([1]), np.array([1, 0]))
