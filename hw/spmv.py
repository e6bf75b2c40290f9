"""The engine's sparse phase: a scanner broadcasting non-zero activations to N PEs."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import fifo, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.hwmodel.image import XNOR_GROUP, pe_tables, sign_tables
from golden.hwmodel.stream import decoder_table, encode_layer

from .broadcast import BroadcastQueue
from .huffman import HuffmanError
from .params import COLLISION_FREE, reject
from .patches import MAX_KERNEL, PatchWalker
from .pe import SparsePE, activation_layout, pe_words, sign_pe_words
from .streampe import StreamPE

__all__ = ["SparseMatVec", "MEM_PTR", "MEM_ENT", "MEM_CB", "MEM_SYM", "MEM_BASE", "FORMS"]

MEM_PTR, MEM_ENT, MEM_CB = 0, 1, 2
# The stream form's too: the symbol tables, and each PE's first stream word per layer.
MEM_SYM, MEM_BASE = 3, 4
FORMS = ("expanded", "stream")


class SparseMatVec(wiring.Component):
    """``n_pe`` SparsePEs fed by one scanner, EIE's sparse matrix-vector product.

    Row ``i`` of the layer belongs to PE ``i % n_pe`` (accumulator ``i //
    n_pe``). Before a run, the host writes the activations (``act_*``) and
    each PE's memories (``ld_*``: ``ld_mem`` selects ``MEM_PTR``,
    ``MEM_ENT`` or ``MEM_CB`` of PE ``ld_pe``). ``start`` with ``length``
    (activations) and ``ptr_base`` (the layer's first pointer) runs one
    product; ``busy`` is high until every accumulator holds its sum; then
    ``rd_*`` reads PE ``rd_pe``'s accumulator ``rd_addr`` on ``rd_data`` one
    cycle later (two with pipelined PEs), and ``clr_*`` sets PE ``clr_pe``'s
    accumulator ``clr_addr`` to zero (``SparsePE``). ``ld_all`` writes every PE at once (codebooks).
    A load write reaches the PE's memory one cycle after it is presented.
    ``macs`` counts the products added in this cycle (all PEs).

    With ``act_banks=2`` the activation memory holds two vectors (ping-pong):
    the scanner reads bank ``bank`` and ``act_addr``'s top bit picks the bank
    a write goes to, so a layer's output can be written while it runs.
    ``peek`` (while not busy) reads the activation memory at ``peek_addr``
    (bank included) on ``peek_data`` one cycle later.

    With ``conv_bits`` the scanner can read a convolution's patch instead of
    the vector (``conv`` high at ``start`` and through the run): activation
    ``j`` is then the ``j``-th of the im2col patch a ``PatchWalker`` walks
    (``org``, ``iy0``, ``ix0``, ``kh``, ``kw``, ``h``, ``w``, ``hw``: its
    ports), a zero where the patch covers the padding; ``length`` is the
    patch's size. The timing is the same: one activation per cycle.

    With PEs built ``xnor``, ``binary`` high at ``start`` and through the run
    makes it a binary layer on the XNOR path: the scanner gathers the
    activations into the eight bit planes (two's complement) of each group of
    ``XNOR_GROUP`` inputs and broadcasts each non-zero plane with its weight
    (1, 2, ..., 64, -128) and its group's pointer (``ptr_base`` plus the
    group); the PEs hold the layer's sign words (``SparsePE``). The timing is
    ``golden.hwmodel.cycles.xnor_cycles`` exactly (the same ``overhead``).

    Timing is ``golden.hwmodel.cycles`` (expanded mode) exactly: the scanner
    examines one activation per cycle and pushes a non-zero one into every
    PE's queue (``queue_depth`` each, a value pushed in one cycle can be taken
    in the next) in the cycle it examines it if all have room. ``busy`` falls
    ``overhead`` cycles after the model's ``mac_cycles``, counted from the cycle
    of ``start`` (one cycle to read the first activation, one to buffer it,
    one for a PE's column pointers, four for the last product to reach its
    accumulator, one to register the end; with ``pipelined`` PEs the model
    counts the pointers' two more cycles itself, and the overhead is the same).
    Activations are read ahead into a 3-deep buffer, so the memory's address
    never waits for the scanner's decision on what it read. ``start`` while busy is ignored.

    In the ``stream`` form (``golden.hwmodel.stream``) the PEs are
    ``StreamPE``s, which decode their Huffman-coded column segments on the
    fly. ``MEM_PTR`` then writes the length table (PE ``ld_pe``'s segment
    length of column ``ld_addr - ptr_base``, a memory of its own per PE,
    ``pointers`` rows), ``MEM_ENT`` a PE's stream words, ``MEM_SYM`` its
    symbol tables (so does ``sym_*``, into every PE at once, beside the load
    port: a table is written while the layer's streams load), ``MEM_BASE``
    (``ld_addr`` a bank) the word where its
    streams of that layer start. A walker beside the scanner reads the
    lengths of every column with its activation and keeps each PE's running
    bit offset (from its base), so a non-zero activation enters PE ``k``'s
    queue with its segment's offset and length (``BroadcastQueue``'s private
    parts). ``limit``/``offset`` are the layer's ``decoder_table``; ``error``
    is the first PE's (in PE order) malformed-stream error. The timing is
    ``golden.hwmodel.cycles.segment_cycles`` exactly, ``stream_overhead``
    cycles added. No XNOR path, no ``pipelined`` flag (the stream PE is the
    pipelined kind).

    Parameters
    ----------
    n_pe : int
        Processing elements, 1..64.
    queue_depth : int
        Activations each PE's queue holds, 1..64.
    max_len : int
        Activation memory depth (longest input), 2..65536.
    act_banks : int
        Activation vectors held, 1 or 2.
    pe : dict
        Parameters of each ``SparsePE`` (``code_bits``, ``rows``, ``pointers``,
        ``entries``, ``acc_bits``, ``entry_ram``, ``pipelined``, ``xnor``).
    conv_bits : int
        0 (no convolutions), or the width of the walker's addresses and sizes
        (``PatchWalker``'s ``addr_bits`` and ``dim_bits``), 1..16.
    form : str
        ``"expanded"`` (``SparsePE``) or ``"stream"`` (``StreamPE``; ``pe``
        holds its parameters and ``pointers``, the length table's rows).
    """

    overhead = 8
    stream_overhead = 13

    def __init__(self, *, n_pe: int = 4, queue_depth: int = 8, max_len: int = 1024,
                 act_banks: int = 1, pe: dict | None = None, conv_bits: int = 0,
                 form: str = "expanded"):
        if not isinstance(n_pe, int) or not 1 <= n_pe <= 64:
            reject(self, f"n_pe must be an integer in 1..64, not {n_pe!r}")
        if not isinstance(queue_depth, int) or not 1 <= queue_depth <= 64:
            reject(self, f"queue_depth must be an integer in 1..64, not {queue_depth!r}")
        if not isinstance(max_len, int) or not 2 <= max_len <= 1 << 16:
            reject(self, f"max_len must be an integer in 2..65536, not {max_len!r}")
        if act_banks not in (1, 2):
            reject(self, f"act_banks must be 1 or 2, not {act_banks!r}")
        if not isinstance(conv_bits, int) or not 0 <= conv_bits <= 16:
            reject(self, f"conv_bits must be an integer in 0..16, not {conv_bits!r}")
        self._n, self._d, self._len, self._banks = n_pe, queue_depth, max_len, act_banks
        self.conv_bits = conv_bits
        self._col = (max_len - 1).bit_length()
        bank_bits = act_banks - 1
        if form not in FORMS:
            reject(self, f"form must be one of {FORMS}, not {form!r}")
        self._form = form
        self._pe_kw = dict(pe or {})
        if form == "stream":
            kw = dict(self._pe_kw)
            self._pointers = kw.pop("pointers", 1024)
            if not isinstance(self._pointers, int) or not 2 <= self._pointers <= 1 << 16:
                reject(self, f"pointers must be an integer in 2..65536, not {self._pointers!r}")
            self._pes = [StreamPE(**kw) for _ in range(n_pe)]
        else:
            self._pes = [SparsePE(**self._pe_kw) for _ in range(n_pe)]
        p = self._pes[0]
        sig = p.signature.members
        kbits = MAX_KERNEL.bit_length()
        self.xnor = form == "expanded" and p.xnor
        conv = {} if not conv_bits else {
            "conv": In(1), "org": In(conv_bits), "iy0": In(signed(conv_bits + 2)),
            "ix0": In(signed(conv_bits + 2)), "kh": In(kbits), "kw": In(kbits),
            "h": In(conv_bits), "w": In(conv_bits), "hw": In(conv_bits)}
        stream_ports = {} if form == "expanded" else {
            "limit": sig["limit"], "offset": sig["offset"], "error": Out(HuffmanError),
            "sym_we": In(1), "sym_addr": sig["sym_addr"], "sym_data": sig["sym_data"]}
        super().__init__({
            **conv, **({"binary": In(1)} if self.xnor else {}), **stream_ports,
            "act_we": In(1), "act_addr": In(self._col + bank_bits), "act_data": In(signed(8)),
            "bank": In(bank_bits),
            "ld_we": In(1), "ld_all": In(1), "ld_pe": In(range(n_pe)),
            "ld_mem": In(2 if form == "expanded" else 3),
            "ld_addr": In(16), "ld_data": In(16),
            "start": In(1), "length": In(range(max_len + 1)),
            "ptr_base": In(range(self._pointers) if form == "stream"
                           else sig["ptr_addr"].shape),
            "cb_bank": In(sig["cb_bank"].shape),
            "busy": Out(1), "macs": Out(range(n_pe + 1)),
            "rd_pe": In(range(n_pe)), "rd_addr": In(sig["rd_addr"].shape),
            "clr_en": In(1), "clr_pe": In(range(n_pe)), "clr_addr": In(sig["rd_addr"].shape),
            "rd_data": Out(sig["rd_data"].shape),
            "peek": In(1), "peek_addr": In(self._col + bank_bits), "peek_data": Out(signed(8)),
        })

    @property
    def n_pe(self) -> int:
        return self._n

    @property
    def rows_per_pe(self) -> int:
        return self._pes[0].rows

    @property
    def pe(self) -> SparsePE | StreamPE:
        """The first PE (all are alike): its parameters."""
        return self._pes[0]

    @property
    def form(self) -> str:
        return self._form

    def stream_loads(self, codes, cb, *, gap_bits: int, code_bits: int, max_code_len: int = 16,
                     ptr_base: int = 0, bank: int = 0, word_base=0) -> tuple[list, tuple]:
        """The stream form's ``(pe, mem, addr, data)`` writes that load one layer
        (``codes``, int8 codebook ``cb``) into codebook and table ``bank``, its
        lengths from row ``ptr_base``, each PE's stream from word ``word_base``;
        and the layer's ``(limit, offset)`` for ``limit``/``offset``."""
        sl = encode_layer(codes, self._n, gap_bits=gap_bits, code_bits=code_bits,
                          max_code_len=max_code_len)
        pe = self.pe
        limit, offset, symbols = decoder_table(sl.lengths, pe.sym_bits)
        mask = (1 << code_bits) - 1
        out = []
        for k, words in enumerate(sl.streams):
            out += [(k, MEM_SYM, bank << pe.sym_bits | a,
                     (s >> code_bits) << pe.code_bits | s & mask) for a, s in enumerate(symbols)]
            out += [(k, MEM_CB, bank << pe.code_bits | a, int(v) & 0xFFFF)
                    for a, v in enumerate(cb)]
            out += [(k, MEM_BASE, bank, word_base)]
            out += [(k, MEM_ENT, word_base + a, w) for a, w in enumerate(words)]
            out += [(k, MEM_PTR, ptr_base + j, int(n)) for j, n in enumerate(sl.seg_bits[k])]
        return out, (limit, offset)

    def loads(self, codes, cb, *, ptr_base: int = 0) -> list[tuple[int, int, int, int]]:
        """The ``(pe, mem, addr, data)`` writes that load one layer's ``codes``
        (``(rows, cols)`` codebook indices, 0 = no weight) and int8 codebook
        ``cb`` into the PEs, pointers from ``ptr_base``."""
        code_bits = self.pe.code_bits
        out = []
        for k, (ptr, ents) in enumerate(pe_tables(codes, self._n, code_bits)):
            words, ents = pe_words(ptr, ents, self.pe.abits)
            out += [(k, MEM_PTR, ptr_base + j, w) for j, w in enumerate(words)]
            out += [(k, MEM_ENT, a, v) for a, v in enumerate(ents)]
            out += [(k, MEM_CB, a, int(v) & 0xFFFF) for a, v in enumerate(cb)]
        return out

    def binary_loads(self, signs, *, ptr_base: int = 0) -> list[tuple[int, int, int, int]]:
        """The ``(pe, mem, addr, data)`` writes that load a binary layer (``signs``,
        ``(rows, cols)`` of +1/-1) for the XNOR path: per PE a pointer per group
        of ``XNOR_GROUP`` inputs from ``ptr_base``, and its sign words
        (``golden.hwmodel.image.sign_tables``)."""
        out = []
        for k, groups in enumerate(sign_tables(signs, self._n)):
            words, ents = sign_pe_words(groups, self.pe.abits)
            out += [(k, MEM_PTR, ptr_base + j, w) for j, w in enumerate(words)]
            out += [(k, MEM_ENT, a, v) for a, v in enumerate(ents)]
        return out

    def elaborate(self, platform):
        m = Module()
        # Collision-free: activations are written while idle, or (two banks) into
        # the bank the scanner does not read.
        m.submodules.act = act = Memory(shape=signed(8),
                                        depth=self._len if self._banks == 1
                                        else 2 << self._col, init=[], attrs=COLLISION_FREE)
        act_w, act_r = act.write_port(), act.read_port()
        self._act_r = act_r
        m.d.comb += [act_w.en.eq(self.act_we), act_w.addr.eq(self.act_addr),
                     act_w.data.eq(self.act_data)]

        # Load writes reach the PEs a cycle late, each PE's enables decoded into
        # flip-flops: the loader's decision (a function of the host's byte) is
        # not in front of every PE's memory address.
        ld_addr, ld_data = Signal.like(self.ld_addr), Signal.like(self.ld_data)
        m.d.sync += [ld_addr.eq(self.ld_addr), ld_data.eq(self.ld_data)]
        if self._form == "stream":
            bq, lens, bases = self._stream_pes(m, ld_addr, ld_data)
        else:
            bq, lens, bases = self._expanded_pes(m, ld_addr, ld_data), [], []
        self._reader_and_scanner(m, bq, lens, bases)
        return m

    def _expanded_pes(self, m, ld_addr, ld_data):
        """The ``SparsePE``s behind their queues; returns the queues."""
        N = self._n
        layout = activation_layout(len(self._pes[0].ptr_addr), 8,
                                   XNOR_GROUP if self.xnor else 0)
        # The PEs' queues, written together: one storage (``BroadcastQueue``).
        m.submodules.queues = bq = BroadcastQueue(layout, readers=N, depth=self._d)
        macs = 0
        for k, pe in enumerate(self._pes):
            m.submodules[f"pe{k}"] = pe
            sel = self.ld_we & ((self.ld_pe == k) | self.ld_all)
            macs = macs + pe.mac
            wiring.connect(m, bq.o[k], pe.i)
            m.d.sync += [
                pe.ptr_we.eq(sel & (self.ld_mem == MEM_PTR)),
                pe.ent_we.eq(sel & (self.ld_mem == MEM_ENT)),
                pe.cb_we.eq(sel & (self.ld_mem == MEM_CB)),
            ]
            if self.xnor:
                m.d.comb += pe.binary.eq(self.binary)
            m.d.comb += [
                pe.cb_bank.eq(self.cb_bank),
                pe.ptr_addr.eq(ld_addr), pe.ptr_data.eq(ld_data),
                pe.ent_addr.eq(ld_addr), pe.ent_data.eq(ld_data),
                pe.cb_addr.eq(ld_addr), pe.cb_data.eq(ld_data),
                pe.rd_addr.eq(self.rd_addr),
                pe.clr_en.eq(self.clr_en & (self.clr_pe == k)), pe.clr_addr.eq(self.clr_addr),
            ]
        m.d.comb += self.macs.eq(macs)
        self._read_out(m)
        return bq

    def _stream_pes(self, m, ld_addr, ld_data):
        """The ``StreamPE``s behind their queues (each PE's offset and length in
        its queue's private part) and the length table; returns the queues,
        each PE's length-table read port and its stream base (a word)."""
        N, pe0 = self._n, self._pes[0]
        layout = pe0.signature.members["i"].signature.members["payload"].shape
        m.submodules.queues = bq = BroadcastQueue(layout.members["shared"], readers=N,
                                                  depth=self._d,
                                                  private=layout.members["private"])
        macs = 0
        lens_ports, bases = [], []
        err = HuffmanError.NONE
        # The symbol-table port, registered as the load port is.
        sym_we, sym_addr = Signal(), Signal.like(self.sym_addr)
        sym_data = Signal.like(self.sym_data)
        m.d.sync += [sym_we.eq(self.sym_we), sym_addr.eq(self.sym_addr),
                     sym_data.eq(self.sym_data)]
        for k, pe in enumerate(self._pes):
            m.submodules[f"pe{k}"] = pe
            sel = Signal(name=f"ld_sel{k}")
            m.d.comb += sel.eq(self.ld_we & ((self.ld_pe == k) | self.ld_all))
            macs = macs + pe.mac
            wiring.connect(m, bq.o[k], pe.i)
            m.d.sync += [pe.ent_we.eq(sel & (self.ld_mem == MEM_ENT)),
                         pe.sym_we.eq((sel & (self.ld_mem == MEM_SYM)) | self.sym_we),
                         pe.cb_we.eq(sel & (self.ld_mem == MEM_CB))]
            m.d.comb += [
                pe.cb_bank.eq(self.cb_bank), pe.limit.eq(self.limit), pe.offset.eq(self.offset),
                pe.extent.eq(pe.words * 16), pe.clear.eq(self.start & ~self.busy),
                pe.ent_addr.eq(ld_addr), pe.ent_data.eq(ld_data),
                pe.sym_addr.eq(Mux(sym_we, sym_addr, ld_addr)),
                pe.sym_data.eq(Mux(sym_we, sym_data, ld_data)),
                pe.cb_addr.eq(ld_addr), pe.cb_data.eq(ld_data),
                pe.rd_addr.eq(self.rd_addr),
                pe.clr_en.eq(self.clr_en & (self.clr_pe == k)), pe.clr_addr.eq(self.clr_addr),
            ]
            # This PE's segment lengths (a row per column) and stream bases (per bank).
            lens = Memory(shape=pe.len_bits, depth=self._pointers, init=[],
                          attrs=COLLISION_FREE)
            base = Memory(shape=16, depth=1 << len(self.cb_bank), init=[])
            m.submodules[f"lens{k}"], m.submodules[f"base{k}"] = lens, base
            for mem, code in ((lens, MEM_PTR), (base, MEM_BASE)):
                w = mem.write_port()
                m.d.comb += [w.en.eq(sel & (self.ld_mem == code)), w.addr.eq(self.ld_addr),
                             w.data.eq(self.ld_data)]
            lens_ports.append(lens.read_port())
            br = base.read_port(domain="comb")
            m.d.comb += br.addr.eq(self.cb_bank)
            bases.append(br.data)
            err = Mux(err == HuffmanError.NONE, pe.error, err)
        m.d.comb += [self.macs.eq(macs), self.error.eq(err)]
        self._read_out(m)
        return bq, lens_ports, bases

    def _read_out(self, m):
        """``rd_data``: PE ``rd_pe``'s accumulator."""
        N = self._n
        rd_pe = Signal.like(self.rd_pe)
        m.d.sync += rd_pe.eq(self.rd_pe)
        # A parallel case on ``rd_pe``, not a priority chain of N compares; with
        # pipelined PEs its result is registered (``rd_data`` two cycles after
        # ``rd_addr``), so the N-way choice ends in a flip-flop.
        out = Signal.like(self.rd_data)
        with m.Switch(rd_pe):
            for k in range(N):
                with m.Case(k):
                    m.d.comb += out.eq(self._pes[k].rd_data)
        m.d[("sync" if self.pe.pipelined else "comb")] += self.rd_data.eq(out)

    def _reader_and_scanner(self, m, bq, lens, bases):
        """The activation reader (with the stream form's length-table row, from
        the ``lens`` read ports), the scanner (and walker, from ``bases``) and
        the end of the run."""
        act_r = self._act_r
        stream_form = self._form == "stream"
        lb = self.pe.len_bits if stream_form else 0

        # ---- reader: reads ahead into a 3-deep buffer while it has credit, so the
        # activation memory's address is a register, not a function of the data
        # read (the scanner's decision on it). Credit counts reads in flight but not
        # this cycle's take, so 3 places sustain one activation per cycle.
        # In the compact form (iCE40) each activation enters with its "non-zero"
        # bit (bit 8), found on its way in, so no compare of the head sits in
        # front of the queues' write enable; the pipelined form's (ECP5) block
        # RAM has a 5.8 ns clock-to-out, so there the compare is on the head.
        nz_in = not self.pe.pipelined
        # The stream form's activations come with their column's segment lengths.
        head_bits = 9 if nz_in else 8
        m.submodules.ahead = ahead = fifo.SyncFIFO(width=head_bits + self._n * lb, depth=3)
        rj = Signal(range(self._len + 1))   # next activation to read
        length = Signal.like(self.length)
        reading = Signal()                  # rj < length
        inflight = Signal()                 # act_r.data is the read of a counted read
        starting = Signal()
        m.d.comb += starting.eq(self.start & ~self.busy)
        issue = Signal()
        where = Mux(starting, 0, rj)[:self._col]
        data = act_r.data
        m.d.comb += issue.eq(reading & (ahead.level + inflight < 3))
        if self.conv_bits:
            # A convolution's patch: the walker's addresses, a zero in the padding.
            m.submodules.walker = wk = PatchWalker(addr_bits=self.conv_bits,
                                                   dim_bits=self.conv_bits)
            for name in ("org", "iy0", "ix0", "kh", "kw", "h", "w", "hw"):
                m.d.comb += getattr(wk, name).eq(getattr(self, name))
            m.d.comb += [wk.start.eq(starting & self.conv), wk.next.eq(issue & self.conv)]
            where = Mux(self.conv, wk.addr, where)[:self._col]
            pad = Signal()                  # the read in flight is of the padding
            m.d.sync += pad.eq(self.conv & ~wk.valid)
            data = Mux(pad, 0, act_r.data)
        m.d.comb += [
            act_r.addr.eq(Mux(self.peek, self.peek_addr, Cat(where, self.bank))),
            self.peek_data.eq(act_r.data),
            ahead.w_en.eq(inflight),
            ahead.w_data.eq(Cat(Cat(data, data != 0) if nz_in else data,
                                *(r.data for r in lens))),
        ]
        for r in lens:
            m.d.comb += r.addr.eq(self.ptr_base + Mux(starting, 0, rj))
        with m.If(starting):
            m.d.sync += [length.eq(self.length), inflight.eq(self.length != 0),
                         rj.eq(self.length != 0), reading.eq(self.length > 1)]
        with m.Else():
            m.d.sync += inflight.eq(issue)
            with m.If(issue):
                m.d.sync += [rj.eq(rj + 1), reading.eq(rj + 1 < length)]

        # ---- scanner: examines the buffer's head, activation ``j``, once per cycle
        scanning = Signal()                 # examining ``j`` this cycle
        j = Signal(range(self._len + 1))
        room = bq.i.ready
        x = ahead.r_data[:8].as_signed()
        nonzero = ahead.r_data[8] if nz_in else x != 0
        advance = Signal()
        push = Signal()
        m.d.comb += [scanning.eq(ahead.r_rdy),
                     advance.eq(scanning & (~nonzero | room)),
                     push.eq(scanning & nonzero & room),
                     ahead.r_en.eq(advance)]
        payload = Signal(bq.i.payload.shape())
        if stream_form:
            self._walker(m, payload, starting, advance, x, ahead.r_data[head_bits:], lb, bases)
        else:
            m.d.comb += [payload.ptr.eq(self.ptr_base + j), payload.value.eq(x)]
        m.d.comb += [bq.i.valid.eq(push), bq.i.payload.eq(payload)]
        with m.If(starting):
            m.d.sync += j.eq(0)
        with m.Elif(advance):
            m.d.sync += j.eq(j + 1)
        emitting = self._xnor_scanner(m, starting, scanning, x, j, length, room, advance,
                                      push, payload) if self.xnor else C(0, 1)

        # ---- the end: scanner done, queues empty, every PE idle (registered)
        # The scanner counts as busy five cycles past its last examination, as long
        # as a PE's pointer read and last product take, so either way the run ends
        # ``overhead`` cycles after the cycle model's end (``stream_overhead`` and as
        # many cycles more for the stream PE's fetch and decode).
        tail = Signal(5 + (self.stream_overhead - self.overhead if stream_form else 0))
        m.d.sync += tail.eq(Cat(scanning | emitting, tail[:-1]))
        running = Signal()
        idle = ~reading & ~inflight & ~scanning & ~tail.any() & ~emitting
        for k, pe in enumerate(self._pes):
            idle = idle & ~bq.o[k].valid & ~pe.busy
        with m.If(starting):
            m.d.sync += running.eq(1)
        with m.Elif(running & idle):
            m.d.sync += running.eq(0)
        m.d.comb += self.busy.eq(running)

    def _walker(self, m, payload, starting, advance, x, lens, lb, bases):
        """The stream form's column walker: each PE's bit offset, from its
        layer's base, advanced by its segment length at every column the
        scanner passes; the push carries the offsets before the column's."""
        m.d.comb += payload.shared.value.eq(x)
        for k, pe in enumerate(self._pes):
            off = Signal(pe.off_bits, name=f"off{k}")
            seg = lens[k * lb:(k + 1) * lb]
            m.d.comb += [payload.private[k].off.eq(off), payload.private[k].len.eq(seg)]
            with m.If(starting):
                m.d.sync += off.eq(bases[k] << 4)
            with m.Elif(advance):
                m.d.sync += off.eq(off + seg)

    def _xnor_scanner(self, m, starting, scanning, x, j, length, room, advance, push,
                      payload):
        """The scanner of a binary layer (``binary``): examines an activation per
        cycle into the bit planes of its group; the cycle it examines a group's
        last, it hands the planes to the emit buffer, once that is empty or
        pushes its last plane in that cycle (else it waits); the buffer pushes
        its lowest non-zero plane each cycle every queue has room. Overrides
        ``advance``, ``push`` and the payload while ``binary``; returns "the
        buffer holds a plane"."""
        G = XNOR_GROUP
        gi = Signal(range(G))                   # the examined activation's place in its group
        grp, egrp = Signal(self._col + 1), Signal(self._col + 1)   # its group; the buffer's
        fill = [Signal(G, name=f"plane{k}") for k in range(8)]
        ebuf = [Signal(G, name=f"emit{k}") for k in range(8)]
        emask = Signal(8)                       # the buffer's non-zero planes
        xb = x.as_unsigned()
        complete = [fill[k] | (xb[k] << gi)[:G] for k in range(8)]
        nonzero = Cat((fill[k] != 0) | xb[k] for k in range(8))
        is_end = (gi == G - 1) | (j + 1 == length)
        low = Signal(8)                         # the lowest non-zero plane, one-hot
        m.d.comb += low.eq(emask & -emask)
        single = emask == low
        bpush = (emask != 0) & room
        free = (emask == 0) | (room & single)
        b_advance = scanning & (~is_end | free)
        bits, value = Signal(G), Signal(signed(8))
        for k in range(8):                      # a parallel choice on the one-hot ``low``
            with m.If(low[k]):
                m.d.comb += [bits.eq(ebuf[k]), value.eq(-128 if k == 7 else 1 << k)]
        with m.If(self.binary):
            m.d.comb += [advance.eq(b_advance), push.eq(bpush),
                         payload.ptr.eq(self.ptr_base + egrp), payload.value.eq(value),
                         payload.bits.eq(bits)]
            with m.If(bpush):
                m.d.sync += emask.eq(emask & ~low)
            with m.If(b_advance):
                with m.If(is_end):
                    m.d.sync += [gi.eq(0), grp.eq(grp + 1), egrp.eq(grp), emask.eq(nonzero),
                                 *(f.eq(0) for f in fill),
                                 *(e.eq(c) for e, c in zip(ebuf, complete))]
                with m.Else():
                    m.d.sync += [gi.eq(gi + 1), *(f.eq(c) for f, c in zip(fill, complete))]
        with m.If(starting):
            m.d.sync += [gi.eq(0), grp.eq(0), emask.eq(0), *(f.eq(0) for f in fill)]
        return emask != 0
