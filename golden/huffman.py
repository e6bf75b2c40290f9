"""Canonical, optionally length-limited Huffman coding of integer symbols.

Deep Compression (Han et al., ICLR 2016, section 4) Huffman-codes the
quantized weight indices and the sparse relative indices. This module is the
reference for the stored streams and for the hardware decoder:

* Code lengths come from the frequencies: Huffman's algorithm (Huffman 1952)
  when unlimited, or the package-merge algorithm (Larmore & Hirschberg, "A
  fast algorithm for optimal length-limited Huffman codes", JACM 1990) when a
  maximum code length is given; both are optimal for their constraint.
* The code itself is *canonical* (as in DEFLATE, RFC 1951 section 3.2.2):
  codes are assigned in order of (length, symbol), so the table is stored as
  code lengths only.
* Bit streams are packed most-significant bit first: bit ``i`` of the stream
  is bit ``7 - i % 8`` of byte ``i // 8``. A ``W``-bit hardware word holds
  stream bits ``[jW, (j+1)W)`` with the first one in its MSB.

* An *interleaved* stream (``encode_interleaved``) deals the symbols
  round-robin into ``WAYS`` substreams, each packed on its own into ``W``-bit
  words, and merges the words in the order a decoder that alternates between
  the substreams asks for them: before each symbol of substream ``s`` (and once
  per substream before the first symbol), if fewer than ``REFILL_BELOW`` bits
  of ``s`` are buffered and ``s`` has words left, the next word is ``s``'s.
  The order depends only on the code lengths, so one input stream feeds all
  substreams; a decoder then has ``WAYS`` cycles per symbol of each substream
  while producing one symbol per cycle in all, and at least 16 bits of the
  current substream are always buffered before its next code.

Symbols with frequency zero get length 0 (no code). A single used symbol gets
a 1-bit code (``0``); its Kraft sum is 1/2 and the pattern ``1`` is invalid.
"""

from __future__ import annotations

import heapq
import itertools
from fractions import Fraction

import numpy as np

__all__ = [
    "HuffmanError",
    "MAX_DECODE_LEN",
    "code_lengths",
    "canonical_codes",
    "kraft_sum",
    "check_lengths",
    "encode",
    "decode",
    "encoded_bits",
    "to_words",
    "WAYS",
    "REFILL_BELOW",
    "interleave_order",
    "encode_interleaved",
    "decode_interleaved",
    "window_table",
]

#: Longest code the golden decoder's window handles (hardware limits to 16).
MAX_DECODE_LEN = 24

#: Substreams of an interleaved stream.
WAYS = 2
#: A substream takes the next word before a symbol when it holds fewer bits than this.
REFILL_BELOW = 32


class HuffmanError(ValueError):
    """A code table or a coded stream is malformed."""


def _depths(root, n: int) -> np.ndarray:
    """Leaf depths of a tree made of nested 2-tuples with int leaves."""
    lengths = np.zeros(n, dtype=np.int64)
    stack = [(root, 0)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, tuple):
            stack.append((node[0], d + 1))
            stack.append((node[1], d + 1))
        else:
            lengths[node] = d
    return lengths


def _huffman(freqs: list[tuple[int, int]], n: int) -> np.ndarray:
    heap = [(f, i, s) for i, (f, s) in enumerate(freqs)]
    heapq.heapify(heap)
    counter = len(heap)
    while len(heap) > 1:
        f1, _, a = heapq.heappop(heap)
        f2, _, b = heapq.heappop(heap)
        heapq.heappush(heap, (f1 + f2, counter, (a, b)))
        counter += 1
    return _depths(heap[0][2], n)


def _package_merge(freqs: list[tuple[int, int]], n: int, limit: int) -> np.ndarray:
    leaves = sorted(freqs)  # (weight, symbol): deterministic order
    current = list(leaves)
    for _ in range(limit - 1):
        packages = [(current[j][0] + current[j + 1][0], (current[j][1], current[j + 1][1]))
                    for j in range(0, len(current) - 1, 2)]
        # Stable sort: at equal weight leaves stay ahead of packages.
        current = sorted(leaves + packages, key=lambda t: t[0])
    lengths = np.zeros(n, dtype=np.int64)
    stack = [node for _, node in current[: 2 * len(leaves) - 2]]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
        else:
            lengths[node] += 1
    return lengths


def code_lengths(freqs, max_len: int | None = None) -> np.ndarray:
    """Optimal code lengths for symbol frequencies, optionally limited to ``max_len``.

    ``freqs[s]`` is the count (non-negative integer) of symbol ``s``. Returns
    an ``int64`` array of the same length; 0 for unused symbols. The result
    minimises ``sum(freqs * lengths)`` subject to the Kraft inequality and,
    if given, ``lengths <= max_len``. Raises ``ValueError`` if ``max_len`` is
    too small for the number of used symbols (``2**max_len < used``).
    """
    f = np.asarray(freqs)
    if f.ndim != 1 or (f.size and (np.any(f < 0) or not np.issubdtype(f.dtype, np.integer))):
        raise ValueError("freqs must be a 1-D array of non-negative integers")
    n = f.size
    used = [(int(f[s]), s) for s in range(n) if f[s] > 0]
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError(f"max_len must be a positive integer, not {max_len!r}")
    lengths = np.zeros(n, dtype=np.int64)
    if len(used) == 0:
        return lengths
    if len(used) == 1:
        lengths[used[0][1]] = 1
        return lengths
    if max_len is not None and 2**max_len < len(used):
        raise ValueError(f"{len(used)} symbols cannot be coded in at most {max_len} bits")
    out = _huffman(used, n)
    if max_len is not None and out.max() > max_len:
        out = _package_merge(used, n, int(max_len))
    return out


def kraft_sum(lengths) -> Fraction:
    """Exact Kraft sum ``sum 2^-l`` over the used symbols (``l > 0``)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    used = lengths[lengths > 0]
    if used.size == 0:
        return Fraction(0)
    top = int(used.max())
    return Fraction(int(np.sum(np.left_shift(1, top - used, dtype=object))), 2**top)


def check_lengths(lengths, max_len: int = 32) -> np.ndarray:
    """Validate a code-length table: integers in ``[0, max_len]``, Kraft sum at most 1.

    Raises ``HuffmanError`` naming the problem. An incomplete code (Kraft sum
    below 1) is legal: its unused patterns are decoding errors.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and not np.issubdtype(lengths.dtype, np.integer)):
        raise HuffmanError("code lengths must be a 1-D integer array")
    lengths = lengths.astype(np.int64)
    if lengths.size and (lengths.min() < 0 or lengths.max() > max_len):
        raise HuffmanError(f"code lengths must be in [0, {max_len}]")
    if kraft_sum(lengths) > 1:
        raise HuffmanError("code lengths are over-subscribed (Kraft sum above 1)")
    return lengths


def canonical_codes(lengths) -> np.ndarray:
    """Canonical codes for a length table (RFC 1951 section 3.2.2), as ``int64``.

    Codes of equal length are consecutive in symbol order; a shorter code's
    numeric prefix precedes all longer ones. Unused symbols get code 0.
    """
    lengths = check_lengths(lengths)
    codes = np.zeros(lengths.size, dtype=np.int64)
    if lengths.size == 0 or lengths.max() == 0:
        return codes
    maxl = int(lengths.max())
    bl_count = np.bincount(lengths, minlength=maxl + 1)
    bl_count[0] = 0
    next_code = [0] * (maxl + 2)
    code = 0
    for bits in range(1, maxl + 1):
        code = (code + int(bl_count[bits - 1])) << 1
        next_code[bits] = code
    for s in np.argsort(lengths, kind="stable"):  # (length, symbol) order
        ln = int(lengths[s])
        if ln:
            codes[s] = next_code[ln]
            next_code[ln] += 1
    return codes


def encoded_bits(symbols, lengths) -> int:
    """Number of bits ``encode`` produces for ``symbols``."""
    s = np.asarray(symbols, dtype=np.int64)
    return int(np.asarray(lengths, dtype=np.int64)[s].sum()) if s.size else 0


def encode(symbols, lengths) -> tuple[np.ndarray, int]:
    """Pack ``symbols`` with the canonical code of ``lengths``.

    Returns ``(data, nbits)``: ``data`` is a ``uint8`` array of
    ``ceil(nbits / 8)`` bytes, MSB first, zero padded. Raises ``HuffmanError``
    for a symbol outside the table or without a code.
    """
    lengths = check_lengths(lengths)
    codes = canonical_codes(lengths)
    s = np.asarray(symbols, dtype=np.int64).ravel()
    if s.size == 0:
        return np.zeros(0, dtype=np.uint8), 0
    if s.min() < 0 or s.max() >= lengths.size:
        raise HuffmanError("symbol outside the code table")
    ln = lengths[s]
    if np.any(ln == 0):
        raise HuffmanError(f"symbol {int(s[np.argmax(ln == 0)])} has no code")
    c = codes[s]
    maxl = int(ln.max())
    j = np.arange(maxl)
    # Left-align each code in a maxl-bit field, then keep its first ln bits.
    shift = (maxl - 1 - j)[None, :]
    bits = ((c << (maxl - ln))[:, None] >> shift) & 1
    bits = bits[j[None, :] < ln[:, None]].astype(np.uint8)
    return np.packbits(bits), int(bits.size)


def window_table(lengths: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``(m, sym_t, len_t)``: the symbol and code length for every ``m``-bit window
    (``m`` the longest code); length 0 marks a window that starts no code."""
    if lengths.max(initial=0) == 0:
        raise HuffmanError("empty code table")
    codes = canonical_codes(lengths)
    m = int(lengths.max())
    sym_t = np.zeros(1 << m, dtype=np.int64)
    len_t = np.zeros(1 << m, dtype=np.uint8)
    for s in np.nonzero(lengths)[0]:
        ln = int(lengths[s])
        lo = int(codes[s]) << (m - ln)
        hi = lo + (1 << (m - ln))
        sym_t[lo:hi] = s
        len_t[lo:hi] = ln
    return m, sym_t, len_t


def decode(data, nbits: int, lengths, count: int) -> np.ndarray:
    """Decode ``count`` symbols from the first ``nbits`` bits of ``data``.

    Bits after the last symbol (up to ``nbits``) are ignored, as a stream
    padded to a word is. Raises ``HuffmanError`` on a bit pattern that is no
    code, on a code running past ``nbits``, or if fewer than ``count``
    symbols are present.
    """
    lengths = check_lengths(lengths, MAX_DECODE_LEN)
    data = np.asarray(data, dtype=np.uint8).ravel()
    if count < 0 or nbits < 0 or nbits > 8 * data.size:
        raise HuffmanError(f"bad sizes: count={count}, nbits={nbits}, bytes={data.size}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    m, sym_t, len_t = window_table(lengths)
    # The m-bit window starting at every bit position, built per byte and bit offset.
    d = np.concatenate([data, np.zeros(4, dtype=np.uint8)]).astype(np.uint32)
    nb = data.size
    w32 = (d[:nb] << 24) | (d[1:nb + 1] << 16) | (d[2:nb + 2] << 8) | d[3:nb + 3]
    mask = np.uint32((1 << m) - 1)
    win = np.empty((nb, 8), dtype=np.uint32)
    for o in range(8):
        win[:, o] = (w32 >> np.uint32(32 - m - o)) & mask
    win = win.ravel()[:nbits]
    # Invalid patterns jump far past the end, so the chase below needs no branch;
    # the checks after it say what went wrong.
    lens = len_t[win].astype(np.int64)
    lens[lens == 0] = nbits + 1
    step = lens.tolist()
    starts: list[int] = []
    append = starts.append
    pos = 0
    try:
        for _ in itertools.repeat(None, count):
            append(pos)
            pos += step[pos]
    except IndexError:
        pass
    st = np.asarray(starts, dtype=np.int64)
    st = st[st < nbits]                      # a start at or past the end is no symbol
    bad = np.flatnonzero(lens[st] > nbits)
    if bad.size:
        raise HuffmanError(f"invalid code at bit {int(st[bad[0]])} (symbol {int(bad[0])})")
    if st.size < count:
        raise HuffmanError(f"stream ends after {st.size} of {count} symbols")
    end = int(st[-1] + lens[st[-1]])
    if end > nbits:
        raise HuffmanError(f"last code runs past the end of the stream ({end} > {nbits} bits)")
    return sym_t[win[st]]


def to_words(data, nbits: int, width: int) -> list[int]:
    """The stream as ``width``-bit words for the hardware decoder: stream bit ``i`` is
    bit ``width - 1 - i % width`` of word ``i // width`` (MSB first), zero padded."""
    if width % 8:
        raise ValueError("word width must be a multiple of 8")
    nwords = -(-nbits // width)
    raw = np.zeros(nwords * width // 8, dtype=np.uint8)
    d = np.asarray(data, dtype=np.uint8).ravel()[: raw.size]
    raw[: d.size] = d
    per = width // 8
    return [int.from_bytes(raw[k * per:(k + 1) * per].tobytes(), "big") for k in range(nwords)]


def _word_count(nbits, width: int) -> list[int]:
    return [-(-int(nb) // width) for nb in nbits]


def interleave_order(code_lens, nbits, width: int, ways: int = WAYS) -> list[int]:
    """The substream of each word of an interleaved stream, in stream order.

    ``code_lens[n]`` is the code length of symbol ``n`` (symbol ``n`` lives in
    substream ``n % ways``) and ``nbits[s]`` the bit count of substream ``s``.
    One refill step per substream comes first (so each holds a word before its
    first code), then one per symbol, in symbol order; a step of substream
    ``s`` takes a word if ``s`` holds fewer than ``REFILL_BELOW`` bits and has
    words left. Words left over after the last symbol (padding only) follow in
    substream order.
    """
    if width < 16 or width % 8:
        raise ValueError(f"word width must be a multiple of 8 and at least 16, not {width}")
    left = _word_count(nbits, width)
    held = [0] * ways
    order: list[int] = []
    steps = itertools.chain(((s, 0) for s in range(ways)),
                            ((n % ways, int(ln)) for n, ln in enumerate(code_lens)))
    for s, ln in steps:
        if held[s] < REFILL_BELOW and left[s]:
            order.append(s)
            held[s] += width
            left[s] -= 1
        held[s] -= ln
    for s in range(ways):
        order += [s] * left[s]
    return order


def encode_interleaved(symbols, lengths, width: int = 16,
                       ways: int = WAYS) -> tuple[list[int], list[int]]:
    """Pack ``symbols`` as ``ways`` interleaved substreams of ``width``-bit words.

    Returns ``(words, nbits)``: the merged words (``int``, MSB first within a
    substream, each substream zero padded to a word) and each substream's bit
    count. Raises ``HuffmanError`` like ``encode``.
    """
    lengths = check_lengths(lengths)
    s = np.asarray(symbols, dtype=np.int64).ravel()
    subs = [encode(s[k::ways], lengths) for k in range(ways)]
    nbits = [nb for _, nb in subs]
    sub_words = [to_words(d, nb, width) for d, nb in subs]
    nxt = [0] * ways
    words = []
    for k in interleave_order(lengths[s] if s.size else [], nbits, width, ways):
        words.append(sub_words[k][nxt[k]])
        nxt[k] += 1
    return words, nbits


def decode_interleaved(words, nbits, lengths, count: int, width: int = 16,
                       ways: int = WAYS) -> np.ndarray:
    """Decode ``count`` symbols from an interleaved stream (see ``encode_interleaved``).

    Raises ``HuffmanError`` if the word count does not match ``nbits``, on a
    bit pattern that is no code, or on a code running past the end of its
    substream (which is also how a stream holding fewer than ``count`` symbols
    shows). Bits of a substream after its last symbol are padding and ignored.
    """
    lengths = check_lengths(lengths, MAX_DECODE_LEN)
    if len(nbits) != ways or count < 0 or any(int(nb) < 0 for nb in nbits):
        raise HuffmanError(f"bad sizes: count={count}, nbits={list(nbits)}")
    words = [int(w) for w in words]
    left = _word_count(nbits, width)
    if len(words) != sum(left):
        raise HuffmanError(f"stream has {len(words)} words, its bit counts need {sum(left)}")
    if any(not 0 <= w < 1 << width for w in words):
        raise HuffmanError(f"a word does not fit in {width} bits")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    m, sym_t, len_t = window_table(lengths)
    sym_t, len_t = sym_t.tolist(), len_t.tolist()     # Python ints: the loop is scalar
    acc = [0] * ways          # buffered bits of each substream, the oldest in the MSB
    held = [0] * ways
    bits_left = [int(nb) for nb in nbits]
    nxt = 0

    def refill(k):
        nonlocal nxt
        if held[k] < REFILL_BELOW and left[k]:
            acc[k] = (acc[k] << width) | words[nxt]
            held[k] += width
            left[k] -= 1
            nxt += 1

    for k in range(ways):
        refill(k)
    out = np.empty(count, dtype=np.int64)
    for n in range(count):
        k = n % ways
        refill(k)
        h = held[k]
        win = acc[k] >> (h - m) if h >= m else (acc[k] << (m - h)) & ((1 << m) - 1)
        ln = len_t[win]
        if ln == 0:
            raise HuffmanError(f"invalid code in substream {k} (symbol {n})")
        if ln > bits_left[k]:
            raise HuffmanError(f"code runs past the end of substream {k} (symbol {n})")
        out[n] = sym_t[win]
        bits_left[k] -= ln
        held[k] = h - ln
        acc[k] &= (1 << held[k]) - 1
    return out
