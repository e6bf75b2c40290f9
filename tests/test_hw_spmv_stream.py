"""SparseMatVec in the stream form (amaranth.sim): every accumulator against
NumPy and every run's cycles against golden.hwmodel.cycles.segment_cycles,
exactly."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from golden.hwmodel.compute import wrap
from golden.hwmodel.cycles import segment_cycles, segment_symbols
from hw.huffman import HuffmanError
from hw.spmv import MEM_ENT, MEM_PTR, SparseMatVec
from sim.amsim import run_testbenches
from sim.engine import load_layer, run_once, run_spmv


def stream_spmv(n_pe, depth, *, rows=32, words=256, len_bits=10, pointers=64, max_len=32):
    return SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=max_len, form="stream",
                        pe={"code_bits": 4, "sym_bits": 8, "rows": rows, "words": words,
                            "len_bits": len_bits, "pointers": pointers, "cb_banks": 2})


@pytest.mark.parametrize("n_pe,depth,density,gap_bits", [
    (1, 1, 0.3, 3), (2, 2, 0.1, 4), (4, 8, 0.1, 2), (4, 1, 0.5, 1), (3, 4, 1.0, 4),
    (8, 2, 0.05, 3), (5, 3, 0.0, 4)])
def test_sums_and_cycles_match_the_models(n_pe, depth, density, gap_bits):
    rng = np.random.default_rng(n_pe * 100 + depth)
    out, inp = 24, 20
    codes = rng.integers(1, 16, (out, inp)) * (rng.random((out, inp)) < density)
    cb = rng.integers(-128, 128, 16)
    cb[0] = 0
    xs = [rng.integers(-128, 128, inp) * (rng.random(inp) < 0.6),   # zeros skipped
          rng.integers(-128, 128, inp),                              # dense
          np.zeros(inp, dtype=np.int64),                             # all zero
          np.r_[np.zeros(inp - 1, dtype=np.int64), [127]],           # scanner-bound end
          np.full(inp, -128),
          np.r_[rng.integers(-128, 128, inp - 1), [0]] * (codes.any(axis=0) | (
              np.arange(inp) == inp - 2))]                           # ends on empty segments
    dut = stream_spmv(n_pe, depth)
    cycles, accs = run_spmv(dut, codes, cb, xs, ptr_base=3, gap_bits=gap_bits, word_base=5)
    w = cb[codes]
    sym, real = segment_symbols(codes, n_pe, gap_bits)
    for x, acc, cyc in zip(xs, accs, cycles):
        assert acc.tolist() == wrap(w @ x, 32).tolist()
        model = segment_cycles(sym, real, x, depth=depth)
        assert cyc == model.mac_cycles + SparseMatVec.stream_overhead, (x.tolist(), cyc, model)


def test_long_columns_keep_both_slots_busy():
    """Dense 64-row columns at one PE: each column's segment spans many words,
    so refills run back to back in both slots; cycles still exact."""
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 16, (64, 12))
    cb = np.r_[0, rng.integers(-128, 128, 15)]
    xs = [rng.integers(-128, 128, 12), rng.integers(-128, 128, 12) * (rng.random(12) < 0.3)]
    dut = stream_spmv(1, 4, rows=64, words=512, len_bits=12)
    cycles, accs = run_spmv(dut, codes, cb, xs, gap_bits=2)
    sym, real = segment_symbols(codes, 1, 2)
    for x, acc, cyc in zip(xs, accs, cycles):
        assert acc.tolist() == (cb[codes] @ x).tolist()
        model = segment_cycles(sym, real, x, depth=4)
        assert cyc == model.mac_cycles + SparseMatVec.stream_overhead
        assert model.utilisation > 0.8          # one symbol per cycle, nearly


def test_stream_form_refuses_what_it_lacks():
    with pytest.raises(TypeError, match="form"):
        SparseMatVec(form="huffman")
    with pytest.raises(TypeError, match="pointers"):
        SparseMatVec(form="stream", pe={"pointers": 1})
    dut = stream_spmv(2, 2)
    assert dut.error.shape() == HuffmanError
    Fragment.get(dut, None)                     # it elaborates (and is used)


@pytest.mark.parametrize("corrupt,want", [("noise", HuffmanError.BAD_CODE),
                                          ("long", HuffmanError.OVERRUN)])
def test_a_corrupt_stream_ends_the_run_with_its_error(corrupt, want):
    """PE 1's stream words turned to noise (a one-symbol code, so a 1 is no
    code), or PE 1's first segment claiming more bits than its codes: the run
    still ends, ``error`` names the fault, and the next run's ``start``
    clears it."""
    codes = np.ones((6, 8), np.int64)                    # dense, one code: one symbol
    cb = np.r_[0, np.arange(1, 16)]
    dut = stream_spmv(3, 2)
    loads, (limit, offset) = dut.stream_loads(codes, cb, gap_bits=2, code_bits=4)
    bad = [(k, mem, a, 0xFFFF if (k, mem, corrupt) == (1, MEM_ENT, "noise") else d)
           for k, mem, a, d in loads]
    if corrupt == "long":
        bad = [(k, mem, a, d + 40 if (k, mem, a) == (1, MEM_PTR, 0) else d)
               for k, mem, a, d in bad]
    seen = {}

    async def tb(ctx):
        for name, data in (("bad", bad), ("good", loads)):
            await load_layer(ctx, dut, data)
            ctx.set(dut.limit, limit)
            ctx.set(dut.offset, offset)
            await run_once(ctx, dut, np.full(8, 3), max_cycles=1000)
            seen[name] = ctx.get(dut.error)

    run_testbenches(dut, tb)
    assert seen == {"bad": want, "good": HuffmanError.NONE}
