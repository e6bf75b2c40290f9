"""SparseLayer testbench: load a layer (PE memories, biases, requantization
constants), run inputs with random stalls on the output stream; every row must
equal golden.hwmodel.engine.layer_forward's (passed in by the test)."""

import random

import cocotb
from cocotb.triggers import FallingEdge

from sim.cocotb_util import StreamSink, params, start_clock_and_reset


@cocotb.test()
async def layer_matches_the_engine_model(dut):
    p = params()
    for name in ("ld_we", "act_we", "bias_we", "rq_we", "start", "length", "ptr_base",
                 "rows", "row_base", "relu", "raw"):
        getattr(dut, name).value = 0          # every input driven (Icarus starts them at X)
    rng = random.Random(p.get("seed", 1))
    sink = StreamSink(dut, "o", rng, stall=p.get("stall", 0.3))
    await start_clock_and_reset(dut)
    sink.start()
    for pe, mem, addr, data in p["loads"]:
        dut.ld_we.value, dut.ld_pe.value, dut.ld_mem.value = 1, pe, mem
        dut.ld_addr.value, dut.ld_data.value = addr, data
        await FallingEdge(dut.clk)
    dut.ld_we.value = 0
    for r, (b, rq) in enumerate(zip(p["bias"], p["rq"])):
        dut.bias_we.value, dut.bias_addr.value, dut.bias_data.value = 1, r, b & 0xFFFFFFFF
        dut.rq_we.value, dut.rq_addr.value, dut.rq_data.value = 1, r, rq
        await FallingEdge(dut.clk)
    dut.bias_we.value, dut.rq_we.value = 0, 0
    rows, expected = len(p["bias"]), []
    for k, run in enumerate(p["runs"]):
        for a, v in enumerate(run["acts"]):
            dut.act_we.value, dut.act_addr.value, dut.act_data.value = 1, a, v & 0xFF
            await FallingEdge(dut.clk)
        dut.act_we.value = 0
        dut.start.value, dut.length.value, dut.rows.value = 1, len(run["acts"]), rows
        dut.relu.value, dut.raw.value = p["relu"], p["raw"]
        await FallingEdge(dut.clk)
        dut.start.value = 0
        expected += [v & 0xFFFFFFFF for v in run["expected"]]
        await sink.wait_for(len(expected), timeout_cycles=200 * rows + 10_000)
        for _ in range(100):
            if dut.busy.value == 0:
                break
            await FallingEdge(dut.clk)
        assert dut.busy.value == 0, f"run {k}: still busy after its last row"
    assert sink.violations == [], sink.violations[:5]
    assert sink.items == expected, "rows differ: " + str(
        [i for i, (a, b) in enumerate(zip(sink.items, expected)) if a != b][:8])
