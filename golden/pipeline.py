"""The compression pipeline: prune and retrain, quantize (trained weight sharing,
uniform, ternary or binary), Huffman-code, and write a .zcm model.

Han, Mao & Dally, "Deep Compression", ICLR 2016, Figure 1: pruning with
iterative retraining (Han et al. 2015), then weight sharing by k-means with
the centroids fine-tuned by shared gradients (section 3.3), then Huffman
coding (section 4). Two further steps take care of what the paper's tables
do not count: hidden units whose outgoing weights are all pruned are
removed (exactly: they contribute nothing), and units whose incoming
weights are all pruned are folded into the next layer's biases (their output
is the constant ``relu(b)``). Biases are stored as int8 with a per-layer scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import huffman as H
from .data import Dataset
from .kmeans import share_weights
from .nn import Conv2D, Dense, Flatten, MaxPool2D, Model, ReLU, accuracy
from .pruning import global_magnitude_masks, magnitude_mask
from .quantization import qrange
from .training import TTQ, SharedWeights, STEBinary, STEUniform, train
from .zcm import SECTION, ZLayer, ZModel, decode_zcm, encode_zcm, layer_streams, pack_lengths

__all__ = ["CompressConfig", "default_sparsity", "prune_retrain", "remove_dead_units",
           "to_zmodel", "zmodel_to_nn", "compress", "storage_report", "CompressResult"]


@dataclass
class CompressConfig:
    sparsity: list | float | None = None   # per weighted layer, one for all, or defaults
    global_sparsity: float | None = None   # one magnitude ranking across layers instead
    schedule: tuple = (0.5, 0.75, 0.9, 1.0)
    retrain_epochs: int = 10
    lr: float = 0.02
    cluster_bits: int = 4                  # weight sharing: 2^b codes, code 0 = zero
    uniform_bits: int | None = None        # uniform symmetric weights instead of k-means
    ternary: bool = False                  # TTQ ternary weights
    binary: bool = False                   # XNOR-Net binary weights (no pruning)
    finetune_epochs: int = 6
    huffman: bool = True
    gap_bits: int | None = None            # relative-index bits; None = best per layer
    max_code_len: int = 10                 # the hardware decoder's default code limit
    n_pe: int = 4
    remove_dead: bool = True
    distill: float = 0.5                   # weight of the dense teacher's soft targets
    temperature: float = 4.0
    seed: int = 0

    def validate(self, n_layers: int):
        if self.binary and (self.sparsity or self.global_sparsity):
            raise ValueError("binary layers are dense: do not combine --binary with pruning")
        if sum(bool(x) for x in (self.uniform_bits, self.ternary, self.binary)) > 1:
            raise ValueError("choose one of uniform bits, ternary and binary")
        if isinstance(self.sparsity, list) and len(self.sparsity) != n_layers:
            raise ValueError(f"the model has {n_layers} weighted layers but "
                             f"{len(self.sparsity)} pruning ratios were given")
        for s in self._ratios(n_layers):
            if not 0 <= s < 1:
                raise ValueError(f"pruning ratios must be in [0, 1), not {s}")
        if not 1 <= self.cluster_bits <= 8:
            raise ValueError("cluster bits must be 1..8")
        if self.uniform_bits is not None and not 2 <= self.uniform_bits <= 8:
            raise ValueError("uniform bits must be 2..8")
        if (self.gap_bits is not None and not 1 <= self.gap_bits <= 8) or \
                not 1 <= self.n_pe <= 256:
            raise ValueError("index bits must be 1..8 and PEs 1..256")
        if not 1 <= self.max_code_len <= 16:
            raise ValueError("the Huffman code length limit must be 1..16")

    def _ratios(self, n: int) -> list:
        if isinstance(self.sparsity, (int, float)):
            return [float(self.sparsity)] * n
        return list(self.sparsity or [])


def default_sparsity(model: Model) -> list[float]:
    """Deep-Compression-like defaults: dense layers 90% pruned (the last 75%),
    convolutions 50% (the first 30%)."""
    ws = model.weighted
    out = []
    for i, ly in enumerate(ws):
        if isinstance(ly, Conv2D):
            out.append(0.3 if i == 0 else 0.5)
        else:
            out.append(0.75 if i == len(ws) - 1 else 0.9)
    return out


def prune_retrain(model: Model, data: Dataset, ratios: list[float] | None,
                  global_ratio: float | None, schedule, epochs: int, lr: float, seed: int,
                  progress=None, teacher: Model | None = None, lam: float = 0.0,
                  temperature: float = 4.0) -> Model:
    """Iterative pruning (Han et al. 2015, section 3.3): at each step of
    ``schedule`` prune to that fraction of the final ratio, then retrain."""
    ws = model.weighted
    for step, frac in enumerate(schedule):
        if global_ratio is not None:
            masks = global_magnitude_masks([ly.w * ly.mask for ly in ws], global_ratio * frac)
        else:
            masks = [magnitude_mask(ly.w * ly.mask, r * frac) for ly, r in zip(ws, ratios)]
        for ly, m in zip(ws, masks):
            ly.mask = m & ly.mask
        train(model, data.x_train, data.y_train, epochs=epochs, lr=lr, seed=seed + 100 + step,
              teacher=teacher if lam > 0 else None, lam=lam, temperature=temperature,
              progress=(lambda e, n, s=step: progress(f"prune step {s + 1}/{len(schedule)}",
                                                       e, n)) if progress else None)
    return model


def remove_dead_units(model: Model) -> int:
    """Remove hidden units of Dense->ReLU->Dense chains that cannot matter; returns
    how many were removed. Exact: the model computes the same function."""
    removed = 0
    layers = model.layers
    for i, ly in enumerate(layers):
        if not isinstance(ly, Dense) or i + 2 >= len(layers):
            continue
        if not isinstance(layers[i + 1], ReLU) or not isinstance(layers[i + 2], Dense):
            continue
        nxt = layers[i + 2]
        w = ly.w * ly.mask
        no_out = ~(nxt.mask.any(axis=0))
        no_in = ~(w != 0).any(axis=1)
        # A unit with no inputs outputs the constant relu(b): fold it into the next bias.
        const = no_in & ~no_out
        nxt.b = nxt.b + (nxt.w * nxt.mask)[:, const] @ np.maximum(ly.b[const], 0.0)
        keep = ~(no_out | no_in)
        if keep.all():
            continue
        if not keep.any():
            keep[np.argmax(np.abs(ly.b))] = True   # keep one unit so shapes stay valid
        removed += int((~keep).sum())
        ly.w, ly.b, ly.mask = ly.w[keep], ly.b[keep], ly.mask[keep]
        nxt.w, nxt.mask = nxt.w[:, keep], nxt.mask[:, keep]
        for obj in (ly, nxt):
            for attr in ("_vw", "_vb"):
                if hasattr(obj, attr):
                    delattr(obj, attr)
    return removed


def _quantize(model: Model, cfg: CompressConfig, data: Dataset, progress=None) -> list:
    """Attach quantization hooks, fine-tune, return per-layer (codebook, codes) or binary."""
    ws = model.weighted
    for ly in ws:
        w = ly.w * ly.mask
        if cfg.binary:
            ly.quant = STEBinary()
        elif cfg.ternary:
            kept = w[ly.mask]
            pos, neg = kept[kept > 0], kept[kept < 0]
            ly.quant = TTQ(pos.mean() if pos.size else 0.0, -neg.mean() if neg.size else 0.0)
        elif cfg.uniform_bits:
            ly.quant = STEUniform(cfg.uniform_bits)
        else:
            sw = share_weights(w.reshape(w.shape[0], -1), cfg.cluster_bits,
                               ly.mask.reshape(w.shape[0], -1), reserve_zero=True)
            ly.quant = SharedWeights(sw.codebook, sw.indices.reshape(w.shape))
    if cfg.finetune_epochs:
        train(model, data.x_train, data.y_train, epochs=cfg.finetune_epochs, lr=cfg.lr / 2,
              seed=cfg.seed + 7, weight_decay=0.0,
              progress=(lambda e, n: progress("quantized fine-tuning", e, n)) if progress else None)
    out = []
    for ly in ws:
        w = ly.w * ly.mask
        if cfg.binary:
            w2 = w.reshape(w.shape[0], -1)
            signs = np.where(w2 >= 0, 1, -1).astype(np.int8)
            out.append(("binary", np.abs(w2).mean(axis=1), signs))
        elif cfg.ternary:
            codes = ly.quant.codes(ly.w, ly.mask)
            out.append(("shared", np.array([0.0, -ly.quant.wn, ly.quant.wp, 0.0]), codes, 2))
        elif cfg.uniform_bits:
            q, s = ly.quant.quantize(w)
            q = q * ly.mask
            _, qmax = qrange(cfg.uniform_bits, True)
            levels = np.concatenate([[0], np.arange(-qmax, 0), np.arange(1, qmax + 1)])
            codebook = np.zeros(1 << cfg.uniform_bits)
            codebook[:levels.size] = levels * s
            codes = np.where(q < 0, q + qmax + 1, np.where(q > 0, q + qmax, 0))  # index in levels
            out.append(("shared", codebook, codes, cfg.uniform_bits))
        else:
            out.append(("shared", ly.quant.codebook, ly.quant.codes, cfg.cluster_bits))
        ly.quant = None
    return out


def stream_bits(z: ZLayer) -> int:
    """Bits of a layer's streams plus its stored code-length table."""
    lengths, per_pe = layer_streams(z)
    if not z.huffman:
        return sum(g.size for g, _ in per_pe) * (z.gap_bits + z.code_bits)
    sym = np.concatenate([(g << z.code_bits) | v for g, v in per_pe])
    return int(lengths[sym].sum()) + 8 * len(pack_lengths(lengths))


def best_gap_bits(z: ZLayer) -> int:
    """The relative-index width that makes the layer smallest: wide gaps cost
    bits per entry, narrow ones cost padding entries (Deep Compression uses
    5 bits for conv and 4 for fc layers; the best depends on the density)."""
    best, best_bits = 4, None
    for gb in range(1, min(8, 12 - z.code_bits) + 1):
        z.gap_bits = gb
        bits = stream_bits(z)
        if best_bits is None or bits < best_bits:
            best, best_bits = gb, bits
    return best


def _act_scale(x: np.ndarray) -> float:
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return m / 127.0 if m > 0 else 1.0 / 127.0


def to_zmodel(model: Model, quant: list, cfg: CompressConfig, calib: np.ndarray,
              classes: int, meta: dict) -> ZModel:
    """Build the stored model; activation scales come from ``calib`` inputs (max |x| / 127)."""
    shape = tuple(model.input_shape)
    shape3 = shape if len(shape) == 3 else (int(np.prod(shape)), 1, 1)
    x = calib.reshape((len(calib),) + shape)
    zl: list[ZLayer] = []
    qi = iter(quant)
    cur = shape3
    for ly in model.layers:
        if isinstance(ly, (Dense, Conv2D)):
            q = next(qi)
            flat_in = int(np.prod(cur))
            z = ZLayer(kind="fc" if isinstance(ly, Dense) else "conv", out=ly.w.shape[0],
                       inp=flat_in if isinstance(ly, Dense) else int(np.prod(ly.w.shape[1:])),
                       in_shape=cur if isinstance(ly, Conv2D) else (0, 0, 0),
                       n_pe=cfg.n_pe, huffman=cfg.huffman, gap_bits=cfg.gap_bits or 4,
                       max_code_len=cfg.max_code_len, act_scale=_act_scale(x),
                       bias=ly.b.astype(np.float32))
            if isinstance(ly, Conv2D):
                z.kh, z.kw = ly.w.shape[2:]
                z.stride, z.pad = ly.stride, ly.pad
            if q[0] == "binary":
                z.storage, z.alpha, z.signs = "binary", q[1].astype(np.float16), q[2]
                z.gap_bits = 0
            else:
                z.storage = "shared"
                z.codebook = np.asarray(q[1], dtype=np.float32)
                z.codes = np.asarray(q[2]).reshape(z.out, -1)
                z.code_bits = q[3]
                z.gap_bits = cfg.gap_bits or best_gap_bits(z)
            zl.append(z)
            x = ly.forward(x, None)
            cur = z.out_shape
        elif isinstance(ly, ReLU):
            zl[-1].act = "relu"
            x = ly.forward(x, None)
        elif isinstance(ly, MaxPool2D):
            zl.append(ZLayer(kind="maxpool", in_shape=cur, pool=ly.k, act_scale=_act_scale(x)))
            x = ly.forward(x, None)
            cur = zl[-1].out_shape
        elif isinstance(ly, Flatten):
            x = ly.forward(x, None)
        else:
            raise ValueError(f"layer {type(ly).__name__} cannot be stored")
    return ZModel(zl, shape3, classes, input_scale=_act_scale(calib), meta=meta)


def zmodel_to_nn(zm: ZModel) -> Model:
    """The float model a .zcm file computes (weights from codebooks, float16 biases)."""
    first = zm.layers[0].kind
    spatial = first != "fc"
    layers: list = []
    for z in zm.layers:
        if z.kind == "maxpool":
            layers.append(MaxPool2D(z.pool))
            continue
        w = z.dense_weights()
        b = z.bias.astype(np.float64)
        if z.kind == "conv":
            layers.append(Conv2D(w.reshape(z.out, z.in_shape[0], z.kh, z.kw), b, z.stride, z.pad))
        else:
            if spatial:
                layers.append(Flatten())
                spatial = False
            layers.append(Dense(w, b))
        if z.act == "relu":
            layers.append(ReLU())
    shape = tuple(zm.input_shape) if first != "fc" else (int(np.prod(zm.input_shape)),)
    return Model(layers, shape, zm.meta.get("name", "zcm"))


def storage_report(zm: ZModel) -> dict:
    """Per-layer Table-2-style accounting of a decoded model (everything counted).

    ``weight_bits_pqh`` is what a Huffman code of the weight codes alone
    costs per stored entry; ``index_bits_pqh`` is the rest of the actual
    joint stream per entry (so the two add up to the stored stream: the
    chain rule H(gap, code) = H(code) + H(gap | code)).
    """
    by_layer: dict = {}
    meta_bytes = 0
    for s in zm.sections:
        if s.type == "META":
            meta_bytes = s.length + SECTION.size
            continue
        by_layer.setdefault(s.layer, 0)
        if s.type not in ("MODEL", "LAYERS"):
            by_layer[s.layer] += s.length + SECTION.size
    originals = {o["index"]: o for o in zm.meta.get("original", [])}
    layers = []
    for i, z in enumerate(zm.layers):
        if z.storage == "none":
            continue
        orig = originals.get(i, {"weights": z.out * z.inp, "biases": z.out, "name": f"L{i}"})
        entry = {"name": orig.get("name", f"L{i}"), "kind": z.kind, "index": i,
                 "weights": int(orig["weights"]), "shape": [z.out, z.inp],
                 "bytes": int(by_layer.get(i, 0)),
                 "dense_bytes": 4 * (int(orig["weights"]) + int(orig["biases"]))}
        if z.storage == "binary":
            entry.update(kept=int(z.out * z.inp), entries=int(z.out * z.inp),
                         weight_bits_pq=1.0, weight_bits_pqh=1.0,
                         index_bits_pq=0.0, index_bits_pqh=0.0)
        else:
            lengths, per_pe = layer_streams(z)
            entries = sum(g.size for g, _ in per_pe)
            vals = np.concatenate([v for _, v in per_pe]) if per_pe else np.zeros(0, int)
            gaps = np.concatenate([g for g, _ in per_pe]) if per_pe else np.zeros(0, int)
            if z.huffman and entries:
                joint = int(lengths[(gaps << z.code_bits) | vals].sum())
                wl = H.code_lengths(np.bincount(vals, minlength=1 << z.code_bits), 16)
                wbits = int(wl[vals].sum())
                wpqh, ipqh = wbits / entries, (joint - wbits) / entries
            else:
                wpqh, ipqh = float(z.code_bits), float(z.gap_bits)
            entry.update(kept=int(np.count_nonzero(z.codes)), entries=int(entries),
                         weight_bits_pq=float(z.code_bits), weight_bits_pqh=wpqh,
                         index_bits_pq=float(z.gap_bits), index_bits_pqh=ipqh)
        entry["kept_fraction"] = entry["kept"] / entry["weights"] if entry["weights"] else 0.0
        entry["ratio"] = entry["dense_bytes"] / entry["bytes"] if entry["bytes"] else 0.0
        layers.append(entry)
    dense = sum(ly["dense_bytes"] for ly in layers)
    stored = zm.file_size - meta_bytes
    return {"dense_fp32_bytes": dense, "compressed_bytes": stored, "file_bytes": zm.file_size,
            "ratio": dense / stored if stored else 0.0, "layers": layers,
            "overhead_bytes": stored - sum(ly["bytes"] for ly in layers)}


@dataclass
class CompressResult:
    zmodel: ZModel
    data: bytes
    report: dict
    accuracy: dict = field(default_factory=dict)


def compress(model: Model, data: Dataset, cfg: CompressConfig, name: str = "model",
             progress=None) -> CompressResult:
    """Run the whole pipeline on a trained ``model``; returns the file bytes and report.

    The compressed accuracy is measured on the model decoded back from the
    file bytes, so it is what the file holds.
    """
    n_w = len(model.weighted)
    cfg.validate(n_w)
    original = []
    wi = 0
    for ly in model.layers:
        if hasattr(ly, "w"):
            wi += 1
            original.append({"name": f"{ly.kind}{wi}", "weights": int(ly.w.size),
                             "biases": int(ly.b.size)})
    baseline = accuracy(model, data.x_test, data.y_test)
    model = model.copy()
    ratios = None
    if cfg.global_sparsity is None and not cfg.binary:
        ratios = cfg._ratios(n_w) if cfg.sparsity is not None else default_sparsity(model)
    if (ratios and any(ratios)) or cfg.global_sparsity:
        teacher = model.copy() if cfg.distill > 0 else None
        prune_retrain(model, data, ratios, cfg.global_sparsity, cfg.schedule,
                      cfg.retrain_epochs, cfg.lr, cfg.seed, progress, teacher, cfg.distill,
                      cfg.temperature)
    pruned_acc = accuracy(model, data.x_test, data.y_test)
    removed = remove_dead_units(model) if cfg.remove_dead else 0
    quant = _quantize(model, cfg, data, progress)
    # Index of each weighted layer among all stored layers (maxpool layers are stored too).
    zi = [i for i, ly in enumerate(l for l in model.layers if not isinstance(l, (ReLU, Flatten)))
          if not isinstance(ly, MaxPool2D)]
    for o, idx in zip(original, zi):
        o["index"] = idx
    meta = {"name": name, "dataset": data.name, "original": original,
            "config": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in asdict(cfg).items()},
            "removed_units": removed}
    calib = data.x_train[:: max(1, len(data.x_train) // 512)]
    zm = to_zmodel(model, quant, cfg, calib, data.classes, meta)
    raw = encode_zcm(zm)
    decoded = decode_zcm(raw)
    comp_acc = accuracy(zmodel_to_nn(decoded), data.x_test, data.y_test)
    acc = {"baseline": baseline, "pruned": pruned_acc, "compressed": comp_acc}
    decoded.meta["accuracy"] = acc
    zm.meta["accuracy"] = acc
    raw = encode_zcm(zm)
    decoded = decode_zcm(raw)
    rep = storage_report(decoded)
    rep["accuracy"] = acc
    return CompressResult(decoded, raw, rep, acc)
