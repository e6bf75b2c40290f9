"""A layer's output stage: accumulators + bias, requantized, in row order."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import reject
from .requant import Requantizer

__all__ = ["LayerOutput"]


class LayerOutput(wiring.Component):
    """Reads a layer's accumulators out of the PEs (``rd_*``, the read-out port of
    ``SparseMatVec``, which clears each one it reads), adds each row's bias and
    requantizes it to int8 (``golden.hwmodel.engine.layer_forward``), sending
    the rows in order on ``o``; with ``raw`` (the last layer) ``o`` carries the
    int32 sums themselves.

    Row ``r`` is accumulator ``r // n_pe`` of PE ``r % n_pe``. Per row the host
    writes the int32 bias (``bias_*``) and the requantization constants
    (``rq_*``: ``M0 | shift << 31``). ``start`` with ``rows`` and ``relu``
    reads ``rows`` rows; ``busy`` stays high until the last one has left on
    ``o``. One row is read at a time: a row takes two cycles plus the wait for
    the requantizer (``digit_bits`` of M0 per cycle) or for ``o``.

    Parameters
    ----------
    n_pe : int
        PEs, 1..64.
    rows_per_pe : int
        Accumulators per PE (a power of two).
    max_rows : int
        Depth of the bias and constant memories, 1..65536.
    digit_bits : int
        The requantizer's multiplier digit width.
    """

    def __init__(self, *, n_pe: int = 4, rows_per_pe: int = 128, max_rows: int = 512,
                 digit_bits: int = 8):
        if not isinstance(n_pe, int) or not 1 <= n_pe <= 64:
            reject(self, f"n_pe must be an integer in 1..64, not {n_pe!r}")
        if (not isinstance(rows_per_pe, int) or rows_per_pe < 2
                or rows_per_pe & (rows_per_pe - 1)):
            reject(self, f"rows_per_pe must be a power of two >= 2, not {rows_per_pe!r}")
        if not isinstance(max_rows, int) or not 1 <= max_rows <= 1 << 16:
            reject(self, f"max_rows must be an integer in 1..65536, not {max_rows!r}")
        self._n, self._rpp, self._max = n_pe, rows_per_pe, max_rows
        self._rq = Requantizer(acc_bits=32, out_bits=8, digit_bits=digit_bits)
        rbits = (max_rows - 1).bit_length() or 1
        super().__init__({
            "bias_we": In(1), "bias_addr": In(rbits), "bias_data": In(signed(32)),
            "rq_we": In(1), "rq_addr": In(rbits), "rq_data": In(unsigned(36)),
            "start": In(1), "rows": In(range(max_rows + 1)), "row_base": In(rbits),
            "relu": In(1), "raw": In(1),
            "busy": Out(1),
            "rd_en": Out(1), "rd_pe": Out(range(n_pe)),
            "rd_addr": Out((rows_per_pe - 1).bit_length()), "rd_data": In(signed(32)),
            "o": Out(stream.Signature(signed(32))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rq = rq = self._rq
        m.submodules.bias = bias = Memory(shape=signed(32), depth=self._max, init=[])
        m.submodules.consts = consts = Memory(shape=unsigned(36), depth=self._max, init=[])
        bias_w, bias_r = bias.write_port(), bias.read_port()
        rq_w, rq_r = consts.write_port(), consts.read_port()
        m.d.comb += [
            bias_w.en.eq(self.bias_we), bias_w.addr.eq(self.bias_addr),
            bias_w.data.eq(self.bias_data),
            rq_w.en.eq(self.rq_we), rq_w.addr.eq(self.rq_addr), rq_w.data.eq(self.rq_data),
        ]

        row = Signal.like(self.rows)         # next row to read
        pe = Signal.like(self.rd_pe)
        addr = Signal.like(self.rd_addr)
        rows = Signal.like(self.rows)
        relu, raw = Signal(), Signal()
        left = Signal.like(self.rows)        # rows still to leave on ``o``
        base = Signal.like(self.row_base)
        m.d.comb += [bias_r.addr.eq(base + row), rq_r.addr.eq(base + row),
                     self.rd_pe.eq(pe), self.rd_addr.eq(addr)]

        value = Signal(signed(32))           # the row's accumulator + bias
        offer = Signal()                     # ``value`` waits for the requantizer or ``o``
        taken = Signal()
        m.d.comb += [
            rq.i.payload.acc.eq(value),
            rq.i.payload.multiplier.eq(rq_r.data[:31]),
            rq.i.payload.shift.eq(rq_r.data[31:]),
            rq.i.payload.zero_point.eq(0),
            rq.i.payload.relu.eq(relu),
            rq.i.valid.eq(offer & ~raw),
            taken.eq(offer & Mux(raw, self.o.ready, rq.i.ready)),
            self.o.valid.eq(Mux(raw, offer, rq.o.valid)),
            self.o.payload.eq(Mux(raw, value, rq.o.payload)),
            rq.o.ready.eq(~raw & self.o.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += left.eq(left - 1)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [row.eq(0), pe.eq(0), addr.eq(0), rows.eq(self.rows),
                                 left.eq(self.rows), relu.eq(self.relu), raw.eq(self.raw),
                                 base.eq(self.row_base)]
                    with m.If(self.rows != 0):
                        m.next = "READ"
            with m.State("READ"):
                # Read (and clear) the row's accumulator (``rd_en``, below); its
                # bias and constants are read at ``row`` at the same time.
                m.next = "SUM"
            with m.State("SUM"):
                m.d.sync += [value.eq(self.rd_data + bias_r.data), offer.eq(1)]
                m.next = "OFFER"
            with m.State("OFFER"):
                with m.If(taken):
                    m.d.sync += offer.eq(0)
                    last_pe = pe == self._n - 1
                    m.d.sync += [row.eq(row + 1), pe.eq(Mux(last_pe, 0, pe + 1)),
                                 addr.eq(Mux(last_pe, addr + 1, addr))]
                    with m.If(row + 1 == rows):
                        m.next = "DRAIN"
                    with m.Else():
                        m.next = "READ"
            with m.State("DRAIN"):
                with m.If(left == 0):
                    m.next = "IDLE"
        # A plain expression, not a default overridden in a state: Icarus never
        # runs an ``always @*`` block whose inputs do not change, which left
        # this enable at X until the first read-out.
        m.d.comb += [self.rd_en.eq(fsm.ongoing("READ")), self.busy.eq(left != 0)]
        return m
