"""MAC array: L lanes of low-bit weight x activation dot products."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.compute import KINDS, acc_bits

from .dualmul import DualMul8
from .layouts import lanes_layout
from .params import reject

__all__ = ["MACArray"]


def _weight_shape(kind, weight_bits):
    return {"int": signed(weight_bits), "binary": unsigned(1), "ternary": signed(2)}[kind]


class MACArray(wiring.Component):
    """``lanes`` independent dot products, one weight x activation term per lane
    per cycle.

    Each transfer on ``i`` carries a weight and an activation for every lane
    (``i.payload.w[k]``, ``i.payload.a[k]``; broadcast an activation by giving
    every lane the same one) and ``last``, which ends the dot product: three
    cycles after that transfer ``o`` carries the ``lanes`` sums, and the next
    transfer starts new sums from zero. Throughput: one transfer per cycle
    while ``o`` is ready or empty; the whole pipeline holds while a result
    waits (``i.ready = o.ready | ~o.valid``).

    Weight kinds (``golden.hwmodel.compute.mac_lanes`` is the reference):

    * ``"int"``: signed ``weight_bits``-bit weights (2, 4, 8 or 16).
    * ``"binary"`` (BWN): one bit, 1 adds the activation and 0 subtracts it.
    * ``"ternary"``: signed 2-bit -1, 0, +1; a zero weight is skipped (its
      lane's accumulator is not clocked); the unused code -2 acts as -1.

    The accumulators are ``acc_bits(kind, weight_bits, act_bits, max_len)``
    bits wide, so no dot product of up to ``max_len`` terms can overflow;
    longer ones wrap modulo ``2**acc_bits`` (as the golden model does with
    ``bits=``).

    Multipliers: ``dsp="sb_mac16"`` (int kind, weights and activations of at
    most 8 bits, an even number of lanes) puts two lanes in each
    hand-instantiated iCE40 SB_MAC16 in dual 8x8 mode (see ``DualMul8``), so
    16 lanes use the UP5K's 8 DSPs; synthesize it without ``-dsp``.
    ``dsp=None`` writes plain products that Yosys maps to MULT18X18D on ECP5,
    to SB_MAC16 with ``-dsp`` on iCE40, or to LUTs for narrow widths without
    it.
    """

    def __init__(self, *, lanes: int = 16, weight_bits: int = 8, act_bits: int = 8,
                 max_len: int = 1024, kind: str = "int", dsp: str | None = None):
        if kind not in KINDS:
            reject(self, f"kind must be one of {KINDS}, not {kind!r}")
        if kind == "int" and weight_bits not in (2, 4, 8, 16):
            reject(self, f"weight_bits must be 2, 4, 8 or 16, not {weight_bits!r}")
        if act_bits not in (4, 8):
            reject(self, f"act_bits must be 4 or 8, not {act_bits!r}")
        if not isinstance(lanes, int) or not 1 <= lanes <= 256:
            reject(self, f"lanes must be an integer in 1..256, not {lanes!r}")
        if not isinstance(max_len, int) or not 1 <= max_len <= 1 << 20:
            reject(self, f"max_len must be an integer in 1..2**20, not {max_len!r}")
        if dsp not in (None, "sb_mac16"):
            reject(self, f"dsp must be None or 'sb_mac16', not {dsp!r}")
        if dsp == "sb_mac16" and (kind != "int" or weight_bits > 8 or lanes % 2):
            reject(self, "dsp='sb_mac16' needs int weights of at most 8 bits and even lanes",
                   ValueError)
        wb = weight_bits if kind == "int" else {"binary": 1, "ternary": 2}[kind]
        self._lanes, self._wb, self._ab, self._kind, self._dsp = lanes, wb, act_bits, kind, dsp
        self._acc = acc_bits(kind, wb, act_bits, max_len)
        self._max_len = max_len
        super().__init__({
            "i": In(stream.Signature(lanes_layout(_weight_shape(kind, wb), signed(act_bits),
                                                  lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self._acc), lanes))),
        })

    @property
    def acc_bits(self) -> int:
        return self._acc

    @property
    def lanes(self) -> int:
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        L, kind = self._lanes, self._kind
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]

        v1, l1, v2, l2 = Signal(), Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [v1.eq(self.i.valid), l1.eq(self.i.payload.last), v2.eq(v1), l2.eq(l1)]

        # Stage 1 registers the operands, stage 2 the products (inside the DSP for
        # sb_mac16); nz2 marks lanes whose product is non-zero by construction.
        pw = self._wb + self._ab if kind == "int" else self._ab + 1
        prods = [Signal(signed(pw), name=f"p{k}") for k in range(L)]
        nz2 = Signal(L, init=(1 << L) - 1)
        w_in, a_in = self.i.payload.w, self.i.payload.a
        if self._dsp == "sb_mac16":
            for k in range(0, L, 2):
                mul = DualMul8(dsp="sb_mac16")
                m.submodules[f"mul{k // 2}"] = mul
                m.d.comb += [mul.en.eq(en), mul.a0.eq(w_in[k]), mul.b0.eq(a_in[k]),
                             mul.a1.eq(w_in[k + 1]), mul.b1.eq(a_in[k + 1]),
                             prods[k].eq(mul.p0), prods[k + 1].eq(mul.p1)]
        else:
            rw = [Signal(_weight_shape(kind, self._wb), name=f"rw{k}") for k in range(L)]
            ra = [Signal(signed(self._ab), name=f"ra{k}") for k in range(L)]
            with m.If(en):
                for k in range(L):
                    m.d.sync += [rw[k].eq(w_in[k]), ra[k].eq(a_in[k])]
                    if kind == "int":
                        m.d.sync += prods[k].eq(rw[k] * ra[k])
                    elif kind == "binary":
                        m.d.sync += prods[k].eq(Mux(rw[k], ra[k], -ra[k]))
                    else:
                        m.d.sync += [prods[k].eq(Mux(rw[k][1], -ra[k], ra[k])),
                                     nz2[k].eq(rw[k] != 0)]

        # Stage 3: accumulate; o.payload is the accumulator itself. Each lane has its
        # own copy of the "start from zero" flag: one flag for all lanes would fan out
        # to every accumulator bit and set the critical path.
        with m.If(en):
            m.d.sync += self.o.valid.eq(v2 & l2)
        for k in range(L):
            acc = self.o.payload[k]
            clear = Signal(init=1, name=f"clear{k}", attrs={"keep": 1})
            with m.If(en & v2):
                m.d.sync += clear.eq(l2)
            with m.If(en & v2 & (nz2[k] | clear)):
                # clear ? p : acc + p, so the flag is the free fourth input of each
                # adder LUT rather than a LUT level in front of the carry chain.
                p_k = Mux(nz2[k], prods[k], 0)
                m.d.sync += acc.eq(Mux(clear, p_k, acc + p_k))
        return m
