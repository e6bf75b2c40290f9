"""The stream form's sparse phase on Verilator and Icarus: StreamPEs decoding
their Huffman-coded column segments, sums against NumPy and every run's cycles
against golden.hwmodel.cycles.segment_cycles."""

import numpy as np
import pytest

from golden.hwmodel.compute import wrap
from golden.hwmodel.cycles import segment_cycles, segment_symbols
from hw.spmv import SparseMatVec
from sim.harness import SimulatorMissing, run_cocotb

SIMS = ["verilator", "icarus"]


def packed(values, width):
    return sum(int(v) << (width * i) for i, v in enumerate(values))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("n_pe,depth,density,gap_bits", [(4, 2, 0.15, 3), (3, 1, 0.6, 1),
                                                         (2, 4, 1.0, 4)])
def test_stream_spmv(sim, n_pe, depth, density, gap_bits):
    rng = np.random.default_rng(n_pe * 10 + depth)
    out, inp, ptr_base = 20, 24, 5
    codes = rng.integers(1, 16, (out, inp)) * (rng.random((out, inp)) < density)
    codes[:, 2] = 0                                   # an empty column
    codes[:, 5:8] = 0
    codes[1, 5:8] = 7                                 # a row hit by consecutive columns
    codes[19, 9] = 15                                 # the last row
    cb = rng.integers(-128, 128, 16)
    cb[0], cb[1] = 0, -128
    xs = [rng.integers(-128, 128, inp) * (rng.random(inp) < 0.5), rng.integers(-128, 128, inp),
          np.zeros(inp, dtype=np.int64), np.full(inp, -128)]
    sym, real = segment_symbols(codes, n_pe, gap_bits)
    runs = [{"acts": [int(v) for v in x], "expected": [int(v) for v in wrap(cb[codes] @ x, 32)],
             "cycles": segment_cycles(sym, real, x, depth=depth).mac_cycles
             + SparseMatVec.stream_overhead} for x in xs]
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=32, form="stream",
                       pe={"code_bits": 4, "sym_bits": 9, "rows": 16, "words": 128,
                           "len_bits": 10, "pointers": 64, "cb_banks": 2})
    loads, (limit, offset) = dut.stream_loads(codes, cb, gap_bits=gap_bits, code_bits=4,
                                              ptr_base=ptr_base, bank=1, word_base=3)
    p = {"loads": loads, "ptr_base": ptr_base, "n_pe": n_pe, "acc_bits": 32, "runs": runs,
         "read_latency": 2, "limit": packed(limit, 17), "offset": packed(offset, 9),
         "cb_bank": 1}
    try:
        run_cocotb(dut, "stream_spmv", "sim.tb.tb_spmv", sim=sim, params=p,
                   case=f"stream_n{n_pe}d{depth}g{gap_bits}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
