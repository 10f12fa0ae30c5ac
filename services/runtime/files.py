"""Writing a file so that a crash at any moment leaves either the old content or the new, whole."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` (named ``.NAME.PID.tmp``), fsyncs it,
    renames it over ``path`` and fsyncs the directory, so that the rename itself is durable."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
