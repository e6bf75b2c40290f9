"""A small progress bar on stderr: redrawn in place on a terminal, one line per
stage otherwise (CI logs stay short)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.stage = None

    def __call__(self, stage: str, done: int, total: int):
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        if self.tty:
            w = 24
            fill = int(w * done / max(total, 1))
            self.stream.write(f"\r{stage:<28} [{'#' * fill}{'.' * (w - fill)}] "
                              f"{done}/{total} {el:5.1f}s")
            if done >= total:
                self.stream.write("\n")
        elif done >= total:
            self.stream.write(f"{stage}: {total}/{total} done ({el:.1f}s)\n")
        self.stream.flush()
