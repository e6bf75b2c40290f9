"""Two signed 8x8 products per cycle, optionally in one iCE40 SB_MAC16."""

from amaranth.hdl import C, ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["DualMul8"]


def _sb_mac16_dual_8x8(m, en, a0, b0, a1, b1, p0, p1):
    """Instantiate one SB_MAC16 in dual 8x8 mode: input registers (A_REG,
    B_REG) and product registers (TOP/BOT_8x8_MULT_REG) inside the DSP, both
    products signed, outputs taken straight from the product registers."""
    out = Signal(32)
    zero16 = Const(0, 16)
    m.submodules.mac = Instance(
        "SB_MAC16",
        p_NEG_TRIGGER=C(0, 1), p_C_REG=C(0, 1), p_A_REG=C(1, 1), p_B_REG=C(1, 1),
        p_D_REG=C(0, 1), p_TOP_8x8_MULT_REG=C(1, 1), p_BOT_8x8_MULT_REG=C(1, 1),
        p_PIPELINE_16x16_MULT_REG1=C(0, 1), p_PIPELINE_16x16_MULT_REG2=C(0, 1),
        p_TOPOUTPUT_SELECT=C(2, 2), p_TOPADDSUB_LOWERINPUT=C(0, 2),
        p_TOPADDSUB_UPPERINPUT=C(0, 1), p_TOPADDSUB_CARRYSELECT=C(0, 2),
        p_BOTOUTPUT_SELECT=C(2, 2), p_BOTADDSUB_LOWERINPUT=C(0, 2),
        p_BOTADDSUB_UPPERINPUT=C(0, 1), p_BOTADDSUB_CARRYSELECT=C(0, 2),
        p_MODE_8x8=C(1, 1), p_A_SIGNED=C(1, 1), p_B_SIGNED=C(1, 1),
        i_CLK=ClockSignal("sync"), i_CE=en,
        i_A=(a0.as_unsigned() | (a1.as_unsigned() << 8))[:16],
        i_B=(b0.as_unsigned() | (b1.as_unsigned() << 8))[:16],
        i_C=zero16, i_D=zero16,
        i_AHOLD=C(0, 1), i_BHOLD=C(0, 1), i_CHOLD=C(0, 1), i_DHOLD=C(0, 1),
        i_IRSTTOP=C(0, 1), i_IRSTBOT=C(0, 1), i_ORSTTOP=C(0, 1), i_ORSTBOT=C(0, 1),
        i_OLOADTOP=C(0, 1), i_OLOADBOT=C(0, 1), i_ADDSUBTOP=C(0, 1), i_ADDSUBBOT=C(0, 1),
        i_OHOLDTOP=C(0, 1), i_OHOLDBOT=C(0, 1), i_CI=C(0, 1), i_ACCUMCI=C(0, 1),
        i_SIGNEXTIN=C(0, 1),
        o_O=out)
    m.d.comb += [p0.eq(out[:16]), p1.eq(out[16:])]


class DualMul8(wiring.Component):
    """``p0 = a0 * b0`` and ``p1 = a1 * b1`` on signed 8-bit operands.

    A two-stage pipeline advanced by ``en``: operands are registered, then the
    products; a product appears on ``p0``/``p1`` two enabled cycles after its
    operands, and both stages hold while ``en`` is low. ``dsp="sb_mac16"``
    builds it from one hand-instantiated iCE40 SB_MAC16 in dual 8x8 mode (both
    registers inside the DSP), which Yosys's own ``-dsp`` mapping never does;
    synthesize such a design without ``-dsp`` (it would rewrite the cell) and
    simulate it with the SB_MAC16 model of Yosys's ``ice40/cells_sim.v``.
    ``dsp=None`` is the same pipeline in plain Amaranth (Yosys maps it to
    MULT18X18D on ECP5 and to LUTs or ``-dsp`` on iCE40).
    """

    a0: In(signed(8))
    b0: In(signed(8))
    a1: In(signed(8))
    b1: In(signed(8))
    en: In(1)
    p0: Out(signed(16))
    p1: Out(signed(16))

    def __init__(self, *, dsp: str | None = None):
        if dsp not in (None, "sb_mac16"):
            reject(self, f"dsp must be None or 'sb_mac16', not {dsp!r}")
        self._dsp = dsp
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self._dsp == "sb_mac16":
            _sb_mac16_dual_8x8(m, self.en, self.a0, self.b0, self.a1, self.b1, self.p0, self.p1)
            return m
        ra0, rb0, ra1, rb1 = (Signal(signed(8), name=n) for n in ("ra0", "rb0", "ra1", "rb1"))
        with m.If(self.en):
            m.d.sync += [ra0.eq(self.a0), rb0.eq(self.b0), ra1.eq(self.a1), rb1.eq(self.b1),
                         self.p0.eq(ra0 * rb0), self.p1.eq(ra1 * rb1)]
        return m
