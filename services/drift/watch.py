"""One tenant's drift pipeline: access events -> signals -> reference-window tests -> alarm gate,
and the cache's quality windows -> ADWIN on live gain and prefetch precision -> alarm gate.

A tenant's stream goes through three phases. Warming up: its first ``warmup_events`` build the
signals' memory (at first every key is new, which no later window resembles) and are not kept.
Building the reference: the next ``reference_events`` become the reference window. Watching:
every ``check_every`` events the newest ``window_events`` are compared with it.

Real traffic is bursty: a window of 2,000 requests of cache2k-orm-busy strays from its own day by
a KS D of 0.4 in reuse distance. So each test is calibrated on the reference itself: its
threshold is the largest effect any window of the reference reaches against the whole reference,
plus a margin (``DriftSettings.ks_margin`` and the others). Traffic that a bursty reference
already contains does not alarm; traffic unlike any of it does.

Severity: the traffic-shape tests (KS and PSI on reuse distance, inter-arrival time, popularity
rank) are CRITICAL: the model was trained on traffic of another shape, and the retrainer acts on
them. ADWIN seeing live gain or precision fall is CRITICAL too: serving quality is dropping (what
automatic rollback watches). The rest are WARNING: the hit/miss/prefetch-hit mix moves with the
model as much as with the traffic, a tenant mix change makes no one tenant's model wrong, a rise in
a live label is good news, and a plugin's detector is the plugin's opinion.
"""

from __future__ import annotations

import collections
import enum
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from predis.services.drift.alarms import AlarmGate, Alert
from predis.services.drift.detectors import (
    Adwin,
    CategoryMix,
    KolmogorovSmirnov,
    PopulationStability,
    Reading,
    Window,
)
from predis.services.drift.history import SIGNALS, Samples, SignalHistory
from predis.services.drift.settings import DriftSettings
from predis.services.drift.signals import StreamSignals

log = logging.getLogger(__name__)

# A first request, or one beyond the signals' horizon, has no inter-arrival time: it counts as
# longer than any (2**62 ns is 146 years), as its reuse distance counts as the horizon.
BEYOND_NS = float(2**62)
KINDS = 4  # AccessKind values: unspecified, hit, miss, prefetch hit
LABELS = ("live_gain", "prefetch_precision")
TRAFFIC = "traffic"  # the group the traffic-shape tests share: one change, one alert
KIND_MIX = "kind_mix"
NULL_WINDOWS = 200  # reference windows a calibration looks at, at most
LABEL_TIMES = 4096  # window end times kept to date an ADWIN window's start

DetectorFactory = Callable[[str, np.ndarray], object]


class Phase(enum.Enum):
    WARMING_UP = "warming_up"
    BUILDING_REFERENCE = "building_reference"
    WATCHING = "watching"


class Severity(enum.Enum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class QualityWindow:
    """The cache's live quality over one export batch of one tenant: ``hits`` with prefetching,
    ``shadow_hits`` of the keys-only plain S3-FIFO shadow at the same capacity."""

    tenant: str
    reads: int
    hits: int
    shadow_hits: int
    prefetches_used: int
    prefetches_unused: int
    prefetches_late: int
    end_unix_nano: int

    @property
    def live_gain(self) -> float | None:
        return (self.hits - self.shadow_hits) / self.reads if self.reads else None

    @property
    def precision(self) -> float | None:
        right = self.prefetches_used + self.prefetches_late
        decided = right + self.prefetches_unused
        return right / decided if decided else None

    def problem(self) -> str | None:
        """What makes the window impossible, or None."""
        counts = (self.reads, self.hits, self.shadow_hits, self.prefetches_used, self.prefetches_unused)
        if min(*counts, self.prefetches_late) < 0:
            return "counts must not be negative"
        if self.hits > self.reads or self.shadow_hits > self.reads:
            return f"hits ({self.hits}) and shadow_hits ({self.shadow_hits}) cannot exceed reads ({self.reads})"
        return None


@dataclass(frozen=True)
class Finding:
    """An alert of the gate with what the tenant pipeline knows about it."""

    alert: Alert
    signal: str
    detector: str
    severity: Severity
    baseline: float  # the largest effect the reference's own windows reached (0 where none)
    change: float  # signed change of a live label's mean (ADWIN); 0 for the reference tests
    window_start_ns: int
    window_end_ns: int
    tenant_events: int


@dataclass(frozen=True)
class DetectorState:
    """One detector of one tenant, for GetStatus."""

    tenant: str
    detector: str
    signal: str
    phase: Phase
    observations: int
    detections: int
    reading: Reading | None
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class ResetOutcome:
    """What ResetReference did: ``reference_size`` samples in [from, to] became the reference,
    or (``waiting``) too few were retained and the next events become it."""

    reference_size: int
    waiting: bool
    reference_from_ns: int
    reference_to_ns: int
    retained_from_ns: int
    retained_to_ns: int


@dataclass(frozen=True)
class _Test:
    feature: str
    signal: str
    detector: str
    group: str
    compare: Callable[[Samples], Reading]
    baseline: float
    threshold: float


class Reference:
    """The reference window's tests, each with its threshold calibrated on the reference's own
    windows (see the module's docstring)."""

    def __init__(self, samples: Samples, settings: DriftSettings, with_kind_mix: bool = True) -> None:
        self.size = len(samples)
        self.from_ns, self.to_ns = int(samples.times.min()), int(samples.times.max())
        self.settings = settings
        w = settings.window_events
        self._window = Window(size=w, min_size=w, check_every=settings.check_every)
        compares: list[tuple[str, str, str, Callable[[Samples], Reading], float]] = []
        for signal in SIGNALS:
            ks = KolmogorovSmirnov(samples.values[signal], self._window, settings.ks_margin)
            psi = PopulationStability(samples.values[signal], window=self._window, min_effect=settings.psi_margin)
            compares.append((signal, "ks", TRAFFIC, _on_signal(ks.compare, signal), settings.ks_margin))
            compares.append((signal, "psi", TRAFFIC, _on_signal(psi.compare, signal), settings.psi_margin))
        self.tests: list[_Test] = []
        self.mix_from_ns, self.mix_size = 0, 0
        self._calibrate(samples, compares)
        if with_kind_mix:
            self.add_kind_mix(samples)

    def add_kind_mix(self, samples: Samples) -> None:
        """Adds (or replaces) the hit/miss/prefetch-hit mix test, with ``samples`` as its reference."""
        mix = CategoryMix(_kind_counts(samples.kinds), self._window, self.settings.mix_margin)
        self.mix_from_ns, self.mix_size = int(samples.times.min()), len(samples)
        self.tests = [t for t in self.tests if t.group != KIND_MIX]
        compare = (KIND_MIX, "chi2", KIND_MIX, lambda s: mix.compare(_kind_counts(s.kinds)), self.settings.mix_margin)
        self._calibrate(samples, [compare])

    @property
    def has_kind_mix(self) -> bool:
        return any(t.group == KIND_MIX for t in self.tests)

    def _calibrate(
        self, samples: Samples, compares: list[tuple[str, str, str, Callable[[Samples], Reading], float]]
    ) -> None:
        w = self.settings.window_events
        ends = _window_ends(len(samples), w, self.settings.check_every)
        for signal, detector, group, compare, margin in compares:
            baseline = max(compare(_slice(samples, end - w, end)).effect for end in ends)
            feature = f"{signal}:{detector}"
            self.tests.append(_Test(feature, signal, detector, group, compare, baseline, baseline + margin))

    def readings(self, window: Samples) -> dict[str, tuple[Reading, float]]:
        return {t.feature: (t.compare(window), t.threshold) for t in self.tests}


def _on_signal(compare: Callable[[np.ndarray], Reading], signal: str) -> Callable[[Samples], Reading]:
    return lambda s: compare(s.values[signal])


def _kind_counts(kinds: np.ndarray) -> dict[int, int]:
    counts = np.bincount(kinds.astype(np.int64), minlength=KINDS)
    return {k: int(c) for k, c in enumerate(counts.tolist()) if c}


def _window_ends(size: int, window: int, step: int) -> range:
    step = max(step, (size - window) // NULL_WINDOWS, 1)
    return range(window, size + 1, step)


def _slice(samples: Samples, start: int, end: int) -> Samples:
    return Samples(
        samples.times[start:end], {s: v[start:end] for s, v in samples.values.items()}, samples.kinds[start:end]
    )


@dataclass
class _Plugin:
    """A plugin's detector on one signal of one tenant, fed one value at a time."""

    name: str
    signal: str
    detector: object
    reference_size: int
    fired: Reading | None = None
    broken: bool = False

    @property
    def feature(self) -> str:
        return f"{self.signal}:{self.name}"

    def feed(self, values: np.ndarray) -> None:
        if self.broken:
            return
        try:
            for x in values.tolist():
                self.detector.update(x)  # type: ignore[attr-defined]
                if self.detector.drift_detected:  # type: ignore[attr-defined]
                    self.fired = self._reading(len(values))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the stream
            log.warning("drift detector plugin %s on %s failed and is switched off: %s", self.name, self.signal, exc)
            self.broken = True

    def _reading(self, window: int) -> Reading:
        reading = getattr(self.detector, "reading", None)
        if isinstance(reading, Reading):
            return reading
        return Reading(self.name, 1.0, 1.0, None, self.reference_size, window)

    def verdict(self) -> tuple[Reading, float]:
        """The last firing since the previous verdict (threshold 0: the plugin decided), or a quiet
        reading that no threshold is met by."""
        fired, self.fired = self.fired, None
        if fired is not None:
            return fired, 0.0
        return Reading(self.name, 0.0, 0.0, None, self.reference_size, 0), math.inf


def _plugins(factories: Mapping[str, DetectorFactory], signal: str, reference: np.ndarray) -> list[_Plugin]:
    made = []
    for name, factory in factories.items():
        try:
            detector = factory(signal, reference)
        except Exception as exc:  # noqa: BLE001
            log.warning("drift detector plugin %s refused %s: %s", name, signal, exc)
            continue
        if detector is None:
            continue
        if not callable(getattr(detector, "update", None)) or not hasattr(detector, "drift_detected"):
            log.warning("drift detector plugin %s made a detector without update(x) and drift_detected", name)
            continue
        made.append(_Plugin(name, signal, detector, len(reference)))
    return made


@dataclass
class _Label:
    adwin: Adwin
    end_times: collections.deque[int] = field(default_factory=lambda: collections.deque(maxlen=LABEL_TIMES))
    observations: int = 0


class TenantWatch:
    """The drift pipeline of one tenant. ``observe`` and ``observe_window`` return what the
    alarm gate raised."""

    def __init__(
        self,
        tenant: str,
        settings: DriftSettings,
        gate: AlarmGate,
        factories: Mapping[str, DetectorFactory] | None = None,
    ) -> None:
        self.tenant = tenant
        self.settings = settings
        self.gate = gate
        self.factories = dict(factories or {})
        self.signals = StreamSignals(settings.horizon)
        self.history = SignalHistory(settings.history_events)
        self.events = 0
        self.windows = 0
        self.outcomes = 0
        self.phase = Phase.WARMING_UP if settings.warmup_events else Phase.BUILDING_REFERENCE
        self.reference: Reference | None = None
        self._phase_events = 0  # events into the warm-up, or into building the reference
        self._watched = 0  # events since the reference was set
        self._since_check = 0
        self._readings: dict[str, tuple[Reading, float]] = {}
        self._detections: collections.Counter[str] = collections.Counter()
        self._quiet = 0  # events watched since the reference last changed or a reference test alerted
        self._mix_from: int | None = None  # tenant event count the kind mix's new reference starts at
        self._plugins: list[_Plugin] = []
        # One value a quality window: ADWIN checks at each, and its cool-down counts windows.
        self._labels = {label: _Label(Adwin(delta=settings.adwin_delta, clock=1)) for label in LABELS}
        self.label_gate = AlarmGate(q=settings.fdr_q, cooldown_events=settings.label_cooldown_windows)
        self._label_plugins = [p for label in LABELS for p in _plugins(self.factories, label, np.empty(0))]

    def observe(self, ids: np.ndarray, times: np.ndarray, kinds: np.ndarray) -> list[Finding]:
        """One batch of the tenant's accesses, in order: 64-bit key ids, event times (ns) and
        access kinds."""
        batch = self.signals.observe_ids(ids, times)
        values = {
            "reuse_distance": np.where(
                np.isnan(batch.reuse_distance), float(self.settings.horizon), batch.reuse_distance
            ),
            "inter_arrival": np.where(np.isnan(batch.inter_arrival_ns), BEYOND_NS, batch.inter_arrival_ns),
            "popularity_rank": batch.popularity_rank.astype(np.float64),
        }
        findings: list[Finding] = []
        n, pos = len(ids), 0
        while pos < n:
            take = min(n - pos, self._room())
            chunk = slice(pos, pos + take)
            pos += take
            self.events += take
            if self.phase is Phase.WARMING_UP:
                self._phase_events += take
                if self._phase_events == self.settings.warmup_events:
                    self.phase, self._phase_events = Phase.BUILDING_REFERENCE, 0
                continue
            self.history.append(times[chunk], {s: v[chunk] for s, v in values.items()}, kinds[chunk])
            if self.phase is Phase.BUILDING_REFERENCE:
                self._phase_events += take
                if self._phase_events >= self.settings.reference_events:
                    self._set_reference(self.history.newest(self.settings.reference_events))
                continue
            for plugin in self._plugins:
                plugin.feed(values[plugin.signal][chunk])
            self._watched += take
            self._quiet += take
            self._since_check += take
            if self._since_check >= self.settings.check_every:
                self._since_check = 0
                findings.extend(self._check())
                self._retake_kind_mix()
                self._grow_reference()
        return findings

    def _retake_kind_mix(self) -> None:
        """After a reset, the mix test's reference is the ``reference_events`` that followed it: the mix of hits,
        misses and prefetch hits moves with the model, and the champion's training window was
        served by the model before it."""
        if self._mix_from is None or self.reference is None:
            return
        since = self.events - self._mix_from
        if since >= self.settings.reference_events:
            self.reference.add_kind_mix(self.history.newest(since))
            self._mix_from = None

    def _grow_reference(self) -> None:
        """While the traffic stays within the reference's tests, the reference takes in what followed
        it, up to ``max_reference_events`` from its start: a short reference of bursty traffic
        holds too few of its bursts, and each later one it lacks would be a false alarm. It only
        grows from its start, so a slow drift cannot walk it away."""
        ref, settings = self.reference, self.settings
        if ref is None or self._quiet < settings.reference_events:
            return
        self._quiet = 0
        traffic, mix = self._grown(ref.from_ns, ref.size), None
        if ref.has_kind_mix:
            mix = self._grown(ref.mix_from_ns, ref.mix_size)
        if traffic is None and mix is None:
            return
        bigger = Reference(traffic, settings, with_kind_mix=False) if traffic is not None else ref
        if traffic is not None:  # the mix test's reference starts later than the traffic tests' after a reset
            bigger.tests.extend(t for t in ref.tests if t.group == KIND_MIX)
            bigger.mix_from_ns, bigger.mix_size = ref.mix_from_ns, ref.mix_size
        if mix is not None:
            bigger.add_kind_mix(mix)
        self.reference = bigger
        log.info("tenant %r: reference grown to %d events (mix %d)", self.tenant, bigger.size, bigger.mix_size)

    def _grown(self, from_ns: int, size: int) -> Samples | None:
        """The retained samples from ``from_ns`` on, up to ``max_reference_events``; None when they
        are no more than ``size``, or the history no longer holds the start."""
        cap = self.settings.max_reference_events
        if size >= cap or self.history.span()[0] > from_ns:
            return None
        grown = self.history.between(from_ns, self.history.span()[1])
        return _slice(grown, 0, min(len(grown), cap)) if len(grown) > size else None

    def _room(self) -> int:
        """Events until the next phase change or check."""
        if self.phase is Phase.WARMING_UP:
            return self.settings.warmup_events - self._phase_events
        if self.phase is Phase.BUILDING_REFERENCE:
            return self.settings.reference_events - self._phase_events
        return self.settings.check_every - self._since_check

    def _check(self) -> list[Finding]:
        if self.reference is None or self._watched < self.settings.window_events:
            return []
        window = self.history.newest(self.settings.window_events)
        readings = self.reference.readings(window)
        groups = {t.feature: t.group for t in self.reference.tests}
        # Back to normal once within what the reference's own windows show.
        rearm = {t.feature: t.baseline for t in self.reference.tests}
        for plugin in self._plugins:
            readings[plugin.feature] = plugin.verdict()
        self._readings.update(readings)
        alerts = self.gate.judge(self.tenant, readings, self.events, groups, rearm)
        if alerts or any(self.gate.is_drifted(self.tenant, g) for g in (TRAFFIC, KIND_MIX)):
            self._quiet = 0
        start, end = int(window.times.min()), int(window.times.max())
        return [self._finding(a, start, end) for a in alerts]

    def _finding(self, alert: Alert, start: int, end: int, change: float = 0.0) -> Finding:
        signal, _, detector = alert.feature.partition(":")
        self._detections[alert.feature] += 1
        test = next((t for t in self.reference.tests if t.feature == alert.feature), None) if self.reference else None
        if test is not None:
            severity = Severity.CRITICAL if test.group == TRAFFIC else Severity.WARNING
        elif signal in LABELS and detector == "adwin":
            severity = Severity.CRITICAL if change < 0 else Severity.WARNING
        else:
            severity = Severity.WARNING
        baseline = test.baseline if test is not None else 0.0
        return Finding(alert, signal, detector, severity, baseline, change, start, end, self.events)

    def observe_window(self, window: QualityWindow) -> list[Finding]:
        """One quality window of the tenant: one value of live gain and of precision each (when
        the window has reads, and decided prefetches) for ADWIN."""
        self.windows += 1
        readings: dict[str, tuple[Reading, float]] = {}
        changes: dict[str, float] = {}
        for label, value in (("live_gain", window.live_gain), ("prefetch_precision", window.precision)):
            if value is None:
                continue
            watch = self._labels[label]
            watch.adwin.update(value)
            watch.observations += 1
            watch.end_times.append(window.end_unix_nano)
            feature = f"{label}:adwin"
            if watch.adwin.drift_detected and watch.adwin.reading is not None:
                readings[feature] = (watch.adwin.reading, self.settings.label_min_effect)
                changes[feature] = watch.adwin.change
            else:
                width = watch.adwin.width
                quiet = Reading("adwin", watch.adwin.estimation, 0.0, None, width, width)
                readings[feature] = (quiet, self.settings.label_min_effect)
            for plugin in self._label_plugins:
                if plugin.signal == label:
                    plugin.feed(np.array([value]))
                    readings[plugin.feature] = plugin.verdict()
        self._readings.update(readings)
        findings = []
        for alert in self.label_gate.judge(self.tenant, readings, self.windows):
            label = alert.feature.partition(":")[0]
            times = (
                self._labels[label].end_times if label in self._labels else collections.deque([window.end_unix_nano])
            )
            width = max(1, alert.reading.window_size)
            start = times[-width] if width <= len(times) else times[0]
            findings.append(self._finding(alert, start, window.end_unix_nano, changes.get(alert.feature, 0.0)))
        return findings

    def _set_reference(self, samples: Samples, with_kind_mix: bool = True) -> None:
        self.reference = Reference(samples, self.settings, with_kind_mix)
        self.phase = Phase.WATCHING
        self._phase_events = self._watched = self._since_check = self._quiet = 0
        self._mix_from = None if with_kind_mix else self.events
        self._plugins = [p for s in SIGNALS for p in _plugins(self.factories, s, samples.values[s])]
        for feature in [*(t.feature for t in self.reference.tests), *(p.feature for p in self._plugins)]:
            self._readings.pop(feature, None)
        for group in {TRAFFIC, KIND_MIX, *(p.feature for p in self._plugins)}:
            self.gate.forget(self.tenant, group)

    def reset_reference(self, from_ns: int, to_ns: int) -> ResetOutcome:
        """Replaces the reference with the retained samples whose event times are in
        [from_ns, to_ns] (the new champion's training window); with fewer than
        ``min_reference_events`` of them, the next ``reference_events`` events become it. The
        hit/miss mix's reference is the next ``min_reference_events`` events (see
        ``_retake_kind_mix``). ADWIN's windows are kept: a fall of live quality after a promotion
        is what rollback watches."""
        retained = self.history.span()
        samples = self.history.between(from_ns, to_ns) if self.phase is not Phase.WARMING_UP else None
        if samples is not None and len(samples) >= self.settings.min_reference_events:
            self._set_reference(samples, with_kind_mix=False)
            assert self.reference is not None
            return ResetOutcome(len(samples), False, self.reference.from_ns, self.reference.to_ns, *retained)
        self.reference = None
        self._plugins = []
        if self.phase is not Phase.WARMING_UP:
            self.phase, self._phase_events = Phase.BUILDING_REFERENCE, 0
        return ResetOutcome(0, True, 0, 0, *retained)

    def detector_states(self) -> list[DetectorState]:
        def state(
            name: str, signal: str, feature: str, group: str, phase: Phase, seen: int, threshold: float, gate: AlarmGate
        ) -> DetectorState:
            reading = self._readings.get(feature, (None, 0.0))[0]
            drifted = gate.is_drifted(self.tenant, group)
            return DetectorState(
                self.tenant, name, signal, phase, seen, self._detections[feature], reading, threshold, drifted
            )

        if self.reference is not None:
            states = [
                state(t.detector, t.signal, t.feature, t.group, self.phase, self._watched, t.threshold, self.gate)
                for t in self.reference.tests
            ]
        else:
            pending = [(d, s) for s in SIGNALS for d in ("ks", "psi")] + [("chi2", "kind_mix")]
            states = [DetectorState(self.tenant, d, s, self.phase, 0, 0, None, 0.0, False) for d, s in pending]
        for label, watch in self._labels.items():
            feature = f"{label}:adwin"
            threshold = self.settings.label_min_effect
            states.append(
                state("adwin", label, feature, feature, Phase.WATCHING, watch.observations, threshold, self.label_gate)
            )
        for p in self._plugins:
            states.append(state(p.name, p.signal, p.feature, p.feature, self.phase, self._watched, 0.0, self.gate))
        for p in self._label_plugins:
            states.append(
                state(p.name, p.signal, p.feature, p.feature, Phase.WATCHING, self.windows, 0.0, self.label_gate)
            )
        return states


class TenantMixWatch:
    """The mix of tenants across the whole stream (chi-squared, Cohen's w), with a reference of
    the first ``reference_events`` events, calibrated like a tenant's tests. Its alerts name no
    tenant."""

    FEATURE = "tenant_mix:chi2"

    def __init__(self, settings: DriftSettings, gate: AlarmGate) -> None:
        self.settings = settings
        self.gate = gate
        self.events = 0
        self._codes: dict[str, int] = {}
        self._building: list[np.ndarray] = []
        self._built = 0
        self._window: collections.deque[tuple[np.ndarray, np.ndarray]] = collections.deque()
        self._window_len = 0
        self._since_check = 0
        self._watched = 0
        self.mix: CategoryMix | None = None
        self.threshold = 0.0
        self.baseline = 0.0
        self.reading: Reading | None = None
        self._detections = 0

    def code(self, tenant: str | None) -> int:
        """The tenant's category: its own for watched tenants, one shared by the rest (None)."""
        if tenant is None:
            return 0
        return self._codes.setdefault(tenant, len(self._codes) + 1)

    def observe(self, codes: np.ndarray, times: np.ndarray) -> list[Finding]:
        """A batch of events of any tenants: their categories (``code``) and times."""
        findings: list[Finding] = []
        n, pos = len(codes), 0
        while pos < n:
            if self.mix is None:
                take = min(n - pos, self.settings.reference_events - self._built)
                self._building.append(codes[pos : pos + take])
                self._built += take
                pos += take
                self.events += take
                if self._built == self.settings.reference_events:
                    self._set_reference(np.concatenate(self._building))
                continue
            take = min(n - pos, self.settings.check_every - self._since_check)
            self._push(codes[pos : pos + take], times[pos : pos + take])
            pos += take
            self.events += take
            self._watched += take
            self._since_check += take
            if self._since_check == self.settings.check_every:
                self._since_check = 0
                findings.extend(self._check())
        return findings

    def detector_state(self) -> DetectorState:
        phase = Phase.WATCHING if self.mix is not None else Phase.BUILDING_REFERENCE
        drifted = self.gate.is_drifted("", self.FEATURE)
        detections = self._detections
        return DetectorState(
            "", "chi2", "tenant_mix", phase, self._watched, detections, self.reading, self.threshold, drifted
        )

    def _push(self, codes: np.ndarray, times: np.ndarray) -> None:
        self._window.append((codes, times))
        self._window_len += len(codes)
        while self._window_len - len(self._window[0][0]) >= self.settings.window_events:
            self._window_len -= len(self._window.popleft()[0])

    def _set_reference(self, codes: np.ndarray) -> None:
        self._building = []
        w = self.settings.window_events
        self.mix = CategoryMix(_code_counts(codes), Window(size=w, min_size=w), self.settings.mix_margin)
        ends = _window_ends(len(codes), w, self.settings.check_every)
        self.baseline = max(self.mix.compare(_code_counts(codes[end - w : end])).effect for end in ends)
        self.threshold = self.baseline + self.settings.mix_margin

    def _check(self) -> list[Finding]:
        if self.mix is None or self._watched < self.settings.window_events:
            return []
        w = self.settings.window_events
        window = np.concatenate([c for c, _ in self._window])[-w:]
        times = np.concatenate([t for _, t in self._window])[-w:]
        self.reading = self.mix.compare(_code_counts(window))
        reading = {self.FEATURE: (self.reading, self.threshold)}
        alerts = self.gate.judge("", reading, self.events, rearm={self.FEATURE: self.baseline})
        start, end = int(times.min()), int(times.max())
        self._detections += len(alerts)
        return [
            Finding(a, "tenant_mix", "chi2", Severity.WARNING, self.baseline, 0.0, start, end, self.events)
            for a in alerts
        ]


def _code_counts(codes: np.ndarray) -> dict[int, int]:
    counts = np.bincount(codes)
    return {k: int(c) for k, c in enumerate(counts.tolist()) if c}
