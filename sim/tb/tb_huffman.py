"""HuffmanDecoder on the generated Verilog: code tables and interleaved streams
come from golden.huffman (built in pytest and passed in as parameters); random stalls on
both stream sides; every symbol is checked in order, as are the error code and
the end-of-stream flag, and that nothing follows a stream error."""

import random

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb_util import StreamSink, StreamSource, params, start_clock_and_reset, write_rate


async def pulse(dut, name):
    await FallingEdge(dut.clk)
    getattr(dut, name).value = 1
    await FallingEdge(dut.clk)
    getattr(dut, name).value = 0


async def wait_idle(dut, limit):
    for _ in range(limit):
        await ReadOnly()
        idle = not dut.busy.value
        await FallingEdge(dut.clk)
        if idle:
            return
    raise AssertionError(f"decoder still busy after {limit} cycles")


@cocotb.test()
async def decode_streams(dut):
    p = params()
    rng = random.Random(p["seed"])
    for name in ("len_we", "build", "start"):
        getattr(dut, name).value = 0
    # Endpoints first, so i.valid and o.ready never float during reset and build.
    sink = StreamSink(dut, "o", rng, stall=p["stall"])
    src = StreamSource(dut, "i", rng, idle=p["idle"])
    await start_clock_and_reset(dut)
    for s, ln in enumerate(p["lengths"]):
        await FallingEdge(dut.clk)
        dut.len_we.value, dut.len_addr.value, dut.len_data.value = 1, s, ln
    await FallingEdge(dut.clk)
    dut.len_we.value = 0
    await pulse(dut, "build")
    await wait_idle(dut, 20_000)
    assert dut.error.value.to_unsigned() == p.get("build_error", 0)
    if p.get("build_error"):
        return
    sink.start()
    expected_total = []
    for job in p["jobs"]:
        await FallingEdge(dut.clk)
        nb0, nb1 = job["nbits"]
        dut.count.value, dut.nbits.value = job["count"], nb0 | (nb1 << 32)
        await pulse(dut, "start")
        feed = cocotb.start_soon(src.send(job["words"]))
        await wait_idle(dut, 50 * (len(job["words"]) + job["count"]) + 200)
        expected_total += job["symbols"]
        await sink.wait_for(len(expected_total), timeout_cycles=500)
        assert dut.error.value.to_unsigned() == job["error"], \
            f"error {dut.error.value.to_unsigned()}, expected {job['error']}"
        assert int(dut.done.value) == (job["error"] == 0)
        if job["error"]:
            feed.cancel()
            dut.i__valid.value = 0
            for _ in range(40):                      # nothing after a stream error
                await FallingEdge(dut.clk)
            assert len(sink.items) == len(expected_total), "output after a stream error"
        else:
            await feed
    assert sink.violations == [], sink.violations[:3]
    assert sink.items == expected_total
    if p.get("measure"):
        write_rate(sink)
