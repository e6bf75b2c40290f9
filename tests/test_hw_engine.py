"""hw.engine.Engine behind hw.hostlink.HostLink, in amaranth.sim, driven by the
host protocol client: whole models against golden.hwmodel.engine, the cycle
model against the engine's counters, and every bad image and protocol misuse
ending in its error status."""

import struct
import zlib

import numpy as np
import pytest

from golden.hwmodel.cycles import model_cycles
from golden.hwmodel.engine import engine_forward, engine_model, layer_forward
from golden.hwmodel.image import HEADER_WORDS, memory_image
from golden.hwmodel.protocol import CMD, CODE, INFO_BYTES, EngineClient, EngineError
from hw.hostlink import HostLink
from hw.spmv import SparseMatVec
from sim.amsim import run_testbenches
from sim.engine import host_run, random_fc_model
from sim.host import AmaranthLink
from tests.test_golden_image import column_of
from tests.test_golden_image import model as conv_model

SMALL = dict(queue_depth=4, max_layers=4, max_len=32, max_rows=96, max_out=16,
             pe=dict(code_bits=4, rows=32, pointers=96, entries=512))


def engine(n_pe=4, **kw):
    return HostLink(n_pe=n_pe, **{**SMALL, **kw})


def inputs(rng, n_in):
    """Random int8 inputs, an all-zero one and a saturating one."""
    return np.vstack([rng.integers(-128, 128, (3, n_in)), np.zeros((1, n_in), int),
                      np.where(rng.random((1, n_in)) < 0.5, -128, 127)])


@pytest.mark.parametrize("n_pe,pipelined", [(1, False), (2, False), (3, False), (4, False),
                                             (1, True), (3, True)])
def test_models_match_the_engine_model_and_the_cycle_model(n_pe, pipelined):
    rng = np.random.default_rng(n_pe)
    # A layer narrower than the PEs (some own no row), an all-zero layer and a
    # dense one; random stalls on both byte streams.
    zm = random_fc_model(rng, [12, 20, 3, 16, 5], [0.7, 0.5, 0.0, 1.0])
    xs = inputs(rng, 12)
    dut = engine(n_pe, pe={**SMALL["pe"], "pipelined": pipelined})
    y, counters = host_run(dut, memory_image(zm, n_pe), xs, stall=0.3, seed=n_pe)
    em = engine_model(zm)
    assert np.array_equal(y, engine_forward(em, xs))
    # The data reach the edges: saturated activations, and an all-zero layer output.
    hidden = layer_forward(em.layers[0], xs)
    assert (hidden == 127).any() and (hidden == 0).any()
    overhead = SparseMatVec.overhead - 1     # busy cycles past the model's end
    for x, c in zip(xs, counters):
        phases = model_cycles(zm, x, n_pe=n_pe, depth=SMALL["queue_depth"],
                              pipelined=pipelined)
        assert c["macs"] == sum(p.useful_macs for p in phases)
        assert c["mac_cycles"] == sum(p.mac_cycles + overhead * p.phases for p in phases)
        assert c["cycles"] > c["mac_cycles"]


def test_a_wider_code_field_and_one_pe_per_row():
    rng = np.random.default_rng(7)
    zm = random_fc_model(rng, [8, 6, 4], [0.6, 0.6], code_bits=3)
    xs = inputs(rng, 8)
    y, _ = host_run(engine(2), memory_image(zm, 2, code_field=4), xs)
    assert np.array_equal(y, engine_forward(engine_model(zm), xs))


def test_sixteen_bit_biases_and_per_layer_constants():
    """The iCE40 build's parameter memory (``engine_params`` picks it for a model
    whose biases fit 16 bits and whose layers each have one set of constants):
    the same integers; a bias that does not fit, or a layer whose rows' constants
    differ, is refused with its error status."""
    from hw.engine import engine_params
    from hw.layerout import consts_words

    rng = np.random.default_rng(8)
    zm = random_fc_model(rng, [12, 20, 3, 16, 5], [0.7, 0.5, 0.0, 1.0])
    p = engine_params(zm, n_pe=3, queue_depth=4)
    assert p["bias_bits"] == 16 and not p["row_consts"]
    assert p["max_rows"] == 20 + 3 + 16 + 5 + 4 * consts_words(16)
    em = engine_model(zm)
    assert any(b < 0 for el in em.layers for b in el.bias)
    xs = inputs(rng, 12)
    good = memory_image(zm, 3)
    b0, rq0 = desc_field(good, 0, 20), desc_field(good, 0, 22)
    w = np.frombuffer(good, "<u2")
    too_wide = set_words(good, {b0 + 1: 0x0001})                 # bias 0 + 65536
    per_row = set_words(good, {rq0 + 3: int(w[rq0 + 3]) ^ 1})    # row 1's M0 differs
    dut = HostLink(**p)
    seen = []

    async def tb(ctx):
        client = EngineClient(AmaranthLink(ctx, dut, timeout=50_000))
        for image in (too_wide, per_row):
            try:
                await client.load(image)
                seen.append("OK")
            except EngineError as e:
                seen.append(e.name)
        await client.load(good)
        for x in xs:
            y, _ = await client.infer(x)
            seen.append(y.tolist())

    run_testbenches(dut, tb)
    assert seen[:2] == ["IMG_CAPACITY", "IMG_UNSUPPORTED"]
    assert seen[2:] == engine_forward(em, xs).tolist()


def set_words(image: bytes, changes: dict, crc: bool = True) -> bytes:
    """``image`` with words changed, its CRC made right again unless ``crc`` is False."""
    b = bytearray(image)
    for at, v in changes.items():
        struct.pack_into("<H", b, 2 * at, v)
    if crc:
        struct.pack_into("<I", b, 16, zlib.crc32(bytes(b[2 * HEADER_WORDS:])))
    return bytes(b)


def desc_field(image: bytes, layer: int, word: int) -> int:
    w = np.frombuffer(image, "<u2")
    d = HEADER_WORDS + 32 * layer + word
    return int(w[d]) | int(w[d + 1]) << 16


def first_entry(image: bytes, layer: int = 0) -> int:
    """The address of the layer's first entry word."""
    return column_of(image, layer, 1) + 1


def bad_images(good: bytes) -> list[tuple[str, bytes, str]]:
    d0 = HEADER_WORDS
    rq, cb = desc_field(good, 0, 22), desc_field(good, 0, 14)
    ent = first_entry(good)
    w = np.frombuffer(good, "<u2")
    flipped = bytearray(good)
    flipped[2 * ent + 1] ^= 0x10
    big = random_fc_model(np.random.default_rng(1), [40, 4], [0.5])
    many = random_fc_model(np.random.default_rng(1), [4, 4, 4, 4, 4, 4], [0.5] * 5)
    # 640 entries per PE, its entry memory holds 512.
    full = random_fc_model(np.random.default_rng(1), [32, 32, 32, 16], [1.0] * 3)
    # 3-bit codes in the 4-bit field: code 15 is outside the codebook.
    narrow = memory_image(random_fc_model(np.random.default_rng(2), [12, 20, 5], [0.4, 0.5],
                                          code_bits=3), 4, code_field=4)
    ent3, w3 = first_entry(narrow), np.frombuffer(narrow, "<u2")
    return [
        ("empty", b"", "IMG_LENGTH"),
        ("bad magic", set_words(good, {0: 0x1234}, crc=False), "IMG_MAGIC"),
        ("version", set_words(good, {2: 9}, crc=False), "IMG_VERSION"),
        ("for 2 PEs", memory_image(conv_model(np.random.default_rng(0)), 2), "IMG_CONFIG"),
        ("code field", set_words(good, {12: 5}, crc=False), "IMG_CONFIG"),
        ("truncated", good[:-2], "IMG_LENGTH"),
        ("odd length", good + b"\0", "IMG_LENGTH"),
        ("extra words", good + b"\0\0", "IMG_LENGTH"),
        ("flipped bit", bytes(flipped), "IMG_CRC"),
        ("conv layer", set_words(good, {d0: 2}), "IMG_UNSUPPORTED"),
        ("binary layer", set_words(good, {d0 + 1: 2}), "IMG_UNSUPPORTED"),
        ("too long an input", memory_image(big, 4), "IMG_CAPACITY"),
        ("too many layers", memory_image(many, 4), "IMG_CAPACITY"),
        ("broken chain", set_words(good, {d0 + 3: int(w[d0 + 3]) + 1}), "IMG_FIELD"),
        ("not the last layer", set_words(good, {d0 + 2: 3}), "IMG_FIELD"),
        ("codebook not int8", set_words(good, {cb + 1: 0x0100}), "IMG_FIELD"),
        ("entries overflow a PE", memory_image(full, 4), "IMG_CAPACITY"),
        ("row outside", set_words(good, {ent: 0xFFF1}), "IMG_FIELD"),
        ("code outside", set_words(narrow, {ent3: int(w3[ent3]) | 0xF}), "IMG_FIELD"),
        ("shift 40", set_words(good, {rq + 2: 40}), "IMG_FIELD"),
        ("M0 >= 2**31", set_words(good, {rq + 1: 0x8000}), "IMG_FIELD"),
    ]


def test_bad_images_end_in_their_error_status():
    rng = np.random.default_rng(3)
    zm = random_fc_model(rng, [12, 20, 5], [0.4, 0.5])
    good = memory_image(zm, 4)
    cases = bad_images(good)
    x = rng.integers(-128, 128, 12)
    dut = engine(4)
    seen = []

    async def tb(ctx):
        client = EngineClient(AmaranthLink(ctx, dut, timeout=50_000))
        for name, image, _ in cases:
            await client.load(good)                      # a model that the bad one replaces
            with pytest.raises(EngineError) as e:
                await client.load(image)
            err, flags = await client.status()
            seen.append((name, e.value.name, err, flags))
            with pytest.raises(EngineError, match="NO_MODEL"):
                await client.run()
        await client.load(good)                          # and the engine recovers
        y, _ = await client.infer(x)
        seen.append(("recovered", y.tolist(), 0, 0))

    run_testbenches(dut, tb)
    for (name, _, code), (_, got, err, flags) in zip(cases, seen):
        assert (name, got) == (name, code)
        assert err == CODE[code] and flags & 1 == 0, name
    want = engine_forward(engine_model(zm), x[None])[0].tolist()
    assert seen[-1][1] == want


def test_protocol_misuse_answers_with_an_error():
    rng = np.random.default_rng(4)
    zm = random_fc_model(rng, [6, 8, 3], [0.5, 0.5])
    image = memory_image(zm, 4)
    x = rng.integers(-128, 128, 6)
    dut = engine(4)
    log = []

    async def expect(coro, name):
        try:
            await coro
            log.append("OK")
        except EngineError as e:
            log.append(e.name)
        return name

    async def tb(ctx):
        link = AmaranthLink(ctx, dut, timeout=20_000)
        client = EngineClient(link)
        want = []
        for coro, name in ((client.run(), "NO_MODEL"), (client.write_input(x), "NO_MODEL"),
                           (client.output(), "NO_OUTPUT")):
            want.append(await expect(coro, name))
        await link.send(bytes([0x7F]))                    # not a command
        log.append({0x01: "BAD_COMMAND"}.get((await link.recv(1))[0], "?"))
        want.append("BAD_COMMAND")
        log.append(await client.status())
        want.append((CODE["BAD_COMMAND"], 0))
        log.append(await client.status())                 # the read cleared it
        want.append((0, 0))
        await client.load(image)
        for coro, name in ((client.run(), "NO_INPUT"), (client.write_input(x[:-1]), "BAD_LENGTH"),
                           (client.write_input(np.r_[x, 1]), "BAD_LENGTH"),
                           (client.output(), "NO_OUTPUT"), (client.write_input(x), "OK"),
                           (client.run(), "OK")):
            want.append(await expect(coro, name))
        log.append((await client.output()).tolist())
        want.append(engine_forward(engine_model(zm), x[None])[0].tolist())
        log.append(await client.status())                 # the run consumed the input
        want.append((CODE["NO_OUTPUT"], 5))
        log.append((await client.output()).tolist())      # outputs are read again
        want.append(want[-2])
        for coro, name in ((client.run(), "NO_INPUT"), (client.write_input(x), "OK"),
                           (client.output(), "NO_OUTPUT")):
            want.append(await expect(coro, name))
        log.append(await client.status())                 # an input drops the output
        want.append((CODE["NO_OUTPUT"], 3))
        info = await client.info()
        log.append((info.n_pe, info.code_bits, info.max_len))
        want.append((4, 4, SMALL["max_len"]))
        log.append(want)

    run_testbenches(dut, tb)
    want = log.pop()
    assert log == want
    assert CMD["info"] == 1 and INFO_BYTES == 16


def test_a_binary_layer_runs_as_plus_minus_one_entries():
    """A binary (BWN) layer, per-row alpha, written as a shared layer of +1/-1 entries:
    the engine computes engine_forward's integers for it."""
    from golden.zcm import ZLayer, ZModel

    rng = np.random.default_rng(11)
    zm = random_fc_model(rng, [12, 9, 5], [0.6, 0.6])
    first, last = zm.layers
    binary = ZLayer(kind="fc", act="relu", out=9, inp=9, storage="binary",
                    signs=rng.choice([-1, 1], (9, 9)).astype(np.int8),
                    alpha=rng.uniform(0.05, 0.2, 9).astype(np.float16),
                    bias=rng.normal(0, 0.1, 9).astype(np.float32), act_scale=0.05)
    zm = ZModel([first, binary, last], (12, 1, 1), classes=5, input_scale=0.05)
    xs = inputs(rng, 12)
    y, counters = host_run(engine(4), memory_image(zm, 4, code_field=4,
                                                   binary_as_entries=True), xs)
    assert np.array_equal(y, engine_forward(engine_model(zm), xs))
    for x, c in zip(xs, counters):
        assert c["macs"] == sum(p.useful_macs for p in model_cycles(zm, x, n_pe=4, depth=4))


def shared(rng, kind, out, inp, act="relu", **kw):
    """A shared layer with random 2-bit codes, about half of them zero."""
    from golden.zcm import ZLayer

    cb = np.array([0, 0.3, -0.2, 0.1], np.float32)
    codes = rng.integers(0, 4, (out, inp)) * (rng.random((out, inp)) < 0.6)
    return ZLayer(kind=kind, act=act, out=out, inp=inp, storage="shared", code_bits=2,
                  gap_bits=4, codebook=cb, codes=codes,
                  bias=rng.uniform(-0.3, 0.3, out).astype(np.float32), **kw)


def conv_chain(rng):
    """Two convolutions back to back (a non-square kernel without padding on an odd
    width, then padding 2 on a 3x3), a pool that drops an odd row, two fc layers."""
    from golden.zcm import ZLayer, ZModel

    return ZModel([
        shared(rng, "conv", 4, 3 * 2 * 3, in_shape=(3, 5, 7), kh=2, kw=3, act_scale=1 / 127),
        shared(rng, "conv", 2, 4 * 9, in_shape=(4, 4, 5), kh=3, kw=3, pad=2, act_scale=0.05),
        ZLayer(kind="maxpool", in_shape=(2, 6, 7), pool=2, act_scale=0.05),
        shared(rng, "fc", 6, 18, act_scale=0.05),
        shared(rng, "fc", 3, 6, act="none", act_scale=0.05),
    ], (3, 5, 7), classes=3, input_scale=1 / 127)


@pytest.mark.parametrize("n_pe,which,pipelined", [(1, "chain", False), (3, "pool", False),
                                                   (4, "binary", False), (2, "chain", True)])
def test_convolutions_and_pools_match_the_engine_model_and_the_cycle_model(n_pe, which,
                                                                            pipelined):
    """Convolutions run by im2col, once per output position, and 2x2 pools between
    the banks: the same integers as golden.hwmodel.engine, with random stalls on
    both byte streams, and every sparse phase (a position's) as the cycle model
    says. ``binary``: a binary fc layer after the pool (per-row constants)."""
    from hw.engine import engine_params

    rng = np.random.default_rng(20 + n_pe)
    zm = conv_chain(rng) if which == "chain" else conv_model(rng, which == "binary")
    p = engine_params(zm, n_pe=n_pe, queue_depth=4, pipelined=pipelined)
    assert p["conv"] and p["row_consts"] == (which == "binary")
    n_in = int(np.prod(zm.input_shape))
    xs = inputs(rng, n_in)
    image = memory_image(zm, n_pe, code_field=p["pe"]["code_bits"],
                         binary_as_entries=not p["pe"]["xnor"])
    y, counters = host_run(HostLink(**p), image, xs, stall=0.3, seed=n_pe)
    em = engine_model(zm)
    assert np.array_equal(y, engine_forward(em, xs))
    overhead = SparseMatVec.overhead - 1
    for x, c in zip(xs, counters):
        phases = model_cycles(zm, x, n_pe=n_pe, depth=4, pipelined=pipelined,
                              xnor=p["pe"]["xnor"])
        assert c["macs"] == sum(p.useful_macs for p in phases)
        assert c["mac_cycles"] == sum(p.mac_cycles + overhead * p.phases for p in phases)


def test_bad_convolution_images_end_in_their_error_status():
    """A convolution build refuses the shapes it cannot run (a stride, a kernel, a
    pool size it lacks, a convolution last) and shapes that do not chain or fit."""
    from hw.engine import engine_params

    zm = conv_model(np.random.default_rng(0))
    p = engine_params(zm, n_pe=4, queue_depth=4)
    good = memory_image(zm, 4, code_field=p["pe"]["code_bits"])
    d0, d1 = HEADER_WORDS, HEADER_WORDS + 32
    cases = [
        ("stride 2", set_words(good, {d0 + 10: 2}), "IMG_UNSUPPORTED"),
        ("kernel 16", set_words(good, {d0 + 8: 16}), "IMG_UNSUPPORTED"),
        ("pool 3", set_words(good, {d1 + 12: 3}), "IMG_UNSUPPORTED"),
        ("pool with weights", set_words(good, {d1 + 1: 1}), "IMG_UNSUPPORTED"),
        ("a convolution last", set_words(good, {d0 + 2: 3}), "IMG_UNSUPPORTED"),
        ("input height", set_words(good, {d0 + 6: 7}), "IMG_FIELD"),
        ("channels", set_words(good, {d0 + 5: 1}), "IMG_FIELD"),
        ("pool with ReLU", set_words(good, {d1 + 2: 1}), "IMG_FIELD"),
        ("output too long", set_words(good, {d0 + 11: 15}), "IMG_CAPACITY"),
    ]
    dut = HostLink(**p)
    seen = []

    async def tb(ctx):
        client = EngineClient(AmaranthLink(ctx, dut, timeout=50_000))
        for _, image, _ in cases:
            with pytest.raises(EngineError) as e:
                await client.load(image)
            seen.append(e.value.name)
        await client.load(good)
        y, _ = await client.infer(np.arange(72) - 36)
        seen.append(y.tolist())

    run_testbenches(dut, tb)
    assert seen[:-1] == [code for _, _, code in cases]
    assert seen[-1] == engine_forward(engine_model(zm), (np.arange(72) - 36)[None])[0].tolist()


def binary_model(rng, *, sizes=(20, 16, 33, 5)):
    """A shared layer, then binary (BWN, per-row alpha) layers: one with a group
    cut short (33 = 15 + 15 + 3 inputs after it), and a binary last layer."""
    from golden.zcm import ZLayer, ZModel

    first = random_fc_model(rng, list(sizes[:2]), [0.6]).layers[0]
    first.act = "relu"
    layers = [first]
    for i, (inp, out) in enumerate(zip(sizes[1:], sizes[2:])):
        layers.append(ZLayer(kind="fc", act="relu" if i < len(sizes) - 3 else "none",
                             out=out, inp=inp, storage="binary",
                             signs=rng.choice([-1, 1], (out, inp)).astype(np.int8),
                             alpha=rng.uniform(0.02, 0.1, out).astype(np.float16),
                             bias=rng.normal(0, 0.1, out).astype(np.float32),
                             act_scale=0.05))
    return ZModel(layers, (sizes[0], 1, 1), classes=sizes[-1], input_scale=0.05)


@pytest.mark.parametrize("n_pe,pipelined", [(3, False), (4, True), (1, False)])
def test_binary_layers_run_on_the_xnor_path(n_pe, pipelined):
    """Binary layers from the image's sign words, on the XNOR path that
    ``engine_params`` builds for them: engine_forward's integers, with random
    stalls on both byte streams, and every phase's cycles and MACs as
    ``model_cycles(xnor=True)`` says."""
    from hw.engine import engine_params

    rng = np.random.default_rng(30 + n_pe)
    zm = binary_model(rng)
    p = engine_params(zm, n_pe=n_pe, queue_depth=2, pipelined=pipelined)
    assert p["pe"]["xnor"]
    image = memory_image(zm, n_pe, code_field=p["pe"]["code_bits"])
    xs = inputs(rng, 20)
    y, counters = host_run(HostLink(**p), image, xs, stall=0.3, seed=n_pe)
    assert np.array_equal(y, engine_forward(engine_model(zm), xs))
    overhead = SparseMatVec.overhead - 1
    for x, c in zip(xs, counters):
        phases = model_cycles(zm, x, n_pe=n_pe, depth=2, pipelined=pipelined, xnor=True)
        assert c["macs"] == sum(p.useful_macs for p in phases)
        assert c["mac_cycles"] == sum(p.mac_cycles + overhead for p in phases)


def test_bad_binary_images_end_in_their_error_status():
    """The XNOR build refuses sign-word columns of the wrong count, a wrong group
    count, a sign word with bit 15 set and a binary layer with code bits; a build
    without the XNOR path refuses binary layers."""
    from hw.engine import engine_params

    rng = np.random.default_rng(9)
    zm = binary_model(rng)
    p = engine_params(zm, n_pe=3, queue_depth=2)
    good = memory_image(zm, 3, code_field=p["pe"]["code_bits"])
    w = np.frombuffer(good, "<u2")
    d1 = HEADER_WORDS + 32 * 1                       # the first binary layer's descriptor
    s1 = desc_field(good, 1, 24)                     # its sign words: PE 0, group 0's count
    assert w[s1] == 11 and w[d1 + 18] == 2           # 33 rows over 3 PEs; 16 inputs
    cases = [
        ("count one more", set_words(good, {s1: 12}), "IMG_FIELD"),
        ("count one less", set_words(good, {s1: 10}), "IMG_FIELD"),
        ("groups too few", set_words(good, {d1 + 18: 1}), "IMG_FIELD"),
        ("groups too many", set_words(good, {d1 + 18: 3}), "IMG_FIELD"),
        ("sign word bit 15", set_words(good, {s1 + 2: int(w[s1 + 2]) | 0x8000}), "IMG_FIELD"),
        ("code bits", set_words(good, {d1 + 13: 2}), "IMG_FIELD"),
        ("storage 3", set_words(good, {d1 + 1: 3}), "IMG_UNSUPPORTED"),
    ]
    no_xnor = engine_params(zm, n_pe=3, queue_depth=2, xnor=False)
    x = inputs(rng, 20)[0]
    seen = []

    def bench(dut, images):
        async def tb(ctx):
            client = EngineClient(AmaranthLink(ctx, dut, timeout=50_000))
            for name, image, _ in images:
                try:
                    await client.load(image)
                    seen.append((name, "OK"))
                except EngineError as e:
                    seen.append((name, e.name))
            await client.load(images[-1][1] if images[-1][2] == "OK" else good)
            y, _ = await client.infer(x)
            seen.append(("recovered", y.tolist()))
        run_testbenches(dut, tb)

    bench(HostLink(**p), cases)
    want = engine_forward(engine_model(zm), x[None])[0].tolist()
    assert seen == [(n, code) for n, _, code in cases] + [("recovered", want)]
    seen.clear()
    entries = memory_image(zm, 3, code_field=no_xnor["pe"]["code_bits"], binary_as_entries=True)
    bench(HostLink(**no_xnor), [("sign words", good, "IMG_UNSUPPORTED"),
                                ("as entries", entries, "OK")])
    assert seen == [("sign words", "IMG_UNSUPPORTED"), ("as entries", "OK"),
                    ("recovered", want)]


def test_engine_info_carries_the_image_form():
    """``info`` byte 5 holds the stream form's symbol field beside the rows' log:
    what a host needs to make the image the engine reads."""
    from golden.hwmodel.protocol import EngineInfo

    for sym, rows in ((0, 128), (9, 128), (12, 32768), (2, 2)):
        info = EngineInfo(3, 4, 8, 4, 3, rows, 512, 600, 16, 700, 1024, False, sym)
        back = EngineInfo.unpack(info.pack())
        assert back == info and back.form == ("stream" if sym else "expanded")
