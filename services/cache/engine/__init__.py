"""The cache engine: storage, index and eviction policy, with no gRPC inside.

The cache service and the replay tool both run this code. Its kernels are compiled by Numba and
cached on disk; Numba only notices edits to the file a function lives in, so the cache folder is
named after a digest of all the engine's sources, and any edit starts a fresh cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def _compile_cache_dir() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return str(base / "predis" / f"numba-{digest.hexdigest()[:16]}")


if "NUMBA_CACHE_DIR" not in os.environ:
    import numba

    numba.config.CACHE_DIR = _compile_cache_dir()  # type: ignore[attr-defined]
