"""Datasets: scikit-learn's bundled digits set (the embedded default).

``digits()`` returns a fixed, stratified split: 20% of the 1,797 images
(360) for test, the rest (1,437) for training, ``random_state=0``; pixels
scaled from 0..16 to [0, 1]. The split never changes, so results compare
across versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "DataError", "digits", "read_idx", "mnist", "upsample", "load"]


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray   # (n, features) float64
    y_train: np.ndarray   # (n,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    shape: tuple          # one image's (h, w)

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def digits() -> Dataset:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    d = load_digits()
    x = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return Dataset("digits", xtr, ytr, xte, yte, (8, 8))


class DataError(ValueError):
    """A dataset file is missing or malformed; the message is one line."""


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), optionally gzip-compressed.

    Layout: two zero bytes, a type byte, a dimension count ``d``, ``d``
    big-endian uint32 sizes, then the data in C order.
    """
    import gzip  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as e:
        raise DataError(f"cannot read {p}: {e.strerror or e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{p}: not an IDX file")
    ndim = raw[3]
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{p}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(dims))
    body = raw[4 + 4 * ndim:]
    if len(body) != count * dtype.itemsize:
        raise DataError(f"{p}: IDX data is {len(body)} bytes, header says {count * dtype.itemsize}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def mnist(directory) -> Dataset:
    """MNIST from the four IDX files in ``directory`` (names as distributed,
    with or without ``.gz``); pixels scaled to [0, 1]."""
    from pathlib import Path  # noqa: PLC0415

    d = Path(directory)

    def find(stem):
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                     stem.replace("-idx", ".idx") + ".gz"):
            if (d / name).exists():
                return d / name
        raise DataError(f"{d}: missing {stem}[.gz]")

    xtr = read_idx(find("train-images-idx3-ubyte"))
    ytr = read_idx(find("train-labels-idx1-ubyte"))
    xte = read_idx(find("t10k-images-idx3-ubyte"))
    yte = read_idx(find("t10k-labels-idx1-ubyte"))
    if xtr.ndim != 3 or xte.ndim != 3 or len(xtr) != len(ytr) or len(xte) != len(yte) \
            or xtr.shape[1:] != xte.shape[1:]:
        raise DataError(f"{d}: image and label files do not match")
    h, w = xtr.shape[1:]
    return Dataset("mnist", xtr.reshape(len(xtr), -1) / 255.0, ytr.astype(np.int64),
                   xte.reshape(len(xte), -1) / 255.0, yte.astype(np.int64), (h, w))


def upsample(ds: Dataset, factor: int = 3, pad: int = 2) -> Dataset:
    """Nearest-neighbour upsampling plus zero padding (digits 8x8 -> 28x28 by default),
    so MNIST-shaped models (LeNet-300-100, LeNet-5) run on the bundled set."""
    h, w = ds.shape

    def up(x):
        img = x.reshape(-1, h, w)
        img = np.kron(img, np.ones((1, factor, factor)))
        img = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
        return img.reshape(len(x), -1)

    shape = (h * factor + 2 * pad, w * factor + 2 * pad)
    return Dataset(f"{ds.name}{shape[0]}", up(ds.x_train), ds.y_train, up(ds.x_test), ds.y_test,
                   shape)


def load(spec: str) -> Dataset:
    """``digits`` (default), ``digits28`` (upsampled to 28x28) or ``mnist:DIR``."""
    if spec == "digits":
        return digits()
    if spec == "digits28":
        return upsample(digits())
    if spec.startswith("mnist:"):
        return mnist(spec[len("mnist:"):])
    raise DataError(f"unknown dataset {spec!r} (digits, digits28 or mnist:DIR)")
