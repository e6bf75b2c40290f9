"""RelativeIndexDecoder, BitmaskDecoder and CodebookLookup in amaranth.sim against
the golden formats, with random stalls on every stream."""

import random

import numpy as np
import pytest

from golden.sparse import bitmask_encode, relindex_encode_1d
from hw.bitmask import BitmaskDecoder
from hw.codebook import CodebookLookup
from hw.relindex import RelativeIndexDecoder
from sim.amsim import run_testbenches, stream_collect, stream_send


def sparse_vector(rng, n, density, vbits):
    v = rng.integers(1, 1 << vbits, n) * (rng.random(n) < density)
    return v


def relindex_expected(v):
    nz = np.flatnonzero(v)
    return [(int(i), int(v[i])) for i in nz]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_relindex(seed, density):
    rng = np.random.default_rng(seed)
    gb, vb = 3, 4
    vecs = [sparse_vector(rng, int(rng.integers(1, 200)), density, vb) for _ in range(2)]
    dut = RelativeIndexDecoder(gap_bits=gb, value_bits=vb, index_bits=12)
    got = []
    r = random.Random(seed)

    async def producer(ctx):
        for k, v in enumerate(vecs):
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            gaps, vals = relindex_encode_1d(v, gb)
            await stream_send(ctx, dut.i, [{"gap": int(g), "value": int(x)}
                                           for g, x in zip(gaps, vals)], r, 0.3)
            # wait until everything of this vector is out before clearing
            while len(got) < sum(len(relindex_expected(u)) for u in vecs[:k + 1]):
                await ctx.tick()

    async def consumer(ctx):
        n = sum(len(relindex_expected(v)) for v in vecs)
        while len(got) < n:
            (p,) = await stream_collect(ctx, dut.o, 1, r, 0.3)
            got.append((p.index, p.value))

    run_testbenches(dut, producer, consumer)
    assert got == [e for v in vecs for e in relindex_expected(v)]


def test_relindex_one_entry_per_cycle():
    v = np.arange(40) % 7 + 1          # all non-zero: every entry has gap 0
    gaps, vals = relindex_encode_1d(v, 2)
    dut = RelativeIndexDecoder(gap_bits=2, value_bits=3, index_bits=8)
    stamps = []

    async def producer(ctx):
        await stream_send(ctx, dut.i, [{"gap": int(g), "value": int(x)}
                                       for g, x in zip(gaps, vals)])

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        c = 0
        while len(stamps) < np.count_nonzero(v):
            await ctx.tick()
            c += 1
            if ctx.get(dut.o.valid):
                stamps.append(c)

    run_testbenches(dut, producer, consumer)
    assert len(stamps) == len(gaps) == 40
    assert stamps[-1] - stamps[0] + 1 == 40      # one entry per cycle


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("width", [8, 16])
@pytest.mark.parametrize("density", [0.0, 0.1, 0.6, 1.0])
def test_bitmask(seed, width, density):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 150))
    v = sparse_vector(rng, n, density, 6)
    mask_bytes, vals = bitmask_encode(v)
    bits = np.unpackbits(mask_bytes)
    bits = np.concatenate([bits, np.zeros((-len(bits)) % width, dtype=np.uint8)])
    words = [int("".join(map(str, bits[k:k + width])), 2) for k in range(0, len(bits), width)]
    dut = BitmaskDecoder(word_width=width, value_bits=6, index_bits=12)
    r = random.Random(seed)
    got = []

    async def masks(ctx):
        await stream_send(ctx, dut.mask, words, r, 0.3)

    async def values(ctx):
        await stream_send(ctx, dut.values, [int(x) for x in vals], r, 0.3)

    async def consumer(ctx):
        for p in await stream_collect(ctx, dut.o, len(vals), r, 0.3):
            got.append((p.index, p.value))
        for _ in range(10):
            await ctx.tick()
            assert not ctx.get(dut.o.valid)

    run_testbenches(dut, masks, values, consumer)
    assert got == relindex_expected(v)


@pytest.mark.parametrize("weight_bits", [8, 16])
@pytest.mark.parametrize("code_bits", [1, 4, 8])
def test_codebook(weight_bits, code_bits):
    rng = np.random.default_rng(code_bits + weight_bits)
    k = 1 << code_bits
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    table = rng.integers(lo, hi + 1, k)
    table[:2] = [lo, hi][:k]                      # extremes
    codes = rng.integers(0, k, 300)
    dut = CodebookLookup(code_bits=code_bits, weight_bits=weight_bits, index_bits=10)
    r = random.Random(5)
    got = []

    async def producer(ctx):
        for a, w in enumerate(table):
            ctx.set(dut.we, 1)
            ctx.set(dut.waddr, a)
            ctx.set(dut.wdata, int(w))
            await ctx.tick()
        ctx.set(dut.we, 0)
        await stream_send(ctx, dut.i, [{"index": i, "value": int(c)}
                                       for i, c in enumerate(codes)], r, 0.3)

    async def consumer(ctx):
        for p in await stream_collect(ctx, dut.o, len(codes), r, 0.4):
            got.append((p.index, p.weight))

    run_testbenches(dut, producer, consumer)
    assert got == [(i, int(table[c])) for i, c in enumerate(codes)]


def test_parameters_checked():
    with pytest.raises(TypeError):
        CodebookLookup(weight_bits=12)
    with pytest.raises(TypeError):
        BitmaskDecoder(word_width=0)
    with pytest.raises(TypeError):
        RelativeIndexDecoder(gap_bits=0)
