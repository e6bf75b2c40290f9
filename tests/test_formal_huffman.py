"""Formal (sby + yices, k-induction): the HuffmanDecoder's output keeps the stream
contract, and after a stream error it takes no more input words."""

import pytest
from amaranth.hdl import Assert, Module, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.huffman import HuffmanDecoder, HuffmanError
from sim.formal import check, stream_hold_asserts


class HuffmanSpec(wiring.Component):
    def __init__(self):
        self.dut = HuffmanDecoder(word_width=16, max_len=3, symbol_bits=2, queue_depth=6)
        sig = {name: In(member.shape) if member.flow == In else Out(member.shape)
               for name, member in self.dut.signature.members.items()
               if name not in ("i", "o")}
        sig["i"] = In(stream.Signature(16))
        sig["o"] = Out(stream.Signature(2))
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        for name in self.signature.members:
            if name in ("i", "o"):
                continue
            if self.signature.members[name].flow == In:
                m.d.comb += getattr(dut, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(dut, name))
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        wiring.connect(m, dut.o, wiring.flipped(self.o))
        stream_hold_asserts(m, dut.o)
        errored = Signal()
        m.d.sync += errored.eq(dut.error != HuffmanError.NONE)
        with m.If(errored & (dut.error != HuffmanError.NONE) & ~ResetSignal()):
            m.d.comb += Assert(~dut.i.ready, "took a word after a stream error")
        return m


class ReachesOutput(HuffmanSpec):
    """Claims the decoder never outputs a symbol: BMC must refute it, which shows the
    proof above is not vacuous (symbols do flow in the formal model)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += Assert(~self.dut.o.valid, "no output ever")
        return m


@pytest.mark.slow
def test_formal_model_reaches_output(tmp_path):
    with pytest.raises(AssertionError, match="FAIL"):
        check(ReachesOutput(), "huffman_reach", mode="bmc", depth=45, build_root=tmp_path)


@pytest.mark.slow
def test_huffman_output_contract_and_error_stop(tmp_path):
    r = check(HuffmanSpec(), "huffman", mode="prove", depth=12, build_root=tmp_path)
    assert r.status == "PASS"
