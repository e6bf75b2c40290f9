"""Canonical Huffman decoder with a run-time loadable code."""

from amaranth.hdl import Array, Module, Mux, Signal, unsigned
from amaranth.lib import enum, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["HuffmanDecoder", "HuffmanError"]


class HuffmanError(enum.Enum, shape=2):
    NONE = 0
    BAD_TABLE = 1   # the code lengths are over-subscribed (Kraft sum above 1)
    BAD_CODE = 2    # the stream holds a bit pattern that is no code
    OVERRUN = 3     # a code runs past the stream's last bit


class HuffmanDecoder(wiring.Component):
    """Decodes a packed canonical-Huffman bit stream into symbols.

    The code is the canonical code of ``golden.huffman`` (RFC 1951 order),
    given by its code lengths, so a new model needs no new bitstream:

    1. Write each symbol's code length (0 = unused) with ``len_we``,
       ``len_addr``, ``len_data`` while the decoder is not ``busy``.
    2. Pulse ``build``: the decoder counts the lengths, computes the
       canonical first codes and left-aligned limits and sorts the symbols
       into its table, in ``2 * 2**symbol_bits + 2 * max_len + 7`` cycles (``busy``
       is high meanwhile). Over-subscribed lengths end in
       ``error == BAD_TABLE``.
    3. Set ``count`` (symbols) and ``nbits`` (stream bits) and pulse
       ``start``. The decoder takes exactly ``ceil(nbits / word_width)``
       words from ``i`` (stream bits MSB first, as ``golden.huffman.to_words``
       packs them) and emits ``count`` symbols on ``o``, then raises ``done``
       (held until the next ``start``). Bits after the last symbol are
       padding and ignored.

    Throughput: one symbol per cycle while input words arrive at least as
    fast as the code consumes bits and ``o`` is ready. Latency from a word's
    arrival to its first symbol on ``o``: 7 cycles. The decode loop itself
    (window compare, length select, shift) is one cycle; index arithmetic,
    the table read and an output queue follow in a pipeline, and the loop
    advances only while the queue has room for everything in flight, so
    ``o.ready`` never reaches the loop.

    Bad input never hangs the decoder and never yields garbage: on a bit
    pattern that is no code (``BAD_CODE``) or a code running past ``nbits``
    (``OVERRUN``) it emits the symbols decoded before it, raises ``error``,
    stops taking words and returns to idle; the next ``start`` clears the
    error. ``start`` while ``busy`` is ignored. Matches ``golden.huffman.decode``.

    Parameters
    ----------
    word_width : int
        Input word width: 8, 16, 32 or 64.
    max_len : int
        Longest code accepted, 1..16.
    symbol_bits : int
        Symbols are ``0 .. 2**symbol_bits - 1``, 1..12.
    """

    def __init__(self, *, word_width: int = 32, max_len: int = 16, symbol_bits: int = 8,
                 queue_depth: int = 16):
        if word_width not in (8, 16, 32, 64):
            reject(self, f"word_width must be 8, 16, 32 or 64, not {word_width!r}")
        if not isinstance(max_len, int) or not 1 <= max_len <= 16:
            reject(self, f"max_len must be an integer in 1..16, not {max_len!r}")
        if not isinstance(symbol_bits, int) or not 1 <= symbol_bits <= 12:
            reject(self, f"symbol_bits must be an integer in 1..12, not {symbol_bits!r}")
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
            "nbits": In(32),
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
        B = W + 2 * L                          # bit buffer: a word fits whenever nvalid <= 2L

        m.submodules.lens = lens = Memory(shape=range(L + 1), depth=nsym, init=[])
        m.submodules.syms = syms = Memory(shape=unsigned(S), depth=nsym, init=[])
        len_w = lens.write_port()
        len_r = lens.read_port()
        sym_w = syms.write_port()
        sym_r = syms.read_port()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=S, depth=self._q)

        # Canonical tables per code length 1..L, written during the build with one-hot
        # enables so no path indexes them by a computed length except stage 1's selects.
        count = [Signal(S + 2, name=f"count{i}") for i in range(L + 1)]
        first = Array(Signal(L + 2, name=f"first{i}") for i in range(L + 1))
        base = Array(Signal(S + 2, name=f"base{i}") for i in range(L + 1))
        nxt = Array(Signal(S + 2, name=f"next{i}") for i in range(L + 1))
        limit = [Signal(L + 1, name=f"limit{i}") for i in range(L + 1)]
        table_ok = Signal()

        error = Signal(HuffmanError)
        done = Signal()
        m.d.comb += [self.error.eq(error), self.done.eq(done)]

        # Code-length writes from the host (ignored while busy).
        busy = Signal()
        m.d.comb += [self.busy.eq(busy),
                     len_w.addr.eq(self.len_addr), len_w.data.eq(self.len_data),
                     len_w.en.eq(self.len_we & ~busy)]

        # ---------------------------------------------------------------- decode state
        buf = Signal(B)
        nvalid = Signal(range(B + 1))
        enough = Signal()            # nvalid >= L, registered with nvalid
        space = Signal()             # nvalid <= B - W, registered with nvalid
        words_left = Signal(32)
        no_words = Signal()          # words_left == 0, registered
        one_word = Signal()          # words_left == 1, registered
        syms_left = Signal(32)
        more = Signal()              # syms_left != 0, registered
        last = Signal()              # syms_left == 1, registered
        bits_left = Signal(33)
        decoding = Signal()

        # Pipeline after the loop: s1 (length, window), s1b (selected base/first, code
        # value), s1c (table index), s2 (table read) -> queue.
        s1_valid, s1b_valid, s1c_valid, s2_valid = Signal(), Signal(), Signal(), Signal()
        s1_len = Signal(range(L + 1))
        s1_win = Signal(L)
        s1_ok = Signal()

        # ---------------------------------------------------------------- build FSM
        addr = Signal(S + 1)
        rd_valid = Signal()          # len_r.data holds the length of symbol addr - 1
        q_valid = Signal()           # q_len / q_sym: that length, registered
        q_len = Signal(range(L + 1))
        q_sym = Signal(S)
        step = Signal(L + 1)         # one-hot code length during SCAN
        f_prev = Signal(L + 2)       # first[l-1], count[l-1], base[l-1] during SCAN
        c_prev = Signal(S + 2)
        b_prev = Signal(S + 2)
        c_shift = [Signal(S + 2, name=f"cshift{i}") for i in range(L)]
        power = Signal(L + 2)        # 2^l during SCAN
        phase = Signal()

        m.d.comb += len_r.addr.eq(addr[:S])
        m.d.sync += [q_valid.eq(rd_valid), q_len.eq(len_r.data), q_sym.eq((addr - 1)[:S])]

        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                with m.If(self.build):
                    m.d.sync += [addr.eq(0), rd_valid.eq(0), error.eq(HuffmanError.NONE),
                                 done.eq(0), table_ok.eq(0), busy.eq(1)]
                    m.d.sync += [count[i].eq(0) for i in range(L + 1)]
                    m.next = "COUNT"
                with m.Elif(self.start & ~table_ok):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), done.eq(0)]
                with m.Elif(self.start):
                    nwords = (self.nbits + W - 1) >> (W.bit_length() - 1)
                    m.d.sync += [words_left.eq(nwords), no_words.eq(nwords == 0),
                                 one_word.eq(nwords == 1),
                                 syms_left.eq(self.count), more.eq(self.count != 0),
                                 last.eq(self.count == 1), bits_left.eq(self.nbits),
                                 nvalid.eq(0), enough.eq(0), space.eq(1), buf.eq(0),
                                 error.eq(HuffmanError.NONE),
                                 done.eq(0), busy.eq(1), decoding.eq(1)]
                    m.next = "DECODE"

            with m.State("COUNT"):
                # Read every length (read latency 1, then a register) and count per length.
                m.d.sync += [addr.eq(addr + 1), rd_valid.eq(addr < nsym)]
                for i in range(1, L + 1):
                    with m.If(q_valid & (q_len == i)):
                        m.d.sync += count[i].eq(count[i] + 1)
                with m.If(addr == nsym + 2):
                    m.d.sync += [step.eq(0b10), f_prev.eq(0), c_prev.eq(0), b_prev.eq(0),
                                 power.eq(2), phase.eq(0)]
                    m.d.sync += [c_shift[i].eq(count[i + 1]) for i in range(L)]
                    m.next = "SCAN"

            with m.State("SCAN"):
                # Two cycles per length l (one-hot in step), so no path holds more than
                # one adder: first[l] = (first[l-1] + count[l-1]) << 1 and
                # base[l] = base[l-1] + count[l-1], then limit[l] = (first[l] + count[l])
                # << (L - l) and the Kraft check first[l] + count[l] <= 2^l.
                f = Signal(L + 2)
                b = Signal(S + 2)
                end = Signal(L + 2)
                over = Signal()
                with m.If(~phase):
                    m.d.sync += [f.eq((f_prev + c_prev) << 1), b.eq(b_prev + c_prev),
                                 phase.eq(1)]
                with m.Else():
                    m.d.comb += end.eq(f + c_shift[0])
                    for i in range(1, L + 1):
                        with m.If(step[i]):
                            m.d.sync += [first[i].eq(f), base[i].eq(b), nxt[i].eq(b),
                                         limit[i].eq(end << (L - i))]
                    m.d.sync += [f_prev.eq(f), c_prev.eq(c_shift[0]), b_prev.eq(b),
                                 power.eq(power << 1), step.eq(step << 1), phase.eq(0),
                                 over.eq(end > power)]
                    m.d.sync += [c_shift[i].eq(c_shift[i + 1]) for i in range(L - 1)]
                with m.If(over):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), busy.eq(0), over.eq(0)]
                    m.next = "IDLE"
                with m.Elif(phase & step[L]):
                    m.d.sync += [addr.eq(0), rd_valid.eq(0)]
                    m.next = "CHECK"

            with m.State("CHECK"):
                # The Kraft check of the last length lands here.
                with m.If(over):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), busy.eq(0), over.eq(0)]
                    m.next = "IDLE"
                with m.Else():
                    m.next = "PLACE"

            with m.State("PLACE"):
                # Sort symbols by (length, symbol): sym[next[len]++] = symbol.
                m.d.sync += [addr.eq(addr + 1), rd_valid.eq(addr < nsym)]
                with m.If(q_valid & (q_len != 0)):
                    m.d.comb += [sym_w.addr.eq(nxt[q_len]), sym_w.data.eq(q_sym),
                                 sym_w.en.eq(1)]
                    m.d.sync += nxt[q_len].eq(nxt[q_len] + 1)
                with m.If(addr == nsym + 2):
                    m.d.sync += [busy.eq(0), table_ok.eq(1)]
                    m.next = "IDLE"

            with m.State("DECODE"):
                with m.If(error != HuffmanError.NONE):
                    m.d.sync += [busy.eq(0), decoding.eq(0)]
                    m.next = "IDLE"
                with m.Elif(~more & no_words & ~s1_valid & ~s1b_valid & ~s1c_valid
                            & ~s2_valid & (queue.level == 0)):
                    m.d.sync += [busy.eq(0), decoding.eq(0), done.eq(1)]
                    m.next = "IDLE"

        # ---------------------------------------------------------------- the decode loop
        window = buf[B - L:]
        below = Signal(L + 1)
        for i in range(1, L + 1):
            m.d.comb += below[i].eq(window < limit[i])
        onehot = Signal(L + 1)
        # Limits never decrease with the length, so ``below`` is a thermometer code.
        for i in range(1, L + 1):
            m.d.comb += onehot[i].eq(below[i] & ~below[i - 1] if i > 1 else below[1])
        length = Signal(range(L + 1))
        for i in range(1, L + 1):
            with m.If(onehot[i]):
                m.d.comb += length.eq(i)

        # The loop decides only if the queue can take this symbol and the four behind it
        # in s1, s1b, s1c and s2, so the queue never overflows and o.ready stays out of
        # the loop.
        room = Signal()
        m.d.comb += room.eq(queue.level < self._q - 4)
        go = Signal()
        m.d.comb += go.eq(decoding & (error == HuffmanError.NONE) & more & room
                          & (enough | no_words))

        take = Signal()
        m.d.comb += [take.eq(decoding & (error == HuffmanError.NONE) & ~no_words
                             & space),
                     self.i.ready.eq(take)]
        incoming = Signal(B)
        with m.If(take & self.i.valid):
            m.d.comb += incoming.eq((self.i.payload << (B - W)) >> nvalid)
            m.d.sync += [words_left.eq(words_left - 1), one_word.eq(words_left == 2),
                         no_words.eq(one_word)]
        merged = buf | incoming
        # Shift out the decoded code: an AND-OR of the one-hot length, so the loop is
        # compare -> one-hot -> select, with no binary encode/decode in between.
        hit = Signal()
        m.d.comb += hit.eq(go & onehot.any())
        shifted = Signal(B)
        picks = [Mux(onehot[i], (merged << i)[:B], 0) for i in range(1, L + 1)]
        acc = picks[0]
        for p_ in picks[1:]:
            acc = acc | p_
        m.d.comb += shifted.eq(Mux(hit, acc, merged))
        consumed = Signal(range(L + 1))
        m.d.comb += consumed.eq(Mux(hit, length, 0))
        added = Signal(range(W + 1))
        m.d.comb += added.eq(Mux(take & self.i.valid, W, 0))
        with m.If(decoding):
            new_nvalid = Signal.like(nvalid)
            m.d.comb += new_nvalid.eq(nvalid + added - consumed)
            m.d.sync += [buf.eq(shifted), nvalid.eq(new_nvalid), enough.eq(new_nvalid >= L),
                         space.eq(new_nvalid <= B - W)]
        with m.If(go):
            m.d.sync += [syms_left.eq(syms_left - 1), last.eq(syms_left == 2),
                         more.eq(~last)]

        # ---------------------------------------------------------------- stage 1
        m.d.sync += [s1_valid.eq(go), s1_len.eq(length), s1_win.eq(window),
                     s1_ok.eq(below[L])]
        live = Signal()
        m.d.comb += live.eq(s1_valid & (error == HuffmanError.NONE))
        m.d.sync += s1b_valid.eq(0)
        with m.If(live):
            with m.If(~s1_ok):
                m.d.sync += error.eq(HuffmanError.BAD_CODE)
            with m.Elif(s1_len > bits_left):
                m.d.sync += error.eq(HuffmanError.OVERRUN)
            with m.Else():
                m.d.sync += [bits_left.eq(bits_left - s1_len), s1b_valid.eq(1)]
        # s1b: the code's value and its length's base and first code.
        sel_base, sel_first, value = Signal(S + 2), Signal(L + 2), Signal(L)
        m.d.sync += [sel_base.eq(base[s1_len]), sel_first.eq(first[s1_len]),
                     value.eq(s1_win >> (L - s1_len).as_unsigned())]
        # s1c: the sorted-table index.
        index = Signal(S + 2)
        m.d.sync += [s1c_valid.eq(s1b_valid & (error == HuffmanError.NONE)),
                     index.eq(sel_base + value - sel_first)]
        m.d.sync += s2_valid.eq(s1c_valid)
        m.d.comb += [sym_r.addr.eq(index[:S]), sym_r.en.eq(1)]

        # ---------------------------------------------------------------- stage 2 -> queue
        m.d.comb += [queue.w_data.eq(sym_r.data), queue.w_en.eq(s2_valid),
                     self.o.payload.eq(queue.r_data), self.o.valid.eq(queue.r_rdy),
                     queue.r_en.eq(self.o.ready)]
        return m
