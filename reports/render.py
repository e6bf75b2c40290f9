"""Headless Chromium (Debian's ``chromium``): does a report page render with every
image, and what does it look like."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["find_chromium", "images_loaded", "screenshot", "RenderError"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--virtual-time-budget=5000"]


class RenderError(RuntimeError):
    """Chromium is missing or failed; the message is one line."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: int = 120) -> str:
    exe = find_chromium()
    if exe is None:
        raise RenderError("chromium is not installed (apt-get install chromium)")
    try:
        r = subprocess.run([exe, *_FLAGS, *args], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"chromium did not finish in {timeout} s") from None
    if r.returncode:
        raise RenderError(f"chromium failed ({r.returncode}): {r.stderr.strip()[-200:]}")
    return r.stdout


def images_loaded(html: Path) -> tuple[int, int]:
    """``(decoded, total)`` images of the page once loaded (the page's own script
    counts them into ``data-images`` on ``<body>``)."""
    dom = _run(["--dump-dom", Path(html).resolve().as_uri()])
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    if not m:
        raise RenderError("the page did not report its images (its script did not run)")
    return int(m.group(1)), int(m.group(2))


def screenshot(html: Path, png: Path, *, width: int = 1100, height: int = 1600) -> Path:
    """A PNG of the top ``width x height`` pixels of the page."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--window-size={width},{height}", f"--screenshot={png.resolve()}",
          Path(html).resolve().as_uri()])
    if not png.exists() or png.read_bytes()[:4] != b"\x89PNG":
        raise RenderError(f"chromium wrote no screenshot to {png}")
    return png
