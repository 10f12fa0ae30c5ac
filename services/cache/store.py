"""The cache's storage: tenant-namespaced entries under a byte budget, LRU eviction, TTLs.

Plain Python, no gRPC. Keys never collide across tenants because the tenant is part of the key
of the index. Memory is counted as key + value + a fixed per-entry overhead that covers this
store's Python objects, so the budget bounds what the process really holds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from predis.services.runtime.errors import InvalidInput, Overloaded

MAX_KEY_BYTES = 64 * 1024
# Measured with sys.getsizeof on CPython 3.11: the index tuple, the entry object and the
# ordered-dict slot come to about 240 bytes beyond the key and value payloads.
ENTRY_OVERHEAD_BYTES = 240


class SetCondition(Enum):
    ALWAYS = "always"
    IF_ABSENT = "if_absent"
    IF_PRESENT = "if_present"


class Source(Enum):
    CLIENT = "client"
    ORIGIN = "origin"
    PREFETCH = "prefetch"


@dataclass(slots=True)
class Entry:
    value: bytes
    expires_at: float | None
    source: Source
    size: int


@dataclass
class TenantCounters:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    prefetches: int = 0
    prefetches_used: int = 0
    prefetches_unused: int = 0
    origin_fetches: int = 0
    origin_errors: int = 0
    entries: int = 0
    memory_bytes: int = 0

    @property
    def hit_ratio(self) -> float:
        reads = self.hits + self.misses
        return self.hits / reads if reads else 0.0


@dataclass(frozen=True)
class Lookup:
    """The result of a read: the value, or None on a miss, and whether a prefetch put it there."""

    value: bytes | None
    prefetched: bool = False


@dataclass
class CacheStore:
    """Entries of every tenant in one LRU order under one byte budget.

    ``clock`` returns seconds (monotonic) and is injectable for TTL tests.
    """

    memory_budget_bytes: int
    max_value_bytes: int = 1024 * 1024
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[tuple[str, bytes], Entry] = field(default_factory=OrderedDict)
    _counters: dict[str, TenantCounters] = field(default_factory=dict)
    memory_bytes: int = 0

    def __post_init__(self) -> None:
        if self.memory_budget_bytes <= 0:
            raise ValueError("memory budget must be positive")

    # -- reads -------------------------------------------------------------------------------

    def get(self, tenant: str, key: bytes) -> Lookup:
        """Reads ``key``, counting a hit or a miss and refreshing its recency on a hit."""
        _check_key(key)
        counters = self.counters(tenant)
        entry = self._live_entry(tenant, key)
        if entry is None:
            counters.misses += 1
            return Lookup(None)
        counters.hits += 1
        self._entries.move_to_end((tenant, key))
        prefetched = entry.source is Source.PREFETCH
        if prefetched:
            counters.prefetches_used += 1
            entry.source = Source.CLIENT
        return Lookup(entry.value, prefetched)

    def exists(self, tenant: str, keys: Iterable[bytes]) -> int:
        return sum(1 for key in keys if self._live_entry(tenant, _check_key(key)) is not None)

    def ttl_ms(self, tenant: str, key: bytes) -> int:
        """Remaining time to live in ms; -1 without expiry, -2 when absent (Redis PTTL)."""
        entry = self._live_entry(tenant, _check_key(key))
        if entry is None:
            return -2
        if entry.expires_at is None:
            return -1
        return max(0, round((entry.expires_at - self.clock()) * 1000))

    # -- writes ------------------------------------------------------------------------------

    def set(
        self,
        tenant: str,
        key: bytes,
        value: bytes,
        ttl_ms: int = 0,
        condition: SetCondition = SetCondition.ALWAYS,
        source: Source = Source.CLIENT,
    ) -> bool:
        """Stores ``value``; False only when ``condition`` is not met. Validates before changing anything."""
        self.validate(key, value, ttl_ms)
        present = self._live_entry(tenant, key) is not None
        if (condition is SetCondition.IF_ABSENT and present) or (condition is SetCondition.IF_PRESENT and not present):
            return False
        expires_at = self.clock() + ttl_ms / 1000 if ttl_ms else None
        self._remove(tenant, key)
        size = len(key) + len(value) + ENTRY_OVERHEAD_BYTES
        self._make_room(size)
        self._entries[(tenant, key)] = Entry(value, expires_at, source, size)
        counters = self.counters(tenant)
        counters.entries += 1
        counters.memory_bytes += size
        if source is Source.PREFETCH:
            counters.prefetches += 1
        self.memory_bytes += size
        return True

    def validate(self, key: bytes, value: bytes, ttl_ms: int = 0) -> None:
        """Raises InvalidInput/Overloaded for a write that must not happen; changes nothing."""
        _check_key(key)
        if len(value) > self.max_value_bytes:
            raise InvalidInput(
                f"value of {len(value)} bytes is larger than the maximum of {self.max_value_bytes} bytes "
                "(PREDIS_CACHE_MAX_VALUE_BYTES)"
            )
        if ttl_ms < 0:
            raise InvalidInput(f"ttl_ms must be 0 (no expiry) or positive, not {ttl_ms}")
        if len(key) + len(value) + ENTRY_OVERHEAD_BYTES > self.memory_budget_bytes:
            raise Overloaded(
                f"an entry of {len(key) + len(value)} bytes can never fit in the cache's memory budget of "
                f"{self.memory_budget_bytes} bytes"
            )

    def delete(self, tenant: str, keys: Iterable[bytes]) -> int:
        removed = 0
        for key in keys:
            if self._live_entry(tenant, _check_key(key)) is not None:
                self._remove(tenant, key)
                removed += 1
        return removed

    def expire(self, tenant: str, key: bytes, ttl_ms: int, persist: bool = False) -> bool:
        """Sets (or with ``persist`` clears) the expiry of an existing key; ttl <= 0 deletes it."""
        entry = self._live_entry(tenant, _check_key(key))
        if entry is None:
            return False
        if persist:
            had_expiry = entry.expires_at is not None
            entry.expires_at = None
            return had_expiry
        if ttl_ms <= 0:
            self._remove(tenant, key)
            return True
        entry.expires_at = self.clock() + ttl_ms / 1000
        return True

    def flush(self, tenant: str) -> int:
        doomed = [k for k in self._entries if k[0] == tenant]
        for _, key in doomed:
            self._remove(tenant, key)
        return len(doomed)

    # -- accounting --------------------------------------------------------------------------

    def counters(self, tenant: str) -> TenantCounters:
        counters = self._counters.get(tenant)
        if counters is None:
            counters = self._counters[tenant] = TenantCounters()
        return counters

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    # -- internals ---------------------------------------------------------------------------

    def _live_entry(self, tenant: str, key: bytes) -> Entry | None:
        entry = self._entries.get((tenant, key))
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self.clock():
            self._remove(tenant, key)  # lazy expiry
            return None
        return entry

    def _remove(self, tenant: str, key: bytes, evicted: bool = False) -> None:
        entry = self._entries.pop((tenant, key), None)
        if entry is None:
            return
        counters = self.counters(tenant)
        counters.entries -= 1
        counters.memory_bytes -= entry.size
        self.memory_bytes -= entry.size
        if evicted:
            counters.evictions += 1
        if entry.source is Source.PREFETCH:
            counters.prefetches_unused += 1

    def _make_room(self, size: int) -> None:
        while self._entries and self.memory_bytes + size > self.memory_budget_bytes:
            tenant, key = next(iter(self._entries))
            self._remove(tenant, key, evicted=True)


def _check_key(key: bytes) -> bytes:
    if not key:
        raise InvalidInput("key is empty; keys are 1 byte to 64 KiB")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidInput(f"key of {len(key)} bytes is longer than the maximum of {MAX_KEY_BYTES} bytes")
    return key
