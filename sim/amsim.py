"""amaranth.sim helpers (async testbenches): put and get on ``lib.stream``
interfaces with random stalls, in the style of Glasgow's and Tiliqua's tests."""

from __future__ import annotations

import random

__all__ = ["stream_put", "stream_get", "stream_send", "stream_collect", "run_testbenches",
           "stream_roundtrip"]


async def stream_put(ctx, stream, payload):
    """Offer ``payload`` on ``stream`` and wait for the transfer."""
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    """Wait for a payload on ``stream`` and take it."""
    ctx.set(stream.ready, 1)
    (payload,) = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


async def stream_send(ctx, stream, items, rng: random.Random | None = None, idle: float = 0.0):
    """Send ``items`` in order, idling at random between them."""
    for item in items:
        while rng is not None and rng.random() < idle:
            await ctx.tick()
        await stream_put(ctx, stream, item)


async def stream_collect(ctx, stream, n: int, rng: random.Random | None = None,
                         stall: float = 0.0) -> list:
    """Take ``n`` payloads, stalling at random between them."""
    out = []
    while len(out) < n:
        while rng is not None and rng.random() < stall:
            await ctx.tick()
        out.append(await stream_get(ctx, stream))
    return out


async def pulse_and_wait(ctx, pulse, busy, *, max_cycles: int, what: str = "the run") -> int:
    """Pulse ``pulse`` for one cycle, then tick while ``busy`` is high; returns
    the cycles ``busy`` stayed high after the pulse (more than ``max_cycles``
    fails: ``what`` never ends)."""
    ctx.set(pulse, 1)
    await ctx.tick()
    ctx.set(pulse, 0)
    cycles = 0
    while ctx.get(busy):
        await ctx.tick()
        cycles += 1
        assert cycles <= max_cycles, f"{what} never ends"
    return cycles


def run_testbenches(dut, *testbenches):
    """Simulate ``dut`` with a 1 MHz clock until every testbench has returned."""
    from amaranth.sim import Simulator  # noqa: PLC0415

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run()


def stream_roundtrip(dut, items, n: int, seed: int = 0, idle: float = 0.3,
                     stall: float = 0.3) -> list:
    """Send ``items`` into ``dut.i`` and take ``n`` payloads from ``dut.o``, both
    sides stalling at random; returns the payloads (as sampled values)."""
    rng = random.Random(seed)
    got = []

    async def producer(ctx):
        await stream_send(ctx, dut.i, items, rng, idle)

    async def consumer(ctx):
        got.extend(await stream_collect(ctx, dut.o, n, rng, stall))

    run_testbenches(dut, producer, consumer)
    return got


def first_result_latency(dut, payload) -> tuple[int, object]:
    """Offer one ``payload`` on ``dut.i`` with ``dut.o`` ready; the cycles from
    that transfer to the first valid ``dut.o``, and the payload seen there."""
    out = {}

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.payload, payload)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        n = 1
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            n += 1
        out["latency"], out["payload"] = n, ctx.get(dut.o.payload)

    run_testbenches(dut, tb)
    return out["latency"], out["payload"]
