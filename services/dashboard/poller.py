"""The dashboard's domain: read the suite every few seconds and keep what it said.

One poll asks the drift service which tenants it has seen (the cache has no call that lists its
tenants; drift sees every tenant in the cache's access stream) and its recent alerts, the
predictor which model versions it serves and how each does, the retrainer for its jobs, and the
cache for each tenant's ``Stats``; with a cache metrics URL it also scrapes the cache's
``/metrics`` once for the GET latency histogram (``cache_latency.py``). A service that does not
answer is marked so and the rest of the poll goes on; a tenant whose ``Stats`` failed gets no
sample that round (a gap in its charts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from predis.errors import NotFoundError, PredisError
from predis.services.dashboard.cache_latency import (
    CacheLatencyTracker,
    IntervalLatency,
    ScrapeError,
    parse_get_buckets,
)
from predis.services.dashboard.history import History, TenantSample, chart_columns
from predis.v1 import cache_pb2, common_pb2, drift_pb2, predictor_pb2, retrainer_pb2

log = logging.getLogger(__name__)
T = TypeVar("T")
SERVICES = ("cache", "predictor", "drift", "retrainer")
CACHE_METRICS = "cache metrics"  # the cache's /metrics page, a source of its own on the page
DEFAULT_TENANT = "default"  # what a call naming no tenant acts for (common.proto)
JOBS_LISTED = 100


class SuiteReader(Protocol):
    """The calls the dashboard makes; ``sdk_reader.SdkSuiteReader`` makes them through the SDK."""

    async def stats(self, tenant: str) -> cache_pb2.StatsResponse: ...

    async def models(self) -> list[predictor_pb2.ModelInfo]: ...

    async def model_status(self, version: str) -> predictor_pb2.GetModelStatusResponse: ...

    async def drift_status(self, tenant: str) -> drift_pb2.GetStatusResponse: ...

    async def jobs(self, limit: int) -> list[retrainer_pb2.Job]: ...

    async def close(self) -> None: ...


class TextPage(Protocol):
    """A Prometheus text page; ``cache_latency.MetricsPage`` reads one over HTTP."""

    url: str

    async def read(self) -> str: ...

    async def close(self) -> None: ...


@dataclass
class ServiceState:
    """Whether a service answered the last call the dashboard made to it."""

    ok: bool = False
    error: str = "not asked yet"
    checked_s: float = 0.0


@dataclass
class TenantEvents:
    """What is not a time series: a tenant's recent drift alerts (newest first) and detectors."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    phase: str = ""
    events_observed: int = 0


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return str(value)


def _seconds(unix_nano: int) -> float | None:
    return unix_nano / 1e9 if unix_nano else None


def alert_row(alert: drift_pb2.Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "time_s": _seconds(alert.time_unix_nano),
        "tenant": alert.tenant or DEFAULT_TENANT,
        "detector": alert.detector,
        "signal": alert.signal,
        "severity": _enum_name(drift_pb2.AlertSeverity, alert.severity, "ALERT_SEVERITY_"),
        "statistic": alert.statistic,
        "effect_size": alert.effect_size,
        "threshold": alert.threshold,
        "message": alert.message,
    }


def model_row(model: predictor_pb2.ModelInfo, status: predictor_pb2.GetModelStatusResponse | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "version": model.version,
        "role": _enum_name(common_pb2.ModelRole, model.role, "MODEL_ROLE_"),
        "traffic_weight": model.traffic_weight,
        "scope": model.tenant,  # "" is the global scope
        "loaded_s": _seconds(model.loaded_unix_nano),
        "execution_provider": model.execution_provider,
    }
    if status is not None:
        row |= {
            "requests": status.requests,
            "rows": status.rows,
            "latency_p50_us": status.latency_p50_us,
            "latency_p99_us": status.latency_p99_us,
            "prefetches_used": status.prefetches_used,
            "prefetches_unused": status.prefetches_unused,
            "prefetches_late": status.prefetches_late,
            "precision": status.precision,
        }
    return row


def job_row(job: retrainer_pb2.Job) -> dict[str, Any]:
    v = job.validation
    return {
        "id": job.id,
        "state": _enum_name(retrainer_pb2.JobState, job.state, "JOB_STATE_"),
        "trigger": _enum_name(retrainer_pb2.TriggerKind, job.trigger, "TRIGGER_KIND_"),
        "scope": job.tenant,
        "requested_tenant": job.requested_tenant,
        "reason": job.reason,
        "candidate_version": job.candidate_version,
        "parent_version": job.parent_version,
        "created_s": _seconds(job.created_unix_nano),
        "finished_s": _seconds(job.finished_unix_nano),
        "note": job.note,
        "error": job.error,
        "previous_champion": job.promotion.previous_champion,
        "validation": {
            "requests": v.requests,
            "hit_ratio_difference": v.hit_ratio_difference,
            "ci_low": v.ci_low,
            "ci_high": v.ci_high,
            "passed": v.passed,
            "reason": v.reason,
        }
        if job.HasField("validation")
        else None,
    }


def serving_model(models: Sequence[dict[str, Any]], tenant: str) -> dict[str, Any] | None:
    """The champion that answers ``tenant``: its own scope's, else the global scope's."""
    champions = {m["scope"]: m for m in models if m["role"] == "champion"}
    return champions.get(tenant) or champions.get("")


def sample_of(
    stats: cache_pb2.StatsResponse,
    time_s: float,
    serving: dict[str, Any] | None,
    reads: IntervalLatency | None = None,
) -> TenantSample:
    t, q, p = stats.tenant, stats.quality, stats.prefetcher
    return TenantSample(
        time_s=time_s,
        hits=t.hits,
        misses=t.misses,
        entries=t.entries,
        memory_bytes=t.memory_bytes,
        evictions=t.evictions,
        prefetches=t.prefetches,
        prefetches_used=t.prefetches_used,
        prefetches_unused=t.prefetches_unused,
        origin_fetches=t.origin_fetches,
        origin_errors=t.origin_errors,
        quality_enabled=q.enabled,
        quality_reads=q.reads,
        quality_hits=q.hits,
        shadow_hits=q.shadow_hits,
        sample_rate=q.sample_rate if q.enabled else 0.0,
        prefetcher_enabled=p.enabled,
        prefetcher_state=p.state,
        precision_target=p.precision_target,
        recent_precision=p.recent_precision,
        learned_settled=p.prefetches_used + p.prefetches_unused + p.prefetches_late,
        unread_prefetch_bytes=p.unread_prefetch_bytes,
        backend=stats.engine.backend,
        serving_version=serving["version"] if serving else "",
        serving_provider=serving["execution_provider"] if serving else "",
        latency_p50_us=serving.get("latency_p50_us") if serving else None,
        latency_p99_us=serving.get("latency_p99_us") if serving else None,
        gets_timed=reads.gets if reads else None,
        get_p50_us=reads.p50_us if reads else None,
        get_p99_us=reads.p99_us if reads else None,
    )


class SuitePoller:
    """Polls the suite through ``reader`` every ``interval_s`` into ``history``.

    ``tenants`` are always polled; with ``discover`` the tenants drift reports are added, up to
    ``max_tenants`` in all. ``cache_metrics``: the cache's Prometheus page, for read latency
    (None: none is charted). ``clock`` gives seconds since the Unix epoch (tests pass their own).
    """

    def __init__(
        self,
        reader: SuiteReader,
        history: History,
        tenants: Sequence[str],
        *,
        interval_s: float = 5.0,
        discover: bool = True,
        max_tenants: int = 32,
        cache_metrics: TextPage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reader = reader
        self.history = history
        self.configured = tuple(tenants)
        self.interval_s = interval_s
        self.discover = discover
        self.max_tenants = max_tenants
        self.clock = clock
        self.services = {name: ServiceState() for name in SERVICES}
        self.cache_metrics = cache_metrics
        if cache_metrics is not None:
            self.services[CACHE_METRICS] = ServiceState()
        self._read_latency = CacheLatencyTracker()
        self.discovered: list[str] = []
        self.tenants_left_out = 0
        self.models: list[dict[str, Any]] = []  # as the predictor last answered
        self._models_fresh = False  # it answered this round: its latency may go into samples
        self.jobs: list[dict[str, Any]] = []
        self.events: dict[str, TenantEvents] = {}
        self.polls = 0
        self.last_poll_s: float | None = None

    @property
    def tenants(self) -> list[str]:
        """The tenants polled: the named ones, then those drift reported, up to ``max_tenants``."""
        found = [t for t in self.discovered if t not in self.configured]
        room = max(0, self.max_tenants - len(self.configured))
        return [*self.configured, *found[:room]]

    async def _ask(self, service: str, call: Awaitable[T]) -> T | None:
        """``call``'s answer, or None when the service failed (and it is marked so)."""
        state = self.services[service]
        state.checked_s = self.clock()
        try:
            answer = await call
        except PredisError as error:
            state.ok, state.error = False, str(error)
            return None
        state.ok, state.error = True, ""
        return answer

    async def poll_once(self) -> None:
        """One round: every service once, then every tenant's ``Stats``."""
        now = self.clock()
        drift_all = await self._ask("drift", self.reader.drift_status(""))
        if drift_all is not None and self.discover:
            self.discovered = list(dict.fromkeys(t.tenant or DEFAULT_TENANT for t in drift_all.tenants))
            found = [t for t in self.discovered if t not in self.configured]
            self.tenants_left_out = max(0, len(found) - (self.max_tenants - len(self.configured)))
        await self._poll_models()
        jobs = await self._ask("retrainer", self.reader.jobs(JOBS_LISTED))
        if jobs is not None:
            self.jobs = [job_row(j) for j in jobs]
        tenants = self.tenants
        reads = await self._poll_read_latency(tenants)
        await asyncio.gather(*(self._poll_tenant(t, now, reads.get(t)) for t in tenants))
        self.polls += 1
        self.last_poll_s = now

    async def _poll_models(self) -> None:
        models = await self._ask("predictor", self.reader.models())
        self._models_fresh = models is not None
        if models is None:
            return
        statuses = await asyncio.gather(*(self._model_status(m.version) for m in models))
        self.models = [model_row(m, s) for m, s in zip(models, statuses, strict=True)]

    async def _model_status(self, version: str) -> predictor_pb2.GetModelStatusResponse | None:
        try:
            return await self.reader.model_status(version)
        except NotFoundError:
            return None  # unloaded since ListModels answered
        except PredisError as error:
            self.services["predictor"].ok, self.services["predictor"].error = False, str(error)
            return None

    async def _poll_read_latency(self, tenants: Sequence[str]) -> dict[str, IntervalLatency]:
        """Each tenant's GETs since the last scrape of the cache's metrics, with their p50 and p99;
        none when there is no page to scrape or it could not be read (a gap in the chart, and
        the next good scrape covers the GETs since the last good one)."""
        if self.cache_metrics is None:
            return {}
        state = self.services[CACHE_METRICS]
        state.checked_s = self.clock()
        try:
            scraped = parse_get_buckets(await self.cache_metrics.read())
        except ScrapeError as error:
            state.ok, state.error = False, str(error)
            return {}
        except Exception as error:  # noqa: BLE001 - whatever the page was, the poll goes on
            log.exception("reading the cache's metrics at %s failed", self.cache_metrics.url)
            state.ok, state.error = False, f"{type(error).__name__}: {error}"
            return {}
        state.ok, state.error = True, ""
        return self._read_latency.update(scraped, tenants)

    async def _poll_tenant(self, tenant: str, now: float, reads: IntervalLatency | None) -> None:
        stats = await self._ask("cache", self.reader.stats(tenant))
        if stats is not None:
            serving = serving_model(self.models, tenant) if self._models_fresh else None
            self.history.add(tenant, sample_of(stats, now, serving, reads))
        drift = await self._ask("drift", self.reader.drift_status(tenant))
        if drift is not None:
            state = next((t for t in drift.tenants if (t.tenant or DEFAULT_TENANT) == tenant), None)
            self.events[tenant] = TenantEvents(
                alerts=[alert_row(a) for a in drift.recent_alerts],
                phase=_enum_name(drift_pb2.DetectorPhase, state.phase, "DETECTOR_PHASE_") if state else "",
                events_observed=state.events_observed if state else 0,
            )

    async def run(self) -> None:
        """Polls until cancelled, one round every ``interval_s`` (a slow round delays the next)."""
        while True:
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception:  # a bug in one round must not stop the page from updating
                log.exception("dashboard poll failed")
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def close(self) -> None:
        try:
            await self.reader.close()
        finally:
            if self.cache_metrics is not None:
                await self.cache_metrics.close()

    # -- what the API shows ------------------------------------------------------------------

    def suite_view(self) -> dict[str, Any]:
        return {
            "tenants": self.tenants,
            "tenants_named": list(self.configured),
            "tenants_from_drift": self.discovered,
            "tenants_left_out": self.tenants_left_out,
            "poll_interval_s": self.interval_s,
            "cache_metrics_url": self.cache_metrics.url if self.cache_metrics is not None else None,
            "history_samples": self.history.limit,
            "polls": self.polls,
            "last_poll_s": self.last_poll_s,
            "services": {
                name: {"ok": s.ok, "error": s.error, "checked_s": s.checked_s or None}
                for name, s in self.services.items()
            },
        }

    def tenant_view(self, tenant: str) -> dict[str, Any]:
        samples = self.history.samples(tenant)
        latest = samples[-1] if samples else None
        events = self.events.get(tenant, TenantEvents())
        models = [m for m in self.models if m["scope"] in ("", tenant)]
        jobs = [j for j in self.jobs if j["scope"] in ("", tenant) or j["requested_tenant"] == tenant]
        return {
            "tenant": tenant,
            "series": chart_columns(samples),
            "latest": None if latest is None else latest_view(latest),
            "alerts": events.alerts,
            "drift_phase": events.phase,
            "drift_events_observed": events.events_observed,
            "models": models,
            "serving": serving_model(self.models, tenant),
            "jobs": jobs,
        }


def latest_view(s: TenantSample) -> dict[str, Any]:
    """The newest sample as the page's summary shows it."""
    reads = s.hits + s.misses
    q_reads = s.quality_reads
    settled = s.prefetches_used + s.prefetches_unused
    return {
        "time_s": s.time_s,
        "reads": reads,
        "hits": s.hits,
        "misses": s.misses,
        "hit_ratio": s.hits / reads if reads else None,
        "quality_enabled": s.quality_enabled,
        "quality_reads": q_reads,
        "quality_hits": s.quality_hits,
        "shadow_hits": s.shadow_hits,
        "quality_hit_ratio": s.quality_hits / q_reads if s.quality_enabled and q_reads else None,
        "shadow_hit_ratio": s.shadow_hits / q_reads if s.quality_enabled and q_reads else None,
        "live_gain": (s.quality_hits - s.shadow_hits) / q_reads if s.quality_enabled and q_reads else None,
        "sample_rate": s.sample_rate if s.quality_enabled else None,
        "misses_avoided": s.misses_avoided,
        "net_origin_reads_saved": s.net_origin_reads_saved,
        "prefetches": s.prefetches,
        "prefetches_used": s.prefetches_used,
        "prefetches_unused": s.prefetches_unused,
        "precision_all": s.prefetches_used / settled if settled else None,
        "precision_recent": s.recent_precision if s.learned_settled else None,
        "precision_target": s.precision_target if s.prefetcher_enabled else None,
        "prefetcher_enabled": s.prefetcher_enabled,
        "prefetcher_state": s.prefetcher_state,
        "origin_fetches": s.origin_fetches,
        "origin_errors": s.origin_errors,
        "entries": s.entries,
        "memory_bytes": s.memory_bytes,
        "evictions": s.evictions,
        "backend": s.backend,
        "serving_version": s.serving_version,
        "latency_p50_us": s.latency_p50_us,
        "latency_p99_us": s.latency_p99_us,
        "gets_timed": s.gets_timed,
        "get_p50_us": s.get_p50_us,
        "get_p99_us": s.get_p99_us,
    }
