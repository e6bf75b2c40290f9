"""cocotb helpers shared by every testbench: parameters, clock and reset, and
stream drivers with random stalls plus a protocol-checking monitor.

Create the stream endpoints before ``start_clock_and_reset``: their
constructors drive ``valid``/``ready`` low, and an input left floating is
'z' on Icarus, which registers then capture.

Timing discipline (works the same on Verilator and Icarus): every driver
changes its signals just after the falling clock edge, then waits for
``ReadOnly`` and samples; a transfer is ``valid & ready`` seen there, and it
takes effect at the next rising edge.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

__all__ = ["params", "start_clock_and_reset", "StreamSource", "StreamSink", "write_rate"]


def write_rate(sink, path: str = "rate.json"):
    """Items per cycle between the first and the last item taken, into ``path``
    (in the build directory), for the bench scripts."""
    first, last = sink.cycles[0], sink.cycles[-1]
    with open(path, "w") as f:
        json.dump({"items": len(sink.items), "cycles": last - first + 1,
                   "per_cycle": len(sink.items) / (last - first + 1)}, f)


def params() -> dict:
    """The ``params`` dict passed to ``sim.harness.run_cocotb``."""
    path = os.environ.get("ZIPCORE_PARAMS_FILE")
    if not path:
        return {}
    with open(path) as f:
        return json.load(f)


async def start_clock_and_reset(dut, cycles: int = 3, period_ns: int = 10):
    """Start ``dut.clk`` and hold ``dut.rst`` for ``cycles`` cycles."""
    Clock(dut.clk, period_ns, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


class _StreamPort:
    """The ``valid``/``payload``/``ready`` handles of a stream port ``<prefix>``."""

    def __init__(self, dut, prefix: str, rng: random.Random):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.rng = rng


class StreamSource(_StreamPort):
    """Drives ``<prefix>__valid``/``__payload`` from a list, idling at random.

    ``idle`` is the probability of a cycle with ``valid`` low between items
    (the stream rules allow it; once valid is high it stays high and the
    payload holds until the transfer).
    """

    def __init__(self, dut, prefix: str, rng: random.Random, idle: float = 0.0):
        super().__init__(dut, prefix, rng)
        self.idle = idle
        self.sent = 0
        self.valid.value = 0
        self.payload.value = 0

    async def send(self, items):
        """Send every item in order; returns after the last transfer."""
        await FallingEdge(self.clk)
        for item in items:
            while self.rng.random() < self.idle:
                self.valid.value = 0
                await FallingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(item)
            while True:
                await ReadOnly()
                done = bool(self.ready.value)
                await FallingEdge(self.clk)
                if done:
                    break
            self.sent += 1
        self.valid.value = 0


class StreamSink(_StreamPort):
    """Takes ``<prefix>__payload`` while raising ``ready`` at random and checks the
    stream rules: once ``valid`` is high it stays high, with the same payload,
    until ``ready``. Collected payloads are in ``items`` (unsigned ints)."""

    def __init__(self, dut, prefix: str, rng: random.Random, stall: float = 0.0):
        super().__init__(dut, prefix, rng)
        self.stall = stall
        self.items: list[int] = []
        self.cycles: list[int] = []          # the cycle each item was taken in
        self.violations: list[str] = []
        self.ready.value = 0
        self._task = None

    def start(self):
        self._task = cocotb.start_soon(self._run())
        return self

    async def _run(self):
        pending = None  # payload seen valid but not taken last cycle
        cycle = 0
        while True:
            await FallingEdge(self.clk)
            cycle += 1
            self.ready.value = 0 if self.rng.random() < self.stall else 1
            await ReadOnly()
            valid = bool(self.valid.value)
            if pending is not None:
                if not valid:
                    self.violations.append(f"cycle {cycle}: valid dropped before ready")
                elif self.payload.value.to_unsigned() != pending:
                    self.violations.append(f"cycle {cycle}: payload changed while stalled")
            if valid:
                p = self.payload.value.to_unsigned()
                if self.ready.value:
                    self.items.append(p)
                    self.cycles.append(cycle)
                    pending = None
                else:
                    pending = p
            else:
                pending = None

    async def wait_for(self, n: int, timeout_cycles: int):
        """Wait until ``n`` items arrived; fail after ``timeout_cycles``."""
        for _ in range(timeout_cycles):
            if len(self.items) >= n:
                return
            await FallingEdge(self.clk)
        raise AssertionError(
            f"timeout: {len(self.items)} of {n} items after {timeout_cycles} cycles")
