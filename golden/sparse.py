"""Sparse matrix formats: EIE relative index (interleaved over PEs), bitmask, CSR.

All encoders take a dense integer or float matrix whose zeros are the pruned
entries, and every format round-trips losslessly through its decoder.

Relative indexing follows Deep Compression (Han et al., ICLR 2016, section 2,
Figure 2) and EIE (Han et al., ISCA 2016, section III-B, Figure 3): each
non-zero is stored with the number of zeros before it (its *gap*) in ``b``
bits; when a gap exceeds ``2^b - 1`` a padding entry (gap ``2^b - 1``,
value 0) is inserted, which occupies one position and so advances the
position by ``2^b``. EIE stores, for each processing element ``k`` of ``N``,
the rows ``i`` with ``i % N == k`` column by column (CSC), with a column
pointer array ``p`` where ``p[j+1] - p[j]`` counts column ``j``'s entries
(padding included); gaps restart at every column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "relindex_encode_1d",
    "relindex_decode_1d",
    "PESlice",
    "EIEMatrix",
    "eie_encode",
    "eie_decode",
    "bitmask_encode",
    "bitmask_decode",
    "csr_encode",
    "csr_decode",
]


def relindex_encode_1d(vec: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative-index code of a 1-D vector: ``(gaps, values)``, padding entries included.

    Padding entries have value 0; a real entry never has value 0 (it would
    be a zero), so a decoder can drop padding by its value.
    """
    if not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"index bits must be a positive integer, not {bits!r}")
    vec = np.asarray(vec).ravel()
    nz = np.flatnonzero(vec)
    if nz.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=vec.dtype)
    maxgap = (1 << int(bits)) - 1
    raw = np.diff(np.concatenate([[-1], nz])) - 1            # zeros before each non-zero
    pads = raw // (maxgap + 1)                                # padding entries needed
    total = nz.size + int(pads.sum())
    gaps = np.full(total, maxgap, dtype=np.int64)
    values = np.zeros(total, dtype=vec.dtype)
    real_pos = np.cumsum(pads + 1) - 1                        # where each real entry lands
    gaps[real_pos] = raw - pads * (maxgap + 1)
    values[real_pos] = vec[nz]
    return gaps, values


def relindex_decode_1d(gaps: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    """Inverse of ``relindex_encode_1d`` into a vector of ``length``.

    Raises ``ValueError`` if the positions run past ``length`` or the arrays
    disagree in size.
    """
    gaps = np.asarray(gaps, dtype=np.int64)
    values = np.asarray(values)
    if gaps.shape != values.shape or gaps.ndim != 1:
        raise ValueError("gaps and values must be 1-D arrays of one length")
    if gaps.size and gaps.min() < 0:
        raise ValueError("negative gap")
    pos = np.cumsum(gaps + 1) - 1
    out = np.zeros(length, dtype=values.dtype if values.size else np.int64)
    if pos.size and pos[-1] >= length:
        raise ValueError(f"relative indices run past the vector length {length}")
    keep = values != 0
    out[pos[keep]] = values[keep]
    return out


@dataclass(frozen=True)
class PESlice:
    """One PE's share of an EIE matrix: CSC over its local rows."""

    gaps: np.ndarray     # (entries,) int64, in [0, 2^bits - 1]
    values: np.ndarray   # (entries,) the stored value, 0 for padding
    colptr: np.ndarray   # (cols + 1,) int64


@dataclass(frozen=True)
class EIEMatrix:
    """An ``(rows, cols)`` matrix interleaved over ``n_pe`` PEs by row (``i % n_pe``)."""

    shape: tuple[int, int]
    n_pe: int
    bits: int
    pes: tuple[PESlice, ...]

    @property
    def entries(self) -> int:
        """Stored entries over all PEs, padding included."""
        return int(sum(p.gaps.size for p in self.pes))

    @property
    def padding(self) -> int:
        return int(sum(np.count_nonzero(p.values == 0) for p in self.pes))


def eie_encode(w: np.ndarray, n_pe: int, bits: int = 4) -> EIEMatrix:
    """EIE's interleaved CSC with ``bits``-bit relative row indices (EIE section III-B).

    ``w`` is ``(rows, cols)``: output neurons by input activations, so column
    ``j`` is what activation ``a_j`` multiplies. PE ``k`` holds rows
    ``k, k + N, k + 2N, ...``; its local row ``r`` is global row ``k + r N``.
    """
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"need a 2-D matrix, not shape {w.shape}")
    if not isinstance(n_pe, (int, np.integer)) or n_pe < 1:
        raise ValueError(f"n_pe must be a positive integer, not {n_pe!r}")
    rows, cols = w.shape
    pes = []
    for k in range(n_pe):
        local = w[k::n_pe, :]
        gl, vl, ptr = [], [], [0]
        for j in range(cols):
            g, v = relindex_encode_1d(local[:, j], bits)
            gl.append(g)
            vl.append(v)
            ptr.append(ptr[-1] + g.size)
        pes.append(PESlice(np.concatenate(gl) if gl else np.zeros(0, np.int64),
                           np.concatenate(vl) if vl else np.zeros(0, w.dtype),
                           np.asarray(ptr, dtype=np.int64)))
    return EIEMatrix((rows, cols), int(n_pe), int(bits), tuple(pes))


def eie_decode(m: EIEMatrix) -> np.ndarray:
    """Inverse of ``eie_encode``."""
    rows, cols = m.shape
    dtype = m.pes[0].values.dtype if m.pes else np.int64
    out = np.zeros((rows, cols), dtype=dtype)
    for k, pe in enumerate(m.pes):
        nlocal = len(range(k, rows, m.n_pe))
        if pe.colptr.size != cols + 1 or pe.colptr[-1] != pe.gaps.size:
            raise ValueError(f"PE {k}: column pointers do not match the entries")
        for j in range(cols):
            a, b = pe.colptr[j], pe.colptr[j + 1]
            out[k::m.n_pe, j] = relindex_decode_1d(pe.gaps[a:b], pe.values[a:b], nlocal)
    return out


def bitmask_encode(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bitmask format: one bit per position (row-major), then the non-zeros in order.

    Returns ``(mask_bytes, values)``; ``mask_bytes`` is ``np.packbits`` of the
    flattened non-zero mask (MSB first).
    """
    w = np.asarray(w)
    mask = w.ravel() != 0
    return np.packbits(mask), w.ravel()[mask]


def bitmask_decode(mask_bytes: np.ndarray, values: np.ndarray, shape) -> np.ndarray:
    """Inverse of ``bitmask_encode``; raises ``ValueError`` if counts disagree."""
    n = int(np.prod(shape))
    mask = np.unpackbits(np.asarray(mask_bytes, dtype=np.uint8), count=n).astype(bool)
    values = np.asarray(values)
    if mask.sum() != values.size:
        raise ValueError(f"bitmask has {mask.sum()} ones but {values.size} values")
    out = np.zeros(n, dtype=values.dtype if values.size else np.int64)
    out[mask] = values
    return out.reshape(shape)


def csr_encode(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compressed sparse row: ``(indptr, indices, values)`` as in ``scipy.sparse.csr_array``."""
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"need a 2-D matrix, not shape {w.shape}")
    r, c = np.nonzero(w)
    indptr = np.zeros(w.shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, r + 1, 1)
    return np.cumsum(indptr), c.astype(np.int64), w[r, c]


def csr_decode(indptr, indices, values, shape) -> np.ndarray:
    """Inverse of ``csr_encode``."""
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    values = np.asarray(values)
    rows, cols = shape
    if indptr.size != rows + 1 or indptr[-1] != indices.size or indices.size != values.size:
        raise ValueError("CSR arrays disagree in size")
    if indices.size and (indices.min() < 0 or indices.max() >= cols):
        raise ValueError("CSR column index out of range")
    out = np.zeros(shape, dtype=values.dtype if values.size else np.int64)
    r = np.repeat(np.arange(rows), np.diff(indptr))
    out[r, indices] = values
    return out
