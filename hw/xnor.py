"""XNOR-popcount: binary dot products, W weight/activation bit pairs per lane per cycle."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.compute import xnor_acc_bits

from .layouts import lanes_layout
from .params import reject

__all__ = ["XnorPopcount"]


class XnorPopcount(wiring.Component):
    """``lanes`` binary dot products of ``width`` (weight bit, activation bit)
    pairs per lane per transfer; a bit 1 stands for +1 and 0 for -1.

    Each transfer on ``i`` carries ``w[k]`` and ``a[k]`` (``width`` bits per
    lane) and ``last``; after the ``last`` transfer of a dot product ``o``
    carries, per lane, ``2 * popcount(xnor(w, a)) - n`` summed over the
    transfers (``n = width`` per transfer), the value of
    ``golden.hwmodel.compute.xnor_popcount``. Padding with 0 bits in both
    operands adds +1 per padded bit (fold it into the threshold).

    Datapath: bit pairs are reduced two at a time by LUTs that take both
    weight and both activation bits (one LUT per binary MAC), then a
    registered adder tree (one level per stage), then a per-lane accumulator
    of ``popcount - width/2``, which is half the result, so the output is that
    accumulator shifted left by one (no extra adder). Latency from the
    ``last`` transfer to ``o``: ``log2(width) + 1`` cycles; throughput one
    transfer per cycle while ``o`` is ready or empty (the pipeline holds while
    a result waits). Results of up to ``max_len`` transfers are exact; longer
    ones wrap modulo ``2**acc_bits``.

    Parameters
    ----------
    width : int
        Bit pairs per lane per transfer: a power of two, 4..1024.
    lanes : int
        Independent dot products, 1..64.
    max_len : int
        Longest dot product in transfers.
    """

    def __init__(self, *, width: int = 64, lanes: int = 4, max_len: int = 64):
        if not isinstance(width, int) or width < 4 or width > 1024 or width & (width - 1):
            reject(self, f"width must be a power of two in 4..1024, not {width!r}")
        if not isinstance(lanes, int) or not 1 <= lanes <= 64:
            reject(self, f"lanes must be an integer in 1..64, not {lanes!r}")
        if not isinstance(max_len, int) or not 1 <= max_len <= 1 << 20:
            reject(self, f"max_len must be an integer in 1..2**20, not {max_len!r}")
        self._w, self._lanes, self._max_len = width, lanes, max_len
        self._acc = xnor_acc_bits(width, max_len)
        super().__init__({
            "i": In(stream.Signature(lanes_layout(unsigned(width), unsigned(width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self._acc), lanes))),
        })

    @property
    def acc_bits(self) -> int:
        return self._acc

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def width(self) -> int:
        return self._w

    @property
    def latency(self) -> int:
        return self._w.bit_length()

    def elaborate(self, platform):
        m = Module()
        W, L = self._w, self._lanes
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]

        # valid/last travel with the data through one register per tree level.
        levels = W.bit_length() - 1           # pair stage + (levels - 1) adder levels
        valid = [Signal(name=f"v{s}") for s in range(levels)]
        last = [Signal(name=f"l{s}") for s in range(levels)]
        with m.If(en):
            m.d.sync += [valid[0].eq(self.i.valid), last[0].eq(self.i.payload.last)]
            for s in range(1, levels):
                m.d.sync += [valid[s].eq(valid[s - 1]), last[s].eq(last[s - 1])]

        clear = Signal(init=1)
        with m.If(en):
            m.d.sync += self.o.valid.eq(valid[-1] & last[-1])
            with m.If(valid[-1]):
                m.d.sync += clear.eq(last[-1])

        for k in range(L):
            w, a = self.i.payload.w[k], self.i.payload.a[k]
            # Stage 0: two bit pairs -> a 2-bit count, as plain logic so each output
            # bit is one LUT4 of (w0, a0, w1, a1).
            row = []
            for j in range(0, W, 2):
                x0 = ~(w[j] ^ a[j])
                x1 = ~(w[j + 1] ^ a[j + 1])
                s = Signal(2, name=f"c{k}_{j // 2}")
                with m.If(en):
                    m.d.sync += s.eq(Cat(x0 ^ x1, x0 & x1))
                row.append(s)
            # Adder tree, registered per level.
            lvl = 1
            while len(row) > 1:
                nxt = []
                for j in range(0, len(row), 2):
                    s = Signal(len(row[j]) + 1, name=f"t{k}_{lvl}_{j // 2}")
                    with m.If(en):
                        m.d.sync += s.eq(row[j] + row[j + 1])
                    nxt.append(s)
                row, lvl = nxt, lvl + 1
            count = row[0]                             # popcount, 0..W
            acc = Signal(signed(self._acc - 1), name=f"acc{k}")
            # popcount - W/2 without an adder: with count = t * W/2 + r (t in 0..2),
            # it is r plus (t - 1) * W/2, and t - 1 as a 2-bit signed value is
            # (~t0, ~t0 & ~t1).
            hb = W.bit_length() - 2                    # log2(W / 2)
            t0, t1 = count[hb], count[hb + 1]
            delta = Cat(count[:hb], ~t0, ~t0 & ~t1).as_signed()
            # The clear lands on the adder LUTs' free input: clear ? delta : acc + delta.
            with m.If(en & valid[-1]):
                m.d.sync += acc.eq(Mux(clear, delta, acc + delta))
            m.d.comb += self.o.payload[k].eq(acc << 1)
        return m
