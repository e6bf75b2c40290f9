"""Requantizer: int32 accumulator -> int8 activation by the gemmlowp/TFLite method."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
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
    ``ceil(31 / digit_bits) + 6`` cycles, 2 more for 1-bit digits (``latency``).

    With ``digit_bits=None`` the product is formed whole, in a pipeline:
    four 16 x 16 unsigned partial products (a DSP each, on iCE40 and ECP5)
    summed and corrected one adder per stage. Throughput: one result per
    cycle (``i.ready`` is the pipeline's enable: low only while ``o`` is
    stalled); latency 9 cycles. With ``fixed_constants`` the caller promises
    that the multiplier, shift, zero point and ReLU flag stay the same while
    any transfer is in the pipeline (they change only while it is empty):
    they are then read from ``i`` at each stage instead of travelling down
    the pipeline in registers (~90 flip-flops fewer).

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
                 digit_bits: int | None = 1, fixed_constants: bool = False):
        if not isinstance(acc_bits, int) or not 8 <= acc_bits <= 32:
            reject(self, f"acc_bits must be an integer in 8..32, not {acc_bits!r}")
        if not isinstance(out_bits, int) or not 2 <= out_bits <= 16:
            reject(self, f"out_bits must be an integer in 2..16, not {out_bits!r}")
        if digit_bits is not None and (not isinstance(digit_bits, int)
                                       or not 1 <= digit_bits <= 31):
            reject(self, f"digit_bits must be None or an integer in 1..31, not {digit_bits!r}")
        if fixed_constants and digit_bits is not None:
            reject(self, "fixed_constants needs the pipelined product (digit_bits=None)")
        self._ab, self._ob, self._d = acc_bits, out_bits, digit_bits
        self._fixed = bool(fixed_constants)
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
            return 9
        return self._steps + 6 + (2 if self._d == 1 else 0)

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
        transfer per cycle. ``x_u = acc + 2**K`` (never negative; ``K = A - 1``
        for accumulators of ``A >= 17`` bits, else the accumulator is widened to
        17) times M0 as four 16 x 16 unsigned products ``t_ij`` (one DSP each on
        iCE40 and ECP5, their registers inside it; the high ones are narrow for
        narrow accumulators); then, in units of ``2**16``, the two middle
        products summed beside the outer ones (a concatenation) less ``M0 <<
        (K - 16)`` (the offset's ``M0 * 2**K``); then their sum ``Y = P >> 16``,
        each stage one adder. Returns the valid, ``q`` and the side band, all of
        the same cycle."""
        A = max(17, self._ab)
        K = A - 1
        m.d.comb += self.i.ready.eq(en)
        take = self.i.valid & en
        p = self.i.payload
        xu = Signal(A)
        m0, m1 = Signal(31), Signal(31)
        side = Signal(5 + self._ob + 1)
        v = [Signal(name=f"pv{k}") for k in range(4)]
        sides = [Signal.like(side, name=f"pside{k}") for k in range(3)]
        if self._fixed:                   # the constants are the input's, unregistered
            m0, m1 = p.multiplier, p.multiplier
            side = sides[0] = sides[1] = sides[2] = Cat(p.shift, p.zero_point, p.relu)
        t0, t1 = Signal(32, name="pp0"), Signal(31, name="pp1")
        t2, t3 = Signal(A - 16 + 16, name="pp2"), Signal(A - 16 + 15, name="pp3")
        mid = Signal(max(len(t1), len(t2)) + 1)     # t1 + t2
        outer = Signal(signed(A + 31 - 16 + 2))     # t3 * 2**16 + t0 >> 16, less M0 << (K-16)
        y = Signal(signed(A + 31 - 16 + 2))         # P >> 16
        accw = Signal(signed(A))
        m.d.comb += accw.eq(p.acc)
        with m.If(en):
            m.d.sync += [
                v[0].eq(take), xu.eq(accw.as_unsigned() ^ (1 << K)),
                # s1: the four partial products.
                v[1].eq(v[0]),
                t0.eq(xu[:16] * m0[:16]), t1.eq(xu[:16] * m0[16:]),
                t2.eq(xu[16:] * m0[:16]), t3.eq(xu[16:] * m0[16:]),
                # s2: the middle terms; the outer ones less the offset's product.
                v[2].eq(v[1]),
                mid.eq(t1 + t2), outer.eq(Cat(t0[16:], t3) - (m1 << (K - 16))),
                # s3: P >> 16.
                v[3].eq(v[2]), y.eq(outer + mid),
            ]
            if not self._fixed:
                m.d.sync += [m0.eq(p.multiplier), side.eq(Cat(p.shift, p.zero_point, p.relu)),
                             sides[0].eq(side), m1.eq(m0), sides[1].eq(sides[0]),
                             sides[2].eq(sides[1])]
        # P >> 31 = Y >> 15 and P[30] = Y[14].
        return v[3], (y >> 15) + y[14], sides[2]

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
        enters stage 1 when ``en``.

        RDBP is taken as a shift, then a rounding increment: with ``r = q >>
        e``, round bit ``b = q[e-1]`` and sticky ``s`` (any bit below it set),
        ``RDBP(q, e) = r + (b & (q >= 0 | s))`` (proved against the golden
        formula in the tests). The shift is two stages (by ``8 * e[3:5]``
        keeping a guard bit and a sticky bit, then by ``e[0:3]``); only the
        result's low ``out_bits + 1`` bits go on, with a flag for whether the
        rest is the sign (else the clamp saturates), so the rounding
        increment, zero point and clamp are narrow."""
        A, ob = self._ab, self._ob
        Q = A + 2
        W = ob + 1                            # r's bits kept
        qmin, qmax = -(1 << (ob - 1)), (1 << (ob - 1)) - 1
        v1, v2, v3, v4 = Signal(), Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [v1.eq(start), v2.eq(v1), v3.eq(v2), v4.eq(v3),
                         self.o.valid.eq(v4)]
        # s1: q; s2: q >> 8 * e[3:5], guard g, sticky below it sc; s3: >> e[0:3],
        # the low W bits, fits (the rest is the sign), the increment; s4: + zero
        # point, the lower bound; out: the clamp.
        q = Signal(signed(Q))
        shift1, zp1, relu1 = Signal(5), Signal(signed(ob)), Signal()
        qc = Signal(signed(Q))
        g2, sc2 = Signal(), Signal()
        el2, zp2, relu2 = Signal(3), Signal(signed(ob)), Signal()
        r3 = Signal(signed(W))
        fits3, inc3, neg3 = Signal(), Signal(), Signal()
        zp3, relu3 = Signal(signed(ob)), Signal()
        z4 = Signal(signed(W + 2))
        lo4 = Signal(signed(ob))
        fits4, neg4 = Signal(), Signal()

        # Coarse shift: by 0, 8, 16 or 24, the guard bit q[8k - 1] and the sticky
        # OR of the bits below it.
        qc_next, g_next, sc_next = Signal(signed(Q)), Signal(), Signal()
        qq = Signal(signed(Q + 24))           # q sign-extended past every shift
        m.d.comb += qq.eq(q)
        with m.Switch(shift1[3:5]):
            for k in range(4):
                with m.Case(k):
                    m.d.comb += qc_next.eq(qq >> (8 * k))
                    if k:
                        m.d.comb += [g_next.eq(qq[8 * k - 1]),
                                     sc_next.eq(qq[:8 * k - 1].any())]
        # Fine shift by el: r = qc >> el, round bit, sticky, and whether r's bits from
        # W - 1 up are all the sign.
        sign = qc[-1]
        qe = Signal(signed(Q + W + 8))        # qc sign-extended past every window
        r_next, b_next, s_next, fits_next = (Signal(signed(W)), Signal(), Signal(),
                                             Signal())
        m.d.comb += qe.eq(qc)
        with m.Switch(el2):
            for k in range(8):
                with m.Case(k):
                    rest = qe[W - 1 + k:]
                    m.d.comb += [r_next.eq(qe[k:k + W]),
                                 fits_next.eq((rest == 0) | (rest == (1 << len(rest)) - 1))]
                    if k:
                        m.d.comb += [b_next.eq(qc[k - 1]),
                                     s_next.eq(qc[:k - 1].any() | g2 | sc2)]
                    else:
                        m.d.comb += [b_next.eq(g2), s_next.eq(sc2)]
        lo_next = Mux(relu3 & (zp3 > qmin), zp3, qmin)
        clamped = Mux(~fits4, Mux(neg4, lo4, qmax),
                      Mux(z4 < lo4, lo4, Mux(z4 > qmax, qmax, z4)))
        # The side band follows its value down the stages, unless the constants
        # are fixed: then every stage reads the input's.
        sides = [Cat(shift1, zp1, relu1).eq(side_q), el2.eq(shift1[:3]), zp2.eq(zp1),
                 relu2.eq(relu1), zp3.eq(zp2), relu3.eq(relu2)]
        if self._fixed:
            m.d.comb += sides
        with m.If(en):
            m.d.sync += [
                q.eq(q_next),
                qc.eq(qc_next), g2.eq(g_next), sc2.eq(sc_next),
                r3.eq(r_next), fits3.eq(fits_next), inc3.eq(b_next & (~sign | s_next)),
                neg3.eq(sign),
                z4.eq(r3 + zp3 + inc3), lo4.eq(lo_next), fits4.eq(fits3), neg4.eq(neg3),
                self.o.payload.eq(clamped),
            ]
            if not self._fixed:
                m.d.sync += sides
