"""A sparse processing element: EIE's PE on the memory image's expanded entries."""

from amaranth.hdl import C, Cat, ClockSignal, Instance, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.hwmodel.image import XNOR_GROUP

from .params import COLLISION_FREE, reject

__all__ = ["SparsePE", "activation_layout", "pointer_word", "pe_words", "entry_address_bits",
           "NEXT_LAST", "sign_dot", "sign_pe_words", "accumulate_forwarded"]


def activation_layout(ptr_bits: int, act_bits: int, plane_bits: int = 0) -> data.StructLayout:
    """A non-zero input activation: signed ``value``, and ``ptr``, the pointer
    memory address of its column (the layer's first pointer plus the column).
    With ``plane_bits``, also ``bits``: on the XNOR path, a bit plane of a
    group of inputs, ``value`` then being the plane's weight."""
    fields = {"value": signed(act_bits), "ptr": unsigned(ptr_bits)}
    if plane_bits:
        fields["bits"] = unsigned(plane_bits)
    return data.StructLayout(fields)


def sign_dot(signs, bits):
    """The dot product of ``signs`` (bit 1 is +1, 0 is -1) with the 0/1 ``bits``:
    ``popcount(signs & bits) - popcount(~signs & bits)``, a signed value of
    ``len(bits).bit_length() + 1`` bits."""
    n = len(bits)
    pos = sum((signs[b] & bits[b] for b in range(n)), C(0, n.bit_length()))
    neg = sum((~signs[b] & bits[b] for b in range(n)), C(0, n.bit_length()))
    return (pos.as_signed() - neg.as_signed())[:n.bit_length() + 1].as_signed()


#: The entry word's flag bit: "the next entry is its column's last".
NEXT_LAST = 15


def entry_address_bits(entries: int) -> int:
    """Bits of an address into an entry memory of ``entries`` words."""
    return max(1, (entries - 1).bit_length())


def pointer_word(start, count, abits: int):
    """A pointer memory word: the column's first entry address (``abits`` bits),
    then the flags "no entry" and "at most one entry" of its ``count`` entries.
    An int for ints (load lists), an expression for Amaranth values
    (``hw.loader.ImageLoader`` builds it in hardware)."""
    if isinstance(start, int) and isinstance(count, int):
        return start | (int(count == 0) | int(count <= 1) << 1) << abits
    return Cat(Value.cast(start)[:abits], count == 0, count <= 1)


def pe_words(ptr: list, ents: list, abits: int) -> tuple[list, list]:
    """One PE's memory words from ``golden.hwmodel.image.pe_tables``'s ``(ptr,
    ents)``: a pointer word per column (``pointer_word``), and the entries with
    bit ``NEXT_LAST`` set on each column's last but one (the loader sets it
    the same way)."""
    words = [pointer_word(a, b - a, abits) for a, b in zip(ptr, ptr[1:])]
    ents = list(ents)
    for a, b in zip(ptr, ptr[1:]):
        if b - a >= 2:
            ents[b - 2] |= 1 << NEXT_LAST
    return words, ents


def sign_pe_words(groups: list, abits: int) -> tuple[list, list]:
    """``pe_words`` of one PE's share of a binary layer (its list of groups from
    ``golden.hwmodel.image.sign_tables``): a pointer word per group, the sign
    words as its entries."""
    ptr = [0]
    for g in groups:
        ptr.append(ptr[-1] + len(g))
    return pe_words(ptr, [v for g in groups for v in g], abits)


def accumulate_forwarded(m, pe, acc_r, acc_w, *, v2, x2, row2, w3, acc_bits: int):
    """The accumulate stages of a pipelined PE (every memory output registered
    before logic): an entry ``(row2, x2)`` valid at ``v2`` presents its row to
    the accumulator memory's read port (``acc_r``, else ``pe.rd_addr``, the
    read-out's); a cycle later its weight ``w3`` (a memory's output) and the
    accumulator are registered, with which of the three sums not yet written
    (the entries one, two and three ahead) is this row's; then the product
    and the forwarded sum are registered; then they are added and written
    back (``acc_w``, else ``pe.clr_en``/``pe.clr_addr``'s clear), three
    cycles after ``v2``. Returns "a product is added in this cycle"."""
    A = acc_bits
    rbits = len(row2)
    v3, v4, v5 = (Signal(name=f"v{k}") for k in range(3, 6))
    x3, x4 = Signal(signed(8)), Signal(signed(8))
    row3, row4, row5 = (Signal(rbits, name=f"row{k}") for k in range(3, 6))
    w4 = Signal(signed(8))
    acc4 = Signal(signed(A))
    m1, m2, m3 = Signal(), Signal(), Signal()
    sum5 = Signal(signed(A))
    last1_v, last2_v = Signal(), Signal()
    last1_row, last2_row = Signal(rbits), Signal(rbits)
    last1, last2 = Signal(signed(A)), Signal(signed(A))
    m.d.sync += [v3.eq(v2), x3.eq(x2), row3.eq(row2)]
    m.d.sync += [v4.eq(v3), x4.eq(x3), row4.eq(row3), w4.eq(w3), acc4.eq(acc_r.data),
                 m1.eq(v4 & (row4 == row3)), m2.eq(v5 & (row5 == row3)),
                 m3.eq(last1_v & (last1_row == row3))]
    # The product, and the accumulator forwarded
    prod5 = Signal(signed(16))
    old5 = Signal(signed(A))
    m.d.sync += [v5.eq(v4), row5.eq(row4), prod5.eq(w4 * x4),
                 old5.eq(Mux(m1, sum5, Mux(m2, last1, Mux(m3, last2, acc4))))]
    # Add and write back
    m.d.comb += sum5.eq(old5 + prod5)
    m.d.sync += [last1_v.eq(v5), last1_row.eq(row5), last1.eq(sum5),
                 last2_v.eq(last1_v), last2_row.eq(last1_row), last2.eq(last1)]
    m.d.comb += [
        acc_r.addr.eq(Mux(v2, row2, pe.rd_addr)),
        acc_w.en.eq(v5 | pe.clr_en),
        acc_w.addr.eq(Mux(v5, row5, pe.clr_addr)),
        acc_w.data.eq(Mux(v5, sum5, 0)),
        pe.rd_data.eq(acc_r.data),
    ]
    return v5


class SparsePE(wiring.Component):
    """One processing element of the engine's sparse phase: for each activation
    ``(ptr, x)`` taken on ``i`` it adds ``w * x`` to the accumulator of every row
    that has a weight ``w`` in the column whose pointer is at ``ptr``.

    Its memories hold one PE's share of the memory image
    (``golden.hwmodel.image.pe_tables``, as ``pe_words`` gives it): ``ptr``
    one word per column, its first entry address and the flags "no entry"
    and "at most one entry" (``pointer_word``); ``ent`` the entries
    (``local_row << code_bits | code``, with bit ``NEXT_LAST`` set on a
    column's last but one entry); ``cb`` the int8 codebooks. A column's end
    is thus never computed: the flags say when the entry issued with the
    pointer word is the last, and each entry word, read while the next one
    issues, says whether that next one is. All three are written through
    their write ports (``*_we``, ``*_addr``, ``*_data``) while the PE is
    idle.

    Timing (``golden.hwmodel.cycles``, expanded mode): an activation is taken
    in the cycle the previous one issues its last entry (or, for an empty
    column, the cycle its pointers arrive), so a column of ``e`` entries takes
    ``max(1, e)`` cycles from one take to the next, one entry per cycle. An
    entry's product reaches its accumulator four cycles after it issues.
    Accumulators are ``acc_bits`` wide and wrap; a row may be hit by
    consecutive entries (results are forwarded).

    ``busy`` is high from a take until four cycles after the activation's last
    entry issues (or its empty column's pointers arrive), when its product is in
    the accumulator; ``mac`` is high in each cycle a product is added (the
    useful-MAC count). Read-out, while ``busy`` is low: ``rd_addr`` returns
    that accumulator on ``rd_data`` in the next cycle (as often as asked; the
    port reads ``rd_addr`` in every idle cycle, so it needs no enable); ``clr_en``
    with ``clr_addr`` sets one to zero (do not read it in the same cycle:
    synthesized, that read may return anything), so a layer read out and
    cleared row by row leaves the PE ready for the next. Accumulators start
    at zero.

    The memories are not checked here: the image loader builds the pointer
    words and flags itself from the image's per-column counts, so a column
    always ends inside the entry memory.

    Parameters
    ----------
    code_bits : int
        Bits of a codebook index, 1..7 (bit 15 of an entry is the flag).
    rows : int
        Accumulators (rows this PE can own), a power of two, at most
        ``2**(15 - code_bits)`` (an entry word's row field).
    pointers, entries : int
        Depths of the pointer and entry memories (any depth): at most 65536
        columns and 16384 entries (one iCE40 SPRAM); a pointer word is an
        entry address and two flags, at most 16 bits.

    acc_bits : int
        Accumulator width, 16..32.
    cb_banks : int
        Codebooks held at once, 1..64 (one per resident layer): ``cb_bank``
        picks the one the PE reads, and bank ``b``'s entry ``c`` is written at
        ``cb_addr = b << code_bits | c``.
    entry_ram : None or "spram"
        ``"spram"`` holds the entries in a hand-instantiated iCE40
        SB_SPRAM256KA (``entries`` must then be 16384; Yosys does not infer
        SPRAM for this memory); simulate it with Yosys's cell model. ``None``
        is an Amaranth memory.
    pipelined : bool
        Every memory's output goes straight into a flip-flop before any logic
        uses it (the ECP5 boards' form: a block RAM's clock-to-out is 5.8 ns of
        their 8). The column pointers are then read two activations ahead
        (the pointer memory's output, held, then a register), and an
        activation is taken when that prefetch has room, not when the previous
        column ends; a column still takes ``max(1, e)`` cycles, counted from
        its first issue (``golden.hwmodel.cycles``, ``pipelined``). An entry's
        product reaches its accumulator five cycles after it issues, forwarded
        from the three writes behind it; ``busy`` falls as many cycles after the
        model's end as in the compact form. About 100 flip-flops more per PE,
        which the iCEBreaker has no room for.
    xnor : bool
        Also run binary layers on the XNOR path (``binary`` high through the
        layer): an activation on ``i`` is then a bit plane (``bits``) of a
        group of ``XNOR_GROUP`` inputs with its weight (``value``: 1, 2, ...,
        64 or -128) and its group's pointer; the column's entries are sign
        words (``golden.hwmodel.image.sign_tables``), one per row of the PE
        in row order, so an entry's row is its place in the column; its
        weight is ``sign_dot`` of the sign word and the plane, in place of a
        codebook read, on the same multiplier, with the same timing.
    """

    def __init__(self, *, code_bits: int = 4, rows: int = 256, pointers: int = 1024,
                 entries: int = 4096, acc_bits: int = 32, cb_banks: int = 1,
                 entry_ram: str | None = None, pipelined: bool = False, xnor: bool = False):
        if not isinstance(code_bits, int) or not 1 <= code_bits <= 7:
            reject(self, f"code_bits must be an integer in 1..7, not {code_bits!r}")
        if (not isinstance(rows, int) or rows < 2 or rows & (rows - 1)
                or rows > 1 << (15 - code_bits)):
            reject(self, f"rows must be a power of two in 2..{1 << (15 - code_bits)}, "
                         f"not {rows!r}")
        if not isinstance(pointers, int) or not 2 <= pointers <= 1 << 16:
            reject(self, f"pointers must be an integer in 2..65536, not {pointers!r}")
        if not isinstance(entries, int) or not 2 <= entries <= 1 << 14:
            reject(self, f"entries must be an integer in 2..16384, not {entries!r}")
        if not isinstance(acc_bits, int) or not 16 <= acc_bits <= 32:
            reject(self, f"acc_bits must be an integer in 16..32, not {acc_bits!r}")
        if not isinstance(cb_banks, int) or not 1 <= cb_banks <= 64:
            reject(self, f"cb_banks must be an integer in 1..64, not {cb_banks!r}")
        if entry_ram not in (None, "spram"):
            reject(self, f"entry_ram must be None or 'spram', not {entry_ram!r}")
        if entry_ram == "spram" and entries != 1 << 14:
            reject(self, f"an SPRAM holds 16384 entries, not {entries!r}")
        if not isinstance(pipelined, bool):
            reject(self, f"pipelined must be a bool, not {pipelined!r}")
        if not isinstance(xnor, bool):
            reject(self, f"xnor must be a bool, not {xnor!r}")
        self._pipelined, self._xnor = pipelined, xnor
        self._ram = entry_ram
        self._cb, self._rows, self._np, self._ne = code_bits, rows, pointers, entries
        self._acc, self._banks = acc_bits, cb_banks
        bank_bits = (cb_banks - 1).bit_length()
        pbits = (pointers - 1).bit_length()
        abits = entry_address_bits(entries)
        rbits = (rows - 1).bit_length()
        super().__init__({
            "i": In(stream.Signature(activation_layout(pbits, 8, XNOR_GROUP if xnor else 0))),
            **({"binary": In(1)} if xnor else {}),
            "ptr_we": In(1), "ptr_addr": In(pbits), "ptr_data": In(abits + 2),
            "ent_we": In(1), "ent_addr": In(abits),
            "ent_data": In(16),
            "cb_we": In(1), "cb_addr": In(code_bits + bank_bits), "cb_data": In(signed(8)),
            "cb_bank": In(bank_bits),
            "rd_addr": In(rbits), "rd_data": Out(signed(acc_bits)),
            "clr_en": In(1), "clr_addr": In(rbits),
            "busy": Out(1), "mac": Out(1),
        })

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def code_bits(self) -> int:
        return self._cb

    @property
    def pointers(self) -> int:
        return self._np

    @property
    def entries(self) -> int:
        return self._ne

    @property
    def acc_bits(self) -> int:
        return self._acc

    @property
    def pipelined(self) -> bool:
        return self._pipelined

    @property
    def xnor(self) -> bool:
        return self._xnor

    @property
    def abits(self) -> int:
        """Bits of an entry address."""
        return entry_address_bits(self._ne)

    def elaborate(self, platform):
        m = Module()
        CB, R = self._cb, self._rows
        rbits = (R - 1).bit_length()
        abits = self.abits

        # Collision-free (``COLLISION_FREE``): the pointer, codebook and entry memories
        # are written only while idle; an accumulator read that meets a write of the
        # same row is never used (the sums are forwarded), and the read-out never
        # reads the row it clears.
        m.submodules.ptr = ptr_m = Memory(shape=unsigned(abits + 2), depth=self._np, init=[],
                                          attrs=COLLISION_FREE)
        m.submodules.cb = cb = Memory(shape=signed(8), depth=self._banks << CB, init=[],
                                      attrs=COLLISION_FREE)
        m.submodules.acc = acc = Memory(shape=signed(self._acc), depth=R, init=[],
                                        attrs=COLLISION_FREE)
        ptr_w, cb_w = ptr_m.write_port(), cb.write_port()
        ptr_r = ptr_m.read_port()
        cb_r = cb.read_port()
        # The entry memory: one address for reads and writes (writes come only
        # while idle), read data one cycle later.
        ent_addr = Signal(abits)
        ent_data = Signal(16)
        if self._ram == "spram":
            m.submodules.ent = Instance(
                "SB_SPRAM256KA", i_ADDRESS=ent_addr, i_DATAIN=self.ent_data,
                i_MASKWREN=C(0b1111, 4), i_WREN=self.ent_we, i_CHIPSELECT=C(1, 1),
                i_CLOCK=ClockSignal("sync"), i_STANDBY=C(0, 1), i_SLEEP=C(0, 1),
                i_POWEROFF=C(1, 1), o_DATAOUT=ent_data)
        else:
            m.submodules.ent = ent = Memory(shape=unsigned(16), depth=self._ne, init=[],
                                            attrs=COLLISION_FREE)
            ent_w, ent_r = ent.write_port(), ent.read_port()
            m.d.comb += [ent_w.en.eq(self.ent_we), ent_w.addr.eq(ent_addr),
                         ent_w.data.eq(self.ent_data), ent_r.addr.eq(ent_addr),
                         ent_data.eq(ent_r.data)]
        acc_r, acc_w = acc.read_port(), acc.write_port()
        m.d.comb += [
            ptr_w.en.eq(self.ptr_we), ptr_w.addr.eq(self.ptr_addr), ptr_w.data.eq(self.ptr_data),
            cb_w.en.eq(self.cb_we), cb_w.addr.eq(self.cb_addr), cb_w.data.eq(self.cb_data),
        ]

        if self._pipelined:
            self._elaborate_pipelined(m, ptr_r, ent_addr, ent_data, cb_r, acc_r, acc_w)
            return m

        # ---- issue: one entry address per cycle
        # The pointer word's flags say whether the column is empty or ends with its
        # first entry; after that, the word of the entry issued a cycle ago (on the
        # memory's output now) says whether the one issuing now is the last. No
        # decision waits for arithmetic on a memory output.
        pending = Signal()              # the pointers of a taken activation arrive now
        x_next = Signal(signed(8))      # its value
        cur = Signal(abits)             # next entry address of the current column
        has = Signal()                  # the current column has entries left to issue
        x_cur = Signal(signed(8))
        start_p = ptr_r.data[:abits]
        empty_p, le1_p = ptr_r.data[abits], ptr_r.data[abits + 1]
        last = ent_data[NEXT_LAST]      # valid while ``has``: the entry before was issued
        issue_addr = Signal(abits)
        issue = Signal()
        x_issue = Signal(signed(8))
        m.d.comb += [
            issue_addr.eq(Mux(pending, start_p, cur)),
            issue.eq(Mux(pending, ~empty_p, has)),
            x_issue.eq(Mux(pending, x_next, x_cur)),
        ]
        if self._xnor:
            b_next = Signal(XNOR_GROUP)
            b1, r1 = self._xnor_issue(m, pending, b_next, stages=1)
        take = Signal()
        m.d.comb += [
            # Take the next activation in the cycle the last entry issues, or when
            # there is nothing to issue; its pointers arrive in the next cycle.
            self.i.ready.eq(Mux(pending, le1_p, ~has | last)),
            take.eq(self.i.valid & self.i.ready),
            ptr_r.addr.eq(self.i.payload.ptr),
        ]
        m.d.sync += [pending.eq(take), cur.eq(issue_addr + issue), x_cur.eq(x_issue)]
        with m.If(pending):
            m.d.sync += has.eq(~le1_p)
        with m.Else():
            m.d.sync += has.eq(has & ~last)
        # The head's value is registered every cycle: the cycle after a take
        # (``pending``, the only one it is used in) it is the taken one's, and
        # no take is in front of an enable (the entry memory's ``last`` decides
        # the take).
        m.d.sync += x_next.eq(self.i.payload.value)
        if self._xnor:
            m.d.sync += b_next.eq(self.i.payload.bits)
        m.d.comb += ent_addr.eq(Mux(self.ent_we, self.ent_addr, issue_addr))

        # ---- s1: the entry word; read its codebook weight and its row's accumulator
        v1 = Signal()
        x1 = Signal(signed(8))
        m.d.sync += [v1.eq(issue), x1.eq(x_issue)]
        row1 = ent_data[CB:CB + rbits]
        m.d.comb += cb_r.addr.eq(Cat(ent_data[:CB], self.cb_bank))
        w2 = cb_r.data
        if self._xnor:
            row1 = Mux(self.binary, r1, row1)
            w2 = self._xnor_weight(m, ent_data, b1, cb_r.data)

        # ---- s2: product; the accumulator read, forwarded from the two writes behind
        v2, v3 = Signal(), Signal()
        row2, row3 = Signal(rbits), Signal(rbits)
        x2 = Signal(signed(8))
        prod = Signal(signed(16))
        old3 = Signal(signed(self._acc))
        sum3 = Signal(signed(self._acc))
        last_row, last_sum, last_v = Signal(rbits), Signal(signed(self._acc)), Signal()
        m.d.sync += [v2.eq(v1), row2.eq(row1), x2.eq(x1)]
        old2 = Mux(v3 & (row3 == row2), sum3,
                   Mux(last_v & (last_row == row2), last_sum, acc_r.data))
        m.d.sync += [v3.eq(v2), row3.eq(row2), prod.eq(w2 * x2), old3.eq(old2)]

        # ---- s3: add and write back
        m.d.comb += [sum3.eq(old3 + prod), self.mac.eq(v3)]
        m.d.sync += [last_v.eq(v3), last_row.eq(row3), last_sum.eq(sum3)]

        # The accumulator ports serve the pipeline, or the read-out and the clears.
        m.d.comb += [
            # Chosen by the pipeline's own flip-flop (an entry at s1), not by a
            # read-out enable: the read-out's address logic reaches the memory
            # through one multiplexer, and no enable fans out to every PE.
            acc_r.addr.eq(Mux(v1, row1, self.rd_addr)),
            acc_w.en.eq(v3 | self.clr_en),
            acc_w.addr.eq(Mux(v3, row3, self.clr_addr)),
            acc_w.data.eq(Mux(v3, sum3, 0)),
            self.rd_data.eq(acc_r.data),
        ]
        # Busy until four cycles after the last entry issues, or after the pointers
        # of a last, empty column arrive: the same tail either way, so a run ends a
        # fixed time after the cycle model's end. ``pending | has`` is ``pending |
        # issue`` from flip-flops alone (``issue`` is ``has`` unless ``pending``), so
        # ``busy`` is a function of registers, not of the pointer memory's output.
        tail = Signal(4)
        active = pending | has
        m.d.sync += tail.eq(Cat(active, tail[:-1]))
        m.d.comb += self.busy.eq(active | tail.any())
        return m

    def _xnor_issue(self, m, new_column, bits_new, *, stages: int):
        """The XNOR path at issue: the plane rides with the entries of its column
        (``bits_new`` when a column starts, ``new_column``, else the last one's),
        and an entry's row is its place in the column. Returns both, ``stages``
        registers after issue."""
        rbits = (self._rows - 1).bit_length()
        bits, bits_cur = Signal(XNOR_GROUP), Signal(XNOR_GROUP)
        row, row_next = Signal(rbits), Signal(rbits)
        m.d.comb += [bits.eq(Mux(new_column, bits_new, bits_cur)),
                     row.eq(Mux(new_column, 0, row_next))]
        m.d.sync += [bits_cur.eq(bits), row_next.eq(row + 1)]
        for k in range(stages):
            bits_q, row_q = Signal.like(bits, name=f"bits_{k + 1}"), \
                Signal.like(row, name=f"brow_{k + 1}")
            m.d.sync += [bits_q.eq(bits), row_q.eq(row)]
            bits, row = bits_q, row_q
        return bits, row

    def _xnor_weight(self, m, word, bits, cb_weight):
        """The weight of an entry ``word`` a cycle later: on a binary layer the
        ``sign_dot`` of its sign bits with the plane ``bits``, registered, else
        ``cb_weight`` (the codebook's, read in that cycle)."""
        dot = sign_dot(word[:XNOR_GROUP], bits)
        dot_q = Signal(dot.shape())
        m.d.sync += dot_q.eq(dot)
        return Mux(self.binary, dot_q, cb_weight)

    def _elaborate_pipelined(self, m, ptr_r, ent_addr, ent_data, cb_r, acc_r, acc_w):
        """``pipelined=True``: every memory output goes straight into a flip-flop
        (a block RAM's clock-to-out, 5.8 ns on ECP5, is then all that path has),
        at the cost of a two-place pointer prefetch and two more pipeline
        stages, about 100 flip-flops."""
        CB, R = self._cb, self._rows
        rbits = (R - 1).bit_length()
        abits = self.abits
        A = self._acc

        # ---- prefetch: take (A: the pointer memory's output, held by its enable)
        # -> B (registered pointer word and value), two activations ahead of issue.
        a_v, b_v = Signal(), Signal()
        a_x, b_x = Signal(signed(8)), Signal(signed(8))
        b_start = Signal(abits)
        b_empty, b_le1 = Signal(), Signal()
        # ---- issue registers
        cur = Signal(abits)             # next entry address of the current column
        x_cur = Signal(signed(8))
        iss1 = Signal()                 # an entry issued last cycle ...
        first1 = Signal()               # ... the first of its column ...
        le1_1 = Signal()                # ... whose column has at most one entry
        ent_q = Signal(16)              # the entry word issued two cycles ago

        # Whether last cycle's entry was its column's last: its pointer word's flag
        # if it was the first, else the flag (``NEXT_LAST``) of the entry before it,
        # registered now. From flip-flops only.
        was_last = Mux(first1, le1_1, ent_q[NEXT_LAST])
        live = Signal()                 # the current column issues its next entry now
        load = Signal()                 # B's column starts now (an empty one ends now)
        issue = Signal()
        issue_addr = Signal(abits)
        x_issue = Signal(signed(8))
        b_take = load
        a_move = Signal()
        m.d.comb += [
            live.eq(iss1 & ~was_last),
            load.eq(~live & b_v),
            issue.eq(live | (load & ~b_empty)),
            issue_addr.eq(Mux(live, cur, b_start)),
            x_issue.eq(Mux(live, x_cur, b_x)),
            a_move.eq(a_v & (~b_v | b_take)),
            self.i.ready.eq(~a_v | a_move),
            ptr_r.addr.eq(self.i.payload.ptr),
            ptr_r.en.eq(~a_v | a_move),
            ent_addr.eq(Mux(self.ent_we, self.ent_addr, issue_addr)),
        ]
        with m.If(self.i.ready):
            m.d.sync += [a_v.eq(self.i.valid), a_x.eq(self.i.payload.value)]
        with m.If(a_move):
            m.d.sync += [b_v.eq(1), b_x.eq(a_x), b_start.eq(ptr_r.data[:abits]),
                         b_empty.eq(ptr_r.data[abits]), b_le1.eq(ptr_r.data[abits + 1])]
        with m.Elif(b_take):
            m.d.sync += b_v.eq(0)
        m.d.sync += [iss1.eq(issue), first1.eq(~live), cur.eq(issue_addr + 1),
                     x_cur.eq(x_issue), ent_q.eq(ent_data)]
        if self._xnor:
            a_b, b_b = Signal(XNOR_GROUP), Signal(XNOR_GROUP)
            b2, r2 = self._xnor_issue(m, ~live, b_b, stages=2)
            with m.If(self.i.ready):
                m.d.sync += a_b.eq(self.i.payload.bits)
            with m.If(a_move):
                m.d.sync += b_b.eq(a_b)
        with m.If(load):
            m.d.sync += le1_1.eq(b_le1)

        # ---- s1: the entry word on the memory's output; s2: registered (``ent_q``),
        # its codebook weight and its row's accumulator read (an entry issued in
        # cycle t is written back in t + 5)
        v1, v2 = Signal(), Signal()
        x1, x2 = Signal(signed(8)), Signal(signed(8))
        row2 = ent_q[CB:CB + rbits]
        if self._xnor:
            row2 = Mux(self.binary, r2, row2)
        m.d.sync += [v1.eq(issue), x1.eq(x_issue), v2.eq(v1), x2.eq(x1)]
        m.d.comb += cb_r.addr.eq(Cat(ent_q[:CB], self.cb_bank))

        w3 = self._xnor_weight(m, ent_q, b2, cb_r.data) if self._xnor else cb_r.data
        m.d.comb += self.mac.eq(accumulate_forwarded(
            m, self, acc_r, acc_w, v2=v2, x2=x2, row2=row2, w3=w3, acc_bits=A))
        # Busy until a column's last cycle (its last entry, or an empty column's
        # load) has its product in the accumulator, five cycles later: the same
        # tail either way. From flip-flops only.
        col1 = Signal()
        tail = Signal(4)
        m.d.sync += [col1.eq(issue | load), tail.eq(Cat(col1, tail[:-1]))]
        m.d.comb += self.busy.eq(a_v | b_v | col1 | tail.any())
