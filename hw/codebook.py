"""Codebook lookup: a loadable table of shared weights."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import indexed_layout, weighted_layout
from .params import reject

__all__ = ["CodebookLookup"]


class CodebookLookup(wiring.Component):
    """Maps ``(index, code)`` to ``(index, weight)`` through a ``k``-entry table.

    The table (``k = 2**code_bits`` entries of signed ``weight_bits``-bit fixed
    point, up to 256 entries) is written at run time through ``we``, ``waddr``,
    ``wdata``. It is a synchronous-read memory, so Yosys maps it to block RAM
    (one EBR on iCE40 up to 256 x 16) where that is cheaper than LUTs.
    Throughput: one lookup per cycle; latency: 1 cycle. Under back-pressure
    the read port is disabled, so the output holds (stream rules). A lookup
    taken in the cycle of a write to its entry sees the new weight (the read
    port is transparent to the write port). Matches
    ``codebook[codes]`` in NumPy.

    Parameters
    ----------
    code_bits : int
        1..8.
    weight_bits : int
        8 or 16.
    index_bits : int
        Width of the position carried alongside.
    """

    def __init__(self, *, code_bits: int = 4, weight_bits: int = 8, index_bits: int = 16):
        if not isinstance(code_bits, int) or not 1 <= code_bits <= 8:
            reject(self, f"code_bits must be an integer in 1..8, not {code_bits!r}")
        if weight_bits not in (8, 16):
            reject(self, f"weight_bits must be 8 or 16, not {weight_bits!r}")
        if not isinstance(index_bits, int) or not 1 <= index_bits <= 32:
            reject(self, f"index_bits must be an integer in 1..32, not {index_bits!r}")
        self._cb, self._wb, self._ib = code_bits, weight_bits, index_bits
        super().__init__({
            "we": In(1),
            "waddr": In(code_bits),
            "wdata": In(signed(weight_bits)),
            "i": In(stream.Signature(indexed_layout(index_bits, code_bits))),
            "o": Out(stream.Signature(weighted_layout(index_bits, weight_bits))),
        })

    @property
    def code_bits(self) -> int:
        return self._cb

    def elaborate(self, platform):
        m = Module()
        m.submodules.weights = table = Memory(shape=signed(self._wb), depth=1 << self._cb,
                                            init=[])
        wr = table.write_port()
        rd = table.read_port(transparent_for=(wr,))
        m.d.comb += [wr.en.eq(self.we), wr.addr.eq(self.waddr), wr.data.eq(self.wdata)]
        advance = Signal()
        m.d.comb += [advance.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(advance),
                     rd.en.eq(advance), rd.addr.eq(self.i.payload.value),
                     self.o.payload.weight.eq(rd.data)]
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(self.i.valid),
                         self.o.payload.index.eq(self.i.payload.index)]
        return m
