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


class CocotbUartLink:
    """``send``/``recv`` over the ``rx``/``tx`` pins of a cocotb ``dut`` (an 8N1
    UART, ``divisor`` clock cycles per bit): the simulated serial line of a
    board. A background task decodes every frame on ``tx`` into a queue from
    the start, so no response is missed; a frame with a low stop bit is a
    ``LinkError`` (garbage on the line)."""

    def __init__(self, dut, *, divisor: int, timeout: int = 1_000_000):
        import cocotb  # noqa: PLC0415
        from cocotb.queue import Queue  # noqa: PLC0415

        self.dut, self.div, self.timeout = dut, divisor, timeout
        dut.rx.value = 1
        self.rxq = Queue()
        self._task = cocotb.start_soon(self._listen())

    async def _listen(self):
        from cocotb.triggers import ClockCycles, FallingEdge  # noqa: PLC0415

        d, div = self.dut, self.div
        while True:
            await FallingEdge(d.tx)
            await ClockCycles(d.clk, div // 2)
            if d.tx.value != 0:
                continue                                  # a glitch
            byte = 0
            for i in range(8):
                await ClockCycles(d.clk, div)
                byte |= int(d.tx.value) << i
            await ClockCycles(d.clk, div)
            self.rxq.put_nowait(byte if d.tx.value == 1 else None)

    async def send(self, data: bytes):
        from cocotb.triggers import ClockCycles, FallingEdge  # noqa: PLC0415

        d, div = self.dut, self.div
        await FallingEdge(d.clk)
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                d.rx.value = bit
                await ClockCycles(d.clk, div, rising=False)

    async def recv(self, n: int) -> bytes:
        from cocotb.triggers import SimTimeoutError, with_timeout  # noqa: PLC0415

        out = bytearray()
        period_ns = 10
        for _ in range(n):
            try:
                b = await with_timeout(self.rxq.get(), self.timeout * period_ns, "ns")
            except SimTimeoutError:
                raise LinkError(f"no answer on the UART for {self.timeout} cycles") from None
            if b is None:
                raise LinkError("garbage on the UART (a frame without its stop bit)")
            out.append(b)
        return bytes(out)
