"""BroadcastQueue testbench: random payloads, random idle cycles on the input and
independent random stalls on every reader; each reader must receive the input
sequence in order (a FIFO's golden model is the identity on sequences), under
the stream rules, and a reader that never takes must back-pressure the input
after ``depth`` payloads while the others drain."""

import random

import cocotb
from cocotb.triggers import FallingEdge

from sim.cocotb_util import StreamSink, StreamSource, params, start_clock_and_reset


def sinks(dut, p, rng, stall):
    return [StreamSink(dut, f"o__{k}", rng, stall=stall(k)) for k in range(p["readers"])]


@cocotb.test()
async def every_reader_gets_the_sequence_under_stalls(dut):
    p = params()
    rng = random.Random(p["seed"])
    items = [rng.getrandbits(p["width"]) for _ in range(p["count"])]
    items[:2] = [0, (1 << p["width"]) - 1]
    # Readers stall at different rates, so their queues fill unevenly.
    outs = sinks(dut, p, rng, lambda k: 0.1 + 0.6 * k / max(1, p["readers"] - 1))
    src = StreamSource(dut, "i", rng, idle=0.2)
    await start_clock_and_reset(dut)
    for s in outs:
        s.start()
    await src.send(items)
    for k, s in enumerate(outs):
        await s.wait_for(len(items), timeout_cycles=40 * len(items))
        assert s.violations == [], (k, s.violations[:5])
        assert s.items == items, f"reader {k} got another sequence"


@cocotb.test()
async def a_stopped_reader_back_pressures(dut):
    p = params()
    rng = random.Random(p["seed"] + 1)
    depth = p["depth"]
    outs = sinks(dut, p, rng, lambda k: 1.0 if k == 0 else 0.0)   # reader 0 never ready
    src = StreamSource(dut, "i", rng)
    await start_clock_and_reset(dut)
    for s in outs:
        s.start()
    items = list(range(depth + 3))
    task = cocotb.start_soon(src.send(items))
    for _ in range(4 * depth + 10):
        await FallingEdge(dut.clk)
    assert src.sent == depth, f"accepted {src.sent} payloads with a full reader of depth {depth}"
    for k, s in enumerate(outs[1:], 1):
        assert s.items == items[:depth], f"reader {k} did not drain what was accepted"
    outs[0].stall = 0.0
    await task
    for s in outs:
        await s.wait_for(len(items), timeout_cycles=100)
        assert s.items == [i & ((1 << p["width"]) - 1) for i in items]
