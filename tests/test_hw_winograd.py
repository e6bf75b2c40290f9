"""WinogradTile in amaranth.sim: exact against direct 3x3 correlation and the
golden tile formula, with extreme operands and random stalls."""

import numpy as np
import pytest

from golden.hwmodel.compute import winograd_tile
from golden.winograd import conv2d_direct, kernel_transform_int
from hw.winograd import WinogradTile
from sim.amsim import stream_roundtrip


def tiles(rng, n, ab, wb):
    lo_a, hi_a = -(1 << (ab - 1)), (1 << (ab - 1)) - 1
    lo_w, hi_w = -(1 << (wb - 1)), (1 << (wb - 1)) - 1
    out = [(np.full((4, 4), lo_a), np.full((3, 3), lo_w)),          # largest positive output
           (np.full((4, 4), lo_a), np.full((3, 3), hi_w)),          # most negative
           (np.zeros((4, 4), int), rng.integers(lo_w, hi_w + 1, (3, 3)))]
    out += [(rng.integers(lo_a, hi_a + 1, (4, 4)), rng.integers(lo_w, hi_w + 1, (3, 3)))
            for _ in range(n)]
    return out


@pytest.mark.parametrize("ab,wb", [(8, 8), (4, 4), (8, 2)])
def test_winograd_tile_is_direct_convolution(ab, wb):
    rng = np.random.default_rng(ab * wb)
    cases = tiles(rng, 40, ab, wb)
    dut = WinogradTile(act_bits=ab, weight_bits=wb)
    items = [{"d": [int(x) for x in d.ravel()],
              "u": [int(x) for x in kernel_transform_int(g).ravel()]} for d, g in cases]
    assert all(abs(int(x)) < 1 << (dut.kernel_bits - 1) for it in items for x in it["u"])
    got = [[int(p[k]) for k in range(4)] for p in stream_roundtrip(dut, items, len(items), ab)]
    for (d, g), y in zip(cases, got):
        direct = conv2d_direct(d, g).ravel().tolist()
        assert y == direct
        assert y == winograd_tile(d, kernel_transform_int(g)).ravel().tolist()
    assert max(max(abs(x) for x in y) for y in got) >= 9 * (1 << (ab - 1)) * ((1 << (wb - 1)) - 1)
