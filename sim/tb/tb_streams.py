"""A generic stream testbench: optional register writes, then payload lists
driven into input streams (random idles), one output stream collected (random
stalls) and compared in order with the expected payloads computed in pytest
from the golden models. Payloads are flat integers (struct layouts packed
with the first field in the least significant bits)."""

import random

import cocotb
from cocotb.triggers import FallingEdge

from sim.cocotb_util import StreamSink, StreamSource, params, start_clock_and_reset, write_rate


@cocotb.test()
async def streams_match_golden(dut):
    p = params()
    rng = random.Random(p["seed"])
    for name in p.get("zero", []):
        getattr(dut, name).value = 0
    # Create the stream endpoints first: they drive valid/ready low, so no input
    # floats (Icarus would propagate 'z' into registers) during reset and writes.
    sink = StreamSink(dut, p["sink"], rng, stall=p["stall"])
    sources = {prefix: StreamSource(dut, prefix, rng, idle=p["idle"])
               for prefix in p["sources"]}
    await start_clock_and_reset(dut)
    for write in p.get("writes", []):
        await FallingEdge(dut.clk)
        for name, value in write.items():
            getattr(dut, name).value = value
    await FallingEdge(dut.clk)
    for name in p.get("writes", [{}])[0]:
        getattr(dut, name).value = 0 if name.endswith("we") else getattr(dut, name).value
    if p.get("clear"):
        dut.clear.value = 1
        await FallingEdge(dut.clk)
        dut.clear.value = 0
    sink.start()
    tasks = [cocotb.start_soon(sources[prefix].send(items))
             for prefix, items in p["sources"].items()]
    expected = p["expected"]
    await sink.wait_for(len(expected), timeout_cycles=20 * (len(expected) + sum(
        len(v) for v in p["sources"].values())) + 100)
    for t in tasks:
        await t
    for _ in range(20):                           # nothing extra comes out
        await FallingEdge(dut.clk)
    assert sink.violations == [], sink.violations[:3]
    diff = next((i for i, (a, b) in enumerate(zip(sink.items, expected)) if a != b),
                min(len(sink.items), len(expected)))
    assert sink.items == expected, f"first difference at item {diff}"
    if p.get("measure"):
        write_rate(sink)
