"""2x2 max-pooling between two activation buffers."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import require_int

__all__ = ["MaxPool2"]


class MaxPool2(wiring.Component):
    """Max-pools a ``(channels, h, w)`` int8 tensor over 2x2 windows with stride 2
    (``golden.hwmodel.engine.layer_forward`` of a ``maxpool`` layer with pool
    2: an odd last row or column is dropped), reading it from a memory with a
    synchronous read port (``rd_addr``, data on ``rd_data`` a cycle later)
    stored channel-major from address 0, and writing the ``(channels, ph,
    pw)`` result in order from address 0 (``we``, ``waddr``, ``wdata``).

    ``start`` with ``outputs`` (``channels * ph * pw``), ``ph``, ``pw``
    (``h // 2``, ``w // 2``), ``w`` and ``hw`` (``h * w``), all steady until
    ``busy`` falls, pools the tensor: a read per cycle, four per output, so
    ``4 * outputs`` cycles; an output is written two cycles after its fourth
    read (the data are registered on their way in), and ``busy`` falls the
    cycle after the last write. ``outputs == 0``
    writes nothing. ``start`` while busy is ignored. Addresses are modulo
    ``2**addr_bits``.

    Parameters
    ----------
    addr_bits : int
        Address width, 1..24.
    dim_bits : int
        Width of ``ph``, ``pw`` and ``w``, 1..16.
    """

    def __init__(self, *, addr_bits: int, dim_bits: int):
        require_int(self, "addr_bits", addr_bits, 1, 24)
        require_int(self, "dim_bits", dim_bits, 1, 16)
        self.addr_bits, self.dim_bits = addr_bits, dim_bits
        super().__init__({
            "start": In(1), "outputs": In(addr_bits + 1),
            "ph": In(dim_bits), "pw": In(dim_bits), "w": In(dim_bits), "hw": In(addr_bits),
            "busy": Out(1),
            "rd_addr": Out(addr_bits), "rd_data": In(signed(8)),
            "we": Out(1), "waddr": Out(addr_bits), "wdata": Out(signed(8)),
        })

    def elaborate(self, platform):
        m = Module()
        A = self.addr_bits
        left = Signal(A + 1)                 # windows whose reads are still to issue
        k = Signal(2)                        # the window's read issued next
        base, below = Signal(A), Signal(A)   # the window's top-left, the one below it
        row, chan = Signal(A), Signal(A)     # its row of windows', its channel's top-left
        px, py = Signal(self.dim_bits), Signal(self.dim_bits)
        issue = left != 0
        m.d.comb += self.rd_addr.eq(Mux(k[1], below, base) + k[0])
        with m.If(issue):
            m.d.sync += k.eq(k + 1)
            with m.If(k == 3):
                m.d.sync += left.eq(left - 1)
                two_w = self.w << 1
                with m.If(px != self.pw - 1):
                    m.d.sync += [px.eq(px + 1), base.eq(base + 2), below.eq(below + 2)]
                with m.Elif(py != self.ph - 1):
                    m.d.sync += [px.eq(0), py.eq(py + 1), row.eq(row + two_w),
                                 base.eq(row + two_w), below.eq(row + two_w + self.w)]
                with m.Else():
                    m.d.sync += [px.eq(0), py.eq(0), chan.eq(chan + self.hw),
                                 row.eq(chan + self.hw), base.eq(chan + self.hw),
                                 below.eq(chan + self.hw + self.w)]
        # The data two cycles behind the reads (registered as they leave the
        # memory, so no compare hangs on a block RAM's output): the window's
        # maximum so far.
        r_valid, r_k = Signal(), Signal(2)
        d_valid, d_k = Signal(), Signal(2)
        x = Signal(signed(8))
        mx = Signal(signed(8))
        m.d.sync += [r_valid.eq(issue), r_k.eq(k), d_valid.eq(r_valid), d_k.eq(r_k),
                     x.eq(self.rd_data)]
        best = Mux((d_k == 0) | (x > mx), x, mx)
        with m.If(d_valid):
            m.d.sync += mx.eq(best)
        waddr = Signal(A)
        m.d.comb += [self.we.eq(d_valid & (d_k == 3)), self.waddr.eq(waddr),
                     self.wdata.eq(best)]
        with m.If(self.we):
            m.d.sync += waddr.eq(waddr + 1)
        with m.If(self.start & ~self.busy):
            m.d.sync += [left.eq(self.outputs), k.eq(0), px.eq(0), py.eq(0), base.eq(0),
                         row.eq(0), chan.eq(0), below.eq(self.w), waddr.eq(0)]
        m.d.comb += self.busy.eq(issue | r_valid | d_valid)
        return m
