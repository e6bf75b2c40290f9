"""amaranth.sim driver of the engine's sparse phase (``hw.spmv.SparseMatVec``),
shared by the tests and ``bench/engine.py``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from .amsim import pulse_and_wait, run_testbenches
from .harness import run_cocotb

__all__ = ["run_spmv", "run_once", "load_layer", "write_acts", "random_fc_model", "host_run",
           "simulate_model", "check_bad_images"]


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


async def run_once(ctx, dut, x, *, max_cycles: int = 1 << 20) -> int:
    """Write ``x`` into ``dut``'s (a ``SparseMatVec``) activation memory and run one
    product; returns the cycles from the start pulse until ``busy`` falls (a
    run longer than ``max_cycles`` fails: it hangs)."""
    await write_acts(ctx, dut, x)
    ctx.set(dut.length, len(x))
    return 1 + await pulse_and_wait(ctx, dut.start, dut.busy, max_cycles=max_cycles - 1)


def run_spmv(dut, codes, cb, xs, *, ptr_base: int = 0, binary: bool = False,
             gap_bits: int = 4, code_bits: int | None = None, word_base: int = 0
             ) -> tuple[list[int], list[np.ndarray]]:
    """Load one layer (``codes``, int8 codebook ``cb``; with ``binary``, ``codes``
    are +1/-1 signs for the XNOR path and ``cb`` is unused; in the stream form
    coded with ``gap_bits`` and ``code_bits``, its streams from ``word_base``)
    into ``dut`` through its load port, then run each activation vector of
    ``xs``. Returns, per run, the cycles from the start pulse until ``busy``
    falls and every row's accumulator (read out, which clears it)."""
    n, rows = dut.n_pe, np.asarray(codes).shape[0]
    res = {"cycles": [], "acc": []}
    table = None
    if dut.form == "stream":
        loads, table = dut.stream_loads(
            codes, cb, gap_bits=gap_bits, ptr_base=ptr_base, word_base=word_base,
            code_bits=dut.pe.code_bits if code_bits is None else code_bits)
    elif binary:
        loads = dut.binary_loads(codes, ptr_base=ptr_base)
    else:
        loads = dut.loads(codes, cb, ptr_base=ptr_base)

    async def tb(ctx):
        await load_layer(ctx, dut, loads, ptr_base=ptr_base)
        if table is not None:
            ctx.set(dut.limit, table[0])
            ctx.set(dut.offset, table[1])
        if dut.xnor:
            ctx.set(dut.binary, binary)
        for x in xs:
            res["cycles"].append(await run_once(ctx, dut, x))
            acc = np.zeros(rows, dtype=np.int64)
            for r in range(rows):
                ctx.set(dut.rd_pe, r % n), ctx.set(dut.rd_addr, r // n)
                ctx.set(dut.clr_en, 1), ctx.set(dut.clr_pe, r % n), ctx.set(dut.clr_addr, r // n)
                await ctx.tick()
                ctx.set(dut.clr_en, 0)
                if dut.pe.pipelined:            # the read-out is registered once more
                    await ctx.tick()
                acc[r] = ctx.get(dut.rd_data)
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


def _engine_top(zm, *, n_pe: int, queue_depth: int = 8, entry_ram: str | None = None,
                uart_divisor: int | None = None, pipelined: bool = False,
                xnor: bool | None = None, form: str = "expanded"):
    """``zm``'s memory image of ``form`` and the engine top sized for it:
    ``HostLink``, or the board's ``UartEngine`` with ``uart_divisor``."""
    from golden.hwmodel.image import memory_image  # noqa: PLC0415
    from hw.engine import engine_params  # noqa: PLC0415
    from hw.hostlink import HostLink  # noqa: PLC0415
    from hw.uartengine import UartEngine  # noqa: PLC0415

    params = engine_params(zm, n_pe=n_pe, queue_depth=queue_depth, entry_ram=entry_ram,
                           pipelined=pipelined, xnor=xnor, form=form)
    if form == "stream":
        image = memory_image(zm, n_pe, code_field=params["pe"]["code_bits"],
                             binary_as_entries=True, form="stream",
                             sym_bits=params["pe"]["sym_bits"])
    else:
        image = memory_image(zm, n_pe, code_field=params["pe"]["code_bits"],
                             binary_as_entries=not params["pe"]["xnor"])
    top = UartEngine(divisor=uart_divisor, **params) if uart_divisor else HostLink(**params)
    return image, top


def simulate_model(zm, xq, *, sim: str = "verilator", n_pe: int = 4, queue_depth: int = 8,
                   stall: float = 0.0, waves: bool = False, build_root=None,
                   case: str | None = None, entry_ram: str | None = None,
                   uart_divisor: int | None = None, pipelined: bool = False,
                   xnor: bool | None = None, form: str = "expanded") -> dict:
    """Run ``zm`` on the engine RTL (``hw.hostlink.HostLink`` sized by
    ``hw.engine.engine_params``) in ``sim`` through the host protocol: load its
    memory image, then each int8 input row of ``xq``. Returns ``outputs``
    ``(len(xq), classes)``, per-input ``counters``, the engine ``info``, the
    ``build_dir`` and the ``waves`` file (or None). ``entry_ram="spram"`` builds
    the iCE40 configuration (entries in SPRAM, simulated with Yosys's model).
    ``uart_divisor`` runs the board's UART top (``hw.uartengine.UartEngine``)
    instead, the host bytes going over its simulated serial line. ``pipelined``
    builds ``SparsePE``'s pipelined form (the ECP5 boards'); ``xnor`` the XNOR
    path for binary layers (``hw.engine.engine_params``: by default when the
    model has them); ``form`` the memory image form the engine loads and runs."""
    image, top = _engine_top(zm, n_pe=n_pe, queue_depth=queue_depth, entry_ram=entry_ram,
                             uart_divisor=uart_divisor, pipelined=pipelined, xnor=xnor,
                             form=form)
    with tempfile.TemporaryDirectory(prefix="zipcore-sim-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.zimg").write_bytes(image)
        np.save(tmp / "inputs.npy", np.asarray(xq, dtype=np.int64))
        res = run_cocotb(top, "engine", "sim.tb.tb_engine", sim=sim,
                         case=case or f"n{n_pe}_q{queue_depth}"
                         + ("_stream" if form == "stream" else ""), waves=waves,
                         testcase="run_model",
                         build_root=build_root,
                         cells=(("ice40", "SB_SPRAM256KA"),) if entry_ram == "spram" else (),
                         params={"image": str(tmp / "model.zimg"),
                                 "inputs": str(tmp / "inputs.npy"),
                                 "result": str(tmp / "result.json"), "stall": stall,
                                 "uart": uart_divisor})
        out = json.loads((tmp / "result.json").read_text())
    return {"outputs": np.array(out["outputs"], dtype=np.int64), "counters": out["counters"],
            "info": out["info"], "build_dir": res.build_dir, "waves": res.waves}


def check_bad_images(zm, bad: list[tuple[bytes, str]], *, sim: str = "verilator",
                     n_pe: int = 4, uart_divisor: int | None = None,
                     case: str = "bad") -> int:
    """Load each image of ``bad`` (``(bytes, expected status name)``) into the engine
    RTL sized for ``zm`` (``HostLink``, or ``UartEngine`` over its serial line), then
    ``zm``'s own image; the cocotb test fails on any other status, on a model left
    loaded after a refusal, or on a hang. Returns the number of cases."""
    image, top = _engine_top(zm, n_pe=n_pe, uart_divisor=uart_divisor)
    with tempfile.TemporaryDirectory(prefix="zipcore-bad-") as tmp:
        tmp = Path(tmp)
        (tmp / "good.zimg").write_bytes(image)
        cases = []
        for k, (bad_image, name) in enumerate(bad):
            (tmp / f"bad{k}.zimg").write_bytes(bad_image)
            cases.append((str(tmp / f"bad{k}.zimg"), name))
        run_cocotb(top, "engine", "sim.tb.tb_engine", sim=sim, case=case,
                   testcase="bad_images_end_in_their_status",
                   params={"image": str(tmp / "good.zimg"), "bad": cases,
                           "uart": uart_divisor})
    return len(cases)
