"""Requantizer in amaranth.sim against golden.fixedpoint (the gemmlowp/TFLite
formulas), and the golden model against TFLite's reference arithmetic."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    requantize,
    rounding_divide_by_pot,
    srdhm,
)
from hw.requant import Requantizer
from sim.amsim import first_result_latency, run_testbenches, stream_roundtrip, stream_send


def c_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a, b):
    """gemmlowp fixedpoint.h, term for term, in Python integers."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbp(x, e):
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


int32 = st.integers(INT32_MIN, INT32_MAX)


@settings(max_examples=400, deadline=None)
@given(int32, int32)
def test_srdhm_matches_gemmlowp(a, b):
    assert int(srdhm(a, b)) == ref_srdhm(a, b)


@settings(max_examples=400, deadline=None)
@given(int32, st.integers(0, 31))
def test_rdbp_matches_gemmlowp(x, e):
    assert int(rounding_divide_by_pot(x, e)) == ref_rdbp(x, e)


@settings(max_examples=300, deadline=None)
@given(int32, st.integers(0, INT32_MAX))
def test_hardware_srdhm_identity(acc, m0):
    """The identity the Requantizer uses: SRDHM(acc, M0) = (P >> 31) + bit 30 of P."""
    p = acc * m0
    assert ref_srdhm(acc, m0) == (p >> 31) + ((p >> 30) & 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 32), 1 << 32), st.integers(1, 31))
def test_hardware_rdbp_identity(q, e):
    assert ref_rdbp(q, e) == (q + (1 << (e - 1)) - (q < 0)) >> e


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 32), 1 << 32), st.integers(0, 31))
def test_hardware_shift_then_round_identity(q, e):
    """The form the Requantizer's rounding stages compute: shift, then add one when
    the round bit is set and q is not negative or a lower bit is set."""
    r, b = q >> e, (q >> (e - 1)) & 1 if e else 0
    sticky = e >= 2 and (q & ((1 << (e - 1)) - 1)) != 0
    assert ref_rdbp(q, e) == r + (b & (q >= 0 or sticky))


@pytest.mark.parametrize("m", [1e-9, 0.0002, 0.25, 0.5, 0.7071, 0.999999999])
def test_quantize_multiplier_is_accurate(m):
    m0, shift = quantize_multiplier(m)
    if m0:
        assert (1 << 30) <= m0 < (1 << 31)
        assert abs(m0 * 2.0 ** -(31 + shift) - m) <= m * 2 ** -30
    with pytest.raises(ValueError):
        quantize_multiplier(1.0)


def cases(rng, n, acc_bits):
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    out = []
    edge_acc = [lo, hi, 0, -1, 1]
    edge_m = [0, (1 << 31) - 1, 1 << 30]
    for k in range(n):
        acc = edge_acc[k] if k < len(edge_acc) else int(rng.integers(lo, hi + 1))
        m0 = edge_m[k % 3] if k < 9 else int(rng.integers(0, 1 << 31))
        out.append({"acc": acc, "multiplier": m0, "shift": int(rng.integers(0, 32)) if k else 0,
                    "zero_point": int(rng.integers(-128, 128)), "relu": int(rng.integers(0, 2))})
    return out


@pytest.mark.parametrize("digit_bits", [1, 2, 3, 16, 31, None])
@pytest.mark.parametrize("acc_bits", [32, 21, 20, 12])
def test_requantizer(digit_bits, acc_bits):
    rng = np.random.default_rng((digit_bits or 0) + acc_bits)
    items = cases(rng, 80, acc_bits)
    # saturation both ways and ReLU at the zero point
    items += [{"acc": (1 << (acc_bits - 1)) - 1, "multiplier": (1 << 31) - 1, "shift": 0,
               "zero_point": 5, "relu": 0},
              {"acc": -(1 << (acc_bits - 1)), "multiplier": (1 << 31) - 1, "shift": 0,
               "zero_point": -5, "relu": 0},
              {"acc": -1000, "multiplier": 1 << 30, "shift": 2, "zero_point": -7, "relu": 1}]
    dut = Requantizer(acc_bits=acc_bits, digit_bits=digit_bits)
    got = [int(p) for p in stream_roundtrip(dut, items, len(items), digit_bits)]
    want = [int(requantize(c["acc"], c["multiplier"], c["shift"], c["zero_point"],
                           relu=bool(c["relu"]))) for c in items]
    assert got == want
    assert {127, -128} <= set(want)


def in_range_cases(rng, n):
    """Accumulators whose results land inside int8 or just outside it, at every
    shift, with exact rounding ties (M0 = 2**30 halves q exactly)."""
    out = []
    for k in range(n):
        e = k % 32
        m0 = 1 << 30 if k % 4 == 0 else int(rng.integers(1 << 30, 1 << 31))
        y = int(rng.integers(-140, 141))
        if k % 4 == 0:                           # q = acc / 2: a tie when e >= 1
            acc = 2 * ((y << e) + ((1 << e) >> 1)) * (1 if k % 8 else -1)
        else:
            acc = round(y * 2.0 ** (31 + e) / m0) + int(rng.integers(-3, 4))
        acc = max(INT32_MIN, min(INT32_MAX, acc))
        out.append({"acc": acc, "multiplier": m0, "shift": e,
                    "zero_point": int(rng.integers(-20, 21)) if k % 3 == 0 else 0,
                    "relu": int(k % 5 == 0)})
    return out


@pytest.mark.parametrize("digit_bits", [1, 8, None])
def test_requantizer_rounds_and_clamps_near_the_int8_range(digit_bits):
    items = in_range_cases(np.random.default_rng(7), 256)
    dut = Requantizer(digit_bits=digit_bits)
    got = [int(p) for p in stream_roundtrip(dut, items, len(items), 3)]
    want = [int(requantize(c["acc"], c["multiplier"], c["shift"], c["zero_point"],
                           relu=bool(c["relu"]))) for c in items]
    assert got == want
    inside = sum(-128 < w < 127 for w in want)
    assert inside > len(items) // 2            # most results are not clamped


def test_fixed_constants_read_from_the_input_at_each_stage():
    """``fixed_constants``: batches that each share one set of constants (as a
    layer does), with stalls; a new set only once the pipeline has drained."""
    rng = np.random.default_rng(5)
    for k, base in enumerate(in_range_cases(rng, 6)):
        m0, e = base["multiplier"], base["shift"]
        accs = [round(int(y) * 2.0 ** (31 + e) / m0) + int(j)
                for y, j in zip(rng.integers(-140, 141, 40), rng.integers(-3, 4, 40))]
        items = [{**base, "acc": max(-(1 << 25), min((1 << 25) - 1, a))} for a in accs]
        dut = Requantizer(acc_bits=26, digit_bits=None, fixed_constants=True)
        got = [int(p) for p in stream_roundtrip(dut, items, len(items), k)]
        want = [int(requantize(c["acc"], c["multiplier"], c["shift"], c["zero_point"],
                               relu=bool(c["relu"]))) for c in items]
        assert got == want
        assert sum(-128 < w < 127 for w in want) > 10      # not all clamped
    with pytest.raises(TypeError, match="fixed_constants"):
        Requantizer(digit_bits=8, fixed_constants=True)


@pytest.mark.parametrize("digit_bits", [8, None])
def test_requantizer_throughput(digit_bits):
    dut = Requantizer(digit_bits=digit_bits)
    n = 12
    items = [{"acc": 1000 * k, "multiplier": 1 << 30, "shift": 3, "zero_point": 0, "relu": 0}
             for k in range(n)]
    t = {}

    async def producer(ctx):
        await stream_send(ctx, dut.i, items)

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycles = 0
        seen = []
        while len(seen) < n:
            await ctx.tick()
            cycles += 1
            if ctx.get(dut.o.valid):
                seen.append(cycles)
        t["gap"] = seen[-1] - seen[-2]

    run_testbenches(dut, producer, consumer)
    # A load cycle and the digit cycles; one per cycle for the whole product.
    assert t["gap"] == dut.cycles_per_result == (1 if digit_bits is None else 5)


@pytest.mark.parametrize("digit_bits", [1, 2, 8, None])
def test_requantizer_latency(digit_bits):
    dut = Requantizer(digit_bits=digit_bits)
    latency, _ = first_result_latency(dut, {"acc": 5, "multiplier": 1 << 30, "shift": 0,
                                            "zero_point": 0, "relu": 0})
    assert latency == dut.latency
    if digit_bits is not None:
        assert latency == dut.cycles_per_result - 1 + 6 + 2 * (digit_bits == 1)
