"""What the dashboard remembers: one sample of each tenant's counters per poll, in a bounded
series per tenant, and the chart columns derived from them.

Every number in a sample is one the suite reported (cache ``Stats``, the predictor's
``GetModelStatus``); the chart columns are differences and ratios of those numbers, never a model
of them. Counts are since the cache started, so a count that falls between two samples means the
cache restarted: that interval has no per-interval value (see ``increase``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TenantSample:
    """One tenant's counters at one poll (field meanings as in cache.proto's ``TenantStats``,
    ``LiveQuality`` and ``PrefetcherStats``, and predictor.proto's ``GetModelStatusResponse``)."""

    time_s: float  # the dashboard's clock when the poll began, seconds since the Unix epoch
    hits: int
    misses: int
    entries: int
    memory_bytes: int
    evictions: int
    prefetches: int  # entries loaded by prefetching, every issuer
    prefetches_used: int
    prefetches_unused: int
    origin_fetches: int
    origin_errors: int
    quality_enabled: bool  # the no-prefetch shadow runs
    quality_reads: int
    quality_hits: int
    shadow_hits: int
    sample_rate: float
    prefetcher_enabled: bool
    prefetcher_state: str
    precision_target: float
    recent_precision: float
    learned_settled: int  # the learned loop's used + unused + late prefetches
    unread_prefetch_bytes: int
    backend: str  # the cache's storage backend (numpy, cupy)
    serving_version: str = ""  # the predictor's version that answers this tenant ("" for none)
    serving_provider: str = ""  # its ONNX Runtime execution provider
    latency_p50_us: float | None = None  # its scoring latency over the predictor's recent window
    latency_p99_us: float | None = None
    # The cache's GETs since the previous poll, from its /metrics histogram (cache_latency.py):
    # how many, and their p50 and p99 in microseconds. None without a scrape to compare with.
    gets_timed: int | None = None
    get_p50_us: float | None = None
    get_p99_us: float | None = None

    @property
    def misses_avoided(self) -> int | None:
        """The shadow's misses minus the real cache's, over the reads the shadow replays:
        ``(reads - shadow_hits) - (reads - hits)``; None when the shadow is off."""
        return self.quality_hits - self.shadow_hits if self.quality_enabled else None

    @property
    def net_origin_reads_saved(self) -> int | None:
        """Misses avoided less the origin reads prefetching made (entries it loaded). Only where
        the shadow replays every key (sample rate 1): a sampled shadow's counts cover a share of
        the reads, the prefetch count all of them, and the two do not subtract."""
        avoided = self.misses_avoided
        if avoided is None or self.sample_rate != 1.0:
            return None
        return avoided - self.prefetches


class History:
    """The last ``limit`` samples of each tenant, oldest first."""

    def __init__(self, limit: int) -> None:
        if limit < 2:
            raise ValueError("a history needs room for at least 2 samples")
        self.limit = limit
        self._series: dict[str, deque[TenantSample]] = {}

    def add(self, tenant: str, sample: TenantSample) -> None:
        self._series.setdefault(tenant, deque(maxlen=self.limit)).append(sample)

    def samples(self, tenant: str) -> list[TenantSample]:
        return list(self._series.get(tenant, ()))

    def latest(self, tenant: str) -> TenantSample | None:
        series = self._series.get(tenant)
        return series[-1] if series else None


def increase(before: int, after: int) -> int:
    """How much a since-start counter grew from ``before`` to ``after``; ``after`` itself when it
    fell (the cache restarted in between and counts again from 0)."""
    return after - before if after >= before else after


def window_increase(samples: Sequence[TenantSample], field: str) -> int:
    """The growth of a counter over the samples, restarts included (see ``increase``)."""
    values = [getattr(s, field) for s in samples]
    return sum(increase(a, b) for a, b in zip(values, values[1:], strict=False))


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def _interval_ratios(before: TenantSample | None, after: TenantSample) -> tuple[float | None, float | None]:
    """Hit ratio and shadow hit ratio over the reads between two samples."""
    if before is None:
        return None, None
    if not (before.quality_enabled and after.quality_enabled):
        reads = (after.hits + after.misses) - (before.hits + before.misses)
        return (_ratio(after.hits - before.hits, reads) if after.hits >= before.hits else None), None
    reads = after.quality_reads - before.quality_reads
    if reads < 0 or after.quality_hits < before.quality_hits:
        return None, None  # the cache restarted in between
    hits, shadow_hits = after.quality_hits - before.quality_hits, after.shadow_hits - before.shadow_hits
    return _ratio(hits, reads), _ratio(shadow_hits, reads)


def chart_columns(samples: Sequence[TenantSample]) -> dict[str, list[float | int | None]]:
    """The charts' data, one list per series, aligned on ``time`` (None: no value there).

    - ``hit_ratio`` / ``shadow_hit_ratio``: over the reads since the previous sample, with
      prefetching (the real cache) and without (the shadow); the cache's own hits and misses when
      the shadow is off, and then no baseline.
    - ``misses_avoided``, ``net_origin_reads_saved``, ``prefetches``: since the cache started.
    - ``precision_recent``: the learned loop's last 256 settled prefetches (None before any);
      ``precision_all``: used / (used + unused) of every prefetch since start; ``precision_target``.
    - ``latency_p50_us`` / ``latency_p99_us``: the serving model version's scoring latency.
    - ``get_p50_us`` / ``get_p99_us``: the cache's GETs since the previous sample, every front end
      (None when there were none, or no scrape of the cache's metrics to compare with).
    """
    columns: dict[str, list[float | int | None]] = {
        name: []
        for name in (
            "time",
            "hit_ratio",
            "shadow_hit_ratio",
            "misses_avoided",
            "net_origin_reads_saved",
            "prefetches",
            "origin_fetches",
            "precision_recent",
            "precision_all",
            "precision_target",
            "latency_p50_us",
            "latency_p99_us",
            "get_p50_us",
            "get_p99_us",
        )
    }
    previous: TenantSample | None = None
    for s in samples:
        hit_ratio, shadow_hit_ratio = _interval_ratios(previous, s)
        settled = s.prefetches_used + s.prefetches_unused
        row: dict[str, float | int | None] = {
            "time": s.time_s,
            "hit_ratio": hit_ratio,
            "shadow_hit_ratio": shadow_hit_ratio,
            "misses_avoided": s.misses_avoided,
            "net_origin_reads_saved": s.net_origin_reads_saved,
            "prefetches": s.prefetches,
            "origin_fetches": s.origin_fetches,
            "precision_recent": s.recent_precision if s.learned_settled > 0 else None,
            "precision_all": _ratio(s.prefetches_used, settled),
            "precision_target": s.precision_target if s.prefetcher_enabled else None,
            "latency_p50_us": s.latency_p50_us,
            "latency_p99_us": s.latency_p99_us,
            "get_p50_us": s.get_p50_us,
            "get_p99_us": s.get_p99_us,
        }
        for name, value in row.items():
            columns[name].append(value)
        previous = s
    return columns
