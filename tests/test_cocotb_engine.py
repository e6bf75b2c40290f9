"""The engine on Verilator and Icarus: its sparse phase (SparseMatVec, its PEs and
queues: sums against NumPy, cycles against golden.hwmodel.cycles), a whole
layer, the whole engine through its byte protocol and through the board's
UART top, and every malformed-image class."""

import numpy as np
import pytest

from golden.hwmodel.compute import wrap
from golden.hwmodel.cycles import layer_cycles, model_cycles, xnor_cycles
from golden.hwmodel.engine import (
    engine_forward,
    engine_model,
    int8_codebook,
    layer_forward,
    quantize_input,
)
from golden.hwmodel.image import memory_image
from hw.sparselayer import SparseLayer
from hw.spmv import SparseMatVec
from sim.engine import check_bad_images, random_fc_model, simulate_model
from sim.harness import SimulatorMissing, run_cocotb
from tests.test_hw_sparselayer import two_layer_model

SIMS = ["verilator", "icarus"]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("n_pe,depth,density,ram,pipelined",
                         [(4, 2, 0.15, "spram", False), (3, 1, 0.6, None, False),
                          (4, 2, 0.3, None, True)])
def test_spmv(sim, n_pe, depth, density, ram, pipelined):
    """The SPRAM variant runs against Yosys's SB_SPRAM256KA model; the pipelined
    PEs against the cycle model's pipelined timing."""
    rng = np.random.default_rng(n_pe * 10 + depth)
    out, inp, ptr_base = 20, 24, 5
    codes = rng.integers(1, 16, (out, inp)) * (rng.random((out, inp)) < density)
    codes[:, 2] = 0                                   # an empty column
    codes[:, 5:8] = 0
    codes[1, 5:8] = 7                                 # a row hit by consecutive columns
    cb = rng.integers(-128, 128, 16)
    cb[0], cb[1] = 0, -128
    xs = [rng.integers(-128, 128, inp) * (rng.random(inp) < 0.5), rng.integers(-128, 128, inp),
          np.zeros(inp, dtype=np.int64), np.full(inp, -128)]
    w = cb[codes]
    runs = [{"acts": [int(v) for v in x], "expected": [int(v) for v in wrap(w @ x, 32)],
             "cycles": layer_cycles(codes, x, n_pe=n_pe, depth=depth, gap_bits=4,
                                    pipelined=pipelined).mac_cycles
             + SparseMatVec.overhead} for x in xs]
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=32,
                       pe={"code_bits": 4, "rows": 8, "pointers": 64,
                           "entries": 1 << 14 if ram else 256, "entry_ram": ram,
                           "pipelined": pipelined})
    p = {"loads": dut.loads(codes, cb, ptr_base=ptr_base), "ptr_base": ptr_base,
         "n_pe": n_pe, "acc_bits": 32, "runs": runs, "read_latency": 2 if pipelined else 1}
    try:
        run_cocotb(dut, "spmv", "sim.tb.tb_spmv", sim=sim, params=p,
                   case=f"n{n_pe}d{depth}{ram or ''}{'p' if pipelined else ''}",
                   cells=(("ice40", "SB_SPRAM256KA"),) if ram else ())
    except SimulatorMissing as e:
        pytest.skip(str(e))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("n_pe,depth,pipelined", [(3, 1, False), (4, 2, True)])
def test_spmv_xnor_path(sim, n_pe, depth, pipelined):
    """A binary layer on the XNOR path (a group cut short, a PE with fewer rows):
    sums against NumPy's +1/-1 product and cycles against ``xnor_cycles``, for
    every plane, ReLU'd, all-zero and -128 inputs."""
    rng = np.random.default_rng(40 + n_pe)
    out, inp, ptr_base = 11, 37, 3
    signs = np.where(rng.random((out, inp)) < 0.5, 1, -1)
    xs = [rng.integers(-128, 128, inp), rng.integers(0, 128, inp) * (rng.random(inp) < 0.3),
          np.zeros(inp, dtype=np.int64), np.full(inp, -128)]
    rows = [len(range(k, out, n_pe)) for k in range(n_pe)]
    runs = [{"acts": [int(v) for v in x], "expected": [int(v) for v in signs @ x],
             "cycles": xnor_cycles(rows, x, depth=depth, pipelined=pipelined).mac_cycles
             + SparseMatVec.overhead} for x in xs]
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=64,
                       pe={"code_bits": 2, "rows": 4, "pointers": 8, "entries": 64,
                           "pipelined": pipelined, "xnor": True})
    p = {"loads": dut.binary_loads(signs, ptr_base=ptr_base), "ptr_base": ptr_base,
         "n_pe": n_pe, "acc_bits": 32, "runs": runs, "binary": 1,
         "read_latency": 2 if pipelined else 1}
    try:
        run_cocotb(dut, "spmv", "sim.tb.tb_spmv", sim=sim, params=p,
                   case=f"xnor_n{n_pe}d{depth}{'p' if pipelined else ''}")
    except SimulatorMissing as e:
        pytest.skip(str(e))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,pipelined", [("verilator", False), ("icarus", True)])
def test_binary_model_on_the_xnor_path_through_the_host_protocol(sim, pipelined):
    """A shared layer then binary layers, run from the image's sign words on the
    XNOR path (``engine_params`` builds it for the model), random stalls on both
    byte streams: every output equals engine_forward and every run's sparse
    cycles ``model_cycles(xnor=True)``."""
    from tests.test_hw_engine import binary_model  # noqa: PLC0415

    rng = np.random.default_rng(50)
    zm = binary_model(rng)
    xs = np.vstack([rng.integers(-128, 128, (3, 20)), np.zeros((1, 20), int)])
    try:
        r = simulate_model(zm, xs, sim=sim, n_pe=3, queue_depth=2, stall=0.3,
                           pipelined=pipelined, case=f"xnor_{sim}{'_p' if pipelined else ''}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert np.array_equal(r["outputs"], engine_forward(engine_model(zm), xs))
    assert r["info"]["xnor"]
    tail = SparseMatVec.overhead - 1
    for x, c in zip(xs, r["counters"]):
        phases = model_cycles(zm, x, n_pe=3, depth=2, pipelined=pipelined, xnor=True)
        assert c["mac_cycles"] == sum(p.mac_cycles + tail for p in phases)
        assert c["macs"] == sum(p.useful_macs for p in phases)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("raw,digit_bits", [(False, 8), (True, 8), (False, None)])
def test_sparse_layer(sim, raw, digit_bits):
    """A layer of a .zcm model through the sparse phase and the output stage
    (biases, requantization with ReLU by the serial or the pipelined requantizer,
    or the raw int32 sums of a last layer), against
    golden.hwmodel.engine.layer_forward, with random output stalls."""
    rng = np.random.default_rng(5)
    zm = two_layer_model(rng)
    em = engine_model(zm)
    x = quantize_input(em, rng.uniform(-1, 1, (3, 24)))
    x[1] = 0
    i = 1 if raw else 0
    xs = layer_forward(em.layers[0], x) if raw else x
    zl, el = zm.layers[i], em.layers[i]
    dut = SparseLayer(n_pe=3, queue_depth=2, max_len=32, max_rows=32, digit_bits=digit_bits,
                      pe={"code_bits": 3, "rows": 32, "pointers": 64, "entries": 512})
    p = {"loads": dut.spmv.loads(zl.codes, int8_codebook(zl)[0]),
         "bias": [int(b) for b in el.bias],
         "rq": [0] * zl.out if raw else [int(mm) | int(s) << 31
                                         for mm, s in zip(el.multiplier, el.shift)],
         "relu": int(el.relu), "raw": int(raw), "seed": 3, "stall": 0.3,
         "runs": [{"acts": [int(v) for v in xv], "expected": [int(v) for v in yv]}
                  for xv, yv in zip(xs, layer_forward(el, xs))]}
    try:
        run_cocotb(dut, "sparse_layer", "sim.tb.tb_layer", sim=sim, params=p,
                   case="raw" if raw else f"requant{digit_bits or 'p'}")
    except SimulatorMissing as e:
        pytest.skip(str(e))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,n_pe,depth,ram,pipelined",
                         [("verilator", 3, 2, None, False), ("icarus", 3, 2, None, False),
                          ("verilator", 4, 4, "spram", False), ("verilator", 4, 2, None, True),
                          ("icarus", 4, 2, None, True)])
def test_engine_through_the_host_protocol(sim, n_pe, depth, ram, pipelined):
    """The whole engine behind its byte protocol, random stalls on both byte streams:
    a layer narrower than the PEs, an all-zero layer, a dense one; every output
    equals engine_forward. Pipelined: SparsePE's ECP5 form."""
    rng = np.random.default_rng(n_pe + depth)
    zm = random_fc_model(rng, [12, 20, 3, 16, 5], [0.7, 0.5, 0.0, 1.0])
    xs = np.vstack([rng.integers(-128, 128, (4, 12)), np.zeros((1, 12), int)])
    try:
        r = simulate_model(zm, xs, sim=sim, n_pe=n_pe, queue_depth=depth, stall=0.3,
                           entry_ram=ram, pipelined=pipelined,
                           case=f"test_n{n_pe}_q{depth}_{ram}{'_p' if pipelined else ''}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert np.array_equal(r["outputs"], engine_forward(engine_model(zm), xs))
    assert r["info"]["n_pe"] == n_pe and r["info"]["queue_depth"] == depth
    tail = SparseMatVec.overhead - 1                 # busy cycles past the model's end
    for x, c in zip(xs, r["counters"]):
        phases = model_cycles(zm, x, n_pe=n_pe, depth=depth, pipelined=pipelined)
        assert c["mac_cycles"] == sum(p.mac_cycles + tail * p.phases for p in phases)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,uart", [("verilator", None), ("icarus", None), ("icarus", 4)])
def test_bad_images_on_the_rtl(sim, uart):
    """Every malformed-image class of test_hw_engine ends in its status on the generated
    Verilog too (and over the board's serial line), then a good image loads."""
    from tests.test_hw_engine import bad_images  # noqa: PLC0415

    zm = random_fc_model(np.random.default_rng(3), [12, 20, 5], [0.4, 0.5])
    good = memory_image(zm, 4)
    cases = [(image, code) for name, image, code in bad_images(good)
             if uart is None or name in ("bad magic", "truncated", "flipped bit", "shift 40")]
    try:
        n = check_bad_images(zm, cases, sim=sim, uart_divisor=uart,
                             case=f"bad_{'uart' if uart else 'bytes'}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert n == len(cases) >= 4


@pytest.mark.cocotb
def test_the_uart_top_on_icarus():
    """The board's UART top (UartEngine) runs a model over its serial line on Icarus."""
    rng = np.random.default_rng(9)
    zm = random_fc_model(rng, [12, 20, 5], [0.5, 0.5])
    xs = rng.integers(-128, 128, (3, 12))
    try:
        r = simulate_model(zm, xs, sim="icarus", n_pe=2, queue_depth=4, uart_divisor=4,
                           case="uart_test")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert np.array_equal(r["outputs"], engine_forward(engine_model(zm), xs))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
def test_convolutions_through_the_host_protocol(sim):
    """Two convolutions back to back, a pool and two fc layers on the generated
    Verilog, random stalls on both byte streams: every output equals
    engine_forward."""
    from tests.test_hw_engine import conv_chain  # noqa: PLC0415

    rng = np.random.default_rng(31)
    zm = conv_chain(rng)
    xs = np.vstack([rng.integers(-128, 128, (2, 105)), np.zeros((1, 105), int)])
    try:
        r = simulate_model(zm, xs, sim=sim, n_pe=3, queue_depth=2, stall=0.3,
                           case=f"conv_{sim}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert np.array_equal(r["outputs"], engine_forward(engine_model(zm), xs))
