"""Datasets: scikit-learn's bundled digits set (the embedded default).

``digits()`` returns a fixed, stratified split: 20% of the 1,797 images
(360) for test, the rest (1,437) for training, ``random_state=0``; pixels
scaled from 0..16 to [0, 1]. The split never changes, so results compare
across versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "digits"]


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
