"""Decoder gateware: sustained rate in simulation and out-of-context builds.

For each block: symbols (or entries) per cycle over at least 100k items on
Verilator (cocotb, through the shared harness), with no stalls and with 30%
random output stalls; and LCs, EBRs and Fmax on iCE40 UP5K and ECP5-85F from
nextpnr's report. The Huffman decoder is measured in the engine's default
configuration (16-bit words of a two-way interleaved stream, codes up to 10
bits, 8-bit joint symbols) and with a 16-bit-limited code.

Writes bench/results/decoders.json. Run: ``.venv/bin/python bench/decoders.py``
(about 10 minutes: eight place-and-route runs). ``--quick`` uses 20k items.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_results  # noqa: E402
from boards.synth import synthesize  # noqa: E402
from golden import huffman as H  # noqa: E402
from golden.sparse import bitmask_encode, relindex_encode_1d  # noqa: E402
from hw.bitmask import BitmaskDecoder  # noqa: E402
from hw.codebook import CodebookLookup  # noqa: E402
from hw.huffman import HuffmanDecoder  # noqa: E402
from hw.relindex import RelativeIndexDecoder  # noqa: E402
from sim.harness import run_cocotb  # noqa: E402

FREQ = {"up5k": 48, "ecp5-85f": 100}


def _rate(component, top, module, params, case, root) -> float:
    r = run_cocotb(component, top, module, sim="verilator", params=params, case=case,
                   build_root=root)
    return json.loads((r.build_dir / "rate.json").read_text())["per_cycle"]


def huffman_case(n: int, max_len: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    # A skewed 256-symbol joint alphabet; about 6 bits per symbol, like the (gap, code)
    # symbols of the digits model's layers (5 to 6.5 bits per entry).
    p = rng.dirichlet(np.full(256, 0.5))
    f = np.maximum((p * 1e6).astype(np.int64), 1)
    lengths = H.code_lengths(f, max_len)
    sym = rng.choice(256, n, p=p)
    words, nbits = H.encode_interleaved(sym, lengths, 16)
    job = {"symbols": sym.tolist(), "words": words, "nbits": nbits, "count": n, "error": 0}
    return lengths, job, sum(nbits) / n


def limit_cost(metrics: dict) -> float:
    """What limiting the Huffman code to the decoder's default 10 bits costs on real
    layers: the joint (gap, code) symbols of the default digits model's layers
    (built with ``zipcore compress`` if missing), coded with at most 10 bits
    against an unlimited Huffman code, in per cent of the stream's bits."""
    from bench.engine import _digits_model  # noqa: PLC0415
    from golden.zcm import layer_streams  # noqa: PLC0415

    bits = {10: 0, 16: 0, None: 0}
    for ly in _digits_model().layers:
        if ly.storage != "shared" or not ly.huffman:
            continue
        _, per_pe = layer_streams(ly)
        sym = np.concatenate([(g << ly.code_bits) | v for g, v in per_pe])
        freq = np.bincount(sym, minlength=1 << (ly.gap_bits + ly.code_bits))
        for limit in bits:
            bits[limit] += int((freq * H.code_lengths(freq, limit)).sum())
    cost = 100 * (bits[10] / bits[None] - 1)
    metrics.update({"huffman.limit10_cost_pct.digits": round(cost, 3),
                    "huffman.limit16_cost_pct.digits": round(100 * (bits[16] / bits[None] - 1),
                                                             3)})
    return cost


def measure(n: int, root: Path) -> tuple[dict, list]:
    metrics, rows = {}, []
    rng = np.random.default_rng(1)

    for name, max_len in (("huffman", 10), ("huffman16", 16)):
        lengths, job, bps = huffman_case(n, max_len)
        kw = dict(word_width=16, max_len=max_len, symbol_bits=8)
        for stall, key in ((0.0, "symbols_per_cycle"), (0.3, "symbols_per_cycle_stalled")):
            params = {"seed": 5, "idle": 0.0, "stall": stall, "lengths": lengths.tolist(),
                      "jobs": [job], "measure": True}
            rate = _rate(HuffmanDecoder(**kw), "huffman_decoder", "sim.tb.tb_huffman",
                         params, f"bench_{name}_{stall}", root)
            metrics[f"{name}.{key}"] = rate
        metrics[f"{name}.bits_per_symbol"] = bps
        rows.append((name, f"{metrics[f'{name}.symbols_per_cycle']:.3f}",
                     f"{metrics[f'{name}.symbols_per_cycle_stalled']:.3f}"))

    v = rng.integers(1, 16, n) * (rng.random(n) < 0.5)
    gaps, vals = relindex_encode_1d(v, 4)
    nz = np.flatnonzero(v)
    entries = [int(x) | (int(g) << 4) for g, x in zip(gaps, vals)]
    expected = [int(v[i]) | (int(i) << 4) for i in nz]
    for stall, key in ((0.0, "symbols_per_cycle"), (0.3, "symbols_per_cycle_stalled")):
        # Entries per cycle consumed: outputs per cycle scaled by entries per output.
        rate = _rate(RelativeIndexDecoder(gap_bits=4, value_bits=4, index_bits=20), "relindex",
                     "sim.tb.tb_streams", {"seed": 2, "idle": 0.0, "stall": stall,
                                           "clear": True, "sink": "o", "measure": True,
                                           "sources": {"i": entries}, "expected": expected},
                     f"bench_relindex_{stall}", root)
        metrics[f"relindex.{key}"] = rate * len(entries) / len(expected)
    rows.append(("relindex (entries)", f"{metrics['relindex.symbols_per_cycle']:.3f}",
                 f"{metrics['relindex.symbols_per_cycle_stalled']:.3f}"))

    v = rng.integers(1, 256, n) * (rng.random(n) < 0.5)
    mask_bytes, vals = bitmask_encode(v)
    words = [int.from_bytes(mask_bytes[k:k + 2].tobytes().ljust(2, b"\0"), "big")
             for k in range(0, len(mask_bytes), 2)]
    nz = np.flatnonzero(v)
    for stall, key in ((0.0, "symbols_per_cycle"), (0.3, "symbols_per_cycle_stalled")):
        metrics[f"bitmask.{key}"] = _rate(
            BitmaskDecoder(word_width=16, value_bits=8, index_bits=20), "bitmask",
            "sim.tb.tb_streams", {"seed": 3, "idle": 0.0, "stall": stall, "sink": "o",
                                  "measure": True,
                                  "sources": {"mask": words, "values": [int(x) for x in vals]},
                                  "expected": [int(v[i]) | (int(i) << 8) for i in nz]},
            f"bench_bitmask_{stall}", root)
    rows.append(("bitmask (non-zeros)", f"{metrics['bitmask.symbols_per_cycle']:.3f}",
                 f"{metrics['bitmask.symbols_per_cycle_stalled']:.3f}"))

    table = rng.integers(-128, 128, 16)
    codes = rng.integers(0, 16, n)
    for stall, key in ((0.0, "symbols_per_cycle"), (0.3, "symbols_per_cycle_stalled")):
        metrics[f"codebook.{key}"] = _rate(
            CodebookLookup(code_bits=4, weight_bits=8, index_bits=20), "codebook",
            "sim.tb.tb_streams", {
                "seed": 4, "idle": 0.0, "stall": stall, "zero": ["we"], "sink": "o",
                "measure": True,
                "writes": [{"we": 1, "waddr": a, "wdata": int(w) & 255}
                           for a, w in enumerate(table)] + [{"we": 0, "waddr": 0, "wdata": 0}],
                "sources": {"i": [int(c) | (i << 4) for i, c in enumerate(codes)]},
                "expected": [(int(table[c]) & 255) | (i << 8) for i, c in enumerate(codes)]},
            f"bench_codebook_{stall}", root)
    rows.append(("codebook", f"{metrics['codebook.symbols_per_cycle']:.3f}",
                 f"{metrics['codebook.symbols_per_cycle_stalled']:.3f}"))
    return metrics, rows


def build(metrics: dict) -> list:
    blocks = {
        "huffman": lambda: HuffmanDecoder(word_width=16, max_len=10, symbol_bits=8),
        "huffman16": lambda: HuffmanDecoder(word_width=16, max_len=16, symbol_bits=8),
        "relindex": lambda: RelativeIndexDecoder(gap_bits=4, value_bits=4, index_bits=16),
        "bitmask": lambda: BitmaskDecoder(word_width=16, value_bits=8, index_bits=16),
        "codebook": lambda: CodebookLookup(code_bits=8, weight_bits=16, index_bits=16),
    }
    rows = []
    for name, make in blocks.items():
        row = [name]
        for dev in ("up5k", "ecp5-85f"):
            r = synthesize(make(), dev, freq_mhz=FREQ[dev], name=f"bench-{name}")
            key = dev.replace("-", "_")
            metrics[f"{name}.fmax_mhz.{key}"] = r.fmax
            metrics[f"{name}.lc.{key}"] = r.lc
            metrics[f"{name}.core_lc.{key}"] = r.core_lc
            metrics[f"{name}.ebr.{key}"] = r.ebr
            row += [f"{r.fmax:.1f}", f"{r.lc} ({r.core_lc})", str(r.ebr)]
        rows.append(tuple(row))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20k items instead of 100k")
    ap.add_argument("--no-synth", action="store_true", help="skip the FPGA builds")
    args = ap.parse_args()
    n = 20_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        metrics, rate_rows = measure(n, Path(tmp))
    metrics["items"] = n
    print_table(rate_rows, ("block", "per cycle, no stalls", "per cycle, 30% output stalls"))
    print(f"\n10-bit code limit on the digits model's layers: "
          f"{limit_cost(metrics):+.2f}% bits against an unlimited Huffman code")
    if not args.no_synth:
        print()
        print_table(build(metrics), ("block", "UP5K MHz", "UP5K LCs (core)", "UP5K EBR",
                                     "ECP5-85F MHz", "ECP5 LUTs (core)", "ECP5 EBR"))
    path = write_results("decoders", metrics)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
