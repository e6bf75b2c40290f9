"""The ``zipcore`` front door: help, doctor and the demo, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ZIPCORE = [sys.executable, "-m", "zipcore.cli"]


def run(*args, **kw):
    return subprocess.run([*ZIPCORE, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, **kw)


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("doctor", "compress", "inspect", "sweep"):
        assert cmd in r.stdout


def test_no_command_prints_help():
    r = run()
    assert r.returncode == 0 and "usage: zipcore" in r.stdout


def test_unknown_command_fails_cleanly():
    r = run("frobnicate")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_doctor_lists_every_tool_with_version():
    r = run("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for name in ("amaranth", "yosys (amaranth bundled)", "yosys (YoWASP)", "nextpnr-ice40",
                 "nextpnr-ecp5", "verilator", "iverilog", "sby", "yices"):
        line = next((ln for ln in lines if f" {name} " in ln), None)
        assert line is not None, f"doctor does not list {name}"
        if name == "iverilog" and "optional" in line:
            assert "apt-get install -y iverilog" in line
        else:
            assert line.split()[0] == "ok", line
            assert any(ch.isdigit() for ch in line), f"no version for {name}: {line}"


def test_doctor_names_the_install_command_when_a_tool_is_missing(tmp_path):
    # A PATH without the venv and with no iverilog: the wheel-installed tools are
    # still found through the interpreter's folder, iverilog is reported optional.
    env = dict(os.environ, PATH=str(tmp_path))
    r = run("doctor", env=env)
    assert "iverilog" in r.stdout
    assert "apt-get install -y iverilog" in r.stdout
    assert r.returncode == 0


@pytest.mark.slow
def test_compress_default_model_end_to_end(tmp_path):
    """The issue's headline: builtin:digits-mlp with default options, >= 60x smaller
    with at most 0.5 points of accuracy loss, and inspect agrees with compress."""
    out, js, js2 = tmp_path / "d.zcm", tmp_path / "c.json", tmp_path / "i.json"
    r = run("compress", "builtin:digits-mlp", "-o", str(out), "--json", str(js), "-q")
    assert r.returncode == 0, r.stderr
    assert "P+Q+H" in r.stdout
    res = json.loads(js.read_text())
    assert res["ratio"] >= 60
    assert res["accuracy"]["baseline"] - res["accuracy"]["compressed"] <= 0.005
    assert [ly["name"] for ly in res["layers"]] == ["dense1", "dense2", "dense3"]
    assert sum(ly["weights"] for ly in res["layers"]) == 64 * 512 + 512 * 192 + 192 * 10
    for ly in res["layers"]:
        assert {"name", "weights", "kept", "weight_bits_pq", "weight_bits_pqh", "index_bits_pq",
                "index_bits_pqh"} <= set(ly)
    r = run("inspect", str(out), "--json", str(js2))
    assert r.returncode == 0, r.stderr
    assert json.loads(js2.read_text()) == res


@pytest.mark.parametrize("args,message", [
    (["inspect", "MISSING.zcm"], "cannot read"),
    (["compress", "builtin:nope", "-o", "x.zcm"], "unknown built-in model"),
    (["compress", "nope.npz", "-o", "x.zcm"], "no such file"),
    (["compress", "builtin:digits-mlp", "-o", "x.zcm", "--prune", "0.5,0.5"], "3 weighted layers"),
    (["compress", "builtin:digits-mlp", "-o", "x.zcm", "--prune", "abc"], "numbers"),
    (["compress", "builtin:digits-mlp", "-o", "x.zcm", "--dataset", "cifar"], "unknown dataset"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    r = run(*[a.replace("x.zcm", str(tmp_path / "x.zcm")) for a in args])
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.zcm").exists()


def test_inspect_refuses_a_corrupt_file(tmp_path):
    bad = tmp_path / "bad.zcm"
    bad.write_bytes(b"ZCM\x1a" + bytes(40))
    r = run("inspect", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "CRC" in r.stderr


def test_unsupported_onnx_operator_via_cli(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
         helper.make_node("Softplus", ["h"], ["y"])], "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
        [numpy_helper.from_array(np.ones((10, 64), np.float32), "w")])
    onnx.save(helper.make_model(g), str(tmp_path / "m.onnx"))
    r = run("compress", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "x.zcm"))
    assert r.returncode == 2 and "unsupported ONNX operator Softplus" in r.stderr


@pytest.mark.slow
def test_compress_an_onnx_model_and_sweep(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from golden.data import digits
    from golden.nn import mlp
    from golden.training import train

    d = digits()
    m = mlp([64, 32, 10], seed=1)
    train(m, d.x_train, d.y_train, epochs=6)
    w1, w2 = m.weighted[0], m.weighted[1]
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
        [numpy_helper.from_array(a.astype(np.float32), n) for n, a in
         (("w1", w1.w), ("b1", w1.b), ("w2", w2.w), ("b2", w2.b))])
    onnx.save(helper.make_model(g), str(tmp_path / "mlp.onnx"))
    r = run("compress", str(tmp_path / "mlp.onnx"), "-o", str(tmp_path / "m.zcm"), "-q",
            "--prune", "0.7", "--retrain-epochs", "2", "--json", str(tmp_path / "m.json"))
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "m.json").read_text())
    assert res["ratio"] > 5 and res["accuracy"]["compressed"] > 0.85

    r = run("sweep", str(tmp_path / "mlp.onnx"), "-o", str(tmp_path / "sweep"), "-q",
            "--sparsities", "0.5,0.9")
    assert r.returncode == 0, r.stderr
    for png in ("sparsity_accuracy.png", "layer_sensitivity.png"):
        assert (tmp_path / "sweep" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sw = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [c["sparsity"] for c in sw["curve"]] == [0.5, 0.9]
    assert len(sw["sensitivity"]) == 2
