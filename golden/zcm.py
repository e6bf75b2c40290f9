"""The compressed model file ``.zcm``: writer, validating reader.

The byte-level specification is ``docs/FORMAT.md``; this module is its
reference implementation. In short: a 24-byte header, a table of sections
(each with its own CRC32), then the sections: model description, layer
descriptors, and per weighted layer its codebook, biases, Huffman code
lengths and one coded stream per processing element (PE).

A sparse weight-shared layer ``(out, in)`` is stored as EIE does (Han et al.,
ISCA 2016): row ``i`` belongs to PE ``i % n_pe``; each PE's rows are laid out
column by column, and every non-zero is an entry ``(gap, code)``: ``gap``
zeros (in that PE's column-major order) precede it and ``code`` indexes the
codebook (code 0 is the zero weight, used by padding entries when a gap
exceeds ``2^gap_bits - 1``). The relative index runs across column ends
(Deep Compression Fig. 2), so no per-column pointers are stored; the
hardware loader derives them. An entry is one symbol
``gap << code_bits | code`` of a joint alphabet, Huffman-coded with a
canonical, length-limited code whose code lengths are stored per layer; or
stored raw in ``gap_bits + code_bits`` bits when Huffman coding is off.

``read_zcm`` checks everything (magic, version, sizes, every CRC, every
field's range, Kraft sums, that every stream decodes to exactly its entry
count inside the matrix) and raises ``ZcmError`` with one line otherwise.
``write_zcm`` writes atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import huffman as H
from .sparse import relindex_encode_1d

__all__ = [
    "ZcmError", "ZLayer", "ZModel", "encode_zcm", "decode_zcm", "write_zcm", "read_zcm",
    "MAGIC", "VERSION", "KINDS", "STORAGE", "ACTS", "layer_streams", "SectionInfo",
]

MAGIC = b"ZCM\x1a"
VERSION = 2                     # 2: Huffman streams are two-way interleaved 16-bit words
# magic, version, flags, n_sections, file size, table CRC, header CRC
HEADER = struct.Struct("<4sHHIIII")
# type, layer, offset, length, CRC32
SECTION = struct.Struct("<HHIII")
# n_layers, in_c, in_h, in_w, classes, reserved, input scale, input zero point
MODEL = struct.Struct("<HHHHHHfi")
# kind, act, storage, flags, out, in, in_c, in_h, in_w, kh, kw, stride, pad, pool,
# code_bits, gap_bits, max_code_len, n_pe, activation scale, activation zero point
LAYER = struct.Struct("<BBBBIIHHHBBBBBBBBHfi")
# entries, bits of substream 0, bits of substream 1 (one per PE at the start of a
# STREAMS section). A Huffman-coded stream is golden.huffman.encode_interleaved's,
# as big-endian 16-bit words; a raw stream is packed MSB first and has no substream 1.
STREAM_HDR = struct.Struct("<III")
STREAM_WORD = 16

S_META, S_MODEL, S_LAYERS, S_CODEBOOK, S_BIAS, S_HUFFLEN, S_STREAMS, S_ALPHA, S_BITS = range(1, 10)
SECTION_NAMES = {S_META: "META", S_MODEL: "MODEL", S_LAYERS: "LAYERS", S_CODEBOOK: "CODEBOOK",
                 S_BIAS: "BIAS", S_HUFFLEN: "HUFFLEN", S_STREAMS: "STREAMS", S_ALPHA: "ALPHA",
                 S_BITS: "BITS"}
KINDS = {1: "fc", 2: "conv", 3: "maxpool"}
STORAGE = {0: "none", 1: "shared", 2: "binary"}
ACTS = {0: "none", 1: "relu"}
MAX_DIM = 1 << 20
MAX_META = 1 << 16
LEN_BITS = 5                                   # bits per stored Huffman code length


class ZcmError(ValueError):
    """A .zcm file or a model to be written is malformed; the message is one line."""


def _inv(d: dict) -> dict:
    return {v: k for k, v in d.items()}


@dataclass
class ZLayer:
    """One layer of a compressed model, as stored.

    ``codes`` is the ``(out, in)`` matrix of codebook indices (0 = zero
    weight) for ``storage == "shared"``; for conv layers ``in`` is
    ``in_c * kh * kw`` (im2col order ``(c, u, v)``). ``binary`` layers hold
    ``signs`` in ``{-1, +1}`` and a per-row ``alpha``.
    """

    kind: str                       # fc | conv | maxpool
    act: str = "none"               # none | relu (applied after the layer)
    out: int = 0
    inp: int = 0
    in_shape: tuple = (0, 0, 0)     # (c, h, w) of the layer's input (conv, maxpool)
    kh: int = 0
    kw: int = 0
    stride: int = 1
    pad: int = 0
    pool: int = 0
    storage: str = "none"
    code_bits: int = 0
    gap_bits: int = 0
    max_code_len: int = 16
    n_pe: int = 1
    huffman: bool = True
    act_scale: float = 1.0          # input activation scale for the hardware (int8)
    act_zero: int = 0
    codebook: np.ndarray | None = None   # (2^code_bits,) float32, entry 0 = 0
    codes: np.ndarray | None = None      # (out, inp) int
    bias: np.ndarray | None = None       # (out,) float32, stored as int8 x scale
    signs: np.ndarray | None = None      # (out, inp) int8 in {-1, +1}
    alpha: np.ndarray | None = None      # (out,) float16

    def dense_weights(self) -> np.ndarray:
        """The ``(out, inp)`` float weight matrix the layer computes with."""
        if self.storage == "shared":
            return self.codebook.astype(np.float64)[self.codes]
        if self.storage == "binary":
            return self.alpha.astype(np.float64)[:, None] * self.signs
        raise ZcmError(f"{self.kind} layer has no weights")

    @property
    def out_shape(self) -> tuple:
        c, h, w = self.in_shape
        if self.kind == "conv":
            oh = (h + 2 * self.pad - self.kh) // self.stride + 1
            ow = (w + 2 * self.pad - self.kw) // self.stride + 1
            return (self.out, oh, ow)
        if self.kind == "maxpool":
            return (c, h // self.pool, w // self.pool)
        return (self.out,)


@dataclass
class SectionInfo:
    type: str
    layer: int
    offset: int
    length: int


@dataclass
class ZModel:
    layers: list
    input_shape: tuple               # (c, h, w); an MLP input is (features, 1, 1)
    classes: int
    input_scale: float = 1.0 / 127
    input_zero: int = 0
    meta: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)   # filled by the reader
    file_size: int = 0

    @property
    def weighted(self) -> list:
        return [ly for ly in self.layers if ly.storage != "none"]


# ----------------------------------------------------------------------------- streams


def _pe_local(codes: np.ndarray, pe: int, n_pe: int) -> np.ndarray:
    return codes[pe::n_pe, :]


def layer_streams(layer: ZLayer) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Per-PE ``(gaps, codes)`` entry lists and the joint-symbol code lengths
    (all zeros when Huffman coding is off)."""
    per_pe = []
    for k in range(layer.n_pe):
        local = _pe_local(layer.codes, k, layer.n_pe)
        gaps, vals = relindex_encode_1d(local.ravel(order="F"), layer.gap_bits)
        per_pe.append((gaps.astype(np.int64), vals.astype(np.int64)))
    nsym = 1 << (layer.gap_bits + layer.code_bits)
    lengths = np.zeros(nsym, dtype=np.int64)
    if layer.huffman:
        sym = np.concatenate([(g << layer.code_bits) | v for g, v in per_pe]) if per_pe else []
        if len(sym):
            lengths = H.code_lengths(np.bincount(sym, minlength=nsym), layer.max_code_len)
    return lengths, per_pe


def _pack_fixed(values: np.ndarray, width: int) -> tuple[bytes, int]:
    if values.size == 0:
        return b"", 0
    bits = ((values[:, None] >> np.arange(width - 1, -1, -1)[None, :]) & 1).astype(np.uint8)
    return np.packbits(bits.ravel()).tobytes(), int(values.size * width)


def pack_lengths(lengths: np.ndarray) -> bytes:
    """Code-length table as 5-bit tokens, MSB first: 0..16 is a length, 17..31 a run
    of ``token - 15`` (2..16) unused symbols."""
    tokens = []
    i, n = 0, len(lengths)
    while i < n:
        if lengths[i] == 0:
            j = i
            while j < n and lengths[j] == 0 and j - i < 16:
                j += 1
            run = j - i
            tokens.append(run + 15 if run >= 2 else 0)
            i = j if run >= 2 else i + 1
        else:
            tokens.append(int(lengths[i]))
            i += 1
    return _pack_fixed(np.asarray(tokens, dtype=np.int64), LEN_BITS)[0]


def unpack_lengths(data: bytes, nsym: int) -> np.ndarray:
    """Inverse of ``pack_lengths``; raises ``ZcmError`` unless the tokens fill exactly
    ``nsym`` symbols and only zero padding bits follow."""
    ntok = len(data) * 8 // LEN_BITS
    tokens = _unpack_fixed(data, ntok, LEN_BITS) if ntok else np.zeros(0, np.int64)
    out = []
    used = 0
    for t in tokens:
        if len(out) == nsym:
            break
        used += 1
        if t <= 16:
            out.append(int(t))
        else:
            out.extend([0] * int(t - 15))
    _need(len(out) == nsym, "code-length table does not describe the alphabet exactly")
    _need(-(-used * LEN_BITS // 8) == len(data), "code-length table has trailing bytes")
    return np.asarray(out, dtype=np.int64)


def _unpack_fixed(data: bytes, count: int, width: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=count * width)
    bits = bits.reshape(count, width).astype(np.int64)
    return (bits << np.arange(width - 1, -1, -1)[None, :]).sum(axis=1)


def quantize_bias(b: np.ndarray) -> tuple[float, np.ndarray]:
    """Biases as int8 with one float32 scale per layer: ``b ~ scale * q``."""
    b = np.asarray(b, dtype=np.float64)
    amax = float(np.max(np.abs(b))) if b.size else 0.0
    scale = np.float32(amax / 127.0 if amax > 0 else 1.0)
    return float(scale), np.clip(np.rint(b / float(scale)), -127, 127).astype(np.int8)


def pack_bias(b: np.ndarray) -> bytes:
    scale, q = quantize_bias(b)
    return struct.pack("<f", scale) + q.tobytes()


def unpack_bias(data: bytes) -> np.ndarray | None:
    (scale,) = struct.unpack_from("<f", data)
    if not (np.isfinite(scale) and scale > 0):
        return None
    return (np.float32(scale) * np.frombuffer(data[4:], dtype=np.int8)).astype(np.float32)


# ----------------------------------------------------------------------------- writer


def _check_layer_for_write(i: int, ly: ZLayer):
    if ly.kind not in _inv(KINDS) or ly.storage not in _inv(STORAGE) or ly.act not in _inv(ACTS):
        raise ZcmError(f"layer {i}: unknown kind/storage/activation")
    if ly.storage == "shared":
        if not (1 <= ly.code_bits <= 8 and 1 <= ly.gap_bits <= 8
                and ly.code_bits + ly.gap_bits <= 12):
            raise ZcmError(f"layer {i}: need 1 <= code_bits, gap_bits <= 8 and a sum <= 12")
        if ly.codes.shape != (ly.out, ly.inp) or ly.codes.min(initial=0) < 0 or \
                ly.codes.max(initial=0) >= 1 << ly.code_bits:
            raise ZcmError(f"layer {i}: codes must be ({ly.out}, {ly.inp}) in [0, 2^code_bits)")
        if ly.codebook.shape != (1 << ly.code_bits,) or ly.codebook[0] != 0:
            raise ZcmError(f"layer {i}: codebook needs 2^code_bits entries with entry 0 = 0")


def encode_zcm(model: ZModel) -> bytes:
    """Serialise ``model`` to .zcm bytes (see docs/FORMAT.md)."""
    sections: list[tuple[int, int, bytes]] = []
    if model.meta:
        meta = json.dumps(model.meta, sort_keys=True, separators=(",", ":")).encode()
        if len(meta) > MAX_META:
            raise ZcmError("metadata too large")
        sections.append((S_META, 0, meta))
    c, h, w = model.input_shape
    sections.append((S_MODEL, 0, MODEL.pack(len(model.layers), c, h, w, model.classes, 0,
                                            model.input_scale, model.input_zero)))
    descs = []
    for i, ly in enumerate(model.layers):
        _check_layer_for_write(i, ly)
        ic, ih, iw = ly.in_shape
        flags = 1 if (ly.huffman and ly.storage == "shared") else 0
        descs.append(LAYER.pack(_inv(KINDS)[ly.kind], _inv(ACTS)[ly.act], _inv(STORAGE)[ly.storage],
                                flags, ly.out, ly.inp, ic, ih, iw, ly.kh, ly.kw, ly.stride, ly.pad,
                                ly.pool, ly.code_bits, ly.gap_bits, ly.max_code_len, ly.n_pe,
                                ly.act_scale, ly.act_zero))
    sections.append((S_LAYERS, 0, b"".join(descs)))
    for i, ly in enumerate(model.layers):
        if ly.storage == "none":
            continue
        sections.append((S_BIAS, i, pack_bias(ly.bias)))
        if ly.storage == "binary":
            sections.append((S_ALPHA, i, np.asarray(ly.alpha, dtype="<f2").tobytes()))
            sections.append((S_BITS, i, np.packbits((ly.signs > 0).ravel()).tobytes()))
            continue
        sections.append((S_CODEBOOK, i, np.asarray(ly.codebook, dtype="<f4").tobytes()))
        lengths, per_pe = layer_streams(ly)
        width = ly.gap_bits + ly.code_bits
        if ly.huffman:
            sections.append((S_HUFFLEN, i, pack_lengths(lengths)))
        hdrs, bodies = [], []
        for gaps, vals in per_pe:
            sym = (gaps << ly.code_bits) | vals
            if ly.huffman:
                words, nbits = H.encode_interleaved(sym, lengths, STREAM_WORD)
                data = np.asarray(words, dtype=">u2").tobytes()
            else:
                data, nb = _pack_fixed(sym, width)
                nbits = [nb, 0]
            hdrs.append(STREAM_HDR.pack(sym.size, *nbits))
            bodies.append(data)
        sections.append((S_STREAMS, i, b"".join(hdrs) + b"".join(bodies)))
    n = len(sections)
    offset = HEADER.size + n * SECTION.size
    table, payload = [], []
    for typ, layer, data in sections:
        table.append(SECTION.pack(typ, layer, offset, len(data), zlib.crc32(data)))
        payload.append(data)
        offset += len(data)
    table_b = b"".join(table)
    head = HEADER.pack(MAGIC, VERSION, 0, n, offset, zlib.crc32(table_b), 0)
    head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return head + table_b + b"".join(payload)


def write_zcm(model: ZModel, path) -> int:
    """Write atomically; returns the file size. Nothing is left behind on failure."""
    data = encode_zcm(model)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(data)


# ----------------------------------------------------------------------------- reader


def _need(cond: bool, msg: str):
    if not cond:
        raise ZcmError(msg)


def _sections(data: bytes) -> dict:
    _need(len(data) >= HEADER.size, f"truncated: {len(data)} bytes is shorter than the header")
    magic, version, flags, n, size, table_crc, head_crc = HEADER.unpack_from(data)
    _need(magic == MAGIC, "not a .zcm file (bad magic)")
    _need(zlib.crc32(data[:HEADER.size - 4]) == head_crc, "header CRC mismatch")
    _need(version == VERSION, f"unsupported .zcm version {version} (this reader reads {VERSION})")
    _need(flags == 0, f"unknown header flags {flags:#x}")
    _need(size == len(data), f"file is {len(data)} bytes but its header says {size} (truncated?)")
    table_end = HEADER.size + n * SECTION.size
    _need(1 <= n <= 4096 and table_end <= size, f"bad section count {n}")
    table = data[HEADER.size:table_end]
    _need(zlib.crc32(table) == table_crc, "section table CRC mismatch")
    found: dict = {}
    end_prev = table_end
    for j in range(n):
        typ, layer, off, length, crc = SECTION.unpack_from(table, j * SECTION.size)
        name = SECTION_NAMES.get(typ)
        _need(name is not None, f"section {j}: unknown type {typ}")
        _need(off == end_prev and off + length <= size,
              f"section {j} ({name}): bad offset/length {off}+{length}")
        end_prev = off + length
        body = data[off:off + length]
        _need(zlib.crc32(body) == crc, f"section {j} ({name}, layer {layer}): CRC mismatch")
        _need((typ, layer) not in found, f"duplicate {name} section for layer {layer}")
        found[(typ, layer)] = (body, SectionInfo(name, layer, off, length))
    _need(end_prev == size, "trailing bytes after the last section")
    return found


def _get(found, typ, layer, what, length=None) -> bytes:
    item = found.get((typ, layer))
    _need(item is not None, f"layer {layer}: missing {SECTION_NAMES[typ]} section ({what})")
    body = item[0]
    if length is not None:
        _need(len(body) == length,
              f"layer {layer}: {SECTION_NAMES[typ]} is {len(body)} bytes, expected {length}")
    return body


def _decode_streams(i: int, ly: ZLayer, body: bytes, lengths: np.ndarray) -> np.ndarray:
    n_pe = ly.n_pe
    _need(len(body) >= n_pe * STREAM_HDR.size, f"layer {i}: STREAMS too short")
    heads = [STREAM_HDR.unpack_from(body, k * STREAM_HDR.size) for k in range(n_pe)]
    pos = n_pe * STREAM_HDR.size
    width = ly.gap_bits + ly.code_bits
    codes = np.zeros((ly.out, ly.inp), dtype=np.int64)
    for k, (entries, nb0, nb1) in enumerate(heads):
        if ly.huffman:
            nbytes = 2 * (-(-nb0 // STREAM_WORD) + -(-nb1 // STREAM_WORD))
        else:
            _need(nb1 == 0, f"layer {i} PE {k}: raw stream with a second substream")
            nbytes = -(-nb0 // 8)
        rows = len(range(k, ly.out, n_pe))
        cells = rows * ly.inp
        _need(entries <= cells and pos + nbytes <= len(body),
              f"layer {i} PE {k}: stream sizes out of range")
        chunk = body[pos:pos + nbytes]
        pos += nbytes
        if ly.huffman:
            try:
                words = np.frombuffer(chunk, dtype=">u2").tolist()
                sym = H.decode_interleaved(words, [nb0, nb1], lengths, entries, STREAM_WORD)
            except H.HuffmanError as e:
                raise ZcmError(f"layer {i} PE {k}: {e}") from None
        else:
            _need(nb0 == entries * width, f"layer {i} PE {k}: raw stream has wrong bit count")
            sym = _unpack_fixed(chunk, entries, width)
        gaps = sym >> ly.code_bits
        vals = sym & ((1 << ly.code_bits) - 1)
        posn = np.cumsum(gaps + 1) - 1
        _need(posn.size == 0 or posn[-1] < cells,
              f"layer {i} PE {k}: relative index runs past the matrix")
        local = np.zeros(cells, dtype=np.int64)
        local[posn] = vals
        codes[k::n_pe, :] = local.reshape(ly.inp, rows).T
    _need(pos == len(body), f"layer {i}: STREAMS has trailing bytes")
    return codes


def decode_zcm(data: bytes) -> ZModel:
    """Parse and fully validate .zcm bytes; raises ``ZcmError`` on anything wrong."""
    found = _sections(bytes(data))
    meta = {}
    if (S_META, 0) in found:
        try:
            meta = json.loads(found[(S_META, 0)][0].decode())
        except (UnicodeDecodeError, ValueError):
            raise ZcmError("META section is not valid JSON") from None
        _need(isinstance(meta, dict), "META section is not a JSON object")
    mb = _get(found, S_MODEL, 0, "model", MODEL.size)
    n_layers, c, h, w, classes, _, in_scale, in_zero = MODEL.unpack(mb)
    _need(1 <= n_layers <= 256, f"bad layer count {n_layers}")
    _need(all(1 <= d <= MAX_DIM for d in (c, h, w)) and 1 <= classes <= 65535,
          "bad input shape or class count")
    _need(np.isfinite(in_scale) and in_scale > 0, "bad input scale")
    lb = _get(found, S_LAYERS, 0, "layer table", n_layers * LAYER.size)
    layers = []
    shape = (c, h, w)
    for i in range(n_layers):
        (kind, act, storage, flags, out, inp, ic, ih, iw, kh, kw, stride, pad, pool, cb, gb, mcl,
         n_pe, a_scale, a_zero) = LAYER.unpack_from(lb, i * LAYER.size)
        _need(kind in KINDS and act in ACTS and storage in STORAGE,
              f"layer {i}: unknown kind/activation/storage code")
        _need(flags in (0, 1), f"layer {i}: unknown flags {flags:#x}")
        ly = ZLayer(kind=KINDS[kind], act=ACTS[act], out=out, inp=inp, in_shape=(ic, ih, iw),
                    kh=kh, kw=kw, stride=stride, pad=pad, pool=pool, storage=STORAGE[storage],
                    code_bits=cb, gap_bits=gb, max_code_len=mcl, n_pe=n_pe, huffman=bool(flags),
                    act_scale=float(a_scale), act_zero=int(a_zero))
        _need(np.isfinite(a_scale) and a_scale > 0, f"layer {i}: bad activation scale")
        flat = int(np.prod(shape))
        if ly.kind == "maxpool":
            _need(ly.storage == "none" and 2 <= pool <= 8 and (ic, ih, iw) == shape
                  and ih >= pool and iw >= pool, f"layer {i}: bad max-pool layer")
        elif ly.kind == "conv":
            _need(ly.storage == "shared" and (ic, ih, iw) == shape and 1 <= kh <= 11
                  and 1 <= kw <= 11 and stride >= 1 and pad <= 5 and inp == ic * kh * kw
                  and ih + 2 * pad >= kh and iw + 2 * pad >= kw,
                  f"layer {i}: bad convolution shape")
        else:
            _need(ly.storage in ("shared", "binary") and inp == flat,
                  f"layer {i}: input size {inp} does not match the previous output {flat}")
        if ly.storage != "none":
            _need(1 <= out <= MAX_DIM and 1 <= inp <= MAX_DIM and out * inp <= 1 << 26,
                  f"layer {i}: bad shape {out}x{inp}")
            ly.bias = unpack_bias(_get(found, S_BIAS, i, "biases", 4 + out))
            _need(ly.bias is not None, f"layer {i}: bad bias scale")
        if ly.storage == "binary":
            ly.alpha = np.frombuffer(_get(found, S_ALPHA, i, "alpha", 2 * out), dtype="<f2").copy()
            _need(np.all(np.isfinite(ly.alpha)), f"layer {i}: non-finite alpha")
            bits = _get(found, S_BITS, i, "sign bits", -(-out * inp // 8))
            ly.signs = np.where(np.unpackbits(np.frombuffer(bits, np.uint8), count=out * inp)
                                .reshape(out, inp) > 0, 1, -1).astype(np.int8)
        elif ly.storage == "shared":
            _need(1 <= cb <= 8 and 1 <= gb <= 8 and cb + gb <= 12 and 1 <= n_pe <= 256
                  and 1 <= mcl <= 16, f"layer {i}: bad code/gap/PE parameters")
            ly.codebook = np.frombuffer(_get(found, S_CODEBOOK, i, "codebook", 4 << cb),
                                        dtype="<f4").copy()
            _need(ly.codebook[0] == 0 and np.all(np.isfinite(ly.codebook)),
                  f"layer {i}: codebook entry 0 must be 0 and all entries finite")
            nsym = 1 << (cb + gb)
            lengths = np.zeros(nsym, dtype=np.int64)
            if ly.huffman:
                lengths = unpack_lengths(_get(found, S_HUFFLEN, i, "code lengths"), nsym)
                _need(lengths.max() <= mcl, f"layer {i}: code length above the stated maximum")
                try:
                    H.check_lengths(lengths, 16)
                except H.HuffmanError as e:
                    raise ZcmError(f"layer {i}: {e}") from None
            ly.codes = _decode_streams(i, ly, _get(found, S_STREAMS, i, "streams"), lengths)
        layers.append(ly)
        shape = ly.out_shape
    _need(int(np.prod(shape)) == classes,
          f"last layer gives {int(np.prod(shape))} outputs, the model says {classes} classes")
    used = {(S_META, 0), (S_MODEL, 0), (S_LAYERS, 0)}
    for i, ly in enumerate(layers):
        if ly.storage == "shared":
            used |= {(S_BIAS, i), (S_CODEBOOK, i), (S_STREAMS, i)}
            if ly.huffman:
                used.add((S_HUFFLEN, i))
        elif ly.storage == "binary":
            used |= {(S_BIAS, i), (S_ALPHA, i), (S_BITS, i)}
    extra = set(found) - used
    _need(not extra, f"unexpected {SECTION_NAMES[min(extra)[0]]} section for layer "
                     f"{min(extra)[1]}" if extra else "")
    return ZModel(layers, (c, h, w), classes, float(in_scale), int(in_zero), meta,
                  [v[1] for v in found.values()], len(data))


def read_zcm(path) -> ZModel:
    """Read and validate a .zcm file."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ZcmError(f"cannot read {path}: {e.strerror}") from None
    return decode_zcm(data)
