"""golden.hwmodel.engine: the integers the engine computes a .zcm model with."""

import numpy as np
import pytest

from golden.data import digits
from golden.fixedpoint import requantize
from golden.hwmodel.engine import engine_forward, engine_model, engine_predict, quantize_input
from golden.nn import mlp
from golden.pipeline import CompressConfig, compress, zmodel_to_nn
from golden.training import train
from golden.zcm import ZcmError, ZLayer, ZModel, decode_zcm


def fc(out, inp, codes, codebook, bias, act="relu", act_scale=1.0):
    return ZLayer(kind="fc", act=act, out=out, inp=inp, storage="shared", code_bits=2,
                  gap_bits=4, codebook=np.asarray(codebook, np.float32),
                  codes=np.asarray(codes), bias=np.asarray(bias, np.float32),
                  act_scale=act_scale)


def test_tiny_layer_by_hand():
    """Two fc layers whose every integer is worked out by hand here."""
    # Layer 0: codebook [0, 0.5, -0.25, 1.0] -> s_w = 1/127, w_q = [0, 64, -32, 127]
    # (0.5 * 127 = 63.5 rounds to even, 64).
    l0 = fc(2, 3, [[1, 0, 3], [2, 2, 0]], [0, 0.5, -0.25, 1.0], [0.1, -1.0],
            act_scale=0.02)
    # Layer 1 reads a tensor of scale 0.05; codebook [0, 2, -2, 1] -> s_w = 2/127.
    l1 = fc(1, 2, [[1, 2]], [0, 2.0, -2.0, 1.0], [0.0], act="none", act_scale=0.05)
    zm = ZModel([l0, l1], (3, 1, 1), classes=1, input_scale=0.02)
    em = engine_model(zm)
    a, b = em.layers
    assert a.weights.tolist() == [[64, 0, 127], [-32, -32, 0]]
    # Bias steps: s_w * s_in = 0.02 / 127; 0.1 / that = 635, -1.0 / that = -6350.
    assert a.bias.tolist() == [635, -6350]
    x = np.array([[50, -7, 10]])
    acc = np.array([64 * 50 + 127 * 10 + 635, -32 * 50 + -32 * -7 - 6350])   # 5105, -7726
    assert acc.tolist() == [5105, -7726]
    # M = (0.02 / 127) / 0.05 = 0.0031496..., = M0 * 2**-shift with M0 in [2**30, 2**31).
    assert a.shift[0] == 8 and abs(a.multiplier[0] / 2**31 / 2**8 - 0.02 / 127 / 0.05) < 1e-9
    y = requantize(acc, a.multiplier, a.shift, relu=True)
    # 5105 * 0.0031496 = 16.08 -> 16; the negative row is clipped by the ReLU.
    assert y.tolist() == [16, 0]
    assert b.weights.tolist() == [[127, -127]] and b.multiplier is None
    out = engine_forward(em, x)
    assert out.tolist() == [[127 * 16]]
    assert b.out_scale[0] == pytest.approx(2 / 127 * 0.05)


def test_scale_ratio_of_one_or_more_is_refused():
    l0 = fc(1, 1, [[1]], [0, 1.0, 0, 0], [0.0], act_scale=1.0)
    l1 = fc(1, 1, [[1]], [0, 1.0, 0, 0], [0.0], act="none", act_scale=1e-4)
    with pytest.raises(ZcmError, match="layer 0: scale ratio"):
        engine_model(ZModel([l0, l1], (1, 1, 1), classes=1, input_scale=1.0))


def test_model_must_end_with_a_weighted_layer():
    l0 = ZLayer(kind="maxpool", in_shape=(1, 2, 2), pool=2)
    with pytest.raises(ZcmError, match="ends with a weighted layer"):
        engine_model(ZModel([l0], (1, 2, 2), classes=1))


def test_conv_pool_fc_follows_the_float_model():
    """A random conv -> maxpool -> fc model: the engine's output, scaled back,
    stays within a few quantisation steps of the float model on the same
    (quantised) inputs, so im2col order, padding and pooling agree."""
    rng = np.random.default_rng(0)
    cb = np.array([0, 0.3, -0.2, 0.1], np.float32)
    conv = ZLayer(kind="conv", act="relu", out=3, inp=2 * 9, in_shape=(2, 6, 6), kh=3, kw=3,
                  stride=1, pad=1, storage="shared", code_bits=2, gap_bits=4, codebook=cb,
                  codes=rng.integers(0, 4, (3, 18)), bias=np.array([0.1, 0, -0.1], np.float32),
                  act_scale=1 / 127)
    pool = ZLayer(kind="maxpool", in_shape=(3, 6, 6), pool=2, act_scale=0.02)
    dense = ZLayer(kind="fc", out=4, inp=27, storage="shared", code_bits=2, gap_bits=4,
                   codebook=cb, codes=rng.integers(0, 4, (4, 27)),
                   bias=np.zeros(4, np.float32), act_scale=0.5)    # unused: after a pool
    zm = ZModel([conv, pool, dense], (2, 6, 6), classes=4, input_scale=1 / 127)
    em = engine_model(zm)
    x = rng.uniform(-1, 1, (5, 2, 6, 6))
    xq = quantize_input(em, x)
    out = engine_forward(em, xq) * em.layers[-1].out_scale[None, :]
    # The float model of the same file, with codebook values as the engine rounds them.
    for ly in (conv, dense):
        s_w = np.abs(ly.codebook).max() / 127
        ly.codebook = (np.rint(ly.codebook / s_w) * s_w).astype(np.float64)
    ref = zmodel_to_nn(zm).forward(xq.reshape(x.shape) * em.input_scale)
    # The conv output is requantised at 0.02 per step (the pool's scale); 27 fc
    # inputs each off by half a step bound the error.
    assert np.max(np.abs(out - ref)) <= 27 * 0.5 * 0.02 * 0.3 + 1e-6


@pytest.mark.slow
def test_compressed_digits_mlp_keeps_its_accuracy_in_integers():
    d = digits()
    m = mlp([64, 64, 10], seed=1)
    train(m, d.x_train, d.y_train, epochs=10, lr=0.05, seed=1)
    cfg = CompressConfig(retrain_epochs=1, finetune_epochs=1, schedule=(0.5, 1.0), distill=0.0)
    zm = decode_zcm(compress(m, d, cfg).data)
    float_acc = np.mean(zmodel_to_nn(zm).predict(d.x_test) == d.y_test)
    int_acc = np.mean(engine_predict(engine_model(zm), d.x_test) == d.y_test)
    assert float_acc > 0.85
    assert abs(int_acc - float_acc) <= 0.01
