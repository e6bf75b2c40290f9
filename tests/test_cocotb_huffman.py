"""HuffmanDecoder through the shared cocotb harness on Verilator and Icarus."""

import numpy as np
import pytest

from golden import huffman as H
from hw.huffman import HuffmanDecoder
from sim.harness import SimulatorMissing, run_cocotb


def job(symbols, lengths, width, count=None, error=0, encoded=None, code=None, short=None):
    """A job as golden.huffman interleaves it; ``symbols`` are those expected out.

    For corrupt jobs: ``encoded`` are the symbols actually coded, with the lengths
    ``code`` (a complete code whose extra symbol the decoder's code lacks);
    ``short`` takes one bit off that substream's count. The golden decoder must
    agree: the expected symbols, or an error of the expected kind.
    """
    encoded = symbols if encoded is None else encoded
    words, nbits = H.encode_interleaved(np.asarray(encoded), lengths if code is None else code,
                                        width)
    if short is not None:
        nbits[short] -= 1
    count = len(symbols) if count is None else count
    if error:
        kind = {2: "invalid code", 3: "runs past the end"}[error]
        with pytest.raises(H.HuffmanError, match=kind):
            H.decode_interleaved(words, nbits, lengths, count, width)
    else:
        assert H.decode_interleaved(words, nbits, lengths, count, width).tolist() == list(symbols)
    return {"symbols": [int(s) for s in symbols], "words": words, "nbits": nbits,
            "count": int(count), "error": error}


def cases():
    rng = np.random.default_rng(7)
    out = []
    # Random skewed 8-bit alphabet, 10-bit limit (the engine's default code), 16-bit words.
    f = (rng.zipf(1.5, 256) * (rng.random(256) < 0.7)).astype(int)
    f[3] += 1
    ln = H.code_lengths(f, 10)
    used = np.flatnonzero(ln)
    out.append(("skewed_l10_w16", dict(word_width=16, max_len=10, symbol_bits=8), ln,
                [job(rng.choice(used, 700), ln, 16), job(rng.choice(used, 1), ln, 16),
                 job([], ln, 16)]))
    # Maximum code length 16, 32-bit words, substreams ending mid-word.
    f16 = np.array([2**i for i in range(17)] + [1] * 15)
    ln16 = H.code_lengths(f16, 16)
    s16 = rng.choice(32, 333)
    s16[100:140] = 31                                  # 16-bit codes back to back
    out.append(("maxlen16_w32", dict(word_width=32, max_len=16, symbol_bits=5), ln16,
                [job(s16, ln16, 32), job(rng.choice(32, 57), ln16, 32)]))
    # A single-symbol alphabet.
    ln1 = np.zeros(16, dtype=int)
    ln1[11] = 1
    out.append(("single_symbol", dict(word_width=16, max_len=4, symbol_bits=4), ln1,
                [job([11] * 45, ln1, 16)]))
    # Corrupt streams: an invalid code in each substream, then a code running past
    # the end of each substream; a good stream between them.
    lnc = np.array([1, 2, 0, 0])
    seq = [0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0]
    bad = {at: seq[:at] + [2] + seq[at + 1:] for at in (7, 10)}   # 2 is coded '11'
    out.append(("corrupt", dict(word_width=16, max_len=4, symbol_bits=2), lnc,
                [job(seq[:7], lnc, 16, 12, 2, encoded=bad[7], code=[1, 2, 2, 0]),
                 job([0, 0, 1], lnc, 16),
                 job(seq[:10], lnc, 16, 12, 2, encoded=bad[10], code=[1, 2, 2, 0]),
                 job(seq[:10], lnc, 16, 12, 3, encoded=seq, short=0),
                 job(seq[:11], lnc, 16, 12, 3, encoded=seq, short=1)]))
    return out


CASES = cases()


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
@pytest.mark.parametrize("name,kw,lengths,jobs", CASES, ids=[c[0] for c in CASES])
def test_huffman_decoder(sim, name, kw, lengths, jobs):
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
        run_cocotb(HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2), "huffman_decoder",
                   "sim.tb.tb_huffman", sim=sim, params=params, case="bad_table")
    except SimulatorMissing as e:
        pytest.skip(str(e))
