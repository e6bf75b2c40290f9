"""Golden-model throughput: Huffman encode/decode, k-means, pruning, and the
whole prune -> k-means -> relative index -> Huffman chain on LeNet-300-100's
shapes (784-300-100-10, 266,200 weights).

Writes bench/results/golden.json. Run: ``.venv/bin/python bench/golden.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, timed, write_results  # noqa: E402
from golden import huffman as H  # noqa: E402
from golden.accounting import account_layer  # noqa: E402
from golden.kmeans import share_weights  # noqa: E402
from golden.pruning import magnitude_mask  # noqa: E402
from golden.sparse import relindex_encode_1d  # noqa: E402

LENET300 = [(300, 784), (100, 300), (10, 100)]
# Deep Compression Table 1/2 LeNet-300-100: kept 8%, 9%, 26%; 6-bit weights, 5-bit indices.
KEEP = [0.08, 0.09, 0.26]


def chain(weights: list[np.ndarray]) -> dict:
    """Prune, share (code 0 = zero weight, 63 clusters), relative-index, Huffman both streams,
    decode them back and check; return the compression ratio."""
    total_dense = total_pqh = 0
    for i, (w, keep) in enumerate(zip(weights, KEEP)):
        mask = magnitude_mask(w, 1 - keep)
        ws = share_weights(w, 6, mask)                    # 64 clusters over kept weights
        codes = np.where(mask, np.minimum(ws.indices + 1, 63), 0)   # 0 reserved for zero
        gaps, vals = relindex_encode_1d(codes.ravel(order="F"), 5)
        for sym, k in ((vals, 64), (gaps, 32)):
            lengths = H.code_lengths(np.bincount(sym, minlength=k), 16)
            data, nbits = H.encode(sym, lengths)
            assert np.array_equal(H.decode(data, nbits, lengths, sym.size), sym)
        acc = account_layer(f"fc{i + 1}", codes, 64, 5, n_biases=w.shape[0])
        total_dense += acc.dense_bits
        total_pqh += acc.total_bits_pqh
    return {"ratio": total_dense / total_pqh}


def main() -> int:
    rng = np.random.default_rng(0)
    rows, metrics = [], {}

    # Huffman on 2M symbols from a skewed 64-symbol distribution (like shared weights).
    p = rng.dirichlet(np.full(64, 0.3))
    sym = rng.choice(64, size=2_000_000, p=p)
    lengths = H.code_lengths(np.bincount(sym, minlength=64), 16)
    t_enc, (data, nbits) = timed(H.encode, sym, lengths)
    t_dec, out = timed(H.decode, data, nbits, lengths, sym.size)
    assert np.array_equal(out, sym)
    metrics["golden.huffman.encode_symbols_per_s"] = sym.size / t_enc
    metrics["golden.huffman.decode_symbols_per_s"] = sym.size / t_dec
    metrics["golden.huffman.bits_per_symbol"] = nbits / sym.size
    rows += [("huffman encode", f"{sym.size / t_enc / 1e6:.2f} M symbols/s"),
             ("huffman decode", f"{sym.size / t_dec / 1e6:.2f} M symbols/s")]

    # Package-merge at a tight limit on a 256-symbol alphabet.
    f = np.bincount(rng.zipf(1.3, 1_000_000) % 256, minlength=256)
    t_pm, _ = timed(H.code_lengths, f, 9)
    metrics["golden.huffman.package_merge_256_s"] = t_pm
    rows.append(("package-merge, 256 symbols, limit 9", f"{t_pm * 1e3:.1f} ms"))

    w1m = rng.normal(size=(1000, 1000))
    t_prune, _ = timed(magnitude_mask, w1m, 0.9)
    metrics["golden.prune_1m_s"] = t_prune
    rows.append(("magnitude prune, 1M weights", f"{t_prune * 1e3:.1f} ms"))

    mask = magnitude_mask(w1m, 0.9)
    t_km, _ = timed(share_weights, w1m, 5, mask)
    metrics["golden.kmeans_100k_5bit_s"] = t_km
    rows.append(("k-means, 100k kept weights, 32 clusters", f"{t_km * 1e3:.1f} ms"))

    weights = [rng.normal(0, np.sqrt(2 / fan_in), size=(o, fan_in)) for o, fan_in in LENET300]
    t = time.perf_counter()
    res = chain(weights)
    t_chain = time.perf_counter() - t
    metrics["golden.chain_lenet300_s"] = t_chain
    metrics["golden.chain_lenet300_ratio"] = res["ratio"]
    rows.append(("chain on LeNet-300-100 shapes (266k weights)",
                 f"{t_chain:.2f} s, {res['ratio']:.1f}x smaller"))

    print_table(rows, ("golden benchmark", "result"))
    path = write_results("golden", metrics)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
