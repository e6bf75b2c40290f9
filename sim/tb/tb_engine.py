"""Engine testbench: the host protocol over the HostLink's byte streams (or, with
``uart``, over the rx/tx pins of a UartEngine: a board's serial line). Loads a
memory image, runs every input and writes the outputs and counters to a file
for the caller (``sim.engine.simulate_model``) to compare with the golden
model; any error status or link failure fails the test."""

import json
import os

import cocotb
import numpy as np

from golden.hwmodel.protocol import EngineClient, EngineError
from sim.cocotb_util import params, start_clock_and_reset
from sim.host import CocotbLink, CocotbUartLink


def link(dut, p: dict, timeout: int):
    """The byte link the parameters ask for: the board's serial line (``uart``:
    cycles per bit) or the HostLink's byte streams (random ``stall``)."""
    if p.get("uart"):
        return CocotbUartLink(dut, divisor=p["uart"], timeout=timeout)
    return CocotbLink(dut, stall=p.get("stall", 0.0), seed=p.get("seed", 1), timeout=timeout)


@cocotb.test()
async def run_model(dut):
    p = params()
    client = EngineClient(link(dut, p, p.get("timeout", 1_000_000)))
    await start_clock_and_reset(dut)
    info = await client.info()
    with open(p["image"], "rb") as f:
        await client.load(f.read())
    xs = np.load(p["inputs"])
    outputs, counters = [], []
    for x in xs:
        y, c = await client.infer(x)
        outputs.append(y.tolist())
        counters.append(c)
    tmp = p["result"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"info": info.__dict__, "outputs": outputs, "counters": counters}, f)
    os.replace(tmp, p["result"])


@cocotb.test()
async def bad_images_end_in_their_status(dut):
    """Each image of ``bad`` ends in its status, the engine holds no model after
    it, and a good image loads again: no hang, no desynchronised stream."""
    p = params()
    client = EngineClient(link(dut, p, 200_000))
    await start_clock_and_reset(dut)
    with open(p["image"], "rb") as f:
        good = f.read()
    for path, want in p["bad"]:
        with open(path, "rb") as f:
            image = f.read()
        try:
            await client.load(image)
            got = "OK"
        except EngineError as e:
            got = e.name
        assert got == want, f"{path}: {got}, not {want}"
        err, flags = await client.status()
        assert flags & 1 == 0, f"{path}: a model is still loaded"
    await client.load(good)
    err, flags = await client.status()
    assert flags & 1 == 1


@cocotb.test()
async def stream_errors_end_in_their_status(dut):
    """Each image of ``bad`` (``(path, load status, run status)``) loads with its
    load status; one that loads then runs ``input`` to its run status (a
    corrupt stream: ``BAD_STREAM``, no output). After each, the good image
    loads and runs ``input`` to ``expect``: no hang, no state left over."""
    p = params()
    client = EngineClient(link(dut, p, 400_000))
    await start_clock_and_reset(dut)
    with open(p["image"], "rb") as f:
        good = f.read()
    x = np.array(p["input"])
    for path, want_load, want_run in p["bad"]:
        with open(path, "rb") as f:
            image = f.read()
        got = "OK"
        try:
            await client.load(image)
        except EngineError as e:
            got = e.name
        assert got == want_load, f"{path}: load {got}, not {want_load}"
        if got == "OK":
            await client.write_input(x)
            try:
                await client.run()
                got = "OK"
            except EngineError as e:
                got = e.name
            assert got == want_run, f"{path}: run {got}, not {want_run}"
            err, flags = await client.status()
            assert flags & 4 == (4 if want_run == "OK" else 0), f"{path}: output flag {flags}"
        await client.load(good)
        y, _ = await client.infer(x)
        assert y.tolist() == p["expect"], f"after {path}: {y.tolist()}, not {p['expect']}"
