"""``zipcore simulate``: a ``.zcm`` model on the engine RTL, checked bit for bit."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from golden.hwmodel.cycles import model_cycles
from golden.hwmodel.engine import engine_forward, engine_model, quantize_input
from golden.hwmodel.image import ImageError
from golden.zcm import ZcmError

from .errors import UserError
from .models import finish, read_engine_model, test_split

__all__ = ["cmd_simulate", "add_parser", "simulate_report"]


def simulate_report(zm, x, y, *, sim: str, n_pe: int, queue_depth: int, waves: bool = False,
                    build_root=None, pipelined: bool = False, xnor: bool | None = None,
                    form: str = "expanded") -> dict:
    """Run the test inputs ``x`` (float) with labels ``y`` through the engine RTL and
    the golden model; the report ``zipcore simulate`` prints and writes. ``xnor``
    and ``form``: as ``hw.engine.engine_params``."""
    from sim.engine import simulate_model  # noqa: PLC0415
    from sim.harness import SimulatorMissing  # noqa: PLC0415

    try:
        em = engine_model(zm)
    except ZcmError as e:
        raise UserError(str(e)) from None
    xq = quantize_input(em, x)
    want = engine_forward(em, xq)
    t0 = time.monotonic()
    try:
        r = simulate_model(zm, xq, sim=sim, n_pe=n_pe, queue_depth=queue_depth, waves=waves,
                           build_root=build_root, pipelined=pipelined, xnor=xnor, form=form)
    except SimulatorMissing as e:
        raise UserError(str(e)) from None
    except ImageError as e:
        raise UserError(f"memory image: {e}") from None
    except ValueError as e:
        raise UserError(str(e)) from None
    seconds = time.monotonic() - t0
    got = r["outputs"]
    scale = em.layers[-1].out_scale[None, :]
    pred, gold = np.argmax(got * scale, axis=1), np.argmax(want * scale, axis=1)
    c = r["counters"]
    cycles = np.array([v["cycles"] for v in c], dtype=np.float64)
    mac_cycles = np.array([v["mac_cycles"] for v in c], dtype=np.float64)
    macs = np.array([v["macs"] for v in c], dtype=np.float64)
    # The cycle model's sparse phases (each + the engine's fixed busy tail) vs the RTL's.
    from hw.spmv import SparseMatVec  # noqa: PLC0415

    tail = (SparseMatVec.stream_overhead if form == "stream" else SparseMatVec.overhead) - 1
    sym_bits = r["info"].get("sym_bits") or None
    predicted = np.array([sum(p.mac_cycles + tail * p.phases
                              for p in model_cycles(zm, v, n_pe=n_pe, depth=queue_depth,
                                                    pipelined=pipelined,
                                                    xnor=r["info"]["xnor"], form=form,
                                                    sym_bits=sym_bits))
                          for v in xq], dtype=np.float64)
    return {
        "simulator": sim, "pes": n_pe, "queue_depth": queue_depth, "pipelined": pipelined,
        "form": form,
        "xnor": bool(r["info"]["xnor"]),
        "images": int(len(xq)),
        "mismatches": int((got != want).any(axis=1).sum()),
        "accuracy": float(np.mean(pred == y)) if len(y) else 0.0,
        "golden_accuracy": float(np.mean(gold == y)) if len(y) else 0.0,
        "cycles_per_inference": float(cycles.mean()),
        "sparse_cycles_per_inference": float(mac_cycles.mean()),
        "useful_macs_per_inference": float(macs.mean()),
        "utilization": float(macs.sum() / (n_pe * cycles.sum())),
        "sparse_utilization": float(macs.sum() / (n_pe * mac_cycles.sum())),
        "cycle_model_error": float(np.max(np.abs(predicted - mac_cycles) / mac_cycles)),
        "sim_seconds": round(seconds, 2),
        "engine": r["info"],
        "waves": str(r["waves"]) if r["waves"] else None,
    }


def cmd_simulate(args) -> int:
    if args.pes < 1 or args.pes > 64:
        raise UserError(f"--pes must be in 1..64, not {args.pes}")
    if args.queue_depth < 1 or args.queue_depth > 64:
        raise UserError(f"--queue-depth must be in 1..64, not {args.queue_depth}")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, not {args.limit}")
    zm = read_engine_model(args.model)
    from hw.engine import engine_params  # noqa: PLC0415

    try:
        engine_params(zm, n_pe=args.pes, queue_depth=args.queue_depth,
                      xnor=False if args.no_xnor or args.form == "stream" else None,
                      form=args.form)
    except ValueError as e:
        raise UserError(str(e)) from None
    x, y, name = test_split(zm, args.dataset, args.limit)
    if args.form == "stream" and args.pipelined:
        raise UserError("--pipelined is the expanded form's: the stream form's PEs are "
                        "pipelined already")
    form = f", {args.form} image" + (", pipelined PEs" if args.pipelined else "")
    if any(ly.storage == "binary" for ly in zm.layers):
        form += (", binary layers as +1/-1 entries" if args.no_xnor or args.form == "stream"
                 else ", binary layers on the XNOR path")
    print(f"simulating {len(x)} {name} test images on {args.sim} "
          f"({args.pes} PEs, queue depth {args.queue_depth}{form})...", file=sys.stderr)
    rep = simulate_report(zm, x, y, sim=args.sim, n_pe=args.pes, queue_depth=args.queue_depth,
                          waves=bool(args.waves), pipelined=args.pipelined,
                          xnor=False if args.no_xnor or args.form == "stream" else None,
                          form=args.form)
    if args.waves and rep["waves"]:
        dest = Path(args.waves)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copyfile(rep["waves"], tmp)
        os.replace(tmp, dest)
        rep["waves"] = str(dest)
    print(f"{args.model}: {rep['images']} images on {rep['simulator']}, "
          f"{rep['mismatches']} mismatches against golden.hwmodel")
    print(f"  accuracy {rep['accuracy']:.4f} (golden model {rep['golden_accuracy']:.4f})")
    print(f"  {rep['cycles_per_inference']:.0f} cycles per inference, "
          f"{rep['sparse_cycles_per_inference']:.0f} of them in sparse phases; "
          f"{rep['useful_macs_per_inference']:.0f} useful MACs")
    print(f"  MAC utilisation {rep['utilization']:.3f} of all cycles, "
          f"{rep['sparse_utilization']:.3f} of sparse-phase cycles; cycle model error "
          f"{100 * rep['cycle_model_error']:.2f}%")
    print(f"  {rep['sim_seconds']:.1f} s of simulation (build included)")
    if rep["waves"]:
        print(f"  waves: {rep['waves']}")
    return finish(rep, args.json, "simulate")


def add_parser(sub):
    s = sub.add_parser("simulate", help="run a .zcm model on the engine RTL (Verilator or "
                                        "Icarus) and check every output bit for bit")
    s.add_argument("model", help="the .zcm file")
    s.add_argument("--dataset", help="digits | digits28 | mnist:DIR (default: the model's)")
    s.add_argument("--limit", type=int, metavar="N", help="the first N test images only")
    s.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    s.add_argument("--pes", type=int, default=4, metavar="N", help="processing elements")
    s.add_argument("--queue-depth", type=int, default=8, metavar="D",
                   help="activation queue depth per PE (default 8)")
    s.add_argument("--pipelined", action="store_true",
                   help="the ECP5 boards' PE form: every memory output registered, column "
                        "pointers fetched two activations ahead")
    s.add_argument("--no-xnor", action="store_true",
                   help="run binary layers as +1/-1 entries on the multipliers, not on the "
                        "XNOR path (bit planes against packed sign words)")
    s.add_argument("--form", choices=("expanded", "stream"), default="expanded",
                   help="the memory image form the engine loads and runs: expanded "
                        "(fixed-width entries, the default) or stream (the Huffman-coded "
                        "entries, decoded on chip; fully connected models)")
    s.add_argument("--waves", metavar="FILE", help="write the simulator's trace (FST) to FILE")
    s.add_argument("--json", metavar="FILE", help="write the report as JSON")
    s.set_defaults(func=cmd_simulate)
