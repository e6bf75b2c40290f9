"""HuffmanDecoder in amaranth.sim against golden.huffman's interleaved streams:
random codes, stalls on both sides, maximum code lengths, a single-symbol
alphabet, skewed codes, substreams ending mid-word, padding words, corrupt
streams and bad tables."""

import random

import numpy as np
import pytest

from golden import huffman as H
from hw.huffman import HuffmanDecoder, HuffmanError
from sim.amsim import pulse_and_wait, run_testbenches, stream_collect, stream_send


async def load_code(ctx, dut, lengths):
    for s, ln in enumerate(lengths):
        ctx.set(dut.len_we, 1)
        ctx.set(dut.len_addr, s)
        ctx.set(dut.len_data, int(ln))
        await ctx.tick()
    ctx.set(dut.len_we, 0)
    return await pulse_and_wait(ctx, dut.build, dut.busy, max_cycles=19_999,
                                what="the table build")


async def start(ctx, dut, count, nbits):
    ctx.set(dut.count, count)
    ctx.set(dut.nbits, list(nbits))
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)


def run(dut, lengths, jobs, *, idle=0.0, stall=0.0, seed=0, expect_error=None,
        timeout=200_000):
    """``jobs``: list of (expected symbols, words, nbits per substream, count)."""
    results = {"outputs": [], "errors": [], "done": []}
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)

    async def control(ctx):
        await load_code(ctx, dut, lengths)
        assert ctx.get(dut.error) == HuffmanError.NONE
        for _, words, nbits, count in jobs:
            await start(ctx, dut, count, nbits)
            await stream_send(ctx, dut.i, words, rng_in, idle) if words else None
            waited = 0
            while ctx.get(dut.busy):
                await ctx.tick()
                waited += 1
                assert waited < timeout, "decoder still busy: hang"
            results["errors"].append(ctx.get(dut.error))
            results["done"].append(ctx.get(dut.done))

    async def consumer(ctx):
        for sym, _, _, count in jobs:
            n = count if expect_error is None else len(sym)
            results["outputs"].append(await stream_collect(ctx, dut.o, n, rng_out, stall))
        if expect_error:
            # After the good symbols: nothing more, ever (no garbage after an error).
            ctx.set(dut.o.ready, 1)
            for _ in range(50):
                await ctx.tick()
                assert not ctx.get(dut.o.valid), "output after a stream error"

    run_testbenches(dut, control, consumer)
    return results


def code_for(freqs, max_len):
    return H.code_lengths(np.asarray(freqs), max_len)


def job(sym, lengths, width, count=None):
    """A job of ``sym`` as the golden encoder interleaves it, checked against the
    golden decoder first."""
    words, nbits = H.encode_interleaved(sym, lengths, width)
    count = len(sym) if count is None else count
    if count == len(sym):
        assert H.decode_interleaved(words, nbits, lengths, count, width).tolist() == list(sym)
    return (np.asarray(sym), words, nbits, count)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("width,max_len,sbits", [(32, 16, 6), (16, 10, 8), (16, 12, 4)])
def test_random_codes_with_stalls(seed, width, max_len, sbits):
    rng = np.random.default_rng(seed)
    n = 1 << sbits
    freqs = rng.integers(0, 50, n) * (rng.random(n) < 0.8)
    freqs[rng.integers(0, n)] += 1
    lengths = code_for(freqs, max_len)
    jobs = [job(rng.choice(np.flatnonzero(lengths), size=int(rng.integers(0, 120))), lengths,
                width) for _ in range(3)]
    dut = HuffmanDecoder(word_width=width, max_len=max_len, symbol_bits=sbits)
    r = run(dut, lengths, jobs, idle=0.3, stall=0.3, seed=seed)
    for (sym, *_), out in zip(jobs, r["outputs"]):
        assert out == sym.tolist()
    assert r["errors"] == [HuffmanError.NONE] * 3 and r["done"] == [1, 1, 1]


def test_padding_words_are_taken_and_ignored():
    """Bit counts that claim more than the codes use: the extra words are read (so the
    next stream starts on its own first word) and their bits ignored."""
    lengths = code_for([5, 3, 2, 1], 4)
    sym = np.array([0, 1, 2, 3, 0, 0, 1])
    words, nbits = H.encode_interleaved(sym, lengths, 16)
    nbits = [nbits[0] + 40, nbits[1] + 3]
    words = words + [0xFFFF] * (sum(-(-nb // 16) for nb in nbits) - len(words))
    assert H.decode_interleaved(words, nbits, lengths, sym.size).tolist() == sym.tolist()
    dut = HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2)
    jobs = [(sym, words, nbits, sym.size), job(sym[::-1], lengths, 16)]
    r = run(dut, lengths, jobs, idle=0.2, stall=0.2)
    assert r["outputs"] == [sym.tolist(), sym[::-1].tolist()]
    assert r["errors"] == [HuffmanError.NONE] * 2


def test_maximum_code_length_16():
    freqs = [2**i for i in range(17)] + [1] * 15          # codes of 16 bits
    lengths = code_for(freqs, 16)
    assert lengths.max() == 16
    sym = np.random.default_rng(1).choice(32, 300)
    sym[:40] = 31                                         # 16-bit codes back to back
    dut = HuffmanDecoder(word_width=16, max_len=16, symbol_bits=5)
    r = run(dut, lengths, [job(sym, lengths, 16)], stall=0.2)
    assert r["outputs"][0] == sym.tolist() and r["errors"] == [HuffmanError.NONE]


def test_single_symbol_alphabet():
    lengths = np.zeros(16, dtype=int)
    lengths[9] = 1
    sym = np.full(70, 9)
    dut = HuffmanDecoder(word_width=16, max_len=8, symbol_bits=4)
    r = run(dut, lengths, [job(sym, lengths, 16)])
    assert r["outputs"][0] == sym.tolist() and r["done"] == [1]


def test_one_symbol_per_cycle_without_stalls():
    rng = np.random.default_rng(5)
    lengths = code_for(rng.integers(1, 100, 64), 10)
    sym = rng.choice(64, 400)
    words, nbits = H.encode_interleaved(sym, lengths, 32)
    dut = HuffmanDecoder(word_width=32, max_len=10, symbol_bits=6)
    stamps = []

    async def control(ctx):
        await load_code(ctx, dut, lengths)
        await start(ctx, dut, sym.size, nbits)
        await stream_send(ctx, dut.i, words)

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(stamps) < sym.size:
            await ctx.tick()
            cycle += 1
            if ctx.get(dut.o.valid):
                stamps.append(cycle)

    run_testbenches(dut, control, consumer)
    span = stamps[-1] - stamps[0] + 1
    assert span == sym.size, f"{sym.size} symbols took {span} cycles"


@pytest.mark.parametrize("where", [6, 7])
def test_corrupt_stream_stops_with_bad_code(where):
    lengths = np.array([1, 2, 0, 0])                  # incomplete: '11' is no code
    sym = np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 0])
    sym[where] = 2                                    # coded as '11' by a complete code
    words, nbits = H.encode_interleaved(sym, [1, 2, 2, 0], 16)
    with pytest.raises(H.HuffmanError, match=f"invalid code in substream {where % 2}"):
        H.decode_interleaved(words, nbits, lengths, sym.size)
    dut = HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2)
    r = run(dut, lengths, [(sym[:where], words, nbits, sym.size)], expect_error=True,
            timeout=2000)
    assert r["errors"] == [HuffmanError.BAD_CODE]
    assert r["outputs"][0] == sym[:where].tolist()


@pytest.mark.parametrize("sub", [0, 1])
def test_substream_ending_mid_code_is_an_overrun(sub):
    lengths = np.array([1, 2, 2])
    sym = np.array([0, 2, 2, 1, 1, 2])
    words, nbits = H.encode_interleaved(sym, lengths, 16)
    nbits[sub] -= 1                                   # still one word each
    last = 4 + sub                                    # the last symbol of that substream
    with pytest.raises(H.HuffmanError, match=f"runs past the end of substream {sub}"):
        H.decode_interleaved(words, nbits, lengths, sym.size)
    dut = HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2)
    r = run(dut, lengths, [(sym[:last], words, nbits, sym.size)], expect_error=True,
            timeout=2000)
    assert r["errors"] == [HuffmanError.OVERRUN]
    assert r["outputs"][0] == sym[:last].tolist()


def test_more_symbols_than_the_stream_holds_is_an_overrun():
    lengths = np.array([1, 2, 2])
    sym = np.array([1, 2, 0, 0, 1])
    words, nbits = H.encode_interleaved(sym, lengths, 16)
    dut = HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2)
    r = run(dut, lengths, [(sym, words, nbits, sym.size + 1)], expect_error=True,
            timeout=2000)
    assert r["errors"] == [HuffmanError.OVERRUN]
    assert r["outputs"][0] == sym.tolist()


def test_over_subscribed_table_is_refused():
    dut = HuffmanDecoder(word_width=16, max_len=4, symbol_bits=2)
    out = {}

    async def tb(ctx):
        await load_code(ctx, dut, [1, 1, 1, 0])
        out["build"] = ctx.get(dut.error)
        await start(ctx, dut, 1, [8, 0])
        out["start"] = ctx.get(dut.error)
        out["busy"] = ctx.get(dut.busy)

    run_testbenches(dut, tb)
    assert out == {"build": HuffmanError.BAD_TABLE, "start": HuffmanError.BAD_TABLE, "busy": 0}


def test_parameters_are_checked():
    with pytest.raises(TypeError):
        HuffmanDecoder(word_width=8)
    with pytest.raises(TypeError):
        HuffmanDecoder(max_len=17)
    with pytest.raises(TypeError):
        HuffmanDecoder(queue_depth=5)


def test_latency_second_word_to_first_symbol_is_7_cycles():
    """Each substream takes a word before the first symbol; the first symbol leaves 7
    cycles after the second word transfers."""
    lengths = H.code_lengths(np.array([5, 3, 2, 1]), 4)
    sym = np.array([0, 1, 2, 3, 0])
    words, nbits = H.encode_interleaved(sym, lengths, 32)
    assert len(words) == 2
    dut = HuffmanDecoder(word_width=32, max_len=4, symbol_bits=2)
    res = {}

    async def tb(ctx):
        await load_code(ctx, dut, lengths)
        await start(ctx, dut, len(sym), nbits)
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for word in words:
            ctx.set(dut.i.payload, word)
            assert ctx.get(dut.i.ready)
            await ctx.tick()                  # the word transfers at this edge
        ctx.set(dut.i.valid, 0)
        cycles = 1
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            cycles += 1
        res["latency"] = cycles

    run_testbenches(dut, tb)
    assert res["latency"] == 7


@pytest.mark.parametrize("sbits,max_len", [(2, 4), (8, 10), (5, 16)])
def test_build_takes_the_documented_cycles(sbits, max_len):
    lengths = H.code_lengths(np.arange(1, (1 << sbits) + 1), max_len)
    dut = HuffmanDecoder(word_width=32, max_len=max_len, symbol_bits=sbits)
    res = {}

    async def tb(ctx):
        res["busy"] = await load_code(ctx, dut, lengths)

    run_testbenches(dut, tb)
    assert res["busy"] == 2 * (1 << sbits) + max_len + 8


def test_decodes_the_streams_of_a_zcm_file_as_stored():
    """The bytes a .zcm file stores for a layer (code-length tokens, per-PE stream
    headers, big-endian 16-bit words) feed the decoder as they are, and it yields the
    (gap, code) entries of every PE's sparse rows."""
    import struct  # noqa: PLC0415

    from golden import zcm as Z  # noqa: PLC0415

    rng = np.random.default_rng(4)
    codes = rng.integers(1, 16, size=(16, 40)) * (rng.random((16, 40)) < 0.25)
    layer = Z.ZLayer("fc", "none", 16, 40, storage="shared", code_bits=4, gap_bits=4, n_pe=2,
                     huffman=True, max_code_len=10,
                     codebook=np.concatenate([[0], np.linspace(-1, 1, 15)]).astype(np.float32),
                     codes=codes, bias=np.zeros(16))
    data = Z.encode_zcm(Z.ZModel([layer], (40, 1, 1), 16))
    n = struct.unpack_from("<I", data, 8)[0]
    rows = [Z.SECTION.unpack_from(data, Z.HEADER.size + j * Z.SECTION.size) for j in range(n)]
    body = {r[0]: data[r[2]:r[2] + r[3]] for r in rows}
    lengths = Z.unpack_lengths(body[Z.S_HUFFLEN], 256)
    streams = body[Z.S_STREAMS]
    pos = 2 * Z.STREAM_HDR.size
    jobs = []
    _, per_pe = Z.layer_streams(layer)
    for k, (gaps, vals) in enumerate(per_pe):
        entries, nb0, nb1 = Z.STREAM_HDR.unpack_from(streams, k * Z.STREAM_HDR.size)
        nwords = -(-nb0 // 16) + -(-nb1 // 16)
        words = np.frombuffer(streams[pos:pos + 2 * nwords], dtype=">u2").tolist()
        pos += 2 * nwords
        jobs.append(((gaps << 4) | vals, words, [nb0, nb1], entries))
    assert pos == len(streams)
    dut = HuffmanDecoder(word_width=16, max_len=10, symbol_bits=8)
    r = run(dut, lengths, jobs, idle=0.2, stall=0.2, seed=3)
    assert r["outputs"] == [sym.tolist() for sym, *_ in jobs]
    assert r["errors"] == [HuffmanError.NONE] * 2 and r["done"] == [1, 1]


def build_table(S, L, lengths, count, stale=1):
    """Run ``CanonicalTable`` on ``lengths`` (symbols ``count`` and above hold
    ``stale``); returns its limits, offsets, placed symbols, cycles and error."""
    from hw.huffman import CanonicalTable  # noqa: PLC0415

    dut = CanonicalTable(max_len=L, symbol_bits=S)
    res = {}

    async def tb(ctx):
        for s in range(1 << S):
            ctx.set(dut.len_we, 1)
            ctx.set(dut.len_addr, s)
            ctx.set(dut.len_data, int(lengths[s]) if s < count else stale)
            await ctx.tick()
        ctx.set(dut.len_we, 0)
        ctx.set(dut.build, 1)
        ctx.set(dut.count, count)
        await ctx.tick()
        ctx.set(dut.build, 0)
        lim, off, syms, cycles = [0] * (L + 1), [0] * (L + 1), {}, 0
        while True:
            we = ctx.get(dut.lim_we)
            for i in range(L + 1):
                if we >> i & 1:
                    lim[i], off[i] = ctx.get(dut.lim_data), ctx.get(dut.off_data)
            if ctx.get(dut.sym_we):
                assert ctx.get(dut.sym_addr) not in syms, "a slot written twice"
                syms[ctx.get(dut.sym_addr)] = ctx.get(dut.sym_data)
            if not ctx.get(dut.busy):
                break
            await ctx.tick()
            cycles += 1
            assert cycles < 20_000, "table build does not finish"
        res.update(limit=lim, offset=off, symbols=[syms[i] for i in sorted(syms)],
                   slots=sorted(syms), cycles=cycles, done=ctx.get(dut.done),
                   error=ctx.get(dut.error))

    run_testbenches(dut, tb)
    return res


@pytest.mark.parametrize("S,L,count,seed", [(4, 6, 16, 0), (9, 16, 512, 1), (9, 16, 300, 2),
                                            (2, 3, 4, 3), (5, 16, 1, 4), (6, 16, 64, 5)])
def test_canonical_table_matches_the_golden_decoder_table(S, L, count, seed):
    """Random, skewed and single-symbol codes; stale lengths past ``count`` are
    ignored; the longest codes (16 bits) included."""
    from golden.hwmodel.stream import decoder_table  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    freq = rng.integers(0, 50, count) if seed != 5 else 1 << np.arange(40, 40 - count, -1).clip(0)
    freq[0] = max(freq[0], 1)
    lengths = H.code_lengths(freq, L) if count > 1 else np.array([1])
    res = build_table(S, L, lengths, count)
    limit, offset, order = decoder_table(lengths, S, L)
    assert (res["done"], res["error"]) == (1, 0)
    assert res["limit"][1:] == limit[1:] and res["offset"][1:] == offset[1:]
    assert res["symbols"] == order and res["slots"] == list(range(len(order)))
    assert res["cycles"] == 2 * count + L + 7
    if seed == 5:
        assert max(lengths) == L


def test_canonical_table_refuses_oversubscribed_lengths():
    lengths = np.array([1, 1, 2, 0, 0, 0, 0, 0])
    res = build_table(3, 4, lengths, 8)
    assert (res["done"], res["error"], res["symbols"]) == (1, 1, [])
