"""What the engine commands share: reading a model they can run, and ending with
its report."""

from __future__ import annotations

import sys

from golden.zcm import ZcmError, ZModel, read_zcm

from .compress import _dataset, write_json
from .errors import UserError

__all__ = ["read_fc_model", "read_engine_model", "finish", "test_split"]


def _read(path) -> ZModel:
    """The ``.zcm`` model at ``path``; a one-line ``UserError`` if it cannot be read."""
    try:
        return read_zcm(path)
    except ZcmError as e:
        raise UserError(f"{path}: {e}") from None


def read_fc_model(path, storages: tuple, what: str) -> ZModel:
    """The ``.zcm`` model at ``path`` if every layer is fully connected with one of
    ``storages``; a one-line ``UserError`` (``what`` runs only those) otherwise."""
    zm = _read(path)
    for i, ly in enumerate(zm.layers):
        if ly.kind != "fc" or ly.storage not in storages:
            kind = ly.kind if ly.kind != "fc" else f"{ly.storage} fc"
            raise UserError(f"layer {i} is a {kind} layer; {what} "
                            f"{' and '.join(storages)} fully connected layers only (for now)")
    return zm


def read_engine_model(path) -> ZModel:
    """The ``.zcm`` model at ``path`` if the engine runs its kinds of layer: fully
    connected (shared or binary), shared convolutions and max-pools; a
    one-line ``UserError`` otherwise (the shapes are ``hw.engine.engine_params``'s
    to check)."""
    zm = _read(path)
    allowed = {"fc": ("shared", "binary"), "conv": ("shared",), "maxpool": ("none",)}
    for i, ly in enumerate(zm.layers):
        if ly.storage not in allowed.get(ly.kind, ()):
            raise UserError(f"layer {i} is a {ly.storage} {ly.kind} layer; the engine runs "
                            f"shared or binary fully connected layers, shared convolutions "
                            f"and max-pools only")
    return zm


def test_split(zm: ZModel, dataset: str | None, limit: int | None = None):
    """The test split (``x``, ``y``, dataset name) of ``dataset`` (default: the
    model's), its first ``limit`` images; a one-line ``UserError`` when its
    features are not the model's inputs."""
    import numpy as np  # noqa: PLC0415

    data = _dataset(dataset, zm.meta.get("dataset", "digits"))
    x, y = data.x_test, data.y_test
    if x.shape[1] != int(np.prod(zm.input_shape)):
        raise UserError(f"the model takes {int(np.prod(zm.input_shape))} inputs but "
                        f"{data.name} has {x.shape[1]} features")
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y, data.name


def finish(rep: dict, json_path, command: str) -> int:
    """Write ``rep`` to ``json_path`` (if any); exit 1 with one line on mismatches."""
    if json_path:
        write_json(json_path, rep)
    if rep["mismatches"]:
        print(f"zipcore {command}: {rep['mismatches']} of {rep['images']} outputs differ from "
              "the golden model", file=sys.stderr)
        return 1
    return 0
