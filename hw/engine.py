"""The Zipcore engine: a whole compressed model, resident on chip, run layer by layer."""

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.hwmodel.stream import MAX_CODE_LEN

from .huffman import HuffmanError
from .layerout import LayerOutput
from .loader import ImageLoader, read_words
from .maxpool import MaxPool2
from .params import reject
from .patches import MAX_KERNEL
from .spmv import SparseMatVec

__all__ = ["Engine", "engine_params", "engine_runs_xnor", "weight_words"]


class Engine(wiring.Component):
    """Runs every layer of a loaded memory image without help: the sparse
    phase of each layer (``SparseMatVec``: ``n_pe`` PEs, rows interleaved, a
    scanner broadcasting non-zero activations through ``queue_depth``-deep
    queues), then its output stage (``LayerOutput``: bias, requantization
    with ReLU) writing the next layer's input into the other activation bank
    (ping-pong); the last layer's int32 sums go to the other bank too, four
    bytes each (little-endian, from its start; a row takes four cycles). The
    result is ``golden.hwmodel.engine.engine_forward`` bit for bit.

    Ports, all driven by the host link (``HostLink``):

    * ``img``, ``img_begin``, ``img_end``, ``img_odd`` and the loader's verdict
      (``img_finished``, ``img_status``, ``loaded``, ``in_len``, ``classes``):
      ``ImageLoader``.
    * ``act_we``/``act_addr``/``act_data`` write the input vector (bank 0);
      only while ``busy`` is low. The input is consumed by a run (the layers
      write over it), and writing one overwrites the last run's outputs.
    * ``run`` (with ``loaded``) starts an inference; ``busy`` falls when its
      outputs are written. ``run`` while busy or without a model is ignored
      (the host link refuses it first).
    * ``out_addr`` (a byte of the outputs) reads them on ``out_data`` one
      cycle later, while ``busy`` is low.
    * ``cycles`` (from ``run`` to the end), ``mac_cycles`` (cycles a sparse
      phase ran) and ``macs`` (products added, the useful MACs) of the last
      inference.

    Parameters
    ----------
    n_pe, queue_depth : int
        As ``SparseMatVec``.
    pe : dict
        ``SparsePE`` parameters (``code_bits``, ``rows``, ``pointers``,
        ``entries``, ``entry_ram``, ``pipelined``, ``xnor``); ``cb_banks`` is
        ``max_layers``. With ``xnor`` the engine also runs binary fully
        connected layers on the XNOR path (``SparseMatVec``), from the image's
        sign words (``ImageLoader``).
    max_layers, max_len, max_rows, max_out : int
        As ``ImageLoader``. An activation bank holds ``max(max_len, 4 *
        max_out)`` bytes.
    digit_bits : int or None
        The requantizer's multiplier digit width; None (the default) forms the
        whole product in a pipeline, four DSPs, so the output stage takes a row
        per cycle.
    bias_bits, row_consts :
        The parameter memory's layout (``LayerOutput``); ``max_rows`` is its
        depth in words.
    conv : bool
        Also run convolutions and 2x2 max-pools (``ImageLoader``'s ``conv``
        says which). A convolution runs as its im2col product once per output
        position, in row-major order: the sparse phase scans that position's
        patch (``PatchWalker``: its ``c * kh * kw`` activations, zeros in the
        padding), the output stage writes output channel ``k`` of position
        ``p`` at ``k * oh * ow + p`` (the ``(c, h, w)`` order of
        ``golden.hwmodel.engine``). The next position's sparse phase starts as
        soon as the output stage has read out and cleared the accumulators
        (``LayerOutput.reading``), while the requantizer still finishes the
        last one's rows, and the layer's constants are read once. A pool runs
        on ``MaxPool2`` between the banks, four cycles per output.
    form : str
        ``"expanded"`` or ``"stream"``: the memory image form it loads
        (``ImageLoader``) and runs (``SparseMatVec``). In the stream form
        ``pe`` holds ``StreamPE``'s parameters (``code_bits``, ``sym_bits``,
        ``rows``, ``words``, ``len_bits``, ``acc_bits``) and ``pointers``
        (each PE's length-table rows); the engine keeps each layer's decoder
        limits and offsets in a memory of ``max_layers`` entries the loader
        writes, read at the layer's start. A corrupt stream found in a
        layer's sparse phase (``error``: the first PE's ``HuffmanError``)
        ends the run after that layer's output stage (which clears the
        accumulators), and stays until the next ``run``. No convolutions or
        XNOR path in this form.
    """

    def __init__(self, *, n_pe: int = 4, queue_depth: int = 8, max_layers: int = 4,
                 max_len: int = 512, max_rows: int = 1024, max_out: int = 64,
                 pe: dict | None = None, digit_bits: int | None = None,
                 bias_bits: int = 32, row_consts: bool = True, conv: bool = False,
                 form: str = "expanded"):
        pe = dict(pe or {})
        if not isinstance(conv, bool):
            reject(self, f"conv must be a bool, not {conv!r}")
        if form not in ("expanded", "stream"):
            reject(self, f"form must be 'expanded' or 'stream', not {form!r}")
        if form == "stream" and conv:
            reject(self, "the stream form runs fully connected layers: no conv", ValueError)
        self.conv, self.form = conv, form
        # The width of a layer's lengths and shapes (``layer_entry_layout``).
        self._lb = (max(max_len, max_out)).bit_length() if isinstance(max_len, int) and \
            isinstance(max_out, int) else 1
        if "cb_banks" in pe:
            reject(self, "pe must not set cb_banks: the engine holds one per layer "
                         "(max_layers)")
        pe["cb_banks"] = max_layers if isinstance(max_layers, int) else 1
        # An activation bank holds the longest vector, or the outputs' bytes.
        bank = max(max_len, 4 * max_out) if isinstance(max_len, int) and isinstance(
            max_out, int) else max_len
        self._mv = SparseMatVec(n_pe=n_pe, queue_depth=queue_depth, max_len=bank,
                                act_banks=2, pe=pe, conv_bits=self._lb if conv else 0,
                                form=form)
        p = self._mv.pe
        stream_form = form == "stream"
        pointers = pe.get("pointers", 1024) if stream_form else p.pointers
        entries = p.words if stream_form else p.entries
        self._loader = ImageLoader(
            n_pe=n_pe, code_bits=p.code_bits, rows_per_pe=p.rows, pointers=pointers,
            entries=entries,
            max_layers=max_layers, max_len=max_len, max_rows=max_rows, max_out=max_out,
            bias_bits=bias_bits, row_consts=row_consts, conv=conv, xnor=self._mv.xnor,
            form=form, **({"sym_bits": p.sym_bits, "len_bits": p.len_bits}
                          if stream_form else {}))
        self._out = LayerOutput(n_pe=n_pe, rows_per_pe=p.rows,
                                max_rows=self._loader.param_depth,
                                digit_bits=digit_bits, bias_bits=bias_bits,
                                row_consts=row_consts, rq_stalls=False, acc_bits=p.acc_bits,
                                pipelined=p.pipelined)
        self.bias_bits, self.row_consts = bias_bits, row_consts
        self.n_pe, self.queue_depth, self.code_bits = n_pe, queue_depth, p.code_bits
        self.xnor, self.pipelined = self._mv.xnor, p.pipelined
        self.rows_per_pe, self.pointers, self.entries = p.rows, pointers, entries
        self.sym_bits = p.sym_bits if stream_form else 0
        self.max_layers, self.max_len, self.max_rows, self.max_out = (
            max_layers, max_len, max_rows, max_out)
        ld = self._loader.signature.members
        super().__init__({
            "img": In(stream.Signature(16)), "img_begin": In(1), "img_end": In(1),
            "img_odd": In(1),
            "img_finished": Out(1), "img_status": Out(8), "loaded": Out(1),
            "in_len": Out(16), "classes": Out(16),
            "act_we": In(1), "act_addr": In(range(max_len)), "act_data": In(signed(8)),
            "run": In(1), "busy": Out(1),
            "out_addr": In(range(4 * max_out)), "out_data": Out(8),
            "cycles": Out(32), "mac_cycles": Out(32), "macs": Out(32),
            "n_layers": Out(ld["n_layers"].shape),
            **({"error": Out(HuffmanError)} if stream_form else {}),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mv = mv = self._mv
        m.submodules.loader = ld = self._loader
        m.submodules.out = out = self._out
        layout = ld.entry_layout

        # ---- loading: the loader writes the PEs, biases, constants and the layer
        # table (all but the PEs' in the output stage's parameter memory)
        wiring.connect(m, wiring.flipped(self.img), ld.i)
        m.d.comb += [
            ld.begin.eq(self.img_begin), ld.end.eq(self.img_end), ld.odd.eq(self.img_odd),
            self.img_finished.eq(ld.finished), self.img_status.eq(ld.status),
            self.loaded.eq(ld.loaded), self.in_len.eq(ld.in_len), self.classes.eq(ld.classes),
            self.n_layers.eq(ld.n_layers),
            ld.tbl_data.eq(out.aux_data),
            mv.ld_we.eq(ld.ld_we), mv.ld_all.eq(ld.ld_all), mv.ld_pe.eq(ld.ld_pe),
            mv.ld_mem.eq(ld.ld_mem), mv.ld_addr.eq(ld.ld_addr), mv.ld_data.eq(ld.ld_data),
            out.bias_we.eq(ld.bias_we), out.bias_addr.eq(ld.bias_addr),
            out.bias_data.eq(ld.bias_data),
            out.rq_we.eq(ld.rq_we), out.rq_addr.eq(ld.rq_addr), out.rq_data.eq(ld.rq_data),
        ]

        dec_reads = self._decoder_tables(m, ld) if self.form == "stream" else []
        if self.form == "stream":
            m.d.comb += [mv.sym_we.eq(ld.sym_we), mv.sym_addr.eq(ld.sym_addr),
                         mv.sym_data.eq(ld.sym_data)]

        # ---- the sparse phase feeds the output stage
        m.d.comb += [mv.rd_pe.eq(out.rd_pe),
                     mv.rd_addr.eq(out.rd_addr),
                     mv.clr_en.eq(out.clr_en), mv.clr_pe.eq(out.clr_pe),
                     mv.clr_addr.eq(out.clr_addr), out.rd_data.eq(mv.rd_data)]

        # ---- the sequencer
        L = Signal(layout)                 # the running layer
        bank = Signal()                    # the activation bank the layer reads
        idx = Signal(range(max(self.max_len, self.max_out) + 1))   # output row written next
        fetched = Signal(range(ld.table_words + 2))   # words of the table entry read
        seq_addr = Signal.like(out.aux_addr)
        ta = Signal.like(out.aux_addr)     # the running layer's table entry
        m.d.comb += [r.addr.eq(L.bank) for r in dec_reads]
        m.d.comb += [mv.bank.eq(bank), mv.cb_bank.eq(L.bank),
                     mv.ptr_base.eq(L.ptr_base), mv.length.eq(L.inp),
                     out.rows.eq(L.out), out.row_base.eq(L.row_base), out.relu.eq(L.relu),
                     out.raw.eq(L.last)]
        if mv.xnor:
            m.d.comb += mv.binary.eq(L.binary)
        # Layer outputs go to the other bank: an activation per row, or the last
        # layer's sums as four bytes each (``o`` is taken with the fourth); the
        # host's input goes to bank 0 and its reads come from ``bank`` (where the
        # last layer wrote) while the engine is idle.
        nbyte = Signal(2)                  # byte of the last layer's sum written now
        col = len(mv.act_addr) - 1         # address bits within a bank
        host_in, host_out = Signal(col), Signal(col)
        m.d.comb += [out.o.ready.eq(~L.last | (nbyte == 3)),
                     host_in.eq(self.act_addr), host_out.eq(self.out_addr),
                     mv.peek.eq(~self.busy),           # (and a pool's reads, below)
                     mv.peek_addr.eq(Cat(host_out, bank)),
                     self.out_data.eq(mv.peek_data)]
        o_take = out.o.valid & out.o.ready
        # The activation memory's write port, registered on its way: the host's
        # input, the output stage's rows and the pool's maxima reach it a cycle
        # after they are chosen, so the choice (a function of the host link's
        # and the output stage's handshakes) is not in front of the block RAM.
        # Nothing reads a word within a cycle of its write: a layer's outputs are
        # read after the next table fetch, the host's after ``busy`` falls.
        a_we, a_addr, a_data = Signal(), Signal.like(mv.act_addr), Signal.like(mv.act_data)
        m.d.sync += [mv.act_we.eq(a_we), mv.act_addr.eq(a_addr), mv.act_data.eq(a_data)]
        m.d.comb += [
            a_we.eq(self.act_we | (out.o.valid & (L.last | out.o.ready))),
            a_addr.eq(Cat(host_in, 0)),
            a_data.eq(self.act_data),
        ]
        with m.If(out.o.valid & L.last):
            m.d.sync += nbyte.eq(nbyte + 1)
            m.d.comb += [a_addr.eq(Cat(Cat(nbyte, idx)[:col], ~bank)),
                         a_data.eq(out.o.payload.word_select(nbyte, 8))]
        with m.If(o_take):
            m.d.sync += idx.eq(idx + 1)
            with m.If(~L.last):
                m.d.comb += [a_addr.eq(Cat(idx[:col], ~bank)),
                             a_data.eq(out.o.payload[:8])]
        if self.conv:
            # A convolution's output row ``orow`` of position ``opos`` goes to
            # ``orow * pos + opos``: counted on the outputs themselves, which may
            # still leave while the next position runs.
            orow, opos = Signal(range(self.max_len + 1)), Signal(range(self.max_len + 1))
            with m.If(o_take & L.conv):
                m.d.sync += [orow.eq(orow + 1), idx.eq(idx + L.pos)]
                with m.If(orow == L.out - 1):
                    m.d.sync += [orow.eq(0), opos.eq(opos + 1), idx.eq(opos + 1)]

            # The output position of a convolution: ``pidx`` in row-major order,
            # ``ox`` its column; its patch's corner is row ``iy0``, column ``ix0``,
            # address ``org`` (``prow`` that of its row's first position).
            lb = self._lb
            pidx, ox = Signal(lb), Signal(lb)
            iy0, ix0 = Signal(signed(lb + 2)), Signal(signed(lb + 2))
            prow, org = Signal(lb), Signal(lb)
            m.d.comb += [mv.conv.eq(L.conv), mv.org.eq(org), mv.iy0.eq(iy0), mv.ix0.eq(ix0),
                         mv.kh.eq(L.kh), mv.kw.eq(L.kw), mv.h.eq(L.h), mv.w.eq(L.w),
                         mv.hw.eq(L.hw)]
            m.submodules.pool = pool = MaxPool2(addr_bits=lb, dim_bits=lb)
            m.d.comb += [pool.outputs.eq(L.pos), pool.ph.eq(L.oh), pool.pw.eq(L.ow),
                         pool.w.eq(L.w), pool.hw.eq(L.hw)]
            p_rd, p_wr = Signal(col), Signal(col)
            m.d.comb += [p_rd.eq(pool.rd_addr), p_wr.eq(pool.waddr), pool.rd_data.eq(mv.peek_data)]
            with m.If(pool.we):             # the pool writes the other bank
                m.d.comb += [a_we.eq(1), a_addr.eq(Cat(p_wr, ~bank)),
                             a_data.eq(pool.wdata)]

        cycles, mac_cycles, macs = self.cycles, self.mac_cycles, self.macs
        sparse = Signal()                  # the sparse phase (or the pool) of the layer runs
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.run & self.loaded):
                    m.d.sync += [bank.eq(0), cycles.eq(0), mac_cycles.eq(0),
                                 macs.eq(0), ta.eq(self.max_rows)]
                    if self.form == "stream":
                        m.d.sync += self.error.eq(HuffmanError.NONE)
                    m.next = "FETCH"
            with m.State("FETCH"):         # the table entry of ``layer``
                with m.If(read_words(m, count=fetched, base=ta,
                                     port_addr=seq_addr, port_data=out.aux_data, target=L)):
                    m.d.sync += ta.eq(ta + ld.table_words)
                    m.next = "CONF"
            with m.State("CONF"):
                m.d.sync += [idx.eq(0), fetched.eq(0)]
                m.next = "SPARSE"
                if self.conv:
                    m.d.sync += [pidx.eq(0), ox.eq(0), iy0.eq(-L.pad), ix0.eq(-L.pad),
                                 prow.eq(L.org), org.eq(L.org), orow.eq(0), opos.eq(0)]
                    with m.If(L.pool):
                        m.next = "POOL"
            with m.State("SPARSE"):
                m.d.sync += sparse.eq(1)
                with m.If(sparse & ~mv.busy & ~out.busy):
                    m.d.sync += sparse.eq(0)
                    if self.form == "stream":
                        m.d.sync += self.error.eq(mv.error)
                    m.next = "OUTPUT"
            with m.State("OUTPUT"):
                # A corrupt stream ends the run once its layer's accumulators are clear.
                stop = L.last | (self.error != HuffmanError.NONE) if self.form == "stream" \
                    else L.last

                def layer_done():          # the layer's outputs are all written
                    with m.If(~out.busy & ~out.start):
                        m.d.sync += bank.eq(~bank)
                        with m.If(stop):
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "FETCH"
                if self.conv:
                    # A convolution's next position runs as soon as the accumulators
                    # are read out and cleared; its outputs are still leaving.
                    with m.If(L.conv & (pidx != L.pos - 1)):
                        with m.If(~out.reading & ~out.start):
                            m.d.sync += pidx.eq(pidx + 1)
                            with m.If(ox == L.ow - 1):
                                m.d.sync += [ox.eq(0), ix0.eq(-L.pad), iy0.eq(iy0 + 1),
                                             prow.eq(prow + L.w), org.eq(prow + L.w)]
                            with m.Else():
                                m.d.sync += [ox.eq(ox + 1), ix0.eq(ix0 + 1),
                                             org.eq(org + 1)]
                            m.next = "SPARSE"
                    with m.Else():
                        layer_done()
                else:
                    layer_done()
            if self.conv:
                with m.State("POOL"):
                    m.d.sync += sparse.eq(1)
                    with m.If(sparse & ~pool.busy):
                        m.d.sync += [sparse.eq(0), bank.eq(~bank)]
                        m.next = "FETCH"
            running = ~fsm.ongoing("IDLE")
        fsm.state.attrs["fsm_encoding"] = "one-hot"     # as ``HostLink``'s
        # Starts as expressions of the state (Icarus: see ``HostLink``).
        m.d.comb += [mv.start.eq(fsm.ongoing("SPARSE") & ~sparse),
                     out.start.eq(fsm.ongoing("SPARSE") & sparse & ~mv.busy & ~out.busy)]
        if self.conv:
            # A convolution's constants are read once; a pool reads the bank it pools.
            pooling = fsm.ongoing("POOL")
            m.d.comb += [out.keep_consts.eq(L.conv & (pidx != 0)),
                         pool.start.eq(pooling & ~sparse), mv.peek.eq(~running | pooling),
                         mv.peek_addr.eq(Mux(pooling, Cat(p_rd, bank), Cat(host_out, bank)))]
        # The PEs' products of a cycle are counted a cycle later (their sum over
        # the PEs, registered, then the add): the last ones long before the end.
        macs_now = Signal.like(mv.macs)
        m.d.sync += macs_now.eq(mv.macs)
        with m.If(running):
            m.d.sync += [cycles.eq(cycles + 1), macs.eq(macs + macs_now)]
        with m.If(mv.busy):
            m.d.sync += mac_cycles.eq(mac_cycles + 1)
        m.d.comb += self.busy.eq(running)
        # The parameter memory's read port, while the output stage is idle: the
        # loader's table reads, then the sequencer's.
        m.d.comb += [out.aux_en.eq(~running | fsm.ongoing("FETCH")),
                     out.aux_addr.eq(Mux(running, seq_addr, ld.tbl_addr))]
        return m


    def _decoder_tables(self, m, ld):
        """The stream form's per-layer decoder limits and offsets: a memory of
        one entry per layer, written a length at a time by the loader, read
        (its output registered) for the running layer from its ``CONF``.
        Returns the read ports (the sequencer sets their address)."""
        mv, n = self._mv, MAX_CODE_LEN + 1
        reads = []
        for name, port, value in (("limits", mv.limit, ld.dec_limit),
                                  ("offsets", mv.offset, ld.dec_offset)):
            mem = Memory(shape=data.ArrayLayout(len(value), n), depth=self.max_layers, init=[])
            m.submodules[name] = mem
            w, r = mem.write_port(granularity=1), mem.read_port()
            m.d.comb += [w.en.eq(ld.dec_we), w.addr.eq(ld.dec_addr),
                         w.data.eq(Cat(*[value] * n)), port.eq(r.data)]
            reads.append(r)
        return reads


def _pow2(n: int, least: int = 2) -> int:
    return max(least, 1 << (max(1, n) - 1).bit_length())


def engine_params(zm, *, n_pe: int = 4, queue_depth: int = 8, code_bits: int | None = None,
                  entry_ram: str | None = None, pipelined: bool = False,
                  xnor: bool | None = None, form: str = "expanded",
                  sym_bits: int = 9) -> dict:
    """``Engine`` (and ``HostLink``) parameters just large enough to hold ``zm`` (a
    ``ZModel`` of fully connected layers, shared or binary, and shared
    convolutions and max-pools, which need ``conv``) with ``n_pe`` PEs: the
    pointer and parameter memories exactly as deep as the model needs, other
    depths rounded up to powers of two, one codebook bank per layer; 16-bit
    biases when every bias fits, requantization constants per layer when no
    layer's rows differ (``LayerOutput``: the parameter memory then holds them
    too), accumulators just wide enough that no sum of int8 activations can
    overflow them (so they compute the int32 sums exactly). With
    ``entry_ram="spram"`` each PE's entries are an iCE40 SPRAM; ``pipelined``
    picks ``SparsePE``'s pipelined form (every memory output registered, the
    ECP5 boards'). ``xnor`` builds the XNOR path and sizes the memories for the
    binary layers' sign words (``memory_image(..., binary_as_entries=False)``),
    else for their +1/-1 entries (``binary_as_entries=True``); by default
    (None) it is built for a model with binary layers, all fully connected
    (``engine_runs_xnor``). ``form="stream"`` sizes the stream form's engine
    (``Engine``'s ``form``) for ``memory_image(zm, n_pe, form="stream",
    sym_bits=sym_bits, binary_as_entries=True)``: fully connected layers
    only, no XNOR path, each PE's stream memory and length width just large
    enough. Raises ``ValueError`` (one line) for a model no such engine
    holds."""
    from golden.hwmodel.engine import engine_model  # noqa: PLC0415
    from golden.hwmodel.image import XNOR_GROUP, layer_codes  # noqa: PLC0415

    from .layerout import consts_words  # noqa: PLC0415

    for i, ly in enumerate(zm.layers):
        if ly.kind == "conv" and (ly.stride != 1 or not 1 <= ly.kh <= MAX_KERNEL
                                  or not 1 <= ly.kw <= MAX_KERNEL or ly.pad > MAX_KERNEL):
            raise ValueError(f"layer {i}: the engine runs stride-1 convolutions with kernels "
                             f"and padding up to {MAX_KERNEL}, not stride {ly.stride}, "
                             f"{ly.kh}x{ly.kw}, "
                             f"pad {ly.pad}")
        if ly.kind == "maxpool" and ly.pool != 2:
            raise ValueError(f"layer {i}: the engine runs 2x2 max-pools, not {ly.pool}x{ly.pool}")
    if zm.layers[-1].kind != "fc":
        raise ValueError("the engine needs a model whose last layer is fully connected")
    conv = any(ly.kind != "fc" for ly in zm.layers)
    if form not in ("expanded", "stream"):
        raise ValueError(f"form must be 'expanded' or 'stream', not {form!r}")
    if form == "stream" and conv:
        raise ValueError("the stream form runs fully connected models; use the expanded form "
                         "for convolutions")
    if form == "stream":
        if xnor:
            raise ValueError("the stream form has no XNOR path: binary layers run as entries")
        xnor = False
    if xnor is None:
        xnor = engine_runs_xnor(zm)
    elif xnor and any(ly.storage == "binary" and ly.kind != "fc" for ly in zm.layers):
        raise ValueError("the XNOR path runs fully connected binary layers, not convolutions")
    fc = [ly for ly in zm.layers if ly.storage != "none"]
    signs = [ly for ly in fc if xnor and ly.storage == "binary"]
    entried = [ly for ly in fc if not (xnor and ly.storage == "binary")]
    codes = [layer_codes(ly) for ly in entried]
    if code_bits is None:
        code_bits = max((bits for _, bits in codes), default=1)
    layers = engine_model(zm).layers
    # Every activation vector: each layer's input, and each output but the last.
    widths = ([int(np.prod(el.in_shape)) for el in layers]
              + [int(np.prod(el.out_shape)) for el in layers[:-1]])
    most_rows = max(-(-ly.out // n_pe) for ly in fc)
    groups = [-(-ly.inp // XNOR_GROUP) for ly in signs]
    entries = max(weight_words(zm, n_pe, xnor=xnor))
    if entries > 1 << 14:
        raise ValueError(f"the model needs {entries} weight entries in a PE, more than the "
                         f"16384 a PE holds; use more PEs (it has {n_pe})")
    if code_bits > 7:
        raise ValueError(f"the model's {code_bits}-bit codes do not fit an entry word (at "
                         f"most 7 bits)")
    if most_rows > 1 << (15 - code_bits):
        raise ValueError(f"a PE would hold more than {1 << (15 - code_bits)} rows of a layer; "
                         f"use more PEs (it has {n_pe})")
    em = [el for el in layers if el.weights is not None]
    bias_bits = 16 if all(-(1 << 15) <= int(b) < 1 << 15 for el in em for b in el.bias) else 32
    row_consts = any(len(set(zip(el.multiplier.tolist(), el.shift.tolist()))) > 1
                     for el in em if el.multiplier is not None)
    words = sum(ly.out for ly in fc) + (0 if row_consts else consts_words(bias_bits) * len(fc))
    # |sum| <= 128 * sum |w| over a row; one more bit for the sign.
    bound = max(int(np.abs(el.weights).sum(axis=1).max(initial=0)) * 128 for el in em)
    acc_bits = max(16, min(32, bound.bit_length() + 1))
    params = dict(n_pe=n_pe, queue_depth=queue_depth, max_layers=len(zm.layers),
                  max_len=_pow2(max(widths)), max_rows=words, max_out=_pow2(fc[-1].out),
                  bias_bits=bias_bits, row_consts=row_consts, conv=conv,
                  pe=dict(code_bits=code_bits, rows=_pow2(most_rows), acc_bits=acc_bits,
                          pointers=max(2, sum(ly.inp for ly in entried)
                                       + sum(groups)),
                          entries=1 << 14 if entry_ram == "spram" else _pow2(entries),
                          entry_ram=entry_ram, pipelined=pipelined, xnor=xnor))
    return _stream_params(zm, params, sym_bits) if form == "stream" else params


def _stream_params(zm, params: dict, sym_bits: int) -> dict:
    """``engine_params``'s expanded-form ``params`` turned into the stream
    form's: ``StreamPE`` parameters from the model's stream image, and 32-bit
    biases where 16 would make the layer table entry too long for the stream
    loader (``ImageLoader``)."""
    from golden.hwmodel.image import ImageError, memory_image, read_image  # noqa: PLC0415

    from .loader import layer_entry_layout  # noqa: PLC0415

    n_pe, pe = params["n_pe"], params["pe"]
    try:
        img = read_image(memory_image(zm, n_pe, code_field=pe["code_bits"],
                                      binary_as_entries=True, form="stream",
                                      sym_bits=sym_bits))
    except ImageError as e:
        raise ValueError(str(e)) from None
    layers = [sl for sl in img.streams if sl is not None]
    words = max(sum(len(sl.streams[k]) for sl in layers) for k in range(n_pe))
    if words > 1 << 16:
        raise ValueError(f"the model needs {words} stream words in a PE, more than the 65536 "
                         f"a PE holds; use more PEs (it has {n_pe})")
    lb = max(params["max_len"], params["max_out"]).bit_length()
    entry = layer_entry_layout(lb, (pe["pointers"] - 1).bit_length() or 1,
                               (params["max_rows"] - 1).bit_length() or 1,
                               (params["max_layers"] - 1).bit_length(), stream=True)
    bias_bits = params["bias_bits"] if -(-entry.size // params["bias_bits"]) <= 4 else 32
    return dict(params, bias_bits=bias_bits, form="stream",
                pe=dict(code_bits=pe["code_bits"], sym_bits=sym_bits, rows=pe["rows"],
                        words=_pow2(words, 4), len_bits=max(sl.len_bits for sl in layers),
                        acc_bits=pe["acc_bits"], pointers=pe["pointers"]))


def weight_words(zm, n_pe: int, *, xnor: bool) -> list[int]:
    """Per PE, the weight words ``zm``'s memory image stores in its entry memory:
    the entries of its shared layers (and, without ``xnor``, of its binary ones
    as +1/-1 entries), and with ``xnor`` its binary layers' sign words."""
    from golden.hwmodel.image import XNOR_GROUP, layer_codes, pe_tables  # noqa: PLC0415

    words = [0] * n_pe
    for ly in zm.layers:
        if ly.storage == "binary" and xnor:
            groups = -(-ly.inp // XNOR_GROUP)
            for k in range(n_pe):
                words[k] += groups * len(range(k, ly.out, n_pe))
        elif ly.storage != "none":
            codes, bits = layer_codes(ly)
            for k, (_, ents) in enumerate(pe_tables(codes, n_pe, bits)):
                words[k] += len(ents)
    return words


def engine_runs_xnor(zm) -> bool:
    """Whether ``engine_params`` builds the XNOR path for ``zm`` by default: it
    has binary layers, all fully connected."""
    binary = [ly for ly in zm.layers if ly.storage == "binary"]
    return bool(binary) and all(ly.kind == "fc" for ly in binary)
