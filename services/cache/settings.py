"""The cache service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from predis.services.runtime.settings import Env, ServerSettings, SettingsError


@dataclass(frozen=True)
class CacheSettings:
    """
    Attributes:
        server: listen address, grace period, logging (``PREDIS_LISTEN`` and friends).
        memory_bytes: the engine's memory budget (``PREDIS_CACHE_MEMORY_BYTES``, default 256 MiB).
        max_value_bytes: largest value accepted (``PREDIS_CACHE_MAX_VALUE_BYTES``, default 1 MiB).
        origin: origin URL for read-through, ``name:location?options`` (``PREDIS_ORIGIN``); empty
            for none.
        origin_timeout_s: longest wait for one origin fetch (``PREDIS_ORIGIN_TIMEOUT_S``, default 2).
        origin_workers: threads that run blocking origin fetches (``PREDIS_ORIGIN_WORKERS``, 32).
        predictor_address: where the predictor listens (``PREDIS_PREDICTOR_ADDRESS``); empty for
            none.
    """

    server: ServerSettings
    memory_bytes: int = 256 * 1024 * 1024
    max_value_bytes: int = 1024 * 1024
    origin: str = ""
    origin_timeout_s: float = 2.0
    origin_workers: int = 32
    predictor_address: str = ""

    def __post_init__(self) -> None:
        if self.max_value_bytes > self.memory_bytes:
            raise SettingsError(
                f"PREDIS_CACHE_MAX_VALUE_BYTES ({self.max_value_bytes}) exceeds PREDIS_CACHE_MEMORY_BYTES "
                f"({self.memory_bytes})"
            )
        if self.origin_timeout_s <= 0:
            raise SettingsError("PREDIS_ORIGIN_TIMEOUT_S must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], listen: str | None = None) -> CacheSettings:
        env = Env(environ)
        return cls(
            server=ServerSettings.from_env("cache", environ, listen),
            memory_bytes=env.integer("PREDIS_CACHE_MEMORY_BYTES", 256 * 1024 * 1024, minimum=1024),
            max_value_bytes=env.integer("PREDIS_CACHE_MAX_VALUE_BYTES", 1024 * 1024, minimum=1),
            origin=env.text("PREDIS_ORIGIN", ""),
            origin_timeout_s=env.number("PREDIS_ORIGIN_TIMEOUT_S", 2.0),
            origin_workers=env.integer("PREDIS_ORIGIN_WORKERS", 32, minimum=1),
            predictor_address=env.text("PREDIS_PREDICTOR_ADDRESS", ""),
        )
