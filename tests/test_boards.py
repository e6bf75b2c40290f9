"""boards/: PLL settings, every board top's build plan, a real ULX3S-85F
bitstream of the engine sized for the default digits model (cached once
built), a build that misses its clock rebuilt at the Fmax it achieved, and
the one-line answers of ``zipcore build`` for a design that does not fit and
for bad options."""

import json
from pathlib import Path

import numpy as np
import pytest

from boards.build import BuildError, pll_below, pll_settings
from tests.test_cli import run


def test_pll_settings_for_both_families():
    ice = pll_settings("ice40", 12, 48)
    assert ice["mhz"] == 48.0 and set(ice["params"]) == {"DIVR", "DIVF", "DIVQ", "FILTER_RANGE"}
    p = ice["params"]
    assert 12 * (p["DIVF"] + 1) / ((p["DIVR"] + 1) * 2 ** p["DIVQ"]) == 48
    ecp = pll_settings("ecp5", 25, 125)
    assert ecp["mhz"] == 125.0
    assert 25 * ecp["params"]["CLKFB_DIV"] / ecp["params"]["CLKI_DIV"] == 125
    with pytest.raises(BuildError, match="no PLL setting"):
        pll_settings("ice40", 12, 5000)


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f", "orangecrab-25f"])
def test_every_board_top_makes_a_build_plan(name, digits_zcm):
    """The board top (PLL, UART, LEDs, I/O buffers) elaborates on each board's
    platform: the OrangeCrab, which has no UART resource, gets one on its
    Feather pins; the plan's constraints name the UART's pins."""
    from boards.build import BoardTop, _fin_mhz, _platform
    from boards.catalog import BOARDS, board_engine_params
    from golden.zcm import read_zcm

    board = BOARDS[name]
    platform = _platform(board)
    top = BoardTop(board, board_engine_params(board, read_zcm(digits_zcm)),
                   freq_mhz=board.freq_mhz, fin_mhz=_fin_mhz(platform))
    plan = platform.build(top, name="zipcore", do_build=False)
    pins = next(v for k, v in plan.files.items() if k.endswith((".pcf", ".lpf")))
    assert "uart_0__rx" in pins and "uart_0__tx" in pins


def test_the_highest_pll_clock_at_or_below_a_frequency():
    from boards.catalog import BOARDS

    ice, ecp = BOARDS["icebreaker"], BOARDS["ulx3s-85f"]
    assert pll_below(ice, 48) == 48.0
    f = pll_below(ice, 31.3)                  # icepll's nearest to 31.3 is above it
    assert 30.5 < f <= 31.3 and pll_settings("ice40", 12, f)["mhz"] == f
    assert pll_below(ecp, 113.1) == 112.5     # 25 MHz * 9 / 2


@pytest.mark.slow
def test_a_missed_clock_is_rebuilt_at_the_fmax_achieved(digits_zcm, tmp_path):
    """``build_closing`` (``zipcore build`` without ``--freq``): a 4-PE ULX3S
    engine asked for 200 MHz misses it, and is built again at the highest PLL
    clock below the Fmax nextpnr achieved, where timing closes."""
    from boards.build import build_closing
    from boards.catalog import BOARDS, board_engine_params
    from golden.zcm import read_zcm

    board = BOARDS["ulx3s-85f"]
    params = board_engine_params(board, read_zcm(digits_zcm), pes=4)
    heard = []
    r, attempts = build_closing(board, params, freq_mhz=200, build_root=tmp_path,
                                progress=heard.append)
    first, last = attempts[0], attempts[-1]
    assert first["requested_mhz"] == 200 and not first["timing_met"]
    assert first["achieved_mhz"] < 200 and len(heard) == len(attempts) - 1 >= 1
    assert last["requested_mhz"] <= attempts[-2]["achieved_mhz"]
    assert last["timing_met"] and r.timing_met and Path(r.bitstream).exists()
    (clk, got), = r.fmax_mhz.items()
    assert got >= r.constraint_mhz[clk] == pytest.approx(last["requested_mhz"], abs=0.05)


@pytest.mark.slow
def test_the_ulx3s_bitstream_of_the_digits_engine(digits_zcm, tmp_path):
    js = tmp_path / "b.json"
    r = run("build", "--board", "ulx3s-85f", "--pes", "4", "--freq", "50", "--model",
            str(digits_zcm), "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    bit = Path(rep["bitstream"])
    assert bit.exists() and bit.stat().st_size > 100_000
    assert rep["timing_met"] and rep["fits"]
    (clk, got), = rep["fmax_mhz"].items()
    assert got >= rep["constraint_mhz"][clk] == 50.0
    assert rep["resources"]["DSP"]["used"] >= 4 and rep["resources"]["PLL"]["used"] == 1
    again = run("build", "--board", "ulx3s-85f", "--pes", "4", "--freq", "50", "--model",
                str(digits_zcm))
    assert again.returncode == 0 and "(cached build)" in again.stdout


@pytest.mark.slow
def test_the_icebreaker_bitstream_of_the_digits_engine(digits_zcm, tmp_path):
    """The iCEBreaker build at its default clock: 4 PEs, the digits model resident
    (entries in the four SPRAMs), every DSP in use, timing met."""
    from boards.catalog import BOARDS

    js = tmp_path / "b.json"
    r = run("build", "--board", "icebreaker", "--model", str(digits_zcm), "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    bit = Path(rep["bitstream"])
    assert bit.exists() and bit.suffix == ".bin" and bit.stat().st_size > 100_000
    assert rep["timing_met"] and rep["fits"] and rep["pes"] == 4
    (clk, got), = rep["fmax_mhz"].items()
    # nextpnr reports the constraint from the period: 27 MHz comes back as 27.01
    assert got >= rep["constraint_mhz"][clk]
    assert rep["constraint_mhz"][clk] == pytest.approx(BOARDS["icebreaker"].freq_mhz, abs=0.05)
    res = rep["resources"]
    assert res["DSP"]["used"] == res["DSP"]["available"] == 8
    assert res["SPRAM"]["used"] == 4 and res["LC/LUT"]["used"] <= 5280
    # The board's Yosys run gets what an out-of-context UP5K build gets.
    from boards.synth import DEVICES, synth_options
    script = (bit.parent / "zipcore.ys").read_text()
    assert DEVICES["up5k"]["before"] in script
    assert f"synth_ice40 {synth_options('up5k')} " in script


@pytest.mark.slow
def test_a_design_that_does_not_fit_says_what_it_needs(digits_zcm, tmp_path):
    r = run("build", "--board", "icebreaker", "--pes", "8", "--model", str(digits_zcm),
            "--build-dir", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "does not fit the iCEBreaker" in r.stderr and "of 5280 LC/LUTs" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--board", "nexys"], "unknown board 'nexys'"),
    (["--board", "icebreaker", "--freq", "0"], "--freq must be in 1..400"),
    (["--board", "icebreaker", "--model", "MISSING.zcm"], "cannot read"),
])
def test_build_user_errors_are_one_line(args, message):
    r = run("build", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_each_board_runs_the_form_its_catalog_names(digits_zcm):
    """The OrangeCrab runs a fully connected model in the stream form, the
    iCEBreaker and the ULX3S in the expanded form; a model with convolutions
    runs expanded everywhere; an explicit form wins; the engine parameters
    follow."""
    from boards.catalog import BOARDS, board_engine_params, board_form
    from golden.zcm import read_zcm
    from tests.test_hw_engine import conv_chain

    zm = read_zcm(digits_zcm)
    conv = conv_chain(np.random.default_rng(0))
    assert {n: board_form(b, zm) for n, b in BOARDS.items()} == {
        "icebreaker": "expanded", "ulx3s-85f": "expanded", "orangecrab-25f": "stream"}
    assert all(board_form(b, conv) == "expanded" for b in BOARDS.values())
    assert board_form(BOARDS["orangecrab-25f"], zm, "expanded") == "expanded"
    p = board_engine_params(BOARDS["orangecrab-25f"], zm)
    assert p["form"] == "stream" and p["pe"]["sym_bits"] == 9 and "words" in p["pe"]
    assert "form" not in board_engine_params(BOARDS["icebreaker"], zm)
