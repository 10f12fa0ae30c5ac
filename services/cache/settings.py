"""The cache service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from predis.services.cache.engine.backends import BACKENDS
from predis.services.cache.engine.policy import POLICIES
from predis.services.cache.engine.threshold import TunerSettings
from predis.services.cache.prefetcher import PrefetchSettings
from predis.services.resp.settings import RespSettings
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.settings import Env, ServerSettings, SettingsError
from predis.services.runtime.tenancy import validate_tenant


def _quotas(raw: str) -> dict[str, int]:
    quotas: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise SettingsError(f"PREDIS_CACHE_TENANT_QUOTAS entry {part!r} is not TENANT=BYTES")
        quotas[name.strip()] = int(value)
    return quotas


def _rates(raw: str, variable: str) -> dict[str, float]:
    """``tenant=rate,tenant=rate``: per-second rates of named tenants, 0 for unlimited."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = (piece.strip() for piece in part.partition("="))
        try:
            rate = float(value) if sep else -1.0
        except ValueError:
            rate = -1.0
        if not (0 <= rate < float("inf")):
            raise SettingsError(f"{variable} entry {part!r} is not TENANT=RATE (per second, 0 for unlimited)")
        try:
            validate_tenant(name)
        except InvalidInput:
            raise SettingsError(
                f"{variable} entry {part!r} names the tenant {name[:80]!r}: "
                "use 1 to 64 letters, digits, '.', '_' or '-'"
            ) from None
        if name in rates:
            raise SettingsError(f"{variable} names the tenant {name!r} twice")
        rates[name] = rate
    return rates


@dataclass(frozen=True)
class CacheSettings:
    """
    Attributes:
        server: listen address, grace period, logging (``PREDIS_LISTEN`` and friends).
        memory_bytes: the engine's memory budget (``PREDIS_CACHE_MEMORY_BYTES``, default 256 MiB).
        max_value_bytes: largest value accepted (``PREDIS_CACHE_MAX_VALUE_BYTES``, default 1 MiB).
        max_batch_keys: most keys one batch call may name (``PREDIS_CACHE_MAX_BATCH_KEYS``, 100000).
        policy: eviction policy, ``s3fifo`` or ``lru`` (``PREDIS_CACHE_POLICY``).
        backend: storage backend, ``auto``, ``numpy`` or ``cupy`` (``PREDIS_CACHE_BACKEND``).
        block_bytes: block size of the value store (``PREDIS_CACHE_BLOCK_BYTES``, default 64).
        tenant_quota_bytes: default per-tenant quota, 0 for none (``PREDIS_CACHE_TENANT_QUOTA_BYTES``).
        tenant_quotas: per-tenant quotas, ``a=BYTES,b=BYTES`` (``PREDIS_CACHE_TENANT_QUOTAS``).
        tenant_rate_limit: data-plane requests a second each tenant may make, 0 for unlimited
            (``PREDIS_TENANT_RATE_LIMIT``, default 0): every gRPC CacheService call and every RESP
            command but the connection ones is one request, a batch call one (``admission.py``).
        tenant_rate_burst: requests a tenant may make at once, at least 1; 0, the default, gives each
            tenant one second of its own rate (``PREDIS_TENANT_RATE_BURST``).
        tenant_rate_limits: per-tenant request rates, ``a=RATE,b=RATE``, overriding the default
            (``PREDIS_TENANT_RATE_LIMITS``).
        tenant_prefetch_rate: origin fetches a second each tenant's prefetches (the learned loop's,
            hints', Prefetch calls') may start, 0 for unlimited (``PREDIS_TENANT_PREFETCH_RATE``);
            keys over it are skipped and counted (``prefetches_over_budget``).
        tenant_max_streams: access event streams one tenant may hold open at once
            (``PREDIS_TENANT_MAX_STREAMS``): each holds a call slot, which a tenant must not take all of.
        tenant_prefetch_rates: per-tenant prefetch rates, ``a=RATE,b=RATE``
            (``PREDIS_TENANT_PREFETCH_RATES``).
        collector_events: capacity of the access-event ring, 0 to disable
            (``PREDIS_CACHE_COLLECTOR_EVENTS``, default 65536).
        origin: origin URL for read-through, ``name:location?options`` (``PREDIS_ORIGIN``).
        origin_timeout_s: longest wait for one origin fetch (``PREDIS_ORIGIN_TIMEOUT_S``, default 2).
        origin_workers: threads that run blocking origin fetches (``PREDIS_ORIGIN_WORKERS``, 32).
        origin_breaker_failures: origin failures in a row after which misses skip the origin for a
            while (``PREDIS_ORIGIN_BREAKER_FAILURES``, default 5).
        origin_breaker_open_s: how long they skip it before one trial call
            (``PREDIS_ORIGIN_BREAKER_OPEN_S``, default 2).
        prefetch_queue: most prefetches in flight (``PREDIS_PREFETCH_QUEUE``, default 10000).
        snapshot_path: where the cache's data is saved and loaded from on start
            (``PREDIS_CACHE_SNAPSHOT_PATH``; empty, the default: no snapshots).
        snapshot_interval_s: seconds between snapshots, 0 for only at graceful shutdown
            (``PREDIS_CACHE_SNAPSHOT_INTERVAL_S``, default 300).
        predictor_address: the predictor (``PREDIS_PREDICTOR_ADDRESS``); empty for none.
        drift_address: where access events are exported (``PREDIS_DRIFT_ADDRESS``); empty for none.
        drift_stream_s: an export stream that has sent something ends after this long and the next
            begins, so that each is a finished trace (``PREDIS_DRIFT_STREAM_S``, default 10).
        prefetch: whether the learned prefetch loop runs when a predictor, an origin and the
            collector are configured (``PREDIS_PREFETCH``, ``on`` or ``off``, default on).
        prefetching: its decisions (``PREDIS_PREFETCH_PRECISION_TARGET`` 0.5,
            ``PREDIS_PREFETCH_THRESHOLD`` 0.5, ``PREDIS_PREFETCH_MIN_THRESHOLD`` 0.05,
            ``PREDIS_PREFETCH_PER_READ`` 2, ``PREDIS_PREFETCH_MEMORY_SHARE`` 0.2,
            ``PREDIS_PREFETCH_ORIGIN_RPS`` 1000, ``PREDIS_PREFETCH_MAX_LAG_EVENTS`` 4096,
            ``PREDIS_PREFETCH_CONCURRENCY`` 32, ``PREDIS_PREFETCH_SCORE_TIMEOUT_S`` 0.25,
            ``PREDIS_PREFETCH_TABLE_ROWS`` 65536).
        shadow: whether the keys-only plain S3-FIFO shadow measures the live gain of prefetching
            (``PREDIS_CACHE_SHADOW``, ``on`` or ``off``, default on).
        shadow_max_entries: most keys the shadow holds per tenant (``PREDIS_CACHE_SHADOW_MAX_ENTRIES``,
            default 1048576).
        data_dir: where access segments are written, under ``segments/<tenant>/``
            (``PREDIS_DATA_DIR``; empty, the default: none are kept).
        segment_rows, segment_age_s, segment_retain_bytes: a segment is written at this many events
            (``PREDIS_SEGMENT_ROWS``, 100000) or when its oldest event is this old
            (``PREDIS_SEGMENT_AGE_S``, 10); each tenant keeps at most this many bytes of segments
            (``PREDIS_SEGMENT_RETAIN_BYTES``, 1 GiB).
        resp: the Redis-protocol front end over the same cache (``PREDIS_RESP_LISTEN`` and the
            other ``PREDIS_RESP_*`` variables; off unless ``PREDIS_RESP_LISTEN`` is set).
    """

    server: ServerSettings
    memory_bytes: int = 256 * 1024 * 1024
    max_value_bytes: int = 1024 * 1024
    max_batch_keys: int = 100_000
    policy: str = "s3fifo"
    backend: str = "auto"
    block_bytes: int = 64
    tenant_quota_bytes: int = 0
    tenant_quotas: Mapping[str, int] = field(default_factory=dict)
    tenant_rate_limit: float = 0.0
    tenant_rate_burst: float = 0.0
    tenant_rate_limits: Mapping[str, float] = field(default_factory=dict)
    tenant_prefetch_rate: float = 0.0
    tenant_prefetch_rates: Mapping[str, float] = field(default_factory=dict)
    tenant_max_streams: int = 8
    collector_events: int = 1 << 16
    origin: str = ""
    origin_timeout_s: float = 2.0
    origin_workers: int = 32
    origin_breaker_failures: int = 5
    origin_breaker_open_s: float = 2.0
    prefetch_queue: int = 10_000
    snapshot_path: str = ""
    snapshot_interval_s: float = 300.0
    predictor_address: str = ""
    drift_address: str = ""
    drift_stream_s: float = 10.0
    prefetch: bool = True
    prefetching: PrefetchSettings = field(default_factory=PrefetchSettings)
    shadow: bool = True
    shadow_max_entries: int = 1 << 20
    data_dir: str = ""
    segment_rows: int = 100_000
    segment_age_s: float = 10.0
    segment_retain_bytes: int = 1 << 30
    resp: RespSettings = field(default_factory=RespSettings)

    def __post_init__(self) -> None:
        if self.max_value_bytes > self.memory_bytes // 4:
            raise SettingsError(
                f"PREDIS_CACHE_MAX_VALUE_BYTES ({self.max_value_bytes}) must be at most a quarter of "
                f"PREDIS_CACHE_MEMORY_BYTES ({self.memory_bytes})"
            )
        if self.origin_timeout_s <= 0:
            raise SettingsError("PREDIS_ORIGIN_TIMEOUT_S must be positive")
        if self.origin_breaker_open_s <= 0:
            raise SettingsError("PREDIS_ORIGIN_BREAKER_OPEN_S must be positive")
        if self.policy not in POLICIES:
            raise SettingsError(f"PREDIS_CACHE_POLICY={self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.backend not in BACKENDS:
            raise SettingsError(f"PREDIS_CACHE_BACKEND={self.backend!r} is not one of {', '.join(BACKENDS)}")
        if not 16 <= self.block_bytes <= 4096:
            raise SettingsError("PREDIS_CACHE_BLOCK_BYTES must be 16 to 4096")
        if 0 < self.tenant_rate_burst < 1:
            raise SettingsError(
                f"PREDIS_TENANT_RATE_BURST={self.tenant_rate_burst:g} must be at least 1 (a request), "
                "or 0 for one second of each tenant's rate"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], listen: str | None = None) -> CacheSettings:
        env = Env(environ)
        return cls(
            server=ServerSettings.from_env("cache", environ, listen),
            resp=RespSettings.from_env(environ),
            memory_bytes=env.integer("PREDIS_CACHE_MEMORY_BYTES", 256 * 1024 * 1024, minimum=64 * 1024),
            max_value_bytes=env.integer("PREDIS_CACHE_MAX_VALUE_BYTES", 1024 * 1024, minimum=1),
            max_batch_keys=env.integer("PREDIS_CACHE_MAX_BATCH_KEYS", 100_000, minimum=1),
            policy=env.text("PREDIS_CACHE_POLICY", "s3fifo"),
            backend=env.text("PREDIS_CACHE_BACKEND", "auto"),
            block_bytes=env.integer("PREDIS_CACHE_BLOCK_BYTES", 64, minimum=1),
            tenant_quota_bytes=env.integer("PREDIS_CACHE_TENANT_QUOTA_BYTES", 0),
            tenant_quotas=_quotas(env.text("PREDIS_CACHE_TENANT_QUOTAS", "")),
            tenant_rate_limit=env.number("PREDIS_TENANT_RATE_LIMIT", 0.0),
            tenant_rate_burst=env.number("PREDIS_TENANT_RATE_BURST", 0.0),
            tenant_rate_limits=_rates(env.text("PREDIS_TENANT_RATE_LIMITS", ""), "PREDIS_TENANT_RATE_LIMITS"),
            tenant_prefetch_rate=env.number("PREDIS_TENANT_PREFETCH_RATE", 0.0),
            tenant_prefetch_rates=_rates(env.text("PREDIS_TENANT_PREFETCH_RATES", ""), "PREDIS_TENANT_PREFETCH_RATES"),
            tenant_max_streams=env.integer("PREDIS_TENANT_MAX_STREAMS", 8, minimum=1),
            collector_events=env.integer("PREDIS_CACHE_COLLECTOR_EVENTS", 1 << 16),
            origin=env.text("PREDIS_ORIGIN", ""),
            origin_timeout_s=env.number("PREDIS_ORIGIN_TIMEOUT_S", 2.0),
            origin_workers=env.integer("PREDIS_ORIGIN_WORKERS", 32, minimum=1),
            origin_breaker_failures=env.integer("PREDIS_ORIGIN_BREAKER_FAILURES", 5, minimum=1),
            origin_breaker_open_s=env.number("PREDIS_ORIGIN_BREAKER_OPEN_S", 2.0),
            prefetch_queue=env.integer("PREDIS_PREFETCH_QUEUE", 10_000),
            snapshot_path=env.text("PREDIS_CACHE_SNAPSHOT_PATH", ""),
            snapshot_interval_s=env.number("PREDIS_CACHE_SNAPSHOT_INTERVAL_S", 300.0),
            predictor_address=env.text("PREDIS_PREDICTOR_ADDRESS", ""),
            drift_address=env.text("PREDIS_DRIFT_ADDRESS", ""),
            drift_stream_s=env.number("PREDIS_DRIFT_STREAM_S", 10.0, minimum=0.1),
            prefetch=env.switch("PREDIS_PREFETCH", True),
            prefetching=_prefetch_settings(env),
            shadow=env.switch("PREDIS_CACHE_SHADOW", True),
            shadow_max_entries=env.integer("PREDIS_CACHE_SHADOW_MAX_ENTRIES", 1 << 20, minimum=1),
            data_dir=env.text("PREDIS_DATA_DIR", ""),
            segment_rows=env.integer("PREDIS_SEGMENT_ROWS", 100_000, minimum=1),
            segment_age_s=env.number("PREDIS_SEGMENT_AGE_S", 10.0, minimum=0.001),
            segment_retain_bytes=env.integer("PREDIS_SEGMENT_RETAIN_BYTES", 1 << 30, minimum=1),
        )


def _prefetch_settings(env: Env) -> PrefetchSettings:
    try:
        return PrefetchSettings(
            precision_target=env.number("PREDIS_PREFETCH_PRECISION_TARGET", TunerSettings.target),
            initial_threshold=env.number("PREDIS_PREFETCH_THRESHOLD", 0.5),
            min_threshold=env.number("PREDIS_PREFETCH_MIN_THRESHOLD", 0.05),
            per_trigger=env.integer("PREDIS_PREFETCH_PER_READ", 2, minimum=1),
            memory_share=env.number("PREDIS_PREFETCH_MEMORY_SHARE", 0.2),
            origin_per_second=env.number("PREDIS_PREFETCH_ORIGIN_RPS", 1000.0),
            max_lag_events=env.integer("PREDIS_PREFETCH_MAX_LAG_EVENTS", 4096, minimum=1),
            concurrency=env.integer("PREDIS_PREFETCH_CONCURRENCY", 32, minimum=1),
            score_timeout_s=env.number("PREDIS_PREFETCH_SCORE_TIMEOUT_S", 0.25),
            table_rows=env.integer("PREDIS_PREFETCH_TABLE_ROWS", 1 << 16, minimum=1024),
        )
    except ValueError as error:
        raise SettingsError(f"PREDIS_PREFETCH_* settings: {error}") from None
