"""The compute blocks on Verilator and Icarus through the shared harness, against
the golden models, with random stalls on both sides. MACArray's SB_MAC16
variant runs against the SB_MAC16 model that ships with Yosys."""

import numpy as np
import pytest
from amaranth.lib import data

from golden.fixedpoint import requantize
from golden.hwmodel.compute import (
    fold_bn_threshold,
    mac_lanes,
    threshold,
    weight_range,
    winograd_tile,
    xnor_popcount,
)
from golden.winograd import kernel_transform_int
from hw.mac import MACArray
from hw.requant import Requantizer
from hw.threshold import Threshold
from hw.winograd import WinogradTile
from hw.xnor import XnorPopcount
from sim.harness import SimulatorMissing, run_cocotb

SIMS = ["verilator", "icarus"]


def flat(component, port, value):
    """A payload value as the flat integer on the Verilog bus."""
    shape = component.signature.members[port].signature.members["payload"].shape
    if isinstance(shape, data.Layout):
        return int(shape.const(value).as_value().value)
    return int(value) & ((1 << shape.width) - 1)


def run(component, top, case, sim, items, expected, cells=()):
    p = {"seed": 5, "idle": 0.3, "stall": 0.3, "sink": "o",
         "sources": {"i": [flat(component, "i", v) for v in items]},
         "expected": [flat(component, "o", v) for v in expected]}
    try:
        run_cocotb(component, top, "sim.tb.tb_streams", sim=sim, params=p, case=case,
                   cells=cells)
    except SimulatorMissing as e:
        pytest.skip(str(e))


def mac_items(w, a):
    return [{"w": [int(x) for x in w[t]], "a": [int(x) for x in a[t]],
             "last": int(t == len(w) - 1)} for t in range(len(w))]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("kind,wb,ab,dsp", [("int", 8, 8, "sb_mac16"), ("int", 4, 4, None),
                                            ("int", 2, 8, "sb_mac16"), ("binary", 1, 8, None),
                                            ("ternary", 2, 4, None)])
def test_mac(sim, kind, wb, ab, dsp):
    rng = np.random.default_rng(wb + ab)
    lanes, max_len = 4, 32
    dut = MACArray(lanes=lanes, weight_bits=wb, act_bits=ab, max_len=max_len, kind=kind,
                   dsp=dsp)
    lo, hi = weight_range(kind, wb)
    amin, amax = -(1 << (ab - 1)), (1 << (ab - 1)) - 1
    dots = [(rng.integers(lo, hi + 1, (n, lanes)), rng.integers(amin, amax + 1, (n, lanes)))
            for n in (1, 7, max_len, 3, 1, 20)]
    dots += [(np.full((max_len, lanes), lo), np.full((max_len, lanes), amin)),
             (np.full((max_len, lanes), hi), np.full((max_len, lanes), amin))]
    items = [it for w, a in dots for it in mac_items(w, a)]
    expected = [[int(x) for x in mac_lanes(w, a, kind)] for w, a in dots]
    cells = (("ice40", "SB_MAC16"),) if dsp else ()
    run(dut, "mac", f"{kind}{wb}x{ab}{dsp or ''}", sim, items, expected, cells)


def bits(v):
    return int(sum(int(b) << j for j, b in enumerate(v)))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("width,lanes,carry", [(16, 2, None), (32, 1, "sb_carry")])
def test_xnor(sim, width, lanes, carry):
    """The SB_CARRY variant runs against Yosys's SB_LUT4 and SB_CARRY models."""
    rng = np.random.default_rng(3)
    max_len = 8
    dut = XnorPopcount(width=width, lanes=lanes, max_len=max_len, carry=carry)
    dots = [(rng.integers(0, 2, (n, lanes, width)), rng.integers(0, 2, (n, lanes, width)))
            for n in (1, 5, max_len, 2)]
    ones = np.ones((max_len, lanes, width), dtype=int)
    dots += [(ones, ones), (ones, 0 * ones)]
    items = [{"w": [bits(w[t, k]) for k in range(lanes)],
              "a": [bits(a[t, k]) for k in range(lanes)], "last": int(t == len(w) - 1)}
             for w, a in dots for t in range(len(w))]
    expected = [[int(x) for x in xnor_popcount(w, a)] for w, a in dots]
    cells = (("ice40", "SB_LUT4"), ("ice40", "SB_CARRY")) if carry else ()
    run(dut, "xnor", f"w{width}l{lanes}{carry or ''}", sim, items, expected, cells)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
def test_threshold(sim):
    rng = np.random.default_rng(4)
    lanes, acc_bits = 3, 12
    lim = 1 << (acc_bits - 1)
    tau, flip = fold_bn_threshold(rng.normal(0, 1, lanes), rng.normal(0, 1, lanes),
                                  rng.normal(0, 300, lanes), rng.uniform(0.5, 3, lanes))
    tau = np.clip(tau, -lim, lim)
    accs = rng.integers(-lim, lim, (80, lanes))
    accs[0], accs[1] = -lim, lim - 1
    accs[2] = np.clip(tau, -lim, lim - 1)
    dut = Threshold(lanes=lanes, acc_bits=acc_bits)
    items = [{"acc": [int(x) for x in row], "tau": [int(t) for t in tau], "flip": bits(flip)}
             for row in accs]
    expected = [bits(threshold(row, tau, flip)) for row in accs]
    run(dut, "threshold", "l3", sim, items, expected)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("digit_bits,acc_bits", [(8, 32), (1, 32), (1, 20), (None, 32),
                                                 (None, 20)])
def test_requantizer(sim, digit_bits, acc_bits):
    """8-bit digits (a multiplier), 1-bit digits (the carry-save serial sum with its
    offset correction, at full and at a narrower accumulator width) and the whole
    product at once (four partial products, pipelined)."""
    rng = np.random.default_rng(6 + (digit_bits or 40) + acc_bits)
    top = 1 << (acc_bits - 1)
    items = []
    for k in range(60):
        items.append({"acc": int(rng.integers(-top, top)) if k > 2 else [-top, top - 1, 0][k],
                      "multiplier": int(rng.integers(0, 1 << 31)) if k % 5 else (1 << 31) - 1,
                      "shift": int(rng.integers(0, 32)) if k % 3 else 0,
                      "zero_point": int(rng.integers(-128, 128)), "relu": int(k % 2)})
    dut = Requantizer(digit_bits=digit_bits, acc_bits=acc_bits)
    expected = [int(requantize(c["acc"], c["multiplier"], c["shift"], c["zero_point"],
                               relu=bool(c["relu"]))) for c in items]
    assert {127, -128} <= set(expected)
    run(dut, "requant", f"d{digit_bits}a{acc_bits}", sim, items, expected)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("ab,wb,dsp", [(8, 8, None), (6, 4, "sb_mac16")])
def test_winograd(sim, ab, wb, dsp):
    rng = np.random.default_rng(7)
    amin, wmin = -(1 << (ab - 1)), -(1 << (wb - 1))
    cases = [(np.full((4, 4), amin), np.full((3, 3), wmin)),
             (np.full((4, 4), amin), np.full((3, 3), -wmin - 1))]
    cases += [(rng.integers(amin, -amin, (4, 4)), rng.integers(wmin, -wmin, (3, 3)))
              for _ in range(40)]
    dut = WinogradTile(act_bits=ab, weight_bits=wb, dsp=dsp)
    items = [{"d": [int(x) for x in d.ravel()],
              "u": [int(x) for x in kernel_transform_int(g).ravel()]} for d, g in cases]
    expected = [[int(x) for x in winograd_tile(d, kernel_transform_int(g)).ravel()]
                for d, g in cases]
    cells = (("ice40", "SB_MAC16"),) if dsp else ()
    run(dut, "winograd", f"a{ab}w{wb}{dsp or ''}", sim, items, expected, cells)
