"""The stream form of a weight-shared layer: Huffman-coded entries a PE decodes
on the fly, restartable at every column.

The ``.zcm`` file runs its relative indices across column ends (Deep
Compression, Fig. 2) and deals a PE's entries into two interleaved
substreams, so a decoder can only start at the beginning. An engine that
skips zero activations (EIE) must start at any column. The stream form
therefore cuts each PE's entries at column boundaries:

* **Column-local entries.** PE ``k``'s share of column ``j`` (its rows
  ``k, k + N, ...``) is coded on its own: entries ``(gap, code)`` with
  ``gap`` the zero rows since the previous entry *of this column* (or since
  its first row), gaps above ``2^gap_bits - 1`` split by padding entries
  ``(2^gap_bits - 1, 0)``, trailing zeros not stored (``column_entries``).
  Each entry is one symbol ``gap << code_bits | code`` of the layer's joint
  alphabet, as in the ``.zcm``.
* **One canonical code per layer.** The code lengths are computed from the
  column-local symbols' frequencies with the ``.zcm``'s length limit
  (``code_lengths``): the column-local first entries have other gaps than
  the ``.zcm``'s run-on ones, so the ``.zcm``'s own lengths may lack a code
  for some of them (the digits model's first two layers do) and would cost
  more bits where they have one.
* **Segments back to back.** A PE's stream is its column segments in column
  order, each the canonical codes of the column's entries MSB first, padded
  once, at the end of the PE's stream, to a whole 16-bit word
  (``pe_stream``).
* **A length table restarts it.** For every column ``j`` and PE ``k`` the
  table holds ``L[k, j]``, the bits of that segment, in a ``len_bits``-bit
  field (``length_table``). The engine's column walker, which examines one
  activation per cycle as EIE's scanner does, adds the lengths up as it
  goes, so each non-zero activation reaches the PEs with every PE's bit
  offset and segment length; a PE decodes exactly ``L[k, j]`` bits from that
  offset. Offsets are never stored.

``decode_segment`` is the model of what a PE's decoder yields from one
restart, and the reference the image reader (``golden.hwmodel.image``) and
the RTL are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import huffman as H
from ..sparse import relindex_encode_1d

__all__ = ["StreamError", "StreamLayer", "column_entries", "code_lengths", "pe_stream",
           "length_table", "unpack_length_table", "decode_segment", "encode_layer",
           "stream_bits_of", "decoder_table", "segment_entries", "segment_bits",
           "best_gap_bits", "WORD_BITS", "MAX_LEN_BITS", "MAX_CODE_LEN", "SYM_BITS"]

#: Width of a stream word: the port width of iCE40 SPRAM and EBR, and of the image.
WORD_BITS = 16
#: Widest length-table field: a column segment of a PE holds at most 65535 bits.
MAX_LEN_BITS = 16
#: Longest code the engine's decoders take (``hw.huffman.HuffmanDecoder``'s limit).
MAX_CODE_LEN = 16
#: The engine's symbol-table width by default: ``gap_bits + code_bits`` of every layer.
SYM_BITS = 9


class StreamError(ValueError):
    """A stream-form layer that cannot be built or decoded; the message is one line."""


@dataclass
class StreamLayer:
    """One weight-shared layer in stream form, for ``n_pe`` PEs."""

    lengths: np.ndarray        # (2^(gap_bits + code_bits),) canonical code lengths
    seg_bits: np.ndarray       # (n_pe, inp) bits of each PE's segment of each column
    streams: list              # per PE, its stream as 16-bit words (list of int)
    len_bits: int              # width of a length-table field
    gap_bits: int
    code_bits: int
    max_code_len: int

    @property
    def stream_bits(self) -> int:
        """Bits the PEs' stream memories hold (each stream padded to a word)."""
        return WORD_BITS * sum(len(s) for s in self.streams)

    @property
    def table_bits(self) -> int:
        """Bits of the length table: one ``len_bits`` field per PE and column."""
        return int(self.seg_bits.size) * self.len_bits


def column_entries(codes: np.ndarray, n_pe: int, gap_bits: int,
                   code_bits: int) -> list[list[np.ndarray]]:
    """Per PE ``k``, per column ``j``: the symbols ``gap << code_bits | code`` of
    the column-local entries of rows ``k, k + n_pe, ...`` (padding included)."""
    codes = np.asarray(codes, dtype=np.int64)
    _, inp = codes.shape
    out = []
    for k in range(n_pe):
        local = codes[k::n_pe, :]
        cols = []
        for j in range(inp):
            gaps, vals = relindex_encode_1d(local[:, j], gap_bits)
            cols.append((gaps.astype(np.int64) << code_bits) | vals.astype(np.int64))
        out.append(cols)
    return out


def code_lengths(symbols: list[list[np.ndarray]], nsym: int, max_len: int) -> np.ndarray:
    """The layer's canonical code lengths (limited to ``max_len``) for the
    column-local symbols of every PE and column."""
    flat = [s for pe in symbols for s in pe if s.size]
    if not flat:
        return np.zeros(nsym, dtype=np.int64)
    return H.code_lengths(np.bincount(np.concatenate(flat), minlength=nsym), max_len)


def pe_stream(segments: list[np.ndarray], lengths: np.ndarray) -> tuple[list[int], np.ndarray]:
    """One PE's stream: its column segments back to back, MSB first, zero padded
    to a whole word. Returns the words and each segment's bits."""
    bits = np.array([H.encoded_bits(s, lengths) for s in segments], dtype=np.int64)
    flat = np.concatenate(segments) if segments else np.zeros(0, np.int64)
    data, nbits = H.encode(flat, lengths)
    assert nbits == int(bits.sum())
    return H.to_words(data, nbits, WORD_BITS), bits


def encode_layer(codes: np.ndarray, n_pe: int, *, gap_bits: int, code_bits: int,
                 max_code_len: int) -> StreamLayer:
    """A weight-shared layer's ``(out, inp)`` codes in stream form for ``n_pe`` PEs.
    Raises ``StreamError`` when a segment is longer than ``MAX_LEN_BITS`` holds."""
    symbols = column_entries(codes, n_pe, gap_bits, code_bits)
    lengths = code_lengths(symbols, 1 << (gap_bits + code_bits), max_code_len)
    streams, seg = [], []
    for segs in symbols:
        words, bits = pe_stream(segs, lengths)
        streams.append(words)
        seg.append(bits)
    seg_bits = np.array(seg, dtype=np.int64).reshape(n_pe, np.asarray(codes).shape[1])
    top = int(seg_bits.max(initial=0))
    if top >= 1 << MAX_LEN_BITS:
        raise StreamError(f"a column segment of {top} bits does not fit a "
                          f"{MAX_LEN_BITS}-bit length field")
    return StreamLayer(lengths, seg_bits, streams, max(1, top.bit_length()), gap_bits,
                       code_bits, max_code_len)


def length_table(seg_bits: np.ndarray, len_bits: int) -> list[int]:
    """The length table as 16-bit words: field ``j * n_pe + k`` holds
    ``seg_bits[k, j]`` in ``len_bits`` bits, fields packed MSB first."""
    fields = np.asarray(seg_bits, dtype=np.int64).T.ravel()
    if fields.size == 0:
        return []
    bits = (fields[:, None] >> np.arange(len_bits - 1, -1, -1)[None, :]) & 1
    return H.to_words(np.packbits(bits.ravel().astype(np.uint8)), int(bits.size), WORD_BITS)


def unpack_length_table(words, n_pe: int, inp: int, len_bits: int) -> np.ndarray:
    """Inverse of ``length_table``: the ``(n_pe, inp)`` segment lengths."""
    n = n_pe * inp
    raw = np.asarray(words, dtype=np.int64)
    bits = ((raw[:, None] >> np.arange(WORD_BITS - 1, -1, -1)[None, :]) & 1).ravel()
    if bits.size < n * len_bits:
        raise StreamError(f"length table of {raw.size} words holds fewer than {n} fields")
    f = bits[:n * len_bits].reshape(n, len_bits)
    vals = (f << np.arange(len_bits - 1, -1, -1)[None, :]).sum(axis=1)
    return vals.reshape(inp, n_pe).T


def stream_bits_of(words) -> np.ndarray:
    """A stream's words as a bit array, MSB first."""
    w = np.asarray(words, dtype=np.int64)
    return ((w[:, None] >> np.arange(WORD_BITS - 1, -1, -1)[None, :]) & 1).ravel()


def decode_segment(bits: np.ndarray, offset: int, nbits: int, lengths: np.ndarray, *,
                   gap_bits: int, code_bits: int, rows: int) -> list[tuple[int, int]]:
    """The ``(local_row, code)`` pairs a PE's decoder yields from one restart: the
    symbols in stream bits ``[offset, offset + nbits)`` (``bits`` from
    ``stream_bits_of``), their gaps turned into rows of a column of ``rows``
    cells, padding entries consumed and dropped. Raises ``StreamError`` on a
    pattern that is no code, a code running past the segment, a row outside
    the column, a padding entry that is not ``(2^gap_bits - 1, 0)`` or ends the
    segment (the encoder writes neither)."""
    if offset < 0 or nbits < 0 or offset + nbits > bits.size:
        raise StreamError(f"segment [{offset}, {offset + nbits}) runs past the stream's "
                          f"{bits.size} bits")
    if nbits == 0:
        return []
    if int(np.max(lengths, initial=0)) == 0:
        raise StreamError("segment in a layer without codes")
    m, sym_t, len_t = H.window_table(np.asarray(lengths, dtype=np.int64))
    seg = np.concatenate([bits[offset:offset + nbits], np.zeros(m, np.int64)])
    weights = 1 << np.arange(m - 1, -1, -1)
    maxgap, cmask = (1 << gap_bits) - 1, (1 << code_bits) - 1
    out, pos, row, pad_last = [], 0, -1, False
    while pos < nbits:
        win = int((seg[pos:pos + m] * weights).sum())
        ln = int(len_t[win])
        if ln == 0:
            raise StreamError(f"no code at bit {offset + pos}")
        if pos + ln > nbits:
            raise StreamError(f"code at bit {offset + pos} runs past its segment")
        s = int(sym_t[win])
        gap, code = s >> code_bits, s & cmask
        row += gap + 1
        if row >= rows:
            raise StreamError(f"entry at bit {offset + pos} lands on row {row} of a "
                              f"{rows}-row column")
        pad_last = code == 0
        if pad_last and gap != maxgap:
            raise StreamError(f"padding entry with gap {gap} at bit {offset + pos}")
        if not pad_last:
            out.append((row, code))
        pos += ln
    if pad_last:
        raise StreamError(f"segment ending at bit {offset + nbits} ends with a padding entry")
    return out


def decoder_table(lengths: np.ndarray, sym_bits: int,
                  max_len: int = MAX_CODE_LEN) -> tuple[list, list, list]:
    """What ``hw.huffman.HuffmanDecoder``'s build pass computes from code
    lengths, for a decoder that compares the top ``l`` bits of its window
    with ``limit[l]`` for ``l = 1..max_len``: ``limit[l]`` ends the codes of
    length ``l`` (first code of that length plus their count); a window's
    code length is the least ``l`` with ``top_l(window) < limit[l]`` (none:
    no code); its symbol is ``symbols[(top_l(window) + offset[l]) mod
    2^sym_bits]``, the symbols sorted in canonical order. Lists are indexed
    by length (entry 0 unused) and by table slot."""
    lengths = np.asarray(lengths, dtype=np.int64)
    limit, offset = [0] * (max_len + 1), [0] * (max_len + 1)
    order = [int(v) for v in np.lexsort((np.arange(lengths.size), lengths)) if lengths[v]]
    code = slot = 0
    for ln in range(1, max_len + 1):
        n = int(np.count_nonzero(lengths == ln))
        code, slot = code + n, slot + n
        limit[ln], offset[ln] = code, (slot - code) % (1 << sym_bits)
        code <<= 1
    return limit, offset, order


def segment_entries(codes: np.ndarray, n_pe: int, gap_bits: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stream form's column-local entries without encoding them: for every
    non-zero weight, its segment (``k * inp + j`` for PE ``k``, column ``j``),
    its gap after padding and its code, in stream order; and each segment's
    padding entries ``(n_pe, inp)``."""
    codes = np.asarray(codes, dtype=np.int64)
    _, inp = codes.shape
    step = 1 << gap_bits
    seg_of, gap_of, code_of = [], [], []
    pads = np.zeros((n_pe, inp), dtype=np.int64)
    for k in range(n_pe):
        local = codes[k::n_pe, :]
        rows, cols = np.nonzero(local.T)[::-1]          # column-major: by column, then row
        if rows.size == 0:
            continue
        start = np.r_[True, cols[1:] != cols[:-1]]
        raw = np.where(start, rows, rows - np.r_[0, rows[:-1]] - 1)
        np.add.at(pads[k], cols, raw // step)
        seg_of.append(k * inp + cols)
        gap_of.append(raw % step)
        code_of.append(local[rows, cols])
    empty = np.zeros(0, np.int64)
    return (np.concatenate(seg_of) if seg_of else empty,
            np.concatenate(gap_of) if gap_of else empty,
            np.concatenate(code_of) if code_of else empty, pads)


def segment_bits(codes: np.ndarray, n_pe: int, gap_bits: int, code_bits: int,
                 max_code_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``encode_layer`` would store, without encoding: the code lengths,
    each segment's bits ``(n_pe, inp)`` and symbols ``(n_pe, inp)``."""
    inp = np.asarray(codes).shape[1]
    nsym = 1 << (gap_bits + code_bits)
    pad_sym = ((1 << gap_bits) - 1) << code_bits
    seg, gap, code, pads = segment_entries(codes, n_pe, gap_bits)
    sym = gap << code_bits | code
    freq = np.bincount(sym, minlength=nsym)
    freq[pad_sym] += int(pads.sum())
    lengths = (H.code_lengths(freq, max_code_len) if freq.any()
               else np.zeros(nsym, dtype=np.int64))
    bits = np.bincount(seg, weights=lengths[sym], minlength=n_pe * inp).astype(np.int64)
    bits = bits.reshape(n_pe, inp) + pads * lengths[pad_sym]
    count = np.bincount(seg, minlength=n_pe * inp).reshape(n_pe, inp) + pads
    return lengths, bits, count


def best_gap_bits(codes: np.ndarray, n_pe: int, code_bits: int, max_code_len: int,
                  sym_bits: int = SYM_BITS) -> int:
    """The stream form's relative-index width for a layer: of ``1 .. sym_bits -
    code_bits`` (at most 8), the one whose streams and length table take the
    fewest bits, the wider on a tie (fewer padding symbols, fewer decode
    cycles). Narrow gaps cost padding entries, wide ones a larger alphabet."""
    best, best_bits = 1, None
    for gb in range(1, min(8, sym_bits - code_bits) + 1):
        _, bits, _ = segment_bits(codes, n_pe, gb, code_bits, max_code_len)
        words = sum(-(-int(b) // WORD_BITS) for b in bits.sum(axis=1))
        total = WORD_BITS * words + bits.size * max(1, int(bits.max(initial=0)).bit_length())
        if best_bits is None or total <= best_bits:
            best, best_bits = gb, total
    return best
