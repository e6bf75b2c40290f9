"""Winograd F(2x2,3x3) tile: 16 multiplies per 2x2 output tile instead of 36."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.compute import winograd_bits
from golden.winograd import AT, BT

from .dualmul import DualMul8
from .params import reject

__all__ = ["WinogradTile"]


def _transform(m, mat, x, name, en):
    """Registered ``mat @ x @ mat.T`` (entries of ``mat`` in -1, 0, 1) in two
    stages, rows then columns; ``x`` is a list of rows of Values."""
    rows, cols = mat.shape
    t = [[Signal(signed(len(x[0][0]) + 2), name=f"{name}r{i}{j}") for j in range(len(x[0]))]
         for i in range(rows)]
    for i in range(rows):
        for j in range(len(x[0])):
            terms = [(int(mat[i, k]), x[k][j]) for k in range(cols) if mat[i, k]]
            with m.If(en):
                m.d.sync += t[i][j].eq(_signed_sum(terms))
    y = [[Signal(signed(len(t[0][0]) + 2), name=f"{name}c{i}{j}") for j in range(rows)]
         for i in range(rows)]
    for i in range(rows):
        for j in range(rows):
            terms = [(int(mat[j, k]), t[i][k]) for k in range(cols) if mat[j, k]]
            with m.If(en):
                m.d.sync += y[i][j].eq(_signed_sum(terms))
    return y


def _signed_sum(terms):
    acc = None
    for c, v in terms:
        if acc is None:
            acc = v if c > 0 else -v
        else:
            acc = acc + v if c > 0 else acc - v
    return acc


class WinogradTile(wiring.Component):
    """One F(2x2,3x3) tile per transfer (Lavin & Gray, CVPR 2016).

    ``i`` carries a 4x4 input tile ``d`` (signed ``act_bits``, row-major) and
    the pre-transformed kernel ``u`` = ``golden.winograd.kernel_transform_int(g)``
    = ``G2 g G2^T`` (4x4, signed ``weight_bits + 4``, row-major) for a 3x3
    kernel ``g`` of signed ``weight_bits`` weights. ``o`` carries the 2x2
    output ``(A^T [u * (B^T d B)] A) >> 2`` (row-major), which for such ``u``
    is exactly the 3x3 correlation of ``d`` with ``g``
    (``golden.hwmodel.compute.winograd_tile``; ``u`` that is not such a
    transform gives that formula's bits, truncated to the output width).

    Pipeline: input transform (2 stages, adds only), 16 elementwise
    multiplies (registered operands and products, so Yosys can put both
    registers in the DSP), output transform (2 stages), shift. Latency 6
    cycles; one tile per cycle while ``o`` is ready or empty (the pipeline
    holds while a result waits): 36 MAC-equivalents per cycle with 16
    multipliers, which need DSPs (MULT18X18D on ECP5) or LUT multipliers.
    iCE40 UP5K has only 8 SB_MAC16 and int8 tiles do not fit its LUTs;
    ``dsp="sb_mac16"`` puts two multiplies in each of 8 hand-instantiated
    SB_MAC16 in dual 8x8 mode (``DualMul8``), which needs transformed
    operands of at most 8 bits: ``act_bits <= 6`` and ``weight_bits <= 4``.
    """

    def __init__(self, *, act_bits: int = 8, weight_bits: int = 8, dsp: str | None = None):
        if not isinstance(act_bits, int) or not 2 <= act_bits <= 12:
            reject(self, f"act_bits must be an integer in 2..12, not {act_bits!r}")
        if not isinstance(weight_bits, int) or not 2 <= weight_bits <= 12:
            reject(self, f"weight_bits must be an integer in 2..12, not {weight_bits!r}")
        if dsp not in (None, "sb_mac16"):
            reject(self, f"dsp must be None or 'sb_mac16', not {dsp!r}")
        if dsp == "sb_mac16" and (act_bits > 6 or weight_bits > 4):
            reject(self, "dsp='sb_mac16' needs act_bits <= 6 and weight_bits <= 4", ValueError)
        self._ab, self._wb, self._dsp = act_bits, weight_bits, dsp
        self._ub, self._ob = winograd_bits(act_bits, weight_bits)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "d": data.ArrayLayout(signed(act_bits), 16),
                "u": data.ArrayLayout(signed(self._ub), 16),
            }))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self._ob), 4))),
        })

    @property
    def kernel_bits(self) -> int:
        return self._ub

    @property
    def out_bits(self) -> int:
        return self._ob

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]
        depth = 6
        valid = [Signal(name=f"v{s}") for s in range(depth - 1)]
        with m.If(en):
            m.d.sync += valid[0].eq(self.i.valid)
            for s in range(1, depth - 1):
                m.d.sync += valid[s].eq(valid[s - 1])
            m.d.sync += self.o.valid.eq(valid[-1])

        d = [[self.i.payload.d[4 * r + c] for c in range(4)] for r in range(4)]
        v = _transform(m, BT, d, "v", en)                       # stages 1-2
        # the kernel waits two stages alongside
        u1 = [Signal(signed(self._ub), name=f"u1_{k}") for k in range(16)]
        u2 = [Signal(signed(self._ub), name=f"u2_{k}") for k in range(16)]
        with m.If(en):
            for k in range(16):
                m.d.sync += [u1[k].eq(self.i.payload.u[k]), u2[k].eq(u1[k])]
        # stage 3: operand registers; stage 4: products
        va = [Signal(signed(len(v[0][0])), name=f"va{k}") for k in range(16)]
        ua = [Signal(signed(self._ub), name=f"ua{k}") for k in range(16)]
        prod = [[Signal(signed(len(v[0][0]) + self._ub), name=f"m{r}{c}") for c in range(4)]
                for r in range(4)]
        if self._dsp == "sb_mac16":
            for k in range(0, 16, 2):
                mul = m.submodules[f"mul{k // 2}"] = DualMul8(dsp="sb_mac16")
                m.d.comb += [mul.en.eq(en),
                             mul.a0.eq(v[k // 4][k % 4]), mul.b0.eq(u2[k]),
                             mul.a1.eq(v[(k + 1) // 4][(k + 1) % 4]), mul.b1.eq(u2[k + 1]),
                             prod[k // 4][k % 4].eq(mul.p0),
                             prod[(k + 1) // 4][(k + 1) % 4].eq(mul.p1)]
        else:
            with m.If(en):
                for k in range(16):
                    m.d.sync += [va[k].eq(v[k // 4][k % 4]), ua[k].eq(u2[k]),
                                 prod[k // 4][k % 4].eq(va[k] * ua[k])]
        y = _transform(m, AT, prod, "y", en)                    # stages 5-6
        for r in range(2):
            for c in range(2):
                m.d.comb += self.o.payload[2 * r + c].eq(y[r][c] >> 2)
        return m
