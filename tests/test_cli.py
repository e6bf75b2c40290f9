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
    for cmd in ("doctor", "demo"):
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
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo.json"
    r = run("demo", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "P+Q+H" in r.stdout
    res = json.loads(out.read_text())
    assert {"ratio", "accuracy", "layers"} <= set(res)
    assert [ly["name"] for ly in res["layers"]] == ["fc1", "fc2", "fc3"]
    assert sum(ly["weights"] for ly in res["layers"]) == 64 * 512 + 512 * 192 + 192 * 10
    # The demo's pipeline must actually compress and keep the model working.
    assert res["ratio"] > 20
    assert res["accuracy"]["baseline"] > 0.95
    assert res["accuracy"]["compressed"] >= res["accuracy"]["baseline"] - 0.01
