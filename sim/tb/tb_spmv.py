"""SparseMatVec testbench: load every PE's memories, run products, read every
accumulator back; sums and cycle counts must equal the golden models' (passed
in by the test, from NumPy and golden.hwmodel.cycles; a run without expected
cycles is only timed). The cycles measured are written to ``cycles.json``."""

import json

import cocotb
from cocotb.triggers import FallingEdge

from sim.cocotb_util import params, start_clock_and_reset


def signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


@cocotb.test()
async def spmv_matches_the_models(dut):
    p = params()
    for name in ("ld_we", "ld_all", "act_we", "start", "rd_pe", "rd_addr", "clr_en",
                 "clr_pe", "clr_addr", "length", "ptr_base", "peek", "peek_addr", "cb_bank"):
        getattr(dut, name).value = 0          # every input driven (Icarus starts them at X)
    if p.get("binary") is not None:
        dut.binary.value = 0
    if p.get("limit") is not None:              # the stream form's symbol-table port
        dut.sym_we.value = 0
    await start_clock_and_reset(dut)
    for pe, mem, addr, data in p["loads"]:
        dut.ld_we.value, dut.ld_pe.value, dut.ld_mem.value = 1, pe, mem
        dut.ld_addr.value, dut.ld_data.value = addr, data
        await FallingEdge(dut.clk)
    dut.ld_we.value = 0
    dut.ptr_base.value = p["ptr_base"]
    for name in ("limit", "offset", "cb_bank"):   # the stream form's table and bank
        if p.get(name) is not None:
            getattr(dut, name).value = p[name]
    if p.get("binary"):                        # a binary layer on the XNOR path
        dut.binary.value = 1
    n_pe, acc_bits = p["n_pe"], p["acc_bits"]
    measured = []
    for k, run in enumerate(p["runs"]):
        for a, v in enumerate(run["acts"]):
            dut.act_we.value, dut.act_addr.value, dut.act_data.value = 1, a, v & 0xFF
            await FallingEdge(dut.clk)
        dut.act_we.value = 0
        dut.start.value, dut.length.value = 1, len(run["acts"])
        await FallingEdge(dut.clk)
        dut.start.value = 0
        cycles = 1
        while dut.busy.value == 1:
            await FallingEdge(dut.clk)
            cycles += 1
            assert cycles < 100_000, "the run never ends"
        got = []
        for r in range(len(run["expected"])):
            dut.rd_pe.value, dut.rd_addr.value = r % n_pe, r // n_pe
            dut.clr_en.value, dut.clr_pe.value, dut.clr_addr.value = 1, r % n_pe, r // n_pe
            await FallingEdge(dut.clk)
            dut.clr_en.value = 0
            for _ in range(p.get("read_latency", 1) - 1):   # pipelined PEs: one more
                await FallingEdge(dut.clk)
            v = dut.rd_data.value
            assert v.is_resolvable, f"run {k} row {r}: rd_data is {v}"
            got.append(signed(v.to_unsigned(), acc_bits))
        assert got == run["expected"], f"run {k}: sums differ at rows " + str(
            [r for r, (a, b) in enumerate(zip(got, run["expected"])) if a != b][:8])
        measured.append(cycles)
        if "cycles" in run:
            assert cycles == run["cycles"], \
                f"run {k}: {cycles} cycles, the model says {run['cycles']}"
    with open("cycles.json", "w") as f:        # for the bench scripts (build directory)
        json.dump(measured, f)
