"""reports/: the energy model's arithmetic by hand, the constants file, and the
report of the default model rendered in headless Chromium."""

import json
import re

import pytest

from reports.energy import (
    EnergyError,
    LayerShape,
    energy_of,
    layer_counts,
    load_table,
    model_energy,
    sram_pj,
)
from reports.render import find_chromium, images_loaded, screenshot
from tests.test_cli import run


def test_a_tiny_dense_layer_by_hand():
    # 2 x 3 fp32 layer, weights in DRAM, activations in an SRAM under 8 KiB (5 pJ):
    # 6 MACs: fmult32 6 x 3.7 = 22.2, fadd32 (6 + 2 biases) x 0.9 = 7.2;
    # DRAM: 6 weights + 2 biases = 8 x 640 = 5120; SRAM: 3 inputs + 2 outputs = 5 x 5 = 25;
    # the accumulator: 6 register accesses x 0.1 = 0.6. Total 5175.0 pJ.
    t = load_table()
    s = LayerShape("l", out=2, inp=3, kept=6)
    e = energy_of(layer_counts(s, "dense_fp32", weights_in="DRAM", act_bytes=24), t,
                  weight_bytes=32, act_bytes=24)
    assert e == pytest.approx({"DRAM": 5120.0, "SRAM": 25.0, "register": 0.6,
                               "multiply": 22.2, "add": 7.2, "decode": 0.0})
    assert sum(e.values()) == pytest.approx(5175.0)


def test_a_tiny_compressed_layer_by_hand():
    # The same layer compressed, 2 PEs: 64 stored bits (2 words) holding 5 entries,
    # 3 useful MACs from 2 non-zero inputs, weights in SRAM (5 pJ), not the last layer.
    # SRAM: weights 2 + biases 2 = 4 reads, activations 3 x 8/32 + 2 x 8/32 = 1.25 -> 26.25
    # register: queue pushes 2 PEs x 2 = 4, accumulators 3 -> 7 x 0.1 = 0.7
    # decode: 5 symbols x 0.15 + 5 index adds x 0.03 + 3 codebook reads x 8/32 x 0.1 = 0.975
    # multiply: 3 x 0.2 + requantization 2 x 3.1 = 6.8; add: (3 + 2) x 0.1 + 2 x 2 x 0.1 = 0.9
    t = load_table()
    s = LayerShape("l", out=2, inp=3, kept=4, entries=5, out_c=2, inp_c=3, stored_bits=64,
                   read_bits=64, decoded=5, useful_macs=3, nonzero_inputs=2)
    e = energy_of(layer_counts(s, "compressed", weights_in="SRAM", act_bytes=24, n_pe=2), t,
                  weight_bytes=100, act_bytes=24)
    assert e == pytest.approx({"DRAM": 0.0, "SRAM": 26.25, "register": 0.7, "multiply": 6.8,
                               "add": 0.9, "decode": 0.975})
    assert sum(e.values()) == pytest.approx(35.625)


def test_weights_move_to_dram_when_they_do_not_fit(tmp_path):
    s = LayerShape("l", out=2, inp=3, kept=6, entries=6, out_c=2, inp_c=3, stored_bits=64,
                   read_bits=64, decoded=6, useful_macs=6, nonzero_inputs=3, last=True)
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"sram_bytes": 16}))
    r = model_energy([s], load_table(small))
    assert r["dense_fp32"]["weights_in"] == "DRAM" and r["compressed"]["weights_in"] == "DRAM"
    assert load_table(None)["sram_bytes"] == 131072
    assert model_energy([s], load_table())["dense_fp32"]["weights_in"] == "SRAM"


def test_sram_energy_interpolates_on_log_size():
    t = load_table()
    assert sram_pj(t, 1024) == 5.0 and sram_pj(t, 8 << 10) == 5.0
    assert sram_pj(t, 16 << 10) == pytest.approx(7.5)       # halfway between 8 and 32 KiB
    assert sram_pj(t, 32 << 10) == pytest.approx(10.0)
    assert sram_pj(t, 1 << 20) == pytest.approx(50.0)


@pytest.mark.parametrize("text,message", [
    ("{", "not JSON"), ('{"nope": 1}', "unknown constant 'nope'"),
    ('{"dram32": -1}', "must be a positive number"), ("[1]", "expected an object")])
def test_a_bad_constants_file_is_one_line(tmp_path, text, message):
    f = tmp_path / "c.json"
    f.write_text(text)
    with pytest.raises(EnergyError, match=message) as e:
        load_table(f)
    assert "\n" not in str(e.value)


def test_the_report_of_the_default_model(digits_zcm, tmp_path):
    out, js = tmp_path / "report", tmp_path / "r.json"
    r = run("report", str(digits_zcm), "-o", str(out), "--json", str(js),
            "--board", "icebreaker", "--board", "ulx3s-85f")
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert json.loads((out / "report.json").read_text()) == rep
    e = rep["energy"]
    assert e["ratio"] == pytest.approx(e["dense_fp32_pj"] / e["compressed_pj"])
    assert e["dense_fp32_pj"] > 100 * e["compressed_pj"] > 0
    assert [ly["name"] for ly in e["layers"]] == ["dense1", "dense2", "dense3"]
    assert sum(ly["dense_fp32_pj"] for ly in e["layers"]) == pytest.approx(e["dense_fp32_pj"])
    assert sum(ly["compressed_pj"] for ly in e["layers"]) == pytest.approx(e["compressed_pj"])
    # The page and the Markdown show the JSON's numbers.
    page, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    for text in (page, md):
        assert f"{e['dense_fp32_pj'] / 1e6:.3f} uJ" in text
        assert f"{e['compressed_pj'] / 1e3:.2f} nJ" in text
        assert f"{e['ratio']:.1f}x" in text
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert len(figures) >= 6 and all((out / f).read_bytes()[:4] == b"\x89PNG" for f in figures)
    assert page.count("data:image/png;base64,") == len(figures)
    assert "dense FP32" in r.stdout and "report.html" in r.stdout


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")
def test_the_report_renders_in_headless_chromium(digits_zcm, tmp_path):
    out = tmp_path / "report"
    assert run("report", str(digits_zcm), "-o", str(out)).returncode == 0
    done, total = images_loaded(out / "report.html")
    assert total >= 6 and done == total
    png = screenshot(out / "report.html", tmp_path / "shot.png")
    assert png.stat().st_size > 20_000


@pytest.mark.parametrize("args,message", [
    (["MISSING.zcm", "-o", "x"], "cannot read"),
    (["M.zcm", "-o", "x", "--board", "nexys"], "unknown board 'nexys'"),
    (["M.zcm", "-o", "x", "--pes", "0"], "--pes must be in 1..64"),
])
def test_report_user_errors_are_one_line(tmp_path, args, message):
    r = run("report", *[str(tmp_path / a) if a.endswith(".zcm") else a for a in args])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
