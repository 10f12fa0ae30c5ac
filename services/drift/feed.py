"""Where alerts go once raised: every WatchAlerts subscriber's own bounded queue, and a bounded
list of recent alerts for GetStatus.

Publishing never waits for a subscriber: a subscriber that reads too slowly loses its oldest
alerts (counted in ``dropped``), so ingestion is never held up by a watcher. Publish and drain
from one thread (the server's event loop); ``waker`` is how a subscriber learns there is more.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class _HasTenant(Protocol):
    @property
    def tenant(self) -> str: ...


A = TypeVar("A", bound=_HasTenant)


class Subscription(Generic[A]):
    """One watcher's queue: alerts of ``tenant`` ("" for every tenant, and alerts naming none)."""

    def __init__(self, tenant: str, limit: int) -> None:
        self.tenant = tenant
        self.dropped = 0  # alerts lost to the bound since the last drain
        self.waker: Callable[[], None] | None = None
        self._queue: collections.deque[A] = collections.deque(maxlen=limit)

    def wants(self, alert: A) -> bool:
        return not self.tenant or alert.tenant == self.tenant

    def offer(self, alert: A) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(alert)
        if self.waker is not None:
            self.waker()

    def drain(self) -> tuple[list[A], int]:
        """The queued alerts, oldest first, and how many were dropped before them."""
        alerts, dropped = list(self._queue), self.dropped
        self._queue.clear()
        self.dropped = 0
        return alerts, dropped


class AlertFeed(Generic[A]):
    def __init__(self, queue_limit: int, recent_limit: int) -> None:
        self.queue_limit = queue_limit
        self._recent: collections.deque[A] = collections.deque(maxlen=recent_limit)
        self._subscriptions: list[Subscription[A]] = []

    def subscribe(self, tenant: str = "") -> Subscription[A]:
        subscription: Subscription[A] = Subscription(tenant, self.queue_limit)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[A]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def publish(self, alert: A) -> None:
        self._recent.append(alert)
        for subscription in self._subscriptions:
            if subscription.wants(alert):
                subscription.offer(alert)

    def recent(self, tenant: str = "") -> list[A]:
        """The recent alerts (of ``tenant``, or all), newest first."""
        return [a for a in reversed(self._recent) if not tenant or a.tenant == tenant]
