"""Canonical Huffman decoder with a run-time loadable code."""

from amaranth.hdl import Array, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.huffman import REFILL_BELOW, WAYS

from .params import reject, require_int

__all__ = ["CanonicalTable", "HuffmanDecoder", "HuffmanError", "code_length"]


class HuffmanError(enum.Enum, shape=2):
    NONE = 0
    BAD_TABLE = 1   # the code lengths are over-subscribed (Kraft sum above 1)
    BAD_CODE = 2    # the stream holds a bit pattern that is no code
    OVERRUN = 3     # a code runs past the stream's last bit


def code_length(m, window, limit, max_len: int, enable=1):
    """The length of the canonical code at the top of ``window`` (``max_len``
    bits, the stream's next bit its MSB), from the left-aligned per-length
    limits of ``golden.hwmodel.stream.decoder_table`` (``limit[l]`` for ``l =
    1..max_len``, indexable): combinational, one compare per length and a
    thermometer-to-binary step. Returns ``(length, is_code)``: ``length`` is 0
    where no code starts (and where ``enable`` is low), ``is_code`` whether
    one does."""
    L = max_len
    below = Signal(L + 1)
    for i in range(1, L + 1):
        m.d.comb += below[i].eq(window[L - i:] < limit[i])
    # Limits never decrease with the length, so ``below`` is a thermometer code and
    # the code's length is its first set bit: bit b of the length is set for the
    # runs of lengths [a, c] with that bit, each ``below[c] & ~below[a - 1]`` (no
    # one-hot decode in between). No code (``below[L]`` low) gives length 0.
    length = Signal(range(L + 1))
    for b in range(len(length)):
        bit = 0
        for a in range(1 << b, L + 1, 2 << b):
            c = min(a + (1 << b) - 1, L)
            bit = bit | (below[c] & (~below[a - 1] if a > 1 else 1))
        m.d.comb += length[b].eq(enable & bit)
    return length, below[L]


class CanonicalTable(wiring.Component):
    """Builds a canonical Huffman code's decoder tables from its code lengths:
    what ``golden.hwmodel.stream.decoder_table`` computes, in
    ``2 * count + max_len + 7`` cycles. One implementation serves
    ``HuffmanDecoder`` (whose host writes the lengths) and the engine's image
    loader (``hw.loader.ImageLoader``, which writes them from an image's code
    length tokens).

    1. Write symbol ``s``'s length (0: unused) with ``len_we``, ``len_addr``,
       ``len_data`` while not ``busy`` (ignored while busy).
    2. Pulse ``build`` with ``count``: symbols ``0 .. count - 1`` make the
       code (lengths written earlier at higher addresses are ignored).
    3. Three passes follow (``busy`` high): one counts the symbols of each
       length; one per length ``l = 1 .. max_len`` gives its limit and offset
       (``lim_we`` one-hot on ``l``, with ``lim_data`` and ``off_data``: the
       owner registers them); one places every used symbol in its canonical
       table slot (``sym_we``, ``sym_addr`` the slot, ``sym_data`` the
       symbol), in symbol order.
    4. ``done`` pulses as ``busy`` falls, with ``error`` (held until the next
       ``build``) high if the lengths are over-subscribed (Kraft sum above 1):
       then no symbol is placed, and limits already written are meaningless.

    Parameters
    ----------
    max_len : int
        Longest code, 1..16.
    symbol_bits : int
        Symbols are ``0 .. 2**symbol_bits - 1``, 1..12.
    """

    def __init__(self, *, max_len: int = 16, symbol_bits: int = 8):
        require_int(self, "max_len", max_len, 1, 16)
        require_int(self, "symbol_bits", symbol_bits, 1, 12)
        self._l, self._s = max_len, symbol_bits
        super().__init__({
            "len_we": In(1), "len_addr": In(symbol_bits), "len_data": In(range(max_len + 1)),
            "build": In(1), "count": In(range((1 << symbol_bits) + 1)),
            "busy": Out(1), "done": Out(1), "error": Out(1),
            "lim_we": Out(max_len + 1), "lim_data": Out(max_len + 1),
            "off_data": Out(symbol_bits),
            "sym_we": Out(1), "sym_addr": Out(symbol_bits), "sym_data": Out(symbol_bits),
        })

    @property
    def max_len(self) -> int:
        return self._l

    @property
    def symbol_bits(self) -> int:
        return self._s

    def elaborate(self, platform):
        m = Module()
        L, S = self._l, self._s
        m.submodules.lens = lens = Memory(shape=range(L + 1), depth=1 << S, init=[])
        wr, rd = lens.write_port(), lens.read_port()
        busy = Signal()
        m.d.comb += [self.busy.eq(busy), wr.addr.eq(self.len_addr), wr.data.eq(self.len_data),
                     wr.en.eq(self.len_we & ~busy)]
        # ``tally[l]``: the count of length ``l``'s symbols (first pass), then the
        # table slot its next symbol takes (the second pass rotates the array
        # once, replacing each count by its length's first slot).
        tally = [Signal(S + 1, name=f"tally{i}") for i in range(L + 1)]
        # The two reading passes: address ``a`` read, a cycle later its length
        # (``rd.data``, ``rd_ok``: a symbol below ``count``), a cycle later its
        # length one-hot (``hit``) and its symbol (``q_sym``).
        a, n = Signal(S + 1), Signal(S + 1)
        rd_ok, hit, q_sym = Signal(), Signal(L + 1), Signal(S)
        m.d.comb += rd.addr.eq(a[:S])
        m.d.sync += [rd_ok.eq(0), hit.eq(0)]
        with m.If(rd_ok):
            m.d.sync += [hit.eq(1 << rd.data), q_sym.eq(a - 1)]
        draining = Signal()            # the last address is read: two cycles left
        code = Signal(max(L, S) + 3)   # the next code of the pass's length
        slot = Signal(S + 1)           # the next free slot
        lim = Signal(len(code))
        step = Signal(L + 1)           # one-hot length of the canonical pass
        power = Signal(L + 2)          # 2 ** l, registered beside ``step``
        over = Signal()
        m.d.comb += [lim.eq(code + tally[1]), self.lim_data.eq(lim), self.error.eq(over)]
        m.d.sync += [self.done.eq(0), self.sym_we.eq(0)]

        def read_pass(nxt):
            m.d.sync += [a.eq(a + 1), rd_ok.eq(a < n)]
            with m.If(a == n):
                m.d.sync += draining.eq(1)
            with m.If(draining & (hit == 0) & ~rd_ok):
                m.d.sync += [draining.eq(0), a.eq(0)]
                nxt()

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.build):
                    m.d.sync += [a.eq(0), n.eq(self.count), over.eq(0), draining.eq(0),
                                 *(t.eq(0) for t in tally)]
                    m.next = "COUNT"
            with m.State("COUNT"):
                for i in range(1, L + 1):
                    with m.If(hit[i]):
                        m.d.sync += tally[i].eq(tally[i] + 1)

                def to_canon():
                    m.d.sync += [code.eq(0), slot.eq(0), step.eq(0b10), power.eq(2)]
                    m.next = "CANON"
                read_pass(to_canon)
            with m.State("CANON"):
                # Length ``l`` (``step``): its count is at the head of the array.
                m.d.comb += [self.lim_we.eq(step), self.off_data.eq(slot - code)]
                m.d.sync += [code.eq(lim << 1), slot.eq(slot + tally[1]),
                             step.eq(step << 1), power.eq(power << 1),
                             *(tally[i].eq(tally[i + 1]) for i in range(1, L)),
                             tally[L].eq(slot)]
                with m.If(lim > power):
                    m.d.sync += over.eq(1)
                with m.If(step[L]):
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(over):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "PLACE"
            with m.State("PLACE"):
                sel = Signal(S + 1)
                for i in range(1, L + 1):
                    with m.If(hit[i]):
                        m.d.comb += sel.eq(tally[i])
                        m.d.sync += tally[i].eq(tally[i] + 1)
                m.d.sync += [self.sym_we.eq(hit[1:].any()), self.sym_addr.eq(sel[:S]),
                             self.sym_data.eq(q_sym)]

                def to_idle():
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
                read_pass(to_idle)
        m.d.comb += busy.eq(~fsm.ongoing("IDLE"))
        return m


class HuffmanDecoder(wiring.Component):
    """Decodes a two-way interleaved canonical-Huffman stream into symbols.

    The code is the canonical code of ``golden.huffman`` (RFC 1951 order),
    given by its code lengths, so a new model needs no new bitstream:

    1. Write each symbol's code length (0 = unused) with ``len_we``,
       ``len_addr``, ``len_data`` while the decoder is not ``busy``.
    2. Pulse ``build``: ``CanonicalTable`` makes the limits, offsets and
       symbol table, in ``2 * 2**symbol_bits + max_len + 8`` cycles (``busy``
       is high meanwhile). Over-subscribed lengths end in ``error ==
       BAD_TABLE``.
    3. Set ``count`` (symbols) and ``nbits[k]`` (bits of substream ``k``) and
       pulse ``start``. The stream is ``golden.huffman.encode_interleaved``'s:
       symbol ``n`` lives in substream ``n % 2`` and the words of the two
       substreams arrive merged in the order the decoder asks for them. The
       decoder takes exactly ``ceil(nbits[0] / W) + ceil(nbits[1] / W)`` words
       from ``i`` and emits ``count`` symbols on ``o`` in order, then raises
       ``done`` (held until the next ``start``). Bits of a substream after its
       last symbol are padding and ignored.

    Throughput: one symbol per cycle while input words arrive at least as
    fast as the code consumes bits and ``o`` is ready. Latency from the second word's
    arrival to its first symbol on ``o``: 7 cycles.

    How: the decode loop (window compare, length select, shift) is split in
    two register stages and carries the two substreams at once, one in each
    stage (C-slow), so each substream advances every other cycle while the
    loop as a whole decodes a symbol every cycle. Stage A compares the
    substream's window against the left-aligned limits and, in parallel, adds
    the next input word to the buffer if the substream holds fewer than 32
    bits (the interleaving rule guarantees the window is already full); stage
    B shifts out the code. Index arithmetic, the table read and an output
    queue follow in a pipeline, and the loop advances only while the queue has
    room for everything in flight, so ``o.ready`` never reaches the loop.

    Bad input never hangs the decoder and never yields garbage: on a bit
    pattern that is no code (``BAD_CODE``) or a code running past the end of
    its substream (``OVERRUN``, also how too few symbols shows) it emits the
    symbols decoded before it, raises ``error``, stops taking words and
    returns to idle; the next ``start`` clears the error. ``start`` while
    ``busy`` is ignored. Matches ``golden.huffman.decode_interleaved``.

    Parameters
    ----------
    word_width : int
        Input word width: 16 or 32 (a word must hold a full code).
    max_len : int
        Longest code accepted, 1..16.
    symbol_bits : int
        Symbols are ``0 .. 2**symbol_bits - 1``, 1..12.
    queue_depth : int
        Output queue depth, at least 6.
    """

    def __init__(self, *, word_width: int = 32, max_len: int = 16, symbol_bits: int = 8,
                 queue_depth: int = 16):
        if word_width not in (16, 32):
            reject(self, f"word_width must be 16 or 32, not {word_width!r}")
        require_int(self, "max_len", max_len, 1, 16)
        require_int(self, "symbol_bits", symbol_bits, 1, 12)
        if not isinstance(queue_depth, int) or queue_depth < 6:
            # Five symbols can be in flight behind a loop decision (see elaborate).
            reject(self, f"queue_depth must be an integer >= 6, not {queue_depth!r}")
        self._w, self._l, self._s, self._q = word_width, max_len, symbol_bits, queue_depth
        super().__init__({
            "i": In(stream.Signature(word_width)),
            "o": Out(stream.Signature(symbol_bits)),
            "len_we": In(1),
            "len_addr": In(symbol_bits),
            "len_data": In(range(max_len + 1)),
            "build": In(1),
            "start": In(1),
            "count": In(32),
            "nbits": In(data.ArrayLayout(32, WAYS)),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(HuffmanError),
        })

    @property
    def word_width(self) -> int:
        return self._w

    @property
    def max_len(self) -> int:
        return self._l

    @property
    def symbol_bits(self) -> int:
        return self._s

    def elaborate(self, platform):
        m = Module()
        W, L, S = self._w, self._l, self._s
        nsym = 1 << S
        # A substream takes a word only while it holds < REFILL_BELOW bits.
        B = REFILL_BELOW - 1 + W
        assert WAYS == 2 and REFILL_BELOW == 32 and B < 64   # nvalid < 32 is ~nvalid[5]

        m.submodules.table = tb = CanonicalTable(max_len=L, symbol_bits=S)
        m.submodules.syms = syms = Memory(shape=unsigned(S), depth=nsym, init=[])
        sym_w = syms.write_port()
        sym_r = syms.read_port()
        m.d.comb += [sym_w.addr.eq(tb.sym_addr), sym_w.data.eq(tb.sym_data),
                     sym_w.en.eq(tb.sym_we)]
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=S, depth=self._q)

        # Canonical tables per code length 1..L, written at the end of that length's
        # pass of the build with one-hot enables, so no path indexes them by a computed
        # length except stage 1's selects. limit[l] is the end of length l's codes
        # (first[l] + count[l], at most 2**l): a window is a code of length <= l iff its
        # top l bits are below it. offset[l] maps a code of length l to its table slot:
        # slot = code + offset[l] (mod 2^S), with offset[l] = base[l] - first[l].
        offset = Array(Signal(S, name=f"offset{i}") for i in range(L + 1))
        limit = [Signal(i + 1, name=f"limit{i}") for i in range(L + 1)]
        table_ok = Signal()

        error = Signal(HuffmanError)
        done = Signal()
        m.d.comb += [self.error.eq(error), self.done.eq(done)]

        # Code-length writes from the host (ignored while busy).
        busy = Signal()
        m.d.comb += [self.busy.eq(busy), tb.len_addr.eq(self.len_addr),
                     tb.len_data.eq(self.len_data), tb.len_we.eq(self.len_we & ~busy),
                     tb.count.eq(nsym)]
        for i in range(1, L + 1):
            with m.If(tb.lim_we[i]):
                m.d.sync += [limit[i].eq(tb.lim_data), offset[i].eq(tb.off_data)]

        # ---------------------------------------------------------------- decode state
        # The loop's two register stages, each holding one substream (see the docstring).
        # Stage A reads s_*, stage B reads p_*; p_len, p_win and p_ok also feed stage 1.
        s_buf = Signal(B)                  # buffered bits, the oldest in the MSB
        s_nv = Signal(6)                   # how many are valid
        # Words the substream has left: ``hi + frac``, ``hi`` its whole words of bits
        # and ``frac`` a last, partly filled one. A taken word clears ``frac`` first,
        # then counts ``hi`` down, so loading ``nbits`` needs no adder (and the count-down
        # is off the loop's critical path, the window compare).
        hi_bits = 32 - (W.bit_length() - 1)
        s_hi = Signal(hi_bits)
        s_frac = Signal()
        s_wl_nz = Signal()                 # words left != 0
        s_wl_one = Signal()                # words left == 1
        p_buf = Signal(B)
        p_nv = Signal(6)
        p_hi = Signal(hi_bits)
        p_frac = Signal()
        p_wl_nz = Signal()
        p_last = Signal()                  # the substream's last word is in p_buf
        any_wl = Signal()                  # s_wl_nz | p_wl_nz, registered
        p_len = Signal(range(L + 1))
        p_win = Signal(L)
        p_ok = Signal()                    # the window held a code
        priming = Signal(2)                # the first refill step of each substream is left
        syms_left = Signal(32)
        more = Signal()                    # syms_left != 0, registered
        last = Signal()                    # syms_left == 1, registered
        pad_cur = Signal(range(W))         # padding bits in the last word of the substream
        pad_other = Signal(range(W))       # of the next symbol, and of the other one
        running = Signal()                 # decoding, no error yet
        active = Signal()                  # (priming != 0) | more, registered
        sym_step = Signal()                # (priming == 0) & more: a step decodes a symbol

        # Pipeline after the loop: s1 (p_len, p_win), s1b (checks, selected table
        # offset, code value), s1c (table index), s2 (table read) -> queue.
        s1_valid, s1b_valid, s1c_valid, s2_valid = Signal(), Signal(), Signal(), Signal()
        finished = Signal()

        # ---------------------------------------------------------------- control
        # The build is ``CanonicalTable``'s: it writes the limits and offsets above
        # and the symbol table.
        with m.FSM(name="ctrl") as fsm:
            with m.State("IDLE"):
                m.d.comb += tb.build.eq(self.build)
                with m.If(self.build):
                    m.d.sync += [error.eq(HuffmanError.NONE), done.eq(0), table_ok.eq(0)]
                    m.next = "BUILD"
                with m.Elif(self.start & ~table_ok):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), done.eq(0)]
                with m.Elif(self.start):
                    m.d.sync += [error.eq(HuffmanError.NONE), running.eq(1), done.eq(0)]
                    m.next = "DECODE"

            with m.State("BUILD"):
                with m.If(tb.done):
                    m.d.sync += table_ok.eq(~tb.error)
                    with m.If(tb.error):
                        m.d.sync += error.eq(HuffmanError.BAD_TABLE)
                    m.next = "IDLE"

            with m.State("DECODE"):
                # An error clears ``running``; the end is seen a cycle late (registered).
                with m.If(~running):
                    m.next = "IDLE"
                with m.Elif(finished):
                    m.d.sync += [running.eq(0), done.eq(1)]
                    m.next = "IDLE"
        m.d.comb += busy.eq(~fsm.ongoing("IDLE"))

        # ---------------------------------------------------------------- loop stage A
        # The loop state is loaded on every cycle the decoder is not running (so on
        # ``start`` too): its registers' enable is then ``ce | ~running``, which keeps
        # the loop's enable path short. Substream 0 enters stage A, substream 1
        # stage B as if it had just run a step that consumed nothing.
        lg = W.bit_length() - 1
        with m.If(~running):
            m.d.sync += [s_buf.eq(0), s_nv.eq(0), s_hi.eq(self.nbits[0][lg:]),
                         s_frac.eq(self.nbits[0][:lg].any()),
                         s_wl_nz.eq(self.nbits[0].any()),
                         s_wl_one.eq(self.nbits[0].any() & ~self.nbits[0][lg + 1:].any()
                                     & ~(self.nbits[0][lg] & self.nbits[0][:lg].any())),
                         p_buf.eq(0), p_nv.eq(0), p_hi.eq(self.nbits[1][lg:]),
                         p_frac.eq(self.nbits[1][:lg].any()),
                         p_wl_nz.eq(self.nbits[1].any()),
                         p_len.eq(0), priming.eq(WAYS),
                         syms_left.eq(self.count), more.eq(self.count != 0),
                         last.eq(self.count == 1),
                         pad_cur.eq(-self.nbits[0]), pad_other.eq(-self.nbits[1]),
                         active.eq(1), sym_step.eq(0),
                         any_wl.eq(self.nbits[0].any() | self.nbits[1].any())]
        # While symbols are left a step takes a word if the substream holds fewer than 32
        # bits; after the last symbol, steps take the words left over (padding).
        take = Signal()
        m.d.comb += take.eq(s_wl_nz & (~active | ~s_nv[5]))
        # The loop steps only if the queue can take this symbol and the four behind it in
        # p (stage 1), s1b, s1c and s2, so the queue never overflows and o.ready stays
        # out of the loop. ``room`` is a cycle old, so it leaves one more place free.
        room = Signal()
        m.d.sync += room.eq(queue.level < self._q - 5)
        go = Signal()                      # a step may run (``step`` is the build's)
        m.d.comb += go.eq(running & Mux(active, room, any_wl))
        ce = Signal()
        m.d.comb += [ce.eq(go & (~take | self.i.valid)),
                     self.i.ready.eq(go & take & (error == HuffmanError.NONE))]

        window = s_buf[B - L:]
        length, is_code = code_length(m, window, limit, L, sym_step)
        # A word lands below the s_nv valid bits: s_nv is 0 on a substream's first step
        # and 16..31 whenever a later step takes a word, so a 4-bit shift places it.
        incoming = Signal(B)
        m.d.comb += incoming.eq(Mux(priming != 0, self.i.payload << (B - W),
                                    (self.i.payload << (B - W - 16)) >> s_nv[:4]))
        with m.If(ce):
            m.d.sync += [p_buf.eq(s_buf | Mux(take, incoming, 0)),
                         p_nv.eq(s_nv + Mux(take, W, 0)),
                         p_hi.eq(Mux(take & ~s_frac, s_hi - 1, s_hi)),
                         p_frac.eq(s_frac & ~take),
                         p_wl_nz.eq(s_wl_nz & ~(take & s_wl_one)),
                         any_wl.eq(p_wl_nz | (s_wl_nz & ~(take & s_wl_one))),
                         p_last.eq(~s_wl_nz | (take & s_wl_one)),
                         p_len.eq(length), p_win.eq(window),
                         p_ok.eq(is_code)]
            with m.If(priming == 2):
                m.d.sync += priming.eq(1)
            with m.Elif(priming == 1):
                m.d.sync += [priming.eq(0), active.eq(more), sym_step.eq(more)]
            with m.Elif(more):
                m.d.sync += [syms_left.eq(syms_left - 1), last.eq(syms_left == 2),
                             more.eq(~last), active.eq(~last), sym_step.eq(~last)]
        m.d.sync += s1_valid.eq(ce & sym_step)

        # ---------------------------------------------------------------- loop stage B
        # Shift out the code (0 bits on a refill step): a log shifter, four mux levels.
        shifted = (p_buf << p_len)[:B]
        with m.If(ce):
            m.d.sync += [s_buf.eq(shifted), s_nv.eq(p_nv - p_len), s_hi.eq(p_hi),
                         s_frac.eq(p_frac), s_wl_nz.eq(p_wl_nz),
                         s_wl_one.eq(Mux(p_frac, p_hi == 0, p_hi == 1))]

        # ---------------------------------------------------------------- stage 1
        # A code overruns its substream only if the substream's last word is in p_buf
        # and the code is longer than the bits held minus that word's padding. Symbols
        # alternate between the substreams, so the padding counts rotate.
        live = Signal()
        m.d.comb += live.eq(s1_valid & (error == HuffmanError.NONE))
        s1b_bad, s1b_over = Signal(), Signal()
        real = Signal(7)
        m.d.comb += real.eq(p_nv - pad_cur)
        m.d.sync += [s1b_valid.eq(live), s1b_bad.eq(~p_ok),
                     s1b_over.eq(p_last & (p_len > real))]
        with m.If(live):
            m.d.sync += [pad_cur.eq(pad_other), pad_other.eq(pad_cur)]
        # s1b: the checks take effect (a symbol after a bad one is dropped here too).
        live_b = Signal()
        m.d.comb += live_b.eq(s1b_valid & (error == HuffmanError.NONE))
        with m.If(live_b & s1b_bad):
            m.d.sync += [error.eq(HuffmanError.BAD_CODE), running.eq(0)]
        with m.Elif(live_b & s1b_over):
            m.d.sync += [error.eq(HuffmanError.OVERRUN), running.eq(0)]
        # s1b: the code's value and its length's table offset.
        sel_off, value = Signal(S), Signal(L)
        m.d.sync += [sel_off.eq(offset[p_len]),
                     value.eq(p_win >> (L - p_len).as_unsigned())]
        # s1c: the sorted-table index.
        index = Signal(S)
        m.d.sync += [s1c_valid.eq(live_b & ~s1b_bad & ~s1b_over),
                     index.eq(sel_off + value)]
        m.d.sync += s2_valid.eq(s1c_valid)
        m.d.comb += [sym_r.addr.eq(index[:S]), sym_r.en.eq(1)]

        # The stream is over: no step left, no word left and nothing behind the loop
        # (``running`` is set from ``start`` on, so this is never left over from before).
        m.d.sync += finished.eq(running & ~active & ~s_wl_nz & ~p_wl_nz & ~s1_valid
                                & ~s1b_valid & ~s1c_valid & ~s2_valid & (queue.level == 0))

        # ---------------------------------------------------------------- stage 2 -> queue
        m.d.comb += [queue.w_data.eq(sym_r.data), queue.w_en.eq(s2_valid),
                     self.o.payload.eq(queue.r_data), self.o.valid.eq(queue.r_rdy),
                     queue.r_en.eq(self.o.ready)]
        return m
