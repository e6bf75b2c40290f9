"""amaranth.sim driver of the engine's sparse phase (``hw.spmv.SparseMatVec``),
shared by the tests and ``bench/engine.py``."""

from __future__ import annotations

import numpy as np

from .amsim import run_testbenches

__all__ = ["run_spmv", "load_layer", "write_acts", "random_fc_model", "host_run"]


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


def random_fc_model(rng: np.random.Generator, sizes: list[int], densities: list[float], *,
                    code_bits: int = 4, scale: float = 0.05):
    """A ``ZModel`` of shared fully connected layers ``sizes[0] -> sizes[1] -> ...``
    with random codes at the given densities (ReLU on all but the last), for
    the engine's tests and bench."""
    from golden.zcm import ZLayer, ZModel  # noqa: PLC0415

    layers = []
    for i, (inp, out, dens) in enumerate(zip(sizes, sizes[1:], densities)):
        k = 1 << code_bits
        codes = rng.integers(1, k, (out, inp)) * (rng.random((out, inp)) < dens)
        cb = np.concatenate([[0.0], rng.normal(0, 0.3, k - 1)]).astype(np.float32)
        layers.append(ZLayer(kind="fc", act="relu" if i < len(sizes) - 2 else "none", out=out,
                             inp=inp, storage="shared", code_bits=code_bits, gap_bits=4,
                             codebook=cb, codes=codes,
                             bias=rng.normal(0, 0.1, out).astype(np.float32), act_scale=scale))
    return ZModel(layers, (sizes[0], 1, 1), classes=sizes[-1], input_scale=scale)


def host_run(dut, image: bytes, xs, *, stall: float = 0.0, seed: int = 0
             ) -> tuple[np.ndarray, list[dict]]:
    """Through ``dut`` (a ``hw.hostlink.HostLink``) in amaranth.sim: load ``image``
    and run each int8 input of ``xs`` with the host protocol, ``stall`` being
    the chance of an idle cycle on either byte stream. Returns the outputs
    ``(len(xs), classes)`` and each run's counters."""
    from golden.hwmodel.protocol import EngineClient  # noqa: PLC0415

    from .host import AmaranthLink  # noqa: PLC0415

    res = {"y": [], "c": []}

    async def tb(ctx):
        client = EngineClient(AmaranthLink(ctx, dut, stall=stall, seed=seed))
        await client.load(image)
        for x in xs:
            y, c = await client.infer(x)
            res["y"].append(y)
            res["c"].append(c)

    run_testbenches(dut, tb)
    return np.array(res["y"]), res["c"]
