"""A layer's output stage: accumulators + bias, requantized, in row order."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import COLLISION_FREE, reject
from .requant import Requantizer

__all__ = ["LayerOutput", "consts_words"]


def consts_words(bias_bits: int) -> int:
    """Parameter memory words that hold a layer's requantization constants when
    they are per layer: the 31-bit M0 (low word first), then the shift."""
    return -(-31 // bias_bits) + 1


class LayerOutput(wiring.Component):
    """Reads a layer's accumulators out of the PEs (``rd_*``, the read-out port of
    ``SparseMatVec``; ``clr_*`` clears each one once its row is taken), adds each
    row's bias and
    requantizes it to int8 (``golden.hwmodel.engine.layer_forward``), sending
    the rows in order on ``o``; with ``raw`` (the last layer) ``o`` carries the
    int32 sums themselves.

    Row ``r`` is accumulator ``r // n_pe`` of PE ``r % n_pe``. The parameter
    memory (``bias_*``, ``bias_bits`` wide) holds a layer from ``row_base``:
    with ``row_consts`` its biases, one word each, and the requantization
    constants per row in their own memory (``rq_*``: ``M0 | shift << 31``, at
    ``row_base + r``); without, the layer's one set of constants follows its
    biases in ``consts_words(bias_bits)`` words (M0, low word first, then the
    shift), read at ``start`` (that many cycles more), unless ``keep_consts``
    says they are the last run's (the same layer again). ``start``
    with ``rows`` and ``relu`` reads ``rows`` rows (``start`` only while
    ``busy`` is low: it is not checked, so no ``busy`` is in front of the
    registers it loads); ``busy`` stays high until
    the last one has left on ``o``; ``reading`` falls as soon as the last
    row's accumulator is cleared (the PEs may run again while the
    requantizer still holds rows). A row is read every cycle; its
    accumulator, bias and constants are registered the cycle after and
    offered (their sum) to the requantizer (or, ``raw``, on ``o``) from the
    next. While an offer waits, the row read behind it is read again (reads
    do not clear), so a stall costs no buffer; an accumulator is cleared when
    its row is taken. While idle, ``aux_en`` reads the parameter memory at
    ``aux_addr`` on ``aux_data`` one cycle later (the engine's layer table
    lives there).
    Throughput: one row per cycle with ``digit_bits=None`` (the pipelined
    requantizer) or with ``raw``, else one per ``Requantizer.cycles_per_result``.

    Parameters
    ----------
    n_pe : int
        PEs, 1..64.
    rows_per_pe : int
        Accumulators per PE (a power of two).
    max_rows : int
        Depth of the parameter memory (and of the constant memory with
        ``row_consts``), 1..65536.
    digit_bits : int or None
        The requantizer's multiplier digit width (None: the whole product,
        pipelined, a result per cycle).
    bias_bits : int
        16 or 32: the parameter memory's width (a 16-bit bias is
        sign-extended).
    row_consts : bool
        Requantization constants per row (a memory of their own) or per layer
        (in the parameter memory).
    acc_bits : int
        The accumulators' width (``rd_data``, sign-extended): the sum with a
        bias is ``max(acc_bits, bias_bits) + 1`` bits, and the requantizer is
        that wide.
    rq_stalls : bool
        False promises that ``o.ready`` is high whenever ``raw`` is low (the
        engine takes every requantized row at once): the requantizer then has
        no stall path, so its pipeline registers need no enable (and Yosys
        can keep the products' registers inside the DSPs).
    pipelined : bool
        The ECP5 boards' form, for ``SparseMatVec`` with pipelined PEs, whose
        ``rd_data`` comes two cycles after ``rd_addr``: rows are read ahead
        while a 5-deep queue has room for them (credit), each read once and
        cleared the cycle after its read, so the read address is a register
        that no stall chooses; the memories' outputs are registered before
        use. Same outputs, same throughput (a row per cycle: a row holds its
        place for five cycles, from its read until its leaving is counted);
        ``reading`` falls the cycle after the last row is cleared; about 5 x the
        row's width in LUT RAM and one row's in flip-flops more.
    """

    def __init__(self, *, n_pe: int = 4, rows_per_pe: int = 128, max_rows: int = 512,
                 digit_bits: int | None = 8, bias_bits: int = 32, row_consts: bool = True,
                 rq_stalls: bool = True, acc_bits: int = 32, pipelined: bool = False):
        if not isinstance(n_pe, int) or not 1 <= n_pe <= 64:
            reject(self, f"n_pe must be an integer in 1..64, not {n_pe!r}")
        if (not isinstance(rows_per_pe, int) or rows_per_pe < 2
                or rows_per_pe & (rows_per_pe - 1)):
            reject(self, f"rows_per_pe must be a power of two >= 2, not {rows_per_pe!r}")
        if not isinstance(max_rows, int) or not 1 <= max_rows <= 1 << 16:
            reject(self, f"max_rows must be an integer in 1..65536, not {max_rows!r}")
        if bias_bits not in (16, 32):
            reject(self, f"bias_bits must be 16 or 32, not {bias_bits!r}")
        if not isinstance(row_consts, bool):
            reject(self, f"row_consts must be a bool, not {row_consts!r}")
        self._n, self._rpp, self._max = n_pe, rows_per_pe, max_rows
        if not isinstance(acc_bits, int) or not 8 <= acc_bits <= 32:
            reject(self, f"acc_bits must be an integer in 8..32, not {acc_bits!r}")
        if not isinstance(pipelined, bool):
            reject(self, f"pipelined must be a bool, not {pipelined!r}")
        self.pipelined = pipelined
        self.bias_bits, self.row_consts, self.rq_stalls = bias_bits, row_consts, rq_stalls
        self.acc_bits = acc_bits
        self._vbits = min(32, max(acc_bits, bias_bits) + 1)
        # Per-layer constants change only between layers, with the pipeline empty.
        self._rq = Requantizer(acc_bits=self._vbits, out_bits=8,
                               digit_bits=digit_bits,
                               fixed_constants=not row_consts and digit_bits is None)
        rbits = (max_rows - 1).bit_length() or 1
        super().__init__({
            "bias_we": In(1), "bias_addr": In(rbits), "bias_data": In(signed(bias_bits)),
            "rq_we": In(1), "rq_addr": In(rbits), "rq_data": In(unsigned(36)),
            "start": In(1), "rows": In(range(max_rows + 1)), "row_base": In(rbits),
            "relu": In(1), "raw": In(1), "keep_consts": In(1),
            "busy": Out(1), "reading": Out(1),
            "rd_pe": Out(range(n_pe)),
            "rd_addr": Out((rows_per_pe - 1).bit_length()), "rd_data": In(signed(32)),
            "clr_en": Out(1), "clr_pe": Out(range(n_pe)),
            "clr_addr": Out((rows_per_pe - 1).bit_length()),
            "o": Out(stream.Signature(signed(32))),
            "aux_en": In(1), "aux_addr": In(rbits), "aux_data": Out(bias_bits),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rq = rq = self._rq
        # Collision-free: written only while loading.
        m.submodules.bias = bias = Memory(shape=signed(self.bias_bits), depth=self._max,
                                          init=[], attrs=COLLISION_FREE)
        bias_w, bias_r = bias.write_port(), bias.read_port()
        m.d.comb += [bias_w.en.eq(self.bias_we), bias_w.addr.eq(self.bias_addr),
                     bias_w.data.eq(self.bias_data)]
        if self.row_consts:
            m.submodules.consts = consts = Memory(shape=unsigned(36), depth=self._max,
                                                  init=[], attrs=COLLISION_FREE)
            rq_w, rq_r = consts.write_port(), consts.read_port()
            m.d.comb += [rq_w.en.eq(self.rq_we), rq_w.addr.eq(self.rq_addr),
                         rq_w.data.eq(self.rq_data)]

        if self.pipelined:
            self._elaborate_pipelined(m, rq, bias_r, rq_r if self.row_consts else None)
            return m

        # R: the row presented last cycle (its data on the read ports now). S: a row's
        # data, registered, offered to the requantizer (or on ``o``) until taken.
        r_valid, s_valid = Signal(), Signal()
        r_pe, s_pe = Signal.like(self.rd_pe), Signal.like(self.rd_pe)
        r_addr, s_addr = Signal.like(self.rd_addr), Signal.like(self.rd_addr)
        r_brow = Signal.like(self.row_base)
        s_acc, s_bias = Signal(signed(self.acc_bits)), Signal(signed(self.bias_bits))
        s_consts = Signal(36)
        stall = Signal()                     # S waits: R's data cannot enter it
        sq = self._sequencer(m, next_ok=~stall)
        ready = self._offer(m, rq, sq, s_valid, s_acc, s_bias, s_consts)
        taken = Signal()
        m.d.comb += [
            taken.eq(s_valid & ready),
            stall.eq(s_valid & ~ready),
            self.clr_en.eq(taken), self.clr_pe.eq(s_pe), self.clr_addr.eq(s_addr),
        ]
        with m.If(~stall):
            m.d.sync += [s_valid.eq(r_valid), s_pe.eq(r_pe), s_addr.eq(r_addr),
                         s_acc.eq(self.rd_data), s_bias.eq(bias_r.data)]
            if self.row_consts:
                m.d.sync += s_consts.eq(rq_r.data)
        # Per-layer constants: the word read last cycle (``cw``, valid with ``cw_v``).
        C = consts_words(self.bias_bits)
        cw, cw_v = Signal(range(C)), Signal()
        if not self.row_consts:
            m.d.sync += [cw_v.eq(sq.pre != 0), cw.eq(C - sq.pre)]
            with m.If(cw_v):
                self._const_word(m, s_consts, cw, bias_r.data)
        # Present R's row again while S waits (its data are dropped), else the next.
        q_valid = Mux(stall, r_valid, sq.presenting & (sq.pre == 0))
        q_pe, q_addr = Mux(stall, r_pe, sq.n_pe), Mux(stall, r_addr, sq.n_addr)
        q_brow = Mux(stall, r_brow, sq.n_brow)
        m.d.comb += [self.rd_pe.eq(q_pe), self.rd_addr.eq(q_addr),
                     bias_r.addr.eq(Mux(self.aux_en, self.aux_addr, q_brow)),
                     self.aux_data.eq(bias_r.data)]
        if self.row_consts:
            m.d.comb += rq_r.addr.eq(q_brow)
        m.d.sync += [r_valid.eq(q_valid), r_pe.eq(q_pe), r_addr.eq(q_addr), r_brow.eq(q_brow)]
        with m.If(self.start):
            m.d.sync += [r_valid.eq(0), s_valid.eq(0)]
        m.d.comb += [self.busy.eq(sq.leaving | (sq.pre != 0) | cw_v),
                     self.reading.eq(sq.presenting | r_valid | s_valid | (sq.pre != 0)
                                     | cw_v)]
        return m

    def _sequencer(self, m, next_ok):
        """The row order both forms share: ``pre`` per-layer constant words read
        first (at ``n_brow``, from ``row_base + rows``), then the rows, PE by PE
        (``n_pe``, ``n_addr``, ``n_brow``), one each cycle ``advance`` is high
        (``next_ok`` and a row left to present); ``left`` rows still to leave on
        ``o``; ``relu`` and ``raw`` latched at ``start``."""
        C = consts_words(self.bias_bits)
        sq = SimpleNamespace(
            relu=Signal(), raw=Signal(), left=Signal.like(self.rows),
            pre=Signal(range(C + 1)), row_base=Signal.like(self.row_base),
            n_pe=Signal.like(self.rd_pe), n_addr=Signal.like(self.rd_addr),
            n_brow=Signal.like(self.row_base), to_present=Signal.like(self.rows),
            presenting=Signal(),
            advance=Signal(), leaving=Signal())
        m.d.comb += sq.advance.eq(next_ok & sq.presenting & (sq.pre == 0))
        with m.If(sq.pre != 0):
            m.d.sync += [sq.pre.eq(sq.pre - 1), sq.n_brow.eq(sq.n_brow + 1)]
            with m.If(sq.pre == 1):              # then the rows, from the first
                m.d.sync += sq.n_brow.eq(sq.row_base)
        with m.If(sq.advance):
            last_pe = sq.n_pe == self._n - 1
            m.d.sync += [sq.to_present.eq(sq.to_present - 1), sq.n_brow.eq(sq.n_brow + 1),
                         sq.presenting.eq(sq.to_present != 1),
                         sq.n_pe.eq(Mux(last_pe, 0, sq.n_pe + 1)),
                         sq.n_addr.eq(Mux(last_pe, sq.n_addr + 1, sq.n_addr))]
        # ``leaving`` is ``left != 0``, registered beside it, so ``busy`` (which
        # gates ``start`` and the engine's next state) is no wide compare.
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [sq.left.eq(sq.left - 1), sq.leaving.eq(sq.left != 1)]
        with m.If(self.start):
            m.d.sync += [sq.left.eq(self.rows), sq.leaving.eq(self.rows != 0),
                         sq.to_present.eq(self.rows), sq.presenting.eq(self.rows != 0),
                         sq.relu.eq(self.relu), sq.raw.eq(self.raw), sq.n_pe.eq(0),
                         sq.n_addr.eq(0), sq.n_brow.eq(self.row_base)]
            if not self.row_consts:
                with m.If(~self.keep_consts):
                    m.d.sync += [sq.pre.eq(C), sq.n_brow.eq(self.row_base + self.rows),
                                 sq.row_base.eq(self.row_base)]
        return sq

    def _offer(self, m, rq, sq, valid, acc, bias, consts):
        """A row's ``acc + bias`` offered (with ``valid``) to the requantizer with
        ``consts`` (``M0 | shift << 31``), or with ``raw`` on ``o`` itself; returns
        the signal that it is taken now (with ``valid``)."""
        value = Signal(signed(self._vbits))
        ready = Signal()
        m.d.comb += [
            value.eq(acc + bias),
            ready.eq(Mux(sq.raw, self.o.ready, rq.i.ready)),
            rq.i.payload.acc.eq(value),
            rq.i.payload.multiplier.eq(consts[:31]),
            rq.i.payload.shift.eq(consts[31:]),
            rq.i.payload.zero_point.eq(0),
            rq.i.payload.relu.eq(sq.relu),
            rq.i.valid.eq(valid & ~sq.raw),
            self.o.valid.eq(Mux(sq.raw, valid, rq.o.valid)),
            self.o.payload.eq(Mux(sq.raw, value, rq.o.payload)),
            rq.o.ready.eq(~sq.raw & self.o.ready if self.rq_stalls else 1),
        ]
        return ready

    def _const_word(self, m, s_consts, cw, word):
        """Per-layer constant word ``cw`` (``consts_words``: M0's, low word first,
        then the shift), read as ``word``, into its field of ``s_consts``."""
        C = consts_words(self.bias_bits)
        with m.Switch(cw):
            for k in range(C - 1):
                lo, hi = self.bias_bits * k, min(31, self.bias_bits * (k + 1))
                with m.Case(k):
                    m.d.sync += s_consts[lo:hi].eq(word[:hi - lo])
            with m.Case(C - 1):
                m.d.sync += s_consts[31:].eq(word[:5])

    def _elaborate_pipelined(self, m, rq, bias_r, rq_r):
        K = 5
        C = consts_words(self.bias_bits)
        s_consts = Signal(36)
        # The queue of rows read: accumulator, bias (and constants), in row order;
        # its head is a register, so the bias add starts from flip-flops.
        acc_w = self.acc_bits
        width = acc_w + self.bias_bits + (36 if self.row_consts else 0)
        m.submodules.rows_q = q = fifo.SyncFIFOBuffered(width=width, depth=K)
        # p1, p2: a row presented one and two cycles ago; c1, c2: a constant word.
        p1, p2, c1, c2 = Signal(), Signal(), Signal(), Signal()
        # Read a row while the queue will have room for it and those in flight.
        sq = self._sequencer(m, next_ok=q.level + p1 + p2 < K)
        cw1, cw2 = Signal(range(C)), Signal(range(C))
        c1_pe, c1_addr = Signal.like(self.rd_pe), Signal.like(self.rd_addr)
        bias_q = Signal(signed(self.bias_bits))
        consts_q = Signal(36)
        m.d.comb += [self.rd_pe.eq(sq.n_pe), self.rd_addr.eq(sq.n_addr),
                     bias_r.addr.eq(Mux(self.aux_en, self.aux_addr, sq.n_brow)),
                     self.aux_data.eq(bias_r.data)]
        if rq_r is not None:
            m.d.comb += rq_r.addr.eq(sq.n_brow)
        m.d.sync += [p1.eq(sq.advance), p2.eq(p1), c1.eq(sq.pre != 0), c2.eq(c1),
                     cw1.eq(C - sq.pre), cw2.eq(cw1),
                     c1_pe.eq(sq.n_pe), c1_addr.eq(sq.n_addr), bias_q.eq(bias_r.data)]
        if rq_r is not None:
            m.d.sync += consts_q.eq(rq_r.data)
        # A row's accumulator is cleared the cycle after its read.
        m.d.comb += [self.clr_en.eq(p1), self.clr_pe.eq(c1_pe), self.clr_addr.eq(c1_addr)]
        with m.If(c2):
            self._const_word(m, s_consts, cw2, bias_q)
        fields = [self.rd_data[:acc_w], bias_q] + ([consts_q] if rq_r is not None else [])
        m.d.comb += [q.w_en.eq(p2), q.w_data.eq(Cat(*fields))]

        s_acc = q.r_data[:acc_w].as_signed()
        s_bias = q.r_data[acc_w:acc_w + self.bias_bits].as_signed()
        consts = q.r_data[acc_w + self.bias_bits:] if rq_r is not None else s_consts
        ready = self._offer(m, rq, sq, q.r_rdy, s_acc, s_bias, consts)
        m.d.comb += q.r_en.eq(ready)
        m.d.comb += [self.busy.eq(sq.leaving | (sq.pre != 0) | c1 | c2),
                     self.reading.eq(sq.presenting | p1 | (sq.pre != 0) | c1 | c2)]
