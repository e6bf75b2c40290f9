"""Relative-index decoder: (gap, value) entries to (absolute index, value)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import entry_layout, indexed_layout
from .params import reject

__all__ = ["RelativeIndexDecoder"]


class RelativeIndexDecoder(wiring.Component):
    """Turns EIE / Deep Compression relative indices into absolute positions.

    Each entry on ``i`` advances the position by ``gap + 1`` (the first entry
    after ``clear`` lands at ``gap``); entries with ``value == 0`` are padding
    and produce nothing, the others appear on ``o`` as ``(index, value)``.
    Throughput: one entry per cycle (padding included), with ``o.ready`` and
    ``i.valid`` both high. Latency: 1 cycle (a registered output). The index
    wraps modulo ``2**index_bits``; the writer of the stream keeps positions
    below that. ``clear`` (while no entry is being taken) restarts the
    position for a new stream. Matches ``golden.sparse.relindex_decode_1d``.

    Parameters
    ----------
    gap_bits, value_bits, index_bits : int
        Widths of the relative index, the value (code) and the absolute index.
    """

    def __init__(self, *, gap_bits: int = 4, value_bits: int = 4, index_bits: int = 16):
        for name, v, hi in (("gap_bits", gap_bits, 16), ("value_bits", value_bits, 16),
                            ("index_bits", index_bits, 32)):
            if not isinstance(v, int) or not 1 <= v <= hi:
                reject(self, f"{name} must be an integer in 1..{hi}, not {v!r}")
        self._gb, self._vb, self._ib = gap_bits, value_bits, index_bits
        super().__init__({
            "clear": In(1),
            "i": In(stream.Signature(entry_layout(gap_bits, value_bits))),
            "o": Out(stream.Signature(indexed_layout(index_bits, value_bits))),
        })

    @property
    def gap_bits(self) -> int:
        return self._gb

    def elaborate(self, platform):
        m = Module()
        # next_pos = position the next gap counts from (last position + 1).
        next_pos = Signal(self._ib)
        advance = Signal()
        m.d.comb += [advance.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(advance)]
        pos = Signal(self._ib)
        m.d.comb += pos.eq(next_pos + self.i.payload.gap)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(0)
            with m.If(self.i.valid):
                m.d.sync += next_pos.eq(pos + 1)
                with m.If(self.i.payload.value != 0):
                    m.d.sync += [self.o.valid.eq(1), self.o.payload.index.eq(pos),
                                 self.o.payload.value.eq(self.i.payload.value)]
        with m.If(self.clear & ~(advance & self.i.valid)):
            m.d.sync += next_pos.eq(0)
        return m
