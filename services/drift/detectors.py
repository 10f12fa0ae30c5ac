"""Drift detectors with River's shape: ``update(x)`` one observation at a time, ``drift_detected``
after it, public settings, and a reset after a drift.

Three compare a sliding window of the live stream with a reference window (the champion model's
training window) every ``check_every`` observations, and report a p-value and an effect size so
that the alarm gate (``alarms.py``) can demand both and control false discoveries across them.
Each also compares a whole window at once (``compare``), vectorised, which is how the drift
service's tenant pipeline (``watch.py``) calls them:

- ``KolmogorovSmirnov``: the two-sample KS statistic D on a numeric feature (reuse distance,
  inter-arrival time, popularity rank), equal to scipy.stats.ks_2samp's, ties included; its
  p-value is the Kolmogorov distribution's (scipy.special.kolmogorov) at sqrt(n m / (n + m)) D,
  the large-sample form (scipy's own ``method="asymp"`` costs a millisecond a call); effect: D.
- ``PopulationStability``: PSI over quantile bins of the reference (bins the reference leaves
  empty are merged into a neighbour); its p-value is the chi-squared goodness of fit of the
  window's bin counts to the reference's shares; effect: the PSI.
- ``CategoryMix``: the chi-squared test of a categorical mix (tenant, hit/miss/prefetch-hit)
  against the reference's counts, as scipy.stats.chi2_contingency computes it without Yates'
  correction; effect: Cohen's w of the window's shares against the reference's (Cramér's V would
  shrink with the reference's size).

``Adwin`` watches a live label (gain, precision) with no reference: River's ADWIN, the
well-kept implementation of Bifet and Gavaldà's adaptive window, behind the same shape.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

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
    values = np.asarray(reference if isinstance(reference, np.ndarray) else list(reference), dtype=float)
    if len(values) < minimum or not np.isfinite(values).all():
        raise InvalidInput(f"{name}: the reference needs at least {minimum} finite values, got {len(values)}")
    return values


def _quantile_bins(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner edges at the reference's quantiles and its count in each bin. Ties (a feature with
    few distinct values) merge edges; a bin the reference leaves empty (below its smallest
    value, when that is an edge) is merged into its neighbour, so that every expected share is
    positive."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1))[1:-1])
    while True:
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        empty = np.flatnonzero(counts == 0)
        if not len(empty):
            return edges, counts
        edges = np.delete(edges, max(int(empty[0]) - 1, 0))


class KolmogorovSmirnov(_WindowTest):
    name = "ks"

    def __init__(self, reference: Iterable[float], window: Window = Window(), min_effect: float = 0.1) -> None:
        super().__init__(window, min_effect)
        self.reference = np.sort(_numeric_reference(self.name, reference, window.min_size))
        # The reference's distinct values and how many are at most each (a leading 0): its CDF.
        self._distinct, counts = np.unique(self.reference, return_counts=True)
        self._at_most = np.concatenate([[0], np.cumsum(counts)])

    def compare(self, window: np.ndarray) -> Reading:
        """The test of ``window`` (at least one value) against the reference."""
        values, counts = np.unique(np.asarray(window, dtype=float), return_counts=True)
        n, m = int(counts.sum()), len(self.reference)
        at_most = np.cumsum(counts)
        # Both empirical CDFs jump only at data points, and the window's is flat between its own
        # points: the supremum is at a window point, approached from the right or the left.
        right = self._at_most[np.searchsorted(self._distinct, values, "right")] / m - at_most / n
        left = self._at_most[np.searchsorted(self._distinct, values, "left")] / m - (at_most - counts) / n
        d = float(max(np.abs(right).max(), np.abs(left).max()))
        p = float(special.kolmogorov(math.sqrt(n * m / (n + m)) * d))
        return Reading(self.name, d, d, p, m, n)

    def _check(self) -> Reading:
        return self.compare(np.fromiter(self._values, dtype=float, count=len(self._values)))


class PopulationStability(_WindowTest):
    name = "psi"

    def __init__(
        self, reference: Iterable[float], bins: int = 10, window: Window = Window(), min_effect: float = 0.2
    ) -> None:
        super().__init__(window, min_effect)
        values = _numeric_reference(self.name, reference, window.min_size)
        if bins < 2:
            raise InvalidInput(f"psi: needs at least 2 bins, got {bins}")
        self.edges, counts = _quantile_bins(values, bins)
        self.expected = counts / counts.sum()
        self.reference_size = len(values)

    def compare(self, window: np.ndarray) -> Reading:
        """The test of ``window`` (at least one value) against the reference."""
        window = np.asarray(window, dtype=float)
        counts = np.bincount(np.searchsorted(self.edges, window, side="right"), minlength=len(self.expected))
        n = counts.sum()
        actual = counts / n
        # Empty bins would make the logarithm infinite: count them as half an observation.
        floor = 0.5 / n
        a, e = np.maximum(actual, floor), np.maximum(self.expected, floor)
        psi = float(np.sum((a - e) * np.log(a / e)))
        expected_counts = self.expected * n
        chi2 = float(np.sum((counts - expected_counts) ** 2 / expected_counts))
        p = float(special.chdtrc(len(counts) - 1, chi2)) if len(counts) > 1 else 1.0
        return Reading(self.name, psi, psi, p, self.reference_size, int(n))

    def _check(self) -> Reading:
        return self.compare(np.fromiter(self._values, dtype=float, count=len(self._values)))


class CategoryMix(_WindowTest):
    name = "chi2"

    def __init__(self, reference: Mapping[Hashable, int], window: Window = Window(), min_effect: float = 0.1) -> None:
        super().__init__(window, min_effect)
        if sum(reference.values()) < window.min_size or any(c < 0 for c in reference.values()):
            raise InvalidInput(
                f"chi2: the reference needs at least {window.min_size} observations in non-negative counts"
            )
        self.reference = dict(reference)

    def compare(self, current: Mapping[Hashable, int]) -> Reading:
        """The test of the window's counts by category against the reference's."""
        categories = sorted(set(self.reference) | set(current), key=repr)
        table = np.array(
            [[self.reference.get(c, 0) for c in categories], [current.get(c, 0) for c in categories]], dtype=float
        )
        table = table[:, table.sum(axis=0) > 0]
        sizes = table.sum(axis=1)
        if table.shape[1] < 2 or sizes[1] == 0:
            return Reading(self.name, 0.0, 0.0, 1.0, int(sizes[0]), int(sizes[1]))
        expected_counts = np.outer(sizes, table.sum(axis=0)) / sizes.sum()
        chi2 = float(np.sum((table - expected_counts) ** 2 / expected_counts))
        p = float(special.chdtrc(table.shape[1] - 1, chi2))
        expected, actual = table[0] / sizes[0], table[1] / sizes[1]
        w = math.sqrt(float(np.sum((actual - expected) ** 2 / np.maximum(expected, 0.5 / sizes[0]))))
        return Reading(self.name, chi2, w, p, int(sizes[0]), int(sizes[1]))

    def _check(self) -> Reading:
        return self.compare(collections.Counter(self._values))


class Adwin:
    """River's ADWIN over a live label (gain, precision): ``drift_detected`` when the window's
    older and newer parts differ in mean beyond the bound set by ``delta``.

    River does not say where the cut was; the reading reports the split of the window (as it was
    before the drift) that separates its means most significantly (largest difference over its
    standard error, each part at least ``min_window_length`` long, within the last
    ``keep_values``): its statistic is the newer part's mean, its effect the size of the
    difference, its sizes the two parts'; ``change`` is the signed difference (negative: the label
    fell)."""

    name = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
        keep_values: int = 4096,
    ) -> None:
        from river.drift import ADWIN

        if not 0 < delta < 1:
            raise InvalidInput(f"adwin: delta must be in (0, 1), got {delta}")
        self.delta = delta
        self.min_window_length = min_window_length
        self._adwin = ADWIN(
            delta=delta,
            clock=clock,
            max_buckets=max_buckets,
            min_window_length=min_window_length,
            grace_period=grace_period,
        )
        self._values: collections.deque[float] = collections.deque(maxlen=keep_values)
        self.reading: Reading | None = None
        self.change = 0.0

    @property
    def width(self) -> int:
        """Observations in the adaptive window."""
        return int(self._adwin.width)

    @property
    def estimation(self) -> float:
        """The mean of the adaptive window."""
        return float(self._adwin.estimation)

    @property
    def drift_detected(self) -> bool:
        return bool(self._adwin.drift_detected)

    def update(self, x: float) -> None:
        width_before = int(self._adwin.width)
        self._adwin.update(x)
        self._values.append(float(x))
        if self._adwin.drift_detected:
            self.reading, self.change = self._split(min(width_before + 1, len(self._values)))

    def _split(self, width: int) -> tuple[Reading, float]:
        values = np.fromiter(self._values, dtype=float, count=len(self._values))[-width:]
        m = self.min_window_length
        sizes = np.arange(m, len(values) - m + 1)  # values in the older part
        if not len(sizes):
            return Reading(self.name, self.estimation, 0.0, None, len(values), 0), 0.0
        sums = np.cumsum(values)
        old = sums[sizes - 1] / sizes
        new = (sums[-1] - sums[sizes - 1]) / (len(values) - sizes)
        spread = max(float(values.std()), 1e-12)
        score = np.abs(new - old) / (spread * np.sqrt(1 / sizes + 1 / (len(values) - sizes)))
        best = int(np.argmax(score))
        n_old = int(sizes[best])
        change = float(new[best] - old[best])
        return Reading(self.name, float(new[best]), abs(change), None, n_old, len(values) - n_old), change
