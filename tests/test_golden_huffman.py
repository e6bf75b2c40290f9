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


@given(st.lists(st.integers(0, 30), max_size=300), st.integers(0, 2**32 - 1),
       st.sampled_from([4, 10, 16]), st.sampled_from([16, 32]))
def test_interleaved_round_trip(symbols, seed, max_len, width):
    rng = np.random.default_rng(seed)
    freqs = rng.integers(1, 1000, 31) ** 3
    lengths = H.code_lengths(freqs, max(max_len, 5))
    words, nbits = H.encode_interleaved(symbols, lengths, width)
    # Each substream is the plain stream of every WAYS-th symbol, words in its own order.
    for k in range(H.WAYS):
        data, nb = H.encode(np.asarray(symbols[k::H.WAYS], dtype=np.int64), lengths)
        assert nbits[k] == nb
        order = H.interleave_order(lengths[np.asarray(symbols, dtype=np.int64)], nbits, width)
        assert [w for w, o in zip(words, order) if o == k] == H.to_words(data, nb, width)
    out = H.decode_interleaved(words, nbits, lengths, len(symbols), width)
    assert out.tolist() == list(symbols)


def test_interleave_keeps_a_full_code_buffered():
    """The property the hardware relies on: before each symbol's refill step its
    substream holds at least 16 bits, or has no words left."""
    rng = np.random.default_rng(3)
    lens = rng.integers(1, 17, 5000)
    nbits = [int(lens[k::2].sum()) for k in range(2)]
    for width in (16, 32):
        held, left = [0, 0], [-(-nb // width) for nb in nbits]
        order = iter(H.interleave_order(lens, nbits, width))
        for k in range(2):
            assert next(order) == k
            held[k], left[k] = width, left[k] - 1
        for n, ln in enumerate(lens):
            k = n % 2
            assert held[k] >= 16 or left[k] == 0
            if held[k] < H.REFILL_BELOW and left[k]:
                assert next(order) == k
                held[k], left[k] = held[k] + width, left[k] - 1
            held[k] -= ln
            assert held[k] >= 0
        assert next(order, None) is None


def test_interleaved_decode_errors():
    lengths = np.array([1, 2, 0, 0])          # pattern 11 is no code
    words, nbits = H.encode_interleaved([0, 1, 0, 1, 1], lengths)
    assert H.decode_interleaved(words, nbits, lengths, 5).tolist() == [0, 1, 0, 1, 1]
    with pytest.raises(H.HuffmanError, match="words"):
        H.decode_interleaved(words + [0], nbits, lengths, 5)
    with pytest.raises(H.HuffmanError, match="runs past the end of substream 1"):
        H.decode_interleaved(words, nbits, lengths, 6)
    with pytest.raises(H.HuffmanError, match="runs past the end of substream 0"):
        H.decode_interleaved(words, [nbits[0] - 1, nbits[1]], lengths, 5)
    # Substream 1 holds 10 10; make its second code 11.
    bad = [words[0], words[1] | (1 << 12)]
    with pytest.raises(H.HuffmanError, match="invalid code in substream 1"):
        H.decode_interleaved(bad, nbits, lengths, 5)
    with pytest.raises(H.HuffmanError, match="16 bits"):
        H.decode_interleaved([1 << 16, words[1]], nbits, lengths, 5)
    assert H.decode_interleaved([], [0, 0], lengths, 0).size == 0
