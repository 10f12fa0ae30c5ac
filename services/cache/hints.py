"""Client hints: "these keys go together" or "this sequence comes next", kept per tenant in a
bounded table and turned into prefetches when a hinted key is read.

A sequence hint links each key to the one after it; a group hint links every key to every other.
Each key keeps at most ``MAX_FOLLOWERS`` followers (the newest win) and the table at most
``max_keys`` keys per tenant (the least recently hinted go first), so hints cannot grow memory
without bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from predis.services.cache.engine.engine import MAX_KEY_BYTES
from predis.services.runtime.errors import InvalidInput

MAX_FOLLOWERS = 8
MAX_HINT_KEYS = 1000


class HintTable:
    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._followers: dict[str, OrderedDict[bytes, list[bytes]]] = {}

    def add(self, tenant: str, kind: str, keys: Sequence[bytes]) -> int:
        """Records a hint; answers how many links it added."""
        if kind not in ("group", "sequence"):
            raise InvalidInput("a hint is a 'group' or a 'sequence'")
        if not 2 <= len(keys) <= MAX_HINT_KEYS:
            raise InvalidInput(f"a hint names 2 to {MAX_HINT_KEYS} keys, not {len(keys)}")
        if any(not 0 < len(key) <= MAX_KEY_BYTES for key in keys):
            raise InvalidInput(f"a hint names an empty key or one longer than {MAX_KEY_BYTES} bytes")
        if kind == "sequence":
            pairs = list(zip(keys, keys[1:], strict=False))
        else:
            pairs = [(a, b) for a in keys for b in keys if a != b]
        table = self._followers.setdefault(tenant, OrderedDict())
        added = 0
        for key, follower in pairs:
            followers = table.pop(key, [])
            if follower not in followers:
                followers.append(follower)
                added += 1
            table[key] = followers[-MAX_FOLLOWERS:]
        while len(table) > self.max_keys:
            table.popitem(last=False)
        return added

    def has(self, tenant: str) -> bool:
        return bool(self._followers.get(tenant))

    def followers(self, tenant: str, keys: Sequence[bytes]) -> list[bytes]:
        """The hinted followers of ``keys`` (no duplicates, in hint order)."""
        table = self._followers.get(tenant)
        if not table:
            return []
        out: dict[bytes, None] = {}
        for key in keys:
            for follower in table.get(key, ()):
                out[follower] = None
        return list(out)
