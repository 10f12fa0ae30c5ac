"""Choosing a storage backend: ``numpy``, ``cupy``, or ``auto`` (CuPy when a CUDA device is
present, NumPy otherwise)."""

from __future__ import annotations

from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import Storage

BACKENDS = ("auto", "numpy", "cupy")


def cuda_available() -> bool:
    try:
        from predis.services.cache.engine.cupy_storage import cuda_available as available
    except ImportError:
        return False
    return available()


def make_storage(backend: str, block_bytes: int) -> Storage:
    if backend not in BACKENDS:
        raise ValueError(f"storage backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "cupy" or (backend == "auto" and cuda_available()):
        try:
            from predis.services.cache.engine.cupy_storage import CupyStorage
        except ImportError as exc:
            raise ValueError(f"the cupy backend needs CuPy (pip install 'predis[gpu]'): {exc}") from exc
        return CupyStorage(block_bytes=block_bytes)
    return NumpyStorage(block_bytes=block_bytes)
