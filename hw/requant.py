"""Requantizer: int32 accumulator -> int8 activation by the gemmlowp/TFLite method."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["Requantizer"]


def _half(e: int) -> int:
    """RDBP's rounding addend ``2**(e-1)`` (0 for ``e == 0``), a 32-entry table."""
    return 1 << (e - 1) if e else 0


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
    ``ceil(31 / digit_bits) + 6`` cycles. Rounding identities used
    (proved against the golden formulas in the tests): SRDHM's nudged
    truncating division equals ``(P >> 31) + P[30]`` for ``P = acc * M0``,
    and RDBP equals ``(q + 2**(e-1) - (q < 0)) >> e`` for ``e >= 1``.
    """

    def __init__(self, *, acc_bits: int = 32, out_bits: int = 8, digit_bits: int = 1):
        if not isinstance(acc_bits, int) or not 8 <= acc_bits <= 32:
            reject(self, f"acc_bits must be an integer in 8..32, not {acc_bits!r}")
        if not isinstance(out_bits, int) or not 2 <= out_bits <= 16:
            reject(self, f"out_bits must be an integer in 2..16, not {out_bits!r}")
        if not isinstance(digit_bits, int) or not 1 <= digit_bits <= 31:
            reject(self, f"digit_bits must be an integer in 1..31, not {digit_bits!r}")
        self._ab, self._ob, self._d = acc_bits, out_bits, digit_bits
        self._steps = -(-31 // digit_bits)
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
        return self._steps

    def elaborate(self, platform):
        m = Module()
        A, D, N = self._ab, self._d, self._steps
        qmin, qmax = -(1 << (self._ob - 1)), (1 << (self._ob - 1)) - 1

        # ------------------------------------------------ digit-serial multiplier
        busy = Signal()
        step = Signal(range(N + 1))
        x = Signal(signed(A))
        mult = Signal(N * D)
        hi = Signal(signed(A + D + 1))        # running high part of x * M0
        lo = Signal(N * D)                    # low bits, shifted in D at a time
        side = Signal(5 + self._ob + 1)       # shift, zero point, relu
        product_ready = Signal()
        en = Signal()                         # the post-pipeline advances
        m.d.comb += en.eq(self.o.ready | ~self.o.valid)

        handoff = Signal()
        m.d.comb += handoff.eq(product_ready & en)
        m.d.comb += self.i.ready.eq(~busy | handoff)
        with m.If(self.i.valid & self.i.ready):
            p = self.i.payload
            m.d.sync += [busy.eq(1), step.eq(0), x.eq(p.acc), mult.eq(p.multiplier),
                         hi.eq(0), lo.eq(0), product_ready.eq(0),
                         side.eq(Cat(p.shift, p.zero_point, p.relu))]
        with m.Elif(handoff):
            m.d.sync += [busy.eq(0), product_ready.eq(0)]
        # The digit's multiple of x: an AND for one bit, a 4-way select of 0, x,
        # 2x and a 3x precomputed at load for two bits, else a multiplier (for
        # DSP mapping; slow in LUTs).
        multiple = Signal(signed(A + D + 1))
        if D == 1:
            m.d.comb += multiple.eq(Mux(mult[0], x, 0))
        elif D == 2:
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

        # ------------------------------------------------ post pipeline (enabled by en)
        v1, v2, v3, v4 = Signal(), Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [v1.eq(handoff), v2.eq(v1), v3.eq(v2), v4.eq(v3),
                         self.o.valid.eq(v4)]
        # s1: q = SRDHM; pass side-band.
        q = Signal(signed(A + 2))
        shift1, zp1, relu1 = Signal(5), Signal(signed(self._ob)), Signal()
        # s2: q + rounding addend; s3: arithmetic shift; s4: + zero point; out: clamp.
        t2 = Signal(signed(max(A, 31) + 3))     # q + up to 2**30
        shift2, zp2, relu2 = Signal(5), Signal(signed(self._ob)), Signal()
        r3 = Signal(signed(A + 3))
        zp3, relu3 = Signal(signed(self._ob)), Signal()
        y4 = Signal(signed(A + 4))
        lo4 = Signal(signed(self._ob))
        # The rounding addend 2**(e-1) (and that minus one, for negative q) is
        # decoded from the shift in stage 1, beside q, so stage 2 is one adder.
        half, half_m1 = Signal(31), Signal(31)
        shift0 = side[:5]
        with m.If(en):
            m.d.sync += [
                q.eq((P >> 31) + P[30]),
                Cat(shift1, zp1, relu1).eq(side),
                half.eq(Array(Const(_half(e), 31) for e in range(32))[shift0]),
                half_m1.eq(Array(Const(max(_half(e) - 1, 0), 31) for e in range(32))[shift0]),
                t2.eq(q + Mux(q[-1], half_m1, half)), shift2.eq(shift1), zp2.eq(zp1),
                relu2.eq(relu1),
                r3.eq(t2 >> shift2), zp3.eq(zp2), relu3.eq(relu2),
                y4.eq(r3 + zp3),
                lo4.eq(Mux(relu3 & (zp3 > qmin), zp3, qmin)),
                self.o.payload.eq(Mux(y4 > qmax, qmax, Mux(y4 < lo4, lo4, y4))),
            ]
        return m
