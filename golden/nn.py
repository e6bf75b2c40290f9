"""A small NumPy network library: dense, convolution, max-pool, ReLU, flatten.

Enough to train the models Zipcore compresses (MLPs such as LeNet-300-100,
LeNet-5 style CNNs) with SGD and momentum, deterministically for a seed.

* ``Dense`` weights are ``(out, in)`` (a column is what one input multiplies,
  as in EIE); ``Conv2D`` weights are ``(out, in, kh, kw)`` and the layer is
  computed as im2col times the ``(out, in*kh*kw)`` matrix, which is also how
  the hardware lowers it. Activations are ``(batch, features)`` or
  ``(batch, channels, h, w)``.
* Every weighted layer has a ``mask`` (``True`` = kept) and a ``quant``
  hook: the forward pass uses ``quant.effective(w)`` when set (shared
  weights, straight-through quantizers, TTQ), and the update goes through
  ``quant.update`` (see ``golden.training``). Masked weights stay zero and get
  no update, as in Han et al. 2015's retraining.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dense", "Conv2D", "MaxPool2D", "ReLU", "Flatten", "Model", "mlp", "lenet5",
           "cross_entropy_grad", "accuracy"]


class _Weighted:
    """Mask and weight hook shared by the weighted layers."""

    def __post_init__(self):
        if self.mask is None:
            self.mask = np.ones(self.w.shape, dtype=bool)

    def weight(self) -> np.ndarray:
        """The weights the forward pass uses: masked, then through the hook."""
        w = self.w * self.mask
        return self.quant.effective(w, self) if self.quant is not None else w


@dataclass
class Dense(_Weighted):
    w: np.ndarray
    b: np.ndarray
    mask: np.ndarray = None
    quant: object = None
    kind = "dense"

    def forward(self, x, cache: list | None):
        w = self.weight()
        if cache is not None:
            cache.append((x, w))
        return x @ w.T + self.b

    def backward(self, g, cached):
        x, w = cached
        return g @ w, g.T @ x, g.sum(axis=0)


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """(batch, c, h, w) -> (batch, oh, ow, c*kh*kw), patch order (c, u, v)."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]                 # (b, c, oh, ow, kh, kw)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(x.shape[0], win.shape[2], win.shape[3], -1)


@dataclass
class Conv2D(_Weighted):
    w: np.ndarray              # (out, in, kh, kw)
    b: np.ndarray
    stride: int = 1
    pad: int = 0
    mask: np.ndarray = None
    quant: object = None
    kind = "conv"

    def forward(self, x, cache):
        w = self.weight()
        o, c, kh, kw = w.shape
        cols = _im2col(x, kh, kw, self.stride, self.pad)
        y = cols @ w.reshape(o, -1).T + self.b          # (b, oh, ow, o)
        if cache is not None:
            cache.append((x.shape, cols, w))
        return y.transpose(0, 3, 1, 2)

    def backward(self, g, cached):
        xshape, cols, w = cached
        o, c, kh, kw = w.shape
        gy = g.transpose(0, 2, 3, 1)                     # (b, oh, ow, o)
        gw = np.einsum("bhwo,bhwk->ok", gy, cols).reshape(w.shape)
        gb = gy.sum(axis=(0, 1, 2))
        gcols = gy @ w.reshape(o, -1)                    # (b, oh, ow, c*kh*kw)
        b_, _, h, wd = xshape
        hp, wp = h + 2 * self.pad, wd + 2 * self.pad
        gx = np.zeros((b_, c, hp, wp))
        gcols = gcols.reshape(b_, gcols.shape[1], gcols.shape[2], c, kh, kw)
        s = self.stride
        oh, ow = gcols.shape[1], gcols.shape[2]
        for u in range(kh):
            for v in range(kw):
                gx[:, :, u:u + s * oh:s, v:v + s * ow:s] += gcols[:, :, :, :, u, v].transpose(
                    0, 3, 1, 2)
        if self.pad:
            gx = gx[:, :, self.pad:-self.pad, self.pad:-self.pad]
        return gx, gw, gb


@dataclass
class MaxPool2D:
    """Non-overlapping ``k x k`` max pooling; a ragged edge is dropped. The gradient
    goes to the first maximum of each window (row-major)."""

    k: int = 2
    kind = "maxpool"

    def _windows(self, x):
        b, c, h, w = x.shape
        k = self.k
        xr = x[:, :, :h - h % k, :w - w % k].reshape(b, c, h // k, k, w // k, k)
        return xr.transpose(0, 1, 2, 4, 3, 5).reshape(b, c, h // k, w // k, k * k)

    def forward(self, x, cache):
        win = self._windows(x)
        arg = win.argmax(axis=4)
        if cache is not None:
            cache.append((x.shape, arg))
        return np.take_along_axis(win, arg[..., None], axis=4)[..., 0]

    def backward(self, g, cached):
        shape, arg = cached
        b, c, h, w = shape
        k = self.k
        oh, ow = h // k, w // k
        onehot = np.zeros((b, c, oh, ow, k * k))
        np.put_along_axis(onehot, arg[..., None], g[..., None], axis=4)
        gx = np.zeros(shape)
        gx[:, :, :oh * k, :ow * k] = onehot.reshape(b, c, oh, ow, k, k).transpose(
            0, 1, 2, 4, 3, 5).reshape(b, c, oh * k, ow * k)
        return gx, None, None


@dataclass
class ReLU:
    kind = "relu"

    def forward(self, x, cache):
        if cache is not None:
            cache.append(x > 0)
        return np.maximum(x, 0.0)

    def backward(self, g, cached):
        return g * cached, None, None


@dataclass
class Flatten:
    kind = "flatten"

    def forward(self, x, cache):
        if cache is not None:
            cache.append(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, g, cached):
        return g.reshape(cached), None, None


@dataclass
class Model:
    layers: list
    input_shape: tuple          # one sample's shape, e.g. (64,) or (1, 28, 28)
    name: str = "model"
    meta: dict = field(default_factory=dict)

    @property
    def weighted(self) -> list:
        return [ly for ly in self.layers if hasattr(ly, "w")]

    def forward(self, x: np.ndarray, caches: list | None = None) -> np.ndarray:
        x = x.reshape((x.shape[0],) + tuple(self.input_shape))
        for ly in self.layers:
            c = [] if caches is not None else None
            x = ly.forward(x, c)
            if caches is not None:
                caches.append(c[0])
        return x

    def predict(self, x: np.ndarray, batch: int = 512) -> np.ndarray:
        return np.concatenate([np.argmax(self.forward(x[i:i + batch]), axis=1)
                               for i in range(0, len(x), batch)])

    def backward(self, g: np.ndarray, caches: list) -> list:
        """Gradients ``(gw, gb)`` per weighted layer, in layer order."""
        grads = []
        for ly, c in zip(reversed(self.layers), reversed(caches)):
            g, gw, gb = ly.backward(g, c)
            if gw is not None:
                grads.append((gw, gb))
        return grads[::-1]

    def n_weights(self) -> int:
        return int(sum(ly.w.size for ly in self.weighted))

    def n_params(self) -> int:
        return int(sum(ly.w.size + ly.b.size for ly in self.weighted))

    def copy(self) -> "Model":
        import copy  # noqa: PLC0415

        return copy.deepcopy(self)


def cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))))
    p[np.arange(len(y)), y] -= 1.0
    return loss, p / len(y)


def accuracy(model: Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def _he(rng, shape, fan_in):
    return rng.normal(0, np.sqrt(2.0 / fan_in), size=shape)


def mlp(sizes: list[int], seed: int = 0, name: str = "mlp") -> Model:
    """Dense-ReLU stack with widths ``sizes`` (inputs first), He initialisation."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(_he(rng, (b, a), a), np.zeros(b)))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Model(layers, (sizes[0],), name)




def lenet5(in_shape=(1, 28, 28), classes: int = 10, seed: int = 0) -> Model:
    """LeNet-5 style CNN: conv 6@5x5, pool, conv 16@5x5, pool, dense 120, 84, classes."""
    rng = np.random.default_rng(seed)
    c, h, w = in_shape
    h2, w2 = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
    flat = 16 * h2 * w2
    layers = [
        Conv2D(_he(rng, (6, c, 5, 5), c * 25), np.zeros(6)), ReLU(), MaxPool2D(2),
        Conv2D(_he(rng, (16, 6, 5, 5), 150), np.zeros(16)), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(_he(rng, (120, flat), flat), np.zeros(120)), ReLU(),
        Dense(_he(rng, (84, 120), 120), np.zeros(84)), ReLU(),
        Dense(_he(rng, (classes, 84), 84), np.zeros(classes)),
    ]
    return Model(layers, tuple(in_shape), "lenet5")
