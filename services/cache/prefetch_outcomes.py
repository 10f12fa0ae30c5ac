"""What became of every prefetch: one count, owned by the cache domain, that Stats, the reports to
the predictor and the quality windows sent to drift all read.

A prefetch is *issued* when its origin load is queued: by a Prefetch call (``CLIENT``), by a hint
when a hinted key is read (``HINT``), or by the learned loop, for the model's candidates and the
plugins' (``LOOP``). It is *loaded* when its value is stored as a prefetched entry. It then
settles exactly once, as one of:

- **used**: the first read of its loaded entry (a prefetch hit; later reads are ordinary hits);
- **late**: a read asked for the key while the prefetch was still loading and joined it: a right
  guess, too late to be a hit (the value is then stored as that read's);
- **wasted**: nobody read what it brought. Its entry left the cache unread (evicted, expired,
  deleted, overwritten or flushed), or it stored nothing (the origin had no value or failed, a
  write to the key came first, the engine declined the entry).

Until it settles a prefetch is pending (loading, or held unread), so at any time
``issued == used + late + wasted + pending``. Precision, as the predictor and drift compute it,
is ``(used + late) / (used + late + wasted)``; ``unused`` in the protos means wasted.

Plain Python, no gRPC, no asyncio.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

MAX_PENDING = 1 << 16  # per tenant; past it the oldest, unread that long, settle as wasted
MAX_SETTLED = 1 << 16  # labelled outcomes waiting for their issuer to take them


class PrefetchIssuer(Enum):
    CLIENT = "client"
    HINT = "hint"
    LOOP = "loop"


class PrefetchOutcome(Enum):
    USED = "used"
    LATE = "late"
    WASTED = "wasted"


@dataclass(eq=False)
class PendingPrefetch:
    """One issued prefetch, until it settles. ``label`` is the issuer's own note, given back with
    the outcome (the learned loop's: the model version and the threshold cohort)."""

    tenant: str
    key: bytes
    issuer: PrefetchIssuer
    label: object = None


@dataclass(frozen=True)
class SettledPrefetch:
    prefetch: PendingPrefetch
    outcome: PrefetchOutcome
    time_unix_nano: int


@dataclass
class OutcomeCounts:
    """Cumulative counts since start, in the module's meanings."""

    issued: int = 0
    loaded: int = 0
    used: int = 0
    late: int = 0
    wasted: int = 0

    @property
    def pending(self) -> int:
        return self.issued - self.used - self.late - self.wasted

    def add(self, other: OutcomeCounts) -> None:
        self.issued += other.issued
        self.loaded += other.loaded
        self.used += other.used
        self.late += other.late
        self.wasted += other.wasted


class PrefetchOutcomes:
    """The pending prefetches of every tenant (at most one per key: the latest issued) and the
    counts per tenant and issuer. The cache domain and its origin fills call it as things happen;
    an issuer that labels its prefetches takes their outcomes with :meth:`take_settled`."""

    def __init__(self, max_pending: int = MAX_PENDING, max_settled: int = MAX_SETTLED) -> None:
        self.max_pending = max_pending
        self._pending: dict[str, OrderedDict[bytes, PendingPrefetch]] = {}
        self._counts: dict[tuple[str, PrefetchIssuer], OutcomeCounts] = {}
        self._settled: deque[SettledPrefetch] = deque(maxlen=max_settled)

    # -- as things happen --------------------------------------------------------------------

    def issue(self, tenant: str, key: bytes, issuer: PrefetchIssuer) -> PendingPrefetch:
        """A prefetch of ``key`` was queued. An earlier one still pending for the key had left the
        cache unread (a key is prefetched only when it is neither cached nor loading)."""
        pending = self._pending.setdefault(tenant, OrderedDict())
        earlier = pending.get(key)
        if earlier is not None:
            self.settle(earlier, PrefetchOutcome.WASTED)
        prefetch = PendingPrefetch(tenant, key, issuer)
        pending[key] = prefetch
        self._count(tenant, issuer).issued += 1
        while len(pending) > self.max_pending:
            self.settle(next(iter(pending.values())), PrefetchOutcome.WASTED)
        return prefetch

    def loaded(self, prefetch: PendingPrefetch) -> None:
        """Its value was stored as a prefetched entry."""
        if self._is_pending(prefetch):
            self._count(prefetch.tenant, prefetch.issuer).loaded += 1

    def settle(self, prefetch: PendingPrefetch, outcome: PrefetchOutcome) -> bool:
        """Settles ``prefetch`` if it is still pending; answers whether it was."""
        if not self._is_pending(prefetch):
            return False
        del self._pending[prefetch.tenant][prefetch.key]
        counts = self._count(prefetch.tenant, prefetch.issuer)
        if outcome is PrefetchOutcome.USED:
            counts.used += 1
        elif outcome is PrefetchOutcome.LATE:
            counts.late += 1
        else:
            counts.wasted += 1
        if prefetch.label is not None:
            self._settled.append(SettledPrefetch(prefetch, outcome, time.time_ns()))
        return True

    def read_prefetched(self, tenant: str, keys: Iterable[bytes]) -> None:
        """Reads found these keys' prefetched entries: their first reads, so they were used."""
        pending = self._pending.get(tenant)
        if not pending:
            return
        for key in keys:
            prefetch = pending.get(key)
            if prefetch is not None:
                self.settle(prefetch, PrefetchOutcome.USED)

    def left_unread(self, tenant: str, keys: Iterable[bytes]) -> None:
        """These keys were written, deleted or filled anew: a prefetch still pending for one of
        them was never read."""
        pending = self._pending.get(tenant)
        if not pending:
            return
        for key in keys:
            prefetch = pending.get(key)
            if prefetch is not None:
                self.settle(prefetch, PrefetchOutcome.WASTED)

    def flushed(self, tenant: str) -> None:
        """Every pending prefetch of ``tenant`` went unread."""
        pending = self._pending.get(tenant)
        for prefetch in list(pending.values()) if pending else []:
            self.settle(prefetch, PrefetchOutcome.WASTED)

    # -- reading -----------------------------------------------------------------------------

    def counts(self, tenant: str, issuer: PrefetchIssuer | None = None) -> OutcomeCounts:
        """``tenant``'s counts, of one issuer or (None) of all."""
        if issuer is not None:
            return OutcomeCounts(**vars(self._counts.get((tenant, issuer), OutcomeCounts())))
        total = OutcomeCounts()
        for each in PrefetchIssuer:
            counts = self._counts.get((tenant, each))
            if counts is not None:
                total.add(counts)
        return total

    def oldest_pending(self, tenant: str, limit: int) -> list[PendingPrefetch]:
        pending = self._pending.get(tenant)
        if not pending:
            return []
        return [p for _, p in zip(range(limit), pending.values(), strict=False)]

    def has_pending(self, tenant: str) -> bool:
        return bool(self._pending.get(tenant))

    def tenants_pending(self) -> list[str]:
        return [tenant for tenant, pending in self._pending.items() if pending]

    def take_settled(self) -> list[SettledPrefetch]:
        """The outcomes of labelled prefetches settled since the last call, oldest first (at most
        ``max_settled``: older ones are dropped)."""
        settled = list(self._settled)
        self._settled.clear()
        return settled

    # -- internals ---------------------------------------------------------------------------

    def _is_pending(self, prefetch: PendingPrefetch) -> bool:
        pending = self._pending.get(prefetch.tenant)
        return pending is not None and pending.get(prefetch.key) is prefetch

    def _count(self, tenant: str, issuer: PrefetchIssuer) -> OutcomeCounts:
        counts = self._counts.get((tenant, issuer))
        if counts is None:
            counts = self._counts[(tenant, issuer)] = OutcomeCounts()
        return counts
