"""The im2col address walker: where each activation of a convolution's patch lives."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import require_int

__all__ = ["PatchWalker", "MAX_KERNEL"]

#: The largest kernel side (and, in the layer table, padding) a walk takes.
MAX_KERNEL = 15
_KBITS = MAX_KERNEL.bit_length()


class PatchWalker(wiring.Component):
    """Walks the input patch of one output position of a stride-1 convolution in
    im2col order ``(c, u, v)`` (``golden.hwmodel.engine``'s column order): the
    activation at channel ``c``, row ``iy0 + u``, column ``ix0 + v`` of a
    ``(channels, h, w)`` tensor stored channel-major from address 0.

    ``start`` presents the patch's first activation on ``addr``/``valid`` in
    the same cycle; each cycle with ``next`` (or ``start``) moves to the
    following one, presented the cycle after. ``valid`` is low where the
    patch reaches into the zero padding (``iy`` or ``ix`` outside the tensor):
    ``addr`` is then meaningless, and the reader supplies a 0. The walk never
    ends by itself: the reader counts the ``channels * kh * kw`` activations
    (it has that count, the layer's input length).

    ``org`` is the address of the patch's top-left corner, ``iy0 * w + ix0``,
    modulo ``2**addr_bits`` (negative in the padding): addresses are computed
    modulo ``2**addr_bits``, which is exact for every valid one as long as
    the tensor fits that many words. ``iy0``, ``ix0``, ``kh``, ``kw``, ``h``,
    ``w`` and ``hw`` (``h * w``) must be steady through the walk. Latency 0,
    one address per cycle, no stalls of its own; two-input adders only.

    Parameters
    ----------
    addr_bits : int
        Address width, 1..24.
    dim_bits : int
        Width of ``h`` and ``w``, 1..16 (``iy0``/``ix0`` are two bits wider,
        signed).
    """

    def __init__(self, *, addr_bits: int, dim_bits: int):
        require_int(self, "addr_bits", addr_bits, 1, 24)
        require_int(self, "dim_bits", dim_bits, 1, 16)
        self.addr_bits, self.dim_bits = addr_bits, dim_bits
        super().__init__({
            "start": In(1), "next": In(1),
            "org": In(addr_bits), "iy0": In(signed(dim_bits + 2)),
            "ix0": In(signed(dim_bits + 2)),
            "kh": In(_KBITS), "kw": In(_KBITS), "h": In(dim_bits), "w": In(dim_bits),
            "hw": In(addr_bits),
            "addr": Out(addr_bits), "valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        A, iy_s = self.addr_bits, signed(self.dim_bits + 2)
        # The walk's position, registered: the activation presented next.
        r_addr, r_row, r_chan = Signal(A), Signal(A), Signal(A)   # it, its row's, channel's
        r_iy, r_ix = Signal(iy_s), Signal(iy_s)
        r_u, r_v = Signal(_KBITS), Signal(_KBITS)
        st = self.start
        addr, row, chan = Mux(st, self.org, r_addr), Mux(st, self.org, r_row), \
            Mux(st, self.org, r_chan)
        iy, ix = Mux(st, self.iy0, r_iy), Mux(st, self.ix0, r_ix)
        u, v = Mux(st, 0, r_u), Mux(st, 0, r_v)
        m.d.comb += [
            self.addr.eq(addr),
            self.valid.eq((iy >= 0) & (iy < self.h) & (ix >= 0) & (ix < self.w)),
        ]
        with m.If(st | self.next):
            m.d.sync += [r_addr.eq(addr), r_row.eq(row), r_chan.eq(chan), r_iy.eq(iy),
                         r_ix.eq(ix), r_u.eq(u), r_v.eq(v)]
            with m.If(v != self.kw - 1):                  # along the row
                m.d.sync += [r_v.eq(v + 1), r_ix.eq(ix + 1), r_addr.eq(addr + 1)]
            with m.Elif(u != self.kh - 1):                # the patch's next row
                m.d.sync += [r_v.eq(0), r_ix.eq(self.ix0), r_u.eq(u + 1), r_iy.eq(iy + 1),
                             r_row.eq(row + self.w), r_addr.eq(row + self.w)]
            with m.Else():                                # the next channel
                m.d.sync += [r_v.eq(0), r_u.eq(0), r_ix.eq(self.ix0), r_iy.eq(self.iy0),
                             r_chan.eq(chan + self.hw), r_row.eq(chan + self.hw),
                             r_addr.eq(chan + self.hw)]
        return m
