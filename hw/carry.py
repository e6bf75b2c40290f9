"""Ripple adders built from hand-instantiated iCE40 SB_LUT4 + SB_CARRY cells."""

from amaranth.hdl import C, Cat, Const, Instance, Signal

__all__ = ["ice40_add", "lut_init"]


def lut_init(fn) -> int:
    """The 16-bit ``LUT_INIT`` of an SB_LUT4 computing ``fn(i0, i1, i2, i3)``."""
    return sum(int(bool(fn(n & 1, n >> 1 & 1, n >> 2 & 1, n >> 3 & 1))) << n for n in range(16))


_SUM = lut_init(lambda i0, i1, i2, i3: i1 ^ i2 ^ i3)
_PASS = lut_init(lambda i0, i1, i2, i3: i3)


def ice40_add(m, a, b, *, name: str, width: int | None = None) -> Signal:
    """``a + b`` (unsigned; ``width`` bits, by default the full
    ``max(len(a), len(b)) + 1``, fewer when the caller knows the sum fits) as one
    carry chain: an SB_LUT4 (sum) and an SB_CARRY per bit, then an SB_LUT4 that
    brings the carry out to the fabric. The chain starts from a constant 0, so
    nextpnr needs no extra cell to feed it, and the carry out is the chain's last
    LUT, not a separate cell: ``n + 1`` logic cells for ``n`` bits. nextpnr adds
    one more cell to every adder Yosys maps (XnorPopcount's packing report: one
    chain-legalising cell per adder).

    Only for synthesis on iCE40 (simulate with Yosys's ``ice40/cells_sim.v``
    models of SB_LUT4 and SB_CARRY)."""
    n = max(len(a), len(b))
    width = n + 1 if width is None else width
    if not 1 <= width <= n + 1:
        raise ValueError(f"width must be in 1..{n + 1}, not {width}")
    a, b = (Cat(v.as_unsigned(), Const(0, n - len(v))) for v in (a, b))
    out = Signal(width, name=name)
    carry = [C(0, 1)] + [Signal(name=f"{name}_c{i}") for i in range(1, n + 1)]
    for i in range(min(n, width)):
        m.submodules[f"{name}_l{i}"] = Instance(
            "SB_LUT4", p_LUT_INIT=C(_SUM, 16),
            i_I0=C(0, 1), i_I1=a[i], i_I2=b[i], i_I3=carry[i], o_O=out[i])
        m.submodules[f"{name}_k{i}"] = Instance(
            "SB_CARRY", i_I0=a[i], i_I1=b[i], i_CI=carry[i], o_CO=carry[i + 1])
    if width <= n:
        return out
    m.submodules[f"{name}_l{n}"] = Instance(
        "SB_LUT4", p_LUT_INIT=C(_PASS, 16),
        i_I0=C(0, 1), i_I1=C(0, 1), i_I2=C(0, 1), i_I3=carry[n], o_O=out[n])
    return out
