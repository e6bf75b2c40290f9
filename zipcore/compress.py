"""``zipcore compress``, ``zipcore inspect`` and ``zipcore sweep``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.data import DataError, Dataset, load
from golden.importers import ModelImportError, load_model
from golden.nn import Model, accuracy
from golden.pipeline import CompressConfig, compress, storage_report
from golden.pruning import magnitude_mask
from golden.training import train
from golden.zcm import ZcmError, read_zcm, write_zcm

from .builtins import BUILTINS, train_builtin
from .errors import UserError
from .progress import Progress

__all__ = ["cmd_compress", "cmd_inspect", "cmd_sweep", "add_parsers", "write_json"]


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"{what} must be numbers separated by commas, not {text!r}") from None


def _dataset(spec: str | None, default: str) -> Dataset:
    try:
        return load(spec or default)
    except DataError as e:
        raise UserError(str(e)) from None


def _default_dataset(model: Model) -> str:
    n = int(np.prod(model.input_shape))
    return {64: "digits", 784: "digits28"}.get(n, "digits")


def resolve_model(spec: str, dataset: str | None, seed: int) -> tuple:
    """``builtin:NAME`` (untrained yet) or a model file, and its dataset:
    returns ``(model, data, builtin or None)``. Nothing slow happens here, so
    options can be checked before any training."""
    if spec.startswith("builtin:"):
        name = spec[len("builtin:"):]
        if name not in BUILTINS:
            raise UserError(f"unknown built-in model {name!r} (one of: "
                            f"{', '.join(BUILTINS)})")
        b = BUILTINS[name]
        return b.build(seed), _dataset(dataset, b.dataset), b
    try:
        model = load_model(spec)
    except ModelImportError as e:
        raise UserError(str(e)) from None
    data = _dataset(dataset, _default_dataset(model))
    if int(np.prod(model.input_shape)) != data.x_train.shape[1]:
        raise UserError(f"the model takes {int(np.prod(model.input_shape))} inputs but "
                        f"{data.name} has {data.x_train.shape[1]} features")
    return model, data, None


def load_trained(spec: str, dataset: str | None, seed: int, progress, check=None) -> tuple:
    """``resolve_model``, then ``check(model, builtin)``, then train a built-in."""
    model, data, b = resolve_model(spec, dataset, seed)
    checked = check(model, b) if check else None
    if b is not None:
        model, data, b = train_builtin(b.name, seed, data, progress, model)
    return model, data, b, checked


@dataclass
class Table:
    """Table-2-style per-layer storage table."""

    report: dict

    def lines(self) -> list[str]:
        r = self.report
        out = [f"{'layer':<8}{'weights':>9}{'kept':>8}{'w bits':>8}{'w bits':>8}{'idx bits':>9}"
               f"{'idx bits':>9}{'bytes':>8}{'ratio':>8}",
               f"{'':<8}{'':>9}{'':>8}{'P+Q':>8}{'P+Q+H':>8}{'P+Q':>9}{'P+Q+H':>9}{'':>8}{'':>8}"]
        for ly in r["layers"]:
            out.append(f"{ly['name']:<8}{ly['weights']:>9}{ly['kept_fraction']:>8.1%}"
                       f"{ly['weight_bits_pq']:>8.0f}{ly['weight_bits_pqh']:>8.2f}"
                       f"{ly['index_bits_pq']:>9.0f}{ly['index_bits_pqh']:>9.2f}"
                       f"{ly['bytes']:>8}{ly['ratio']:>7.1f}x")
        w = sum(ly["weights"] for ly in r["layers"])
        k = sum(ly["kept"] for ly in r["layers"])
        out.append(f"{'other':<8}{'':>9}{'':>8}{'':>8}{'':>8}{'':>9}{'':>9}"
                   f"{r['overhead_bytes']:>8}{'':>8}")
        out.append(f"{'total':<8}{w:>9}{k / w if w else 0:>8.1%}{'':>8}{'':>8}{'':>9}{'':>9}"
                   f"{r['compressed_bytes']:>8}{r['ratio']:>7.1f}x")
        out.append(f"FP32 {r['dense_fp32_bytes']} bytes -> {r['compressed_bytes']} bytes: "
                   f"{r['ratio']:.1f}x smaller, everything counted (header, section table, "
                   "codebooks, biases, code tables, streams)")
        acc = r.get("accuracy")
        if acc:
            delta = 100 * (acc["compressed"] - acc["baseline"])
            out.append(f"test accuracy: FP32 {acc['baseline']:.4f}, compressed "
                       f"{acc['compressed']:.4f} ({delta:+.2f} points)")
        return out


def _json_report(rep: dict) -> dict:
    keys = ("name", "kind", "weights", "kept", "kept_fraction", "entries", "shape",
            "weight_bits_pq", "weight_bits_pqh", "index_bits_pq", "index_bits_pqh", "bytes",
            "dense_bytes", "ratio")
    return {"ratio": rep["ratio"], "accuracy": rep.get("accuracy", {}),
            "dense_fp32_bytes": rep["dense_fp32_bytes"],
            "compressed_bytes": rep["compressed_bytes"], "file_bytes": rep["file_bytes"],
            "layers": [{k: ly[k] for k in keys} for ly in rep["layers"]]}


def _config(args, n_layers: int, builtin) -> CompressConfig:
    cfg = CompressConfig(seed=args.seed, huffman=not args.no_huffman, n_pe=args.pes,
                         gap_bits=args.index_bits, max_code_len=args.max_code_len,
                         binary=args.binary, ternary=args.ternary, uniform_bits=args.uniform_bits,
                         cluster_bits=args.cluster_bits, distill=args.distill)
    if args.retrain_epochs is not None:
        cfg.retrain_epochs = args.retrain_epochs
    if args.finetune_epochs is not None:
        cfg.finetune_epochs = args.finetune_epochs
    if args.schedule:
        cfg.schedule = tuple(_floats(args.schedule, "--schedule"))
    if args.global_prune is not None:
        cfg.global_sparsity = args.global_prune
    elif args.prune is not None:
        vals = _floats(args.prune, "--prune")
        cfg.sparsity = vals[0] if len(vals) == 1 else vals
    elif builtin is not None and not args.binary:
        cfg.sparsity = list(builtin.sparsity)
    try:
        cfg.validate(n_layers)
    except ValueError as e:
        raise UserError(str(e)) from None
    return cfg


def cmd_compress(args) -> int:
    prog = Progress(not args.quiet)
    model, data, builtin, cfg = load_trained(
        args.model, args.dataset, args.seed, prog,
        check=lambda m, b: _config(args, len(m.weighted), b))
    name = args.model.split(":", 1)[1] if args.model.startswith("builtin:") else model.name
    res = compress(model, data, cfg, name, prog)
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_zcm(res.zmodel, out)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror}") from None
    for line in Table(res.report).lines():
        print(line)
    print(f"wrote {out}")
    if args.json:
        write_json(args.json, _json_report(res.report))
    return 0


def cmd_inspect(args) -> int:
    try:
        zm = read_zcm(args.file)
    except ZcmError as e:
        raise UserError(f"{args.file}: {e}") from None
    rep = storage_report(zm)
    rep["accuracy"] = zm.meta.get("accuracy", {})
    print(f"{args.file}: {zm.meta.get('name', '?')} on {zm.meta.get('dataset', '?')}, "
          f"{len(zm.layers)} layers, {zm.layers[0].n_pe if zm.weighted else 1} PEs")
    for line in Table(rep).lines():
        print(line)
    if args.json:
        write_json(args.json, _json_report(rep))
    return 0


def _prune_all(model: Model, s: float, only: int | None = None) -> Model:
    m = model.copy()
    for i, ly in enumerate(m.weighted):
        if only is None or i == only:
            ly.mask = magnitude_mask(ly.w, s)
            ly.w = ly.w * ly.mask
    return m


def cmd_sweep(args) -> int:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    prog = Progress(not args.quiet)
    levels = _floats(args.sparsities, "--sparsities")
    if not levels or any(not 0 <= v < 1 for v in levels):
        raise UserError("--sparsities must be ratios in [0, 1)")
    model, data, _, _ = load_trained(args.model, args.dataset, args.seed, prog)
    base = accuracy(model, data.x_test, data.y_test)
    curve = []
    for s in levels:
        m = _prune_all(model, s)
        no_rt = accuracy(m, data.x_test, data.y_test)
        train(m, data.x_train, data.y_train, epochs=args.retrain_epochs, lr=0.02, seed=args.seed)
        curve.append({"sparsity": s, "no_retrain": no_rt,
                      "retrain": accuracy(m, data.x_test, data.y_test)})
        prog("sparsity sweep", len(curve), len(levels))
    sens = []
    for i, ly in enumerate(model.weighted):
        row = {"layer": f"{ly.kind}{i + 1}", "accuracy": {}}
        for s in levels:
            row["accuracy"][str(s)] = accuracy(_prune_all(model, s, i), data.x_test, data.y_test)
        sens.append(row)
        prog("per-layer sensitivity", i + 1, len(model.weighted))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [100 * c["sparsity"] for c in curve]
    ax.plot(xs, [100 * c["no_retrain"] for c in curve], "o--", label="pruned, no retraining")
    ax.plot(xs, [100 * c["retrain"] for c in curve], "o-",
            label=f"pruned + {args.retrain_epochs} retraining epoch(s)")
    ax.axhline(100 * base, color="grey", lw=0.8, label=f"dense baseline {100 * base:.1f}%")
    ax.set(xlabel="parameters pruned away (%)", ylabel="test accuracy (%)",
           title=f"{model.name} on {data.name}: sparsity vs accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out / "sparsity_accuracy.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(levels)
    for j, s in enumerate(levels):
        ax.bar(np.arange(len(sens)) + j * width, [100 * r["accuracy"][str(s)] for r in sens],
               width, label=f"{100 * s:.0f}% pruned")
    ax.set_xticks(np.arange(len(sens)) + 0.4 - width / 2, [r["layer"] for r in sens])
    ax.set(ylabel="test accuracy (%)", title="per-layer sensitivity (one layer pruned, "
           "no retraining)")
    ax.set_ylim(0, 118)
    ax.legend(fontsize=7, ncol=min(len(levels), 6), loc="upper center")
    fig.tight_layout()
    _save(fig, out / "layer_sensitivity.png")
    plt.close("all")
    write_json(out / "sweep.json", {"baseline": base, "curve": curve, "sensitivity": sens})
    print(f"wrote {out / 'sparsity_accuracy.png'}, {out / 'layer_sensitivity.png'}, "
          f"{out / 'sweep.json'}")
    return 0


def _save(fig, path: Path):
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def _ratio(text: str) -> float:
    v = float(text)
    if not 0 <= v < 1:
        raise ValueError
    return v


def add_parsers(sub):
    c = sub.add_parser("compress", help="prune, retrain, quantize and Huffman-code a model into "
                                        "a .zcm file")
    c.add_argument("model", help="builtin:digits-mlp | builtin:lenet300 | builtin:lenet5 | "
                                 "FILE.npz | FILE.onnx")
    c.add_argument("-o", "--output", required=True, help="the .zcm file to write")
    c.add_argument("--dataset", help="digits | digits28 | mnist:DIR (default: the model's)")
    g = c.add_argument_group("pruning")
    g.add_argument("--prune", metavar="R[,R...]", help="pruning ratio, one for all weighted "
                   "layers or one per layer")
    g.add_argument("--global-prune", type=_ratio, metavar="R",
                   help="one magnitude ranking across all layers")
    g.add_argument("--schedule", metavar="F,F,...", help="iterative pruning steps as fractions "
                   "of the final ratio (default 0.5,0.75,0.9,1)")
    g.add_argument("--retrain-epochs", type=int, metavar="N", help="epochs after each step")
    g.add_argument("--distill", type=float, default=0.5, metavar="L",
                   help="weight of the dense model's soft targets while retraining (0 = off)")
    q = c.add_argument_group("quantization")
    x = q.add_mutually_exclusive_group()
    x.add_argument("--cluster-bits", type=int, default=4, metavar="B",
                   help="k-means weight sharing with 2^B codes (code 0 = zero); default 4")
    x.add_argument("--uniform-bits", type=int, metavar="B", help="uniform symmetric B-bit "
                   "weights instead of k-means")
    x.add_argument("--ternary", action="store_true", help="trained ternary weights (TTQ)")
    x.add_argument("--binary", action="store_true", help="binary weights (XNOR-Net), unpruned")
    q.add_argument("--finetune-epochs", type=int, metavar="N",
                   help="epochs of centroid / quantization-aware fine-tuning")
    h = c.add_argument_group("storage")
    h.add_argument("--no-huffman", action="store_true", help="store fixed-width entries")
    h.add_argument("--index-bits", type=int, metavar="B", help="relative-index bits "
                   "(default: the best per layer)")
    h.add_argument("--max-code-len", type=int, default=10, metavar="L",
                   help="Huffman code length limit, 1..16 (default 10: the engine's decoder; "
                        "costs under 0.5%% of size on the built-in models)")
    h.add_argument("--pes", type=int, default=4, metavar="N",
                   help="processing elements the streams are interleaved over (default 4)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", metavar="FILE", help="write the report as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_compress)

    i = sub.add_parser("inspect", help="print a .zcm file's per-layer storage table")
    i.add_argument("file")
    i.add_argument("--json", metavar="FILE", help="write the table as JSON")
    i.set_defaults(func=cmd_inspect)

    s = sub.add_parser("sweep", help="plot sparsity vs accuracy and per-layer sensitivity")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, help="folder for the PNGs and sweep.json")
    s.add_argument("--dataset")
    s.add_argument("--sparsities", default="0.5,0.7,0.8,0.9,0.95,0.97")
    s.add_argument("--retrain-epochs", type=int, default=1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_sweep)
