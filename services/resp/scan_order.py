"""SCAN's cursors: a key's place in the order is a 64-bit hash of it, so a cursor (a place)
means the same keys however many others came and went; a connection keeps the sorted keys of
the iteration it is in, so each call costs its page and only the first costs the listing."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

CURSOR_LIMIT = 1 << 64


def parse_cursor(arg: bytes) -> int | None:
    """A cursor as Redis reads it with ``strtoul``: optional sign, decimal digits, a negative
    value wrapped around 2**64, the empty string 0. None where Redis says invalid cursor."""
    text = arg.split(b"\0", 1)[0]
    if not text:
        return 0
    if text[:1].isspace():
        return None
    sign, digits = (text[:1], text[1:]) if text[:1] in (b"+", b"-") else (b"", text)
    if not digits or not digits.isdigit():
        return None
    value = int(digits)
    if value >= CURSOR_LIMIT:
        return None
    return (-value) % CURSOR_LIMIT if sign == b"-" else value


def position(key: bytes) -> int:
    return hash(key) % CURSOR_LIMIT


@dataclass
class ScanOrder:
    """One database's keys in SCAN order, as listed when an iteration started."""

    tenant: str
    database: int
    positions: list[int]
    keys: list[bytes]

    @classmethod
    def of(cls, tenant: str, database: int, keys: list[bytes]) -> ScanOrder:
        ordered = sorted((position(key), key) for key in keys)
        return cls(tenant, database, [p for p, _ in ordered], [k for _, k in ordered])

    def lists(self, tenant: str, database: int) -> bool:
        return self.tenant == tenant and self.database == database

    def page(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """About ``count`` keys from ``cursor`` on (all keys at the last place shown, so a page
        never splits keys that share one), and the cursor after them: 0 at the end. Keys that
        came after the listing are not returned, keys gone since may be: both as SCAN allows."""
        start = bisect.bisect_left(self.positions, cursor)
        end = min(start + count, len(self.keys))
        while start < end < len(self.keys) and self.positions[end] == self.positions[end - 1]:
            end += 1
        if end >= len(self.keys):
            return 0, self.keys[start:]
        return self.positions[end - 1] + 1, self.keys[start:end]
