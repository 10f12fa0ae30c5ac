"""The learned prefetcher: a background loop that reads the access collector, proposes candidates
for every read, asks the predictor to score them, and prefetches the likely ones through the origin.

It is off the read path: GETs append to the collector ring and return; this loop catches up on its
own. When it falls too far behind it skips the oldest events (a prefetch for a read long past is
worth nothing). When the predictor is slow, down or has no model, reads go on exactly as without
a predictor (plain S3-FIFO), and the loop tries again after a back-off.

Decisions, per tenant:
- a candidate needs a probability of at least the tenant's threshold, which is tuned live so that
  the precision of settled prefetches (read before leaving the cache, or not) stays at the target;
- at most ``per_trigger`` candidates per read, never one already cached or being loaded;
- budgets: once the tenant's memory is full, prefetched entries nobody has read yet may hold at
  most ``memory_share`` of it (before that they only fill free memory), and prefetches may start
  at most ``origin_per_second`` origin fetches a second.
Prefetched entries enter S3-FIFO's small (probationary) queue, so an unused one leaves early.

The loop sees the cache only through the cache domain: its events, what is cached or loading, a
tenant's memory, and the prefetches it starts there. What became of them (used, late, wasted) is
counted by the domain's prefetch outcomes; the loop labels its own prefetches with the model
version and threshold cohort, takes their outcomes back each cycle, tunes the threshold on them
and reports them to the predictor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from opentelemetry import trace

from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.candidates import CandidateRows, CandidateStream
from predis.services.cache.engine.threshold import ThresholdTuner, TunerSettings
from predis.services.cache.key_ids import KeyIds
from predis.services.cache.prefetch_outcomes import PrefetchIssuer, PrefetchOutcome, SettledPrefetch

log = logging.getLogger(__name__)


class NoModel(Exception):
    """The predictor answers but has no model to score with."""


class ScorerUnavailable(Exception):
    """The predictor could not be reached, did not answer in time (``refused`` False), or
    answered with an error (``refused`` True: for example a model that takes other features)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class Outcome:
    tenant: str
    key: bytes
    used: bool
    model_version: str
    time_unix_nano: int
    late: bool = False  # read while still loading: a right guess, too late to be a hit


class Scorer(Protocol):
    """What the loop needs from the predictor (``predictor_link.PredictorLink`` over gRPC)."""

    async def score(
        self, tenant: str, triggers: Sequence[bytes], sizes: Sequence[int], features: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        """Probabilities per row for rows grouped by trigger (``sizes[i]`` rows after
        ``triggers[i]``) and the model version that scored each group, in one call; raises
        NoModel or ScorerUnavailable."""
        ...

    async def report(self, outcomes: Sequence[Outcome]) -> None: ...


@dataclass(frozen=True)
class PrefetchSettings:
    """
    Attributes:
        precision_target: share of learned prefetches that should be read before they leave.
        initial_threshold: the probability cut a tenant starts with.
        min_threshold: lowest cut the tuner may reach.
        per_trigger: most prefetches one read may start.
        memory_share: most of a tenant's memory that unread prefetched entries may hold.
        origin_per_second: most origin fetches prefetching may start per second.
        max_lag_events: events the loop may fall behind before it skips the oldest.
        concurrency: Predict calls in flight at once (each scores up to 256 reads' candidates).
        score_timeout_s: deadline of one Predict call.
        table_rows: rows of each tenant's successor and key tables (bounded memory).
    """

    precision_target: float = TunerSettings.target
    initial_threshold: float = 0.5
    min_threshold: float = 0.05
    per_trigger: int = 2
    memory_share: float = 0.2
    origin_per_second: float = 1000.0
    max_lag_events: int = 4096
    concurrency: int = 32
    score_timeout_s: float = 0.25
    table_rows: int = 1 << 16

    @property
    def tuning(self) -> TunerSettings:
        """The live threshold's settings (engine/threshold.py validates them)."""
        return TunerSettings(target=self.precision_target, lowest=self.min_threshold)

    def __post_init__(self) -> None:
        if not 0.0 < self.min_threshold <= self.initial_threshold < 1.0:
            raise ValueError("thresholds must satisfy 0 < min <= initial < 1")
        _ = self.tuning  # raises for a target the live tuner cannot take
        if not 0.0 <= self.memory_share <= 1.0:
            raise ValueError("the memory share must be between 0 and 1")
        if self.per_trigger < 1 or self.max_lag_events < 1 or self.concurrency < 1 or self.table_rows < 1:
            raise ValueError("per_trigger, max_lag_events, concurrency and table_rows must be positive")
        if self.origin_per_second <= 0 or self.score_timeout_s <= 0:
            raise ValueError("the origin rate and the score timeout must be positive")


class RateBudget:
    """A token bucket: ``rate`` tokens a second, at most one second's worth saved up."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = time.monotonic()

    def take(self, wanted: int) -> int:
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted


@dataclass
class TenantPrefetch:
    """One tenant's candidate state, threshold and the loop's own counters (the outcomes of its
    prefetches are the domain's: ``CacheDomain.prefetch_outcomes``)."""

    ids: KeyIds
    stream: CandidateStream
    tuner: ThresholdTuner
    candidates_scored: int = 0
    held_back_memory: int = 0
    held_back_rate: int = 0


@dataclass(frozen=True)
class LoopLabel:
    """What the loop notes on each prefetch it starts, to judge it when it settles."""

    model_version: str  # empty for a plugin's candidate: not the model's, never moves the threshold
    cohort: int  # the tuner cohort it was enrolled in, or -1


REPORT_EVERY_S = 0.5
IDLE_WAKE_S = 0.5
GROUPS_PER_CALL = 256  # triggers scored per Predict call
FULL = 0.95  # a tenant this close to its memory limit is full: prefetches now displace entries


class Prefetcher:
    """The loop over ``cache``'s events (it needs the collector on), woken by every read."""

    def __init__(
        self,
        cache: CacheDomain,
        scorer: Scorer,
        settings: PrefetchSettings,
        tracer_provider: trace.TracerProvider | None = None,
        app_candidates: Callable[[str, bytes], list[bytes]] | None = None,
    ) -> None:
        self.cache, self.scorer, self.settings = cache, scorer, settings
        # Plugins' application candidates (predis_prefetch_candidates): prefetched as given.
        self.app_candidates = app_candidates
        # One span per scoring cycle holds that cycle's Predict calls (not one trace per call). It
        # continues the trace of the first traced read that woke it (per tenant), so that a read's
        # trace shows the prefetching it set off: SDK -> cache -> predictor.
        self._tracer = (tracer_provider or trace.NoOpTracerProvider()).get_tracer(__name__)
        self._woken_by: dict[int, trace.SpanContext] = {}
        self.tenants: dict[str, TenantPrefetch] = {}
        self.state = "waiting for reads"
        self.events_skipped = 0
        self._cursor = cache.event_cursor()
        self._wake = asyncio.Event()
        self._paused_until = 0.0
        self._backoff_s = 0.0
        self._rate = RateBudget(settings.origin_per_second)
        self._outcomes: list[Outcome] = []
        self._reported_at = time.monotonic()
        cache.on_read_of(self._woken)

    def notify(self) -> None:
        """There are new events to look at: the next cycle starts now."""
        if not self._wake.is_set():
            self._wake.set()

    def _woken(self, tenant: int) -> None:
        if tenant not in self._woken_by:
            read = trace.get_current_span().get_span_context()
            if read.is_valid:
                self._woken_by[tenant] = read
        self.notify()

    def tenant(self, name: str) -> TenantPrefetch:
        state = self.tenants.get(name)
        if state is None:
            s = self.settings
            state = self.tenants[name] = TenantPrefetch(
                KeyIds(4 * s.table_rows),
                CandidateStream(s.table_rows // 2),
                ThresholdTuner(s.tuning, s.initial_threshold),
            )
        return state

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # wake anyway now and then: settle, report, retry
                await asyncio.wait_for(self._wake.wait(), IDLE_WAKE_S)
            self._wake.clear()
            try:
                await self.cycle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad cycle
                log.exception("a prefetch cycle failed; the loop goes on")

    async def cycle(self) -> None:
        """Handles the events read since the last cycle: outcomes, candidates, scores, prefetches."""
        woken_by, self._woken_by = self._woken_by, {}
        head = self.cache.event_cursor()
        if head - self._cursor > self.settings.max_lag_events:
            self.events_skipped += head - self._cursor - self.settings.max_lag_events
            self._cursor = head - self.settings.max_lag_events
        batch, self._cursor = self.cache.read_events(self._cursor, self.settings.max_lag_events)
        self.events_skipped += batch.dropped
        by_tenant: dict[int, list[int]] = {}
        for i, t in enumerate(batch.tenants.tolist()):
            by_tenant.setdefault(t, []).append(i)
        for t, rows in by_tenant.items():
            name = self.cache.tenant_name(t)
            keys = [batch.keys[i] for i in rows]
            state = self.tenant(name)
            self.cache.settle_departed_prefetches(name)
            if self.app_candidates is not None:
                self._prefetch_app_candidates(name, state, keys)
            ids = np.fromiter((state.ids.id_of(k) for k in keys), dtype=np.uint64, count=len(keys))
            start = state.stream.position
            candidates = state.stream.rows(ids)  # always: keeps the statistics current
            if time.monotonic() >= self._paused_until:
                state.tuner.reads(len(keys))
            if time.monotonic() >= self._paused_until and len(candidates.request):
                read = woken_by.get(t)
                parent = trace.set_span_in_context(trace.NonRecordingSpan(read)) if read is not None else None
                attributes = {"predis.tenant": name, "predis.key_count": len(keys)}
                with self._tracer.start_as_current_span("prefetch cycle", parent, attributes=attributes) as span:
                    decision = await self._score_and_prefetch(name, state, keys, start, candidates)
                    span.set_attributes(
                        {
                            "predis.prefetch.decision": decision,
                            "predis.prefetch.threshold": float(state.tuner.threshold),
                        }
                    )
        self._judge(self.cache.prefetch_outcomes.take_settled())
        await self._report()

    # -- outcomes ----------------------------------------------------------------------------

    def _judge(self, settled: list[SettledPrefetch]) -> None:
        """The loop's settled prefetches: the model's tune the threshold; all are reported."""
        for s in settled:
            label = s.prefetch.label
            if not isinstance(label, LoopLabel):
                continue
            right = s.outcome is not PrefetchOutcome.WASTED  # a late one was right: loads cannot be faster
            if label.model_version:
                self.tenant(s.prefetch.tenant).tuner.record(right, label.cohort)
            self._outcomes.append(
                Outcome(
                    s.prefetch.tenant,
                    s.prefetch.key,
                    s.outcome is PrefetchOutcome.USED,
                    label.model_version,
                    s.time_unix_nano,
                    s.outcome is PrefetchOutcome.LATE,
                )
            )

    async def _report(self) -> None:
        if not self._outcomes or time.monotonic() - self._reported_at < REPORT_EVERY_S:
            return
        outcomes, self._outcomes = self._outcomes, []
        self._reported_at = time.monotonic()
        try:
            await self.scorer.report(outcomes)
        except ScorerUnavailable as error:  # per-version precision is best effort
            log.info("could not report %d prefetch outcomes: %s", len(outcomes), error)

    # -- decisions ---------------------------------------------------------------------------

    async def _score_and_prefetch(
        self, name: str, state: TenantPrefetch, keys: list[bytes], start: int, candidates: CandidateRows
    ) -> str:
        """Scores the candidates of ``keys`` and starts the likely ones; returns what it decided, in
        words a person searching traces would use (``prefetched``, ``below threshold``, ...)."""
        proposed = [state.ids.key_of(int(c)) for c in candidates.candidate.tolist()]
        known = np.array([p is not None for p in proposed], dtype=np.bool_)
        if not known.any():
            return "no candidates"
        picked = np.flatnonzero(known)
        present = self.cache.cached(name, [proposed[i] for i in picked])  # type: ignore[misc]
        picked = picked[~present]
        if not len(picked):
            return "all cached"
        if self._memory_full(name):
            state.held_back_memory += len(picked)
            return "held back: memory share"
        triggers = candidates.request[picked] - start
        groups = np.split(picked, np.flatnonzero(np.diff(triggers)) + 1)
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def score(chunk: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, str]]:
            # One Predict call for many triggers: the predictor routes each group by its trigger.
            async with limit:
                rows = np.concatenate(chunk)
                trigger_keys = [keys[int(candidates.request[g[0]] - start)] for g in chunk]
                probabilities, versions = await self.scorer.score(
                    name, trigger_keys, [len(g) for g in chunk], candidates.features[rows]
                )
            out, at = [], 0
            for g, version in zip(chunk, versions, strict=True):
                out.append((g, probabilities[at : at + len(g)], version))
                at += len(g)
            return out

        chunks = [groups[i : i + GROUPS_PER_CALL] for i in range(0, len(groups), GROUPS_PER_CALL)]
        results = await asyncio.gather(*(score(c) for c in chunks), return_exceptions=True)
        scored = [group for r in results if not isinstance(r, BaseException) for group in r]
        unreachable = [r for r in results if isinstance(r, ScorerUnavailable)]
        decision = ""
        if unreachable:
            self._backoff_s = min(10.0, max(0.5, 2 * self._backoff_s))
            decision = "predictor refused the call" if unreachable[0].refused else "predictor unreachable"
            self._pause(f"{decision}: {unreachable[0]}", self._backoff_s)
        elif any(isinstance(r, NoModel) for r in results):
            decision = "no model loaded"
            self._pause(decision, 1.0)
        else:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
            self.state, self._backoff_s = "active", 0.0
        wanted_count = started = 0
        for rows, probabilities, version in scored:
            state.candidates_scored += len(rows)
            wanted = self._choose(name, state, rows, probabilities, proposed)
            if wanted:
                wanted_count += len(wanted)
                started += self._start(name, state, wanted, version)
        span = trace.get_current_span()
        span.set_attributes(
            {"predis.prefetch.candidates": sum(len(rows) for rows, _, _ in scored), "predis.prefetch.started": started}
        )
        if scored:  # the versions that answered (a tenant's traffic may be split between two)
            span.set_attribute("predis.model.version", ",".join(sorted({version for _, _, version in scored})))
        if decision:
            return decision
        if started:
            return "prefetched"
        # wanted but none started: over a budget (origin rate, the tenant's prefetch rate, the queue) or in flight
        return "none started" if wanted_count else "below threshold"

    def _choose(
        self,
        name: str,
        state: TenantPrefetch,
        rows: np.ndarray,
        probabilities: np.ndarray,
        proposed: list[bytes | None],
    ) -> list[bytes]:
        order = np.argsort(-probabilities, kind="stable")
        chosen: list[bytes] = []
        for j in order.tolist():
            if probabilities[j] < state.tuner.threshold or len(chosen) == self.settings.per_trigger:
                break
            key = proposed[int(rows[j])]
            if key is not None and key not in chosen and not self.cache.is_loading(name, key):
                chosen.append(key)
        return chosen

    def _prefetch_app_candidates(self, name: str, state: TenantPrefetch, keys: list[bytes]) -> None:
        assert self.app_candidates is not None
        proposed = list(dict.fromkeys(c for key in keys for c in self.app_candidates(name, key)))
        if not proposed:
            return
        # Only what would really start counts against the budgets.
        cached = self.cache.cached(name, proposed)
        wanted = [
            c
            for c, here in zip(proposed, cached.tolist(), strict=True)
            if not here and not self.cache.is_loading(name, c)
        ]
        if not wanted:
            return
        if self._memory_full(name):
            state.held_back_memory += len(wanted)
            return
        # Not the model's: reported with no version, and never moving the model's threshold.
        self._start(name, state, wanted, "", cohort=-1)

    def _start(
        self, name: str, state: TenantPrefetch, wanted: list[bytes], version: str, cohort: int | None = None
    ) -> int:
        """Starts prefetches within the origin budget; ``cohort`` None enrolls them in the tuner's.
        Returns how many started."""
        granted = self._rate.take(len(wanted))
        state.held_back_rate += len(wanted) - granted
        started = self.cache.start_prefetches(name, wanted[:granted], PrefetchIssuer.LOOP)
        for prefetch in started:
            prefetch.label = LoopLabel(version, state.tuner.enroll() if cohort is None else cohort)
        return len(started)

    def _memory_full(self, name: str) -> bool:
        """Whether unread prefetches hold their share of a full tenant. While the tenant (and the
        cache) still have free memory, prefetches only fill what is free: they are not capped."""
        m = self.cache.memory(name)
        full = m.used_bytes >= FULL * m.capacity_bytes or m.cache_used_bytes >= FULL * m.cache_budget_bytes
        return full and m.unread_prefetch_bytes >= self.settings.memory_share * m.capacity_bytes

    def _pause(self, state: str, seconds: float) -> None:
        if state != self.state:
            log.info("prefetching paused for %.1fs: %s", seconds, state)
        self.state = state
        self._paused_until = time.monotonic() + seconds
