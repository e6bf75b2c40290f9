"""XNOR-popcount: binary dot products, W weight/activation bit pairs per lane per cycle."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.compute import xnor_acc_bits

from .carry import ice40_add
from .layouts import lanes_layout
from .params import reject

__all__ = ["XnorPopcount"]


def _leaf_count(width: int) -> int:
    return width // 3 + (width % 3 > 0)


def _tree_levels(width: int) -> int:
    """Registered adder levels that reduce the leaf counts to one."""
    n, levels = _leaf_count(width), 0
    while n > 1:
        n, levels = n // 2, levels + 1
    return levels


class XnorPopcount(wiring.Component):
    """``lanes`` binary dot products of ``width`` (weight bit, activation bit)
    pairs per lane per transfer; a bit 1 stands for +1 and 0 for -1.

    Each transfer on ``i`` carries ``w[k]`` and ``a[k]`` (``width`` bits per
    lane) and ``last``; after the ``last`` transfer of a dot product ``o``
    carries, per lane, ``2 * popcount(xnor(w, a)) - n`` summed over the
    transfers (``n = width`` per transfer), the value of
    ``golden.hwmodel.compute.xnor_popcount``. Padding with 0 bits in both
    operands adds +1 per padded bit (fold it into the threshold).

    Datapath: bit pairs are counted three at a time (a 2-bit count, 0..3, in
    four LUT4s: two on the first two pairs, two that add the third), then a
    registered adder tree that pairs the counts smallest first (a level with
    an odd count adds its three smallest with two chained adders, so nothing
    waits in a register unadded), then a per-lane accumulator of
    ``popcount - width/2``, which is half the result, so the output is that
    accumulator shifted left by one (no extra adder). Latency from the
    ``last`` transfer to ``o``: ``latency`` cycles (the count stage, one per
    tree level, the accumulator); throughput one transfer per cycle while
    ``o`` is ready or empty (the pipeline holds while a result waits). Results
    of up to ``max_len`` transfers are exact; longer ones wrap modulo
    ``2**acc_bits``.

    ``carry="sb_carry"`` builds the tree's adders from hand-instantiated iCE40
    SB_LUT4/SB_CARRY chains (``hw.carry.ice40_add``), which saves the extra
    cell nextpnr adds to every Yosys adder; iCE40 synthesis only, simulated
    against Yosys's cell models. ``carry=None`` is plain Amaranth.

    Parameters
    ----------
    width : int
        Bit pairs per lane per transfer: a power of two, 4..1024.
    lanes : int
        Independent dot products, 1..64.
    max_len : int
        Longest dot product in transfers.
    carry : None or "sb_carry"
        How the adder tree is built (see above).
    """

    def __init__(self, *, width: int = 64, lanes: int = 4, max_len: int = 64,
                 carry: str | None = None):
        if not isinstance(width, int) or width < 4 or width > 1024 or width & (width - 1):
            reject(self, f"width must be a power of two in 4..1024, not {width!r}")
        if not isinstance(lanes, int) or not 1 <= lanes <= 64:
            reject(self, f"lanes must be an integer in 1..64, not {lanes!r}")
        if not isinstance(max_len, int) or not 1 <= max_len <= 1 << 20:
            reject(self, f"max_len must be an integer in 1..2**20, not {max_len!r}")
        if carry not in (None, "sb_carry"):
            reject(self, f"carry must be None or 'sb_carry', not {carry!r}")
        self._w, self._lanes, self._max_len, self._carry = width, lanes, max_len, carry
        self._acc = xnor_acc_bits(width, max_len)
        super().__init__({
            "i": In(stream.Signature(lanes_layout(unsigned(width), unsigned(width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self._acc), lanes))),
        })

    @property
    def acc_bits(self) -> int:
        return self._acc

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def width(self) -> int:
        return self._w

    @property
    def latency(self) -> int:
        return _tree_levels(self._w) + 2

    def elaborate(self, platform):
        m = Module()
        W, L = self._w, self._lanes
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]
        depth = self.latency - 1                 # registered stages before the accumulator
        valid = [Signal(name=f"v{s}") for s in range(depth)]
        last = [Signal(name=f"l{s}") for s in range(depth)]
        with m.If(en):
            m.d.sync += [valid[0].eq(self.i.valid), last[0].eq(self.i.payload.last)]
            for s in range(1, depth):
                m.d.sync += [valid[s].eq(valid[s - 1]), last[s].eq(last[s - 1])]

        clear = Signal(init=1)
        with m.If(en):
            m.d.sync += self.o.valid.eq(valid[-1] & last[-1])
            with m.If(valid[-1]):
                m.d.sync += clear.eq(last[-1])

        def reg(value, width, name):
            s = Signal(width, name=name)
            with m.If(en):
                m.d.sync += s.eq(value)
            return s

        for k in range(L):
            w, a = self.i.payload.w[k], self.i.payload.a[k]
            x = [~(w[j] ^ a[j]) for j in range(W)]
            # Leaves: three bit pairs -> a 2-bit count (0..3) in four LUT4s: the
            # first pair's sum and carry, then each combined with the third pair.
            terms = []
            for g, j in enumerate(range(0, W - W % 3, 3)):
                p, q = x[j] ^ x[j + 1], x[j] & x[j + 1]
                terms.append((reg(Cat(p ^ x[j + 2], q | (p & x[j + 2])), 2, f"c{k}_{g}"), 3))
            rest = x[W - W % 3:]
            if rest:
                terms.append((reg(sum(rest), len(rest), f"c{k}_r"), len(rest)))
            lvl = 1
            while len(terms) > 1:
                # Pair the terms, smallest first; an odd count merges its three
                # smallest terms with two chained adders in the same stage, so no
                # term waits in a register without being added.
                terms.sort(key=lambda t: t[1])
                groups = [terms[:3]] if len(terms) % 2 else []
                groups += [terms[j:j + 2] for j in range(3 * (len(terms) % 2), len(terms), 2)]
                nxt = []
                for g, group in enumerate(groups):
                    name = f"t{k}_{lvl}_{g}"
                    (s, top), *others = group
                    for n, (s1, m1) in enumerate(others):
                        top += m1
                        s = (ice40_add(m, s, s1, name=f"{name}_sum{n}", width=top.bit_length())
                             if self._carry else s + s1)
                    nxt.append((reg(s, top.bit_length(), name), top))
                terms, lvl = nxt, lvl + 1
            count = terms[0][0]                        # popcount, 0..W
            acc = Signal(signed(self._acc - 1), name=f"acc{k}")
            hb = W.bit_length() - 2                    # log2(W / 2)
            t0, t1 = count[hb], count[hb + 1]
            delta = Cat(count[:hb], ~t0, ~t0 & ~t1).as_signed()
            with m.If(en & valid[-1]):
                m.d.sync += acc.eq(Mux(clear, delta, acc + delta))
            m.d.comb += self.o.payload[k].eq(acc << 1)
        return m
