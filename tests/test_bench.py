"""Bench scripts run and write the machine-readable results the issues name."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tmp_path, script: str, *args: str) -> tuple[dict, str]:
    """Run ``bench/<script>`` writing into ``tmp_path``; its metrics and stdout."""
    env = dict(os.environ, ZIPCORE_BENCH_RESULTS=str(tmp_path))
    r = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    name = script.removesuffix(".py")
    return json.loads((tmp_path / f"{name}.json").read_text())["metrics"], r.stdout


def test_golden_bench_writes_metrics(tmp_path):
    m, _ = run_bench(tmp_path, "golden.py")
    for key in ("golden.huffman.encode_symbols_per_s", "golden.huffman.decode_symbols_per_s",
                "golden.chain_lenet300_s"):
        assert isinstance(m[key], float) and m[key] > 0
    assert m["golden.chain_lenet300_ratio"] > 10


def test_compute_bench_writes_metrics(tmp_path):
    m, out = run_bench(tmp_path, "compute.py", "--no-synth")
    # Sustained rates: every block takes a transfer per cycle (the requantizer one
    # per 32 with 1-bit digits).
    assert m["mac.int8_macs_per_cycle.up5k"] == 16
    assert m["xnor.binary_macs_per_cycle.up5k"] == 256
    assert m["winograd.ops_per_cycle"] == 36
    assert m["requant.ops_per_cycle"] == round(1 / 32, 3)
    assert "mac" in out and "xnor" in out


def test_engine_bench_rtl_matches_the_cycle_model(tmp_path):
    """The quick engine bench runs the sparse phase's RTL for N = 1..8 and four
    densities; it checks every sum against NumPy, and the cycle model must
    predict every run exactly."""
    m, _ = run_bench(tmp_path, "engine.py", "--quick")
    assert m["model_error_max"] == 0
    for d in (5, 10, 25, 100):
        for n in (1, 2, 4, 8):
            assert m[f"d{d}.n{n}.rtl_cycles"] >= m[f"d{d}.n{n}.ideal_cycles"]
    assert (tmp_path / "engine_queue_depth.png").read_bytes()[:4] == b"\x89PNG"
