"""Alarm discipline: when the detectors' readings become an alert.

Drift detectors are notorious for false alarms, for three reasons this gate answers in turn: a
test on a large window finds tiny, harmless differences significant (so a verdict needs an effect
size too, each detector's ``min_effect``); many features tested at once will see one fluke among
them (so the p-values of one check round are adjusted together, Benjamini-Hochberg at ``q``, with
scipy.stats.false_discovery_control); and a drift that lasts is seen at every later check (so an
alert is a state transition, stable to drifted, at most one per feature every
``cooldown_events``). Readings without a p-value (ADWIN, which has its own bound) count on their
effect alone and stay out of the adjusted family.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from predis.services.drift.detectors import Reading
from predis.services.runtime.errors import InvalidInput


@dataclass(frozen=True)
class Alert:
    id: int
    tenant: str
    feature: str
    reading: Reading
    adjusted_p_value: float | None
    at_event: int


@dataclass
class _State:
    drifted: bool = False
    last_alert_at: int | None = None


@dataclass
class AlarmGate:
    q: float = 0.05
    cooldown_events: int = 5000
    _states: dict[tuple[str, str], _State] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        if not 0 < self.q < 1 or self.cooldown_events < 0:
            raise InvalidInput(
                f"alarm gate: needs 0 < q < 1 ({self.q}) and cooldown_events >= 0 ({self.cooldown_events})"
            )

    def judge(self, tenant: str, readings: Mapping[str, tuple[Reading, float]], at_event: int) -> list[Alert]:
        """One check round of ``tenant``'s features: ``readings[feature] = (reading, min_effect)``.
        Returns the alerts this round raises (features that turned drifted, out of cool-down)."""
        tested = [f for f, (r, _) in readings.items() if r.p_value is not None]
        adjusted: dict[str, float] = {}
        if tested:
            p = np.array([readings[f][0].p_value for f in tested], dtype=float)
            adjusted = dict(zip(tested, stats.false_discovery_control(p).tolist(), strict=True))
        alerts = []
        for feature, (reading, min_effect) in readings.items():
            significant = reading.effect >= min_effect and (feature not in adjusted or adjusted[feature] <= self.q)
            state = self._states.setdefault((tenant, feature), _State())
            if not significant:
                state.drifted = False
                continue
            if state.drifted:
                continue  # the same change, seen again
            state.drifted = True
            if state.last_alert_at is not None and at_event - state.last_alert_at < self.cooldown_events:
                continue
            state.last_alert_at = at_event
            alerts.append(Alert(next(self._ids), tenant, feature, reading, adjusted.get(feature), at_event))
        return alerts
