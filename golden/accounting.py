"""Storage accounting in the style of Deep Compression's Table 2.

Han, Mao & Dally, "Deep Compression", ICLR 2016: section 3.1, equation (1),
gives the compression rate of weight sharing alone,
``r = n b / (n log2(k) + k b)``; Table 2 lists per layer the weights, the
fraction kept by pruning, the weight and index bits after pruning and
quantization (P+Q) and after Huffman coding (P+Q+H), and the compression
rate. Here every stored bit is counted: weight codes, relative indices
(padding entries included), the codebook, column pointers, Huffman code
tables (code lengths only) and biases.

Convention: weight code 0 is the zero weight (pruned or padding), so a
``k``-entry codebook has ``k - 1`` shared non-zero values; the layout is
column-major (CSC: a column is what one input activation multiplies), and
relative indices are flat over that order, as in Deep Compression's
Figure 2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .huffman import code_lengths
from .sparse import relindex_encode_1d

__all__ = ["sharing_ratio", "LayerAccount", "account_layer", "CODE_LENGTH_BITS"]

#: Bits to store one Huffman code length (0..16 needs 5).
CODE_LENGTH_BITS = 5


def sharing_ratio(n: int, b: int, k: int) -> float:
    """Deep Compression eq. (1): ``n b / (n log2 k + k b)``."""
    if n <= 0 or b <= 0 or k < 1:
        raise ValueError("need n > 0, b > 0, k >= 1")
    return n * b / (n * np.log2(k) + k * b)


@dataclass(frozen=True)
class LayerAccount:
    name: str
    weights: int            # dense weight count n
    kept: int               # non-zero weights after pruning
    entries: int            # stored entries, padding included
    weight_bits_pq: float   # bits per stored weight code (fixed width)
    weight_bits_pqh: float  # average Huffman bits per stored weight code
    index_bits_pq: float
    index_bits_pqh: float
    codebook_bits: int
    pointer_bits: int
    code_table_bits: int
    bias_bits: int
    dense_bits: int         # n * 32 (plus FP32 biases)
    total_bits_pq: int
    total_bits_pqh: int

    @property
    def kept_fraction(self) -> float:
        return self.kept / self.weights if self.weights else 0.0

    @property
    def rate_pq(self) -> float:
        """Compressed / dense size after P+Q (Table 2's "compress rate")."""
        return self.total_bits_pq / self.dense_bits

    @property
    def rate_pqh(self) -> float:
        return self.total_bits_pqh / self.dense_bits

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(kept_fraction=self.kept_fraction, rate_pq=self.rate_pq, rate_pqh=self.rate_pqh)
        return d


def account_layer(name: str, codes: np.ndarray, k: int, index_bits: int = 5,
                  codebook_value_bits: int = 32, n_biases: int = 0, bias_bits: int = 32,
                  max_code_len: int | None = 16) -> LayerAccount:
    """Account one layer given its dense matrix of weight codes (0 = zero weight).

    ``codes`` is ``(out, in)`` (or any shape; 2-D is stored column-major with
    ``in + 1`` column pointers); ``k`` is the codebook size including the
    zero entry. Huffman codes are built separately for weight codes and
    relative indices, limited to ``max_code_len`` bits.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= k):
        raise ValueError(f"weight codes must be in [0, {k})")
    flat = codes.ravel(order="F") if codes.ndim == 2 else codes.ravel()
    gaps, vals = relindex_encode_1d(flat, index_bits)
    entries = int(gaps.size)
    wb = int(np.ceil(np.log2(k))) if k > 1 else 1
    lw = code_lengths(np.bincount(vals, minlength=k), max_code_len)
    li = code_lengths(np.bincount(gaps, minlength=1 << index_bits), max_code_len)
    hw = int(lw[vals].sum())
    hi = int(li[gaps].sum())
    tables = CODE_LENGTH_BITS * (k + (1 << index_bits))
    if codes.ndim == 2:
        ptr_width = max(1, int(np.ceil(np.log2(entries + 1))))
        pointers = (codes.shape[1] + 1) * ptr_width
    else:
        pointers = 0
    codebook = k * codebook_value_bits
    biases = n_biases * bias_bits
    total_pq = entries * (wb + index_bits) + codebook + pointers + biases
    total_pqh = hw + hi + tables + codebook + pointers + biases
    return LayerAccount(
        name=name, weights=int(codes.size), kept=int(np.count_nonzero(codes)), entries=entries,
        weight_bits_pq=float(wb), weight_bits_pqh=hw / entries if entries else 0.0,
        index_bits_pq=float(index_bits), index_bits_pqh=hi / entries if entries else 0.0,
        codebook_bits=codebook, pointer_bits=pointers, code_table_bits=tables,
        bias_bits=biases, dense_bits=32 * (int(codes.size) + n_biases),
        total_bits_pq=total_pq, total_bits_pqh=total_pqh)
