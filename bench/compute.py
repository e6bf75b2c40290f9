"""Compute gateware: sustained operations per cycle (amaranth.sim, ``n``
transfers back to back with no stalls, counted from the first accepted
transfer to the last; the cycles to the last result, which add the pipeline's
fill, are recorded too) and LCs/LUTs, DSPs and Fmax on iCE40 UP5K and ECP5-85F from
out-of-context builds (nextpnr's report).

Configurations:
* ``mac``: MACArray, 16 int8 lanes; on UP5K in the 8 SB_MAC16 (dual 8x8,
  hand-instantiated, built without ``-dsp``), on ECP5 in MULT18X18D.
* ``mac_int4``: 16 lanes of 4x4-bit products in LUTs; ``mac_ternary``: 16
  ternary lanes of int8 activations (adders only).
* ``xnor``: XnorPopcount, 4 lanes x 64 bits = 256 binary MACs per cycle; on
  UP5K its adder tree is hand-instantiated SB_LUT4/SB_CARRY chains.
* ``requant``: Requantizer, 1 bit of M0 per cycle (31 cycles per result).
* ``winograd``: WinogradTile; UP5K: 6-bit activations, 4-bit weights in 8
  SB_MAC16 (dual 8x8); ECP5: int8 in MULT18X18D. 36 MAC-equivalents a tile.

Writes bench/results/compute.json. Run: ``.venv/bin/python bench/compute.py``
(about 15 minutes: 14 place-and-route runs); ``--no-synth`` measures only
operations per cycle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_results  # noqa: E402
from boards.synth import ECP5_ABC_LUT_MAP, SynthError, synthesize  # noqa: E402
from hw.mac import MACArray  # noqa: E402
from hw.requant import Requantizer  # noqa: E402
from hw.threshold import Threshold  # noqa: E402
from hw.winograd import WinogradTile  # noqa: E402
from hw.xnor import XnorPopcount  # noqa: E402
from sim.amsim import run_testbenches  # noqa: E402

FREQ = {"up5k": 48, "ecp5-85f": 100}
DEVICES = ("up5k", "ecp5-85f")


def transfers_per_cycle(dut, item: dict, n: int = 200, results: int | None = None
                        ) -> tuple[float, int]:
    """Offer ``n`` transfers back to back with ``o`` always ready. Returns the
    sustained rate, ``(n - 1) / (cycles from the first accepted transfer to the
    last)``, and the cycles from the first offer to the last result (which add
    the pipeline's fill and drain). Every expected result must arrive."""
    results = n if results is None else results
    out = {}

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        sent = got = cycles = 0
        first = last = None
        ctx.set(dut.i.payload, item)
        while got < results:
            ctx.set(dut.i.valid, int(sent < n))
            if sent < n and n > 1:
                p = dict(item)
                if "last" in p:
                    p["last"] = int(sent % (n // results) == n // results - 1)
                ctx.set(dut.i.payload, p)
            *_, took, gave = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            if took and sent < n:
                first = cycles if first is None else first
                last = cycles
                sent += 1
            got += int(gave)
            cycles += 1
            if cycles > 100 * n + 1000:
                raise RuntimeError(f"only {got} of {results} results after {cycles} cycles")
        out["rate"] = (n - 1) / (last - first)
        out["cycles"] = cycles

    run_testbenches(dut, tb)
    return out["rate"], out["cycles"]


def configs():
    mac_item = {"w": [1] * 16, "a": [1] * 16, "last": 0}
    x_item = {"w": [0] * 4, "a": [0] * 4, "last": 0}
    rq_item = {"acc": 12345, "multiplier": 1 << 30, "shift": 4, "zero_point": 0, "relu": 0}
    return [
        # name, builder(device), ops per transfer, op kind, sim item, results per n
        ("mac", lambda d: MACArray(lanes=16, weight_bits=8, act_bits=8, max_len=1024,
                                   dsp="sb_mac16" if d == "up5k" else None),
         16, "int8 MACs", mac_item, 4),
        ("mac_int4", lambda d: MACArray(lanes=16, weight_bits=4, act_bits=4, max_len=1024),
         16, "int4 MACs", mac_item, 4),
        ("mac_ternary", lambda d: MACArray(lanes=16, act_bits=8, max_len=1024,
                                           kind="ternary"),
         16, "ternary MACs", mac_item, 4),
        ("xnor", lambda d: XnorPopcount(width=64, lanes=4, max_len=64,
                                        carry="sb_carry" if d == "up5k" else None),
         256, "binary MACs", x_item, 4),
        ("threshold", lambda d: Threshold(lanes=16, acc_bits=16),
         16, "thresholds", {"acc": [0] * 16, "tau": [0] * 16, "flip": 0}, None),
        ("requant", lambda d: Requantizer(digit_bits=1), 1, "results", rq_item, None),
        ("winograd", lambda d: WinogradTile(act_bits=6, weight_bits=4, dsp="sb_mac16")
         if d == "up5k" else WinogradTile(act_bits=8, weight_bits=8),
         36, "MAC-equivalents", {"d": [0] * 16, "u": [0] * 16}, None),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-synth", action="store_true", help="skip the place-and-route runs")
    args = ap.parse_args(argv)
    metrics, rows = {}, []
    for name, build, ops, kind, item, per in configs():
        # cycle behaviour is the same for every variant: measure the plain one
        sim_dut = build("ecp5-85f")
        n = 2000 if name != "requant" else 20
        rate, cycles = transfers_per_cycle(sim_dut, item, n=n,
                                           results=(n // 500 if per else None))
        opc = rate * ops
        metrics[f"{name}.ops_per_cycle"] = round(opc, 3)
        metrics[f"{name}.cycles_incl_fill"] = cycles
        metrics[f"{name}.transfers"] = n
        op_key = {"mac": "int8_macs_per_cycle", "xnor": "binary_macs_per_cycle"}.get(name)
        for dev in DEVICES:
            key = dev.replace("-", "_")
            if op_key:
                metrics[f"{name}.{op_key}.{key}"] = round(opc, 3)
            if args.no_synth:
                continue
            try:
                r = synthesize(build(dev), dev, freq_mhz=FREQ[dev], name=f"bench-{name}",
                               dsp=(dev != "up5k"))
            except SynthError as e:
                # YoWASP Yosys 0.70's abc9 LUT mapping asserts on some ECP5 designs
                # (rtlil.cc:3091, seen on the 16-lane MAC arrays): map LUTs with the
                # classic abc pass instead, and say so in the results.
                if dev == "up5k":
                    raise
                print(f"{name} on {dev}: Yosys abc9 failed ({str(e).splitlines()[0]}); "
                      "retrying with abc LUT mapping")
                r = synthesize(build(dev), dev, freq_mhz=FREQ[dev], name=f"bench-{name}",
                               synth_opts=ECP5_ABC_LUT_MAP)
                metrics[f"{name}.abc_lut_map.{key}"] = 1
            metrics.update({f"{name}.fmax_mhz.{key}": round(r.fmax, 1),
                            f"{name}.lc.{key}": r.lc, f"{name}.core_lc.{key}": r.core_lc,
                            f"{name}.dsp.{key}": r.dsp, f"{name}.ebr.{key}": r.ebr})
            if name == "xnor":
                metrics[f"xnor.lc_per_binary_mac.{key}"] = round(r.core_lc / ops, 2)
            rows.append((name, dev, f"{opc:.2f} {kind}", f"{r.fmax:.1f}", r.lc, r.core_lc,
                         r.dsp, r.ebr, "yes" if r.timing_met else "no"))
        if args.no_synth:
            rows.append((name, "-", f"{opc:.2f} {kind}", "-", "-", "-", "-", "-", "-"))
    path = write_results("compute", metrics, synth=not args.no_synth)
    print_table(rows, ("block", "device", "per cycle", "Fmax MHz", "LC", "core LC", "DSP",
                       "EBR", f"meets {FREQ['up5k']}/{FREQ['ecp5-85f']}"))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
