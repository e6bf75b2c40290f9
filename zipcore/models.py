"""What the engine commands share: reading a model they can run, and ending with
its report."""

from __future__ import annotations

import sys

from golden.zcm import ZcmError, ZModel, read_zcm

from .compress import write_json
from .errors import UserError

__all__ = ["read_fc_model", "finish"]


def read_fc_model(path, storages=("shared", "binary"), what="the engine runs") -> ZModel:
    """The ``.zcm`` model at ``path`` if every layer is fully connected with one of
    ``storages``; a one-line ``UserError`` otherwise."""
    try:
        zm = read_zcm(path)
    except ZcmError as e:
        raise UserError(f"{path}: {e}") from None
    for i, ly in enumerate(zm.layers):
        if ly.kind != "fc" or ly.storage not in storages:
            kind = ly.kind if ly.kind != "fc" else f"{ly.storage} fc"
            raise UserError(f"layer {i} is a {kind} layer; {what} "
                            f"{' and '.join(storages)} fully connected layers only (for now)")
    return zm


def finish(rep: dict, json_path, command: str) -> int:
    """Write ``rep`` to ``json_path`` (if any); exit 1 with one line on mismatches."""
    if json_path:
        write_json(json_path, rep)
    if rep["mismatches"]:
        print(f"zipcore {command}: {rep['mismatches']} of {rep['images']} outputs differ from "
              "the golden model", file=sys.stderr)
        return 1
    return 0
