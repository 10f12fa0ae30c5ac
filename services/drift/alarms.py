"""Alarm discipline: when the detectors' readings become an alert.

Drift detectors are notorious for false alarms, for three reasons this gate answers in turn: a
test on a large window finds tiny, harmless differences significant (so a verdict needs an effect
size too, each detector's ``min_effect``); many features tested at once will see one fluke among
them (so the p-values of one check round are adjusted together, Benjamini-Hochberg at ``q``, with
scipy.stats.false_discovery_control); and a drift that lasts is seen at every later check (so an
alert is a state transition, stable to drifted, at most one per feature every
``cooldown_events``). Readings without a p-value (ADWIN, which has its own bound) count on their
effect alone and stay out of the adjusted family.

Features that see one change from several sides (KS and PSI on reuse distance, inter-arrival
time and popularity rank all move when the traffic's shape does) can share a group: the group
is what turns drifted, so one change raises one alert, naming the feature whose effect is
furthest past its threshold and listing the others that agreed.
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
    """A feature (or group) turned drifted: ``reading`` crossed ``threshold`` (the effect the
    gate demanded), ``adjusted_p_value`` after the round's false discovery control (None without
    a p-value), at the tenant's ``at_event``-th event; ``agreeing``: the other features of its
    group that were drifted in the same round."""

    id: int
    tenant: str
    feature: str
    reading: Reading
    adjusted_p_value: float | None
    at_event: int
    threshold: float = 0.0
    agreeing: tuple[str, ...] = ()


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

    def judge(
        self,
        tenant: str,
        readings: Mapping[str, tuple[Reading, float]],
        at_event: int,
        groups: Mapping[str, str] | None = None,
        rearm: Mapping[str, float] | None = None,
    ) -> list[Alert]:
        """One check round of ``tenant``'s features: ``readings[feature] = (reading, min_effect)``;
        ``groups[feature]`` names the group a feature shares its state with (by default its own);
        ``rearm[feature]``: the effect a drifted feature must fall below before the group counts
        as back to normal (by default its min_effect), so that an effect wavering about its
        threshold is one change, not many. Returns the alerts this round raises (groups that
        turned drifted, out of cool-down)."""
        tested = [f for f, (r, _) in readings.items() if r.p_value is not None]
        adjusted: dict[str, float] = {}
        if len(tested) == 1:  # a family of one: the adjustment is the identity
            adjusted = {tested[0]: float(readings[tested[0]][0].p_value or 0.0)}
        elif tested:
            p = np.array([readings[f][0].p_value for f in tested], dtype=float)
            adjusted = dict(zip(tested, stats.false_discovery_control(p).tolist(), strict=True))
        members: dict[str, list[str]] = {}
        for feature in readings:
            members.setdefault(groups.get(feature, feature) if groups else feature, []).append(feature)
        alerts = []
        for group, features in members.items():
            drifted = [f for f in features if self._significant(readings[f], adjusted.get(f))]
            state = self._states.setdefault((tenant, group), _State())
            if not drifted:
                levels = rearm or {}
                if all(readings[f][0].effect < levels.get(f, readings[f][1]) for f in features):
                    state.drifted = False
                continue
            if state.drifted:
                continue  # the same change, seen again
            state.drifted = True
            if state.last_alert_at is not None and at_event - state.last_alert_at < self.cooldown_events:
                continue
            state.last_alert_at = at_event
            lead = max(drifted, key=lambda f: readings[f][0].effect - readings[f][1])
            reading, threshold = readings[lead]
            others = tuple(f for f in drifted if f != lead)
            alerts.append(
                Alert(next(self._ids), tenant, lead, reading, adjusted.get(lead), at_event, threshold, others)
            )
        return alerts

    def _significant(self, reading: tuple[Reading, float], adjusted_p: float | None) -> bool:
        r, min_effect = reading
        return r.effect >= min_effect and (adjusted_p is None or adjusted_p <= self.q)

    def is_drifted(self, tenant: str, group: str) -> bool:
        state = self._states.get((tenant, group))
        return state is not None and state.drifted

    def forget(self, tenant: str, group: str) -> None:
        """Starts ``group`` of ``tenant`` afresh (its reference was replaced): the next drift is a
        new change, cool-down included."""
        self._states.pop((tenant, group), None)
