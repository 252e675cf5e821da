"""Writing a file so that a reader never finds it half-written."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary name beside ``path`` for a writer that wants a path (pandas' ``to_csv``,
    Pillow's ``save``: give it the format, the name ends in ``.partial``), renamed over ``path``
    when the block ends and removed if it raises: a Ctrl-C, a full disk or a crash mid-write
    leaves the old file, never a broken one, and no temporary file. A file replaced keeps its
    permissions."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        yield temporary
        _keep_mode(temporary, path)
        os.replace(temporary, path)
    except OSError as error:
        _name(error, temporary, path)
        raise
    finally:
        temporary.unlink(missing_ok=True)


def _keep_mode(temporary: Path, path: Path) -> None:
    """Give the temporary the permissions of the file it replaces (a new file keeps the
    umask's); not a hard link to another file (restructure's ``--link``), whose mode is that
    file's too."""
    try:
        mode, links = stat.S_IMODE(os.stat(path).st_mode), os.stat(temporary).st_nlink
    except FileNotFoundError:
        return
    if links == 1:
        os.chmod(temporary, mode)


def _name(error: OSError, temporary: Path, path: Path) -> None:
    """Make ``error`` name ``path``: the temporary is gone when its message is read, and a
    failed write's error (from ``write()``, a full disk) names no file at all."""
    if error.errno is not None and error.filename in (None, str(temporary), temporary):
        error.filename, error.filename2 = str(path), None


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_path` (a model
    directory whose card.json is cut short no longer loads), on disk before it is renamed: a
    power cut just after the rename leaves the new file, not an empty one."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)
