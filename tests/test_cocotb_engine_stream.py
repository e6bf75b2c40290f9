"""The stream-form engine (``Engine(form="stream")``) on Verilator and Icarus,
through its byte protocol: random models with random stalls on both byte
streams, bit-exact against ``golden.hwmodel.engine`` with the cycle model's
sparse phases exact; and corrupt stream images, each ending in the status the
host reads back (at load, or at run for a stream that only decoding finds)."""

import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from golden.hwmodel.cycles import model_cycles
from golden.hwmodel.engine import engine_forward, engine_model
from golden.hwmodel.image import memory_image, read_image, unpack_code_lengths
from golden.hwmodel.stream import decoder_table, stream_bits_of
from hw.engine import engine_params
from hw.spmv import SparseMatVec
from sim.engine import _engine_top, random_fc_model, simulate_model
from sim.harness import SimulatorMissing, run_cocotb

HEADER, DESC = 16, 32


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,n_pe,depth", [("verilator", 4, 8), ("icarus", 3, 2),
                                            ("verilator", 5, 1)])
def test_stream_engine_through_the_host_protocol(sim, n_pe, depth):
    """A layer narrower than the PEs, an all-zero layer, a dense one and a zero
    input: every output equals engine_forward, every sparse phase the model's."""
    rng = np.random.default_rng(n_pe + depth)
    zm = random_fc_model(rng, [12, 20, 3, 16, 5], [0.7, 0.5, 0.0, 1.0])
    xs = np.vstack([rng.integers(-128, 128, (4, 12)), np.zeros((1, 12), int)])
    try:
        r = simulate_model(zm, xs, sim=sim, n_pe=n_pe, queue_depth=depth, stall=0.3,
                           form="stream", case=f"stream_n{n_pe}_q{depth}")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert np.array_equal(r["outputs"], engine_forward(engine_model(zm), xs))
    assert r["info"]["sym_bits"] == 9
    tail = SparseMatVec.stream_overhead - 1
    for x, c in zip(xs, r["counters"]):
        phases = model_cycles(zm, x, n_pe=n_pe, depth=depth, form="stream")
        assert c["mac_cycles"] == sum(p.mac_cycles + tail * p.phases for p in phases)


def _seal(w: np.ndarray) -> bytes:
    """The image words ``w`` with their CRC recomputed."""
    crc = zlib.crc32(w[HEADER:].astype("<u2").tobytes())
    w[8], w[9] = crc & 0xFFFF, crc >> 16
    return w.astype("<u2").tobytes()


def _set_bits(w: np.ndarray, start: int, width: int, value: int):
    """Write ``value`` into ``width`` bits at bit ``start`` of the word array
    ``w`` (MSB first)."""
    for i in range(width):
        b = start + i
        bit = value >> (width - 1 - i) & 1
        w[b // 16] = (int(w[b // 16]) & ~(1 << (15 - b % 16))) | bit << (15 - b % 16)


def _field(w, start, width):
    return int("".join(str(int(v)) for v in stream_bits_of(w)[start:start + width]), 2)


def _u32(w, a):
    return int(w[a]) | int(w[a + 1]) << 16


def _token_of(w, d, symbol: int) -> int:
    """The bit position of ``symbol``'s length token in layer ``d``'s code lengths."""
    pos, s = _u32(w, d + 28) * 16, 0
    while True:
        t = _field(w, pos, 5)
        if s == symbol:
            assert t <= 16
            return pos
        s += 1 if t <= 16 else t - 15
        pos += 5


def corrupt_stream_images(zm, n_pe: int) -> list[tuple[str, bytes, str, str]]:
    """``(name, image, load status, run status)`` for corruptions of layer 0 of
    ``zm``'s stream image (CRC recomputed): a code past its segment and a
    pattern that is no code (found only when the layer runs), lengths whose
    sum is not the stream's words, over-subscribed code lengths, and the
    expanded form's image."""
    params = engine_params(zm, n_pe=n_pe, form="stream")
    good = memory_image(zm, n_pe, code_field=params["pe"]["code_bits"], form="stream",
                        binary_as_entries=True)
    img = read_image(good)
    sl = img.streams[0]
    w0 = np.frombuffer(good, dtype="<u2").astype(np.int64)
    d = HEADER
    table = _u32(w0, d + 30) * 16
    lb, inp = sl.len_bits, sl.seg_bits.shape[1]
    out = []

    def field_at(k, j):
        return table + (j * n_pe + k) * lb

    # A segment one bit short, the next one of its PE one bit longer: the same
    # words, but the short segment's last code runs past its end.
    segs = sl.seg_bits[0]
    j1 = next(j for j in range(inp) if segs[j] >= 2)
    j2 = next(j for j in range(j1 + 1, inp) if 0 < segs[j] < (1 << lb) - 1)
    w = w0.copy()
    _set_bits(w, field_at(0, j1), lb, int(segs[j1]) - 1)
    _set_bits(w, field_at(0, j2), lb, int(segs[j2]) + 1)
    out.append(("code past its segment", _seal(w), "OK", "BAD_STREAM"))
    # The last code in canonical order unused: its pattern is no code, every
    # other code is unchanged.
    lengths, _ = unpack_code_lengths(w0[_u32(w0, d + 28):], 1 << (sl.gap_bits + sl.code_bits))
    _, _, order = decoder_table(lengths, 9)
    w = w0.copy()
    _set_bits(w, _token_of(w, d, order[-1]), 5, 0)
    out.append(("no code", _seal(w), "OK", "BAD_STREAM"))
    # The first PE's last segment 16 bits longer: a stream word more than it has.
    jl = max(j for j in range(inp) if segs[j] < (1 << lb) - 16) if (1 << lb) > 16 else None
    if jl is not None:
        w = w0.copy()
        _set_bits(w, field_at(0, jl), lb, int(segs[jl]) + 16)
        out.append(("offset past the end", _seal(w), "IMG_FIELD", "OK"))
    # The shortest code one bit shorter: the lengths are over-subscribed.
    s = int(np.argmin(np.where(lengths > 0, lengths, 99)))
    w = w0.copy()
    _set_bits(w, _token_of(w, d, s), 5, int(lengths[s]) - 1)
    out.append(("over-subscribed", _seal(w), "IMG_FIELD", "OK"))
    expanded = memory_image(zm, n_pe, code_field=params["pe"]["code_bits"])
    out.append(("expanded image", expanded, "IMG_VERSION", "OK"))
    return out


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_corrupt_streams_end_in_their_status_through_the_host_link(sim):
    n_pe = 4
    rng = np.random.default_rng(11)
    zm = random_fc_model(rng, [24, 20, 6], [0.6, 0.6])
    x = rng.integers(1, 128, 24)                  # every column of layer 0 runs
    cases = corrupt_stream_images(zm, n_pe)
    assert len(cases) == 5
    good, top = _engine_top(zm, n_pe=n_pe, form="stream")
    expect = engine_forward(engine_model(zm), x[None, :])[0].tolist()
    with tempfile.TemporaryDirectory(prefix="zipcore-stream-bad-") as tmp:
        tmp = Path(tmp)
        (tmp / "good.zimg").write_bytes(good)
        bad = []
        for k, (_, image, want_load, want_run) in enumerate(cases):
            (tmp / f"bad{k}.zimg").write_bytes(image)
            bad.append((str(tmp / f"bad{k}.zimg"), want_load, want_run))
        try:
            run_cocotb(top, "engine", "sim.tb.tb_engine", sim=sim, case="stream_bad",
                       testcase="stream_errors_end_in_their_status",
                       params={"image": str(tmp / "good.zimg"), "bad": bad,
                               "input": x.tolist(), "expect": expect, "stall": 0.2})
        except SimulatorMissing as e:
            pytest.skip(str(e))
