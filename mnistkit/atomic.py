"""Atomic file writes: a temp file beside the target, fsynced, then ``os.replace``.

A reader sees the old file or the new one, never half of one; a failed write leaves the
old file and no temp file behind. Every file ends at mode 0644 (readable by all, like any
file the user saves) and the folder is fsynced so the rename survives a crash. Temp files
are hidden (``.tmp-*``), so folder listings skip them. Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODE = 0o644
TEMP_PREFIX = ".tmp-"


def atomic_replace(
    path: str | os.PathLike[str], write: Callable[[Path], None], suffix: str = ""
) -> Path:
    """Call ``write(tmp)`` for a temp file beside ``path``, then rename it over ``path``.

    For writers that need a file name (``model.save`` wants one ending in ``.keras``:
    pass ``suffix=".keras"``). ``write`` may replace or rewrite the file it is given.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "r+b") as f:  # write access: Windows cannot fsync a read-only handle
            os.fsync(f.fileno())
        os.chmod(tmp, MODE)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:  # any failure, Ctrl+C included: no temp file is left behind
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_replace(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as strict JSON (NaN/inf become null) to ``path`` atomically."""
    atomic_write_text(path, strict_json(obj, indent=2) + "\n")


def strict_json(obj: Any, indent: int | None = None) -> str:
    """``obj`` as JSON any parser accepts: NaN/inf become null, numpy values plain numbers."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False, default=_plain)


def _finite(obj: Any) -> Any:
    """Return ``obj`` with NaN/inf floats replaced by None (recursing)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _plain(obj: Any) -> Any:
    """JSON fallback: numpy scalars/arrays via ``tolist``, paths as strings."""
    if hasattr(obj, "tolist"):
        return _finite(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, set | frozenset):
        return _finite(sorted(obj, key=str))
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _fsync_dir(folder: Path) -> None:
    """Best-effort fsync of a folder so a rename survives a crash (POSIX only)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
