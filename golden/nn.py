"""A small NumPy MLP: forward, backward, SGD with momentum, pruning masks held.

Weights are ``(out, in)`` matrices (a column is what one input multiplies,
as in EIE) and biases ``(out,)``; hidden layers use ReLU and the last layer
feeds a softmax cross-entropy loss. Training is deterministic for a seed.
Masked weights (``False``) are zero and receive no update, as in Han et al.
2015's retraining after pruning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MLP", "init_mlp", "train", "accuracy"]


@dataclass
class MLP:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    masks: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self):
        if not self.masks:
            self.masks = [np.ones(w.shape, dtype=bool) for w in self.weights]

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    def forward(self, x: np.ndarray, keep: bool = False):
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        return acts if keep else h

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.forward(x), axis=1)

    def apply_masks(self):
        for w, m in zip(self.weights, self.masks):
            w *= m


def init_mlp(sizes: list[int], seed: int = 0) -> MLP:
    """He-initialised MLP with layer widths ``sizes`` (inputs first)."""
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0, np.sqrt(2.0 / a), size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    return MLP(ws, [np.zeros(b) for b in sizes[1:]])


def accuracy(model: MLP, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def _grads(model: MLP, x: np.ndarray, y: np.ndarray, weight_decay: float):
    acts = model.forward(x, keep=True)
    z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    delta = p / len(y)
    gw, gb = [], []
    for i in range(len(model.weights) - 1, -1, -1):
        gw.append(delta.T @ acts[i] + weight_decay * model.weights[i])
        gb.append(delta.sum(axis=0))
        if i:
            delta = (delta @ model.weights[i]) * (acts[i] > 0)
    return gw[::-1], gb[::-1]


def train(model: MLP, x: np.ndarray, y: np.ndarray, epochs: int = 20, lr: float = 0.05,
          momentum: float = 0.9, batch: int = 32, weight_decay: float = 1e-4,
          seed: int = 0, progress=None) -> MLP:
    """Minibatch SGD with momentum; masks hold (pruned weights stay zero)."""
    rng = np.random.default_rng(seed)
    vw = [np.zeros_like(w) for w in model.weights]
    vb = [np.zeros_like(b) for b in model.biases]
    model.apply_masks()
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), batch):
            idx = order[s:s + batch]
            gw, gb = _grads(model, x[idx], y[idx], weight_decay)
            for i in range(len(model.weights)):
                vw[i] = momentum * vw[i] - lr * gw[i] * model.masks[i]
                vb[i] = momentum * vb[i] - lr * gb[i]
                model.weights[i] += vw[i]
                model.biases[i] += vb[i]
        if progress:
            progress(epoch + 1, epochs)
    model.apply_masks()
    return model
