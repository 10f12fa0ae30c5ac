"""Application prefetch candidates: after a read of a key that ends in a number (``page:7``,
``chapter-12``, ``item007``), the next pages (``page:8``; ``item008``, its width kept).

``PREDIS_NEXT_PAGES=N`` sets how many (default 1) and ``PREDIS_NEXT_PAGES_PREFIXES=page:,chapter-``
limits them to keys with those prefixes (default: every key that ends in a number). Both are read
once, when the plugin is loaded: the hook runs in the cache's event loop after every read, so it
does no I/O and little work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from predis.plugins import hookimpl

NUMBERED = re.compile(rb"(.*?)(\d+)", re.DOTALL)


class NextPages:
    def __init__(self, count: int = 1, prefixes: tuple[bytes, ...] = ()) -> None:
        if count < 0:
            raise ValueError("PREDIS_NEXT_PAGES must be a whole number >= 0")
        self.count = count
        self.prefixes = prefixes

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> NextPages:
        raw = environ.get("PREDIS_NEXT_PAGES", "1")
        if not raw.isdigit():
            raise ValueError(f"PREDIS_NEXT_PAGES={raw!r} is not a whole number >= 0")
        prefixes = environ.get("PREDIS_NEXT_PAGES_PREFIXES", "")
        return cls(int(raw), tuple(p.strip().encode() for p in prefixes.split(",") if p.strip()))

    def after(self, key: bytes) -> list[bytes]:
        """The keys of the next ``count`` pages after ``key``; none when it is not a numbered key."""
        match = NUMBERED.fullmatch(key)
        if match is None or (self.prefixes and not key.startswith(self.prefixes)):
            return []
        stem, digits = match.groups()
        number = int(digits)
        return [stem + str(number + step).zfill(len(digits)).encode() for step in range(1, self.count + 1)]


NEXT_PAGES = NextPages.from_env(os.environ)


@hookimpl
def predis_prefetch_candidates(key: bytes) -> list[bytes]:
    # A hook implementation may take fewer arguments than the hook has: this one ignores tenant.
    return NEXT_PAGES.after(key)
