"""The drift service's domain: what has been observed of the access stream and prefetch outcomes.

Plain Python, no gRPC. No drift detector is built yet in this version: the observer counts what
it receives, reports no detectors, and alert watching says it is not built.
"""

from __future__ import annotations

from dataclasses import dataclass

from predis.services.runtime.errors import NotBuilt


@dataclass
class StreamObserver:
    events_observed: int = 0
    outcomes_observed: int = 0

    def observe(self, events: int, outcomes: int) -> None:
        self.events_observed += events
        self.outcomes_observed += outcomes

    def watch_alerts(self) -> None:
        raise NotBuilt("drift detectors are not built yet in this version, so there are no alerts to watch")
