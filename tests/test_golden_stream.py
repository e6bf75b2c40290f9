"""golden.hwmodel.stream and the stream form (mode 1) of the memory image."""

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.hwmodel.engine import engine_model
from golden.hwmodel.image import (
    DESC_WORDS,
    HEADER_WORDS,
    ImageError,
    memory_image,
    pack_code_lengths,
    read_image,
    weight_memory_bits,
)
from golden.hwmodel.stream import (
    StreamError,
    best_gap_bits,
    column_entries,
    decode_segment,
    encode_layer,
    length_table,
    segment_bits,
    stream_bits_of,
    unpack_length_table,
)
from golden.zcm import ZLayer, ZModel
from tests.test_golden_image import model


def fc(codes, *, code_bits=2, gap_bits=2, act="none", max_code_len=16, seed=0):
    codes = np.asarray(codes)
    rng = np.random.default_rng(seed)
    cb = np.concatenate([[0.0], rng.uniform(-1, 1, (1 << code_bits) - 1)]).astype(np.float32)
    return ZLayer(kind="fc", act=act, out=codes.shape[0], inp=codes.shape[1], storage="shared",
                  code_bits=code_bits, gap_bits=gap_bits, max_code_len=max_code_len,
                  codebook=cb, codes=codes, bias=rng.uniform(-0.5, 0.5, codes.shape[0])
                  .astype(np.float32), act_scale=0.1)


def words(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<u2").astype(np.int64)


def u32(w, at):
    return int(w[at] | w[at + 1] << 16)


def with_crc(w: np.ndarray) -> bytes:
    w = np.asarray(w, dtype=np.int64).copy()
    c = zlib.crc32(w[HEADER_WORDS:].astype("<u2").tobytes())
    w[8:10] = [c & 0xFFFF, c >> 16]
    return w.astype("<u2").tobytes()


def test_stream_form_by_hand():
    """Two PEs, 2-bit codes, 2-bit gaps. PE 0 holds rows 0 and 2, PE 1 row 1.
    Column-local entries: PE 0 column 0 (1, 3) -> symbols (0,1)=1, (0,3)=3;
    PE 0 column 1 (0, 3) -> (1,3)=7; PE 1 column 0 empty; PE 1 column 1 (2) ->
    (0,2)=2. Four symbols once each: every code 2 bits, in symbol order
    1:00 2:01 3:10 7:11."""
    zm = ZModel([fc([[1, 0], [0, 2], [3, 3]])], (2, 1, 1), classes=3, input_scale=0.1)
    # 4-bit symbols leave 1 or 2 gap bits, which code this layer alike: the wider.
    w = words(memory_image(zm, 2, form="stream", sym_bits=4))
    assert w[2] == 5 and w[5] == 1 and w[13] == 4           # version 5, mode 1, 4-bit symbols
    d = w[HEADER_WORDS:HEADER_WORDS + DESC_WORDS]
    assert d[26] == 2 and d[27] == 3                        # gap_bits; lengths up to 4: 3 bits
    lens, table, cols = u32(d, 28), u32(d, 30), u32(d, 16)
    # Code lengths as the .zcm's 5-bit tokens: 0, 2, 2, 2 (symbols 0..3), 18 (a run
    # of 3 unused: 4..6), 2 (7), 23 (a run of 8: 8..15) -> 35 bits, 3 words.
    tokens = [0, 2, 2, 2, 18, 2, 23]
    bits = "".join(f"{t:05b}" for t in tokens).ljust(48, "0")
    assert w[lens:lens + 3].tolist() == [int(bits[k:k + 16], 2) for k in (0, 16, 32)]
    assert table == lens + 3
    # Fields (column j, PE k) in order j * 2 + k: 4, 0, 2, 2 as 3 bits each, MSB first:
    # 100 000 010 010 + 4 zero bits.
    assert w[table] == 0b1000_0001_0010_0000
    assert cols == table + 1
    # PE 0: 00 10 | 11 -> 001011..., PE 1: (empty) | 01 -> 01...
    assert w[cols:cols + 2].tolist() == [0b0010_1100_0000_0000, 0b0100_0000_0000_0000]
    # Biases fit 16 bits, the last layer has no requantization: they follow at once.
    assert u32(d, 20) == cols + 2 and d[2] & 4
    img = read_image(with_crc(w))
    assert np.array_equal(img.layers[0].weights, engine_model(zm).layers[0].weights)


def random_codes(rng, out, inp, density, code_bits):
    return rng.integers(1, 1 << code_bits, (out, inp)) * (rng.random((out, inp)) < density)


@pytest.mark.parametrize("n_pe", [1, 3, 4, 16])
@pytest.mark.parametrize("density", [0.0, 0.03, 0.3, 1.0])
def test_segments_decode_to_each_pe_column(n_pe, density):
    """Every PE's segment of every column decodes to exactly that column's
    non-zero rows and codes, for empty, sparse and full layers and more PEs
    than rows."""
    rng = np.random.default_rng(int(density * 100) + n_pe)
    for gap_bits, code_bits in ((1, 4), (3, 2), (4, 4)):
        codes = random_codes(rng, 13, 11, density, code_bits)
        sl = encode_layer(codes, n_pe, gap_bits=gap_bits, code_bits=code_bits, max_code_len=16)
        assert sl.seg_bits.shape == (n_pe, 11)
        for k in range(n_pe):
            bits = stream_bits_of(sl.streams[k])
            assert len(sl.streams[k]) == -(-int(sl.seg_bits[k].sum()) // 16)
            offsets = np.concatenate([[0], np.cumsum(sl.seg_bits[k])])
            local = codes[k::n_pe]
            for j in range(11):
                got = decode_segment(bits, int(offsets[j]), int(sl.seg_bits[k, j]), sl.lengths,
                                     gap_bits=gap_bits, code_bits=code_bits, rows=len(local))
                rows = np.flatnonzero(local[:, j])
                assert got == [(int(r), int(local[r, j])) for r in rows]
        if density == 0.0:
            assert not sl.seg_bits.any() and sl.len_bits == 1 and not sl.lengths.any()


def fibonacci_column() -> list[int]:
    """A column whose symbols (gap_bits 1, code_bits 4) have Fibonacci
    frequencies: (gap 0, code 1..15) and (gap 1, code 1..3), the i-th of them
    fib[i] times, which want a 17-bit code."""
    fib = [1, 1]
    while len(fib) < 18:
        fib.append(fib[-1] + fib[-2])
    kinds = [(0, c) for c in range(1, 16)] + [(1, c) for c in range(1, 4)]
    seq = np.random.default_rng(7).permutation(np.repeat(np.arange(18), fib))
    return [v for i in seq for v in ([0] * kinds[i][0] + [kinds[i][1]])]


def test_length_limit_and_long_gaps():
    """Fibonacci frequencies over 18 symbols want a 17-bit code, so the 16-bit
    limit is reached; a column whose rows lie far apart needs padding entries,
    which decode to nothing."""
    column = fibonacci_column()
    codes = np.zeros((len(column), 1), np.int64)
    codes[:, 0] = column
    sl = encode_layer(codes, 1, gap_bits=1, code_bits=4, max_code_len=16)
    assert sl.lengths.max() == 16
    bits = stream_bits_of(sl.streams[0])
    got = decode_segment(bits, 0, int(sl.seg_bits[0, 0]), sl.lengths, gap_bits=1,
                         code_bits=4, rows=len(column))
    assert got == [(r, column[r]) for r in np.flatnonzero(column)]
    # Row 39 of an otherwise empty column: 39 zeros are nine padding entries of
    # gap 3 (four positions each) and the entry's own gap of 3.
    far = np.zeros((40, 2), np.int64)
    far[39, 1], far[0, 0] = 9, 1
    fl = encode_layer(far, 1, gap_bits=2, code_bits=4, max_code_len=16)
    assert fl.lengths[3 << 4] > 0 and fl.lengths[3 << 4 | 9] > 0
    assert decode_segment(stream_bits_of(fl.streams[0]), int(fl.seg_bits[0, 0]),
                          int(fl.seg_bits[0, 1]), fl.lengths, gap_bits=2, code_bits=4,
                          rows=40) == [(39, 9)]
    capped = encode_layer(codes, 1, gap_bits=1, code_bits=4, max_code_len=8)
    assert capped.lengths.max() == 8 and capped.stream_bits >= sl.stream_bits


def test_length_table_round_trips():
    rng = np.random.default_rng(1)
    for n_pe, inp, lb in ((1, 1, 1), (3, 7, 5), (16, 9, 16)):
        seg = rng.integers(0, 1 << lb, (n_pe, inp))
        assert np.array_equal(unpack_length_table(length_table(seg, lb), n_pe, inp, lb), seg)


@pytest.mark.parametrize("n_pe", [1, 2, 4])
@pytest.mark.parametrize("binary_as_entries", [False, True])
def test_both_forms_hold_the_same_integers(n_pe, binary_as_entries):
    zm = model(np.random.default_rng(n_pe), binary=binary_as_entries)
    kw = dict(binary_as_entries=binary_as_entries)
    a = read_image(memory_image(zm, n_pe, **kw))
    b = read_image(memory_image(zm, n_pe, form="stream", **kw))
    assert (a.form, b.form) == ("expanded", "stream") and a.storage == b.storage
    for x, y in zip(a.layers, b.layers):
        for f in ("weights", "bias", "multiplier", "shift"):
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None and v is None) or np.array_equal(u, v), f
    assert a.entries == b.entries
    assert sum(b.entries) == sum(int(np.count_nonzero(layer.codes)) for layer in zm.layers
                                 if layer.storage == "shared") + (
        sum(layer.out * layer.inp for layer in zm.layers if layer.storage == "binary"))


def test_wide_biases_and_per_row_constants_stay_wide():
    """A bias beyond 16 bits keeps the layer's biases 32-bit; per-row scales
    (a binary layer's alpha) keep one requantization record per row."""
    zm = model(np.random.default_rng(2), binary=True)
    zm.layers[0].bias = np.array([50.0, 0, -0.1], np.float32)       # 50 / step >> 2^15
    w = words(memory_image(zm, 2, form="stream"))
    flags = [int(w[HEADER_WORDS + DESC_WORDS * i + 2]) for i in range(4)]
    assert not flags[0] & 4 and flags[0] & 8                # wide biases, one record
    assert flags[2] & 4 and not flags[2] & 8                # binary: alpha per row
    img = read_image(w.astype("<u2").tobytes())
    em = engine_model(zm)
    assert np.array_equal(img.layers[0].bias, em.layers[0].bias)
    assert np.array_equal(img.layers[2].multiplier, em.layers[2].multiplier)


def test_weight_memory_bits_count_what_each_form_keeps():
    zm = ZModel([fc([[1, 0], [0, 2], [3, 3]])], (2, 1, 1), classes=3, input_scale=0.1)
    s = weight_memory_bits(read_image(memory_image(zm, 2, form="stream")))
    e = weight_memory_bits(read_image(memory_image(zm, 2)), pointer_bits=16)
    # Stream: two padded stream words, four 3-bit fields and a 16-bit base per
    # PE; expanded: four 16-bit entries and a 16-bit pointer per PE and column.
    assert (s["entry_bits"], s["pointer_bits"], s["nonzero"]) == (32, 12 + 32, 4)
    assert (e["entry_bits"], e["pointer_bits"], e["nonzero"]) == (64, 64, 4)
    assert s["bits_per_nonzero"] == 76 / 4 and e["bits_per_nonzero"] == 128 / 4
    # Fields held 5 bits wide (an engine built for wider lengths).
    wide = weight_memory_bits(read_image(memory_image(zm, 2, form="stream")), len_field=5)
    assert wide["pointer_bits"] == 4 * 5 + 32


def stream_image():
    codes = np.array([[1, 0, 2], [0, 0, 3], [3, 1, 0], [2, 0, 1]])
    return words(memory_image(ZModel([fc(codes, act="relu"), fc(np.ones((2, 4), int))],
                                     (3, 1, 1), classes=2, input_scale=0.1), 2, form="stream"))


def desc(w, i=0):
    return HEADER_WORDS + DESC_WORDS * i


def spliced(w, at, values):
    b = w.copy()
    b[at:at + len(values)] = values
    return with_crc(b)


def changed(w, at, value):
    b = w.copy()
    b[at] = value
    return with_crc(b)


def test_bad_stream_images_are_refused_with_one_line():
    w = stream_image()
    d = desc(w)
    lens, table, cols = u32(w, d + 28), u32(w, d + 30), u32(w, d + 16)
    seg = unpack_length_table(w[table:], 2, 3, int(w[d + 27]))
    nsym = 1 << int(w[d + 26] + w[d + 13])
    cases = [
        (changed(w, 5, 0), "mode 0, not 1"),
        (changed(w, 2, 4), "mode 1, not 0"),
        (changed(w, d + 26, 0), "gap_bits 0"),
        (changed(w, d + 27, 17), "length field of 17"),
        (changed(w, d + 28, 0xFFFF), "code lengths outside"),
        (spliced(w, lens, pack_code_lengths([1, 1, 1] + [0] * (nsym - 3))),
         "over-subscribed"),                                             # three 1-bit codes
        (changed(w, lens, 0xFFFF), "tokens describe more|run past|over-subscribed|padding"),
        (changed(w, d + 30, 0xFFFF), "length table outside"),
        (changed(w, cols + 1, 0xFFFF), "no code|runs past|row|padding"),
        (changed(w, d + 16, 0xFFFF), "stream outside"),
        (changed(w, 13, 0), "0-bit symbols in the stream form"),
        (changed(w, 13, 3), "symbols in 3-bit tables"),
    ]
    # The flag bits of the stream form are refused in an expanded image.
    e = words(memory_image(ZModel([fc(np.ones((2, 2), int))], (2, 1, 1), classes=2,
                                  input_scale=0.1), 1))
    cases.append((changed(e, desc(e) + 2, int(e[desc(e) + 2]) | 4), "flags"))
    cases.append((changed(e, 13, 9), "9-bit symbols in the expanded form"))
    # A segment one bit longer than its codes: the last code runs past, or the
    # extra (zero) bit starts a code that does not end inside the segment.
    longer = seg.copy()
    longer[0, 0] += 1
    b = w.copy()
    b[table:table + len(length_table(longer, int(w[d + 27])))] = length_table(
        longer, int(w[d + 27]))
    cases.append((with_crc(b), "runs past|no code|padding|row"))
    # Non-zero padding bits after a PE's stream, and after the length table.
    nbits = int(seg[0].sum())
    b = w.copy()
    b[cols + nbits // 16] |= 1 << (15 - nbits % 16)
    if nbits % 16:
        cases.append((with_crc(b), "stream padding"))
    b = w.copy()
    b[table + (6 * int(w[d + 27])) // 16] |= 1
    cases.append((with_crc(b), "length table padding"))
    for data, msg in cases:
        with pytest.raises(ImageError, match=msg) as err:
            read_image(data)
        assert "\n" not in str(err.value)


def test_decode_segment_refuses_what_the_encoder_never_writes():
    one = np.zeros(4, np.int64)
    one[1] = 1                                  # one symbol: (0, 1) with code "0"
    with pytest.raises(StreamError, match="no code"):
        decode_segment(np.array([1, 0]), 0, 2, one, gap_bits=1, code_bits=1, rows=4)
    with pytest.raises(StreamError, match="row 2 of a 2-row"):
        decode_segment(np.array([0, 0, 0]), 0, 3, one, gap_bits=1, code_bits=1, rows=2)
    pad = np.array([0, 0, 1, 1])                # symbols 2 (gap 1, code 0) and 3 (1, 1)
    with pytest.raises(StreamError, match="ends with a padding"):
        decode_segment(np.array([0]), 0, 1, pad, gap_bits=1, code_bits=1, rows=4)
    assert decode_segment(np.array([0, 1]), 0, 2, pad, gap_bits=1, code_bits=1,
                          rows=4) == [(3, 1)]
    with pytest.raises(StreamError, match="runs past the stream"):
        decode_segment(np.array([0, 1]), 1, 2, pad, gap_bits=1, code_bits=1, rows=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=st.integers(0, 10_000), value=st.integers(0, 0xFFFF))
def test_mutated_stream_images_are_read_or_refused(at, value):
    """Any word changed (CRC made good again) is read back or refused with an
    ``ImageError``; never another exception."""
    w = stream_image()
    data = changed(w, at % len(w), value)
    try:
        read_image(data)
    except ImageError as e:
        assert "\n" not in str(e)


def test_digits_sized_layer_in_both_forms():
    """A layer shaped like the digits model's second (124 x 489, 2% dense) at 4
    PEs: the stream form keeps far fewer bits per non-zero than the expanded."""
    rng = np.random.default_rng(0)
    zm = ZModel([fc(random_codes(rng, 124, 489, 0.02, 4), code_bits=4, gap_bits=4)],
                (489, 1, 1), classes=124, input_scale=0.1)
    s = weight_memory_bits(read_image(memory_image(zm, 4, form="stream")))
    e = weight_memory_bits(read_image(memory_image(zm, 4)))
    assert s["nonzero"] == e["nonzero"] > 0
    assert s["bits_per_nonzero"] < e["bits_per_nonzero"]


def test_decoder_table_decodes_every_code():
    """Every symbol's canonical code, left-aligned in a 16-bit window with any
    bits after it, resolves to its length and symbol through the table."""
    rng = np.random.default_rng(3)
    from golden import huffman as H
    from golden.hwmodel.stream import decoder_table
    for nsym, limit_len in ((2, 16), (32, 5), (256, 16), (4096, 16)):
        freqs = rng.integers(0, 50, nsym) * (rng.random(nsym) < 0.7)
        freqs[:2] += 1
        lengths = H.code_lengths(freqs, limit_len)
        codes = H.canonical_codes(lengths)
        sym_bits = (nsym - 1).bit_length()
        limit, offset, symbols = decoder_table(lengths, sym_bits)
        assert sorted(symbols) == sorted(np.flatnonzero(lengths).tolist())
        for sym in np.flatnonzero(lengths):
            ln = int(lengths[sym])
            win = int(codes[sym]) << (16 - ln) | int(rng.integers(0, 1 << (16 - ln)))
            hit = [b for b in range(1, 17) if win >> (16 - b) < limit[b]]
            assert hit[0] == ln
            top = win >> (16 - ln)
            assert symbols[(top + offset[ln]) % (1 << sym_bits)] == sym


@pytest.mark.parametrize("density", [0.0, 0.05, 0.5])
def test_segment_bits_agree_with_the_encoder(density):
    rng = np.random.default_rng(int(density * 100))
    codes = random_codes(rng, 50, 17, density, 4)
    for n_pe in (1, 4):
        for gb in (1, 3, 6):
            sl = encode_layer(codes, n_pe, gap_bits=gb, code_bits=4, max_code_len=12)
            lengths, bits, count = segment_bits(codes, n_pe, gb, 4, 12)
            assert np.array_equal(lengths, sl.lengths) and np.array_equal(bits, sl.seg_bits)
            assert count.sum() == sum(s.size for pe in column_entries(codes, n_pe, gb, 4)
                                      for s in pe)
        gb = best_gap_bits(codes, n_pe, 4, 12, sym_bits=9)
        assert 1 <= gb <= 5
        totals = {}
        for g in range(1, 6):
            sl = encode_layer(codes, n_pe, gap_bits=g, code_bits=4, max_code_len=12)
            totals[g] = sl.stream_bits + sl.table_bits
        assert totals[gb] == min(totals.values())
        assert gb == max(g for g, t in totals.items() if t == totals[gb])
