"""The compression pipeline and its training hooks."""

import numpy as np
import pytest

from golden.data import digits, upsample
from golden.nn import Dense, Model, ReLU, accuracy, lenet5, mlp
from golden.pipeline import CompressConfig, compress, remove_dead_units, zmodel_to_nn
from golden.quantization import ternarize_twn
from golden.training import TTQ, SharedWeights, STEBinary, STETernary, STEUniform, train
from golden.zcm import decode_zcm


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def small(data):
    m = mlp([64, 48, 10], seed=3)
    train(m, data.x_train, data.y_train, epochs=8, lr=0.05, seed=3)
    return m


def quick(**kw):
    base = dict(retrain_epochs=1, finetune_epochs=1, schedule=(0.5, 1.0), distill=0.0)
    return CompressConfig(**(base | kw))


def test_compress_small_model(small, data):
    res = compress(small, data, quick(sparsity=[0.8, 0.5]))
    zm = decode_zcm(res.data)
    assert res.report["ratio"] > 10
    # The reported accuracy is the accuracy of what the file holds.
    assert accuracy(zmodel_to_nn(zm), data.x_test, data.y_test) == res.accuracy["compressed"]
    assert res.accuracy["compressed"] > 0.85
    fc1 = zm.layers[0]
    assert np.count_nonzero(fc1.codes) <= round(0.2 * 48 * 64) + 1
    # Everything but the descriptive META section (and its table row) is counted.
    meta = next(s for s in zm.sections if s.type == "META")
    assert res.report["compressed_bytes"] == len(res.data) - meta.length - 16


def test_remove_dead_units_is_exact():
    rng = np.random.default_rng(0)
    m = mlp([6, 8, 5, 3], seed=1)
    for ly in m.weighted:
        ly.b = rng.normal(size=ly.b.shape)
    m.weighted[1].mask[:, 2] = False           # unit 2 of layer 1: no outgoing weights
    m.weighted[0].mask[4, :] = False           # unit 4 of layer 1: no incoming weights
    m.weighted[0].b[4] = 0.7                   # ... but a positive bias: folded forward
    m.weighted[1].mask[3, :] = False           # unit 3 of layer 2: no inputs, bias folded
    x = rng.random((10, 6))
    before = m.forward(x)
    assert remove_dead_units(m) == 3
    assert m.weighted[0].w.shape == (6, 6) and m.weighted[1].w.shape == (4, 6)
    assert np.allclose(m.forward(x), before)


def test_shared_weights_centroid_gradient_is_the_cluster_sum():
    codebook = np.array([0.0, -1.0, 0.5, 2.0])
    codes = np.array([[1, 2, 0], [3, 2, 2]])
    ly = Dense(codebook[codes], np.zeros(2))
    hook = SharedWeights(codebook, codes)
    gw = np.array([[0.1, 0.2, 5.0], [0.3, -0.4, 0.6]])
    hook.update(ly, gw, lr=1.0, momentum=0.0, weight_decay=0.0)
    assert np.allclose(hook.codebook, [0.0, -1.1, 0.5 - (0.2 - 0.4 + 0.6), 2.0 - 0.3])
    assert np.allclose(ly.w, hook.codebook[codes])   # code 0 stays the zero weight


def test_ttq_update_uses_the_set_sums():
    w = np.array([[0.9, -0.8, 0.01, 0.5]])
    ly = Dense(w.copy(), np.zeros(1))
    hook = TTQ(1.0, 2.0, t=0.05)
    assert np.allclose(hook.effective(w, ly), [[1.0, -2.0, 0.0, 1.0]])
    gw = np.array([[0.1, 0.3, 7.0, 0.2]])
    hook.update(ly, gw, lr=1.0, momentum=0.0, weight_decay=0.0)
    assert hook.wp == pytest.approx(1.0 - 0.3)      # minus the sum over the positive set
    assert hook.wn == pytest.approx(2.0 + 0.3)      # d(-wn)/dwn = -1: plus the negative sum


def test_ste_quantizers():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 9))
    ly = Dense(w, np.zeros(4))
    u = STEUniform(3).effective(w, ly)
    assert len(np.unique(np.round(u / (np.abs(w).max() / 3), 6))) <= 7
    b = STEBinary().effective(w, ly)
    assert np.allclose(np.abs(b), np.abs(w).mean(axis=1, keepdims=True))
    assert np.array_equal(STEBinary().pass_grad(np.array([0.5, 2.0]), np.ones(2)), [1, 0])


@pytest.mark.parametrize("kw,storage,k", [
    (dict(uniform_bits=3, sparsity=0.5), "shared", 8),
    (dict(ternary=True, sparsity=0.5), "shared", 4),
    (dict(binary=True), "binary", None),
    (dict(cluster_bits=2, sparsity=0.6, huffman=False), "shared", 4),
    (dict(global_sparsity=0.7), "shared", 16),
])
def test_quantization_options(small, data, kw, storage, k):
    res = compress(small, data, quick(**kw))
    zm = decode_zcm(res.data)
    for ly in zm.weighted:
        assert ly.storage == storage
        if k:
            assert ly.codebook.size == k
    if kw.get("ternary"):
        assert len(set(np.unique(zm.layers[0].codebook[zm.layers[0].codes]))) <= 3
    if kw.get("uniform_bits"):
        cb = zm.layers[0].codebook
        step = cb[cb > 0].min()
        assert np.allclose(cb / step, np.round(cb / step), atol=1e-4)
    assert res.accuracy["compressed"] > 0.5


def test_distillation_training_runs(small, data):
    student = mlp([64, 16, 10], seed=5)
    train(student, data.x_train, data.y_train, epochs=3, lr=0.05, teacher=small, lam=0.7)
    assert accuracy(student, data.x_test, data.y_test) > 0.8


def test_bad_config(small, data):
    with pytest.raises(ValueError, match="2 weighted layers"):
        compress(small, data, quick(sparsity=[0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="binary"):
        compress(small, data, quick(binary=True, sparsity=0.5))


@pytest.mark.slow
@pytest.mark.parametrize("build", ["lenet300", "lenet5"])
def test_lenet_shapes_run_through_the_pipeline(build):
    d = upsample(digits())
    idx = np.random.default_rng(0).permutation(len(d.y_train))[:400]
    sub = type(d)(d.name, d.x_train[idx], d.y_train[idx], d.x_test[:100], d.y_test[:100],
                  d.shape)
    m: Model = mlp([784, 300, 100, 10], 0) if build == "lenet300" else lenet5()
    train(m, sub.x_train, sub.y_train, epochs=2, lr=0.05)
    res = compress(m, sub, quick())
    zm = decode_zcm(res.data)
    kinds = [ly.kind for ly in zm.layers]
    if build == "lenet5":
        assert kinds == ["conv", "maxpool", "conv", "maxpool", "fc", "fc", "fc"]
    else:
        assert kinds == ["fc", "fc", "fc"]
        assert sum(ly["weights"] for ly in res.report["layers"]) == 266200
    assert np.array_equal(zmodel_to_nn(zm).predict(sub.x_test), zmodel_to_nn(
        decode_zcm(res.data)).predict(sub.x_test))
    assert res.report["ratio"] > 5
    assert isinstance(m.layers[1], ReLU)


def test_ste_ternary_matches_twn_on_kept_weights():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 12))
    ly = Dense(w, np.zeros(5))
    ly.mask = np.abs(w) > 0.2
    eff = STETernary().effective(w * ly.mask, ly)
    t, alpha, _ = ternarize_twn(w[ly.mask])
    assert np.allclose(eff[ly.mask], alpha * t)
    assert np.all(eff[~ly.mask] == 0)
