"""Queue testbench: random payloads through random stalls on both sides; the
output must equal the input sequence (the golden model of a FIFO is the
identity on sequences)."""

import random

import cocotb
from cocotb.triggers import FallingEdge

from sim.cocotb_util import StreamSink, StreamSource, params, start_clock_and_reset


@cocotb.test()
async def queue_keeps_order_under_stalls(dut):
    p = params()
    rng = random.Random(p.get("seed", 1))
    width = p["width"]
    items = [rng.getrandbits(width) for _ in range(p.get("count", 300))]
    items[:2] = [0, (1 << width) - 1]
    sink = StreamSink(dut, "o", rng, stall=p.get("stall", 0.3))
    src = StreamSource(dut, "i", rng, idle=p.get("idle", 0.3))
    await start_clock_and_reset(dut)
    sink.start()
    await src.send(items)
    await sink.wait_for(len(items), timeout_cycles=20 * len(items))
    assert sink.violations == [], sink.violations[:5]
    assert sink.items == items


@cocotb.test()
async def queue_fills_and_back_pressures(dut):
    p = params()
    depth = p["depth"]
    rng = random.Random(2)
    sink = StreamSink(dut, "o", rng, stall=1.0)   # never ready
    src = StreamSource(dut, "i", rng)
    await start_clock_and_reset(dut)
    sink.start()
    items = list(range(depth + 3))
    task = cocotb.start_soon(src.send(items))
    for _ in range(4 * depth + 10):
        await FallingEdge(dut.clk)
    assert src.sent == depth, f"accepted {src.sent} payloads into a queue of depth {depth}"
    assert dut.level.value.to_unsigned() == depth
    sink.stall = 0.0
    await task
    await sink.wait_for(len(items), timeout_cycles=100)
    assert sink.items == [i & ((1 << p["width"]) - 1) for i in items]
