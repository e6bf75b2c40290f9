"""RelativeIndexDecoder, BitmaskDecoder and CodebookLookup on Verilator and Icarus
through the shared harness, against golden.sparse and NumPy indexing."""

import numpy as np
import pytest

from golden.sparse import bitmask_encode, relindex_encode_1d
from hw.bitmask import BitmaskDecoder
from hw.codebook import CodebookLookup
from hw.relindex import RelativeIndexDecoder
from sim.harness import SimulatorMissing, run_cocotb


def run(component, top, case, sim, p):
    p = {"seed": 3, "idle": 0.3, "stall": 0.3} | p
    try:
        return run_cocotb(component, top, "sim.tb.tb_streams", sim=sim, params=p, case=case)
    except SimulatorMissing as e:
        pytest.skip(str(e))


def packed(pairs, low_bits):
    """(high, low) pairs as flat integers, low field first."""
    return [int(lo) | (int(hi) << low_bits) for hi, lo in pairs]


def vector(seed, n, density, vbits):
    rng = np.random.default_rng(seed)
    return rng.integers(1, 1 << vbits, n) * (rng.random(n) < density)


SIMS = ["verilator", "icarus"]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("density", [0.0, 0.03, 0.4, 1.0], ids=lambda d: f"d{d}")
def test_relindex(sim, density):
    v = vector(int(density * 100), 400, density, 4)
    gaps, vals = relindex_encode_1d(v, 3)
    nz = np.flatnonzero(v)
    run(RelativeIndexDecoder(gap_bits=3, value_bits=4, index_bits=12), "relindex",
        f"d{density}", sim, {
            "clear": True, "sink": "o",
            "sources": {"i": packed(zip(gaps, vals), 4)},
            "expected": packed(zip(nz, v[nz]), 4)})


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("density", [0.0, 0.1, 0.7, 1.0], ids=lambda d: f"d{d}")
def test_bitmask(sim, density):
    v = vector(7 + int(density * 10), 333, density, 8)       # 333 bits: ends mid-word
    mask_bytes, vals = bitmask_encode(v)
    words = [int.from_bytes(mask_bytes[k:k + 2].tobytes().ljust(2, b"\0"), "big")
             for k in range(0, len(mask_bytes), 2)]
    nz = np.flatnonzero(v)
    run(BitmaskDecoder(word_width=16, value_bits=8, index_bits=12), "bitmask",
        f"d{density}", sim, {
            "sink": "o",
            "sources": {"mask": words, "values": [int(x) for x in vals]},
            "expected": packed(zip(nz, v[nz]), 8)})


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("code_bits,weight_bits", [(4, 8), (8, 16), (1, 8)])
def test_codebook(sim, code_bits, weight_bits):
    rng = np.random.default_rng(code_bits)
    k = 1 << code_bits
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    table = rng.integers(lo, hi + 1, k)
    table[0], table[-1] = lo, hi
    codes = rng.integers(0, k, 500)
    mask = (1 << weight_bits) - 1
    run(CodebookLookup(code_bits=code_bits, weight_bits=weight_bits, index_bits=10),
        "codebook", f"c{code_bits}w{weight_bits}", sim, {
            "zero": ["we"],
            "writes": [{"we": 1, "waddr": a, "wdata": int(w) & mask} for a, w in enumerate(table)]
            + [{"we": 0, "waddr": 0, "wdata": 0}],
            "sink": "o",
            "sources": {"i": packed(((i, c) for i, c in enumerate(codes)), code_bits)},
            "expected": [(int(table[c]) & mask) | (i << weight_bits)
                         for i, c in enumerate(codes)]})
