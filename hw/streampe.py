"""A sparse processing element that decodes its Huffman-coded entries on the fly."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.hwmodel.stream import MAX_CODE_LEN, MAX_LEN_BITS, WORD_BITS

from .huffman import HuffmanError, code_length
from .layouts import segment_layout, table_entry_layout
from .params import COLLISION_FREE, reject, require_int
from .pe import accumulate_forwarded

__all__ = ["StreamPE", "BANKS", "PIPELINE"]

#: Stream memory banks: word ``a`` lives in bank ``a % BANKS``, so any three
#: consecutive words are read in one cycle.
BANKS = 4
#: Cycles from a symbol's decode step to its product's write-back.
PIPELINE = 9
L = MAX_CODE_LEN


class StreamPE(wiring.Component):
    """One processing element of the engine's sparse phase in the stream form:
    for each activation ``x`` taken on ``i`` with the bit offset ``off`` and
    length ``len`` of this PE's segment of the column (``golden.hwmodel.stream``),
    it decodes the segment's Huffman-coded entries and adds ``w * x`` to the
    accumulator of each entry's row.

    Memories, written while idle: the stream (``ent_*``, 16-bit words, word
    ``a`` at ``ent_addr = a``), the symbol table (``sym_*``: slot ``s`` of bank
    ``b`` at ``b << sym_bits | s``, a ``table_entry_layout``: the slots of
    ``golden.hwmodel.stream.decoder_table``'s ``symbols``, each split into its
    code and gap), the codebooks (``cb_*``, as ``SparsePE``). ``cb_bank``
    picks the layer's codebook and symbol table; ``limit`` and ``offset`` are
    the layer's ``decoder_table`` limits and offsets (shared by all PEs).

    How (the timing contract is ``golden.hwmodel.cycles.segment_cycles``):

    * Fetch. A taken activation reads the three stream words its segment
      starts in, one from each of three banks (M), registers them (P1) and
      aligns its first 16-bit window (R). An empty segment is dropped at the
      take. Each stage passes its column on when the next is free or passing
      its own on.
    * Decode. Two slots, each a column, take turns in a loop of two register
      stages (C-slow): in a slot's *step* its window's code length is found
      (``hw.huffman.code_length``), and in the next cycle the length is
      shifted out of its three-word buffer and the window realigned; a step
      that crosses a word boundary reads the next word, which arrives for
      the slot's next shift. A slot with no column takes R's in its step. So
      each slot decodes a symbol every other cycle, the PE one per cycle.
    * Then, one symbol per cycle: the table slot (``offset`` plus the code's
      value), the symbol table, the row (``gap + 1`` past the previous entry
      of the same column, per slot; padding entries, code 0, stop here), the
      codebook and accumulator, the product, the forwarded sum written back
      (``accumulate_forwarded``), ``PIPELINE`` cycles after the step.

    Bad input never hangs it: a window that starts no code (``BAD_CODE``), a
    code longer than what is left of its segment, a segment ending past
    ``extent`` (the stream's bits) or a row past the accumulators
    (``OVERRUN``) set ``error`` (held until ``clear``); from then on it
    decodes nothing and drains its queue, so the phase still ends.

    ``busy``, ``mac``, ``rd_*`` and ``clr_*`` are ``SparsePE``'s; the read-out
    has the pipelined form's timing.

    Parameters
    ----------
    code_bits : int
        Width of a codebook index, 1..7.
    sym_bits : int
        Symbols are ``0 .. 2**sym_bits - 1`` (``gap_bits + code_bits``), 2..12.
    rows : int
        Accumulators, a power of two, 2..32768.
    words : int
        Stream memory depth in 16-bit words, a multiple of 4, 4..65536.
    len_bits : int
        Width of a segment length, 1..16.
    acc_bits : int
        Accumulator width, 16..32.
    cb_banks : int
        Codebooks and symbol tables held at once (one per layer), 1..64.
    """

    def __init__(self, *, code_bits: int = 4, sym_bits: int = 8, rows: int = 256,
                 words: int = 1024, len_bits: int = 8, acc_bits: int = 32, cb_banks: int = 1):
        require_int(self, "code_bits", code_bits, 1, 7)
        require_int(self, "sym_bits", sym_bits, 2, 12)
        require_int(self, "len_bits", len_bits, 1, MAX_LEN_BITS)
        require_int(self, "acc_bits", acc_bits, 16, 32)
        require_int(self, "cb_banks", cb_banks, 1, 64)
        if not isinstance(rows, int) or not 2 <= rows <= 1 << 15 or rows & (rows - 1):
            reject(self, f"rows must be a power of two in 2..32768, not {rows!r}")
        if not isinstance(words, int) or not 4 <= words <= 1 << 16 or words % BANKS:
            reject(self, f"words must be a multiple of {BANKS} in 4..65536, not {words!r}")
        self._cb, self._sb, self._rows, self._words = code_bits, sym_bits, rows, words
        self._lb, self._acc, self._banks = len_bits, acc_bits, cb_banks
        bank_bits = (cb_banks - 1).bit_length()
        rbits = (rows - 1).bit_length()
        super().__init__({
            "i": In(stream.Signature(segment_layout(self.off_bits, len_bits))),
            "limit": In(data.ArrayLayout(L + 1, L + 1)),
            "offset": In(data.ArrayLayout(sym_bits, L + 1)),
            "extent": In(self.off_bits + 1),
            "ent_we": In(1), "ent_addr": In(range(words)), "ent_data": In(WORD_BITS),
            "sym_we": In(1), "sym_addr": In(sym_bits + bank_bits),
            "sym_data": In(table_entry_layout(code_bits)),
            "cb_we": In(1), "cb_addr": In(code_bits + bank_bits), "cb_data": In(signed(8)),
            "cb_bank": In(bank_bits),
            "rd_addr": In(rbits), "rd_data": Out(signed(acc_bits)),
            "clr_en": In(1), "clr_addr": In(rbits),
            "clear": In(1),
            "busy": Out(1), "mac": Out(1), "error": Out(HuffmanError),
        })

    @property
    def off_bits(self) -> int:
        """Bits of a bit offset into the stream memory."""
        return (self._words * WORD_BITS - 1).bit_length()

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def words(self) -> int:
        return self._words

    @property
    def code_bits(self) -> int:
        return self._cb

    @property
    def sym_bits(self) -> int:
        return self._sb

    @property
    def len_bits(self) -> int:
        return self._lb

    @property
    def acc_bits(self) -> int:
        return self._acc

    @property
    def pipelined(self) -> bool:
        """Its read-out has the pipelined ``SparsePE``'s timing."""
        return True

    def elaborate(self, platform):
        m = Module()
        self._err = err = Signal(HuffmanError)
        m.d.comb += self.error.eq(err)
        with m.If(self.clear):
            m.d.sync += err.eq(HuffmanError.NONE)

        banks = self._stream_banks(m)
        fetched = self._fetch(m, banks)
        steps = self._loop(m, banks, fetched)
        self._decode(m, steps)
        return m

    def _fail(self, m, cond, code):
        """Set ``error`` to ``code`` where ``cond`` holds (the first error stays)."""
        with m.If(cond & (self._err == HuffmanError.NONE) & ~self.clear):
            m.d.sync += self._err.eq(code)

    def _stream_banks(self, m):
        """The stream memory as ``BANKS`` banks, each with a fetch and a refill
        read port (``(fetch, refill address)`` per bank: the refill port's
        address is also the write port's, so a true dual-port block RAM holds a
        bank, writes and refills on one port, fetches on the other)."""
        ports = []
        self._refill_data = []
        for b in range(BANKS):
            mem = Memory(shape=unsigned(WORD_BITS), depth=self._words // BANKS, init=[],
                         attrs=COLLISION_FREE)
            m.submodules[f"bank{b}"] = mem
            w, refill = mem.write_port(), mem.read_port()
            addr = Signal(range(self._words // BANKS), name=f"bank{b}_addr")
            m.d.comb += [w.en.eq(self.ent_we & (self.ent_addr % BANKS == b)), w.addr.eq(addr),
                         w.data.eq(self.ent_data), refill.addr.eq(addr)]
            ports.append((mem.read_port(), addr))
            self._refill_data.append(refill.data)
        return ports

    def _fetch(self, m, banks):
        """Take activations and fetch their first three words (M, P1) and first
        window (R). Returns R's registers and its ``take`` (set by the loop)."""
        LB = self._lb
        wbits = len(self.ent_addr)
        valid = {s: Signal(name=f"{s}_valid") for s in ("m", "p1", "r")}
        move = {s: Signal(name=f"{s}_move") for s in ("m", "p1", "r")}
        info = {s: Signal(data.StructLayout({"x": signed(8), "s": 4, "len": LB,
                                             "wi": wbits}), name=f"{s}_info")
                for s in ("m", "p1", "r")}
        p1_words, r_words = Signal(3 * WORD_BITS), Signal(3 * WORD_BITS)
        r_win = Signal(WORD_BITS)
        m.d.comb += [move["m"].eq(valid["m"] & (~valid["p1"] | move["p1"])),
                     move["p1"].eq(valid["p1"] & (~valid["r"] | move["r"])),
                     self.i.ready.eq(~valid["m"] | move["m"])]
        take = self.i.valid & self.i.ready
        off, seg = self.i.payload.private.off, self.i.payload.private.len
        word = off[4:]
        # Bank b holds the fetched word w + ((b - w) mod 4), at its address.
        for b, (fetch, _) in enumerate(banks):
            m.d.comb += [fetch.en.eq(take),
                         fetch.addr.eq((word + (Const(b, 2) - word[:2])[:2]) // BANKS)]
        with m.If(take):
            m.d.sync += [valid["m"].eq(seg != 0),
                         info["m"].eq(Cat(self.i.payload.shared.value, off[:4], seg, word))]
        with m.Elif(move["m"]):
            m.d.sync += valid["m"].eq(0)
        self._fail(m, take & (seg != 0) & (off + seg > self.extent), HuffmanError.OVERRUN)
        # M -> P1: the three words in stream order (the first word's bank first).
        lo = info["m"].wi[:2]
        with m.If(move["m"]):
            m.d.sync += [valid["p1"].eq(1), info["p1"].eq(info["m"])]
            for k in range(3):
                with m.Switch(lo):
                    for b in range(BANKS):
                        with m.Case(b):
                            m.d.sync += p1_words[(2 - k) * 16:(3 - k) * 16].eq(
                                banks[(b + k) % BANKS][0].data)
        with m.Elif(move["p1"]):
            m.d.sync += valid["p1"].eq(0)
        # P1 -> R: the first window, the 16 bits from the segment's first.
        with m.If(move["p1"]):
            m.d.sync += [valid["r"].eq(1), info["r"].eq(info["p1"]), r_words.eq(p1_words),
                         r_win.eq((p1_words << info["p1"].s)[2 * WORD_BITS:])]
        with m.Elif(move["r"]):
            m.d.sync += valid["r"].eq(0)
        self._fetch_busy = valid["m"] | valid["p1"] | valid["r"]
        return {"valid": valid["r"], "take": move["r"], "info": info["r"], "words": r_words,
                "win": r_win}

    def _loop(self, m, banks, r):
        """The decode loop: two slots, each stepping every other cycle. Returns
        the step's registered outputs for the pipeline after it."""
        LB = self._lb
        wbits = len(self.ent_addr)
        err = self._err != HuffmanError.NONE
        state = data.StructLayout({"busy": 1, "win": WORD_BITS, "words": 3 * WORD_BITS,
                                   "pend": 1, "s": 4, "rem": LB, "x": signed(8),
                                   "wi": wbits})
        a = Signal(state)                   # the slot in its step
        b = Signal(state)                   # the other, shifting; ``b_len`` its code
        b_len = Signal(range(L + 1))
        refill = Signal(WORD_BITS)          # the word the shifting slot asked for
        # ---- step (slot a): take R's column if idle, find the code's length
        load = r["valid"] & ~a.busy & ~err
        m.d.comb += r["take"].eq(r["valid"] & (~a.busy | err))
        win = Mux(load, r["win"], a.win)
        step = (load | a.busy) & ~err
        # Both windows' lengths are found in parallel and the step's chosen after,
        # so ``load`` (a function of the slot's busy flag) is not in front of the
        # compares' carry chains.
        len_r, code_r = code_length(m, r["win"], self.limit, L)
        len_a, code_a = code_length(m, a.win, self.limit, L)
        length = Mux(step, Mux(load, len_r, len_a), 0)
        is_code = Mux(load, code_r, code_a)
        self._fail(m, step & ~is_code, HuffmanError.BAD_CODE)
        nxt = Signal(state)
        m.d.comb += nxt.eq(a)
        with m.If(load):
            m.d.comb += [nxt.words.eq(r["words"]), nxt.pend.eq(0), nxt.s.eq(r["info"].s),
                         nxt.rem.eq(r["info"].len), nxt.x.eq(r["info"].x),
                         nxt.wi.eq(r["info"].wi)]
        m.d.comb += nxt.busy.eq(step)
        m.d.sync += [b.eq(nxt), b_len.eq(length)]
        out = {"valid": Signal(), "len": Signal(range(L + 1)), "win": Signal(WORD_BITS),
               "first": Signal(), "x": Signal(signed(8)), "tag": Signal()}
        tag = Signal()
        m.d.sync += [tag.eq(~tag), out["valid"].eq(step & is_code), out["len"].eq(length),
                     out["win"].eq(win), out["first"].eq(load), out["x"].eq(nxt.x),
                     out["tag"].eq(tag)]
        # ---- shift (slot b): consume the code, realign the window, ask for a word
        third = Mux(b.pend, refill, b.words[:WORD_BITS])
        full = Cat(third, b.words[WORD_BITS:])
        pos = Signal(5)
        m.d.comb += pos.eq(b.s + b_len)
        advance = pos[4]
        over = b.busy & (b_len > b.rem)
        self._fail(m, over, HuffmanError.OVERRUN)
        left = (b.rem - b_len)[:LB]
        m.d.sync += [a.busy.eq(b.busy & (left != 0) & ~over & ~err),
                     a.win.eq((full << pos)[2 * WORD_BITS:3 * WORD_BITS]),
                     a.words.eq(Mux(advance, full << WORD_BITS, full)), a.pend.eq(advance),
                     a.s.eq(pos[:4]), a.rem.eq(left), a.x.eq(b.x), a.wi.eq(b.wi + advance)]
        # The word after the buffer's, read now, registered, used in the slot's next shift.
        want = Signal(wbits)
        m.d.comb += want.eq(b.wi + 3)
        which = Signal(2)
        m.d.sync += which.eq(want[:2])
        for _, addr in banks:               # loads write only while the PE is idle
            m.d.comb += addr.eq(Mux(self.ent_we, self.ent_addr // BANKS, want // BANKS))
        with m.Switch(which):
            for k, word in enumerate(self._refill_data):
                with m.Case(k):
                    m.d.sync += refill.eq(word)
        self._loop_busy = a.busy | b.busy
        return out

    def _decode(self, m, d):
        """From a step's code to its product: table slot, symbol, row, then
        ``accumulate_forwarded``."""
        S, CB = self._sb, self._cb
        rbits = (self._rows - 1).bit_length()
        err = self._err != HuffmanError.NONE
        # ---- the code's value and its length's table offset; then the table slot
        e_v, e_first, e_tag = Signal(), Signal(), Signal()
        e_x, f_x = Signal(signed(8)), Signal(signed(8))
        e_off, e_val = Signal(S), Signal(L)
        f_v, f_first, f_tag = Signal(), Signal(), Signal()
        f_idx = Signal(S)
        m.d.sync += [e_v.eq(d["valid"] & ~err), e_first.eq(d["first"]), e_tag.eq(d["tag"]),
                     e_x.eq(d["x"]), e_off.eq(self.offset[d["len"]]),
                     e_val.eq(d["win"] >> (L - d["len"]).as_unsigned()),
                     f_v.eq(e_v), f_first.eq(e_first), f_tag.eq(e_tag), f_x.eq(e_x),
                     f_idx.eq(e_off + e_val)]
        # ---- the symbol table, read and registered
        m.submodules.syms = syms = Memory(shape=table_entry_layout(CB),
                                          depth=self._banks << S, init=[],
                                          attrs=COLLISION_FREE)
        sw, sr = syms.write_port(), syms.read_port()
        m.d.comb += [sw.en.eq(self.sym_we), sw.addr.eq(self.sym_addr),
                     sw.data.eq(self.sym_data), sr.addr.eq(Cat(f_idx, self.cb_bank))]
        # Read in the cycle after ``f``; registered with its entry's tags.
        g_v, g_first, g_tag, g_x = Signal(), Signal(), Signal(), Signal(signed(8))
        h_v, h_first, h_tag, h_x = Signal(), Signal(), Signal(), Signal(signed(8))
        h_sym = Signal(table_entry_layout(CB))
        m.d.sync += [g_v.eq(f_v), g_first.eq(f_first), g_tag.eq(f_tag), g_x.eq(f_x),
                     h_v.eq(g_v & ~err), h_first.eq(g_first), h_tag.eq(g_tag), h_x.eq(g_x),
                     h_sym.eq(sr.data)]
        # ---- the row: gap + 1 past the slot's previous entry (the gap, first)
        pos = [Signal(rbits + 1, name=f"row_slot{k}") for k in range(2)]
        prev = Mux(h_tag, pos[1], pos[0])
        row = Signal(rbits + 2)
        m.d.comb += row.eq(Mux(h_first, h_sym.gap, prev + h_sym.gap + 1))
        with m.If(h_v):
            with m.If(h_tag):
                m.d.sync += pos[1].eq(row)
            with m.Else():
                m.d.sync += pos[0].eq(row)
        self._fail(m, h_v & (row >> rbits).any(), HuffmanError.OVERRUN)
        v2, x2, row2, code2 = Signal(), Signal(signed(8)), Signal(rbits), Signal(CB)
        m.d.sync += [v2.eq(h_v & (h_sym.code != 0) & ~(row >> rbits).any() & ~err),
                     x2.eq(h_x), row2.eq(row[:rbits]), code2.eq(h_sym.code)]
        # ---- codebook and accumulators
        m.submodules.cb = cb = Memory(shape=signed(8), depth=self._banks << CB, init=[],
                                      attrs=COLLISION_FREE)
        m.submodules.acc = acc = Memory(shape=signed(self._acc), depth=self._rows, init=[],
                                        attrs=COLLISION_FREE)
        cb_w, cb_r = cb.write_port(), cb.read_port()
        m.d.comb += [cb_w.en.eq(self.cb_we), cb_w.addr.eq(self.cb_addr),
                     cb_w.data.eq(self.cb_data), cb_r.addr.eq(Cat(code2, self.cb_bank))]
        m.d.comb += self.mac.eq(accumulate_forwarded(
            m, self, acc.read_port(), acc.write_port(), v2=v2, x2=x2, row2=row2,
            w3=cb_r.data, acc_bits=self._acc))
        # Busy until the last step's product is written (``PIPELINE`` cycles on).
        tail = Signal(PIPELINE)
        m.d.sync += tail.eq(Cat(d["valid"] | self._loop_busy, tail[:-1]))
        m.d.comb += self.busy.eq(self._fetch_busy | self._loop_busy | tail.any())

