"""Energy and area estimates per inference, from per-operation 45 nm costs.

The constants are one table, ``TABLE`` (Horowitz, "Computing's energy
problem", ISSCC 2014, 45 nm, as reprinted by Han et al. and Sze et al.), each
row with its source; ``load_table(path)`` overrides any of them from a JSON
file ``{"name": value}``. Rows marked "assumption" are ours, not Horowitz's,
and say so in the report.

A model's cost is counted per layer as operations at their bit widths and
memory accesses by level, ``Counts`` (a list of ``(category, op, count)``):
categories are ``DRAM``, ``SRAM``, ``register``, ``multiply``, ``add`` and
``decode``; an access narrower or wider than 32 bits counts as
``bits / 32`` accesses of the 32-bit row. Five configurations, as Deep
Compression and EIE compare them, batch 1 (a fully connected layer reuses
no weight, so every weight is read once per inference):

* ``dense_fp32``: the original dense network, fp32 multiply and add per
  weight.
* ``dense_int8``: the same with int8 weights and activations, int32 sums,
  one requantization per output.
* ``pruned``: the kept weights only, fp32, each entry with its relative
  index (``index_bits_pq``, padding entries included), whose decoding is one
  8-bit add; every kept weight is multiplied (no activation skipping).
* ``pruned_quantized``: the entries as codebook indices (``weight_bits_pq``)
  plus index, a codebook read per weight (a register file), int8 multiply
  and int32 add.
* ``compressed`` (P+Q+H on the Zipcore engine, the memory image's stream
  form, ``golden.hwmodel.stream``): the engine keeps each PE's Huffman-coded
  column segments and a length table (``stored_bits``); per inference it
  walks the length table for every column (every PE's field) and reads and
  decodes only the segments of the columns of non-zero input activations
  (``read_bits``, ``decoded`` symbols, padding included, each a table lookup
  and an index add), EIE's activation skipping, measured on the layer's real
  inputs; only their entries are multiplied; each non-zero activation is
  pushed into ``n_pe`` queues (register accesses).

Weights sit in on-chip SRAM when the configuration's whole weight storage
fits ``sram_bytes`` (default 128 KiB, the iCE40 UP5K's SPRAM), otherwise in
DRAM. Activations are in an SRAM the size of the largest layer's vectors.
SRAM read energy is interpolated (log size) between Horowitz's 8 KiB, 32 KiB
and 1 MiB points, and taken as the 8 KiB value below it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TABLE", "EnergyError", "load_table", "sram_pj", "layer_counts", "energy_of",
           "CONFIGS", "CATEGORIES", "LayerShape", "area_um2", "model_energy", "CONFIG_LABELS"]

# name -> (value, unit, source)
TABLE = {
    "add8": (0.03, "pJ", "Horowitz 2014: 8-bit int add"),
    "add16": (0.05, "pJ", "Horowitz 2014: 16-bit int add"),
    "add32": (0.1, "pJ", "Horowitz 2014: 32-bit int add"),
    "mult8": (0.2, "pJ", "Horowitz 2014: 8-bit int multiply"),
    "mult32": (3.1, "pJ", "Horowitz 2014: 32-bit int multiply"),
    "fadd16": (0.4, "pJ", "Horowitz 2014: fp16 add"),
    "fmult16": (1.1, "pJ", "Horowitz 2014: fp16 multiply"),
    "fadd32": (0.9, "pJ", "Horowitz 2014: fp32 add"),
    "fmult32": (3.7, "pJ", "Horowitz 2014: fp32 multiply"),
    "sram32_8k": (5.0, "pJ", "Horowitz 2014: 32-bit read, 8 KiB SRAM"),
    "sram32_32k": (10.0, "pJ", "Horowitz 2014: 32-bit read, 32 KiB SRAM (64-bit: 20 pJ)"),
    "sram32_1m": (50.0, "pJ", "Horowitz 2014: 32-bit read, 1 MiB SRAM (64-bit: 100 pJ)"),
    "dram32": (640.0, "pJ", "Horowitz 2014: 32-bit DRAM read"),
    "reg32": (0.1, "pJ", "assumption: a 32-bit register or register-file access costs "
                         "a 32-bit add"),
    "huffman_symbol": (0.15, "pJ", "assumption: one canonical Huffman symbol = 3 parallel "
                                   "16-bit compares (add16)"),
    "area_add8": (36.0, "um^2", "Horowitz 2014: 8-bit int adder"),
    "area_add16": (67.0, "um^2", "Horowitz 2014: 16-bit int adder"),
    "area_add32": (137.0, "um^2", "Horowitz 2014: 32-bit int adder"),
    "area_mult8": (282.0, "um^2", "Horowitz 2014: 8-bit int multiplier"),
    "area_mult32": (3495.0, "um^2", "Horowitz 2014: 32-bit int multiplier"),
    "area_fadd16": (1360.0, "um^2", "Horowitz 2014: fp16 adder"),
    "area_fmult16": (1640.0, "um^2", "Horowitz 2014: fp16 multiplier"),
    "area_fadd32": (4184.0, "um^2", "Horowitz 2014: fp32 adder"),
    "area_fmult32": (7700.0, "um^2", "Horowitz 2014: fp32 multiplier"),
    "area_sram_bit": (0.52, "um^2", "assumption: 45 nm 6T cell (0.346 um^2) / 0.67 array "
                                     "efficiency"),
    "sram_bytes": (131072.0, "bytes", "assumption: on-chip SRAM, the UP5K's 128 KiB SPRAM"),
}
CATEGORIES = ("DRAM", "SRAM", "register", "multiply", "add", "decode")
CONFIGS = ("dense_fp32", "dense_int8", "pruned", "pruned_quantized", "compressed")
CONFIG_LABELS = {"dense_fp32": "dense FP32", "dense_int8": "dense INT8", "pruned": "pruned (P)",
                 "pruned_quantized": "P + Q", "compressed": "P + Q + H, Zipcore engine"}


class EnergyError(ValueError):
    """A bad constants file; the message is one line."""


def load_table(path=None) -> dict:
    """The constants (name -> value), with the overrides of JSON file ``path``."""
    values = {k: v for k, (v, _, _) in TABLE.items()}
    if path is None:
        return values
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise EnergyError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise EnergyError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict):
        raise EnergyError(f"{path}: expected an object of name: value")
    for k, v in data.items():
        if k not in TABLE:
            raise EnergyError(f"{path}: unknown constant {k!r} (known: {', '.join(TABLE)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise EnergyError(f"{path}: {k} must be a positive number, not {v!r}")
        values[k] = float(v)
    return values


def sram_pj(t: dict, size_bytes: float) -> float:
    """Energy of a 32-bit read from an SRAM of ``size_bytes``."""
    pts = [(8 << 10, t["sram32_8k"]), (32 << 10, t["sram32_32k"]), (1 << 20, t["sram32_1m"])]
    if size_bytes <= pts[0][0]:
        return pts[0][1]
    for (s0, e0), (s1, e1) in zip(pts, pts[1:]):
        if size_bytes <= s1:
            f = (math.log(size_bytes) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return e0 + f * (e1 - e0)
    # Beyond 1 MiB: the same slope per doubling.
    (s0, e0), (s1, e1) = pts[-2], pts[-1]
    slope = (e1 - e0) / (math.log(s1) - math.log(s0))
    return e1 + slope * (math.log(size_bytes) - math.log(s1))


@dataclass
class LayerShape:
    """What the counts of one fully connected layer need."""

    name: str
    out: int                  # rows of the original dense layer
    inp: int
    kept: int                 # non-zero weights after pruning
    entries: int = 0          # stored (index, weight) entries, padding included
    out_c: int = 0            # rows and inputs of the compressed layer
    inp_c: int = 0
    weight_bits_pq: float = 4.0
    index_bits_pq: float = 4.0
    stored_bits: float = 0.0  # the engine's weight memory for the layer: streams and lengths
    read_bits: float = 0.0    # of it, read per inference (measured activation skipping)
    decoded: float = 0.0      # symbols decoded per inference, padding included
    useful_macs: float = 0.0  # kept weights in columns of non-zero inputs (measured)
    nonzero_inputs: float = 0.0
    codebook: int = 16
    last: bool = False


def _weight_bytes(shapes: list[LayerShape], config: str) -> float:
    bits = 0.0
    for s in shapes:
        if config == "dense_fp32":
            bits += 32 * s.out * s.inp + 32 * s.out
        elif config == "dense_int8":
            bits += 8 * s.out * s.inp + 32 * s.out
        elif config == "pruned":
            bits += s.entries * (32 + s.index_bits_pq) + 32 * s.out_c
        elif config == "pruned_quantized":
            bits += (s.entries * (s.weight_bits_pq + s.index_bits_pq) + 8 * s.codebook
                     + 32 * s.out_c)
        else:
            bits += s.stored_bits + 8 * s.codebook + 32 * s.out_c
    return bits / 8


def layer_counts(s: LayerShape, config: str, *, weights_in: str, act_bytes: float,
                 n_pe: int = 4) -> list[tuple[str, str, float]]:
    """``(category, op, count)`` of one layer in one configuration; ``weights_in``
    is ``"DRAM"`` or ``"SRAM"``, ``act_bytes`` the activation SRAM's size."""
    wmem = ("DRAM", "dram32") if weights_in == "DRAM" else ("SRAM", "sram32@weights")
    act = ("SRAM", "sram32@acts")
    c: list = []
    if config in ("dense_fp32", "dense_int8"):
        macs, inp, out = s.out * s.inp, s.inp, s.out
        wbits, abits = (32, 32) if config == "dense_fp32" else (8, 8)
        c += [(*wmem, macs * wbits / 32), (*wmem, out),              # weights, biases
              (*act, inp * abits / 32), (*act, out * abits / 32),     # read inputs, write outputs
              ("register", "reg32", macs)]                             # the accumulator
        if config == "dense_fp32":
            c += [("multiply", "fmult32", macs), ("add", "fadd32", macs + out)]
        else:
            c += [("multiply", "mult8", macs), ("add", "add32", macs + out)]
            if not s.last:
                c += [("multiply", "mult32", out), ("add", "add32", 2 * out)]
        return c
    out, inp = s.out_c, s.inp_c
    if config == "pruned":
        macs, ents = s.kept, s.entries
        c += [(*wmem, ents * (32 + s.index_bits_pq) / 32), (*wmem, out),
              (*act, inp), (*act, out), ("register", "reg32", macs),
              ("decode", "add8", ents),                                  # relative index
              ("multiply", "fmult32", macs), ("add", "fadd32", macs + out)]
        return c
    if config == "pruned_quantized":
        macs, ents = s.kept, s.entries
        c += [(*wmem, ents * (s.weight_bits_pq + s.index_bits_pq) / 32), (*wmem, out),
              (*act, inp * 8 / 32), (*act, out * 8 / 32), ("register", "reg32", macs),
              ("decode", "add8", ents), ("decode", "reg32", macs * 8 / 32),   # index, codebook
              ("multiply", "mult8", macs), ("add", "add32", macs + out)]
        if not s.last:
            c += [("multiply", "mult32", out), ("add", "add32", 2 * out)]
        return c
    # compressed: the Zipcore engine, stream decoded on the fly, zero activations skipped
    macs, ents = s.useful_macs, s.decoded
    c += [(*wmem, s.read_bits / 32), (*wmem, out),
          (*act, inp * 8 / 32), (*act, out * 8 / 32),
          ("register", "reg32", n_pe * s.nonzero_inputs),               # queue pushes
          ("register", "reg32", macs),                                   # accumulators
          ("decode", "huffman_symbol", ents), ("decode", "add8", ents),  # symbol, index
          ("decode", "reg32", macs * 8 / 32),                            # codebook
          ("multiply", "mult8", macs), ("add", "add32", macs + out)]
    if not s.last:
        c += [("multiply", "mult32", out), ("add", "add32", 2 * out)]
    return c


def energy_of(counts, t: dict, *, weight_bytes: float, act_bytes: float) -> dict:
    """pJ per category of ``counts``."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for cat, op, n in counts:
        if op == "sram32@weights":
            pj = sram_pj(t, weight_bytes)
        elif op == "sram32@acts":
            pj = sram_pj(t, act_bytes)
        else:
            pj = t[op]
        out[cat] += n * pj
    return out


def model_energy(shapes: list[LayerShape], t: dict, *, n_pe: int = 4) -> dict:
    """Per configuration: where the weights sit, their bytes, and per layer the
    pJ per category and in all."""
    act_bytes = max(4 * max(s.inp, s.out) for s in shapes)
    res = {}
    for config in CONFIGS:
        wbytes = _weight_bytes(shapes, config)
        where = "SRAM" if wbytes <= t["sram_bytes"] else "DRAM"
        layers = []
        for s in shapes:
            e = energy_of(layer_counts(s, config, weights_in=where, act_bytes=act_bytes,
                                       n_pe=n_pe), t, weight_bytes=wbytes, act_bytes=act_bytes)
            layers.append({"name": s.name, "pj": sum(e.values()), "by_category": e})
        total = {k: sum(ly["by_category"][k] for ly in layers) for k in CATEGORIES}
        res[config] = {"label": CONFIG_LABELS[config], "weights_in": where,
                       "weight_bytes": wbytes, "pj": sum(total.values()),
                       "by_category": total, "layers": layers}
    return res


def area_um2(t: dict, *, n_pe: int, weight_bytes_dense: float, weight_bytes_compressed: float
             ) -> dict:
    """Arithmetic and SRAM area estimates (um^2): one fp32 MAC unit against one
    int8 MAC lane, the engine's arithmetic (``n_pe`` int8 MACs and a 32-bit
    requantizer multiply), and the SRAM that would hold each model's weights."""
    return {
        "fp32_mac": t["area_fmult32"] + t["area_fadd32"],
        "int8_mac": t["area_mult8"] + t["area_add32"],
        "engine_arithmetic": n_pe * (t["area_mult8"] + t["area_add32"]) + t["area_mult32"]
        + 2 * t["area_add32"],
        "sram_dense_fp32": weight_bytes_dense * 8 * t["area_sram_bit"],
        "sram_compressed": weight_bytes_compressed * 8 * t["area_sram_bit"],
    }
