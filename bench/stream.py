"""The stream form against the expanded form on the digits model: on-chip
weight bits per non-zero, memory-image bytes against the ``.zcm``, and the
sparse phase on the RTL.

* Storage (``golden.hwmodel.image``): for N = 4 and 16, the image's bytes
  (what the host link sends) over the ``.zcm`` file's, and
  ``weight_memory_bits`` per non-zero weight (expanded: a 16-bit entry per
  non-zero and a 16-bit column pointer per PE and column; stream: the PEs'
  streams and the length table).
* Sparse phase on the RTL (Verilator, ``sim/tb/tb_spmv.py``, N = 4): each of
  the model's three layers in ``hw.spmv.SparseMatVec``, expanded (pipelined PEs,
  the ECP5 form) and stream, on the activations ``golden.hwmodel.engine``
  gives that layer for each test image; every sum is checked against NumPy
  and the cycles from ``start`` until ``busy`` falls are measured.
  Utilisation is the useful MACs (stored non-zero weights times non-zero
  activations) over N x those cycles; the cycle model's error is against
  ``mac_cycles`` plus the form's fixed overhead.
* With ``--synth``: the stream sparse phase (N = 4, sized for the digits
  model) out of context on ECP5-85F.

This measures the sparse phase, not the whole engine: the engine's loader
does not take stream images yet.

Writes bench/results/stream.json. Run: ``.venv/bin/python bench/stream.py
[--images N] [--synth]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_results  # noqa: E402
from bench.engine import _digits_model  # noqa: E402
from golden.data import load  # noqa: E402
from golden.hwmodel.compute import wrap  # noqa: E402
from golden.hwmodel.cycles import layer_cycles, segment_cycles, segment_symbols  # noqa: E402
from golden.hwmodel.engine import (  # noqa: E402
    engine_model,
    int8_codebook,
    layer_forward,
    quantize_input,
)
from golden.hwmodel.image import (  # noqa: E402
    memory_image,
    read_image,
    stream_gap_bits,
    weight_memory_bits,
)
from hw.spmv import SparseMatVec  # noqa: E402
from sim.harness import run_cocotb  # noqa: E402

DEPTH = 8


def storage(zm, metrics: dict) -> list:
    rows = []
    for n in (4, 16):
        for form in ("expanded", "stream"):
            image = memory_image(zm, n, form=form)
            bits = weight_memory_bits(read_image(image))
            key = f"stream.{form}.n{n}"
            metrics.update({f"{key}.image_bytes": len(image),
                            f"{key}.image_over_zcm": round(len(image) / zm.file_size, 4),
                            f"{key}.bits_per_nonzero": round(bits["bits_per_nonzero"], 3),
                            f"{key}.entry_bits": bits["entry_bits"],
                            f"{key}.pointer_bits": bits["pointer_bits"]})
            rows.append((form, n, len(image), f"{len(image) / zm.file_size:.3f}",
                         f"{bits['bits_per_nonzero']:.2f}"))
    metrics["stream.zcm_bytes"] = zm.file_size
    metrics["stream.nonzero"] = bits["nonzero"]
    return rows


def dut_for(form: str, n_pe: int) -> SparseMatVec:
    """A sparse phase sized for every layer of the digits model."""
    if form == "stream":
        return SparseMatVec(n_pe=n_pe, queue_depth=DEPTH, max_len=512, form="stream",
                            pe={"code_bits": 4, "sym_bits": 9, "rows": 128, "words": 1024,
                                "len_bits": 10, "pointers": 1024, "cb_banks": 1})
    return SparseMatVec(n_pe=n_pe, queue_depth=DEPTH, max_len=512,
                        pe={"code_bits": 4, "rows": 128, "pointers": 1024, "entries": 2048,
                            "pipelined": True})


def layer_runs(zm, images: int):
    """Per weighted layer: its codes, int8 codebook and each image's activations."""
    em = engine_model(zm)
    x = quantize_input(em, load("digits").x_test[:images])
    out = []
    for zl, el in zip(zm.layers, em.layers):
        if el.weights is not None:
            out.append((zl, np.asarray(zl.codes), int8_codebook(zl)[0], el.weights, x))
        x = layer_forward(el, x)
    return out


def sparse_phase(zm, form: str, n_pe: int, images: int, metrics: dict) -> tuple:
    overhead = SparseMatVec.stream_overhead if form == "stream" else SparseMatVec.overhead
    useful = rtl = 0
    worst = 0.0
    t0 = time.time()
    for zl, codes, cb, w, xs in layer_runs(zm, images):
        dut = dut_for(form, n_pe)
        if form == "stream":
            gap = stream_gap_bits(zl, n_pe)
            loads, (limit, offset) = dut.stream_loads(codes, cb, gap_bits=gap, code_bits=4)
            sym, real = segment_symbols(codes, n_pe, gap)
            models = [segment_cycles(sym, real, x, depth=DEPTH) for x in xs]
            extra = {"limit": sum(int(v) << 17 * k for k, v in enumerate(limit)),
                     "offset": sum(int(v) << 9 * k for k, v in enumerate(offset)), "cb_bank": 0}
        else:
            loads, extra = dut.loads(codes, cb), {}
            models = [layer_cycles(codes, x, n_pe=n_pe, depth=DEPTH, gap_bits=16,
                                   pipelined=True) for x in xs]
        runs = [{"acts": [int(v) for v in x], "expected": [int(v) for v in wrap(w @ x, 32)]}
                for x in xs]
        p = {"loads": loads, "ptr_base": 0, "n_pe": n_pe, "acc_bits": 32, "runs": runs,
             "read_latency": 2, **extra}
        res = run_cocotb(dut, f"bench_{form}", "sim.tb.tb_spmv", sim="verilator", params=p,
                         case=f"n{n_pe}")
        cycles = json.loads((res.build_dir / "cycles.json").read_text())
        useful += sum(m.useful_macs for m in models)
        rtl += sum(cycles)
        worst = max(worst, max(abs(m.mac_cycles + overhead - c) / c
                               for m, c in zip(models, cycles)))
    key = f"stream.spmv.{form}.n{n_pe}.digits"
    util = useful / (n_pe * rtl)
    metrics.update({f"{key}.images": images, f"{key}.cycles_per_inference": round(rtl / images, 1),
                    f"{key}.sparse_utilization": round(util, 4),
                    f"{key}.cycle_model_error": round(worst, 4),
                    f"{key}.sim_s": round(time.time() - t0, 1)})
    return (form, n_pe, images, f"{rtl / images:.1f}", f"{util:.3f}", f"{worst:.4f}")


def synth(metrics: dict) -> tuple:
    """The stream sparse phase out of context on ECP5-85F; where YoWASP Yosys's
    abc9 LUT mapping asserts, rebuilt with classic ``abc -lut 4`` (as
    ``bench/compute.py`` does) and marked ``abc_lut_map``."""
    from boards.synth import ECP5_ABC_LUT_MAP, SynthError, synthesize  # noqa: PLC0415

    def build():
        return SparseMatVec(n_pe=4, queue_depth=DEPTH, max_len=512, form="stream",
                            pe={"code_bits": 4, "sym_bits": 9, "rows": 128, "words": 1024,
                                "len_bits": 8, "pointers": 1024, "cb_banks": 4})

    try:
        r = synthesize(build(), "ecp5-85f", freq_mhz=100, name="spmv4-stream")
    except SynthError as e:
        print(f"Yosys abc9 failed ({str(e).splitlines()[0]}); retrying with abc LUT mapping")
        r = synthesize(build(), "ecp5-85f", freq_mhz=100, name="spmv4-stream",
                       synth_opts=ECP5_ABC_LUT_MAP)
        metrics["stream.spmv4.abc_lut_map.ecp5_85f"] = 1
    metrics.update({"stream.spmv4.fmax_mhz.ecp5_85f": round(r.fmax, 1),
                    "stream.spmv4.lut.ecp5_85f": r.core_lc, "stream.spmv4.ebr.ecp5_85f": r.ebr,
                    "stream.spmv4.dsp.ecp5_85f": r.dsp})
    return ("spmv4-stream", "ecp5-85f", f"{r.fmax:.1f}", r.core_lc, r.ebr, r.dsp)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=360)
    ap.add_argument("--synth", action="store_true")
    args = ap.parse_args(argv)
    zm = _digits_model()
    metrics: dict = {}
    print_table(storage(zm, metrics), ("form", "N", "image bytes", "/ .zcm", "bits/nz"))
    print()
    rows = [sparse_phase(zm, form, 4, args.images, metrics) for form in ("expanded", "stream")]
    print_table(rows, ("form", "N", "images", "cycles/inf", "sparse util", "model err"))
    if args.synth:
        print()
        print_table([synth(metrics)], ("build", "device", "Fmax", "LUTs", "EBR", "DSP"))
    print(write_results("stream", metrics))


if __name__ == "__main__":
    main()
