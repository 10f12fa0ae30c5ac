"""Built-in origin ``synthetic``: every key exists; its value is derived from the key after a
configurable delay. For benchmarks and demos that need an origin with a known cost.

``PREDIS_ORIGIN=synthetic:?latency_ms=2&value_size=100``
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from predis.plugins.hookspecs import hookimpl
from predis.plugins.origin import OriginFactory, OriginSpec


class SyntheticOrigin:
    def __init__(self, latency_s: float, value_size: int) -> None:
        self.latency_s = latency_s
        self.value_size = value_size

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        if self.latency_s:
            time.sleep(self.latency_s)
        seed = hashlib.blake2b(tenant.encode() + b"\0" + key, digest_size=32).digest()
        repeats = -(-self.value_size // len(seed))
        return (seed * repeats)[: self.value_size]

    def close(self) -> None:
        return None


def make_synthetic_origin(spec: OriginSpec) -> SyntheticOrigin:
    latency_ms = spec.option_float("latency_ms", 0.0)
    value_size = spec.option_float("value_size", 100)
    if latency_ms < 0 or value_size < 0 or value_size != int(value_size):
        raise ValueError("synthetic origin: latency_ms must be >= 0 and value_size a whole number >= 0")
    return SyntheticOrigin(latency_ms / 1000.0, int(value_size))


@hookimpl
def predis_register_origins(register: Callable[[str, OriginFactory], None]) -> None:
    register("synthetic", make_synthetic_origin)
