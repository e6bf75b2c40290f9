"""``zipcore simulate``: the default digits model on the engine RTL, run as a user
runs it, and its refusals of what it cannot run."""

import json

import numpy as np
import pytest

from golden.zcm import write_zcm
from sim.tools import find_simulator
from tests.test_cli import run
from tests.test_golden_image import model as conv_model


@pytest.mark.cocotb
def test_the_full_digits_test_split_on_verilator(digits_zcm, tmp_path):
    """Every one of the 360 test images, bit for bit, same accuracy as the golden model."""
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    js = tmp_path / "sim.json"
    r = run("simulate", str(digits_zcm), "--dataset", "digits", "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert rep["images"] == 360 and rep["mismatches"] == 0
    assert rep["accuracy"] == rep["golden_accuracy"] > 0.9
    assert rep["cycle_model_error"] == 0.0
    assert 0 < rep["utilization"] < rep["sparse_utilization"] <= 1
    assert "0 mismatches" in r.stdout


@pytest.mark.cocotb
def test_a_digits_subset_on_icarus_with_waves(digits_zcm, tmp_path):
    if find_simulator("icarus") is None:
        pytest.skip("iverilog is not installed (apt-get install iverilog)")
    js, vcd = tmp_path / "sim.json", tmp_path / "trace.fst"
    r = run("simulate", str(digits_zcm), "--limit", "6", "--sim", "icarus", "--pes", "2",
            "--queue-depth", "4", "--json", str(js), "--waves", str(vcd))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert (rep["images"], rep["mismatches"], rep["pes"]) == (6, 0, 2)
    assert vcd.stat().st_size > 1000


def test_simulate_refuses_what_it_cannot_run(tmp_path):
    # A stride-2 convolution: the engine runs stride 1 only.
    zm = conv_model(np.random.default_rng(0))
    zm.layers[0].stride = 2
    zm.layers = [zm.layers[0], zm.layers[2], zm.layers[3]]
    conv = tmp_path / "conv.zcm"
    write_zcm(zm, conv)
    bad = tmp_path / "bad.zcm"
    bad.write_bytes(b"not a model")
    conv1 = tmp_path / "conv1.zcm"                # stride 1: the expanded form runs it
    write_zcm(conv_model(np.random.default_rng(0)), conv1)
    for args, message in (([str(tmp_path / "missing.zcm")], "cannot read"),
                          ([str(conv1), "--form", "stream"],
                           "the stream form runs fully connected models"),
                          ([str(conv1), "--form", "stream", "--pipelined"],
                           "the stream form runs fully connected models"),
                          ([str(bad)], "zcm"),
                          ([str(conv)], "layer 0: the engine runs stride-1 convolutions"),
                          ([str(conv), "--pes", "0"], "--pes must be in 1..64"),
                          ([str(conv), "--limit", "0"], "--limit must be at least 1")):
        r = run("simulate", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.cocotb
@pytest.mark.parametrize("builtin,limit,max_len", [("lenet300", 8, 1024), ("lenet5", 3, 4096)])
def test_the_lenet_shapes_run_on_the_engine(tmp_path, builtin, limit, max_len):
    """Deep Compression's LeNet-300-100 (784-300-100-10) and LeNet-5 (conv 6@5x5,
    pool, conv 16@5x5, pool, fc 120, 84, 10) shapes, compressed, on the RTL:
    LeNet-5's convolutions by im2col, its pools between the banks."""
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    zcm, js = tmp_path / f"{builtin}.zcm", tmp_path / "sim.json"
    r = run("compress", f"builtin:{builtin}", "-o", str(zcm), "-q")
    assert r.returncode == 0, r.stderr
    r = run("simulate", str(zcm), "--limit", str(limit), "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert (rep["images"], rep["mismatches"]) == (limit, 0)
    assert rep["engine"]["max_len"] == max_len and rep["cycle_model_error"] == 0.0


@pytest.mark.slow
@pytest.mark.cocotb
@pytest.mark.parametrize("options,pes,form", [(["--uniform-bits", "4", "--prune", "0"], "16", []),
                                              (["--ternary"], "2", ["--pipelined"])])
def test_dense_uniform_and_ternary_layers_run_on_the_engine(tmp_path, options, pes, form):
    """A dense int4 model (no pruning: every weight an entry) and a TTQ ternary one are
    weight-shared layers to the engine: their codebooks hold the levels. The
    ternary one runs on the pipelined PEs (the ECP5 boards'), whose cycles the
    cycle model predicts too."""
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    zcm, js = tmp_path / "m.zcm", tmp_path / "sim.json"
    r = run("compress", "builtin:digits-mlp", *options, "-o", str(zcm), "-q")
    assert r.returncode == 0, r.stderr
    if "--prune" in options:              # dense: 133k entries do not fit 4 PEs
        too_few = run("simulate", str(zcm), "--pes", "4")
        assert too_few.returncode == 2 and "use more PEs" in too_few.stderr
        assert len(too_few.stderr.strip().splitlines()) == 1
    r = run("simulate", str(zcm), "--limit", "4", "--pes", pes, *form, "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert (rep["images"], rep["mismatches"]) == (4, 0)
    assert rep["pipelined"] == bool(form) and rep["cycle_model_error"] == 0.0


@pytest.mark.slow
@pytest.mark.cocotb
def test_a_binary_model_runs_on_the_engine(tmp_path):
    """XNOR-Net's binary weights (+1/-1 per weight, alpha per row), bit for bit: on
    the XNOR path (packed sign words, 15 weights a word) the model fits 4 PEs; as
    one +1/-1 entry per weight on the multipliers (``--no-xnor``) it needs 16,
    and 4 are refused in one line."""
    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    zcm, js = tmp_path / "b.zcm", tmp_path / "sim.json"
    r = run("compress", "builtin:digits-mlp", "--binary", "-o", str(zcm), "-q")
    assert r.returncode == 0, r.stderr
    for pes, form in (("4", []), ("16", ["--no-xnor"])):
        r = run("simulate", str(zcm), "--limit", "3", "--pes", pes, *form, "--json", str(js))
        assert r.returncode == 0, r.stderr
        rep = json.loads(js.read_text())
        assert (rep["images"], rep["mismatches"], rep["cycle_model_error"]) == (3, 0, 0.0)
        assert rep["xnor"] == (not form) == rep["engine"]["xnor"]
    too_few = run("simulate", str(zcm), "--pes", "4", "--no-xnor")
    assert too_few.returncode == 2 and "use more PEs" in too_few.stderr
    assert len(too_few.stderr.strip().splitlines()) == 1
