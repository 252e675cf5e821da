"""Writing a file so that a reader never finds it half-written."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to a temporary name beside ``path``, then rename it over
    ``path``: a Ctrl-C, a full disk or a crash mid-write leaves the old file, never a broken
    one (a model directory whose card.json is cut short no longer loads)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
