"""amaranth.sim driver of the engine's sparse phase (``hw.spmv.SparseMatVec``),
shared by the tests and ``bench/engine.py``."""

from __future__ import annotations

import numpy as np

from .amsim import run_testbenches

__all__ = ["run_spmv", "load_layer", "write_acts"]


async def load_layer(ctx, dut, loads, *, ptr_base: int = 0):
    """Write ``loads`` (``SparseMatVec.loads``) through ``dut``'s load port and set
    its pointer base."""
    ctx.set(dut.ld_we, 1)
    for pe, mem, addr, data in loads:
        ctx.set(dut.ld_pe, pe), ctx.set(dut.ld_mem, mem)
        ctx.set(dut.ld_addr, addr), ctx.set(dut.ld_data, data)
        await ctx.tick()
    ctx.set(dut.ld_we, 0)
    ctx.set(dut.ptr_base, ptr_base)


async def write_acts(ctx, dut, x):
    """Write the activation vector ``x`` into ``dut``'s activation memory."""
    ctx.set(dut.act_we, 1)
    for a, v in enumerate(x):
        ctx.set(dut.act_addr, a), ctx.set(dut.act_data, int(v))
        await ctx.tick()
    ctx.set(dut.act_we, 0)


def run_spmv(dut, codes, cb, xs, *, ptr_base: int = 0) -> tuple[list[int], list[np.ndarray]]:
    """Load one layer (``codes``, int8 codebook ``cb``) into ``dut`` through its load
    port, then run each activation vector of ``xs``. Returns, per run, the cycles
    from the start pulse until ``busy`` falls and every row's accumulator (read
    out, which clears it)."""
    n, rows = dut.n_pe, np.asarray(codes).shape[0]
    res = {"cycles": [], "acc": []}

    async def tb(ctx):
        await load_layer(ctx, dut, dut.loads(codes, cb, ptr_base=ptr_base), ptr_base=ptr_base)
        for x in xs:
            await write_acts(ctx, dut, x)
            ctx.set(dut.start, 1), ctx.set(dut.length, len(x))
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while ctx.get(dut.busy):
                await ctx.tick()
                cycles += 1
            res["cycles"].append(cycles)
            acc = np.zeros(rows, dtype=np.int64)
            for r in range(rows):
                ctx.set(dut.rd_en, 1), ctx.set(dut.rd_pe, r % n), ctx.set(dut.rd_addr, r // n)
                await ctx.tick()
                acc[r] = ctx.get(dut.rd_data)
            ctx.set(dut.rd_en, 0)
            res["acc"].append(acc)

    run_testbenches(dut, tb)
    return res["cycles"], res["acc"]
