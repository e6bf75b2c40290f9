"""Canonical Huffman decoder with a run-time loadable code."""

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
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
       into its table, in ``2 * 2**symbol_bits + max_len + 3`` cycles (``busy``
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
    arrival to its first symbol on ``o``: 5 cycles. The decode loop itself
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
                 queue_depth: int = 8):
        if word_width not in (8, 16, 32, 64):
            reject(self, f"word_width must be 8, 16, 32 or 64, not {word_width!r}")
        if not isinstance(max_len, int) or not 1 <= max_len <= 16:
            reject(self, f"max_len must be an integer in 1..16, not {max_len!r}")
        if not isinstance(symbol_bits, int) or not 1 <= symbol_bits <= 12:
            reject(self, f"symbol_bits must be an integer in 1..12, not {symbol_bits!r}")
        if not isinstance(queue_depth, int) or queue_depth < 4:
            reject(self, f"queue_depth must be an integer >= 4, not {queue_depth!r}")
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

        # Canonical tables, indexed by code length 0..L (entry 0 unused).
        count = Array(Signal(S + 2, name=f"count{i}") for i in range(L + 1))
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
        words_left = Signal(32)
        syms_left = Signal(32)
        bits_left = Signal(33)
        decoding = Signal()

        # Pipeline registers after the loop: stage 1 (length, window), stage 2 (table read).
        s1_valid = Signal()
        s1_len = Signal(range(L + 1))
        s1_win = Signal(L)
        s1_ok = Signal()
        s2_valid = Signal()

        # ---------------------------------------------------------------- build FSM
        addr = Signal(S + 1)
        rd_valid = Signal()
        rd_addr = Signal(S)
        scan = Signal(range(L + 2))
        code = Signal(L + 2)

        m.d.comb += len_r.addr.eq(addr[:S])
        rd_len = len_r.data

        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                with m.If(self.build):
                    m.d.sync += [addr.eq(0), rd_valid.eq(0), error.eq(HuffmanError.NONE),
                                 done.eq(0), table_ok.eq(0)]
                    m.d.sync += [count[i].eq(0) for i in range(L + 1)]
                    m.d.sync += busy.eq(1)
                    m.next = "COUNT"
                with m.Elif(self.start & ~table_ok):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), done.eq(0)]
                with m.Elif(self.start):
                    m.d.sync += [words_left.eq((self.nbits + W - 1) >> (W.bit_length() - 1)),
                                 syms_left.eq(self.count), bits_left.eq(self.nbits),
                                 nvalid.eq(0), buf.eq(0), error.eq(HuffmanError.NONE),
                                 done.eq(0), busy.eq(1), decoding.eq(1)]
                    m.next = "DECODE"

            with m.State("COUNT"):
                # Read every length (one-cycle read latency) and count per length.
                m.d.sync += [addr.eq(addr + 1), rd_valid.eq(addr < nsym)]
                with m.If(rd_valid & (rd_len != 0)):
                    m.d.sync += count[rd_len].eq(count[rd_len] + 1)
                with m.If(addr == nsym + 1):
                    m.d.sync += [scan.eq(1), code.eq(0),
                                 first[0].eq(0), base[0].eq(0), count[0].eq(0)]
                    m.next = "SCAN"

            with m.State("SCAN"):
                # first[l] = (first[l-1] + count[l-1]) << 1; base[l] = base[l-1] + count[l-1].
                prev = scan - 1
                f = ((first[prev] + count[prev]) << 1)[:L + 2]
                m.d.sync += [first[scan].eq(f), base[scan].eq(base[prev] + count[prev]),
                             nxt[scan].eq(base[prev] + count[prev]), scan.eq(scan + 1)]
                with m.If(f + count[scan] > (Const(1, L + 2) << scan)):
                    m.d.sync += [error.eq(HuffmanError.BAD_TABLE), busy.eq(0)]
                    m.next = "IDLE"
                with m.Elif(scan == L):
                    m.next = "LIMITS"

            with m.State("LIMITS"):
                # Left-aligned limits: a window w has length l for the smallest l with
                # w < limit[l]. Registered, so the decode loop compares against constants.
                m.d.sync += [limit[i].eq((first[i] + count[i]) << (L - i))
                             for i in range(1, L + 1)]
                m.d.sync += [addr.eq(0), rd_valid.eq(0)]
                m.next = "PLACE"

            with m.State("PLACE"):
                # Sort symbols by (length, symbol): sym[next[len]++] = symbol.
                m.d.sync += [addr.eq(addr + 1), rd_valid.eq(addr < nsym), rd_addr.eq(addr[:S])]
                with m.If(rd_valid & (rd_len != 0)):
                    m.d.comb += [sym_w.addr.eq(nxt[rd_len]), sym_w.data.eq(rd_addr),
                                 sym_w.en.eq(1)]
                    m.d.sync += nxt[rd_len].eq(nxt[rd_len] + 1)
                with m.If(addr == nsym + 1):
                    m.d.sync += [busy.eq(0), table_ok.eq(1)]
                    m.next = "IDLE"

            with m.State("DECODE"):
                with m.If(error != HuffmanError.NONE):
                    m.d.sync += [busy.eq(0), decoding.eq(0)]
                    m.next = "IDLE"
                with m.Elif((syms_left == 0) & (words_left == 0) & ~s1_valid & ~s2_valid
                            & (queue.level == 0)):
                    m.d.sync += [busy.eq(0), decoding.eq(0), done.eq(1)]
                    m.next = "IDLE"

        # ---------------------------------------------------------------- the decode loop
        window = buf[B - L:]
        below = Signal(L + 1)
        for i in range(1, L + 1):
            m.d.comb += below[i].eq(window < limit[i])
        onehot = Signal(L + 1)
        for i in range(1, L + 1):
            m.d.comb += onehot[i].eq(below[i] & ~below[1:i].any() if i > 1 else below[1])
        length = Signal(range(L + 1))
        for i in range(1, L + 1):
            with m.If(onehot[i]):
                m.d.comb += length.eq(i)

        room = Signal()
        m.d.comb += room.eq(queue.level < self._q - 3)
        go = Signal()
        m.d.comb += go.eq(decoding & (error == HuffmanError.NONE) & (syms_left != 0) & room
                          & ((nvalid >= L) | (words_left == 0)))

        take = Signal()
        m.d.comb += [take.eq(decoding & (error == HuffmanError.NONE) & (words_left != 0)
                             & (nvalid <= B - W)),
                     self.i.ready.eq(take)]
        incoming = Signal(B)
        with m.If(take & self.i.valid):
            m.d.comb += incoming.eq((self.i.payload << (B - W)) >> nvalid)
            m.d.sync += words_left.eq(words_left - 1)
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
            m.d.sync += [buf.eq(shifted), nvalid.eq(nvalid + added - consumed)]
        with m.If(go):
            m.d.sync += syms_left.eq(syms_left - 1)

        # ---------------------------------------------------------------- stage 1
        m.d.sync += [s1_valid.eq(go), s1_len.eq(length), s1_win.eq(window),
                     s1_ok.eq(below[L])]
        live = Signal()
        m.d.comb += live.eq(s1_valid & (error == HuffmanError.NONE))
        index = Signal(S + 2)
        m.d.comb += index.eq(base[s1_len] + (s1_win >> (L - s1_len).as_unsigned()) - first[s1_len])
        m.d.sync += s2_valid.eq(0)
        with m.If(live):
            with m.If(~s1_ok):
                m.d.sync += error.eq(HuffmanError.BAD_CODE)
            with m.Elif(s1_len > bits_left):
                m.d.sync += error.eq(HuffmanError.OVERRUN)
            with m.Else():
                m.d.sync += [bits_left.eq(bits_left - s1_len), s2_valid.eq(1)]
        m.d.comb += [sym_r.addr.eq(index[:S]), sym_r.en.eq(1)]

        # ---------------------------------------------------------------- stage 2 -> queue
        m.d.comb += [queue.w_data.eq(sym_r.data), queue.w_en.eq(s2_valid),
                     self.o.payload.eq(queue.r_data), self.o.valid.eq(queue.r_rdy),
                     queue.r_en.eq(self.o.ready)]
        return m
