"""All-or-nothing file writes: whatever camcore writes appears whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Writes a temp file beside `path`, then os.replace: a reader (another session, a crash) never sees half
    a file, and a failed write leaves the previous file as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def modified_ns(path: str | os.PathLike[str] | None) -> int | None:
    """The file's modification time in ns, or None for no path, a model name or a missing file: part of a cache
    key, so that a file rewritten at the same path (a training run's best.pt) is never served stale."""
    return Path(path).stat().st_mtime_ns if path and Path(path).is_file() else None
