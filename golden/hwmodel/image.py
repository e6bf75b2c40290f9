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

Two forms (header ``mode``):

* ``expanded`` (mode 0, version 4): the Huffman-coded entries are decoded
  once, when the image is made, into fixed-width words with per-column
  counts, from which the engine's loader builds column pointers, so a PE
  jumps straight to a column's entries and no padding entry is stored.
* ``stream`` (mode 1, version 5): each PE's entries stay Huffman-coded, cut
  at column boundaries (``golden.hwmodel.stream``), with a table of each
  column segment's length in bits from which the engine finds any column;
  biases are 16-bit and the requantization constants one record per layer
  wherever the model allows.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .. import huffman as H
from ..zcm import LEN_BITS, ZModel, pack_lengths
from . import stream as S
from .engine import EngineLayer, EngineModel, engine_model, int8_codebook

__all__ = ["IMAGE_MAGIC", "IMAGE_VERSION", "ImageError", "memory_image", "read_image",
           "EngineImage", "pe_tables", "layer_codes", "BINARY_CODEBOOK", "XNOR_GROUP",
           "sign_tables", "FORMS", "weight_memory_bits", "stream_gap_bits"]

IMAGE_MAGIC = (0x495A, 0x474D)        # "ZIMG" as two little-endian 16-bit words
IMAGE_VERSION = 4                     # the expanded form's (mode 0), which every engine loads
STREAM_VERSION = 5                    # the stream form's (mode 1)
FORMS = {"expanded": (0, IMAGE_VERSION), "stream": (1, STREAM_VERSION)}
HEADER_WORDS = 16
DESC_WORDS = 32
KIND = {"fc": 1, "conv": 2, "maxpool": 3}
STORAGE = {"none": 0, "shared": 1, "binary": 2}
# Descriptor flags (word 2).
F_RELU, F_LAST, F_BIAS16, F_RQ_LAYER = 1, 2, 4, 8
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
    form: str = "expanded"
    streams: list | None = None    # stream form: per layer its StreamLayer, or None
    entries: list | None = None    # per layer, its stored non-zero entries (0 without)


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


def _desc(el: EngineLayer, storage: str, code_bits: int, flags: int, bases: dict,
          extra: tuple = ()) -> list[int]:
    c, h, w = el.in_shape if len(el.in_shape) == 3 else (0, 0, 0)
    inp = 0 if el.weights is None else el.weights.shape[1]
    out = 0 if el.weights is None else el.weights.shape[0]
    d = [KIND[el.kind], STORAGE[storage], flags, inp, out, c, h, w,
         el.kh, el.kw, el.stride, el.pad, el.pool, code_bits]
    for key in ("codebook", "columns", "groups", "bias", "requant", "bits"):
        d += _u32(bases.get(key, 0))
    if extra:                                   # the stream form's words 26..31
        gap_bits, len_bits = extra
        d += [gap_bits, len_bits, *_u32(bases["lengths"]), *_u32(bases["table"])]
    return d + [0] * (DESC_WORDS - len(d))


def pack_code_lengths(lengths) -> list[int]:
    """A code-length table as the ``.zcm``'s 5-bit tokens (``golden.zcm.pack_lengths``:
    0..16 a length, 17..31 a run of 2..16 unused symbols), MSB first in
    16-bit words, zero padded."""
    raw = pack_lengths(np.asarray(lengths, dtype=np.int64))
    return [int.from_bytes(raw[k:k + 2].ljust(2, b"\0"), "big") for k in range(0, len(raw), 2)]


def unpack_code_lengths(words, nsym: int) -> tuple[np.ndarray, int]:
    """Inverse of ``pack_code_lengths``: the ``nsym`` lengths and the words their
    tokens take. Raises ``ImageError`` unless the tokens describe exactly
    ``nsym`` symbols and the bits after the last token are zero."""
    bits = S.stream_bits_of(words)
    out, pos = [], 0
    while len(out) < nsym:
        _need(pos + LEN_BITS <= bits.size, "code-length tokens run past their block")
        t = int((bits[pos:pos + LEN_BITS] << np.arange(LEN_BITS - 1, -1, -1)).sum())
        pos += LEN_BITS
        out.extend([t] if t <= 16 else [0] * (t - 15))
    _need(len(out) == nsym, "code-length tokens describe more symbols than the alphabet")
    used = -(-pos // S.WORD_BITS)
    _need(not bits[pos:used * S.WORD_BITS].any(), "code-length table padding is not zero")
    return np.asarray(out, dtype=np.int64), used


def _check16(v: int, what: str, i: int):
    if not 0 <= v <= 0xFFFF:
        raise ImageError(f"layer {i}: {what} {v} does not fit a 16-bit field")


def memory_image(zm: ZModel, n_pe: int, code_field: int | None = None, *,
                 binary_as_entries: bool = False, form: str = "expanded",
                 sym_bits: int = S.SYM_BITS) -> bytes:
    """The engine's memory image of ``zm`` for ``n_pe`` PEs (rows ``i % n_pe``),
    as little-endian bytes, in ``form`` ``"expanded"`` (mode 0) or ``"stream"``
    (mode 1, ``golden.hwmodel.stream``). Every shared layer's entries hold
    their code in a ``code_field``-bit field (default: the widest
    ``code_bits`` of the model), so an engine built for that width loads
    every layer. With ``binary_as_entries`` a binary layer is written as a
    shared one (``layer_codes``: codebook 0, +1, -1, every weight an entry)
    for an engine that runs it on its multipliers; the integers are the same.
    In the stream form each layer's ``gap_bits`` is ``stream.best_gap_bits``
    for the engine's ``sym_bits``-bit symbol tables (the header's word 13).
    Raises ``ImageError`` (one line) when a field does not fit, and
    ``ZcmError`` when the engine cannot run the model."""
    if not isinstance(n_pe, int) or not 1 <= n_pe <= 256:
        raise ImageError(f"n_pe must be an integer in 1..256, not {n_pe!r}")
    if form not in FORMS:
        raise ImageError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    if not isinstance(sym_bits, int) or not 2 <= sym_bits <= 12:
        raise ImageError(f"sym_bits must be an integer in 2..12, not {sym_bits!r}")
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

        flags = int(el.relu) * F_RELU | int(i == n - 1) * F_LAST
        cb_bits, storage, extra = 0, zl.storage, ()
        if el.weights is not None:
            out, inp = el.weights.shape
            _check16(inp, "input length", i)
            _check16(out, "output length", i)
            storage = "shared" if zl.storage in as_entries else zl.storage
            if storage == "shared":
                codes, cb_bits = layer_codes(zl)
                put("codebook", int8_codebook(zl)[0] if zl.storage == "shared"
                    else BINARY_CODEBOOK)
                if form == "stream":
                    extra = _put_stream(put, zl, codes, cb_bits, n_pe, i, sym_bits)
                else:
                    _put_columns(put, codes, n_pe, code_field, i)
            else:
                bases["groups"] = -(-inp // XNOR_GROUP)
                put("bits", [v for groups in sign_tables(el.weights, n_pe) for col in groups
                             for v in (len(col), *col)])
            flags |= _put_constants(put, el, compact=form == "stream")
        descs += _desc(el, storage, cb_bits, flags, bases, extra)
    total = base + len(body)
    if total > MAX_WORDS:
        raise ImageError(f"the image needs {total} words, more than {MAX_WORDS}")
    tail = np.array(descs + body, dtype=np.uint16)
    crc = zlib.crc32(tail.astype("<u2").tobytes())
    first = em.layers[0].in_shape
    mode, version = FORMS[form]
    header = [*IMAGE_MAGIC, version, n, n_pe, mode, *_u32(total), *_u32(crc),
              int(np.prod(first)), em.classes, code_field, sym_bits if form == "stream" else 0]
    header += [0] * (HEADER_WORDS - len(header))
    return np.array(header, dtype=np.uint16).astype("<u2").tobytes() + tail.astype("<u2").tobytes()


def _put_columns(put, codes, n_pe: int, code_field: int, i: int):
    """The expanded form's column block: per PE and column, a count and its entries."""
    row_bits = 15 - code_field
    most = -(-codes.shape[0] // n_pe)              # PE 0 holds the most rows
    if most > 1 << row_bits:
        raise ImageError(f"layer {i}: PE 0 holds {most} rows; a {code_field}-bit "
                         f"code leaves {row_bits} bits of row")
    columns = []
    for ptr, ents in pe_tables(codes, n_pe, code_field):
        for a, b in zip(ptr, ptr[1:]):
            columns += [b - a, *ents[a:b]]
    put("columns", columns)


def stream_gap_bits(zl, n_pe: int, sym_bits: int = S.SYM_BITS) -> int:
    """A weighted layer's ``gap_bits`` in the stream form (``stream.best_gap_bits``
    of its ``layer_codes``): what ``memory_image`` writes and the cycle model
    runs."""
    codes, cb_bits = layer_codes(zl)
    return S.best_gap_bits(codes, n_pe, cb_bits, _max_code_len(zl), sym_bits)


def _max_code_len(zl) -> int:
    return min(zl.max_code_len, S.MAX_CODE_LEN) if zl.storage == "shared" else S.MAX_CODE_LEN


def _put_stream(put, zl, codes, cb_bits: int, n_pe: int, i: int, sym_bits: int) -> tuple:
    """The stream form's blocks of a shared layer (code lengths, length table,
    the PEs' streams); returns the descriptor's ``(gap_bits, len_bits)``."""
    if cb_bits + 1 > sym_bits:
        raise ImageError(f"layer {i}: {cb_bits}-bit codes leave no gap in {sym_bits}-bit "
                         f"symbols")
    gap_bits = stream_gap_bits(zl, n_pe, sym_bits)
    try:
        sl = S.encode_layer(codes, n_pe, gap_bits=gap_bits, code_bits=cb_bits,
                            max_code_len=_max_code_len(zl))
    except S.StreamError as e:
        raise ImageError(f"layer {i}: {e}") from None
    put("lengths", pack_code_lengths(sl.lengths))
    put("table", S.length_table(sl.seg_bits, sl.len_bits))
    put("columns", [w for words in sl.streams for w in words])
    return gap_bits, sl.len_bits


def _put_constants(put, el: EngineLayer, *, compact: bool) -> int:
    """A weighted layer's biases and requantization constants; with ``compact``
    16-bit biases and one requantization record when the layer allows. Returns
    the descriptor flags that say which."""
    flags = 0
    if compact and bool(np.all((el.bias >= -(1 << 15)) & (el.bias < 1 << 15))):
        flags |= F_BIAS16
        put("bias", [int(b) & 0xFFFF for b in el.bias])
    else:
        put("bias", [w for b in el.bias for w in _u32(int(b) & 0xFFFFFFFF)])
    if el.multiplier is not None:
        rq = list(zip(el.multiplier, el.shift))
        if compact and len(set(rq)) == 1:
            flags |= F_RQ_LAYER
            rq = rq[:1]
        put("requant", [w for m, s in rq for w in (*_u32(int(m)), int(s))])
    return flags


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
    forms = {version: (mode, name) for name, (mode, version) in FORMS.items()}
    _need(int(w[2]) in forms, f"unsupported image version {w[2]} (this reader reads "
          f"{', '.join(str(v) for v in sorted(forms))})")
    mode, form = forms[int(w[2])]
    _need(int(w[5]) == mode, f"image version {w[2]} with mode {w[5]}, not {mode}")
    sym_bits = int(w[13])
    _need(2 <= sym_bits <= 12 if form == "stream" else sym_bits == 0,
          f"bad header: {sym_bits}-bit symbols in the {form} form")
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

    layers, storage, code_bits, streams, entries = [], [], [], [], []
    inv_kind = {v: k for k, v in KIND.items()}
    inv_storage = {v: k for k, v in STORAGE.items()}
    for i in range(n):
        d = w[HEADER_WORDS + DESC_WORDS * i:][:DESC_WORDS]
        _need(int(d[0]) in inv_kind and int(d[1]) in inv_storage,
              f"layer {i}: unknown kind {d[0]} or storage {d[1]}")
        kind, st = inv_kind[int(d[0])], inv_storage[int(d[1])]
        flags, inp, out = int(d[2]), int(d[3]), int(d[4])
        relu = bool(flags & F_RELU)
        _need(form == "stream" or flags & (F_BIAS16 | F_RQ_LAYER) == 0,
              f"layer {i}: flags {flags:#x} of the stream form in an expanded image")
        c, h, wd, kh, kw, stride, pad, pool, cb_bits = (int(v) for v in d[5:14])
        cb_base, col_base, _, bias_base, rq_base, bits_base = (
            u32(HEADER_WORDS + DESC_WORDS * i + 14 + 2 * j) for j in range(6))
        el = EngineLayer(kind, (c, h, wd) if kind != "fc" else (inp,), (), relu=relu, kh=kh,
                         kw=kw, stride=stride, pad=pad, pool=pool)
        streams.append(None)
        entries.append(0)
        if st == "shared" and form == "stream":
            _need(1 <= cb_bits <= field, f"layer {i}: code_bits {cb_bits} out of range")
            cb = block(cb_base, 1 << cb_bits, "codebook", i)
            cb = np.where(cb >= 0x8000, cb - 0x10000, cb)
            streams[-1] = sl = _read_stream_layer(w, d, n_pe, inp, cb_bits, i, block)
            _need(sl.gap_bits + cb_bits <= sym_bits,
                  f"layer {i}: {sl.gap_bits + cb_bits}-bit symbols in {sym_bits}-bit tables")
            el.weights, entries[-1] = _stream_weights(sl, cb, out, n_pe, i)
        elif st == "shared":
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
                    entries[-1] += count
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
            if flags & F_BIAS16:
                b = block(bias_base, out, "biases", i)
                el.bias = np.where(b >= 1 << 15, b - (1 << 16), b)
            else:
                b = block(bias_base, 2 * out, "biases", i)
                b = b[0::2] | b[1::2] << 16
                el.bias = np.where(b >= 1 << 31, b - (1 << 32), b)
            if not flags & F_LAST:
                records = 1 if flags & F_RQ_LAYER else out
                rq = block(rq_base, 3 * records, "requantization constants", i)
                rq = np.broadcast_to(rq.reshape(records, 3), (out, 3))
                el.multiplier, el.shift = rq[:, 0] | rq[:, 1] << 16, rq[:, 2].copy()
                _need(bool(np.all(el.shift <= 31)), f"layer {i}: shift out of range")
        layers.append(el)
        storage.append(st)
        code_bits.append(cb_bits)
    return EngineImage(np.asarray(w, dtype=np.uint16), n_pe, layers, storage, code_bits, field,
                       form, streams if form == "stream" else None, entries)


def _read_stream_layer(w, d, n_pe: int, inp: int, cb_bits: int, i: int, block) -> S.StreamLayer:
    """A stream-form layer's code lengths, length table and streams, checked."""
    gap_bits, len_bits = int(d[26]), int(d[27])
    _need(1 <= gap_bits <= 8 and gap_bits + cb_bits <= 12,
          f"layer {i}: gap_bits {gap_bits} out of range")
    _need(1 <= len_bits <= S.MAX_LEN_BITS, f"layer {i}: length field of {len_bits} bits")
    lens_base, table_base = (int(d[k] | d[k + 1] << 16) for k in (28, 30))
    nsym = 1 << (gap_bits + cb_bits)
    # At most one token per symbol; the block is as long as its tokens.
    most = min(-(-nsym * LEN_BITS // S.WORD_BITS), len(w) - lens_base)
    raw = block(lens_base, max(most, 1), "code lengths", i)
    try:
        lengths, _ = unpack_code_lengths(raw, nsym)
    except ImageError as e:
        raise ImageError(f"layer {i}: {e}") from None
    try:
        H.check_lengths(lengths, S.MAX_CODE_LEN)
    except H.HuffmanError as e:
        raise ImageError(f"layer {i}: {e}") from None
    table = block(table_base, -(-n_pe * inp * len_bits // S.WORD_BITS), "length table", i)
    seg = S.unpack_length_table(table, n_pe, inp, len_bits)
    _need(not S.stream_bits_of(table)[n_pe * inp * len_bits:].any(),
          f"layer {i}: length table padding bits are not zero")
    col_base = int(d[16] | d[17] << 16)
    streams, pos = [], col_base
    for k in range(n_pe):
        words = -(-int(seg[k].sum()) // S.WORD_BITS)
        streams.append([int(v) for v in block(pos, words, "stream", i)])
        pos += words
    return S.StreamLayer(lengths, seg, streams, len_bits, gap_bits, cb_bits,
                         int(lengths.max(initial=0)))


def _stream_weights(sl: S.StreamLayer, cb: np.ndarray, out: int, n_pe: int,
                    i: int) -> tuple[np.ndarray, int]:
    """The weights a stream-form layer's segments decode to, and its entries."""
    inp = sl.seg_bits.shape[1]
    wmat = np.zeros((out, inp), dtype=np.int64)
    count = 0
    for k in range(n_pe):
        bits = S.stream_bits_of(sl.streams[k])
        rows = len(range(k, out, n_pe))
        offsets = np.concatenate([[0], np.cumsum(sl.seg_bits[k])])
        _need(not bits[offsets[-1]:].any(), f"layer {i}: PE {k}'s stream padding is not zero")
        for j in range(inp):
            try:
                ents = S.decode_segment(bits, int(offsets[j]), int(sl.seg_bits[k, j]),
                                        sl.lengths, gap_bits=sl.gap_bits,
                                        code_bits=sl.code_bits, rows=rows)
            except S.StreamError as e:
                raise ImageError(f"layer {i}: PE {k} column {j}: {e}") from None
            for r, c in ents:
                _need(c < len(cb), f"layer {i}: entry code outside the codebook")
                wmat[k + n_pe * r, j] = cb[c]
            count += len(ents)
    return wmat, count


def weight_memory_bits(img: EngineImage, pointer_bits: int = 16,
                       len_field: int | None = None) -> dict:
    """What the engine keeps on chip for the weights of ``img``'s shared layers,
    in bits, and per non-zero weight: expanded, a 16-bit entry per non-zero and
    a ``pointer_bits`` column pointer per PE and column; stream, the PEs'
    streams (each padded to a word), the length table (each field
    ``len_field`` bits wide, as the engine's length memories hold it; by
    default the layer's ``len_bits``) and each PE's 16-bit stream base per
    layer. Code tables and codebooks are not counted (neither form has more
    than one per layer)."""
    nnz = entries = table = 0
    for k, (el, st) in enumerate(zip(img.layers, img.storage)):
        if st != "shared":
            continue
        nnz += img.entries[k]
        if img.form == "stream":
            sl = img.streams[k]
            entries += sl.stream_bits
            fields = img.n_pe * el.weights.shape[1]
            table += (sl.table_bits if len_field is None else fields * len_field)
            table += 16 * img.n_pe
        else:
            entries += 16 * img.entries[k]
            table += pointer_bits * img.n_pe * el.weights.shape[1]
    return {"form": img.form, "nonzero": nnz, "entry_bits": entries, "pointer_bits": table,
            "bits_per_nonzero": (entries + table) / nnz if nnz else 0.0}
