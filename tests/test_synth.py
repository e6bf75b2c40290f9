"""Real out-of-context builds with the YoWASP flow (a few, kept small)."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from boards import synth
from boards.synth import DEVICES, OOCWrapper, synthesize
from hw.queue import Queue


class Mac8(wiring.Component):
    a: In(signed(8))
    b: In(signed(8))
    acc: Out(signed(24))

    def elaborate(self, platform):
        m = Module()
        p = Signal(signed(16))
        m.d.sync += [p.eq(self.a * self.b), self.acc.eq(self.acc + p)]
        return m


def test_wrapper_counts_port_bits():
    w = OOCWrapper(Queue(8, 4))
    # i: payload 8 + valid 1 in, ready 1 out; o: payload 8 + valid out, ready in; level 3 out
    assert w.in_bits == 8 + 1 + 1
    assert w.out_bits == 1 + 8 + 1 + 3
    # The wrapper elaborates with only its pins: clk, rst, sin, load, sout.
    text = rtlil.convert(w, name="top")
    top = text[text.index("module \\top\n"):]
    top = top[:top.index("\nend\n")]
    ports = sorted(ln.split()[-1].lstrip("\\") for ln in top.splitlines()
                   if ln.strip().startswith("wire") and (" input " in ln or " output " in ln))
    assert ports == ["clk", "load", "rst", "sin", "sout"]


@pytest.mark.slow
@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
def test_mac_builds_and_reports_nextpnr_figures(device, tmp_path):
    r = synthesize(Mac8(), device, freq_mhz=40, build_dir=tmp_path)
    assert r.dsp == 1                      # the multiplier is in a DSP block
    assert r.fmax > 40 and r.timing_met
    assert 0 < r.lc < 200
    assert r.ff >= 24 + 16                 # accumulator and product registers at least
    assert r.wrapper_bits == 16 + 24
    assert (tmp_path / "report.json").exists()
    util_key = "ICESTORM_LC" if device == "up5k" else "TRELLIS_COMB"
    assert r.utilization[util_key]["used"] == r.lc
    if DEVICES[device]["before"]:          # the device's commands ran before synthesis
        log = (tmp_path / "yosys.log").read_text()
        assert f"{DEVICES[device]['before']}; synth_ice40" in log


@pytest.mark.slow
def test_an_ecp5_route_that_does_not_finish_is_routed_with_router2(tmp_path, monkeypatch):
    # router1 "times out" here (this design routes in a second, so its run is
    # replaced by the error a timeout gives); router2 then really builds it.
    real_run = synth._run

    def run(cmd, log, cwd, timeout):
        if "nextpnr-ecp5" in cmd[0] and "--router" not in cmd:
            assert timeout == synth.ECP5_ROUTER1_TIMEOUT
            log.write_text("")
            raise synth.SynthError(f"nextpnr-ecp5 timed out after {timeout} s (log: {log})")
        real_run(cmd, log, cwd, timeout)

    monkeypatch.setattr(synth, "_run", run)
    r = synthesize(Mac8(), "ecp5-85f", freq_mhz=40, build_dir=tmp_path)
    assert r.extra["router"] == "router2" and r.fmax > 40 and r.dsp == 1
    assert "router2" in (tmp_path / "nextpnr.log").read_text()
    monkeypatch.setattr(synth, "_run", real_run)
    assert synthesize(Mac8(), "ecp5-85f", freq_mhz=40,
                      build_dir=tmp_path / "again").extra["router"] == "router1"


@pytest.mark.slow
def test_timing_failure_is_reported_not_raised(tmp_path):
    r = synthesize(Mac8(), "up5k", freq_mhz=400, build_dir=tmp_path)
    assert not r.timing_met and 0 < r.fmax < 400


@pytest.mark.slow
def test_two_mac_lanes_share_one_sb_mac16(tmp_path):
    """The hand-instantiated dual 8x8 SB_MAC16 survives synthesis (built without
    -dsp): two int8 lanes use one DSP, which Yosys's own -dsp mapping never does."""
    from hw.mac import MACArray  # noqa: PLC0415

    r = synthesize(MACArray(lanes=2, weight_bits=8, act_bits=8, max_len=64, dsp="sb_mac16"),
                   "up5k", freq_mhz=48, build_dir=tmp_path, dsp=False)
    assert r.dsp == 1
    assert r.timing_met
    r2 = synthesize(MACArray(lanes=2, weight_bits=8, act_bits=8, max_len=64), "up5k",
                    freq_mhz=48, build_dir=tmp_path / "inferred")
    assert r2.dsp == 2


@pytest.mark.slow
def test_hand_instantiated_carry_chains_save_cells(tmp_path):
    """XnorPopcount's SB_LUT4/SB_CARRY adder tree survives synthesis and packs into
    fewer logic cells than the same tree from Yosys's adders (nextpnr adds a cell
    to each of those), and it still meets timing."""
    from hw.xnor import XnorPopcount  # noqa: PLC0415

    def build(carry):
        return synthesize(XnorPopcount(width=32, lanes=1, max_len=16, carry=carry), "up5k",
                          freq_mhz=48, build_dir=tmp_path / str(carry), dsp=False)

    hand, yosys = build("sb_carry"), build(None)
    assert hand.timing_met
    # 11 leaf counts -> 10 tree adders; Yosys maps a few of the smallest to
    # plain LUTs, the rest cost a cell more (measured: 110 against 118).
    assert hand.core_lc <= yosys.core_lc - 5


@pytest.mark.slow
def test_ecp5_classic_abc_lut_mapping_builds(tmp_path):
    """ECP5_ABC_LUT_MAP (the workaround for Yosys 0.70's abc9 assertion on large MAC
    arrays) is a complete flow: the design builds, its multiplier stays in a DSP and
    it still meets timing."""
    from boards.synth import ECP5_ABC_LUT_MAP  # noqa: PLC0415

    r = synthesize(Mac8(), "ecp5-85f", freq_mhz=40, build_dir=tmp_path,
                   synth_opts=ECP5_ABC_LUT_MAP)
    assert r.dsp == 1 and r.timing_met
    assert "abc -lut 4" in (tmp_path / "yosys.log").read_text()


@pytest.mark.slow
def test_the_uart_and_the_image_loader_build_for_up5k(tmp_path):
    """The host-link blocks added for the engine build for iCE40 UP5K on their own
    (the whole engine does not fit yet: bench/engine.py --synth says what it needs)."""
    from hw.loader import ImageLoader
    from hw.uart import UARTRx, UARTTx

    class Uart(wiring.Component):
        rx: In(1)
        tx: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.submodules.r, m.submodules.t = r, t = UARTRx(divisor=104), UARTTx(divisor=104)
            wiring.connect(m, r.o, t.i)
            m.d.comb += [r.rx.eq(self.rx), self.tx.eq(t.tx)]
            return m

    u = synthesize(Uart(), "up5k", freq_mhz=48, build_dir=tmp_path / "uart")
    assert u.timing_met and u.core_lc < 150
    ld = synthesize(ImageLoader(n_pe=4, code_bits=4, rows_per_pe=128, pointers=1024,
                                entries=16384, max_layers=4, max_len=512, max_rows=1024,
                                max_out=16), "up5k", freq_mhz=30, build_dir=tmp_path / "ld")
    assert ld.core_lc <= 5280 and ld.fmax > 0


@pytest.mark.slow
def test_the_xnor_path_builds_for_up5k_on_the_same_multipliers(tmp_path):
    """The sparse phase with the XNOR path (two PEs, binary layers' planes and sign
    words) places on UP5K, its sign dot products on the PEs' own DSPs."""
    from hw.spmv import SparseMatVec

    r = synthesize(SparseMatVec(n_pe=2, queue_depth=4, max_len=256,
                                pe={"code_bits": 2, "rows": 32, "pointers": 64,
                                    "entries": 1024, "xnor": True}),
                   "up5k", freq_mhz=30, build_dir=tmp_path)
    assert r.dsp == 2 and r.core_lc <= 5280 and r.fmax > 0


class TwoMemories(wiring.Component):
    """A 128 x 32 memory marked collision-free and an unmarked one, both 1W1R."""

    we: In(1)
    wa: In(7)
    wd: In(32)
    ra: In(7)
    rd: Out(64)

    def elaborate(self, platform):
        from amaranth.lib.memory import Memory

        from hw.params import COLLISION_FREE

        m = Module()
        m.submodules.free = free = Memory(shape=32, depth=128, init=[], attrs=COLLISION_FREE)
        m.submodules.kept = kept = Memory(shape=32, depth=128, init=[])
        for k, mem in enumerate((free, kept)):
            w, r = mem.write_port(), mem.read_port()
            m.d.comb += [w.en.eq(self.we), w.addr.eq(self.wa), w.data.eq(self.wd),
                         r.addr.eq(self.ra), self.rd[32 * k:32 * k + 32].eq(r.data)]
        return m


def test_only_marked_memories_get_dont_care_collisions():
    from boards.synth import collisions_dont_care

    il = rtlil.convert(TwoMemories(), name="top")
    out = collisions_dont_care(il)
    masks = [ln.split()[-1] for ln in out.splitlines() if "COLLISION_X_MASK" in ln]
    memids = [ln.split()[-1] for ln in out.splitlines() if "parameter \\MEMID" in ln
              and "$memrd" not in ln]
    assert sorted(masks) == ["1'0", "1'1"]
    # the port marked all ones reads the marked memory
    text = out.split("cell $memrd_v2")
    marked = [t for t in text[1:] if "COLLISION_X_MASK 1'1" in t.split("end")[0]]
    assert len(marked) == 1 and '"\\\\free"' in marked[0].split("end")[0]
    assert memids and collisions_dont_care(out) == out


@pytest.mark.slow
def test_a_collision_free_memory_needs_no_flip_flops_on_ice40(tmp_path):
    """Yosys wraps an iCE40 block RAM in flip-flops to return the old word on a
    read during a write; a memory marked ``COLLISION_FREE`` is spared that."""
    r = synthesize(TwoMemories(), "up5k", freq_mhz=48, build_dir=tmp_path)
    wrapper = r.wrapper_bits
    # Only the unmarked memory keeps its read-during-write flip-flops (about 70).
    assert 40 <= r.ff - wrapper <= 100, r.ff - wrapper
    assert r.ebr == 4
