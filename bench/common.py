"""Shared by the bench scripts: results go to ``bench/results/<name>.json`` as
``{"metrics": {dotted.name: number}, ...}`` (written atomically) and a short
table on stdout."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

RESULTS = Path(os.environ.get("ZIPCORE_BENCH_RESULTS",
                            Path(__file__).resolve().parent / "results"))


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parent, timeout=10)
        return out.stdout.strip() or None
    except OSError:
        return None


def write_results(name: str, metrics: dict, *, section: tuple[str, ...] = (),
                  **extra) -> Path:
    """Write ``bench/results/NAME.json``. With ``section`` (key prefixes), the
    file's other metrics are kept and ``metrics`` replace the section's (every
    key starting with one of them); ``sections`` then records the commit and
    time each section was last measured at."""
    for k, v in metrics.items():
        if not isinstance(v, (int, float)):
            raise TypeError(f"metric {k} must be a number, not {v!r}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sections = {}
    if section:
        if any(not k.startswith(section) for k in metrics):
            raise ValueError(f"every metric of the section must start with one of {section}")
        old = json.loads(path.read_text()) if path.exists() else {}
        kept = {k: v for k, v in old.get("metrics", {}).items() if not k.startswith(section)}
        sections = {**old.get("sections", {}),
                    " ".join(section): {"commit": _commit(), "time": now}}
        metrics = {**kept, **metrics}
        extra = {k: v for k, v in old.items() if k not in ("metrics", "sections")} | extra
    doc = {"metrics": metrics, "commit": _commit(), "machine": platform.machine(),
           "cpus": os.cpu_count(), "time": now, **extra,
           **({"sections": sections} if sections else {})}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def print_table(rows: list[tuple], header: tuple):
    cols = list(zip(header, *rows))
    widths = [max(len(str(c)) for c in col) for col in cols]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(f"{str(c):<{w}}" for c, w in zip(r, widths)))


def timed(fn, *args, repeat: int = 3, **kw):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t)
    return best, out
