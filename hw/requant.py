"""Requantizer: int32 accumulator -> int8 activation by the gemmlowp/TFLite method."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["Requantizer"]


class Requantizer(wiring.Component):
    """``o = clamp(RDBP(SRDHM(acc, multiplier), shift) + zero_point)``, bit-exact
    with ``golden.fixedpoint.requantize``.

    Each transfer on ``i`` carries ``acc`` (signed ``acc_bits``), the Q31
    ``multiplier`` M0 (``0 .. 2**31 - 1``), the right ``shift`` (0..31), the
    ``zero_point`` and ``relu`` (raises the lower clamp to the zero point), so
    per-channel parameters need no extra port.

    The 64-bit product is formed ``digit_bits`` bits of M0 per cycle by a
    shift-and-add multiplier in fabric (the DSPs stay free for the MAC
    array; 1 or 2 bits per cycle need no multiplier at all, wider digits use
    one that Yosys maps to a DSP or, slowly, to LUTs). Rounding, shift,
    offset and clamp follow in a pipeline that overlaps the next multiply.
    Throughput: one result per ``ceil(31 / digit_bits) + 1`` cycles (the
    ``+ 1`` is the load); latency from the transfer on ``i`` to ``o.valid``:
    ``ceil(31 / digit_bits) + 8`` cycles, 2 more for 1-bit digits (``latency``).

    With ``digit_bits=None`` the product is formed whole, in a pipeline:
    four 16 x 16 unsigned partial products (a DSP each, on iCE40 and ECP5)
    summed and corrected one adder per stage. Throughput: one result per
    cycle (``i.ready`` is the pipeline's enable: low only while ``o`` is
    stalled); latency 12 cycles.

    With 1-bit digits the serial sum is kept in carry-save form (a sum and a
    carry vector, one full adder per bit, no carry chain in the loop) over
    the offset operand ``acc + 2**(acc_bits-1)``, which is never negative, so
    logical shifts are exact; the pipeline then resolves the two vectors and
    subtracts ``M0 * 2**(acc_bits-1)`` in two more stages. Rounding identities used
    (proved against the golden formulas in the tests): SRDHM's nudged
    truncating division equals ``(P >> 31) + P[30]`` for ``P = acc * M0``,
    and RDBP equals ``(q + 2**(e-1) - (q < 0)) >> e`` for ``e >= 1``.
    """

    def __init__(self, *, acc_bits: int = 32, out_bits: int = 8,
                 digit_bits: int | None = 1):
        if not isinstance(acc_bits, int) or not 8 <= acc_bits <= 32:
            reject(self, f"acc_bits must be an integer in 8..32, not {acc_bits!r}")
        if not isinstance(out_bits, int) or not 2 <= out_bits <= 16:
            reject(self, f"out_bits must be an integer in 2..16, not {out_bits!r}")
        if digit_bits is not None and (not isinstance(digit_bits, int)
                                       or not 1 <= digit_bits <= 31):
            reject(self, f"digit_bits must be None or an integer in 1..31, not {digit_bits!r}")
        self._ab, self._ob, self._d = acc_bits, out_bits, digit_bits
        self._steps = 0 if digit_bits is None else -(-31 // digit_bits)
        layout = data.StructLayout({
            "acc": signed(acc_bits),
            "multiplier": unsigned(31),
            "shift": unsigned(5),
            "zero_point": signed(out_bits),
            "relu": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(signed(out_bits))),
        })

    @property
    def cycles_per_result(self) -> int:
        """Cycles between results at full rate."""
        return 1 if self._d is None else self._steps + 1

    @property
    def latency(self) -> int:
        """Cycles from a transfer on ``i`` to its result's ``o.valid``."""
        if self._d is None:
            return 12
        return self._steps + 8 + (2 if self._d == 1 else 0)

    def elaborate(self, platform):
        m = Module()
        en = Signal()                         # the pipeline after the product advances
        m.d.comb += en.eq(self.o.ready | ~self.o.valid)
        if self._d is None:
            start, q_next, side_q = self._parallel_product(m, en)
        else:
            start, q_next, side_q = self._serial_product(m, en)
        self._rounding(m, en, start, q_next, side_q)
        return m

    def _parallel_product(self, m, en):
        """SRDHM's ``(P >> 31) + P[30]``, ``P = acc * M0``, in a pipeline taking one
        transfer per cycle: ``x_u = acc + 2**(A-1)`` (never negative) times M0 as
        four 16 x 16 unsigned products (one DSP each on iCE40 and ECP5), ``M0 <<
        (A-1)`` taken off, then their sum in 32-bit halves, each stage one adder.
        Returns the valid, ``q`` and the side band, all of the same cycle."""
        A = self._ab
        m.d.comb += self.i.ready.eq(en)
        take = self.i.valid & en
        p = self.i.payload
        xu = Signal(32)
        m0 = Signal(31)
        side = Signal(5 + self._ob + 1)
        v = [Signal(name=f"pv{k}") for k in range(5)]
        sides = [Signal.like(side, name=f"pside{k}") for k in range(4)]
        m1 = Signal(31)
        p0, p1, p2, p3 = (Signal(32, name=f"pp{k}") for k in range(4))
        mid = Signal(33)
        lo, hi = Signal(signed(33)), Signal(signed(33))
        l1, h1 = Signal(signed(35)), Signal(signed(35))
        ph, pl = Signal(signed(34)), Signal(32)
        corr = Cat(Const(0, A - 1), m1)            # M0 << (A - 1)
        with m.If(en):
            m.d.sync += [
                v[0].eq(take), xu.eq(p.acc.as_unsigned() ^ (1 << (A - 1))),
                m0.eq(p.multiplier), side.eq(Cat(p.shift, p.zero_point, p.relu)),
                # s1: the four partial products.
                v[1].eq(v[0]), sides[0].eq(side), m1.eq(m0),
                p0.eq(xu[:16] * m0[:16]), p1.eq(xu[16:] * m0[:16]),
                p2.eq(xu[:16] * m0[16:]), p3.eq(xu[16:] * m0[16:]),
                # s2: the middle terms summed; M0 << (A - 1) taken off each half.
                v[2].eq(v[1]), sides[1].eq(sides[0]),
                mid.eq(p1 + p2), lo.eq(p0 - corr[:32]), hi.eq(p3 - corr[32:]),
                # s3: P as low and high 32-bit halves (the low one's carry not yet moved).
                v[3].eq(v[2]), sides[2].eq(sides[1]),
                l1.eq(lo + Cat(Const(0, 16), mid[:16])), h1.eq(hi + mid[16:]),
                # s4: the low half's carry or borrow moved up: P = ph * 2**32 + pl.
                v[4].eq(v[3]), sides[3].eq(sides[2]),
                ph.eq(h1 + (l1 >> 32)), pl.eq(l1[:32]),
            ]
        return v[4], Cat(pl[31], ph).as_signed() + pl[30], sides[3]

    def _serial_product(self, m, en):
        """SRDHM's ``(P >> 31) + P[30]`` formed ``digit_bits`` of M0 per cycle.
        Returns the valid, ``q`` and the side band, all of the same cycle."""
        A, D, N = self._ab, self._d, self._steps
        # ------------------------------------------------ digit-serial multiplier
        busy = Signal()
        step = Signal(range(N + 1))
        mult = Signal(N * D)
        lo = Signal(N * D)                    # low bits, shifted in D at a time
        side = Signal(5 + self._ob + 1)       # shift, zero point, relu
        product_ready = Signal()

        handoff = Signal()
        m.d.comb += handoff.eq(product_ready & en)
        m.d.comb += self.i.ready.eq(~busy | handoff)
        with m.If(self.i.valid & self.i.ready):
            p = self.i.payload
            m.d.sync += [busy.eq(1), step.eq(0), mult.eq(p.multiplier),
                         lo.eq(0), product_ready.eq(0),
                         side.eq(Cat(p.shift, p.zero_point, p.relu))]
        with m.Elif(handoff):
            m.d.sync += [busy.eq(0), product_ready.eq(0)]
        if D == 1:
            # Carry-save over x_u = acc + 2**(A-1) >= 0: per bit u = s ^ c ^ m and
            # v = maj(s, c, m); s + c + m = u + 2v, so halving gives s' = u >> 1,
            # c' = v, and u[0] is the product bit shifted out.
            xu = Signal(A)
            cs_s, cs_c = Signal(A + 1), Signal(A + 1)
            m0 = Signal(31)                   # M0, kept for the final correction
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += [xu.eq(self.i.payload.acc.as_unsigned() ^ (1 << (A - 1))),
                             cs_s.eq(0), cs_c.eq(0), m0.eq(self.i.payload.multiplier)]
            with m.If(busy & ~product_ready):
                mu = Signal(A + 1)
                m.d.comb += mu.eq(Mux(mult[0], xu, 0))
                u = cs_s ^ cs_c ^ mu
                v = (cs_s & cs_c) | (cs_s & mu) | (cs_c & mu)
                m.d.sync += [cs_s.eq(u >> 1), cs_c.eq(v), lo.eq(Cat(lo[1:], u[0])),
                             mult.eq(mult >> 1), step.eq(step + 1),
                             product_ready.eq(step == N - 1)]
        else:
            x = Signal(signed(A))
            hi = Signal(signed(A + D + 1))    # running high part of x * M0
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += [x.eq(self.i.payload.acc), hi.eq(0)]
            # The digit's multiple of x: a 4-way select of 0, x, 2x and a 3x
            # precomputed at load for two bits, else a multiplier (for DSP mapping;
            # slow in LUTs).
            multiple = Signal(signed(A + D + 1))
            if D == 2:
                x3 = Signal(signed(A + 2))
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += x3.eq(self.i.payload.acc * 3)
                with m.Switch(mult[:2]):
                    with m.Case(1):
                        m.d.comb += multiple.eq(x)
                    with m.Case(2):
                        m.d.comb += multiple.eq(x << 1)
                    with m.Case(3):
                        m.d.comb += multiple.eq(x3)
            else:
                m.d.comb += multiple.eq(x * mult[:D])
            with m.If(busy & ~product_ready):
                t = Signal(signed(A + D + 2))
                m.d.comb += t.eq(hi + multiple)
                m.d.sync += [hi.eq(t >> D), lo.eq(Cat(lo[D:], t[:D])), mult.eq(mult >> D),
                             step.eq(step + 1), product_ready.eq(step == N - 1)]
            # P = hi * 2**(N*D) + lo; SRDHM = (P >> 31) + P[30].
            P = Cat(lo, hi).as_signed()

        side_q = side
        start = handoff
        # With carry-save: r1 resolves hi = s + c, r2 subtracts M0 * 2**(A-1) in two
        # parts (below and from bit 31), then s1 forms q from them.
        if D == 1:
            K = A - 1
            r1v, r2v = Signal(), Signal()
            hi_r = Signal(A)
            lo_r, lo_r2 = Signal(31), Signal(31)
            m_r = Signal(31)
            side_r1, side_r2 = Signal.like(side), Signal.like(side)
            d_lo = Signal(32)                 # lo - (M0 << K) mod 2**31, bit 31: borrow
            t_hi = Signal(signed(A + 2))      # hi - (M0 << K) >> 31
            with m.If(en):
                m.d.sync += [r1v.eq(handoff), r2v.eq(r1v),
                             hi_r.eq(cs_s + cs_c), lo_r.eq(lo), m_r.eq(m0), side_r1.eq(side),
                             d_lo.eq(lo_r - ((m_r << K) & ((1 << 31) - 1))),
                             t_hi.eq(hi_r - ((m_r << K) >> 31)), side_r2.eq(side_r1),
                             lo_r2.eq(lo_r)]
            start, side_q = r2v, side_r2
        if D == 1:
            # (P >> 31) + P[30] with P = lo + hi * 2**31 - (M0 << K).
            q_next = t_hi - d_lo[31] + d_lo[30]
        else:
            q_next = (P >> 31) + P[30]
        return start, q_next, side_q

    def _rounding(self, m, en, start, q_next, side_q):
        """RDBP, the zero point and the clamp after SRDHM: ``q_next`` (with
        ``start`` its valid and ``side_q`` its shift, zero point and ReLU)
        enters stage 1 when ``en``."""
        A = self._ab
        qmin, qmax = -(1 << (self._ob - 1)), (1 << (self._ob - 1)) - 1
        v1, v2, v3, v4, v5, v6 = Signal(), Signal(), Signal(), Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [v1.eq(start), v2.eq(v1), v3.eq(v2), v4.eq(v3), v5.eq(v4),
                         v6.eq(v5), self.o.valid.eq(v6)]
        # s1: q = SRDHM; pass side-band.
        q = Signal(signed(A + 2))
        shift1, zp1, relu1 = Signal(5), Signal(signed(self._ob)), Signal()
        # s1b: the rounding addend chosen by q's sign; s2: q + addend (one adder);
        # s3: arithmetic shift; s4: + zero point; s5: range flags; out: clamp.
        qb = Signal(signed(A + 2))
        addend = Signal(31)
        shiftb, zpb, relub = Signal(5), Signal(signed(self._ob)), Signal()
        t2 = Signal(signed(max(A, 31) + 3))     # q + up to 2**30
        shift2, zp2, relu2 = Signal(5), Signal(signed(self._ob)), Signal()
        r3 = Signal(signed(A + 3))
        zp3, relu3 = Signal(signed(self._ob)), Signal()
        y4 = Signal(signed(A + 4))
        lo4 = Signal(signed(self._ob))
        # The rounding addend 2**(e-1) (and that minus one, for negative q) is
        # decoded from the shift in stage 1, beside q, and selected in s1b, so stage 2
        # is one adder.
        half, half_m1 = Signal(31), Signal(31)
        shift0 = side_q[:5]
        # The clamp without wide compares: y4 fits out_bits iff its bits from
        # out_bits - 1 up are all equal; only then is it compared with lo4 (a
        # narrow compare).
        # s5 holds those flags, so the output stage is a narrow compare and a select.
        ob = self._ob
        top = y4[ob - 1:]
        fits5, neg5 = Signal(), Signal()
        y5, lo5 = Signal(signed(ob)), Signal(signed(ob))
        with m.If(en):
            m.d.sync += [fits5.eq(~top.any() | top.all()), neg5.eq(y4[-1]),
                         y5.eq(y4[:ob]), lo5.eq(lo4)]
        clamped = Mux(~fits5 & ~neg5, qmax,
                      Mux((~fits5 & neg5) | (fits5 & (y5 < lo5)), lo5, y5))
        with m.If(en):
            m.d.sync += [
                q.eq(q_next),
                Cat(shift1, zp1, relu1).eq(side_q),
                # 2**(e-1) and 2**(e-1) - 1 (0 for e = 0) as constant shifts, which
                # simulate like the gates they are (a case table left Icarus with X
                # until the shift first changed).
                half.eq((Const(1, 32) << shift0)[1:]),
                half_m1.eq(Const((1 << 30) - 1, 30) >> ~shift0),
                qb.eq(q), addend.eq(Mux(q[-1], half_m1, half)), shiftb.eq(shift1),
                zpb.eq(zp1), relub.eq(relu1),
                t2.eq(qb + addend), shift2.eq(shiftb), zp2.eq(zpb), relu2.eq(relub),
                r3.eq(t2 >> shift2), zp3.eq(zp2), relu3.eq(relu2),
                y4.eq(r3 + zp3),
                lo4.eq(Mux(relu3 & (zp3 > qmin), zp3, qmin)),
                self.o.payload.eq(clamped),
            ]
