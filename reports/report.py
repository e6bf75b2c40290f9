"""The model report: storage by stage, energy, area, sparsity, utilisation and
FPGA resources of a ``.zcm`` model, as JSON, Markdown with PNG figures and one
self-contained HTML page, every number from the same dictionary."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from golden.hwmodel.cycles import column_entries, spmv_cycles
from golden.hwmodel.engine import engine_model, layer_forward, quantize_input
from golden.hwmodel.image import layer_codes, stream_gap_bits
from golden.hwmodel.stream import segment_bits
from golden.pipeline import storage_report

from .energy import CATEGORIES, CONFIGS, TABLE, LayerShape, area_um2, load_table, model_energy

__all__ = ["build_report", "write_report", "BOARDS"]

# board -> (device of the out-of-context builds, label)
BOARDS = {"icebreaker": ("up5k", "iCEBreaker (iCE40 UP5K)"),
          "ulx3s-85f": ("ecp5_85f", "ULX3S-85F (ECP5-85F)")}
DEVICE_SIZE = {"up5k": {"LC": 5280, "EBR": 30, "DSP": 8, "SPRAM": 4},
               "ecp5_85f": {"LC": 83640, "EBR": 208, "DSP": 156, "SPRAM": 0}}
BENCH = Path(__file__).resolve().parent.parent / "bench" / "results"


def _engine_reads(zl, active: np.ndarray, n_pe: int) -> tuple[float, float, float]:
    """The stream-form engine's weight memory for a layer (streams and length
    table, ``golden.hwmodel.image``'s stream form for ``n_pe`` PEs), and per
    inference on the ``active`` (non-zero) input columns ``(images, inp)`` the
    bits it reads (every column's lengths, the active columns' segments) and
    the symbols it decodes."""
    codes, cb_bits = layer_codes(zl)
    gap = stream_gap_bits(zl, n_pe)
    _, bits, count = segment_bits(codes, n_pe, gap, cb_bits, min(zl.max_code_len, 16))
    len_bits = max(1, int(bits.max(initial=0)).bit_length())
    table = bits.size * len_bits
    stored = 16 * sum(-(-int(b) // 16) for b in bits.sum(axis=1)) + table
    read = table + (active @ bits.sum(axis=0)).mean()
    return float(stored), float(read), float((active @ count.sum(axis=0)).mean())


def _shapes(zm, xq: np.ndarray, n_pe: int) -> list[LayerShape]:
    """Per weighted layer: original and compressed shapes, storage per stage and
    the measured activation skipping on the inputs ``xq`` (int8)."""
    rep = storage_report(zm)
    orig = {o["index"]: o for o in zm.meta.get("original", [])}
    em = engine_model(zm)
    x = np.asarray(xq, dtype=np.int64)
    by_index = {ly["index"]: ly for ly in rep["layers"]}
    shapes = []
    last = max(by_index)
    for i, (zl, el) in enumerate(zip(zm.layers, em.layers)):
        if i in by_index:
            r = by_index[i]
            o = orig.get(i, {"weights": zl.out * zl.inp, "biases": zl.out})
            nz = np.asarray(zl.codes) != 0
            per_col = nz.sum(axis=0)
            active = x != 0
            stored, read, decoded = _engine_reads(zl, active, n_pe)
            shapes.append(LayerShape(
                name=r["name"], out=int(o["biases"]), inp=int(o["weights"]) // int(o["biases"]),
                kept=r["kept"], entries=r["entries"], out_c=zl.out, inp_c=zl.inp,
                weight_bits_pq=r["weight_bits_pq"], index_bits_pq=r["index_bits_pq"],
                stored_bits=stored, read_bits=read, decoded=decoded,
                codebook=1 << zl.code_bits,
                useful_macs=float((active @ per_col).mean()),
                nonzero_inputs=float(active.sum(axis=1).mean()), last=i == last))
        x = layer_forward(el, x)
    return shapes


def _stages(rep: dict) -> dict:
    """Bytes per layer and in all for dense, P, P+Q and P+Q+H (Deep Compression's
    Table 2 columns)."""
    rows = []
    for ly in rep["layers"]:
        bias = 4 * ly["shape"][0]
        # Entries include the padding a relative index of ``index_bits_pq`` needs.
        p = ly["entries"] * (32 + ly["index_bits_pq"]) / 8 + bias
        pq = ly["entries"] * (ly["weight_bits_pq"] + ly["index_bits_pq"]) / 8 + bias
        rows.append({"name": ly["name"], "weights": ly["weights"], "kept": ly["kept"],
                     "kept_fraction": ly["kept_fraction"], "dense": ly["dense_bytes"],
                     "P": p, "PQ": pq, "PQH": ly["bytes"]})
    total = {k: sum(r[k] for r in rows) for k in ("dense", "P", "PQ", "PQH")}
    total["PQH"] = rep["compressed_bytes"]
    return {"layers": rows, "total": total,
            "ratio": {k: total["dense"] / total[k] for k in ("P", "PQ", "PQH")}}


def _sparsity_curve(zm, xq, y, steps=(0.0, 0.25, 0.5, 0.75, 0.9, 0.95)) -> list[dict]:
    """Accuracy of the engine's integers when each layer's smallest remaining
    weights are pruned further, against the whole model's weight sparsity."""
    em = engine_model(zm)
    dense = sum(int(np.prod(el.weights.shape)) for el in em.layers if el.weights is not None)
    orig = sum(o["weights"] for o in zm.meta.get("original", [])) or dense
    pts = []
    for s in steps:
        x = np.asarray(xq, dtype=np.int64)
        kept = 0
        for el in em.layers:
            if el.weights is None:
                x = layer_forward(el, x)
                continue
            w = el.weights.copy()
            nz = np.flatnonzero(w)
            k = int(round(s * nz.size))
            if k:
                order = np.argsort(np.abs(w.ravel()[nz]), kind="stable")
                w.ravel()[nz[order[:k]]] = 0
            kept += int(np.count_nonzero(w))
            x = layer_forward(type(el)(**{**el.__dict__, "weights": w}), x)
        scale = em.layers[-1].out_scale[None, :]
        acc = float(np.mean(np.argmax(x * scale, axis=1) == y))
        pts.append({"extra_pruned": s, "sparsity": 1 - kept / orig, "accuracy": acc})
    return pts


def _queue_curve(zm, xq, pes=(2, 4, 8), depths=(1, 2, 4, 8, 16)) -> dict:
    """Sparse-phase utilisation against queue depth (the cycle model, every layer,
    the inputs ``xq``), EIE's figure for this model."""
    em = engine_model(zm)
    layers = [(zl, el) for zl, el in zip(zm.layers, em.layers) if el.weights is not None]
    inputs, x = [], np.asarray(xq, dtype=np.int64)
    for el in em.layers:
        if el.weights is not None:
            inputs.append(x)
        x = layer_forward(el, x)
    out = {}
    for n in pes:
        tables = [column_entries(zl.codes, n, 16) for zl, _ in layers]
        curve = []
        for d in depths:
            useful = cycles = 0
            for (stored, real), xs in zip(tables, inputs):
                for v in xs:
                    c = spmv_cycles(stored, real, v, depth=d)
                    useful += c.useful_macs
                    cycles += c.mac_cycles
            curve.append(useful / (n * cycles) if cycles else 0.0)
        out[str(n)] = curve
    return {"depths": list(depths), "utilization": out}


def _boards(boards) -> dict:
    """FPGA figures for the boards asked for: the newest ``zipcore build`` of each
    (nextpnr's whole-board figures), and the out-of-context builds of the
    engine parts from bench/results (``bench/engine.py --synth``)."""
    from boards.build import latest_build, resources  # noqa: PLC0415

    path = BENCH / "engine.json"
    m = json.loads(path.read_text()).get("metrics", {}) if path.exists() else {}
    res = {}
    for b in boards:
        dev, label = BOARDS[b]
        parts = {}
        built = latest_build(b)
        if built:
            r = resources(built["utilization"])
            fmax = min(built["fmax_mhz"].values()) if built["fmax_mhz"] else None
            parts[f"board build, N = {built['pes']}"] = {
                "placed": built["fits"], "fmax_mhz": fmax if built["fits"] else None,
                **{k: r.get(name, {}).get("used") for k, name in
                   (("LC", "LC/LUT"), ("EBR", "EBR"), ("DSP", "DSP"), ("SPRAM", "SPRAM"))}}
        for part, name in (("spmv4", "sparse phase, N = 4"), ("engine", "whole engine, N = 4")):
            placed = m.get(f"{part}.placed.{dev}")
            if placed is None:
                continue
            if placed:
                parts[name] = {"placed": True, "fmax_mhz": m.get(f"{part}.fmax_mhz.{dev}"),
                               "LC": m.get(f"{part}.lc.{dev}"), "EBR": m.get(f"{part}.ebr.{dev}"),
                               "DSP": m.get(f"{part}.dsp.{dev}"),
                               "SPRAM": m.get(f"{part}.spram.{dev}")}
            else:
                parts[name] = {"placed": False, "fmax_mhz": None,
                               "LC": m.get(f"{part}.lc_needed.{dev}"),
                               "EBR": m.get(f"{part}.ebr_needed.{dev}"),
                               "DSP": m.get(f"{part}.dsp.{dev}"),
                               "SPRAM": m.get(f"{part}.spram.{dev}")}
        if parts:
            res[b] = {"label": label, "device": dev, "size": DEVICE_SIZE[dev], "parts": parts}
    return {"source": "zipcore build (build/boards) and bench/results/engine.json "
                      "(out-of-context builds of the parts)", "boards": res}


def build_report(zm, x, y, *, n_pe: int = 4, table_path=None, boards=("icebreaker",),
                 limit: int = 100) -> dict:
    """Everything the report shows, as one dictionary (the JSON)."""
    t = load_table(table_path)
    em = engine_model(zm)
    xq = quantize_input(em, x)
    shapes = _shapes(zm, xq, n_pe)
    energy = model_energy(shapes, t, n_pe=n_pe)
    dense, comp = energy["dense_fp32"], energy["compressed"]
    rep = storage_report(zm)
    stages = _stages(rep)
    per_layer = []
    for s, ld, lc in zip(shapes, dense["layers"], comp["layers"]):
        per_layer.append({"name": s.name, "dense_fp32_pj": ld["pj"], "compressed_pj": lc["pj"],
                          "ratio": ld["pj"] / lc["pj"] if lc["pj"] else 0.0,
                          "dense_by_category": ld["by_category"],
                          "compressed_by_category": lc["by_category"],
                          "useful_macs": s.useful_macs, "dense_macs": s.out * s.inp,
                          "input_density": s.nonzero_inputs / s.inp_c})
    area = area_um2(t, n_pe=n_pe, weight_bytes_dense=dense["weight_bytes"],
                    weight_bytes_compressed=comp["weight_bytes"])
    sub = slice(0, limit)
    return {
        "model": zm.meta.get("name", "?"), "dataset": zm.meta.get("dataset", "?"),
        "pes": n_pe, "images": int(len(x)),
        "energy": {"dense_fp32_pj": dense["pj"], "compressed_pj": comp["pj"],
                   "ratio": dense["pj"] / comp["pj"], "configs": energy,
                   "layers": per_layer},
        "constants": {k: {"value": t[k], "unit": u, "source": src}
                      for k, (_, u, src) in TABLE.items()},
        "storage": stages,
        "area_um2": area,
        "sparsity_curve": _sparsity_curve(zm, xq, y),
        "queue_depth": _queue_curve(zm, xq[sub]),
        "boards": _boards(boards),
    }


# ---- figures ------------------------------------------------------------------

def _figures(r: dict, out: Path) -> dict:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figs = {}

    def save(fig, name, caption):
        path = out / f"{name}.png"
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        os.replace(tmp, path)
        figs[name] = caption

    st = r["storage"]
    names = [ly["name"] for ly in st["layers"]] + ["total"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    w = 0.2
    for k, (key, label) in enumerate((("dense", "dense FP32"), ("P", "pruned"),
                                      ("PQ", "P + Q"), ("PQH", "P + Q + H"))):
        vals = [ly[key] for ly in st["layers"]] + [st["total"][key]]
        ax.bar(np.arange(len(names)) + (k - 1.5) * w, np.array(vals) / 1024, w, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_yscale("log")
    ax.set_ylabel("KiB")
    ax.set_title("Size per layer, before and after each stage")
    ax.legend(fontsize=8)
    save(fig, "sizes", "Per-layer size before and after pruning (P), quantization (Q) and "
                       "Huffman coding (H); log scale.")

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    labels = ["P", "P + Q", "P + Q + H"]
    ratios = [st["ratio"]["P"], st["ratio"]["PQ"], st["ratio"]["PQH"]]
    ax.bar(labels, ratios, color=["#8da0cb", "#66c2a5", "#fc8d62"])
    for i, v in enumerate(ratios):
        ax.text(i, v, f"{v:.1f}x", ha="center", va="bottom")
    ax.set_ylabel("compression vs dense FP32")
    ax.set_title("Compression by stage (Deep Compression, Figure 1)")
    save(fig, "stages", "Compression ratio of the whole model after each stage.")

    e = r["energy"]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    layers = e["layers"]
    x = np.arange(len(layers))
    for side, key, off in (("dense FP32", "dense_by_category", -0.2),
                           ("P + Q + H", "compressed_by_category", 0.2)):
        bottom = np.zeros(len(layers))
        for ci, cat in enumerate(CATEGORIES):
            vals = np.array([ly[key][cat] for ly in layers]) / 1e6
            ax.bar(x + off, vals, 0.38, bottom=bottom, color=f"C{ci}",
                   label=cat if side == "dense FP32" else None,
                   hatch="//" if side == "P + Q + H" else None)
            bottom += vals
    ax.set_xticks(x, [f"{ly['name']}\n(left dense, right P+Q+H)" for ly in layers], fontsize=8)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylabel("uJ per inference")
    ax.set_title("Energy per layer by kind")
    ax.legend(fontsize=8, ncol=3)
    save(fig, "energy_layers", "Energy per layer and inference, dense FP32 (left bar) vs "
                               "compressed on the Zipcore engine (right, hatched), stacked by "
                               "kind; symmetric log scale.")

    fig, ax = plt.subplots(figsize=(7, 3.8))
    cfgs = e["configs"]
    bottom = np.zeros(len(CONFIGS))
    for ci, cat in enumerate(CATEGORIES):
        vals = np.array([cfgs[c]["by_category"][cat] for c in CONFIGS]) / 1e6
        ax.bar(range(len(CONFIGS)), vals, bottom=bottom, color=f"C{ci}", label=cat)
        bottom += vals
    for i, c in enumerate(CONFIGS):
        ax.text(i, bottom[i], f"{cfgs[c]['pj'] / 1e6:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(CONFIGS)), [cfgs[c]["label"].replace(", ", "\n") for c in CONFIGS],
                  fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("uJ per inference")
    ax.set_title("Energy per inference by operation kind")
    ax.legend(fontsize=8, ncol=3)
    save(fig, "energy_ops", "Energy per inference of each configuration, by operation kind "
                            "(log scale: each bar's segments are stacked in linear units).")

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    pts = r["sparsity_curve"]
    ax.plot([100 * p["sparsity"] for p in pts], [100 * p["accuracy"] for p in pts], "o-")
    ax.set_xlabel("weights pruned (% of the dense model)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Sparsity vs accuracy (engine integers)")
    ax.grid(alpha=0.3)
    save(fig, "sparsity", "Accuracy of the engine's integer model when each layer's smallest "
                          "remaining weights are pruned further, no retraining.")

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    q = r["queue_depth"]
    for n, curve in q["utilization"].items():
        ax.plot(q["depths"], curve, "o-", label=f"N = {n}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("queue depth")
    ax.set_ylabel("MAC utilisation, sparse phase")
    ax.set_ylim(0, 1.02)
    ax.set_title("Utilisation vs queue depth (EIE, Figure 8)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, "queue_depth", "Sparse-phase MAC utilisation against the activation queue depth, "
                             "from the cycle model (exact for the RTL) on this model's layers.")

    b = r["boards"]["boards"]
    if any(v["parts"] for v in b.values()):
        bars, labels = [], []
        for v in b.values():
            for part, f in v["parts"].items():
                for res in ("LC", "EBR", "DSP", "SPRAM"):
                    size = v["size"][res]
                    if size and f.get(res) is not None:
                        bars.append(100 * f[res] / size)
                        labels.append(f"{v['device']}: {part}: {res}")
        fig, ax = plt.subplots(figsize=(7, 0.8 + 0.28 * len(bars)))
        y = np.arange(len(bars))[::-1]
        ax.barh(y, bars, color=["C3" if v > 100 else "C0" for v in bars])
        for yi, v in zip(y, bars):
            ax.text(v, yi, f" {v:.0f}%", va="center", fontsize=7)
        ax.axvline(100, color="k", lw=0.8)
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_xlabel("% of the device")
        ax.set_title("FPGA resources (out-of-context builds)")
        save(fig, "boards", "FPGA resources of the engine parts as % of each device; red: more "
                            "than the device has (the build did not place).")
    return figs


# ---- text ---------------------------------------------------------------------

def _fmt_pj(pj: float) -> str:
    return f"{pj / 1e6:.3f} uJ" if pj >= 1e5 else f"{pj / 1e3:.2f} nJ"


def _sections(r: dict) -> list[tuple[str, list[str], list[list[str]] | None, str | None]]:
    """``(title, paragraphs, table rows (first = header) or None, figure or None)``."""
    e = r["energy"]
    cf = e["configs"]
    dense, comp = cf["dense_fp32"], cf["compressed"]
    top = max(CATEGORIES, key=lambda c: dense["by_category"][c])
    useful = sum(ly["useful_macs"] for ly in e["layers"])
    dense_macs = sum(ly["dense_macs"] for ly in e["layers"])
    out = [(f"{r['model']} on {r['dataset']}: compressed energy and area", [
        f"Dense FP32: **{_fmt_pj(e['dense_fp32_pj'])}** per inference; compressed (P + Q + H "
        f"on the Zipcore engine, {r['pes']} PEs): **{_fmt_pj(e['compressed_pj'])}**, "
        f"**{e['ratio']:.1f}x** less.",
        f"Why: the dense FP32 weights ({dense['weight_bytes'] / 1024:.0f} KiB) do not fit "
        f"the {r['constants']['sram_bytes']['value'] / 1024:.0f} KiB of on-chip SRAM, so every "
        f"weight is a {r['constants']['dram32']['value']:.0f} pJ DRAM read: {top} is "
        f"{100 * dense['by_category'][top] / dense['pj']:.1f}% of the dense energy. The "
        f"compressed weights ({comp['weight_bytes'] / 1024:.1f} KiB) sit in SRAM, only "
        f"{100 * useful / dense_macs:.1f}% "
        "of the dense multiplies remain (pruned weights and zero activations skipped), and "
        "they are int8.",
        f"Measured on {r['images']} test images (activation sparsity per layer).",
    ], None, None)]
    rows = [["configuration", "weights in", "weight bytes", "energy", "vs dense FP32",
             *CATEGORIES]]
    for c in CONFIGS:
        v = cf[c]
        rows.append([v["label"], v["weights_in"], f"{v['weight_bytes']:.0f}", _fmt_pj(v["pj"]),
                     f"{e['dense_fp32_pj'] / v['pj']:.1f}x",
                     *[_fmt_pj(v["by_category"][k]) for k in CATEGORIES]])
    out.append(("Energy per inference", [], rows, "energy_ops"))
    rows = [["layer", "dense MACs", "useful MACs", "input density", "dense FP32", "compressed",
             "ratio"]]
    for ly in e["layers"]:
        rows.append([ly["name"], f"{ly['dense_macs']}", f"{ly['useful_macs']:.0f}",
                     f"{ly['input_density']:.2f}", _fmt_pj(ly["dense_fp32_pj"]),
                     _fmt_pj(ly["compressed_pj"]), f"{ly['ratio']:.1f}x"])
    out.append(("Energy per layer", [], rows, "energy_layers"))
    st = r["storage"]
    rows = [["layer", "weights", "kept", "dense", "P", "P + Q", "P + Q + H", "ratio"]]
    for ly in st["layers"]:
        rows.append([ly["name"], str(ly["weights"]), f"{100 * ly['kept_fraction']:.1f}%",
                     f"{ly['dense']:.0f}", f"{ly['P']:.0f}", f"{ly['PQ']:.0f}",
                     f"{ly['PQH']:.0f}", f"{ly['dense'] / ly['PQH']:.1f}x"])
    t = st["total"]
    rows.append(["total (file)", "", "", f"{t['dense']:.0f}", f"{t['P']:.0f}", f"{t['PQ']:.0f}",
                 f"{t['PQH']:.0f}", f"{st['ratio']['PQH']:.1f}x"])
    out.append(("Storage by stage (bytes; Deep Compression Table 2)", [], rows, "sizes"))
    out.append(("Compression by stage", [
        f"P {st['ratio']['P']:.1f}x, P + Q {st['ratio']['PQ']:.1f}x, P + Q + H "
        f"{st['ratio']['PQH']:.1f}x."], None, "stages"))
    a = r["area_um2"]
    out.append(("Area (45 nm estimates)", [], [
        ["part", "um^2"], ["one FP32 MAC (multiplier + adder)", f"{a['fp32_mac']:.0f}"],
        ["one INT8 MAC lane (8-bit multiplier + 32-bit adder)", f"{a['int8_mac']:.0f}"],
        [f"engine arithmetic ({r['pes']} lanes + requantizer)", f"{a['engine_arithmetic']:.0f}"],
        ["SRAM for the dense FP32 weights", f"{a['sram_dense_fp32']:.0f}"],
        ["SRAM for the compressed weights", f"{a['sram_compressed']:.0f}"]], None))
    rows = [["sparsity", "accuracy"]] + [[f"{100 * p['sparsity']:.1f}%",
                                          f"{100 * p['accuracy']:.2f}%"]
                                         for p in r["sparsity_curve"]]
    out.append(("Sparsity vs accuracy", [], rows, "sparsity"))
    q = r["queue_depth"]
    rows = [["N"] + [f"q{d}" for d in q["depths"]]] + [
        [n] + [f"{u:.3f}" for u in c] for n, c in q["utilization"].items()]
    out.append(("Utilisation vs queue depth", [], rows, "queue_depth"))
    b = r["boards"]
    if b["boards"]:
        rows = [["board", "part", "placed", "Fmax MHz", "LC/LUT", "EBR", "DSP", "SPRAM"]]
        for v in b["boards"].values():
            for part, f in v["parts"].items():
                rows.append([v["label"], part, "yes" if f["placed"] else "no (needed)",
                             f"{f['fmax_mhz']:.1f}" if f["fmax_mhz"] else "-",
                             *["-" if f[k] is None else str(f[k])
                               for k in ("LC", "EBR", "DSP", "SPRAM")]])
        out.append(("FPGA resources", [f"From {b['source']}."], rows, "boards"))
    else:
        out.append(("FPGA resources", ["No build results yet: run `bench/engine.py --synth`."],
                    None, None))
    rows = [["constant", "value", "unit", "source"]] + [
        [k, f"{v['value']:g}", v["unit"], v["source"]] for k, v in r["constants"].items()]
    out.append(("Constants", ["Override any of them with `--constants FILE.json`."], rows, None))
    return out


def _markdown(r: dict, figs: dict) -> str:
    lines = []
    for i, (title, paras, rows, fig) in enumerate(_sections(r)):
        lines += [f"{'#' if i == 0 else '##'} {title}", ""]
        lines += [p + "\n" for p in paras]
        if rows:
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
            lines.append("")
        if fig and fig in figs:
            lines += [f"![{figs[fig]}]({fig}.png)", "", f"*{figs[fig]}*", ""]
    return "\n".join(lines)


def _bold(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _html(r: dict, figs: dict, out: Path) -> str:
    body = []
    for i, (title, paras, rows, fig) in enumerate(_sections(r)):
        body.append(f"<h{1 if i == 0 else 2}>{html.escape(title)}</h{1 if i == 0 else 2}>")
        body += [f"<p>{_bold(p).replace('`', '')}</p>" for p in paras]
        if rows:
            body.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
                        + "</tr>")
            body += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                     for row in rows[1:]]
            body.append("</table>")
        if fig and fig in figs:
            data = base64.b64encode((out / f"{fig}.png").read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(fig)}" '
                        f'src="data:image/png;base64,{data}"><figcaption>'
                        f"{html.escape(figs[fig])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "th{background:#f0f0f0}td:first-child{text-align:left}"
             "img{max-width:100%}figcaption{font-size:12px;color:#555}")
    # Marks the page once every image has decoded, for the headless check.
    script = ("window.addEventListener('load',function(){var im=document.images,ok=0;"
              "for(var i=0;i<im.length;i++)if(im[i].complete&&im[i].naturalWidth>0)ok++;"
              "document.body.setAttribute('data-images',ok+'/'+im.length);});")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Zipcore report: {html.escape(r['model'])}</title><style>{style}</style>"
            f"<script>{script}</script></head><body>" + "\n".join(body) + "</body></html>\n")


def _atomic_write(path: Path, text: str):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(r: dict, out) -> dict:
    """Figures, ``report.md``, ``report.html`` and ``report.json`` into ``out``;
    returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = _figures(r, out)
    _atomic_write(out / "report.md", _markdown(r, figs))
    _atomic_write(out / "report.html", _html(r, figs, out))
    _atomic_write(out / "report.json", json.dumps(r, indent=2, sort_keys=True) + "\n")
    return {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json",
            "figures": [out / f"{f}.png" for f in figs]}
