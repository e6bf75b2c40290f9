"""Bitmask decoder: a mask stream and a value stream to (index, value)."""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import indexed_layout
from .params import reject

__all__ = ["BitmaskDecoder"]


class BitmaskDecoder(wiring.Component):
    """Decodes the bitmask sparse format (``golden.sparse.bitmask_encode``).

    ``mask`` carries ``word_width``-bit words of the position mask, first
    position in the MSB; ``values`` carries the non-zero values in order.
    Every set bit pairs with the next value and appears on ``o`` as
    ``(index, value)``, index counting from 0 after ``clear``. Throughput:
    one non-zero per cycle while values arrive and ``o`` is ready (the next
    word loads in the cycle the current one's last bit goes out); an all-zero
    mask word costs one cycle. Latency: 1 cycle from the value to
    ``o``. Mask bits past the matrix must be 0 (as the encoder pads).

    Parameters
    ----------
    word_width : int
        Mask word width, 1..64.
    value_bits, index_bits : int
    """

    def __init__(self, *, word_width: int = 16, value_bits: int = 8, index_bits: int = 16):
        if not isinstance(word_width, int) or not 1 <= word_width <= 64:
            reject(self, f"word_width must be an integer in 1..64, not {word_width!r}")
        if not isinstance(value_bits, int) or not 1 <= value_bits <= 32:
            reject(self, f"value_bits must be an integer in 1..32, not {value_bits!r}")
        if not isinstance(index_bits, int) or not 1 <= index_bits <= 32:
            reject(self, f"index_bits must be an integer in 1..32, not {index_bits!r}")
        self._w, self._vb, self._ib = word_width, value_bits, index_bits
        super().__init__({
            "clear": In(1),
            "mask": In(stream.Signature(word_width)),
            "values": In(stream.Signature(value_bits)),
            "o": Out(stream.Signature(indexed_layout(index_bits, value_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        W = self._w
        cur = Signal(W)              # remaining set bits of the current word
        have = Signal()              # cur holds a loaded word
        base = Signal(self._ib)      # index of cur's MSB
        # Highest remaining set bit (the earliest position).
        first = Signal(range(W))
        for k in range(W):           # lowest priority first, so the MSB wins
            with m.If(cur[k]):
                m.d.comb += first.eq(W - 1 - k)
        rest = Signal(W)
        m.d.comb += rest.eq(cur & ~(Const(1 << (W - 1), W) >> first))

        advance = Signal()
        m.d.comb += advance.eq(self.o.ready | ~self.o.valid)
        emit = Signal()
        m.d.comb += emit.eq(have & (cur != 0) & self.values.valid & advance)
        m.d.comb += self.values.ready.eq(emit)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(emit)
        with m.If(emit):
            m.d.sync += [self.o.payload.index.eq(base + first),
                         self.o.payload.value.eq(self.values.payload), cur.eq(rest)]
        # A word is used up when it has no set bits left, or when its last one goes out
        # this cycle: then the next word loads in the same cycle.
        need = Signal()
        m.d.comb += [need.eq(~have | (cur == 0) | (emit & (rest == 0))),
                     self.mask.ready.eq(need)]
        with m.If(need & self.mask.valid):
            m.d.sync += [cur.eq(self.mask.payload), have.eq(1)]
            with m.If(have):
                m.d.sync += base.eq(base + W)
        with m.If(self.clear & ~(need & self.mask.valid)):
            m.d.sync += [have.eq(0), base.eq(0)]
        return m
