"""SparseMatVec in amaranth.sim: every accumulator against NumPy and every run's
cycle count against golden.hwmodel.cycles (expanded mode), exactly."""

import numpy as np
import pytest

from golden.hwmodel.compute import wrap
from golden.hwmodel.cycles import layer_cycles, xnor_cycles
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


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("n_pe,depth,out,inp", [(1, 1, 3, 16), (2, 2, 9, 31), (4, 8, 24, 45),
                                                (3, 1, 2, 7), (4, 4, 24, 64)])
def test_spmv_xnor_path_sums_and_cycles_match_the_models(n_pe, depth, out, inp, pipelined):
    """Binary layers on the XNOR path: exact sums (the engine model's +1/-1
    weights) and exact cycles (``xnor_cycles``), for dense, sparse, all-zero,
    -128 and ReLU'd inputs, groups cut short, PEs with fewer rows or none."""
    rng = np.random.default_rng(n_pe * 7 + depth + inp)
    signs = np.where(rng.random((out, inp)) < 0.5, 1, -1)
    xs = [rng.integers(-128, 128, inp),                                  # every plane
          rng.integers(0, 128, inp) * (rng.random(inp) < 0.3),           # ReLU'd, sparse
          np.zeros(inp, dtype=np.int64),                                 # no plane at all
          np.full(inp, -128),                                            # plane 7 only
          np.r_[np.zeros(inp - 1, dtype=np.int64), [1]],                 # the last group's
          rng.integers(0, 4, inp)]                                       # two low planes
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=64,
                       pe={"code_bits": 2, "rows": 8, "pointers": 16, "entries": 64,
                           "pipelined": pipelined, "xnor": True})
    cycles, accs = run_spmv(dut, signs, None, xs, ptr_base=2, binary=True)
    rows = [len(range(k, out, n_pe)) for k in range(n_pe)]
    for x, acc, cyc in zip(xs, accs, cycles):
        assert acc.tolist() == (signs @ x).tolist()
        model = xnor_cycles(rows, x, depth=depth, pipelined=pipelined)
        assert cyc == model.mac_cycles + SparseMatVec.overhead


def test_spmv_with_xnor_pes_still_runs_shared_layers():
    rng = np.random.default_rng(5)
    codes = rng.integers(1, 4, (10, 20)) * (rng.random((10, 20)) < 0.3)
    cb = np.array([0, 5, -7, 100])
    xs = [rng.integers(-128, 128, 20)]
    dut = SparseMatVec(n_pe=3, queue_depth=2, max_len=32,
                       pe={"code_bits": 2, "rows": 4, "pointers": 32, "entries": 64,
                           "xnor": True})
    cycles, accs = run_spmv(dut, codes, cb, xs)
    assert accs[0].tolist() == (cb[codes] @ xs[0]).tolist()
    assert cycles[0] == layer_cycles(codes, xs[0], n_pe=3, depth=2, gap_bits=4).mac_cycles \
        + SparseMatVec.overhead
