"""The engine's memory image: a ``.zcm`` model as the engine reads it.

``memory_image(zm, n_pe)`` derives it (through ``engine_model``, so it holds
exactly the integers of ``golden.hwmodel.engine``); ``read_image`` validates
one and gives the per-layer integers back. The word-level layout is in
``docs/FORMAT.md`` ("The engine memory image"). In short: 16-bit words
(the width of iCE40 SPRAM and EBR ports), a 16-word header, one 32-word
descriptor per layer, then per weighted layer its codebook, per PE and column
the count of its (row, code) entries followed by them (a binary layer's:
per PE and group of ``XNOR_GROUP`` inputs, its rows' sign words), biases and
requantization constants.

This is the ``expanded`` form of ``golden.hwmodel.cycles``: the Huffman-coded
entries are decoded once, at load, into fixed-width words with per-column
counts, from which the engine's loader builds column pointers, so a PE jumps
straight to a column's entries and no padding entry is stored.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..zcm import ZModel
from .engine import EngineLayer, EngineModel, engine_model, int8_codebook

__all__ = ["IMAGE_MAGIC", "IMAGE_VERSION", "ImageError", "memory_image", "read_image",
           "EngineImage", "pe_tables", "layer_codes", "BINARY_CODEBOOK", "XNOR_GROUP",
           "sign_tables"]

IMAGE_MAGIC = (0x495A, 0x474D)        # "ZIMG" as two little-endian 16-bit words
IMAGE_VERSION = 4
HEADER_WORDS = 16
DESC_WORDS = 32
KIND = {"fc": 1, "conv": 2, "maxpool": 3}
STORAGE = {"none": 0, "shared": 1, "binary": 2}
MAX_WORDS = 1 << 24                   # 32 MiB: far above any on-chip memory


class ImageError(ValueError):
    """A memory image that cannot be built or read; the message is one line."""


@dataclass
class EngineImage:
    words: np.ndarray          # uint16
    n_pe: int
    layers: list               # EngineLayer, integers read back from the words
    storage: list              # per layer: none | shared | binary
    code_bits: list
    code_field: int = 0        # the entries' code field width


def pe_tables(codes: np.ndarray, n_pe: int, code_bits: int) -> list[tuple[list, list]]:
    """Per PE: its column pointers (``inp + 1`` entry indices from 0) and its
    entries (``local_row << code_bits | code``), the image's layout of one layer."""
    codes = np.asarray(codes)
    out = []
    for k in range(n_pe):
        local = codes[k::n_pe, :]
        ptr, ents = [0], []
        for j in range(codes.shape[1]):
            rows = np.flatnonzero(local[:, j])
            ents += [int(v) for v in (rows << code_bits) | local[rows, j]]
            ptr.append(len(ents))
        out.append((ptr, ents))
    return out


BINARY_CODEBOOK = (0, 1, -1, 0)       # a binary layer as entries: code 1 is +1, code 2 is -1

#: Inputs per sign word of a binary layer: bits 0..14 (bit 15 is the engine's flag).
XNOR_GROUP = 15


def sign_tables(signs: np.ndarray, n_pe: int) -> list[list[list[int]]]:
    """A binary layer's sign words as the image holds them: per PE ``k``, per
    group ``g`` of ``XNOR_GROUP`` inputs, one word per row of PE ``k`` (rows
    ``k, k + n_pe, ...``), bit ``b`` the sign of input ``g * XNOR_GROUP + b``
    (1 for +1; inputs past the end 0)."""
    s = (np.asarray(signs) > 0).astype(np.int64)
    out, inp = s.shape
    groups = -(-inp // XNOR_GROUP)
    packed = np.pad(s, ((0, 0), (0, groups * XNOR_GROUP - inp))).reshape(out, groups, XNOR_GROUP)
    words = (packed << np.arange(XNOR_GROUP)).sum(axis=2)          # (out, groups)
    return [[[int(v) for v in words[k::n_pe, g]] for g in range(groups)]
            for k in range(n_pe)]


def layer_codes(zl) -> tuple[np.ndarray, int] | None:
    """The codebook indices the engine's entries hold for a weighted layer, and
    their width: a shared layer's codes, or a binary layer's signs as codes 1
    (+1) and 2 (-1) of ``BINARY_CODEBOOK`` (every weight an entry). None for a
    layer without weights."""
    if zl.storage == "shared":
        return np.asarray(zl.codes), zl.code_bits
    if zl.storage == "binary":
        return np.where(np.asarray(zl.signs) > 0, 1, 2), 2
    return None


def _u32(v: int) -> list[int]:
    return [v & 0xFFFF, (v >> 16) & 0xFFFF]


def _desc(el: EngineLayer, storage: str, code_bits: int, relu: bool, last: bool,
          bases: dict) -> list[int]:
    c, h, w = el.in_shape if len(el.in_shape) == 3 else (0, 0, 0)
    inp = 0 if el.weights is None else el.weights.shape[1]
    out = 0 if el.weights is None else el.weights.shape[0]
    d = [KIND[el.kind], STORAGE[storage], int(relu) | int(last) << 1, inp, out, c, h, w,
         el.kh, el.kw, el.stride, el.pad, el.pool, code_bits]
    for key in ("codebook", "columns", "groups", "bias", "requant", "bits"):
        d += _u32(bases.get(key, 0))
    return d + [0] * (DESC_WORDS - len(d))


def _check16(v: int, what: str, i: int):
    if not 0 <= v <= 0xFFFF:
        raise ImageError(f"layer {i}: {what} {v} does not fit a 16-bit field")


def memory_image(zm: ZModel, n_pe: int, code_field: int | None = None, *,
                 binary_as_entries: bool = False) -> bytes:
    """The engine's memory image of ``zm`` for ``n_pe`` PEs (rows ``i % n_pe``),
    as little-endian bytes. Every shared layer's entries hold their code in a
    ``code_field``-bit field (default: the widest ``code_bits`` of the model),
    so an engine built for that width loads every layer. With
    ``binary_as_entries`` a binary layer is written as a shared one
    (``layer_codes``: codebook 0, +1, -1, every weight an entry) for an engine
    that runs it on its multipliers; the integers are the same. Raises
    ``ImageError`` (one line) when a field does not fit, and ``ZcmError`` when
    the engine cannot run the model."""
    if not isinstance(n_pe, int) or not 1 <= n_pe <= 256:
        raise ImageError(f"n_pe must be an integer in 1..256, not {n_pe!r}")
    em: EngineModel = engine_model(zm)
    as_entries = ("shared", "binary") if binary_as_entries else ("shared",)
    widest = max((layer_codes(zl)[1] for zl in zm.layers if zl.storage in as_entries),
                 default=1)
    if widest > 7:
        raise ImageError(f"the model's {widest}-bit codes do not fit an entry word (at most "
                         f"7 bits: the row takes the rest but bit 15, the engine's)")
    if code_field is None:
        code_field = widest
    if not isinstance(code_field, int) or not widest <= code_field <= 7:
        raise ImageError(f"code_field must be an integer in {widest}..7 (the model's widest "
                         f"code), not {code_field!r}")
    n = len(em.layers)
    body: list[int] = []
    base = HEADER_WORDS + DESC_WORDS * n
    descs: list[int] = []
    for i, (el, zl) in enumerate(zip(em.layers, zm.layers)):
        bases: dict = {}

        def put(key, words, bases=bases):
            bases[key] = base + len(body)
            body.extend(int(x) & 0xFFFF for x in words)

        if el.weights is not None:
            out, inp = el.weights.shape
            if zl.storage not in as_entries:
                bases["groups"] = -(-inp // XNOR_GROUP)
            _check16(inp, "input length", i)
            _check16(out, "output length", i)
            storage = "shared" if zl.storage in as_entries else zl.storage
            if storage == "shared":
                codes, cb_bits = layer_codes(zl)
                put("codebook", int8_codebook(zl)[0] if zl.storage == "shared"
                    else BINARY_CODEBOOK)
                row_bits = 15 - code_field
                most = -(-out // n_pe)              # PE 0 holds the most rows
                if most > 1 << row_bits:
                    raise ImageError(f"layer {i}: PE 0 holds {most} rows; a {code_field}-bit "
                                     f"code leaves {row_bits} bits of row")
                columns = []
                for ptr, ents in pe_tables(codes, n_pe, code_field):
                    for a, b in zip(ptr, ptr[1:]):
                        columns += [b - a, *ents[a:b]]
                put("columns", columns)
            else:
                cb_bits = 0
                put("bits", [v for groups in sign_tables(el.weights, n_pe) for col in groups
                             for v in (len(col), *col)])
            put("bias", [w for b in el.bias for w in _u32(int(b) & 0xFFFFFFFF)])
            if el.multiplier is not None:
                put("requant", [w for m, s in zip(el.multiplier, el.shift)
                                for w in (*_u32(int(m)), int(s))])
        else:
            cb_bits, storage = 0, zl.storage
        descs += _desc(el, storage, cb_bits, el.relu, i == n - 1, bases)
    total = base + len(body)
    if total > MAX_WORDS:
        raise ImageError(f"the image needs {total} words, more than {MAX_WORDS}")
    tail = np.array(descs + body, dtype=np.uint16)
    crc = zlib.crc32(tail.astype("<u2").tobytes())
    first = em.layers[0].in_shape
    header = [*IMAGE_MAGIC, IMAGE_VERSION, n, n_pe, 0, *_u32(total), *_u32(crc),
              int(np.prod(first)), em.classes, code_field]
    header += [0] * (HEADER_WORDS - len(header))
    return np.array(header, dtype=np.uint16).astype("<u2").tobytes() + tail.astype("<u2").tobytes()


def _need(cond: bool, msg: str):
    if not cond:
        raise ImageError(msg)


def read_image(data: bytes) -> EngineImage:
    """Validate a memory image (magic, version, size, CRC, every field and address)
    and give back its layers' integers. Raises ``ImageError`` with one line."""
    _need(len(data) % 2 == 0 and len(data) >= 2 * HEADER_WORDS,
          f"image of {len(data)} bytes is too short or odd")
    w = np.frombuffer(data, dtype="<u2").astype(np.int64)
    _need(tuple(w[:2]) == IMAGE_MAGIC, "not a Zipcore memory image (bad magic)")
    _need(w[2] == IMAGE_VERSION, f"unsupported image version {w[2]} (this reader reads "
          f"{IMAGE_VERSION})")
    n, n_pe, total = int(w[3]), int(w[4]), int(w[6] | w[7] << 16)
    _need(total == len(w), f"image says {total} words but holds {len(w)}")
    _need(1 <= n_pe <= 256 and n >= 1, f"bad header: {n} layers, {n_pe} PEs")
    field = int(w[12])
    _need(1 <= field <= 7, f"bad header: entry code field of {field} bits")
    _need(HEADER_WORDS + DESC_WORDS * n <= total, "layer table runs past the end")
    crc = zlib.crc32(np.asarray(w[HEADER_WORDS:], dtype="<u2").tobytes())
    _need(crc == int(w[8] | w[9] << 16), "image CRC mismatch")

    def u32(a):
        return int(w[a] | w[a + 1] << 16)

    def block(addr, count, what, i):
        _need(HEADER_WORDS + DESC_WORDS * n <= addr and addr + count <= total,
              f"layer {i}: {what} outside the image")
        return w[addr:addr + count]

    layers, storage, code_bits = [], [], []
    inv_kind = {v: k for k, v in KIND.items()}
    inv_storage = {v: k for k, v in STORAGE.items()}
    for i in range(n):
        d = w[HEADER_WORDS + DESC_WORDS * i:][:DESC_WORDS]
        _need(int(d[0]) in inv_kind and int(d[1]) in inv_storage,
              f"layer {i}: unknown kind {d[0]} or storage {d[1]}")
        kind, st = inv_kind[int(d[0])], inv_storage[int(d[1])]
        relu, inp, out = bool(d[2] & 1), int(d[3]), int(d[4])
        c, h, wd, kh, kw, stride, pad, pool, cb_bits = (int(v) for v in d[5:14])
        cb_base, col_base, _, bias_base, rq_base, bits_base = (
            u32(HEADER_WORDS + DESC_WORDS * i + 14 + 2 * j) for j in range(6))
        el = EngineLayer(kind, (c, h, wd) if kind != "fc" else (inp,), (), relu=relu, kh=kh,
                         kw=kw, stride=stride, pad=pad, pool=pool)
        if st == "shared":
            _need(1 <= cb_bits <= field, f"layer {i}: code_bits {cb_bits} out of range")
            cb = block(cb_base, 1 << cb_bits, "codebook", i)
            cb = np.where(cb >= 0x8000, cb - 0x10000, cb)
            wmat = np.zeros((out, inp), dtype=np.int64)
            pos = col_base
            for k in range(n_pe):
                for j in range(inp):
                    count = int(block(pos, 1, "columns", i)[0])
                    e = block(pos + 1, count, "columns", i)
                    pos += 1 + count
                    local = e >> field
                    rows = k + n_pe * local
                    code = e & ((1 << field) - 1)
                    _need(bool(np.all(rows < out)), f"layer {i}: entry row outside the matrix")
                    _need(bool(np.all(np.diff(local) > 0)),
                          f"layer {i}: entries of a column out of row order")
                    _need(bool(np.all(code < (1 << cb_bits))),
                          f"layer {i}: entry code outside the codebook")
                    wmat[rows, j] = cb[code]
            el.weights = wmat
        elif st == "binary":
            groups = -(-inp // XNOR_GROUP)
            _need(int(d[18]) == groups, f"layer {i}: {d[18]} sign groups, not "
                  f"ceil({inp} / {XNOR_GROUP}) = {groups}")
            _need(cb_bits == 0, f"layer {i}: a binary layer with code_bits {cb_bits}")
            wmat = np.zeros((out, groups * XNOR_GROUP), dtype=np.int64)
            pos = bits_base
            for k in range(n_pe):
                rows = np.arange(k, out, n_pe)
                for g in range(groups):
                    count = int(block(pos, 1, "sign words", i)[0])
                    _need(count == len(rows), f"layer {i}: PE {k} group {g} holds {count} "
                          f"sign words, not its {len(rows)} rows")
                    e = block(pos + 1, count, "sign words", i)
                    pos += 1 + count
                    _need(bool(np.all(e < 0x8000)), f"layer {i}: sign word with bit 15 set")
                    bits = (e[:, None] >> np.arange(XNOR_GROUP)) & 1
                    wmat[rows, g * XNOR_GROUP:(g + 1) * XNOR_GROUP] = np.where(bits == 1, 1, -1)
            el.weights = wmat[:, :inp]
        if st != "none":
            b = block(bias_base, 2 * out, "biases", i)
            b = b[0::2] | b[1::2] << 16
            el.bias = np.where(b >= 1 << 31, b - (1 << 32), b)
            if not d[2] & 2:
                rq = block(rq_base, 3 * out, "requantization constants", i).reshape(out, 3)
                el.multiplier, el.shift = rq[:, 0] | rq[:, 1] << 16, rq[:, 2]
                _need(bool(np.all(el.shift <= 31)), f"layer {i}: shift out of range")
        layers.append(el)
        storage.append(st)
        code_bits.append(cb_bits)
    return EngineImage(np.asarray(w, dtype=np.uint16), n_pe, layers, storage, code_bits, field)
