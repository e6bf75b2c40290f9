"""golden.hwmodel.image: the engine's memory image holds exactly the engine model."""

import struct
import zlib

import numpy as np
import pytest

from golden.hwmodel.engine import EngineModel, engine_forward, engine_model
from golden.hwmodel.image import (
    HEADER_WORDS,
    IMAGE_MAGIC,
    ImageError,
    memory_image,
    read_image,
    sign_tables,
)
from golden.zcm import ZLayer, ZModel


def model(rng, binary=False):
    cb = np.array([0, 0.3, -0.2, 0.1], np.float32)
    conv = ZLayer(kind="conv", act="relu", out=3, inp=18, in_shape=(2, 6, 6), kh=3, kw=3,
                  pad=1, storage="shared", code_bits=2, gap_bits=4, codebook=cb,
                  codes=rng.integers(0, 4, (3, 18)) * (rng.random((3, 18)) < 0.5),
                  bias=np.array([0.1, 0, -0.1], np.float32), act_scale=1 / 127)
    pool = ZLayer(kind="maxpool", in_shape=(3, 6, 6), pool=2, act_scale=0.02)
    if binary:
        dense = ZLayer(kind="fc", act="relu", out=5, inp=27, storage="binary",
                       signs=rng.choice([-1, 1], (5, 27)).astype(np.int8),
                       alpha=rng.uniform(0.05, 0.2, 5).astype(np.float16),
                       bias=rng.uniform(-1, 1, 5).astype(np.float32), act_scale=0.5)
    else:
        dense = ZLayer(kind="fc", act="relu", out=5, inp=27, storage="shared", code_bits=2,
                       gap_bits=4, codebook=cb, codes=rng.integers(0, 4, (5, 27)),
                       bias=rng.uniform(-1, 1, 5).astype(np.float32), act_scale=0.5)
    last = ZLayer(kind="fc", out=4, inp=5, storage="shared", code_bits=2, gap_bits=4,
                  codebook=cb, codes=rng.integers(0, 4, (4, 5)), bias=np.zeros(4, np.float32),
                  act_scale=0.05)
    return ZModel([conv, pool, dense, last], (2, 6, 6), classes=4, input_scale=1 / 127)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("n_pe", [1, 2, 4])
def test_image_round_trips_the_engine_model(binary, n_pe):
    rng = np.random.default_rng(n_pe + 10 * binary)
    zm = model(rng, binary)
    em = engine_model(zm)
    img = read_image(memory_image(zm, n_pe))
    assert img.n_pe == n_pe and img.storage == ["shared", "none",
                                                "binary" if binary else "shared", "shared"]
    for a, b in zip(em.layers, img.layers):
        assert a.kind == b.kind and a.relu == b.relu and a.pool == b.pool
        if a.weights is not None:
            assert np.array_equal(a.weights, b.weights)
            assert np.array_equal(a.bias, b.bias)
        if a.multiplier is not None:
            assert np.array_equal(a.multiplier, b.multiplier)
            assert np.array_equal(a.shift, b.shift)
        else:
            assert b.multiplier is None
    # The layers read back compute what the engine model computes.
    back = EngineModel([*img.layers], em.input_scale, em.input_shape, em.classes)
    for a, b in zip(back.layers, em.layers):
        a.in_shape, a.out_shape = b.in_shape, b.out_shape
    x = rng.integers(-128, 128, (3, 72))
    assert np.array_equal(engine_forward(back, x), engine_forward(em, x))


def test_column_counts_and_entries_by_hand():
    # One fc layer, 2 PEs, 2-bit codes: rows 0, 2 -> PE 0 (local 0, 1); row 1 -> PE 1.
    codes = np.array([[1, 0], [0, 2], [3, 3]])
    ly = ZLayer(kind="fc", out=3, inp=2, storage="shared", code_bits=2, gap_bits=4,
                codebook=np.array([0, 1.0, -0.5, 0.25], np.float32), codes=codes,
                bias=np.zeros(3, np.float32), act_scale=0.1)
    w = np.frombuffer(memory_image(ZModel([ly], (2, 1, 1), classes=3, input_scale=0.1), 2),
                      "<u2")
    d = w[HEADER_WORDS:HEADER_WORDS + 32]
    cb_base = int(d[14]) | int(d[15]) << 16
    col_base = int(d[16]) | int(d[17]) << 16
    assert int(d[18]) == int(d[19]) == 0                                   # reserved
    assert w[cb_base:cb_base + 4].tolist() == [0, 127, 0x10000 - 64, 32]   # -63.5 -> -64
    # Per PE, per column: the count, then the entries (local row << code_bits | code).
    # PE 0 (local rows 0, 1 = rows 0, 2): column 0 holds both, column 1 local row 1.
    # PE 1 (row 1): column 0 is empty, column 1 holds local row 0.
    assert w[col_base:col_base + 8].tolist() == [2, 0 << 2 | 1, 1 << 2 | 3, 1, 1 << 2 | 3,
                                                 0, 1, 0 << 2 | 2]
    assert col_base + 8 == int(d[20]) | int(d[21]) << 16                   # biases follow


def corrupt(data: bytes, at: int, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into("<H", b, 2 * at, value)
    return bytes(b)


def recrc(data: bytes) -> bytes:
    b = bytearray(data)
    struct.pack_into("<I", b, 16, zlib.crc32(bytes(b[2 * HEADER_WORDS:])))
    return bytes(b)


def column_of(data: bytes, layer: int, least: int) -> int:
    """The address of the first count of at least ``least`` in a layer's column block."""
    w = np.frombuffer(data, "<u2")
    d = HEADER_WORDS + 32 * layer
    at = int(w[d + 16]) | int(w[d + 17]) << 16
    while w[at] < least:
        at += 1 + int(w[at])
    return at


def test_bad_images_are_refused_with_one_line():
    good = memory_image(model(np.random.default_rng(0)), 2)
    w = np.frombuffer(good, "<u2")
    two = column_of(good, 0, 2)                  # a column with two entries or more
    cases = [
        (recrc(corrupt(good, column_of(good, 0, 0), 0xFFFF)), "columns outside the image"),
        (recrc(corrupt(corrupt(good, two + 1, int(w[two + 2])), two + 2, int(w[two + 1]))),
         "out of row order"),
        (recrc(corrupt(good, two + 2, int(w[two + 1]))), "out of row order"),   # a row twice
        (good[:20], "too short"),
        (good[:-2], "says"),
        (corrupt(good, 0, 0), "bad magic"),
        (corrupt(good, 2, 9), "version 9"),
        (corrupt(good, HEADER_WORDS + 40, 1), "CRC mismatch"),
        (recrc(corrupt(good, HEADER_WORDS, 7)), "unknown kind 7"),
        (recrc(corrupt(good, HEADER_WORDS + 14, 0xFFFF)), "codebook outside the image"),
    ]
    for data, msg in cases:
        with pytest.raises(ImageError, match=msg) as e:
            read_image(data)
        assert "\n" not in str(e.value)
    assert tuple(np.frombuffer(good[:4], "<u2")) == IMAGE_MAGIC


def test_rows_that_do_not_fit_an_entry_are_refused():
    def layer_model(code_bits):
        ly = ZLayer(kind="fc", out=300, inp=2, storage="shared", code_bits=code_bits,
                    gap_bits=4, codebook=np.linspace(0, 1, 1 << code_bits).astype(np.float32),
                    codes=np.ones((300, 2), int), bias=np.zeros(300, np.float32),
                    act_scale=0.1)
        return ZModel([ly], (2, 1, 1), classes=300, input_scale=0.1)

    # A 7-bit code leaves 8 bits of row (bit 15 is the engine's): 256 rows per PE.
    with pytest.raises(ImageError, match="PE 0 holds 300 rows"):
        memory_image(layer_model(7), 1)
    read_image(memory_image(layer_model(7), 2))
    with pytest.raises(ImageError, match="8-bit codes"):
        memory_image(layer_model(8), 2)


def test_a_wider_code_field_holds_the_same_layers():
    zm = model(np.random.default_rng(3))
    narrow, wide = read_image(memory_image(zm, 2)), read_image(memory_image(zm, 2, code_field=6))
    assert (narrow.code_field, wide.code_field) == (2, 6)
    for a, b in zip(narrow.layers, wide.layers):
        assert (a.weights is None and b.weights is None) or np.array_equal(a.weights, b.weights)
    with pytest.raises(ImageError, match="code_field must be"):
        memory_image(zm, 2, code_field=1)


def test_binary_layers_as_entries_hold_the_same_integers():
    zm = model(np.random.default_rng(5), binary=True)
    plain = read_image(memory_image(zm, 2))
    as_entries = read_image(memory_image(zm, 2, binary_as_entries=True))
    assert plain.storage[2] == "binary" and as_entries.storage[2] == "shared"
    assert as_entries.code_bits[2] == 2
    for a, b in zip(plain.layers, as_entries.layers):
        assert (a.weights is None and b.weights is None) or np.array_equal(a.weights, b.weights)


def test_binary_sign_words_by_hand_and_their_checks():
    """Sign words: per PE and group of 15 inputs, one word per row of the PE,
    bit b the sign of input 15 g + b; the reader checks the counts, the group
    count and bit 15."""
    signs = np.where(np.arange(2 * 17).reshape(2, 17) % 3 == 0, 1, -1)
    (pe0,), (pe1,) = ([g[0]] for g in sign_tables(signs, 2))   # group 0 only
    row0 = sum(1 << b for b in range(15) if b % 3 == 0)
    row1 = sum(1 << b for b in range(15) if (17 + b) % 3 == 0)
    assert (pe0, pe1) == ([row0], [row1])
    assert sign_tables(signs, 2)[0][1] == [1 << 0]             # inputs 15, 16 of row 0
    zm = model(np.random.default_rng(5), binary=True)
    image = memory_image(zm, 2)
    w = np.frombuffer(image, "<u2").copy()
    d = HEADER_WORDS + 32 * 2
    at = int(w[d + 24] | w[d + 25] << 16)

    def changed(pos, v):
        b = w.copy()
        b[pos] = v
        b[8:10] = [(c := zlib.crc32(b[HEADER_WORDS:].astype("<u2").tobytes())) & 0xFFFF, c >> 16]
        return b.astype("<u2").tobytes()

    with pytest.raises(ImageError, match="sign words, not its"):
        read_image(changed(at, int(w[at]) + 1))
    with pytest.raises(ImageError, match="sign groups"):
        read_image(changed(d + 18, int(w[d + 18]) + 1))
    with pytest.raises(ImageError, match="bit 15"):
        read_image(changed(at + 1, int(w[at + 1]) | 0x8000))
