"""ImageLoader's stream form in amaranth.sim: a stream image of the digits-sized
random model, sent with random stalls, ends in OK with every memory the engine
runs from written as ``SparseMatVec.stream_loads`` and ``decoder_table`` say
(symbol tables, codebooks, lengths, stream words and bases, the decoder's
limits and offsets per layer); and corrupt images end in their status."""

import random

import numpy as np
import pytest

from golden.hwmodel.image import layer_codes, memory_image, stream_gap_bits
from golden.hwmodel.protocol import CODE
from golden.hwmodel.stream import decoder_table, encode_layer
from hw.engine import engine_params
from hw.loader import ImageLoader
from hw.spmv import MEM_BASE, MEM_CB, MEM_ENT, MEM_PTR
from sim.amsim import run_testbenches, stream_send
from sim.engine import random_fc_model


def make(sizes=(64, 32, 16, 10), densities=(0.3, 0.4, 0.5), n_pe=4, seed=0, words=None):
    """A random model, the stream loader ``engine_params`` sizes for it (with
    ``words`` stream words per PE, if given) and its stream image."""
    zm = random_fc_model(np.random.default_rng(seed), list(sizes), list(densities))
    params = engine_params(zm, n_pe=n_pe, form="stream")
    pe = params["pe"]
    loader = ImageLoader(n_pe=n_pe, code_bits=pe["code_bits"], rows_per_pe=pe["rows"],
                         pointers=pe["pointers"], entries=words or pe["words"],
                         max_layers=params["max_layers"], max_len=params["max_len"],
                         max_rows=params["max_rows"], max_out=params["max_out"],
                         bias_bits=params["bias_bits"], row_consts=params["row_consts"],
                         form="stream", sym_bits=pe["sym_bits"], len_bits=pe["len_bits"])
    image = memory_image(zm, n_pe, code_field=pe["code_bits"], binary_as_entries=True,
                         form="stream", sym_bits=pe["sym_bits"])
    return zm, loader, image


def load(dut, image: bytes, *, stall=0.3, seed=0, max_cycles=400_000):
    """Send ``image`` to ``dut`` and record every memory write it makes."""
    words = np.frombuffer(image, dtype="<u2").tolist()
    res = {"ld": {}, "sym": {}, "dec": {}, "status": None, "param": {}}
    n = dut.n_pe

    async def send(ctx):
        ctx.set(dut.begin, 1)
        await ctx.tick()
        ctx.set(dut.begin, 0)
        await stream_send(ctx, dut.i, words, random.Random(seed), stall)
        ctx.set(dut.end, 1)
        for _ in range(max_cycles):
            if ctx.get(dut.finished):
                res["status"] = ctx.get(dut.status)
                break
            await ctx.tick()
        ctx.set(dut.end, 0)

    async def watch(ctx):
        async for vals in ctx.tick().sample(
                dut.ld_we, dut.ld_all, dut.ld_pe, dut.ld_mem, dut.ld_addr, dut.ld_data,
                dut.sym_we, dut.sym_addr, dut.sym_data, dut.dec_we, dut.dec_addr,
                dut.dec_limit, dut.dec_offset, dut.finished, dut.bias_we, dut.bias_addr,
                dut.bias_data, dut.tbl_addr):
            (_, _, we, al, pe, mem, addr, dat, swe, sa, sd, dwe, da, dl, do, fin,
             bwe, ba, bd, ta) = vals
            # The parameter memory (``LayerOutput``'s in the engine): its synchronous
            # read port serves the layer table back to the loader.
            ctx.set(dut.tbl_data, res["param"].get(ta, 0))
            if bwe:
                res["param"][ba] = bd & ((1 << dut.bias_bits) - 1)
            if we:
                for k in (range(n) if al else [pe]):
                    res["ld"][(k, mem, addr)] = dat
            if swe:
                res["sym"][sa] = (int(sd.code), int(sd.gap))
            for i in range(17):
                if dwe >> i & 1:
                    res["dec"][(da, i)] = (dl, do)
            if fin:
                break

    run_testbenches(dut, send, watch)
    return res


def expected(zm, loader, n_pe: int):
    """The writes ``SparseMatVec.stream_loads`` and ``decoder_table`` give for
    each layer, placed as the loader places them."""
    ld, sym, dec = {}, {}, {}
    ptr, word = 0, [0] * n_pe
    for bank, zl in enumerate(zm.layers):
        codes, cb_bits = layer_codes(zl)
        gap_bits = stream_gap_bits(zl, n_pe, loader.sym_bits)
        sl = encode_layer(codes, n_pe, gap_bits=gap_bits, code_bits=cb_bits,
                          max_code_len=min(zl.max_code_len, 16))
        limit, offset, order = decoder_table(sl.lengths, loader.sym_bits)
        for i in range(1, 17):
            dec[(bank, i)] = (limit[i], offset[i])
        mask = (1 << cb_bits) - 1
        for a, s in enumerate(order):
            sym[bank << loader.sym_bits | a] = (s & mask, s >> cb_bits)
        from golden.hwmodel.engine import int8_codebook  # noqa: PLC0415
        cb = int8_codebook(zl)[0]
        for k in range(n_pe):
            for a, v in enumerate(cb):
                ld[(k, MEM_CB, bank << loader.code_bits | a)] = int(v) & 0xFFFF
            ld[(k, MEM_BASE, bank)] = word[k]
            for a, w in enumerate(sl.streams[k]):
                ld[(k, MEM_ENT, word[k] + a)] = w
            for j, b in enumerate(sl.seg_bits[k]):
                ld[(k, MEM_PTR, ptr + j)] = int(b)
            word[k] += len(sl.streams[k])
        ptr += codes.shape[1]
    return ld, sym, dec


@pytest.mark.parametrize("stall,seed", [(0.0, 0), (0.5, 1)])
def test_stream_image_loads_every_memory_as_specified(stall, seed):
    zm, loader, image = make(seed=seed)
    res = load(loader, image, stall=stall, seed=seed)
    assert res["status"] == CODE["OK"]
    ld, sym, dec = expected(zm, loader, loader.n_pe)
    assert res["dec"] == dec
    assert res["sym"] == sym
    got = {key: v for key, v in res["ld"].items() if key[1] != 2 or key in ld}
    assert {key: v for key, v in got.items() if key[1] != MEM_CB} == \
        {key: v for key, v in ld.items() if key[1] != MEM_CB}
    assert all(res["ld"][key] == v for key, v in ld.items() if key[1] == MEM_CB)


def test_streams_longer_than_the_stream_memory_end_in_capacity():
    """A loader whose PEs hold fewer stream words than the image's: IMG_CAPACITY,
    never a write past the memory."""
    zm, loader, image = make(seed=2, words=16)
    res = load(loader, image)
    assert res["status"] == CODE["IMG_CAPACITY"]
    assert all(a < 16 for (_, mem, a) in res["ld"] if mem == MEM_ENT)
