"""Cycle model of the engine's sparse matrix-vector phase (EIE's scheme).

Fast enough to explore N, queue depth and sparsity without RTL, and exact for
the timing contract below, which the engine RTL implements; ``bench/engine``
compares the two.

Timing contract of one sparse, weight-shared fully connected layer (a
convolution runs it once per output position, on that position's patch):

* Row ``i`` belongs to PE ``i % N``; PE ``k`` stores its rows' entries column
  by column (the ``.zcm`` order), padding entries included.
* A scanner examines one input activation per cycle, in index order. A
  non-zero one is pushed into all N per-PE queues in the cycle it is
  examined, if every queue has room; otherwise the scanner waits. Zero
  activations take their examining cycle and nothing else.
* A queue holds ``depth`` activations. An activation pushed in cycle ``c``
  can be popped from cycle ``c + 1``; a slot freed by a pop in cycle ``c``
  takes a push from cycle ``c + 1``.
* A PE pops an activation when it has finished the previous one and then
  spends ``max(1, e)`` cycles on it, one entry per cycle, where ``e`` is:
  ``"expanded"`` mode (the memory image's fixed-width (row, code) entries with
  column pointers, the iCE40 configuration): its non-zero weights in that
  column, as the image has no padding entries; ``"sequential"`` mode (the
  ``.zcm``'s own run-on stream decoded on the fly, which cannot jump; for
  comparison: the stream form below restarts at columns instead): its stored
  entries, padding included, in every column from the one after the previous
  non-zero activation's up to this one, since the entries of skipped columns
  must still be decoded and dropped.
* The phase ends in the cycle after the last PE's last entry (``mac_cycles``).
* ``pipelined`` PEs (the ECP5 configuration, whose memories' outputs all go
  into flip-flops) fetch column pointers ahead, two activations deep: a PE
  pops an activation once its pointer stage (A) is empty or passing its
  activation on; A passes it to the next stage (B) from the cycle after the
  pop, once B is empty or starting its column; B starts its column from the
  cycle after that, once the previous column is done. A column's ``max(1,
  e)`` cycles count from its start, not from its pop.

The *stream form* (``segment_cycles``; ``golden.hwmodel.stream``: each PE's
entries Huffman-coded in column segments, the engine's ECP5 configuration)
keeps the scanner and queues above; a non-zero activation reaches PE ``k``
with the bit offset and length of its segment of that column, which holds
``e`` symbols (entries, padding included). A PE:

* takes an activation from its queue in cycle ``c`` (at the earliest the
  cycle after its push and after its previous take) if its fetch stage M is
  empty during ``c`` or passes its column on in ``c``; an activation whose
  segment is empty ends there. A non-empty one is read from the stream
  memory in ``c`` and sits in M from ``c + 1``, in P1 (its words
  registered) from the cycle after it leaves M, in R (its first window
  aligned) from the cycle after it leaves P1; each moves on at the end of a
  cycle in which the next stage is empty or passes its own on.
* decodes with two *slots* that take turns: in every cycle one slot is in
  its decode step (the other shifting), so each slot steps every other
  cycle. A slot with no column left takes R's in the cycle of its step,
  decodes that column's first symbol in it, and one symbol in each of its
  next ``e - 1`` steps; it can take the next column in the step after the
  last symbol. Which slot steps in the cycle after ``start`` does not
  matter: both are idle then.
* is done in the cycle after its last decode step. (An empty segment's take
  never ends the phase later than the scanner: it waits only behind a
  column that decodes after it, or comes the cycle after its push.)

Its useful MACs are the non-padding entries of the non-zero activations'
segments; the ideal is unchanged.

A binary layer on the XNOR path (``xnor_cycles``; an engine built with
``xnor``) stores, per PE and group of ``XNOR_GROUP`` = 15 inputs, one sign
word per row of the PE. Its scanner examines one activation per cycle into
eight bit planes (two's complement: plane 7 weighs -128); the cycle it
examines a group's last activation it hands the group's non-zero planes to
an emit buffer, once that buffer is empty or pushes its last plane in that
cycle (else it waits), and the buffer pushes one plane per cycle from the
next cycle on, lowest plane first, when every queue has room. A PE spends
``max(1, r)`` cycles on a plane, ``r`` its rows (a sign word each). Its
useful MACs are the sign words so taken (each one XNOR-popcount of up to 15
inputs' bits).

Useful MACs are stored non-zero weights times non-zero activations; the ideal
is ``ceil(useful / N)`` cycles and the utilisation ``useful / (N *
mac_cycles)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sparse import relindex_encode_1d
from .image import XNOR_GROUP
from .stream import segment_entries

__all__ = ["PhaseCycles", "column_entries", "spmv_cycles", "layer_cycles", "model_cycles",
           "xnor_cycles", "segment_cycles", "segment_symbols"]

MODES = ("expanded", "sequential")


@dataclass
class PhaseCycles:
    mac_cycles: int
    useful_macs: int
    entries: int              # entries the PEs went through, padding and skipped included
    n_pe: int
    phases: int = 1           # products run (a convolution's: one per output position)

    @property
    def ideal(self) -> int:
        return -(-self.useful_macs // self.n_pe)

    @property
    def utilisation(self) -> float:
        return self.useful_macs / (self.n_pe * self.mac_cycles) if self.mac_cycles else 0.0

    def __add__(self, other: PhaseCycles) -> PhaseCycles:
        return PhaseCycles(self.mac_cycles + other.mac_cycles,
                           self.useful_macs + other.useful_macs,
                           self.entries + other.entries, self.n_pe,
                           self.phases + other.phases)


def column_entries(codes: np.ndarray, n_pe: int, gap_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per PE and input column: stored entries (padding included) and real
    (non-zero) entries, each an ``(n_pe, inp)`` array."""
    codes = np.asarray(codes)
    _, inp = codes.shape
    stored = np.zeros((n_pe, inp), dtype=np.int64)
    real = np.zeros((n_pe, inp), dtype=np.int64)
    for k in range(n_pe):
        local = codes[k::n_pe, :]
        rows = local.shape[0]
        if rows == 0:
            continue
        gaps, _ = relindex_encode_1d(local.ravel(order="F"), gap_bits)
        pos = np.cumsum(gaps + 1) - 1                   # column-major position of each entry
        stored[k] = np.bincount(pos // rows, minlength=inp)[:inp]
        real[k] = np.count_nonzero(local, axis=0)
    return stored, real


def _nonzero_columns(x, inp: int, depth) -> np.ndarray:
    """The non-zero activations' columns, after checking ``x`` and ``depth``."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"queue depth must be a positive integer, not {depth!r}")
    x = np.asarray(x).ravel()
    if x.shape != (inp,):
        raise ValueError(f"{inp} activations expected, not {x.size}")
    return np.flatnonzero(x)


def spmv_cycles(stored: np.ndarray, real: np.ndarray, x: np.ndarray, *, depth: int,
                mode: str = "expanded", pipelined: bool = False) -> PhaseCycles:
    """Cycles of one matrix-vector product under the timing contract, for the
    per-PE column entry counts of ``column_entries`` and activations ``x``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    n_pe, inp = stored.shape
    cols = _nonzero_columns(x, inp, depth)
    if mode == "expanded":
        cost = np.maximum(real[:, cols], 1)
    else:
        csum = np.concatenate([np.zeros((n_pe, 1), np.int64), np.cumsum(stored, axis=1)], axis=1)
        prev = np.concatenate([[-1], cols[:-1]])
        cost = np.maximum(csum[:, cols + 1] - csum[:, prev + 1], 1)
    T = len(cols)
    if T == 0:
        return PhaseCycles(inp, 0, 0, n_pe)
    pes = _PEs(n_pe, T, depth, pipelined)
    push_prev, col_prev = -1, -1
    for t, j in enumerate(cols):
        push = pes.push(t, push_prev + (j - col_prev) if t else int(j), cost[:, t])
        push_prev, col_prev = push, j
    end = int(pes.free.max())
    # The scanner still examines the activations after the last non-zero one.
    end = max(end, push_prev + (inp - col_prev))
    useful = int(real[:, cols].sum())
    return PhaseCycles(end, useful, int(cost.sum()), n_pe)


class _PEs:
    """The queues and PEs of the timing contract: ``push`` an item no earlier
    than a cycle, as queue room allows; returns the cycle it was pushed."""

    def __init__(self, n_pe: int, items: int, depth: int, pipelined: bool):
        self.pop = np.zeros((n_pe, items), dtype=np.int64)
        self.free = np.zeros(n_pe, dtype=np.int64)      # cycle each PE's next column can start
        self.moved = np.zeros(n_pe, dtype=np.int64)     # (pipelined) A passed its last one on
        self.started = np.zeros(n_pe, dtype=np.int64)   # (pipelined) B started its last one
        self.depth, self.pipelined = depth, pipelined

    def push(self, t: int, earliest: int, cost: np.ndarray) -> int:
        push = earliest
        if t >= self.depth:
            push = max(push, int(self.pop[:, t - self.depth].max()) + 1)
        if self.pipelined:
            p = np.maximum(self.moved, push + 1)
            self.moved = np.maximum(p + 1, self.started)
            self.started = np.maximum(self.moved + 1, self.free)
            self.free = self.started + cost
        else:
            p = np.maximum(self.free, push + 1)
            self.free = p + cost
        self.pop[:, t] = p
        return push


class _SegmentPEs:
    """The PEs of the stream form's contract (above): ``push`` as ``_PEs.push``,
    with ``symbols`` per PE (0: an empty segment)."""

    def __init__(self, n_pe: int, items: int, depth: int):
        self.pop = np.zeros((n_pe, items), dtype=np.int64)
        never = -(1 << 40)
        self.take = np.full(n_pe, never)        # each PE's last take
        self.mleave = np.full(n_pe, never)      # ... its last column's cycle leaving M
        self.pleave = np.full(n_pe, never)      # ... leaving P1
        self.started = np.full(n_pe, never)     # ... leaving R (taken by a slot)
        self.slot_free = np.zeros((n_pe, 2), dtype=np.int64)   # slot p steps in cycles of parity p
        self.end = np.zeros(n_pe, dtype=np.int64)
        self.depth = depth

    def push(self, t: int, earliest: int, symbols: np.ndarray) -> int:
        push = earliest
        if t >= self.depth:
            push = max(push, int(self.pop[:, t - self.depth].max()) + 1)
        for k, e in enumerate(int(v) for v in symbols):
            take = max(push + 1, int(self.take[k]) + 1, int(self.mleave[k]))
            self.take[k] = self.pop[k, t] = take
            self.end[k] = max(self.end[k], take)
            if e == 0:
                continue
            self.mleave[k] = max(take + 1, int(self.pleave[k]))
            self.pleave[k] = max(int(self.mleave[k]) + 1, int(self.started[k]))
            ready = int(self.pleave[k]) + 1
            # The first cycle from ``ready`` on in which the stepping slot is free.
            start = min(c + ((p - c) & 1) for p in (0, 1)
                        for c in [max(ready, int(self.slot_free[k, p]))])
            self.started[k] = start
            self.slot_free[k, start & 1] = start + 2 * e
            self.end[k] = max(self.end[k], start + 2 * (e - 1) + 1)
        return push


def segment_symbols(codes: np.ndarray, n_pe: int, gap_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per PE and input column of the stream form: the symbols of its segment
    (padding included) and its non-zero entries, each an ``(n_pe, inp)`` array
    (``golden.hwmodel.stream.segment_entries``)."""
    inp = np.asarray(codes).shape[1]
    seg, _, _, pads = segment_entries(codes, n_pe, gap_bits)
    real = np.bincount(seg, minlength=n_pe * inp).reshape(n_pe, inp)
    return real + pads, real


def segment_cycles(symbols: np.ndarray, real: np.ndarray, x: np.ndarray, *,
                   depth: int) -> PhaseCycles:
    """Cycles of one matrix-vector product in the stream form (the contract
    above), for the per-PE segment symbol and entry counts of
    ``segment_symbols`` and activations ``x``."""
    n_pe, inp = symbols.shape
    cols = _nonzero_columns(x, inp, depth)
    if len(cols) == 0:
        return PhaseCycles(inp, 0, 0, n_pe)
    pes = _SegmentPEs(n_pe, len(cols), depth)
    push_prev, col_prev = -1, -1
    for t, j in enumerate(cols):
        push = pes.push(t, push_prev + (j - col_prev) if t else int(j), symbols[:, j])
        push_prev, col_prev = push, j
    end = max(int(pes.end.max()), push_prev + (inp - col_prev))
    return PhaseCycles(end, int(real[:, cols].sum()), int(symbols[:, cols].sum()), n_pe)


def xnor_cycles(rows: np.ndarray, x: np.ndarray, *, depth: int,
                pipelined: bool = False) -> PhaseCycles:
    """Cycles of one binary layer on the XNOR path (above), for ``rows`` per PE
    (an ``(n_pe,)`` array) and int8 activations ``x``."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"queue depth must be a positive integer, not {depth!r}")
    rows = np.asarray(rows, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64).ravel()
    inp, n_pe = x.size, rows.size
    planes = ((x & 0xFF)[:, None] >> np.arange(8)) & 1          # (inp, 8)
    groups = -(-inp // XNOR_GROUP)
    nz = [np.flatnonzero(planes[g * XNOR_GROUP:(g + 1) * XNOR_GROUP].any(axis=0))
          for g in range(groups)]
    pes = _PEs(n_pe, sum(len(k) for k in nz), depth, pipelined)
    cost = np.maximum(rows, 1)
    t, exam, last_push, hand = 0, 0, -1, -1
    for g in range(groups):
        n = min(XNOR_GROUP, inp - g * XNOR_GROUP)
        hand = max(exam + n - 1, last_push)        # the group's hand-off to the buffer
        exam, prev = hand + 1, hand
        for _ in nz[g]:
            prev = last_push = pes.push(t, prev + 1, cost)
            t += 1
    end = max(int(pes.free.max()), hand + 1)
    return PhaseCycles(end, t * int(rows.sum()), t * int(cost.sum()), n_pe)


def layer_cycles(codes: np.ndarray, x: np.ndarray, *, n_pe: int, depth: int, gap_bits: int,
                 mode: str = "expanded", pipelined: bool = False) -> PhaseCycles:
    """The matrix-vector phase of a fully connected layer (``x``: ``(inp,)``) or of
    a convolution lowered by im2col (``x``: ``(positions, inp)``, one product per
    position, back to back)."""
    stored, real = column_entries(codes, n_pe, gap_bits)
    x = np.asarray(x)
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    total = None
    for r in rows:
        c = spmv_cycles(stored, real, r, depth=depth, mode=mode, pipelined=pipelined)
        total = c if total is None else total + c
    return total


_SYMBOLS: dict = {}


def _layer_symbols(zl, codes, n_pe: int, sym_bits: int, gap_of):
    """``segment_symbols`` of a layer at its stream-form gap width, kept for
    the next input of the same layer (keyed by the layer object, held so its
    id is not reused; the last 16 layers)."""
    key = (id(zl), n_pe, sym_bits)
    if key not in _SYMBOLS:
        if len(_SYMBOLS) >= 16:
            _SYMBOLS.pop(next(iter(_SYMBOLS)))
        _SYMBOLS[key] = (zl, segment_symbols(codes, n_pe, gap_of(zl, n_pe, sym_bits)))
    return _SYMBOLS[key][1]


def model_cycles(zm, xq: np.ndarray, *, n_pe: int, depth: int,
                 pipelined: bool = False, xnor: bool = False,
                 form: str = "expanded", sym_bits: int | None = None) -> list[PhaseCycles]:
    """The sparse phase of every weighted layer of ``zm`` (a ``ZModel`` of fully
    connected layers, shared or binary as entries, and shared convolutions, as
    the engine runs it from its memory image of ``form`` ``"expanded"`` or
    ``"stream"``, whose weighted layers are ``segment_cycles``'s, with the gaps
    ``golden.hwmodel.image.stream_gap_bits`` gives for ``sym_bits``) on one
    int8 input ``xq``: each
    layer's input is the previous layer's output of ``golden.hwmodel.engine``;
    a convolution's products are one per output position, on its im2col
    patches (``phases`` of them). A stored code counts as a MAC even when its
    int8 codebook value is 0, as the engine issues it. With ``xnor`` binary
    layers run on the XNOR path (``xnor_cycles``), else as entries."""
    from .engine import _im2col, engine_model, layer_forward  # noqa: PLC0415
    from .image import layer_codes, stream_gap_bits  # noqa: PLC0415
    from .stream import SYM_BITS  # noqa: PLC0415

    em = engine_model(zm)
    x = np.asarray(xq, dtype=np.int64).reshape(1, -1)
    out = []
    for zl, el in zip(zm.layers, em.layers):
        if el.weights is not None and xnor and zl.storage == "binary":
            out.append(xnor_cycles([len(range(k, el.weights.shape[0], n_pe))
                                    for k in range(n_pe)], x[0], depth=depth,
                                   pipelined=pipelined))
        elif el.weights is not None:
            codes, _ = layer_codes(zl)
            v = x[0]
            if el.kind == "conv":
                v = _im2col(x.reshape((1,) + tuple(el.in_shape)), el.kh, el.kw, el.stride,
                            el.pad)[0]
            if form == "stream":
                sym, real = _layer_symbols(zl, codes, n_pe, sym_bits or SYM_BITS,
                                           stream_gap_bits)
                rows = v.reshape(1, -1) if v.ndim == 1 else v
                phases = [segment_cycles(sym, real, r, depth=depth) for r in rows]
                out.append(sum(phases[1:], phases[0]))
            else:
                out.append(layer_cycles(codes, v, n_pe=n_pe, depth=depth, gap_bits=16,
                                        pipelined=pipelined))
        x = layer_forward(el, x)
    return out
