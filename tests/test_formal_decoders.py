"""Formal (k-induction): every decoder block's output keeps the stream contract
(valid and payload hold while stalled), for any input sequence."""

import pytest
from amaranth.hdl import Assert, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hw.bitmask import BitmaskDecoder
from hw.codebook import CodebookLookup
from hw.relindex import RelativeIndexDecoder
from sim.formal import check, stream_hold_asserts


class Spec(wiring.Component):
    """Exposes the block's ports unchanged (inputs are free in the proof) and
    asserts the contract on its output ``o``."""

    def __init__(self, dut):
        self.dut = dut
        super().__init__(dut.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        for name, member in self.dut.signature.members.items():
            ours, theirs = getattr(self, name), getattr(self.dut, name)
            if member.is_signature:
                if member.flow == In:
                    wiring.connect(m, wiring.flipped(ours), theirs)
                else:
                    wiring.connect(m, theirs, wiring.flipped(ours))
            elif member.flow == In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        stream_hold_asserts(m, self.dut.o)
        return m


MAKERS = [
    lambda: RelativeIndexDecoder(gap_bits=2, value_bits=2, index_bits=6),
    lambda: BitmaskDecoder(word_width=4, value_bits=2, index_bits=6),
    lambda: CodebookLookup(code_bits=2, weight_bits=8, index_bits=4),
]
IDS = ["relindex", "bitmask", "codebook"]


@pytest.mark.slow
@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_output_contract(make, tmp_path):
    dut = make()
    r = check(Spec(dut), type(dut).__name__, mode="prove", depth=6, build_root=tmp_path)
    assert r.status == "PASS"


class NeverValid(Spec):
    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += Assert(~self.dut.o.valid, "no output ever")
        return m


@pytest.mark.slow
@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_proofs_are_not_vacuous(make, tmp_path):
    """BMC refutes 'never outputs', so the proofs above see real outputs."""
    with pytest.raises(AssertionError, match="FAIL"):
        check(NeverValid(make()), "never", mode="bmc", depth=6, build_root=tmp_path)
