"""MACArray in amaranth.sim against golden.hwmodel.compute.mac_lanes: every kind
and width, extreme operands, random stalls on both sides."""


import numpy as np
import pytest

from golden.hwmodel.compute import mac_lanes, weight_range
from hw.mac import MACArray
from sim.amsim import first_result_latency, run_testbenches, stream_roundtrip


def operands(rng, kind, wb, ab, terms, lanes):
    lo, hi = weight_range(kind, wb)
    w = rng.integers(lo, hi + 1, (terms, lanes))
    a = rng.integers(-(1 << (ab - 1)), 1 << (ab - 1), (terms, lanes))
    return w, a


def run_mac(dut, vectors, seed, idle=0.3, stall=0.3):
    """Drive (w, a) term arrays, one dot product each; return the results."""
    items = []
    for w, a in vectors:
        for t in range(len(w)):
            items.append({"w": [int(x) for x in w[t]], "a": [int(x) for x in a[t]],
                          "last": int(t == len(w) - 1)})
    out = stream_roundtrip(dut, items, len(vectors), seed, idle, stall)
    return [[int(p[k]) for k in range(dut.lanes)] for p in out]


@pytest.mark.parametrize("kind,wb,ab", [("int", 2, 4), ("int", 4, 8), ("int", 8, 8),
                                        ("int", 16, 8), ("int", 8, 4), ("binary", 1, 8),
                                        ("ternary", 2, 4), ("ternary", 2, 8)])
def test_mac_kinds(kind, wb, ab):
    rng = np.random.default_rng(wb * 10 + ab)
    lanes, max_len = 3, 20
    dut = MACArray(lanes=lanes, weight_bits=wb, act_bits=ab, max_len=max_len, kind=kind)
    vectors = [operands(rng, kind, wb, ab, int(n), lanes) for n in (1, 5, 20, 2, 13, 1)]
    lo, hi = weight_range(kind, wb)
    amin = -(1 << (ab - 1))
    # the extreme: max_len products of the most negative weight and activation
    vectors.append((np.full((max_len, lanes), lo), np.full((max_len, lanes), amin)))
    vectors.append((np.full((max_len, lanes), hi), np.full((max_len, lanes), amin)))
    got = run_mac(dut, vectors, seed=wb)
    want = [list(mac_lanes(w, a, kind)) for w, a in vectors]
    assert got == want


def test_mac_wraps_past_max_len_like_golden():
    dut = MACArray(lanes=2, weight_bits=8, act_bits=8, max_len=2)
    w = np.full((9, 2), -128)
    a = np.full((9, 2), -128)
    got = run_mac(dut, [(w, a)], seed=0, idle=0, stall=0)
    assert got == [list(mac_lanes(w, a, "int", bits=dut.acc_bits))]
    assert got != [list(mac_lanes(w, a, "int"))]


def test_mac_sustains_one_term_per_cycle():
    dut = MACArray(lanes=4, weight_bits=4, act_bits=4, max_len=64)
    n = 64
    w = np.ones((n, 4), dtype=int)
    a = np.ones((n, 4), dtype=int)
    cycles = {}

    async def producer(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        t = 0
        for k in range(n):
            ctx.set(dut.i.payload, {"w": [1] * 4, "a": [1] * 4, "last": int(k == n - 1)})
            await ctx.tick()
            t += 1
        ctx.set(dut.i.valid, 0)
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            t += 1
        cycles["t"] = t
        cycles["sum"] = [ctx.get(dut.o.payload[k]) for k in range(4)]

    run_testbenches(dut, producer)
    assert cycles["sum"] == list(mac_lanes(w, a))
    assert cycles["t"] == n + 2          # n transfers back to back, result 3 cycles after the last


@pytest.mark.parametrize("kw", [dict(kind="bogus"), dict(weight_bits=3), dict(act_bits=6),
                                dict(lanes=0), dict(max_len=0),
                                dict(dsp="sb_mac16", weight_bits=16),
                                dict(dsp="sb_mac16", lanes=3), dict(dsp="dsp48")])
def test_mac_rejects_bad_parameters(kw):
    with pytest.raises((TypeError, ValueError)):
        MACArray(**kw)


# ---------------------------------------------------------------- XnorPopcount, Threshold

from golden.hwmodel.compute import fold_bn_threshold, threshold, xnor_popcount  # noqa: E402
from hw.threshold import Threshold  # noqa: E402
from hw.xnor import XnorPopcount  # noqa: E402


def bits_to_int(bits):
    return int(sum(int(b) << j for j, b in enumerate(bits)))


# Leaf counts 2, 3, 11 and 22: a plain pair, a three-way merge at the first
# level, and odd levels deeper in the tree.
@pytest.mark.parametrize("width,lanes", [(4, 1), (8, 3), (32, 2), (64, 1)])
def test_xnor_popcount(width, lanes):
    rng = np.random.default_rng(width)
    max_len = 6
    dut = XnorPopcount(width=width, lanes=lanes, max_len=max_len)
    dots = []
    for n in (1, 3, max_len, 2):
        dots.append((rng.integers(0, 2, (n, lanes, width)), rng.integers(0, 2, (n, lanes, width))))
    ones = np.ones((max_len, lanes, width), dtype=int)
    dots += [(ones, ones), (ones, 0 * ones), (0 * ones, 0 * ones)]     # +n, -n, +n
    items = []
    for w, a in dots:
        for t in range(len(w)):
            items.append({"w": [bits_to_int(w[t, k]) for k in range(lanes)],
                          "a": [bits_to_int(a[t, k]) for k in range(lanes)],
                          "last": int(t == len(w) - 1)})
    got = [[int(p[k]) for k in range(lanes)]
           for p in stream_roundtrip(dut, items, len(dots), seed=width)]
    assert got == [list(xnor_popcount(w, a)) for w, a in dots]
    assert got[-3][0] == max_len * width and got[-2][0] == -max_len * width


@pytest.mark.parametrize("kw", [{"width": 48}, {"width": 2}, {"lanes": 0},
                                {"max_len": 0}, {"carry": "yosys"}])
def test_xnor_rejects_bad_parameters(kw):
    with pytest.raises((TypeError, ValueError)):
        XnorPopcount(**kw)


@pytest.mark.parametrize("width,levels", [(4, 1), (8, 1), (16, 2), (64, 4), (1024, 8)])
def test_xnor_latency(width, levels):
    """A one-transfer dot product appears ``latency`` cycles after it is taken:
    the leaf stage, one stage per adder level, the accumulator."""
    dut = XnorPopcount(width=width, lanes=1, max_len=2)
    latency, value = first_result_latency(dut, {"w": [0], "a": [0], "last": 1})
    assert latency == dut.latency == levels + 2
    assert value[0] == width


def test_threshold_folds_batch_norm():
    rng = np.random.default_rng(5)
    lanes, acc_bits = 4, 10
    gamma = np.array([1.5, -0.7, 0.0, 0.0])
    beta = np.array([0.3, 0.2, 1.0, -1.0])
    mean = rng.normal(0, 50, lanes)
    var = rng.uniform(0.5, 4, lanes)
    tau, flip = fold_bn_threshold(gamma, beta, mean, var)
    lim = 1 << (acc_bits - 1)
    tau_hw = np.clip(tau, -lim, lim)
    accs = rng.integers(-lim, lim, (60, lanes))
    accs[0] = -lim
    accs[1] = lim - 1
    accs[2] = np.clip(tau, -lim, lim - 1)            # on the threshold
    dut = Threshold(lanes=lanes, acc_bits=acc_bits)
    items = [{"acc": [int(x) for x in row], "tau": [int(t) for t in tau_hw],
              "flip": bits_to_int(flip)} for row in accs]
    got = [[(int(p) >> k) & 1 for k in range(lanes)]
           for p in stream_roundtrip(dut, items, len(items), seed=1)]
    want = threshold(accs, tau, flip)
    assert got == want.tolist()
    # and the fold agrees with batch norm + sign evaluated directly
    direct = (gamma * (accs - mean) / np.sqrt(var + 1e-5) + beta) >= 0
    assert (want == direct).all()
