"""``zipcore demo``: the main job end to end, with what exists so far.

Trains the default digits MLP (64-512-192-10, 133k weights) in NumPy, prunes
and retrains it iteratively (Han et al. 2015), shares weights by k-means
(4-bit codes, code 0 = zero), Huffman-codes the weight codes and relative
indices, decodes them back to check, and prints the Deep-Compression
Table-2-style storage table with test accuracy at each stage.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from golden import huffman as H
from golden.accounting import account_layer
from golden.data import digits
from golden.kmeans import share_weights
from golden.nn import accuracy, init_mlp, train
from golden.pruning import magnitude_mask
from golden.sparse import relindex_encode_1d

SIZES = [64, 512, 192, 10]
SPARSITY = [0.90, 0.96, 0.75]      # final per-layer pruning ratios
SCHEDULE = [0.5, 0.75, 0.9, 1.0]   # fraction of the final ratio at each prune step
WEIGHT_BITS = 4
INDEX_BITS = 4


def _say(msg: str):
    print(msg, flush=True)


def run(seed: int = 0) -> dict:
    t0 = time.perf_counter()
    ds = digits()
    model = init_mlp(SIZES, seed)
    train(model, ds.x_train, ds.y_train, epochs=40, lr=0.05, seed=seed)
    base = accuracy(model, ds.x_test, ds.y_test)
    _say(f"baseline FP32 MLP {'-'.join(map(str, SIZES))}: test accuracy {base:.4f}")

    for step, frac in enumerate(SCHEDULE):
        for i, w in enumerate(model.weights):
            model.masks[i] = magnitude_mask(w, SPARSITY[i] * frac)
        train(model, ds.x_train, ds.y_train, epochs=10, lr=0.02, seed=seed + step + 1)
    pruned = accuracy(model, ds.x_test, ds.y_test)
    _say(f"pruned to {', '.join(f'{1 - s:.0%}' for s in SPARSITY)} kept and retrained: "
         f"test accuracy {pruned:.4f}")

    layers, codes_all = [], []
    for i, (w, m) in enumerate(zip(model.weights, model.masks)):
        ws = share_weights(w, WEIGHT_BITS, m, reserve_zero=True)
        model.weights[i] = ws.reconstruct()
        codes_all.append(ws.indices)
    quant = accuracy(model, ds.x_test, ds.y_test)
    _say(f"k-means weight sharing, {WEIGHT_BITS}-bit codes: test accuracy {quant:.4f}")

    for i, codes in enumerate(codes_all):
        name = f"fc{i + 1}"
        gaps, vals = relindex_encode_1d(codes.ravel(order="F"), INDEX_BITS)
        for sym, k in ((vals, 2**WEIGHT_BITS), (gaps, 2**INDEX_BITS)):
            lengths = H.code_lengths(np.bincount(sym, minlength=k), 16)
            data, nbits = H.encode(sym, lengths)
            if not np.array_equal(H.decode(data, nbits, lengths, sym.size), sym):
                raise AssertionError(f"{name}: Huffman round trip failed")
        acc = account_layer(name, codes, 2**WEIGHT_BITS, INDEX_BITS, n_biases=codes.shape[0])
        layers.append(acc)

    dense = sum(a.dense_bits for a in layers)
    pq = sum(a.total_bits_pq for a in layers)
    pqh = sum(a.total_bits_pqh for a in layers)
    hdr = (f"{'layer':<6}{'weights':>9}{'kept':>8}{'w bits':>8}{'w bits':>8}{'idx bits':>9}"
           f"{'idx bits':>9}{'rate':>8}{'rate':>8}")
    sub = f"{'':<6}{'':>9}{'':>8}{'P+Q':>8}{'P+Q+H':>8}{'P+Q':>9}{'P+Q+H':>9}{'P+Q':>8}{'P+Q+H':>8}"
    print()
    print(hdr)
    print(sub)
    for a in layers:
        print(f"{a.name:<6}{a.weights:>9}{a.kept_fraction:>8.1%}{a.weight_bits_pq:>8.0f}"
              f"{a.weight_bits_pqh:>8.2f}{a.index_bits_pq:>9.0f}{a.index_bits_pqh:>9.2f}"
              f"{a.rate_pq:>8.2%}{a.rate_pqh:>8.2%}")
    total_w = sum(a.weights for a in layers)
    total_k = sum(a.kept for a in layers)
    print(f"{'total':<6}{total_w:>9}{total_k / total_w:>8.1%}{'':>8}{'':>8}{'':>9}{'':>9}"
          f"{pq / dense:>8.2%}{pqh / dense:>8.2%}")
    print(f"\nFP32 {dense / 8 / 1024:.1f} KiB -> {pqh / 8 / 1024:.2f} KiB: "
          f"{dense / pqh:.1f}x smaller (everything counted: codebooks, indices, pointers, "
          f"code tables, biases), accuracy {base:.4f} -> {quant:.4f}, "
          f"{time.perf_counter() - t0:.1f} s")
    return {
        "ratio": dense / pqh, "ratio_pq": dense / pq,
        "accuracy": {"baseline": base, "pruned": pruned, "compressed": quant},
        "layers": [a.as_dict() for a in layers],
    }


def main(args) -> int:
    result = run(args.seed)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(None))
