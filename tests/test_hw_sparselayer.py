"""SparseLayer in amaranth.sim: a fully connected layer of a .zcm model, loaded
as the engine loads it, gives golden.hwmodel.engine.layer_forward bit for bit."""

import random

import numpy as np
import pytest

from golden.hwmodel.engine import engine_model, int8_codebook, layer_forward, quantize_input
from golden.zcm import ZLayer, ZModel
from hw.layerout import LayerOutput, consts_words
from hw.sparselayer import SparseLayer
from sim.amsim import run_testbenches
from sim.engine import load_layer, write_acts


def two_layer_model(rng, out0=20, inp=24, out1=6, density=0.3):
    cb = np.array([0, 0.5, -0.3, 0.2, -0.05, 0.9, -1.0, 0.01], np.float32)

    def codes(o, i):
        return rng.integers(1, 8, (o, i)) * (rng.random((o, i)) < density)
    l0 = ZLayer(kind="fc", act="relu", out=out0, inp=inp, storage="shared", code_bits=3,
                gap_bits=4, codebook=cb, codes=codes(out0, inp),
                bias=rng.uniform(-1, 1, out0).astype(np.float32), act_scale=1 / 127)
    l1 = ZLayer(kind="fc", out=out1, inp=out0, storage="shared", code_bits=3, gap_bits=4,
                codebook=cb, codes=codes(out1, out0),
                bias=rng.uniform(-1, 1, out1).astype(np.float32), act_scale=0.02)
    return ZModel([l0, l1], (inp, 1, 1), classes=out1, input_scale=1 / 127)


def run_layer(dut, zl, el, xs, *, raw, stall=0.0, base=0):
    """Rows taken on ``o`` per input; ``o.ready`` is low a ``stall`` share of cycles.
    The layer's parameters start at ``base``: the biases, then with per-layer
    constants those (``consts_words`` words)."""
    rows = zl.out
    cb, _ = int8_codebook(zl)
    out = []
    rng = random.Random(7)
    lo_ = dut._out
    bits, per_row = lo_.bias_bits, lo_.row_consts
    # (address, word) of the parameter memory
    words = [(base + r, int(el.bias[r]) & ((1 << bits) - 1)) for r in range(rows)]
    if not per_row:
        assert len(set(el.multiplier)) == 1 and len(set(el.shift)) == 1
        m0, at = int(el.multiplier[0]), base + rows
        words += [(at + k, (m0 >> (bits * k)) & ((1 << bits) - 1))
                  for k in range(consts_words(bits) - 1)]
        words.append((at + consts_words(bits) - 1, int(el.shift[0])))
    assert all(-(1 << (bits - 1)) <= int(b) < 1 << (bits - 1) for b in el.bias)

    async def tb(ctx):
        await load_layer(ctx, dut, dut.spmv.loads(zl.codes, cb))
        for a, v in words:
            ctx.set(dut.bias_we, 1), ctx.set(dut.bias_addr, a), ctx.set(dut.bias_data, v)
            await ctx.tick()
        ctx.set(dut.bias_we, 0)
        for r in range(rows if per_row and not raw else 0):
            ctx.set(dut.rq_we, 1), ctx.set(dut.rq_addr, base + r)
            ctx.set(dut.rq_data, int(el.multiplier[r]) | int(el.shift[r]) << 31)
            await ctx.tick()
        ctx.set(dut.rq_we, 0), ctx.set(dut.row_base, base)
        ctx.set(dut.o.ready, 1)
        for x in xs:
            await write_acts(ctx, dut, x)
            ctx.set(dut.start, 1), ctx.set(dut.length, len(x)), ctx.set(dut.rows, rows)
            ctx.set(dut.relu, int(el.relu)), ctx.set(dut.raw, int(raw))
            got = []
            while len(got) < rows:
                ctx.set(dut.o.ready, rng.random() >= stall)
                *_, valid, ready, payload = await ctx.tick().sample(
                    dut.o.valid, dut.o.ready, dut.o.payload)
                ctx.set(dut.start, 0)
                if valid and ready:
                    got.append(payload)
            while ctx.get(dut.busy):
                await ctx.tick()
            out.append(got)

    run_testbenches(dut, tb)
    return out


@pytest.mark.parametrize("n_pe,digit_bits,stall,pipelined",
                         [(1, 8, 0.0, False), (3, 8, 0.4, False), (4, None, 0.0, False),
                          (3, None, 0.5, False), (3, 8, 0.4, True), (4, None, 0.5, True),
                          (1, None, 0.0, True)])
def test_layers_of_a_model_match_the_engine_model(n_pe, digit_bits, stall, pipelined):
    """Serial and pipelined requantizers, with and without stalls on ``o`` (a stalled
    row is read again, so nothing may be lost or repeated); the pipelined PEs and
    output stage (rows read ahead into a queue) too."""
    rng = np.random.default_rng(n_pe)
    zm = two_layer_model(rng)
    em = engine_model(zm)
    x = quantize_input(em, rng.uniform(-1, 1, (3, 24)))
    x[2] = 0                                          # an all-zero input: biases only
    x[1, :12] = 0
    hidden = layer_forward(em.layers[0], x)
    for i, raw in ((0, False), (1, True)):
        zl, el = zm.layers[i], em.layers[i]
        xs = x if i == 0 else hidden
        dut = SparseLayer(n_pe=n_pe, queue_depth=2, max_len=32, max_rows=32,
                          digit_bits=digit_bits,
                          pe={"code_bits": 3, "rows": 32, "pointers": 64, "entries": 512,
                              "pipelined": pipelined})
        got = run_layer(dut, zl, el, xs, raw=raw, stall=stall)
        want = layer_forward(el, xs).tolist()
        assert got == want
    # the ReLU layer clipped something, the last layer has negative sums
    assert (hidden == 0).any() and (np.asarray(want) < 0).any()


@pytest.mark.parametrize("bias_bits,row_consts,pipelined",
                         [(16, False, False), (32, False, False), (16, True, False),
                          (16, False, True), (32, True, True)])
def test_narrow_biases_and_per_layer_constants(bias_bits, row_consts, pipelined):
    """The parameter memory 16 bits wide, and a layer's one set of constants read
    from it before its rows (at a base other than 0), with stalls on ``o``."""
    rng = np.random.default_rng(11)
    zm = two_layer_model(rng)
    em = engine_model(zm)
    x = quantize_input(em, rng.uniform(-1, 1, (3, 24)))
    x[2] = 0
    zl, el = zm.layers[0], em.layers[0]
    dut = SparseLayer(n_pe=3, queue_depth=2, max_len=32, max_rows=40, digit_bits=None,
                      bias_bits=bias_bits, row_consts=row_consts,
                      pe={"code_bits": 3, "rows": 32, "pointers": 64, "entries": 512,
                          "pipelined": pipelined})
    got = run_layer(dut, zl, el, x, raw=False, stall=0.4, base=5)
    assert got == layer_forward(el, x).tolist()
    assert any(int(b) < 0 for b in el.bias)     # a negative bias was sign-extended


def test_bad_parameters_are_refused():
    for kw in ({"n_pe": 0}, {"rows_per_pe": 3}, {"max_rows": 0}, {"bias_bits": 24},
               {"row_consts": 1}, {"pipelined": 1}):
        with pytest.raises((TypeError, ValueError)):
            LayerOutput(**kw)
    with pytest.raises((TypeError, ValueError), match="max_rows"):   # more rows than accumulators
        SparseLayer(n_pe=2, max_rows=100, pe={"rows": 32})
