"""Training: SGD with momentum, pruning masks, and the weight hooks of
compression-aware training.

A weighted layer's ``quant`` hook, when set, decides what the forward pass
uses (``effective``) and how the gradient of that effective weight updates
the stored parameters (``update``):

* ``SharedWeights``: Deep Compression section 3.3, trained quantization. The
  layer computes with ``codebook[codes]``; the gradient of centroid ``k`` is
  the sum of the gradients of all weights in cluster ``k`` (Fig. 3), and only
  the centroids move. Code 0 is the zero weight and stays 0.
* ``STEUniform``, ``STEBinary``, ``STETernary``: quantization-aware training
  with the straight-through estimator (Bengio et al. 2013; Courbariaux et
  al., BinaryConnect 2015): the forward pass quantizes the latent float
  weights, the backward pass hands the gradient to the latent weights
  unchanged (binary: zeroed where ``|w| > 1``, as in BinaryNet).
* ``TTQ``: Zhu et al., "Trained Ternary Quantization", ICLR 2017, eq. (7)-(8):
  the two scales get the summed gradients of their sets; the latent weights
  get the gradient scaled by ``Wp``, 1 or ``Wn``.

``train`` also does knowledge distillation when given a teacher (Hinton et
al. 2015; see ``golden.distill``).
"""

from __future__ import annotations

import numpy as np

from .distill import distillation_grad
from .nn import Model, cross_entropy_grad
from .quantization import binarize, qrange, ternarize_twn

__all__ = ["SharedWeights", "STEUniform", "STEBinary", "STETernary", "TTQ", "train"]


def _sgd(layer, name: str, param: np.ndarray, grad: np.ndarray, lr: float, momentum: float):
    v = getattr(layer, name, None)
    if v is None or v.shape != param.shape:
        v = np.zeros_like(param)
    v = momentum * v - lr * grad
    setattr(layer, name, v)
    param += v


class SharedWeights:
    """Weights ``codebook[codes]``; centroids trained by summed gradients."""

    def __init__(self, codebook: np.ndarray, codes: np.ndarray):
        self.codebook = np.asarray(codebook, dtype=np.float64).copy()
        self.codes = np.asarray(codes, dtype=np.int64)

    def effective(self, w, layer):
        return self.codebook[self.codes]

    def update(self, layer, gw, lr, momentum, weight_decay):
        g = np.bincount(self.codes.ravel(), weights=gw.ravel(), minlength=self.codebook.size)
        g[0] = 0.0
        _sgd(self, "_vc", self.codebook, g, lr, momentum)
        self.codebook[0] = 0.0
        layer.w = self.codebook[self.codes]


class _STE:
    def update(self, layer, gw, lr, momentum, weight_decay):
        _sgd(layer, "_vw", layer.w, (self.pass_grad(layer.w, gw) + weight_decay * layer.w)
             * layer.mask, lr, momentum)

    def pass_grad(self, w, gw):
        return gw


class STEUniform(_STE):
    """Symmetric uniform ``bits``-bit weights, one scale per tensor (max |w|)."""

    def __init__(self, bits: int):
        self.bits = bits

    def quantize(self, w):
        _, qmax = qrange(self.bits, True)
        amax = float(np.max(np.abs(w))) if w.size else 0.0
        scale = amax / qmax if amax > 0 else 1.0
        return np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int64), scale

    def effective(self, w, layer):
        q, s = self.quantize(w)
        return q * s


class STEBinary(_STE):
    """``alpha_i * sign(w)`` per output row (XNOR-Net / BWN)."""

    def effective(self, w, layer):
        shape = w.shape
        w2 = w.reshape(shape[0], -1)
        b, alpha = binarize(w2, axis=0)
        return (alpha[:, None] * b).reshape(shape)

    def pass_grad(self, w, gw):
        return gw * (np.abs(w) <= 1.0)


class STETernary(_STE):
    """TWN ternary weights ``alpha * t`` with ``delta = 0.7 mean|w|``."""

    def effective(self, w, layer):
        kept = w[layer.mask]
        t, alpha, delta = ternarize_twn(kept)
        out = np.zeros_like(w)
        out[layer.mask] = alpha * t
        return out


class TTQ:
    """Trained ternary quantization with learned ``wp``, ``wn`` (both >= 0)."""

    def __init__(self, wp: float, wn: float, t: float = 0.05):
        self.wp, self.wn, self.t = float(wp), float(wn), float(t)

    def _sets(self, w):
        delta = self.t * float(np.max(np.abs(w))) if w.size else 0.0
        return w > delta, w < -delta

    def effective(self, w, layer):
        pos, neg = self._sets(w)
        return np.where(pos, self.wp, np.where(neg, -self.wn, 0.0)) * layer.mask

    def update(self, layer, gw, lr, momentum, weight_decay):
        pos, neg = self._sets(layer.w * layer.mask)
        pos &= layer.mask
        neg &= layer.mask
        g_wp = float(gw[pos].sum())
        g_wn = float(-gw[neg].sum())
        self.wp = max(self.wp - lr * g_wp, 0.0)
        self.wn = max(self.wn - lr * g_wn, 0.0)
        scale = np.where(pos, self.wp, np.where(neg, self.wn, 1.0))
        _sgd(layer, "_vw", layer.w, (gw * scale + weight_decay * layer.w) * layer.mask,
             lr, momentum)

    def codes(self, w, mask):
        pos, neg = self._sets(w * mask)
        return np.where(pos & mask, 2, np.where(neg & mask, 1, 0))


def train(model: Model, x: np.ndarray, y: np.ndarray, epochs: int = 10, lr: float = 0.05,
          momentum: float = 0.9, batch: int = 32, weight_decay: float = 1e-4, seed: int = 0,
          teacher: Model | None = None, temperature: float = 4.0, lam: float = 0.7,
          lr_decay: float = 1.0, progress=None) -> Model:
    """Minibatch SGD with momentum; masks hold; weight hooks as described above.

    With ``teacher``, the loss is the distillation mix of hard labels and the
    teacher's soft targets at ``temperature`` (weight ``lam`` on the soft
    part). ``lr`` is multiplied by ``lr_decay`` after each epoch.
    """
    rng = np.random.default_rng(seed)
    for ly in model.weighted:
        ly.w *= ly.mask
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), batch):
            idx = order[s:s + batch]
            caches: list = []
            logits = model.forward(x[idx], caches)
            if teacher is None:
                _, g = cross_entropy_grad(logits, y[idx])
            else:
                g = distillation_grad(logits, teacher.forward(x[idx]), y[idx], temperature, lam)
            grads = model.backward(g, caches)
            for ly, (gw, gb) in zip(model.weighted, grads):
                if ly.quant is not None:
                    ly.quant.update(ly, gw, lr, momentum, weight_decay)
                else:
                    _sgd(ly, "_vw", ly.w, (gw + weight_decay * ly.w) * ly.mask, lr, momentum)
                _sgd(ly, "_vb", ly.b, gb, lr, momentum)
        lr *= lr_decay
        if progress is not None:
            progress(epoch + 1, epochs)
    for ly in model.weighted:
        ly.w *= ly.mask
    return model
