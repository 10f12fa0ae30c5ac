"""A circuit breaker in front of the origin, so that a dead or hung origin costs each caller
almost nothing instead of a full timeout.

Closed: every miss asks the origin. After ``failures_to_open`` failures in a row (errors or
timeouts), it opens: misses fail at once, without an origin call, for ``open_s`` seconds. Then one
trial call is let through (half-open): a success closes the breaker, a failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class OriginBreaker:
    failures_to_open: int = 5
    open_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False
    times_opened: int = field(default=0)

    def __post_init__(self) -> None:
        if self.failures_to_open < 1 or self.open_s <= 0:
            raise ValueError("the origin breaker needs failures_to_open >= 1 and open_s > 0")

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.open_s else "open"

    def allow(self) -> bool:
        """Whether an origin call may start now (a half-open breaker lets one trial through)."""
        if self.opened_at is None:
            return True
        if self.clock() - self.opened_at < self.open_s or self.trial_in_flight:
            return False
        self.trial_in_flight = True
        return True

    def record(self, success: bool) -> None:
        """The outcome of a call that :meth:`allow` let through."""
        self.trial_in_flight = False
        if success:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()
            self.times_opened += 1

    def refusal(self) -> str:
        left = max(0.0, self.open_s - (self.clock() - (self.opened_at or 0.0)))
        return (
            f"the origin failed {self.failures} times in a row, so misses skip it for {left:.1f}s more "
            "(PREDIS_ORIGIN_BREAKER_FAILURES, PREDIS_ORIGIN_BREAKER_OPEN_S); nothing was cached"
        )
