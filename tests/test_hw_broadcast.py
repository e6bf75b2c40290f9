"""BroadcastQueue: cycle for cycle the same as one SyncFIFO per reader with the
write enables tied (amaranth.sim, random traffic), on both simulators with random
stalls (cocotb), and its outputs keep the stream contract (formal)."""

import random

import pytest
from amaranth.hdl import Assert, Module
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from hw.broadcast import BroadcastQueue
from sim.amsim import run_testbenches
from sim.formal import check, stream_hold_asserts
from sim.harness import SimulatorMissing, run_cocotb


class Pair(wiring.Component):
    """The queue beside its reference, driven alike."""

    def __init__(self, width, readers, depth):
        self.n, self.width = readers, width
        self.dut = BroadcastQueue(width, readers=readers, depth=depth)
        self.ref = [fifo.SyncFIFO(width=width, depth=depth) for _ in range(readers)]
        super().__init__({"valid": In(1), "payload": In(width), "ready": In(readers)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        room = 1
        for k, q in enumerate(self.ref):
            m.submodules[f"ref{k}"] = q
            room = room & q.w_rdy
            m.d.comb += [q.w_en.eq(self.valid & room), q.w_data.eq(self.payload),
                         q.r_en.eq(self.ready[k]), self.dut.o[k].ready.eq(self.ready[k])]
        for q in self.ref:
            m.d.comb += q.w_en.eq(self.valid & room)
        m.d.comb += [self.dut.i.valid.eq(self.valid), self.dut.i.payload.eq(self.payload)]
        return m


@pytest.mark.parametrize("readers,depth", [(1, 1), (4, 8), (3, 5), (16, 2)])
def test_matches_one_syncfifo_per_reader(readers, depth):
    top = Pair(7, readers, depth)
    rng = random.Random(readers * 100 + depth)
    checked = []

    async def tb(ctx):
        for cycle in range(1500):
            ctx.set(top.valid, rng.random() < 0.7)
            ctx.set(top.payload, rng.getrandbits(7))
            # Each reader has its own stall rate, so the levels drift apart.
            ctx.set(top.ready, sum((rng.random() < 0.3 + 0.6 * k / readers) << k
                                   for k in range(readers)))
            dut = top.dut
            got = [ctx.get(dut.i.ready)]
            want = [all(ctx.get(q.w_rdy) for q in top.ref)]
            for k, q in enumerate(top.ref):
                got.append(ctx.get(dut.o[k].valid))
                want.append(ctx.get(q.r_rdy))
                if want[-1]:
                    got.append(ctx.get(dut.o[k].payload))
                    want.append(ctx.get(q.r_data))
            assert got == want, f"cycle {cycle}: {got} != {want}"
            checked.append(sum(want[1:]))
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert sum(checked) > 500       # payloads were actually compared


@pytest.mark.parametrize("readers,depth", [(1, 1), (4, 3)])
def test_private_parts_reach_their_reader(readers, depth):
    """With ``private``, reader ``k`` takes, in order, every shared part with
    its own private part, at its own pace."""
    dut = BroadcastQueue(6, readers=readers, depth=depth, private=5)
    rng = random.Random(readers)
    items = [(rng.getrandbits(6), [rng.getrandbits(5) for _ in range(readers)])
             for _ in range(60)]
    got = [[] for _ in range(readers)]

    async def producer(ctx):
        for shared, own in items:
            while rng.random() < 0.3:
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"shared": shared, "private": own})
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    def consumer(k):
        async def tb(ctx):
            while len(got[k]) < len(items):
                while rng.random() < 0.5:
                    await ctx.tick()
                ctx.set(dut.o[k].ready, 1)
                (p,) = await ctx.tick().sample(dut.o[k].payload).until(dut.o[k].valid)
                ctx.set(dut.o[k].ready, 0)
                got[k].append((int(p.shared), int(p.private)))
        return tb

    run_testbenches(dut, producer, *(consumer(k) for k in range(readers)))
    for k in range(readers):
        assert got[k] == [(shared, own[k]) for shared, own in items]


def test_rejects_bad_parameters():
    with pytest.raises(TypeError, match="readers"):
        BroadcastQueue(8, readers=0, depth=4)
    with pytest.raises(TypeError, match="depth"):
        BroadcastQueue(8, readers=2, depth=65)
    with pytest.raises(TypeError, match="shape"):
        BroadcastQueue("x", readers=2, depth=4)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
@pytest.mark.parametrize("readers,depth", [(4, 8), (3, 1)])
def test_cocotb(sim, readers, depth):
    try:
        r = run_cocotb(BroadcastQueue(9, readers=readers, depth=depth), "broadcast_queue",
                       "sim.tb.tb_broadcast", sim=sim,
                       params={"width": 9, "readers": readers, "depth": depth,
                               "seed": readers + depth, "count": 400},
                       case=f"r{readers}_d{depth}")
    except SimulatorMissing as e:
        if sim == "icarus":
            pytest.skip(str(e))
        raise
    assert r.tests == 2 and r.failed == 0


class Spec(wiring.Component):
    def __init__(self):
        self.dut = BroadcastQueue(3, readers=2, depth=4)
        super().__init__({"i": In(stream.Signature(3)), "ready": In(2)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        for k in range(2):
            m.d.comb += dut.o[k].ready.eq(self.ready[k])
            stream_hold_asserts(m, dut.o[k])
            # The registered room and valid flags agree with the pointers (also
            # what lets induction rule out states where they disagree).
            m.d.comb += [Assert(dut.levels[k] <= 4, "level above the depth"),
                         Assert(dut.rooms[k] == (dut.levels[k] < 4), "room flag disagrees"),
                         Assert(dut.holds[k] == (dut.levels[k] != 0), "valid flag disagrees")]
        return m


@pytest.mark.slow
def test_output_contract_proven(tmp_path):
    r = check(Spec(), "broadcast", mode="prove", depth=8, build_root=tmp_path)
    assert r.status == "PASS"
