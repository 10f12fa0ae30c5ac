"""What an origin is: where the cache reads a value it does not hold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit


@runtime_checkable
class Origin(Protocol):
    """A source of truth for values. Called from worker threads; must be thread-safe."""

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        """The value of ``key`` for ``tenant``, or None when the origin has no such key.

        Raise an exception when the origin fails; the cache reports it to the caller as
        UNAVAILABLE and caches nothing.
        """
        ...

    def close(self) -> None:
        """Releases connections; called once when the cache stops."""
        ...


@dataclass(frozen=True)
class OriginSpec:
    """An origin URL, parsed: ``name:location?option=value&...``.

    Attributes:
        name: the registered origin name (the URL scheme).
        location: what follows the scheme, without the query (a file path for ``sqlite``).
        options: the query's options.
    """

    name: str
    location: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str) -> OriginSpec:
        name, sep, _ = url.partition(":")
        if not sep or not name:
            raise ValueError(f"origin {url!r} is not NAME:LOCATION?OPTIONS (for example sqlite:///data/kv.db)")
        parts = urlsplit(url)
        location = parts.netloc + parts.path if parts.netloc else parts.path
        return cls(name=name, location=location, options=dict(parse_qsl(parts.query)))

    def option_float(self, name: str, default: float) -> float:
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"origin option {name}={raw!r} is not a number") from None


OriginFactory = Callable[[OriginSpec], Origin]
