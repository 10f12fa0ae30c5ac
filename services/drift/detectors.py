"""Drift detectors with River's shape: ``update(x)`` one observation at a time, ``drift_detected``
after it, public settings, and a reset after a drift.

Three compare a sliding window of the live stream with a reference window (the champion model's
training window) every ``check_every`` observations, and report a p-value and an effect size so
that the alarm gate (``alarms.py``) can demand both and control false discoveries across them:

- ``KolmogorovSmirnov``: two-sample KS (scipy.stats.ks_2samp) on a numeric feature (reuse
  distance, inter-arrival time, popularity rank); effect: the statistic D.
- ``PopulationStability``: PSI over quantile bins of the reference; its p-value is the chi-squared
  goodness of fit of the window's bin counts to the reference's shares; effect: the PSI.
- ``CategoryMix``: chi-squared test of a categorical mix (tenant, hit/miss/prefetch-hit) against
  the reference's counts (scipy.stats.chi2_contingency); effect: Cohen's w of the window's shares
  against the reference's (Cramér's V would shrink with the reference's size).

``Adwin`` watches a live label (gain, precision) with no reference: River's ADWIN, the
well-kept implementation of Bifet and Gavaldà's adaptive window, behind the same shape.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from predis.services.runtime.errors import InvalidInput


@dataclass(frozen=True)
class Reading:
    """A detector's last check: its statistic, effect size, p-value (None where the test has none)
    and the sizes of the two windows compared."""

    detector: str
    statistic: float
    effect: float
    p_value: float | None
    reference_size: int
    window_size: int


@dataclass(frozen=True)
class Window:
    """How a reference-window test watches the stream: the last ``size`` observations, tested
    every ``check_every`` once at least ``min_size`` are in; alone, a detector calls a drift at
    p below ``alpha``."""

    size: int = 2000
    min_size: int = 500
    check_every: int = 250
    alpha: float = 0.01

    def __post_init__(self) -> None:
        if not 0 < self.min_size <= self.size or self.check_every < 1 or not 0 < self.alpha < 1:
            raise InvalidInput(
                f"detector window: needs 0 < min_size ({self.min_size}) <= size ({self.size}), "
                f"check_every >= 1 ({self.check_every}) and 0 < alpha < 1 ({self.alpha})"
            )


class _WindowTest:
    """Common part of the reference-window tests: the sliding window, the check cadence, and
    ``drift_detected`` for a detector used alone (p below ``alpha`` and effect at least
    ``min_effect``). ``reading`` is the last check, for the alarm gate."""

    name = "window test"

    def __init__(self, window: Window, min_effect: float) -> None:
        if min_effect < 0:
            raise InvalidInput(f"{self.name}: min_effect must be >= 0, got {min_effect}")
        self.window = window
        self.min_effect = min_effect
        self._values: collections.deque[object] = collections.deque(maxlen=window.size)
        self._since_check = 0
        self.reading: Reading | None = None
        self.drift_detected = False

    def update(self, x: object) -> None:
        if self.drift_detected:
            self._reset()
        self._values.append(x)
        self._since_check += 1
        if self._since_check < self.window.check_every or len(self._values) < self.window.min_size:
            return
        self._since_check = 0
        self.reading = self._check()
        p = self.reading.p_value
        self.drift_detected = p is not None and p < self.window.alpha and self.reading.effect >= self.min_effect

    def _reset(self) -> None:
        # After a drift the window starts afresh, as River's detectors do: the next verdict is
        # about traffic after the change.
        self._values.clear()
        self._since_check = 0
        self.drift_detected = False

    def _check(self) -> Reading:
        raise NotImplementedError


def _numeric_reference(name: str, reference: Iterable[float], minimum: int) -> np.ndarray:
    values = np.asarray(list(reference), dtype=float)
    if len(values) < minimum or not np.isfinite(values).all():
        raise InvalidInput(f"{name}: the reference needs at least {minimum} finite values, got {len(values)}")
    return values


class KolmogorovSmirnov(_WindowTest):
    name = "ks"

    def __init__(self, reference: Iterable[float], window: Window = Window(), min_effect: float = 0.1) -> None:
        super().__init__(window, min_effect)
        self.reference = _numeric_reference(self.name, reference, window.min_size)

    def _check(self) -> Reading:
        window = np.fromiter(self._values, dtype=float, count=len(self._values))
        result = stats.ks_2samp(self.reference, window)
        d = float(result.statistic)
        return Reading(self.name, d, d, float(result.pvalue), len(self.reference), len(window))


class PopulationStability(_WindowTest):
    name = "psi"

    def __init__(
        self, reference: Iterable[float], bins: int = 10, window: Window = Window(), min_effect: float = 0.2
    ) -> None:
        super().__init__(window, min_effect)
        values = _numeric_reference(self.name, reference, window.min_size)
        if bins < 2:
            raise InvalidInput(f"psi: needs at least 2 bins, got {bins}")
        # Quantile edges of the reference; ties (a feature with few distinct values) merge bins.
        self.edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1))[1:-1])
        counts = np.bincount(np.searchsorted(self.edges, values, side="right"), minlength=len(self.edges) + 1)
        self.expected = counts / counts.sum()
        self.reference_size = len(values)

    def _check(self) -> Reading:
        window = np.fromiter(self._values, dtype=float, count=len(self._values))
        counts = np.bincount(np.searchsorted(self.edges, window, side="right"), minlength=len(self.expected))
        actual = counts / counts.sum()
        # Empty bins would make the logarithm infinite: count them as half an observation.
        floor = 0.5 / len(window)
        a, e = np.maximum(actual, floor), np.maximum(self.expected, floor)
        psi = float(np.sum((a - e) * np.log(a / e)))
        p = float(stats.chisquare(counts, f_exp=self.expected * counts.sum()).pvalue)
        return Reading(self.name, psi, psi, p, self.reference_size, len(window))


class CategoryMix(_WindowTest):
    name = "chi2"

    def __init__(self, reference: Mapping[Hashable, int], window: Window = Window(), min_effect: float = 0.1) -> None:
        super().__init__(window, min_effect)
        if sum(reference.values()) < window.min_size or any(c < 0 for c in reference.values()):
            raise InvalidInput(
                f"chi2: the reference needs at least {window.min_size} observations in non-negative counts"
            )
        self.reference = dict(reference)

    def _check(self) -> Reading:
        current = collections.Counter(self._values)
        categories = sorted(set(self.reference) | set(current), key=repr)
        table = np.array([[self.reference.get(c, 0) for c in categories], [current.get(c, 0) for c in categories]])
        table = table[:, table.sum(axis=0) > 0]
        sizes = table.sum(axis=1)
        if table.shape[1] < 2:
            return Reading(self.name, 0.0, 0.0, 1.0, int(sizes[0]), int(sizes[1]))
        result = stats.chi2_contingency(table, correction=False)
        expected, actual = table[0] / sizes[0], table[1] / sizes[1]
        w = math.sqrt(float(np.sum((actual - expected) ** 2 / np.maximum(expected, 0.5 / sizes[0]))))
        return Reading(self.name, float(result.statistic), w, float(result.pvalue), int(sizes[0]), int(sizes[1]))


class Adwin:
    """River's ADWIN over a live label in [0, 1] (gain, precision): ``drift_detected`` when the
    window's older and newer parts differ in mean beyond the bound set by ``delta``. The reading's
    effect is the change of the window's mean across the drift."""

    name = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        from river.drift import ADWIN

        if not 0 < delta < 1:
            raise InvalidInput(f"adwin: delta must be in (0, 1), got {delta}")
        self.delta = delta
        self._adwin = ADWIN(
            delta=delta,
            clock=clock,
            max_buckets=max_buckets,
            min_window_length=min_window_length,
            grace_period=grace_period,
        )
        self.reading: Reading | None = None

    @property
    def drift_detected(self) -> bool:
        return bool(self._adwin.drift_detected)

    def update(self, x: float) -> None:
        before, width_before = self._adwin.estimation, self._adwin.width
        self._adwin.update(x)
        if self._adwin.drift_detected:
            after = self._adwin.estimation
            self.reading = Reading(
                self.name, after, abs(after - before), None, int(width_before), int(self._adwin.width)
            )
