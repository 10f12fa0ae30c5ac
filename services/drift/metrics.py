"""The drift service's metrics: the observer's own counts and its detectors' states (what
``GetStatus`` answers), read at each collection, and the alerts it raised
(``StreamObserver.alerts_raised``). The tenant-mix detector watches all tenants together: its
series have an empty ``tenant``. docs/metrics.md lists every name.
"""

from __future__ import annotations

from collections.abc import Callable

from predis.services.drift.observer import ObserverStatus, StreamObserver
from predis.services.drift.watch import Phase
from predis.services.runtime.metrics import Readings, ServiceMeters


def register_drift_metrics(meters: ServiceMeters, observer: StreamObserver) -> None:
    """Registers the drift service's instruments on ``meters``."""

    def from_status(read: Callable[[ObserverStatus], Readings]) -> Callable[[], Readings]:
        return lambda: read(observer.status())

    meters.counter(
        "predis.drift.events",
        "Access events observed, by tenant",
        "{event}",
        from_status(lambda s: [(t.events, {"tenant": t.tenant}) for t in s.tenants]),
    )
    meters.counter(
        "predis.drift.windows",
        "Quality windows (live gain and precision of one export batch) observed, by tenant",
        "{window}",
        from_status(lambda s: [(t.windows, {"tenant": t.tenant}) for t in s.tenants]),
    )
    meters.counter(
        "predis.drift.events_not_watched",
        "Access events of tenants beyond PREDIS_DRIFT_MAX_TENANTS (counted, not watched)",
        "{event}",
        lambda: [(observer.events_not_watched, {})],
    )
    meters.counter(
        "predis.drift.alerts",
        "Alerts raised, by tenant, detector, signal and severity",
        "{alert}",
        lambda: [
            (count, {"tenant": tenant, "detector": detector, "signal": signal, "severity": severity})
            for (tenant, detector, signal, severity), count in list(observer.alerts_raised.items())
        ],
    )
    meters.gauge(
        "predis.drift.phase",
        "1 for the phase a tenant's watch is in (warming_up, building_reference, watching), 0 for the others",
        "1",
        from_status(
            lambda s: [
                (1.0 if t.phase is phase else 0.0, {"tenant": t.tenant, "phase": phase.value})
                for t in s.tenants
                for phase in Phase
            ]
        ),
    )
    meters.gauge(
        "predis.drift.detector.drifted",
        "1 while a detector's signal is judged drifted (its alarm is raised and not re-armed), else 0",
        "1",
        from_status(
            lambda s: [(1.0 if d.drifted else 0.0, _detector(d.tenant, d.detector, d.signal)) for d in s.detectors]
        ),
    )
    meters.counter(
        "predis.drift.detector.detections",
        "Times a detector's test found a change (before the alarm gate judged it)",
        "{detection}",
        from_status(lambda s: [(d.detections, _detector(d.tenant, d.detector, d.signal)) for d in s.detectors]),
    )
    meters.gauge(
        "predis.drift.detector.effect",
        "A detector's latest effect size (KS: D; PSI: the PSI; chi-squared: Cohen's w; ADWIN: the change)",
        "1",
        from_status(
            lambda s: [
                (d.reading.effect, _detector(d.tenant, d.detector, d.signal))
                for d in s.detectors
                if d.reading is not None
            ]
        ),
    )
    meters.gauge(
        "predis.drift.detector.threshold",
        "The effect a detector must reach to alert (its reference's own windows plus the margin)",
        "1",
        from_status(lambda s: [(d.threshold, _detector(d.tenant, d.detector, d.signal)) for d in s.detectors]),
    )


def _detector(tenant: str, detector: str, signal: str) -> dict[str, str]:
    return {"tenant": tenant, "detector": detector, "signal": signal}
