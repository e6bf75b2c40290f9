import gzip

import numpy as np
import pytest

from golden.data import DataError, digits, load, mnist, read_idx, upsample


def write_idx(path, arr, gz=False):
    arr = np.asarray(arr)
    code = {np.uint8: 0x08}[arr.dtype.type]
    raw = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    raw += arr.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_digits_split_is_fixed_and_stratified():
    a, b = digits(), digits()
    assert a.x_train.shape == (1437, 64) and a.x_test.shape == (360, 64)
    assert np.array_equal(a.x_test, b.x_test)
    counts = np.bincount(a.y_test)
    assert counts.min() >= 35 and counts.max() <= 37      # ~36 per class
    assert a.x_train.max() == 1.0 and a.x_train.min() == 0.0


def test_upsample_to_28():
    d = upsample(digits())
    assert d.x_train.shape[1] == 784 and d.shape == (28, 28)
    img = d.x_train[0].reshape(28, 28)
    assert np.all(img[:2] == 0) and img[2, 2] == digits().x_train[0][0]


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    xtr = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    xte = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", xtr, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", rng.integers(0, 10, 20, np.uint8), gz)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{sfx}", xte, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", rng.integers(0, 10, 7, np.uint8), gz)
    d = load(f"mnist:{tmp_path}")
    assert d.x_train.shape == (20, 784) and d.x_test.shape == (7, 784)
    assert np.allclose(d.x_test[3], xte[3].ravel() / 255)


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(DataError, match="header says"):
        read_idx(tmp_path / "bad")
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(DataError, match="not an IDX"):
        read_idx(tmp_path / "junk")
    with pytest.raises(DataError, match="missing"):
        mnist(tmp_path)
    with pytest.raises(DataError, match="unknown dataset"):
        load("cifar")
