"""Built-in models: trained on the spot from the bundled digits set, so results
compare across versions with nothing to download.

* ``builtin:digits-mlp``: MLP 64-512-192-10 (133k weights) on digits (8x8).
* ``builtin:lenet300``: LeNet-300-100 (784-300-100-10, 266k weights) on digits
  upsampled to 28x28, the shapes of Deep Compression's Table 1.
* ``builtin:lenet5``: LeNet-5 style CNN on digits upsampled to 28x28.
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.data import Dataset, load
from golden.nn import Model, lenet5, mlp
from golden.training import train

__all__ = ["Builtin", "BUILTINS", "train_builtin"]


@dataclass(frozen=True)
class Builtin:
    name: str
    dataset: str
    epochs: int
    lr: float
    sparsity: tuple        # the pruning ratios `zipcore compress` uses by default

    def build(self, seed: int) -> Model:
        if self.name == "digits-mlp":
            return mlp([64, 512, 192, 10], seed, "digits-mlp")
        if self.name == "lenet300":
            return mlp([784, 300, 100, 10], seed, "lenet300")
        return lenet5((1, 28, 28), 10, seed)


BUILTINS = {
    "digits-mlp": Builtin("digits-mlp", "digits", 30, 0.05, (0.9, 0.97, 0.75)),
    # Deep Compression Table 2 (LeNet-300-100): 8%, 9%, 26% of the weights kept.
    "lenet300": Builtin("lenet300", "digits28", 20, 0.05, (0.92, 0.91, 0.74)),
    # Deep Compression Table 3 keeps 66% / 12% of conv1 / conv2 and 8% / 19% of the fc layers.
    "lenet5": Builtin("lenet5", "digits28", 8, 0.05, (0.34, 0.88, 0.92, 0.9, 0.81)),
}


def train_builtin(name: str, seed: int = 0, data: Dataset | None = None,
                  progress=None, model: Model | None = None) -> tuple[Model, Dataset, Builtin]:
    """Train built-in ``name`` (``model`` if given: the untrained ``build(seed)``)."""
    spec = BUILTINS[name]
    data = data or load(spec.dataset)
    model = model or spec.build(seed)
    train(model, data.x_train, data.y_train, epochs=spec.epochs, lr=spec.lr, lr_decay=0.95,
          seed=seed, progress=(lambda e, n: progress(f"training {name}", e, n))
          if progress else None)
    return model, data, spec
