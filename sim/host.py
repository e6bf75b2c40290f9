"""Links that carry the host protocol (``golden.hwmodel.protocol``) to the RTL in
simulation: ``AmaranthLink`` inside an amaranth.sim testbench and
``CocotbLink`` inside a cocotb test. Both drive the ``i``/``o`` byte streams
of a ``hw.hostlink.HostLink`` (or a top with the same ports), so the host
code that drives a board drives the simulation unchanged."""

from __future__ import annotations

import random

from golden.hwmodel.protocol import LinkError

__all__ = ["AmaranthLink", "CocotbLink"]


class AmaranthLink:
    """``send``/``recv`` over ``dut.i``/``dut.o`` from an amaranth.sim testbench
    context. ``stall`` is the probability of a cycle with ``valid`` (sending) or
    ``ready`` (receiving) low; ``timeout`` the cycles a byte may take."""

    def __init__(self, ctx, dut, *, stall: float = 0.0, seed: int = 0,
                 timeout: int = 1_000_000):
        self.ctx, self.dut, self.timeout = ctx, dut, timeout
        self.stall, self.rng = stall, random.Random(seed)

    async def send(self, data: bytes):
        ctx, i = self.ctx, self.dut.i
        for byte in data:
            while self.stall and self.rng.random() < self.stall:
                ctx.set(i.valid, 0)
                await ctx.tick()
            ctx.set(i.valid, 1), ctx.set(i.payload, byte)
            for _ in range(self.timeout):
                await ctx.delay(0)
                ready = ctx.get(i.ready)
                await ctx.tick()
                if ready:
                    break
            else:
                raise LinkError(f"the engine took no byte for {self.timeout} cycles")
        ctx.set(i.valid, 0)

    async def recv(self, n: int) -> bytes:
        ctx, o = self.ctx, self.dut.o
        out = bytearray()
        waited = 0
        while len(out) < n:
            ready = not (self.stall and self.rng.random() < self.stall)
            ctx.set(o.ready, int(ready))
            await ctx.delay(0)
            if ready and ctx.get(o.valid):
                out.append(ctx.get(o.payload))
                waited = 0
            else:
                waited += 1
                if waited > self.timeout:
                    raise LinkError(f"no answer from the engine for {self.timeout} cycles")
            await ctx.tick()
        ctx.set(o.ready, 0)
        return bytes(out)


class CocotbLink:
    """``send``/``recv`` over the ``i__*``/``o__*`` ports of a cocotb ``dut``. Drives
    just after the falling edge and samples at ``ReadOnly``
    (``sim.cocotb_util``'s discipline), with ``stall`` as ``AmaranthLink``'s."""

    def __init__(self, dut, *, stall: float = 0.0, seed: int = 0, timeout: int = 1_000_000):
        self.dut, self.timeout = dut, timeout
        self.stall, self.rng = stall, random.Random(seed)
        dut.i__valid.value = 0
        dut.i__payload.value = 0
        dut.o__ready.value = 0

    async def send(self, data: bytes):
        from cocotb.triggers import FallingEdge, ReadOnly  # noqa: PLC0415

        d = self.dut
        await FallingEdge(d.clk)
        for byte in data:
            while self.stall and self.rng.random() < self.stall:
                d.i__valid.value = 0
                await FallingEdge(d.clk)
            d.i__valid.value, d.i__payload.value = 1, byte
            for _ in range(self.timeout):
                await ReadOnly()
                ready = d.i__ready.value == 1
                await FallingEdge(d.clk)
                if ready:
                    break
            else:
                raise LinkError(f"the engine took no byte for {self.timeout} cycles")
        d.i__valid.value = 0

    async def recv(self, n: int) -> bytes:
        from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge  # noqa: PLC0415

        d = self.dut
        out = bytearray()
        await FallingEdge(d.clk)
        waited = 0
        while len(out) < n:
            ready = not (self.stall and self.rng.random() < self.stall)
            d.o__ready.value = int(ready)
            await ReadOnly()
            if ready and d.o__valid.value == 1:
                out.append(int(d.o__payload.value))
                waited = 0
                await FallingEdge(d.clk)
            elif ready and not self.stall:
                # Nothing to take: sleep until the engine offers a byte, not cycle by cycle.
                await RisingEdge(d.o__valid) if d.o__valid.value == 0 else None
                await FallingEdge(d.clk)
                waited += 1
            else:
                waited += 1
                await FallingEdge(d.clk)
            if waited > self.timeout:
                raise LinkError(f"no answer from the engine for {self.timeout} cycles")
        d.o__ready.value = 0
        return bytes(out)
