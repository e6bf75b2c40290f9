"""SparseMatVec in amaranth.sim: every accumulator against NumPy and every run's
cycle count against golden.hwmodel.cycles (expanded mode), exactly."""

import numpy as np
import pytest

from golden.hwmodel.compute import wrap
from golden.hwmodel.cycles import layer_cycles
from hw.spmv import SparseMatVec
from sim.engine import run_spmv


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("n_pe,depth,density", [(1, 1, 0.3), (2, 2, 0.1), (4, 8, 0.1),
                                                (4, 1, 0.5), (3, 4, 1.0), (8, 2, 0.05)])
def test_spmv_sums_and_cycles_match_the_models(n_pe, depth, density, pipelined):
    rng = np.random.default_rng(n_pe * 100 + depth)
    out, inp = 24, 20
    codes = rng.integers(1, 16, (out, inp)) * (rng.random((out, inp)) < density)
    cb = rng.integers(-128, 128, 16)
    cb[0] = 0
    xs = [rng.integers(-128, 128, inp) * (rng.random(inp) < 0.6),   # zeros skipped
          rng.integers(-128, 128, inp),                              # dense
          np.zeros(inp, dtype=np.int64),                             # all zero
          np.r_[np.zeros(inp - 1, dtype=np.int64), [127]]]           # scanner-bound end
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=32,
                       pe={"code_bits": 4, "rows": 32, "pointers": 64, "entries": 512,
                           "pipelined": pipelined})
    cycles, accs = run_spmv(dut, codes, cb, xs, ptr_base=3)
    w = cb[codes]
    for x, acc, cyc in zip(xs, accs, cycles):
        assert acc.tolist() == wrap(w @ x, 32).tolist()
        model = layer_cycles(codes, x, n_pe=n_pe, depth=depth, gap_bits=4,
                             pipelined=pipelined)
        assert cyc == model.mac_cycles + SparseMatVec.overhead


def test_spmv_rejects_bad_parameters():
    for kw in ({"n_pe": 0}, {"queue_depth": 0}, {"max_len": 1}):
        with pytest.raises((TypeError, ValueError)):
            SparseMatVec(**kw)
