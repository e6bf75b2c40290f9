"""Formal: the Queue's output keeps the stream contract (k-induction), and the
checker itself catches a design that breaks it."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.queue import Queue
from sim.formal import check, stream_hold_asserts


class QueueSpec(wiring.Component):
    """The queue with free inputs and the output contract asserted."""

    def __init__(self, width, depth):
        self.dut = Queue(width, depth)
        super().__init__({"i": In(stream.Signature(width)), "o_ready": In(1),
                          "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        m.d.comb += [dut.o.ready.eq(self.o_ready), self.o.valid.eq(dut.o.valid),
                     self.o.payload.eq(dut.o.payload)]
        stream_hold_asserts(m, dut.o)
        return m


class BrokenSource(wiring.Component):
    """Drops valid after one stalled cycle: the contract check must fail on it."""

    o: Out(stream.Signature(4))

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.valid.eq(~self.o.valid)
        m.d.sync += self.o.payload.eq(self.o.payload + 1)
        stream_hold_asserts(m, self.o)
        return m


@pytest.mark.slow
def test_queue_output_contract_proven(tmp_path):
    r = check(QueueSpec(4, 3), "queue", mode="prove", depth=8, build_root=tmp_path)
    assert r.status == "PASS"


@pytest.mark.slow
def test_contract_check_catches_a_violation(tmp_path):
    with pytest.raises(AssertionError, match="FAIL"):
        check(BrokenSource(), "broken", mode="bmc", depth=6, build_root=tmp_path)
