"""Where to go after logging in: only a plain path on this site."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit


def local_target(target: str | None) -> str | None:
    """Return ``target`` when it is a plain local path (``/runs/3?x=1``), else ``None``.

    Refused: anything with a scheme or host (``https://x``, ``//x``), backslashes
    (browsers read ``/\\x`` as ``//x``), whitespace and control characters
    (browsers drop tabs and newlines, so ``/\\t/x`` becomes ``//x``), and
    relative paths.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch).startswith("C")
           for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
