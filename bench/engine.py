"""The engine's sparse phase (``hw.spmv.SparseMatVec``): cycles per layer on the
RTL against the ideal ``ceil(nnz / N)`` and against the cycle model
(``golden.hwmodel.cycles``), MAC utilisation, and utilisation against queue
depth (EIE's figure), saved as a PNG.

Each case is a random ``rows x cols`` layer at a weight density, run on the
RTL in amaranth.sim with dense activations (every column non-zero), after
loading every PE's memories through the load port, for N = 1, 2, 4, 8 and
for N = 4 with the pipelined PEs (the ECP5 boards' form). "RTL cycles" are from the
start pulse until ``busy`` falls; the model predicts ``mac_cycles +
SparseMatVec.overhead``. Utilisation is useful MACs / (N x RTL cycles).

Then the whole engine (``hw.hostlink.HostLink``: loader, sequencer, every
layer's output stage, the byte protocol) runs the default digits model
(``build/digits-mlp.zcm``, made by ``zipcore compress`` if missing) on the
full digits test split on Verilator, as ``zipcore simulate`` does: its wall
time (``engine.digits_sim_s``, the Verilator build included when the
design changed), mismatches, cycles per inference and utilisation, and the
cycle model's error on its sparse phases; and LeNet-5 (``build/lenet5.zcm``,
convolutions and pools) the same way on the first digits28 test images.
Binary layers: the binary digits model (``build/digits-bin.zcm``, made by
``zipcore compress builtin:digits-mlp --binary`` if missing) on the first
digits test images, on the XNOR path (sign words, bit planes) and as +1/-1
entries on the multipliers: cycles per inference, the weight words per PE,
mismatches and the cycle model's error, for N = 4 and 16.

``--forms`` measures the two memory image forms instead (and with
``--synth`` builds only the stream-form engine), and updates only their keys
in engine.json (``engine.stream.*``, ``engine.expanded.*``,
``engine.load_bytes*``): the whole engine on the digits model, full test
split on Verilator, N = 4, queues 8 deep, in each form (``zipcore simulate
--form``); on-chip weight bits per non-zero weight
(``golden.hwmodel.image.weight_memory_bits``: entries or stream bits plus
every pointer or length-table bit, over the model's non-zero weights); the
bytes each board's host sends to load the model (its ``board_form``'s image,
at the board's PEs) over the ``.zcm`` file's; and with ``--synth`` the
stream-form N = 4 engine out of context on ECP5-85F.

Writes bench/results/engine.json and bench/results/engine_queue_depth.png.
Run: ``.venv/bin/python bench/engine.py`` (a few minutes); ``--quick`` for a
smaller layer and no digits run; ``--synth`` adds out-of-context builds of the
N = 4 sparse phase and of the whole N = 4 engine sized for the digits model,
on UP5K and ECP5-85F (10-15 more minutes). A build that does not place is
reported with what it needed (nextpnr's utilisation).
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


def rtl_cycles(codes: np.ndarray, x: np.ndarray, n_pe: int, depth: int,
               pipelined: bool = False) -> tuple[int, list]:
    """Load ``codes`` into a SparseMatVec (``pipelined``: SparsePE's ECP5 form),
    run ``x``; its cycles and accumulators."""
    rows, cols = codes.shape
    per_pe = [codes[k::n_pe] for k in range(n_pe)]
    most = max(int(np.count_nonzero(c)) for c in per_pe)
    dut = SparseMatVec(n_pe=n_pe, queue_depth=depth, max_len=max(2, cols),
                       pe={"code_bits": CODE_BITS, "rows": 1 << max(1, (-(-rows // n_pe) - 1)
                                                                    .bit_length()),
                           "pointers": cols + 1, "entries": max(2, most),
                           "pipelined": pipelined})
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
    ap.add_argument("--forms", action="store_true",
                    help="measure the expanded and stream image forms only (see above)")
    args = ap.parse_args(argv)
    if args.forms:
        return _forms(args.synth)
    rows, cols = (64, 32) if args.quick else (256, 64)
    x = np.random.default_rng(1).integers(1, 128, cols) * np.where(
        np.random.default_rng(2).random(cols) < 0.5, 1, -1)
    metrics, table = {"rows": rows, "cols": cols, "queue_depth": args.depth}, []
    worst = 0.0
    for density in (0.05, 0.10, 0.25, 1.0):
        codes = layer(rows, cols, density, seed=int(density * 1000))
        for n, pipelined in [(n, False) for n in (1, 2, 4, 8)] + [(4, True)]:
            model = layer_cycles(codes, x, n_pe=n, depth=args.depth, gap_bits=4,
                                 pipelined=pipelined)
            pred = model.mac_cycles + SparseMatVec.overhead
            got, _ = rtl_cycles(codes, x, n, args.depth, pipelined)
            err = (pred - got) / got
            worst = max(worst, abs(err))
            util = model.useful_macs / (n * got)
            key = f"d{int(density * 100)}.n{n}" + (".pipelined" if pipelined else "")
            metrics.update({f"{key}.rtl_cycles": got, f"{key}.ideal_cycles": model.ideal,
                            f"{key}.model_cycles": pred, f"{key}.utilisation": round(util, 4),
                            f"{key}.model_error": round(err, 4)})
            table.append((f"{density:.0%}", f"{n}{' pipelined' if pipelined else ''}",
                          model.useful_macs, model.ideal, got, pred, f"{util:.3f}",
                          f"{err:+.2%}"))
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

    metrics["engine.utilization.n4_d10"] = metrics["d10.n4.utilisation"]
    metrics["engine.utilization.n4_d10_pipelined"] = metrics["d10.n4.pipelined.utilisation"]
    metrics["engine.cycle_model_error.max"] = worst
    digits = None if args.quick else _digits(metrics)
    lenet5 = None if args.quick else _lenet5(metrics)
    binary = [] if args.quick else _binary(metrics)
    rows_synth = _synth(metrics) if args.synth else []
    path = write_results("engine", metrics)
    print_table(table, ("density", "N", "useful MACs", "ideal", "RTL cycles", "model",
                        "utilisation", "model error"))
    print(f"\nqueue depth {args.depth}; utilisation = useful MACs / (N x RTL cycles)")
    print("utilisation vs queue depth at 10% density (RTL):")
    for n, pts in curves.items():
        print(f"  N={n}: " + "  ".join(f"q{d}={u:.3f}" for d, u in zip(depths, pts)))
    if digits:
        print("\nwhole engine, default digits model, full test split on Verilator (N = 4, q 8):")
        print(f"  {digits['images']} images, {digits['mismatches']} mismatches, accuracy "
              f"{digits['accuracy']:.4f} (golden {digits['golden_accuracy']:.4f}), "
              f"{digits['sim_seconds']:.1f} s")
        print(f"  {digits['cycles_per_inference']:.0f} cycles per inference "
              f"({digits['sparse_cycles_per_inference']:.0f} in sparse phases); utilisation "
              f"{digits['utilization']:.3f} of all cycles, {digits['sparse_utilization']:.3f} "
              f"of sparse-phase cycles; cycle model error {digits['cycle_model_error']:.2%}")
    if lenet5:
        print(f"\nLeNet-5 (builtin:lenet5 on digits28), first {lenet5['images']} test images "
              f"on Verilator (N = 4, q 8):")
        print(f"  {lenet5['mismatches']} mismatches, {lenet5['cycles_per_inference']:.0f} cycles "
              f"per inference ({lenet5['sparse_cycles_per_inference']:.0f} in sparse phases), "
              f"utilisation {lenet5['utilization']:.3f} of all cycles; cycle model error "
              f"{lenet5['cycle_model_error']:.2%}; {lenet5['sim_seconds']:.1f} s")
    if binary:
        print(f"\nbinary digits model (--binary), first {BINARY_IMAGES} digits test images on "
              f"Verilator, queues 8 deep:")
        print_table(binary, ("N", "binary layers", "weight words / PE", "fits", "mismatches",
                             "cycles / inference", "model error"))
    if rows_synth:
        print()
        print_table(rows_synth, ("build", "device", "Fmax MHz", "LC/LUT", "core", "DSP", "EBR",
                                 "SPRAM", "placed"))
    print(f"\nwrote {path} and {png}")


def _builtin_model(name: str = "digits-mlp"):
    """``build/NAME.zcm``, made by ``zipcore compress builtin:NAME`` if missing."""
    from golden.zcm import read_zcm  # noqa: PLC0415

    path = Path(__file__).resolve().parent.parent / "build" / f"{name}.zcm"
    if not path.exists():
        from zipcore.cli import main as zipcore  # noqa: PLC0415

        if zipcore(["compress", f"builtin:{name}", "-o", str(path), "-q"]) != 0:
            raise SystemExit(f"zipcore compress builtin:{name} failed")
    return read_zcm(path)


def _digits_model():
    return _builtin_model("digits-mlp")


LENET5_IMAGES = 60


def _lenet5(metrics: dict) -> dict:
    """LeNet-5 (convolutions, pools, fc layers) on the first ``LENET5_IMAGES``
    digits28 test images on Verilator, N = 4, queues 8 deep."""
    from golden.data import load  # noqa: PLC0415
    from zipcore.simulate import simulate_report  # noqa: PLC0415

    d = load("digits28")
    x, y = d.x_test[:LENET5_IMAGES], d.y_test[:LENET5_IMAGES]
    rep = simulate_report(_builtin_model("lenet5"), x, y, sim="verilator", n_pe=4,
                          queue_depth=8)
    metrics.update({"engine.lenet5.images": rep["images"],
                    "engine.lenet5.mismatches": rep["mismatches"],
                    "engine.lenet5.cycles_per_inference": round(rep["cycles_per_inference"], 1),
                    "engine.lenet5.sparse_cycles_per_inference":
                        round(rep["sparse_cycles_per_inference"], 1),
                    "engine.lenet5.utilization": round(rep["utilization"], 4),
                    "engine.lenet5.cycle_model_error": round(rep["cycle_model_error"], 4),
                    "engine.lenet5.sim_s": rep["sim_seconds"]})
    metrics["engine.cycle_model_error.max"] = max(metrics["engine.cycle_model_error.max"],
                                                  rep["cycle_model_error"])
    return rep


BINARY_IMAGES = 60


def _binary(metrics: dict) -> list:
    """The binary digits model on the XNOR path and as +1/-1 entries (the one
    that fits: 16384 words per PE), N = 4 and 16."""
    from golden.data import load  # noqa: PLC0415
    from hw.engine import weight_words  # noqa: PLC0415
    from zipcore.simulate import simulate_report  # noqa: PLC0415

    path = Path(__file__).resolve().parent.parent / "build" / "digits-bin.zcm"
    if not path.exists():
        from zipcore.cli import main as zipcore  # noqa: PLC0415

        if zipcore(["compress", "builtin:digits-mlp", "--binary", "-o", str(path), "-q"]) != 0:
            raise SystemExit("zipcore compress builtin:digits-mlp --binary failed")
    from golden.zcm import read_zcm  # noqa: PLC0415

    zm = read_zcm(path)
    d = load("digits")
    x, y = d.x_test[:BINARY_IMAGES], d.y_test[:BINARY_IMAGES]
    rows = []
    for n in (4, 16):
        for xnor in (True, False):
            words = max(weight_words(zm, n, xnor=xnor))
            key = f"engine.binary.{'xnor' if xnor else 'entries'}.n{n}"
            metrics[f"{key}.words_per_pe"] = words
            fits = words <= 1 << 14
            if not fits:
                rows.append((n, "XNOR" if xnor else "entries", words, "no", "-", "-", "-"))
                continue
            rep = simulate_report(zm, x, y, sim="verilator", n_pe=n, queue_depth=8, xnor=xnor)
            metrics.update({f"{key}.mismatches": rep["mismatches"],
                            f"{key}.cycles_per_inference": round(rep["cycles_per_inference"], 1),
                            f"{key}.cycle_model_error": round(rep["cycle_model_error"], 4)})
            metrics["engine.cycle_model_error.max"] = max(
                metrics["engine.cycle_model_error.max"], rep["cycle_model_error"])
            rows.append((n, "XNOR" if xnor else "entries", words, "yes", rep["mismatches"],
                         f"{rep['cycles_per_inference']:.0f}",
                         f"{rep['cycle_model_error']:.2%}"))
    return rows


def _digits(metrics: dict) -> dict:
    from golden.data import load  # noqa: PLC0415
    from zipcore.simulate import simulate_report  # noqa: PLC0415

    d = load("digits")
    rep = simulate_report(_digits_model(), d.x_test, d.y_test, sim="verilator", n_pe=4,
                          queue_depth=8)
    metrics.update({"engine.digits_sim_s": rep["sim_seconds"],
                    "engine.digits.images": rep["images"],
                    "engine.digits.mismatches": rep["mismatches"],
                    "engine.digits.accuracy": round(rep["accuracy"], 4),
                    "engine.digits.golden_accuracy": round(rep["golden_accuracy"], 4),
                    "engine.digits.cycles_per_inference": round(rep["cycles_per_inference"], 1),
                    "engine.digits.utilization": round(rep["utilization"], 4),
                    "engine.digits.sparse_utilization": round(rep["sparse_utilization"], 4),
                    "engine.digits.cycle_model_error": round(rep["cycle_model_error"], 4)})
    metrics["engine.cycle_model_error.max"] = max(metrics["engine.cycle_model_error.max"],
                                                  rep["cycle_model_error"])
    return rep


FORMS_SECTION = tuple(f"engine.{form}.{key}" for form in ("stream", "expanded")
                      for key in ("digits.", "cycle_model_error", "bits_per_nonzero")) + (
    "engine.load_bytes",)
# The stream engine's out-of-context build (``--forms --synth``): a section of its own, so a
# ``--forms`` run without ``--synth`` keeps the last build's keys.
FORMS_SYNTH_SECTION = tuple(f"engine.stream.{key}." for key in (
    "fmax_mhz", "lc", "core_lc", "dsp", "ebr", "spram", "placed", "router2"))


def _forms(synth: bool):
    """``--forms``: the engine in each image form (see the module docstring)."""
    from boards.catalog import BOARDS, board_form  # noqa: PLC0415
    from golden.data import load  # noqa: PLC0415
    from golden.hwmodel.image import memory_image, read_image, weight_memory_bits  # noqa: PLC0415
    from hw.engine import engine_params  # noqa: PLC0415
    from hw.hostlink import HostLink  # noqa: PLC0415
    from zipcore.simulate import simulate_report  # noqa: PLC0415

    zm, d = _digits_model(), load("digits")
    zcm_bytes = (Path(__file__).resolve().parent.parent / "build" / "digits-mlp.zcm").stat().st_size
    m: dict = {}
    rows = []
    for form in ("expanded", "stream"):
        rep = simulate_report(zm, d.x_test, d.y_test, sim="verilator", n_pe=4, queue_depth=8,
                              form=form)
        params = engine_params(zm, n_pe=4, form=form)
        img = read_image(memory_image(zm, 4, code_field=params["pe"]["code_bits"], form=form,
                                      binary_as_entries=True))
        bits = weight_memory_bits(img, len_field=params["pe"].get("len_bits"))
        k = f"engine.{form}"
        m.update({f"{k}.digits.images": rep["images"], f"{k}.digits.mismatches": rep["mismatches"],
                  f"{k}.digits.accuracy": round(rep["accuracy"], 4),
                  f"{k}.digits.golden_accuracy": round(rep["golden_accuracy"], 4),
                  f"{k}.digits.cycles_per_inference": round(rep["cycles_per_inference"], 1),
                  f"{k}.digits.sparse_utilization": round(rep["sparse_utilization"], 4),
                  f"{k}.digits.utilization": round(rep["utilization"], 4),
                  f"{k}.digits.sim_s": rep["sim_seconds"],
                  f"{k}.cycle_model_error": round(rep["cycle_model_error"], 4),
                  f"{k}.bits_per_nonzero": round(bits["bits_per_nonzero"], 3)})
        rows.append((form, rep["images"], rep["mismatches"], f"{rep['accuracy']:.4f}",
                     f"{rep['cycles_per_inference']:.0f}", f"{rep['sparse_utilization']:.3f}",
                     f"{rep['cycle_model_error']:.2%}", f"{bits['bits_per_nonzero']:.2f}"))
    print_table(rows, ("form", "images", "mismatches", "accuracy", "cycles/inf", "sparse util",
                       "model err", "bits/nz"))
    loads = []
    for name, board in BOARDS.items():
        form = board_form(board, zm)
        n = len(memory_image(zm, board.pes, form=form, binary_as_entries=True))
        m[f"engine.load_bytes.{name}"] = n
        loads.append((name, form, board.pes, n, f"{n / zcm_bytes:.3f}"))
    m["engine.load_bytes.zcm"] = zcm_bytes
    m["engine.load_bytes_ratio"] = round(max(r[3] for r in loads) / zcm_bytes, 4)
    print()
    print_table(loads, ("board", "form", "PEs", "image bytes", "/ .zcm"))
    print(write_results("engine", m, section=FORMS_SECTION))
    if synth:
        built: dict = {}
        row = _placed(lambda dev: HostLink(**engine_params(zm, n_pe=4, queue_depth=8,
                                                           form="stream")),
                      "ecp5-85f", 100, "bench-engine4-stream", built, "engine.stream")
        print()
        print_table([row], ("build", "device", "Fmax MHz", "LC/LUT", "core", "DSP", "EBR",
                            "SPRAM", "placed"))
        print(write_results("engine", built, section=FORMS_SYNTH_SECTION))


def _placed(build, dev, freq, name, metrics, prefix) -> tuple:
    """One out-of-context build; a design that does not place on the UP5K is
    reported with nextpnr's utilisation of what it asked for, any other failure
    (a tool's timeout) with its message."""
    import re  # noqa: PLC0415

    from boards.synth import SynthError, synthesize  # noqa: PLC0415

    key = dev.replace("-", "_")
    try:
        r = synthesize(build(dev), dev, freq_mhz=freq, name=name)
    except SynthError as e:
        found = re.search(r"log: (\S+?)\)", str(e))
        log = Path(found.group(1)).with_name("nextpnr.log") if found else None
        text = log.read_text() if log is not None and log.exists() else ""
        used = dict((k, int(v)) for k, v in re.findall(r"ICESTORM_(\w+):\s+(\d+)/", text))
        if "LC" not in used:        # not an iCE40 placement's failure (a timeout, say)
            metrics[f"{prefix}.placed.{key}"] = 0
            return (name, dev, "-", "-", "-", "-", "-", "-", str(e)[:60])
        metrics.update({f"{prefix}.placed.{key}": 0, f"{prefix}.lc_needed.{key}": used["LC"],
                        f"{prefix}.ebr_needed.{key}": used["RAM"],
                        f"{prefix}.dsp.{key}": used["DSP"],
                        f"{prefix}.spram.{key}": used["SPRAM"]})
        return (name, dev, "-", f"{used['LC']} (needed)", "-", used["DSP"],
                f"{used['RAM']} (needed)", used["SPRAM"], "no")
    metrics.update({f"{prefix}.fmax_mhz.{key}": round(r.fmax, 1), f"{prefix}.lc.{key}": r.lc,
                    f"{prefix}.core_lc.{key}": r.core_lc, f"{prefix}.dsp.{key}": r.dsp,
                    f"{prefix}.ebr.{key}": r.ebr, f"{prefix}.spram.{key}": r.spram,
                    f"{prefix}.placed.{key}": 1})
    # An ECP5 build that router1 did not finish is routed with router2
    # (``boards.synth.synthesize``): said in the row and in ``*.router2.*``.
    router2 = r.extra.get("router") == "router2"
    if router2:
        metrics[f"{prefix}.router2.{key}"] = 1
    return (name, dev, f"{r.fmax:.1f}", r.lc, r.core_lc, r.dsp, r.ebr, r.spram,
            "yes, router2" if router2 else "yes")


def _synth(metrics: dict) -> list:
    """Out-of-context builds: the N = 4 sparse phase (128 rows per PE, 256
    pointers, 16384 entries per PE, an SPRAM on UP5K, queue depth 8; the
    pipelined PEs on ECP5, as the ECP5 boards build them), the same with the
    XNOR path for binary layers (``xnor``), then the
    whole N = 4 engine sized for the digits model as each board builds it
    (``boards.catalog.board_engine_params``: on UP5K the iCEBreaker's, entries in
    SPRAM and queues 4 deep; on ECP5-85F queues 8 deep), and the N = 4 engine
    sized for LeNet-5 (``conv``, pipelined) on ECP5-85F."""
    from boards.catalog import BOARDS, board_engine_params  # noqa: PLC0415
    from hw.engine import engine_params  # noqa: PLC0415
    from hw.hostlink import HostLink  # noqa: PLC0415

    def spmv(dev, xnor=False):
        return SparseMatVec(n_pe=4, queue_depth=8, max_len=512,
                            pe={"code_bits": CODE_BITS, "rows": 128, "pointers": 256,
                                "entries": 1 << 14,
                                "entry_ram": "spram" if dev == "up5k" else None,
                                "pipelined": dev != "up5k", "xnor": xnor})

    zm = _digits_model()

    def engine(dev):
        board = BOARDS["icebreaker" if dev == "up5k" else "ulx3s-85f"]
        return HostLink(**board_engine_params(board, zm, pes=4))

    rows = []
    for build, name, prefix in ((spmv, "bench-spmv4", "spmv4"),
                                (lambda dev: spmv(dev, xnor=True), "bench-spmv4-xnor",
                                 "spmv4_xnor"),
                                (engine, "bench-engine4", "engine")):
        for dev, freq in (("up5k", 40), ("ecp5-85f", 100)):
            rows.append(_placed(build, dev, freq, name, metrics, prefix))
    # The convolution build (LeNet-5's): ECP5 only, LeNet-5's activations and the
    # loader's multiplier do not fit the UP5K beside the iCEBreaker's engine.
    l5 = _builtin_model("lenet5")
    rows.append(_placed(lambda dev: HostLink(**engine_params(l5, n_pe=4, queue_depth=8,
                                                             pipelined=True)),
                        "ecp5-85f", 100, "bench-engine4-lenet5", metrics, "engine_lenet5"))
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
