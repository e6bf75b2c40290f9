"""StreamPE (amaranth.sim): every accumulator against NumPy, random input
timing, 16-bit codes, empty and full columns, and each malformed-stream class
ending in its error without a hang."""

import random

import numpy as np
import pytest

from golden.hwmodel.stream import decoder_table, encode_layer
from hw.huffman import HuffmanError
from hw.streampe import StreamPE
from sim.amsim import run_testbenches
from tests.test_golden_stream import fibonacci_column


def pe_image(codes, *, gap_bits, code_bits, max_code_len=16, sym_bits=8):
    """One PE's memories for ``codes`` (its rows, all columns): stream words,
    the decoder table (limits, offsets, table entries) and segment offsets."""
    sl = encode_layer(codes, 1, gap_bits=gap_bits, code_bits=code_bits,
                      max_code_len=max_code_len)
    limit, offset, symbols = decoder_table(sl.lengths, sym_bits)
    mask = (1 << code_bits) - 1
    table = [{"code": s & mask, "gap": s >> code_bits} for s in symbols]
    seg = sl.seg_bits[0]
    offs = np.concatenate([[0], np.cumsum(seg)])[:-1]
    return sl.streams[0], limit, offset, table, offs, seg


async def load(ctx, pe, words, limit, offset, table, cb, extent):
    for port, values in (("ent", words), ("sym", table), ("cb", [int(v) for v in cb])):
        ctx.set(getattr(pe, f"{port}_we"), 1)
        for a, v in enumerate(values):
            ctx.set(getattr(pe, f"{port}_addr"), a)
            ctx.set(getattr(pe, f"{port}_data"), v)
            await ctx.tick()
        ctx.set(getattr(pe, f"{port}_we"), 0)
    ctx.set(pe.limit, limit)
    ctx.set(pe.offset, offset)
    ctx.set(pe.extent, extent)


async def feed(ctx, pe, items, rng, idle):
    for x, off, ln in items:
        while rng.random() < idle:
            await ctx.tick()
        ctx.set(pe.i.valid, 1)
        ctx.set(pe.i.payload, {"shared": {"value": x}, "private": {"off": off, "len": ln}})
        await ctx.tick().until(pe.i.ready)
        ctx.set(pe.i.valid, 0)
    await ctx.tick()
    cycles = 0
    while ctx.get(pe.busy):
        await ctx.tick()
        cycles += 1
        assert cycles < 100_000, "the PE never went idle"


async def read_out(ctx, pe, rows):
    out = []
    for r in range(rows):
        ctx.set(pe.rd_addr, r)
        await ctx.tick()
        out.append(ctx.get(pe.rd_data))
    return out


def run_pe(codes, x, *, gap_bits=3, code_bits=4, seed=0, idle=0.3, rows=64, words=512,
           max_code_len=16, corrupt=None, extent=None):
    rng = random.Random(seed)
    words_, limit, offset, table, offs, seg = pe_image(codes, gap_bits=gap_bits,
                                                       code_bits=code_bits,
                                                       max_code_len=max_code_len)
    if corrupt:
        words_, seg, offs = corrupt(list(words_), seg.copy(), offs.copy())
    nrng = np.random.default_rng(seed)
    cb = np.concatenate([[0], nrng.integers(-127, 128, (1 << code_bits) - 1)])
    pe = StreamPE(code_bits=code_bits, sym_bits=8, rows=rows, words=words,
                  len_bits=max(1, int(seg.max(initial=0)).bit_length()))
    items = [(int(x[j]), int(offs[j]), int(seg[j])) for j in np.flatnonzero(x)]
    result = {}

    async def tb(ctx):
        await load(ctx, pe, words_, limit, offset, table, cb,
                   16 * len(words_) if extent is None else extent)
        await feed(ctx, pe, items, rng, idle)
        result["acc"] = await read_out(ctx, pe, codes.shape[0])
        result["error"] = ctx.get(pe.error)

    run_testbenches(pe, tb)
    want = cb[codes].astype(np.int64) @ np.asarray(x, dtype=np.int64)
    return result, want


@pytest.mark.parametrize("density", [0.0, 0.08, 0.4, 1.0])
@pytest.mark.parametrize("gap_bits,code_bits", [(1, 4), (3, 4), (4, 3)])
def test_sums_match_numpy(density, gap_bits, code_bits):
    rng = np.random.default_rng(int(density * 10) + gap_bits)
    codes = rng.integers(1, 1 << code_bits, (37, 23)) * (rng.random((37, 23)) < density)
    codes[:, 5] = 0                                      # an empty column
    codes[0, 7], codes[36, 7] = 1, 2                     # first and last row
    x = rng.integers(-128, 128, 23) * (rng.random(23) < 0.7)
    x[7] = -128
    res, want = run_pe(codes, x, gap_bits=gap_bits, code_bits=code_bits,
                       seed=int(density * 100))
    assert res["error"] == HuffmanError.NONE
    assert res["acc"] == want.tolist()
    if density:
        assert np.count_nonzero(want)                    # the check can fail


def test_sixteen_bit_codes_and_back_to_back_input():
    """Fibonacci frequencies over 18 symbols push codes to the 16-bit limit
    (as in the golden test); a second, short column; input every cycle."""
    column = fibonacci_column()
    rows = 1 << (len(column) - 1).bit_length()
    codes = np.zeros((rows, 2), np.int64)
    codes[:len(column), 0] = column
    codes[0, 1] = 15                                     # keeps the chain's frequencies
    sl = encode_layer(codes, 1, gap_bits=1, code_bits=4, max_code_len=16)
    assert sl.lengths.max() == 16
    res, want = run_pe(codes, np.array([-3, 2]), gap_bits=1, idle=0.0, rows=rows,
                       words=2048)
    assert res["error"] == HuffmanError.NONE and res["acc"] == want.tolist()


def test_bad_streams_end_in_an_error():
    rng = np.random.default_rng(9)
    codes = rng.integers(1, 16, (20, 6)) * (rng.random((20, 6)) < 0.5)
    codes[:, 2] = 0
    codes[3, 2] = 7
    x = np.full(6, 5)

    def longer(words, seg, offs):        # column 1's segment claims 9 bits more
        seg[1] += 9
        offs[2:] += 9
        return words, seg, offs

    def noise(words, seg, offs):         # ones where the codes were (zeros)
        return [0xFFFF] * len(words), seg, offs

    # A dense layer of one code has one symbol, coded "0": "1" is no code.
    single = np.ones((8, 6), np.int64)
    for layer, corrupt, kw, want in ((codes, longer, {}, HuffmanError.OVERRUN),
                                     (single, noise, {}, HuffmanError.BAD_CODE),
                                     (codes, None, {"extent": 7}, HuffmanError.OVERRUN)):
        res, _ = run_pe(layer, x, corrupt=corrupt, **kw)
        assert res["error"] == want, (corrupt, kw)
    res, want = run_pe(single, x)                        # and uncorrupted it runs
    assert res["error"] == HuffmanError.NONE and res["acc"] == want.tolist()


def test_rejects_bad_parameters():
    with pytest.raises(TypeError, match="words"):
        StreamPE(words=10)
    with pytest.raises(TypeError, match="rows"):
        StreamPE(rows=48)
    with pytest.raises(TypeError, match="sym_bits"):
        StreamPE(sym_bits=13)
