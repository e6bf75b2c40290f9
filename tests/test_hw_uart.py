"""hw.uart: 8N1 transmitter and receiver in amaranth.sim against a bit-level model
of the line: every byte, its timing, framing errors, overruns and glitches."""

import random

import pytest

from hw.uart import UARTRx, UARTTx
from sim.amsim import run_testbenches

DIV = 6


def frame(byte: int, stop: int = 1) -> list[int]:
    """The line levels of one 8N1 frame, one per bit."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


def test_the_transmitter_sends_8n1_frames_with_exact_bit_times():
    dut, rng = UARTTx(divisor=DIV), random.Random(1)
    data = [0x00, 0xFF, 0x55, 0xA5] + [rng.randrange(256) for _ in range(20)]
    line = []

    async def send(ctx):
        for b in data:
            for _ in range(rng.choice([0, 0, 3, 40])):
                await ctx.tick()
            ctx.set(dut.i.valid, 1), ctx.set(dut.i.payload, b)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def watch(ctx):
        while len(line) < 14 * DIV * len(data) + 2000:
            line.append(ctx.get(dut.tx))
            await ctx.tick()

    run_testbenches(dut, send, watch)
    got, t = [], 0
    while t < len(line):
        if line[t] == 1:
            t += 1
            continue
        levels = line[t:t + 10 * DIV]
        bits = [levels[k * DIV:(k + 1) * DIV] for k in range(10)]
        assert all(len(set(b)) == 1 for b in bits), f"a bit at cycle {t} is not {DIV} cycles"
        bits = [b[0] for b in bits]
        assert bits[0] == 0 and bits[9] == 1
        got.append(sum(v << i for i, v in enumerate(bits[1:9])))
        t += 10 * DIV
    assert got == data


async def drive(ctx, dut, levels, div):
    """Drive ``rx`` one level per bit time."""
    for v in levels:
        ctx.set(dut.rx, v)
        await ctx.tick().repeat(div)


@pytest.mark.parametrize("div", [4, 5, 16])
def test_the_receiver_takes_every_byte_and_drops_bad_frames(div):
    rng = random.Random(div)
    dut = UARTRx(divisor=div)
    data = [0x00, 0xFF, 0x80, 0x01] + [rng.randrange(256) for _ in range(30)]
    levels = [1] * 3
    want = []
    for k, b in enumerate(data):
        levels += frame(b, stop=0 if k == 7 else 1) + [1] * rng.choice([0, 0, 1, 5])
        if k == 7:
            levels += [1] * 2                      # the line recovers from the break
        else:
            want.append(b)
    levels += [1] * 4
    got, errors = [], []

    async def line(ctx):
        await drive(ctx, dut, levels, div)

    async def take(ctx):
        while True:
            ctx.set(dut.o.ready, int(rng.random() > 0.3))
            await ctx.delay(0)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                got.append(ctx.get(dut.o.payload))
            if ctx.get(dut.framing_error):
                errors.append("framing")
            if ctx.get(dut.overrun):
                errors.append("overrun")
            await ctx.tick()
            if len(got) == len(want) and not ctx.get(dut.o.valid):
                break

    run_testbenches(dut, line, take)
    assert got == want
    assert errors == ["framing"]


def test_an_untaken_byte_is_kept_and_the_next_one_is_an_overrun():
    dut = UARTRx(divisor=DIV)
    seen = []

    async def tb(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3)
        for b in (0x12, 0x34):
            for v in frame(b):
                ctx.set(dut.rx, v)
                for _ in range(DIV):
                    await ctx.tick()
                    if ctx.get(dut.overrun):
                        seen.append("overrun")
        await ctx.tick().repeat(2 * DIV)
        seen.append(ctx.get(dut.o.payload) if ctx.get(dut.o.valid) else None)

    run_testbenches(dut, tb)
    assert seen == ["overrun", 0x12]


def test_a_glitch_is_not_a_start_bit():
    dut = UARTRx(divisor=DIV)
    seen = []

    async def tb(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3)
        ctx.set(dut.rx, 0)
        await ctx.tick()
        ctx.set(dut.rx, 1)
        for _ in range(20 * DIV):
            await ctx.tick()
            seen.append(ctx.get(dut.o.valid) or ctx.get(dut.framing_error))

    run_testbenches(dut, tb)
    assert not any(seen)


def test_divisor_is_checked():
    with pytest.raises(TypeError, match="divisor"):
        UARTRx(divisor=3)
    with pytest.raises(TypeError, match="divisor"):
        UARTTx(divisor=2.5)
