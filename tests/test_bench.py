"""Bench scripts run and write the machine-readable results the issues name."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_golden_bench_writes_metrics(tmp_path):
    env = dict(os.environ, ZIPCORE_BENCH_RESULTS=str(tmp_path))
    r = subprocess.run([sys.executable, "bench/golden.py"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "golden.json").read_text())
    m = doc["metrics"]
    for key in ("golden.huffman.encode_symbols_per_s", "golden.huffman.decode_symbols_per_s",
                "golden.chain_lenet300_s"):
        assert isinstance(m[key], float) and m[key] > 0
    assert m["golden.chain_lenet300_ratio"] > 10


def test_compute_bench_writes_metrics(tmp_path):
    env = dict(os.environ, ZIPCORE_BENCH_RESULTS=str(tmp_path))
    r = subprocess.run([sys.executable, "bench/compute.py", "--no-synth"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "compute.json").read_text())["metrics"]
    assert 15.9 <= m["mac.int8_macs_per_cycle.up5k"] <= 16
    assert 254 <= m["xnor.binary_macs_per_cycle.up5k"] <= 256
    assert 35 <= m["winograd.ops_per_cycle"] <= 36
    assert "mac" in r.stdout and "xnor" in r.stdout
