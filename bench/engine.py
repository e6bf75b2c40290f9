"""The engine's sparse phase (``hw.spmv.SparseMatVec``): cycles per layer on the
RTL against the ideal ``ceil(nnz / N)`` and against the cycle model
(``golden.hwmodel.cycles``), MAC utilisation, and utilisation against queue
depth (EIE's figure), saved as a PNG.

Each case is a random ``rows x cols`` layer at a weight density, run on the
RTL in amaranth.sim with dense activations (every column non-zero), after
loading every PE's memories through the load port. "RTL cycles" are from the
start pulse until ``busy`` falls; the model predicts ``mac_cycles +
SparseMatVec.overhead``. Utilisation is useful MACs / (N x RTL cycles).

This is the sparse phase only (scanner, queues, PEs): the sequencer, the
requantization between layers and the host link are not built yet.

Writes bench/results/engine.json and bench/results/engine_queue_depth.png.
Run: ``.venv/bin/python bench/engine.py`` (a few minutes); ``--quick`` for a
smaller layer; ``--synth`` adds out-of-context builds of the N = 4 sparse
phase on UP5K and ECP5-85F (a few more minutes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, print_table, write_results  # noqa: E402
from golden.hwmodel.cycles import layer_cycles  # noqa: E402
from hw.spmv import SparseMatVec  # noqa: E402
from sim.engine import run_spmv  # noqa: E402

CODE_BITS = 4


def layer(rows: int, cols: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 1 << CODE_BITS, (rows, cols)) * (rng.random((rows, cols)) < density)


def rtl_cycles(codes: np.ndarray, x: np.ndarray, n_pe: int, depth: int) -> tuple[int, list]:
    """Load ``codes`` into a SparseMatVec, run ``x``; its cycles and accumulators."""
    rows, cols = codes.shape
    per_pe = [codes[k::n_pe] for k in range(n_pe)]
    most = max(int(np.count_nonzero(c)) for c in per_pe)
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=max(2, cols),
                       pe={"code_bits": CODE_BITS, "rows": 1 << max(1, (-(-rows // n_pe) - 1)
                                                                    .bit_length()),
                           "pointers": cols + 1, "entries": max(2, most)})
    cb = np.arange(1 << CODE_BITS) - (1 << (CODE_BITS - 1))
    cb[0] = 0
    cycles, accs = run_spmv(dut, codes, cb, [x])
    if accs[0].tolist() != (cb[codes] @ x).tolist():
        raise AssertionError("the RTL's sums differ from NumPy's")
    return cycles[0], accs[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 64 x 32 layer instead of 256 x 64")
    ap.add_argument("--depth", type=int, default=8, help="queue depth of the table (8)")
    ap.add_argument("--synth", action="store_true",
                    help="also build the N = 4 sparse phase out of context (UP5K, ECP5-85F)")
    args = ap.parse_args(argv)
    rows, cols = (64, 32) if args.quick else (256, 64)
    x = np.random.default_rng(1).integers(1, 128, cols) * np.where(
        np.random.default_rng(2).random(cols) < 0.5, 1, -1)
    metrics, table = {"rows": rows, "cols": cols, "queue_depth": args.depth}, []
    worst = 0.0
    for density in (0.05, 0.10, 0.25, 1.0):
        codes = layer(rows, cols, density, seed=int(density * 1000))
        for n in (1, 2, 4, 8):
            model = layer_cycles(codes, x, n_pe=n, depth=args.depth, gap_bits=4)
            pred = model.mac_cycles + SparseMatVec.overhead
            got, _ = rtl_cycles(codes, x, n, args.depth)
            err = (pred - got) / got
            worst = max(worst, abs(err))
            util = model.useful_macs / (n * got)
            key = f"d{int(density * 100)}.n{n}"
            metrics.update({f"{key}.rtl_cycles": got, f"{key}.ideal_cycles": model.ideal,
                            f"{key}.model_cycles": pred, f"{key}.utilisation": round(util, 4),
                            f"{key}.model_error": round(err, 4)})
            table.append((f"{density:.0%}", n, model.useful_macs, model.ideal, got, pred,
                          f"{util:.3f}", f"{err:+.2%}"))
    metrics["model_error_max"] = round(worst, 4)

    # EIE's figure: utilisation against queue depth, 10% density.
    codes = layer(rows, cols, 0.10, seed=100)
    depths = [1, 2, 4, 8, 16, 32]
    curves = {}
    for n in (2, 4, 8):
        pts = []
        for d in depths:
            got, _ = rtl_cycles(codes, x, n, d)
            useful = layer_cycles(codes, x, n_pe=n, depth=d, gap_bits=4).useful_macs
            pts.append(useful / (n * got))
            metrics[f"depth.n{n}.q{d}.utilisation"] = round(pts[-1], 4)
        curves[n] = pts
    png = RESULTS / "engine_queue_depth.png"
    _plot(depths, curves, rows, cols, png)

    rows_synth = _synth(metrics) if args.synth else []
    path = write_results("engine", metrics)
    print_table(table, ("density", "N", "useful MACs", "ideal", "RTL cycles", "model",
                        "utilisation", "model error"))
    print(f"\nqueue depth {args.depth}; utilisation = useful MACs / (N x RTL cycles)")
    print("utilisation vs queue depth at 10% density (RTL):")
    for n, pts in curves.items():
        print(f"  N={n}: " + "  ".join(f"q{d}={u:.3f}" for d, u in zip(depths, pts)))
    if rows_synth:
        print()
        print_table(rows_synth, ("device", "Fmax MHz", "LC/LUT", "core", "DSP", "EBR", "SPRAM"))
    print(f"\nwrote {path} and {png}")


def _synth(metrics: dict) -> list:
    """Out-of-context builds of the N = 4 sparse phase: 128 rows per PE, 256
    pointers, 16384 entries per PE (an SPRAM on UP5K), queue depth 8."""
    from boards.synth import synthesize  # noqa: PLC0415

    rows = []
    for dev, freq in (("up5k", 40), ("ecp5-85f", 100)):
        dut = SparseMatVec(n_pe=4, queue_depth=8, max_len=512,
                           pe={"code_bits": CODE_BITS, "rows": 128, "pointers": 256,
                               "entries": 1 << 14,
                               "entry_ram": "spram" if dev == "up5k" else None})
        r = synthesize(dut, dev, freq_mhz=freq, name="bench-spmv4")
        key = dev.replace("-", "_")
        metrics.update({f"spmv4.fmax_mhz.{key}": round(r.fmax, 1), f"spmv4.lc.{key}": r.lc,
                        f"spmv4.core_lc.{key}": r.core_lc, f"spmv4.dsp.{key}": r.dsp,
                        f"spmv4.ebr.{key}": r.ebr, f"spmv4.spram.{key}": r.spram})
        rows.append((dev, f"{r.fmax:.1f}", r.lc, r.core_lc, r.dsp, r.ebr, r.spram))
    return rows


def _plot(depths, curves, rows, cols, path: Path):
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    for n, pts in curves.items():
        ax.plot(depths, pts, marker="o", label=f"N = {n} PEs")
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("activation queue depth")
    ax.set_ylabel("MAC utilisation")
    ax.set_title(f"Sparse phase, {rows}x{cols} layer, 10% density (RTL)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


if __name__ == "__main__":
    main()
