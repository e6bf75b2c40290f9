"""The engine's convolution blocks in amaranth.sim: hw.patches.PatchWalker against
the im2col of golden.hwmodel.engine, hw.maxpool.MaxPool2 against its max-pool."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from golden.hwmodel.engine import EngineLayer, _im2col, layer_forward
from hw.maxpool import MaxPool2
from hw.patches import PatchWalker
from sim.amsim import run_testbenches


def walk(shape, kh, kw, pad, positions, seed, addr_bits=10):
    """Walk the patch of each output position ``(oy, ox)`` with random pauses;
    every presented ``(addr, valid)`` as the reader sees it."""
    c, h, w = shape
    dut = PatchWalker(addr_bits=addr_bits, dim_bits=8)
    rng = np.random.default_rng(seed)
    got = []

    async def tb(ctx):
        ctx.set(dut.kh, kh), ctx.set(dut.kw, kw), ctx.set(dut.h, h), ctx.set(dut.w, w)
        ctx.set(dut.hw, h * w)
        for oy, ox in positions:
            iy0, ix0 = oy - pad, ox - pad
            ctx.set(dut.iy0, iy0), ctx.set(dut.ix0, ix0)
            ctx.set(dut.org, (iy0 * w + ix0) % (1 << addr_bits))
            seen = []
            ctx.set(dut.start, 1)
            while True:
                # What the reader takes in a cycle with start or next.
                if ctx.get(dut.start) or ctx.get(dut.next):
                    seen.append((ctx.get(dut.addr), ctx.get(dut.valid)))
                if len(seen) == c * kh * kw:
                    break
                await ctx.tick()
                ctx.set(dut.start, 0)
                ctx.set(dut.next, int(rng.random() < 0.7))
            ctx.set(dut.start, 0), ctx.set(dut.next, 0)
            await ctx.tick()
            got.append(seen)

    run_testbenches(dut, tb)
    return got


def expected_walk(shape, kh, kw, pad, oy, ox, addr_bits=10):
    c, h, w = shape
    out = []
    for ch in range(c):
        for u in range(kh):
            for v in range(kw):
                iy, ix = oy - pad + u, ox - pad + v
                ok = 0 <= iy < h and 0 <= ix < w
                out.append(((ch * h * w + iy * w + ix) % (1 << addr_bits), int(ok)))
    return out


@pytest.mark.parametrize("shape,kh,kw,pad", [((2, 6, 6), 3, 3, 1), ((3, 5, 7), 2, 3, 0),
                                             ((1, 4, 4), 1, 1, 0), ((2, 3, 3), 5, 4, 3)])
def test_the_walker_visits_the_im2col_patch(shape, kh, kw, pad):
    """Every output position's patch in (c, u, v) order; the padding flagged
    (a kernel larger than the input, with padding past the whole input, too)."""
    c, h, w = shape
    oh, ow = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    positions = [(oy, ox) for oy in range(oh) for ox in range(ow)]
    got = walk(shape, kh, kw, pad, positions, seed=len(positions))
    x = np.arange(1, c * h * w + 1).reshape(1, c, h, w)
    cols = _im2col(x, kh, kw, 1, pad)[0]             # 0 in the padding, else index + 1
    for (oy, ox), seen in zip(positions, got):
        want = expected_walk(shape, kh, kw, pad, oy, ox)
        valid = [(a, v) for a, v in seen if v]
        assert [v for _, v in seen] == [v for _, v in want], (oy, ox)
        assert valid == [(a, v) for a, v in want if v], (oy, ox)
        p = oy * ow + ox
        assert [a + 1 if v else 0 for a, v in seen] == cols[p].tolist()


@settings(max_examples=15, deadline=None)
@given(c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 4),
       kw=st.integers(1, 4), pad=st.integers(0, 3), seed=st.integers(0, 99))
def test_the_walker_on_random_shapes(c, h, w, kh, kw, pad, seed):
    """Random shapes, kernels and padding (a kernel may cover the whole padded
    input); a few random output positions each."""
    oh, ow = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    assume(oh >= 1 and ow >= 1)
    rng = np.random.default_rng(seed)
    positions = [(int(rng.integers(oh)), int(rng.integers(ow))) for _ in range(3)]
    got = walk((c, h, w), kh, kw, pad, positions, seed)
    for (oy, ox), seen in zip(positions, got):
        want = expected_walk((c, h, w), kh, kw, pad, oy, ox)
        assert [v for _, v in seen] == [v for _, v in want]
        assert [a for a, v in seen if v] == [a for a, v in want if v]


def pool(x: np.ndarray, shape, seed: int, addr_bits: int = 10) -> tuple[np.ndarray, int]:
    """Run MaxPool2 over ``x`` (flat, ``shape``) held in a simulated synchronous
    memory; the tensor it writes and the cycles from ``start`` until ``busy`` fell."""
    c, h, w = shape
    ph, pw = h // 2, w // 2
    dut = MaxPool2(addr_bits=addr_bits, dim_bits=8)
    mem = {a: int(v) for a, v in enumerate(x)}
    out = {}
    res = {}

    async def tb(ctx):
        for sig, v in ((dut.outputs, c * ph * pw), (dut.ph, ph), (dut.pw, pw), (dut.w, w),
                       (dut.hw, h * w)):
            ctx.set(sig, v)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        cycles = 1
        while ctx.get(dut.busy):
            if ctx.get(dut.we):
                a = ctx.get(dut.waddr)
                assert a not in out
                out[a] = ctx.get(dut.wdata)
            addr = ctx.get(dut.rd_addr)
            await ctx.tick()
            ctx.set(dut.rd_data, mem.get(addr, 99))   # 99: a read outside the tensor
            cycles += 1
        res["cycles"] = cycles

    run_testbenches(dut, tb)
    return np.array([out[a] for a in range(len(out))]), res["cycles"]


@settings(max_examples=12, deadline=None)
@given(c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7), seed=st.integers(0, 99))
def test_max_pool_matches_the_engine_model(c, h, w, seed):
    """Odd heights and widths drop their last row or column; -128 and 127 reach
    the output; four cycles per output."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, c * h * w)
    x[rng.random(x.size) < 0.2] = -128
    el = EngineLayer("maxpool", (c, h, w), (c, h // 2, w // 2), pool=2)
    got, cycles = pool(x, (c, h, w), seed)
    assert got.tolist() == layer_forward(el, x[None])[0].tolist()
    # The start cycle, four reads per output, the last read's data registered, the
    # last output's write.
    assert cycles == 1 + 4 * got.size + 2


@pytest.mark.parametrize("cls", [PatchWalker, MaxPool2])
def test_bad_parameters_are_refused(cls):
    for kw in ({"addr_bits": 0, "dim_bits": 8}, {"addr_bits": 10, "dim_bits": 17},
               {"addr_bits": "10", "dim_bits": 8}):
        with pytest.raises(TypeError, match="must be an integer"):
            cls(**kw)
