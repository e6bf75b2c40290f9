"""SparsePE in amaranth.sim: accumulators against NumPy, take timing against the
cycle model's max(1, entries) per column."""

import random

import numpy as np
import pytest

from golden.hwmodel.compute import wrap
from golden.hwmodel.image import pe_tables, sign_tables
from hw.pe import SparsePE, pe_words, sign_pe_words
from sim.amsim import run_testbenches


async def send(ctx, dut, payloads, rng, idle, takes, cycle=0):
    """Offer each payload on ``dut.i`` (idle cycles at random with chance
    ``idle``), appending the cycle of each take to ``takes``; then wait until
    the PE is idle. Returns the cycle count."""
    k = 0
    while k < len(payloads):
        if idle and rng.random() < idle:
            ctx.set(dut.i.valid, 0)
        else:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, payloads[k])
        *_, valid, ready = await ctx.tick().sample(dut.i.valid, dut.i.ready)
        if valid and ready:
            takes.append(cycle)
            k += 1
        cycle += 1
    ctx.set(dut.i.valid, 0)
    while ctx.get(dut.busy):
        await ctx.tick()
        cycle += 1
    return cycle


def run_pe(dut, codes, cb, acts, *, ptr_base=0, idle=0.0, seed=0, layers=1):
    """Load the PE, run ``acts`` (a list of (col, x)) ``layers`` times, reading out
    after each; returns the read-outs and the cycle of every take."""
    (ptr, ents), = pe_tables(codes, 1, dut.code_bits)
    ptr, ents = pe_words(ptr, ents, dut.abits)
    rows = codes.shape[0]
    out = {"reads": [], "takes": []}

    async def tb(ctx):
        rng = random.Random(seed)
        for a, v in enumerate(ptr):
            ctx.set(dut.ptr_we, 1), ctx.set(dut.ptr_addr, ptr_base + a), ctx.set(dut.ptr_data, v)
            await ctx.tick()
        ctx.set(dut.ptr_we, 0)
        for a, v in enumerate(ents):
            ctx.set(dut.ent_we, 1), ctx.set(dut.ent_addr, a), ctx.set(dut.ent_data, v)
            await ctx.tick()
        ctx.set(dut.ent_we, 0)
        for a, v in enumerate(cb):
            ctx.set(dut.cb_we, 1), ctx.set(dut.cb_addr, a), ctx.set(dut.cb_data, int(v))
            await ctx.tick()
        ctx.set(dut.cb_we, 0)
        cycle = 0
        for _ in range(layers):
            cycle = await send(ctx, dut, [{"ptr": ptr_base + j, "value": v} for j, v in acts],
                               rng, idle, out["takes"], cycle)
            got = []
            for r in range(rows):
                ctx.set(dut.rd_addr, r)
                ctx.set(dut.clr_en, 1), ctx.set(dut.clr_addr, r)
                await ctx.tick()
                ctx.set(dut.clr_en, 0)
                got.append(ctx.get(dut.rd_data))
            await ctx.tick()
            out["reads"].append(got)

    run_testbenches(dut, tb)
    return out


def expected(codes, cb, acts):
    w = np.asarray(cb)[codes]
    acc = np.zeros(codes.shape[0], dtype=np.int64)
    for col, x in acts:
        acc += w[:, col] * x
    return wrap(acc, 32).tolist()


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("density,idle", [(0.3, 0.0), (0.05, 0.0), (0.6, 0.4), (1.0, 0.2)])
def test_pe_accumulates_and_takes_one_column_per_max1_entries(density, idle, pipelined):
    rng = np.random.default_rng(int(density * 100))
    rows, cols, cbits = 16, 24, 4
    codes = rng.integers(1, 16, (rows, cols)) * (rng.random((rows, cols)) < density)
    codes[:, 3] = 0                                   # an empty column
    codes[5, 7:10] = 9                                # one row hit by consecutive columns
    codes[:, 7:10] = 0
    codes[5, 7:10] = 9
    codes[:, 11:13] = 0                               # columns of exactly two and one
    codes[[2, 9], 11] = 4
    codes[13, 12] = 6
    codes[:, 14:20] = 0                               # a row hit again two and three
    codes[[5, 9], 14:17] = 3                          # entries later (the pipelined
    codes[[1, 5, 9], 17:20] = 2                       # PE's forwarding distances)
    cb = rng.integers(-128, 128, 16)
    cb[0] = 0
    cb[15] = -128
    acts = [(int(j), int(rng.choice([-128, 127, rng.integers(-128, 128)])))
            for j in sorted(rng.choice(cols, 18, replace=False))] + [(3, 5), (7, 1), (8, -2),
                                                                     (9, 127), (11, 3),
                                                                     (12, -7), (11, 2),
                                                                     (14, 9), (15, -3),
                                                                     (16, 127), (17, 5),
                                                                     (18, -128), (19, 1)]
    dut = SparsePE(code_bits=cbits, rows=16, pointers=64, entries=512, pipelined=pipelined)
    res = run_pe(dut, codes, cb, acts, idle=idle, seed=1, layers=2)
    want = expected(codes, cb, acts)
    # Both runs give the layer's sums: the read-out cleared the accumulators.
    assert res["reads"] == [want, want]
    if idle == 0.0:
        e = [max(1, int(np.count_nonzero(codes[:, c]))) for c, _ in acts]
        gaps = np.diff(res["takes"][:len(acts)])
        # Pipelined, the pointers are fetched two activations ahead: the first
        # three are taken on consecutive cycles, then each as the column three
        # back ends.
        assert gaps.tolist() == ([1, 1] + e[:-3] if pipelined else e[:-1])


@pytest.mark.parametrize("pipelined", [False, True])
def test_pe_pointer_base_selects_the_layer(pipelined):
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 4, (8, 6))
    cb = [0, 3, -5, 7]
    acts = [(j, j - 2) for j in range(6)]
    dut = SparsePE(code_bits=2, rows=8, pointers=32, entries=64, pipelined=pipelined)
    assert run_pe(dut, codes, cb, acts, ptr_base=20)["reads"] == [expected(codes, cb, acts)]


@pytest.mark.parametrize("kw", [{"code_bits": 0}, {"code_bits": 8}, {"rows": 3},
                                {"rows": 1 << 12, "code_bits": 4},
                                {"entries": 1}, {"acc_bits": 40}, {"entry_ram": "bram"},
                                {"pipelined": 1}])
def test_pe_rejects_bad_parameters(kw):
    with pytest.raises((TypeError, ValueError)):
        SparsePE(**kw)


def run_pe_binary(dut, signs, items, *, idle=0.0, seed=0):
    """Load a binary layer's sign words (one PE), run ``items`` (group, plane
    weight, plane bits) with ``binary`` high; returns the read-out and the
    cycle of every take."""
    ptr, ents = sign_pe_words(sign_tables(signs, 1)[0], dut.abits)
    out = {"takes": []}

    async def tb(ctx):
        rng = random.Random(seed)
        for we, addr, data, words in ((dut.ptr_we, dut.ptr_addr, dut.ptr_data, ptr),
                                      (dut.ent_we, dut.ent_addr, dut.ent_data, ents)):
            for a, v in enumerate(words):
                ctx.set(we, 1), ctx.set(addr, a), ctx.set(data, v)
                await ctx.tick()
            ctx.set(we, 0)
        ctx.set(dut.binary, 1)
        await send(ctx, dut, [{"ptr": g, "value": v, "bits": b} for g, v, b in items], rng,
                   idle, out["takes"])
        got = []
        for r in range(signs.shape[0]):
            ctx.set(dut.rd_addr, r)
            await ctx.tick()
            got.append(ctx.get(dut.rd_data))
        out["reads"] = got

    run_testbenches(dut, tb)
    return out


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("rows,idle", [(5, 0.0), (1, 0.0), (8, 0.3)])
def test_pe_xnor_path_adds_plane_weight_times_sign_dot(rows, idle, pipelined):
    """Binary layer: each (group, plane) adds ``value * sign_dot`` to every row,
    one sign word per row per cycle (a column of ``rows`` entries), including
    full planes, the -128 plane and the same row on consecutive cycles."""
    rng = np.random.default_rng(rows)
    inp = 40                                         # groups of 15, 15, 10
    signs = np.where(rng.random((rows, inp)) < 0.5, 1, -1)
    items = [(int(rng.integers(0, 3)), int(rng.choice([1, 2, 4, 8, 16, 32, 64, -128])),
              int(rng.integers(0, 1 << 15))) for _ in range(30)]
    items += [(0, -128, 0x7FFF), (1, 64, 0x7FFF), (2, 1, 0x3FF), (2, 2, 1)]
    dut = SparsePE(code_bits=2, rows=8, pointers=8, entries=64, pipelined=pipelined,
                   xnor=True)
    res = run_pe_binary(dut, signs, items, idle=idle, seed=2)
    s15 = np.pad(signs, ((0, 0), (0, 45 - inp)), constant_values=-1)
    want = np.zeros(rows, dtype=np.int64)
    for g, value, bits in items:
        b = (bits >> np.arange(15)) & 1
        want += value * (s15[:, 15 * g:15 * g + 15] * b).sum(axis=1)
    assert res["reads"] == want.tolist()
    if idle == 0.0:
        gaps = np.diff(res["takes"]).tolist()
        assert gaps == ([1, 1] + [rows] * (len(items) - 3) if pipelined
                        else [rows] * (len(items) - 1))
