"""The .zcm format: round trips, atomic writes, and a reader that refuses every
malformed file with one clean error (fuzzed)."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import zcm as Z


def small_model(huffman=True, n_pe=3, seed=0) -> Z.ZModel:
    rng = np.random.default_rng(seed)
    codes1 = rng.integers(1, 16, size=(7, 12)) * (rng.random((7, 12)) < 0.3)
    codes2 = rng.integers(1, 4, size=(5, 7)) * (rng.random((5, 7)) < 0.6)
    cb1 = np.concatenate([[0], np.linspace(-1, 1, 15)]).astype(np.float32)
    cb2 = np.array([0, -0.5, 0.25, 1.0], dtype=np.float32)
    l1 = Z.ZLayer("fc", "relu", 7, 12, storage="shared", code_bits=4, gap_bits=3, n_pe=n_pe,
                  huffman=huffman, codebook=cb1, codes=codes1, bias=rng.normal(size=7),
                  act_scale=0.01)
    l2 = Z.ZLayer("fc", "none", 5, 7, storage="shared", code_bits=2, gap_bits=2, n_pe=n_pe,
                  huffman=huffman, codebook=cb2, codes=codes2, bias=rng.normal(size=5),
                  act_scale=0.02)
    return Z.ZModel([l1, l2], (12, 1, 1), 5, meta={"name": "t"})


def conv_model() -> Z.ZModel:
    rng = np.random.default_rng(1)
    conv = Z.ZLayer("conv", "relu", 2, 9, in_shape=(1, 6, 6), kh=3, kw=3, storage="shared",
                    code_bits=3, gap_bits=2, n_pe=2, codebook=np.arange(8, dtype=np.float32),
                    codes=rng.integers(0, 8, size=(2, 9)), bias=np.zeros(2))
    pool = Z.ZLayer("maxpool", in_shape=(2, 4, 4), pool=2)
    fc = Z.ZLayer("fc", "none", 3, 8, storage="binary", signs=np.where(
        rng.random((3, 8)) < 0.5, 1, -1).astype(np.int8), alpha=np.ones(3), bias=np.ones(3))
    return Z.ZModel([conv, pool, fc], (1, 6, 6), 3)


def assert_same(a: Z.ZModel, b: Z.ZModel):
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        assert (x.kind, x.act, x.out, x.inp, x.storage) == (y.kind, y.act, y.out, y.inp, y.storage)
        if x.storage == "shared":
            assert np.array_equal(x.codes, y.codes)
            assert np.array_equal(x.codebook, y.codebook)
        if x.storage == "binary":
            assert np.array_equal(x.signs, y.signs)
        if x.storage != "none":
            scale, q = Z.quantize_bias(x.bias)
            assert np.allclose(y.bias, np.float32(scale) * q)
            assert np.max(np.abs(y.bias - x.bias)) <= scale / 2 + 1e-6


@pytest.mark.parametrize("huffman", [True, False])
@pytest.mark.parametrize("n_pe", [1, 3, 8])
def test_round_trip(huffman, n_pe):
    m = small_model(huffman, n_pe)
    assert_same(m, Z.decode_zcm(Z.encode_zcm(m)))


def test_round_trip_conv_pool_binary():
    m = conv_model()
    assert_same(m, Z.decode_zcm(Z.encode_zcm(m)))


def test_all_zero_layer_and_empty_pe():
    m = small_model()
    m.layers[1].codes[:] = 0
    m.layers[0].n_pe = m.layers[1].n_pe = 9       # more PEs than rows: empty PE streams
    assert_same(m, Z.decode_zcm(Z.encode_zcm(m)))


def test_write_is_atomic(tmp_path):
    p = tmp_path / "m.zcm"
    n = Z.write_zcm(small_model(), p)
    assert p.stat().st_size == n
    assert [f.name for f in tmp_path.iterdir()] == ["m.zcm"]
    with pytest.raises(OSError):
        Z.write_zcm(small_model(), tmp_path / "missing" / "m.zcm")
    assert not (tmp_path / "missing").exists()


# --- building files with valid CRCs but bad content --------------------------------


def split(data: bytes):
    n = struct.unpack_from("<I", data, 8)[0]
    rows = [list(Z.SECTION.unpack_from(data, Z.HEADER.size + j * Z.SECTION.size))
            for j in range(n)]
    bodies = [data[r[2]:r[2] + r[3]] for r in rows]
    return rows, bodies


def join(rows, bodies, version=Z.VERSION) -> bytes:
    n = len(rows)
    off = Z.HEADER.size + n * Z.SECTION.size
    table = b""
    for r, b in zip(rows, bodies):
        table += Z.SECTION.pack(r[0], r[1], off, len(b), zlib.crc32(b))
        off += len(b)
    head = Z.HEADER.pack(Z.MAGIC, version, 0, n, off, zlib.crc32(table), 0)
    head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return head + table + b"".join(bodies)


def with_section(data: bytes, typ: int, layer: int, fn) -> bytes:
    rows, bodies = split(data)
    j = next(j for j, r in enumerate(rows) if r[0] == typ and r[1] == layer)
    bodies[j] = fn(bodies[j])
    return join(rows, bodies)


def test_join_is_faithful():
    data = Z.encode_zcm(small_model())
    assert join(*split(data)) == data


@pytest.mark.parametrize("mutate,message", [
    (lambda d: b"PK\x03\x04" + d[4:], "bad magic"),
    (lambda d: d[:10], "truncated"),
    (lambda d: d[:-1], "header says"),
    (lambda d: d + b"\0", "header says"),
    (lambda d: join(*split(d), version=1), "unsupported .zcm version 1"),
    (lambda d: join(*split(d), version=3), "unsupported .zcm version 3"),
    (lambda d: d[:-3] + bytes([d[-3] ^ 1]) + d[-2:], "CRC mismatch"),
    (lambda d: d[:30] + bytes([d[30] ^ 0x40]) + d[31:], "CRC mismatch"),
])
def test_reader_refuses(mutate, message):
    with pytest.raises(Z.ZcmError, match=message):
        Z.decode_zcm(mutate(Z.encode_zcm(small_model())))


def test_over_subscribed_huffman_lengths():
    data = Z.encode_zcm(small_model())
    nsym = 1 << (3 + 4)
    bad = Z.pack_lengths(np.ones(nsym, dtype=np.int64))   # 128 codes of length 1
    with pytest.raises(Z.ZcmError, match="over-subscribed"):
        Z.decode_zcm(with_section(data, Z.S_HUFFLEN, 0, lambda b: bad))


def test_out_of_range_index():
    m = small_model(huffman=False, n_pe=1)
    data = Z.encode_zcm(m)

    def longer(body):
        entries, nbits, nb1 = Z.STREAM_HDR.unpack_from(body)
        assert nb1 == 0
        width = 3 + 4
        # Append entries with maximal gaps until they must run past the matrix.
        extra = 20
        syms = np.full(extra, (7 << 4) | 1)
        bits = np.unpackbits(np.frombuffer(body[Z.STREAM_HDR.size:], np.uint8), count=nbits)
        new = np.concatenate([bits, ((syms[:, None] >> np.arange(width - 1, -1, -1)) & 1)
                              .ravel()]).astype(np.uint8)
        return Z.STREAM_HDR.pack(entries + extra, nbits + extra * width, 0) + \
            np.packbits(new).tobytes()

    with pytest.raises(Z.ZcmError, match="out of range|runs past"):
        Z.decode_zcm(with_section(data, Z.S_STREAMS, 0, longer))


def test_codebook_zero_entry_enforced():
    data = Z.encode_zcm(small_model())
    with pytest.raises(Z.ZcmError, match="entry 0"):
        Z.decode_zcm(with_section(data, Z.S_CODEBOOK, 0,
                                  lambda b: struct.pack("<f", 0.5) + b[4:]))


def test_missing_section():
    rows, bodies = split(Z.encode_zcm(small_model()))
    j = next(j for j, r in enumerate(rows) if r[0] == Z.S_BIAS)
    del rows[j], bodies[j]
    with pytest.raises(Z.ZcmError, match="missing BIAS"):
        Z.decode_zcm(join(rows, bodies))


# --- fuzzing -------------------------------------------------------------------------

VALID = [Z.encode_zcm(small_model(h, p, s)) for h in (True, False) for p in (1, 3)
         for s in (0, 1)] + [Z.encode_zcm(conv_model())]


def _decode_or_clean_error(data: bytes):
    try:
        Z.decode_zcm(data)
    except Z.ZcmError as e:
        msg = str(e)
        assert msg and "\n" not in msg


@settings(max_examples=600)
@given(st.sampled_from(VALID), st.data())
def test_fuzz_raw_bytes(base, data):
    """Truncations, flipped bytes, insertions: always a clean ZcmError (CRCs catch most)."""
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "zero_run"]))
    b = bytearray(base)
    if kind == "truncate":
        b = b[:data.draw(st.integers(0, len(b) - 1))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] ^= data.draw(st.integers(1, 255))
    elif kind == "insert":
        i = data.draw(st.integers(0, len(b)))
        b[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        i = data.draw(st.integers(0, len(b) - 1))
        b[i:i + data.draw(st.integers(1, 16))] = bytes(16)[:len(b[i:i + 16])]
    if bytes(b) == base:
        return
    with pytest.raises(Z.ZcmError):
        Z.decode_zcm(bytes(b))


@settings(max_examples=600)
@given(st.sampled_from(VALID), st.data())
def test_fuzz_valid_crcs(base, data):
    """Mutated section contents with recomputed CRCs reach every deeper check: the
    reader either accepts a well-formed model or raises one clean ZcmError."""
    rows, bodies = split(base)
    j = data.draw(st.integers(0, len(rows) - 1))
    body = bytearray(bodies[j])
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "type", "layer", "drop"]))
    if kind == "flip" and body:
        for _ in range(data.draw(st.integers(1, 3))):
            body[data.draw(st.integers(0, len(body) - 1))] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate" and body:
        body = body[:data.draw(st.integers(0, len(body) - 1))]
    elif kind == "extend":
        body += data.draw(st.binary(min_size=1, max_size=6))
    elif kind == "type":
        rows[j][0] = data.draw(st.integers(0, 12))
    elif kind == "layer":
        rows[j][1] = data.draw(st.integers(0, 5))
    elif kind == "drop":
        del rows[j], bodies[j]
        if rows:
            _decode_or_clean_error(join(rows, bodies))
        return
    bodies[j] = bytes(body)
    _decode_or_clean_error(join(rows, bodies))


def test_read_missing_file(tmp_path):
    with pytest.raises(Z.ZcmError, match="cannot read"):
        Z.read_zcm(tmp_path / "nope.zcm")


def test_format_doc_names_every_section():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md").read_text()
    for name in Z.SECTION_NAMES.values():
        assert name in doc
    assert "ZCM\\x1a" in doc or "5A 43 4D 1A" in doc
