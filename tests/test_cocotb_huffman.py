"""HuffmanDecoder through the shared cocotb harness on Verilator and Icarus."""

import numpy as np
import pytest

from golden import huffman as H
from hw.huffman import HuffmanDecoder
from sim.harness import SimulatorMissing, run_cocotb


def job(symbols, lengths, width, nbits_delta=0, count=None, error=0, tail_bits=()):
    data, nbits = H.encode(np.asarray(symbols), lengths)
    if tail_bits:
        bits = np.unpackbits(data)[:nbits].tolist() + list(tail_bits)
        data, nbits = np.packbits(np.array(bits, dtype=np.uint8)), len(bits)
    nbits += nbits_delta
    return {"symbols": [int(s) for s in symbols], "words": H.to_words(data, nbits, width),
            "nbits": int(nbits), "count": int(count if count is not None else len(symbols)),
            "error": error}


def cases():
    rng = np.random.default_rng(7)
    out = []
    # Random skewed 8-bit alphabet, 10-bit limit (the engine's default code), 32-bit words.
    f = (rng.zipf(1.5, 256) * (rng.random(256) < 0.7)).astype(int)
    f[3] += 1
    ln = H.code_lengths(f, 10)
    used = np.flatnonzero(ln)
    out.append(("skewed_l10_w32", dict(word_width=32, max_len=10, symbol_bits=8), ln,
                [job(rng.choice(used, 700), ln, 32), job(rng.choice(used, 1), ln, 32)]))
    # Maximum code length 16 and streams ending mid-word.
    f16 = np.array([2**i for i in range(17)] + [1] * 15)
    ln16 = H.code_lengths(f16, 16)
    out.append(("maxlen16_w16", dict(word_width=16, max_len=16, symbol_bits=5), ln16,
                [job(rng.choice(32, 333), ln16, 16), job(rng.choice(32, 57), ln16, 16)]))
    # A single-symbol alphabet.
    ln1 = np.zeros(16, dtype=int)
    ln1[11] = 1
    out.append(("single_symbol", dict(word_width=8, max_len=4, symbol_bits=4), ln1,
                [job([11] * 45, ln1, 8)]))
    # Corrupt streams: an invalid code, then a code running past the end.
    lnc = np.array([1, 2, 0, 0])
    out.append(("corrupt", dict(word_width=8, max_len=4, symbol_bits=2), lnc,
                [job([0, 1, 0, 1], lnc, 8, count=9, error=2, tail_bits=(1, 1, 0, 0)),
                 job([0, 0, 1], lnc, 8),
                 job([1, 1], lnc, 8, nbits_delta=-1, count=3, error=3)]))
    return out


CASES = cases()


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
@pytest.mark.parametrize("name,kw,lengths,jobs", CASES, ids=[c[0] for c in CASES])
def test_huffman_decoder(sim, name, kw, lengths, jobs):
    # An errored job's expected symbols are those before the bad code only.
    for j in jobs:
        if j["error"] == 3:
            j["symbols"] = j["symbols"][:1]
    params = {"seed": 11, "idle": 0.3, "stall": 0.3, "lengths": [int(v) for v in lengths],
              "jobs": jobs}
    try:
        r = run_cocotb(HuffmanDecoder(**kw), "huffman_decoder", "sim.tb.tb_huffman", sim=sim,
                       params=params, case=name)
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert r.failed == 0 and r.tests == 1


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_over_subscribed_table(sim):
    params = {"seed": 1, "idle": 0, "stall": 0, "lengths": [1, 1, 1, 0], "jobs": [],
              "build_error": 1}
    try:
        run_cocotb(HuffmanDecoder(word_width=8, max_len=4, symbol_bits=2), "huffman_decoder",
                   "sim.tb.tb_huffman", sim=sim, params=params, case="bad_table")
    except SimulatorMissing as e:
        pytest.skip(str(e))
