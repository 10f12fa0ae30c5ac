"""OpenTelemetry metrics: one meter provider per service process, read by Prometheus and OTLP.

One source for every number. The services already count what they do, for their own status
calls: the cache domain's counters and prefetch outcomes (``Stats``), the predictor's per-version
metrics (``GetModelStatus``), the drift observer's tenants and detectors (``GetStatus``), the
retrainer's job book (``ListJobs``). Their metrics are observable instruments whose callbacks
read those very counters when an exporter collects, so ``/metrics`` and the status calls cannot
disagree, and a request pays nothing for being counted. Durations are the exception: a request
path records them into a :class:`~predis.services.runtime.durations.DurationHistogram` (about
0.4 µs with its clock reads; OpenTelemetry's synchronous ``Histogram.record`` costs about 10 µs,
half of a RESP GET's whole cost to the server),
and this module hands their counts to each exporter as it collects, as histograms in
OpenTelemetry's data model.

The domains are not thread-safe, and exporters collect in threads of their own (prometheus_client's
HTTP server, the OTLP reader's timer), so a callback reads its domain on the service's event loop:
it hops there and waits (at most ``CALLBACK_TIMEOUT_S``; a busier loop reports that instrument
nothing this time rather than holding the scrape).

Exporters, each optional:

- Prometheus: ``PREDIS_METRICS_LISTEN=HOST:PORT`` (``on``: the service's default port, 9451 to
  9454) serves ``/metrics`` from prometheus_client's HTTP server over a registry of this
  service's own; unset or ``off``, nothing listens.
- OTLP and the SDK's others: ``OTEL_METRICS_EXPORTER`` (``otlp``, ``console``, ``none``; a comma
  list) through the SDK's exporter entry points, on a periodic reader (``OTEL_METRIC_EXPORT_INTERVAL``,
  60 s by default); endpoint, headers and temporality come from the exporter's own
  ``OTEL_EXPORTER_OTLP_*`` variables. Unset, metrics go over OTLP only when
  ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` is set: the shared ``OTEL_EXPORTER_OTLP_ENDPOINT`` often
  names a trace-only collector (compose's Jaeger), which would refuse every export.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, cast

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import CollectorRegistry, start_http_server

from predis.services.runtime.durations import DurationHistogram
from predis.services.runtime.settings import DEFAULT_HOST, METRICS_PORTS, Env, SettingsError, parse_address

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
CALLBACK_TIMEOUT_S = 1.0
_EXPORTER_ALIASES = {"otlp": "otlp_proto_grpc"}

# What a read of a domain gives an instrument: (value, attributes) pairs, one per series.
Readings = Iterable[tuple[float, Mapping[str, str]]]


def default_metrics_address(service: str) -> str:
    return f"{DEFAULT_HOST}:{METRICS_PORTS[service]}"


def _metrics_exporter_names(environ: Mapping[str, str]) -> tuple[str, ...]:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return ()
    raw = environ.get("OTEL_METRICS_EXPORTER")
    if raw is None:
        return ("otlp",) if "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" in environ else ()
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if names == ("none",):
        return ()
    known = {ep.name for ep in entry_points(group="opentelemetry_metrics_exporter")} - {"prometheus"}
    for name in names:
        if name == "prometheus":
            raise SettingsError(
                "OTEL_METRICS_EXPORTER=prometheus: Predis serves Prometheus itself; set PREDIS_METRICS_LISTEN "
                "(HOST:PORT, or on) instead"
            )
        if _EXPORTER_ALIASES.get(name, name) not in known:
            choices = ", ".join(sorted(known | {"otlp", "none"}))
            raise SettingsError(f"OTEL_METRICS_EXPORTER names {name!r}, which is not installed; known: {choices}")
    return names


@dataclass(frozen=True)
class MetricsSettings:
    """Where a service's metrics go.

    Attributes:
        listen: HOST:PORT of the Prometheus endpoint (``PREDIS_METRICS_LISTEN``; ``on`` is the
            service's default, ``METRICS_PORTS``); None, the default, serves none. Port 0 picks
            a free one. Beyond loopback only with ``PREDIS_ALLOW_INSECURE=on``: ``/metrics`` has no
            authentication and names every tenant.
        exporters: the SDK exporters ``OTEL_METRICS_EXPORTER`` names (``otlp``, ``console``).
    """

    listen: str | None = None
    exporters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.listen is not None:
            parse_address(self.listen, "PREDIS_METRICS_LISTEN")

    @property
    def enabled(self) -> bool:
        return self.listen is not None or bool(self.exporters)

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str]) -> MetricsSettings:
        from predis.services.security.settings import is_loopback  # security's settings import this package

        env = Env(environ)
        raw = env.text("PREDIS_METRICS_LISTEN", "off").strip()
        listen: str | None = None
        if raw.lower() == "on":
            listen = default_metrics_address(service)
        elif raw.lower() != "off":
            host, _ = parse_address(raw, "PREDIS_METRICS_LISTEN")
            if not is_loopback(host) and not env.switch("PREDIS_ALLOW_INSECURE", False):
                raise SettingsError(
                    f"PREDIS_METRICS_LISTEN={raw} listens beyond this machine: /metrics has no authentication "
                    "and names every tenant. Bind it to loopback, or set PREDIS_ALLOW_INSECURE=on on a network "
                    "you trust"
                )
            listen = raw
        return cls(listen=listen, exporters=_metrics_exporter_names(environ))


class _DurationMetrics:
    """The duration histograms of one service, as OpenTelemetry metrics at each collection."""

    def __init__(self, scope: str) -> None:
        self.scope = InstrumentationScope(scope)
        self.started_ns = time.time_ns()
        self._histograms: list[tuple[str, str, str, tuple[DurationHistogram, ...]]] = []

    def add(self, name: str, description: str, unit: str, histograms: Sequence[DurationHistogram]) -> None:
        self._histograms.append((name, description, unit, tuple(histograms)))

    def metrics(self, previous: dict[tuple[int, object], tuple[tuple[int, ...], float]] | None = None) -> list[Metric]:
        """Cumulative histograms; with ``previous`` (the counts the last call gave, updated
        here), the change since that call (delta temporality)."""
        now = time.time_ns()
        out = []
        for name, description, unit, histograms in self._histograms:
            points = []
            for histogram, point in ((h, p) for h in histograms for p in h.snapshot()):
                counts, total = point.bucket_counts, point.sum_s
                if previous is not None:
                    series = (id(histogram), point.key)
                    before, before_sum = previous.get(series, ((0,) * len(counts), 0.0))
                    previous[series] = (counts, total)
                    counts, total = tuple(a - b for a, b in zip(counts, before, strict=True)), total - before_sum
                points.append(
                    HistogramDataPoint(
                        attributes=histogram.label_values(point.key),
                        start_time_unix_nano=self.started_ns,
                        time_unix_nano=now,
                        count=sum(counts),
                        sum=total,
                        bucket_counts=counts,
                        explicit_bounds=histogram.bounds_s,
                        # Not kept (it would cost the request path two comparisons): the OTLP
                        # encoder leaves them unset, Prometheus has no such field.
                        min=cast(float, None),
                        max=cast(float, None),
                    )
                )
            if points:
                temporality = AggregationTemporality.CUMULATIVE if previous is None else AggregationTemporality.DELTA
                out.append(Metric(name, description, unit, Histogram(points, temporality)))
        return out

    def added_to(
        self,
        data: MetricsData | None,
        resource: Resource,
        previous: dict[tuple[int, object], tuple[tuple[int, ...], float]] | None = None,
    ) -> MetricsData:
        """``data`` with the duration histograms as one more scope of its first resource."""
        histograms = self.metrics(previous)
        resources = list(data.resource_metrics) if data is not None else []
        if not histograms:
            return data if data is not None else MetricsData(resource_metrics=[])
        scope = ScopeMetrics(self.scope, histograms, "")
        if not resources:
            return MetricsData(resource_metrics=[ResourceMetrics(resource, [scope], "")])
        first = resources[0]
        resources[0] = ResourceMetrics(first.resource, [*first.scope_metrics, scope], first.schema_url)
        return MetricsData(resource_metrics=resources)


class _PrometheusReader(PrometheusMetricReader):
    """The Prometheus exporter's reader, with the duration histograms added to what it collects."""

    def __init__(self, registry: CollectorRegistry, durations: _DurationMetrics, resource: Resource) -> None:
        # Scope labels (otel_scope_name, ...) on every series are noise here: each service has one scope.
        super().__init__(registry=registry, scope_info_enabled=False)
        self._durations = durations
        self._resource = resource

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        super()._receive_metrics(self._durations.added_to(metrics_data, self._resource), timeout_millis, **kwargs)


class _WithDurations(MetricExporter):
    """An SDK exporter (OTLP, console) that is also handed the duration histograms, in the
    temporality it prefers for histograms (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``)."""

    def __init__(self, inner: MetricExporter, durations: _DurationMetrics, resource: Resource) -> None:
        # The SDK's periodic reader takes these from its exporter the same way.
        temporality = inner._preferred_temporality
        super().__init__(preferred_temporality=temporality, preferred_aggregation=inner._preferred_aggregation)
        self._inner = inner
        self._durations = durations
        self._resource = resource
        delta = (temporality or {}).get(HistogramInstrument) is AggregationTemporality.DELTA
        self._previous: dict[tuple[int, object], tuple[tuple[int, ...], float]] | None = {} if delta else None

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        data = self._durations.added_to(metrics_data, self._resource, self._previous)
        return self._inner.export(data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _load_exporter(name: str) -> MetricExporter:
    wanted = _EXPORTER_ALIASES.get(name, name)
    for ep in entry_points(group="opentelemetry_metrics_exporter"):
        if ep.name == wanted:
            exporter: MetricExporter = ep.load()()
            return exporter
    raise SettingsError(f"OTEL_METRICS_EXPORTER names {name!r}, which is not installed")


class ServiceMeters:
    """One service's meter provider, and the instruments its bootstrap registers on it.

    Build it with :meth:`create` (tests hand in their own Prometheus registry or readers);
    ``predis serve`` builds one per process from the settings (:meth:`from_settings`)."""

    def __init__(
        self,
        provider: MeterProvider,
        durations: _DurationMetrics,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.provider = provider
        self.registry = registry
        self._durations = durations
        self.meter = provider.get_meter(durations.scope.name)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def create(
        cls,
        service: str,
        registry: CollectorRegistry | None = None,
        exporters: Sequence[MetricExporter] = (),
        readers: Sequence[MetricReader] = (),
        environ: Mapping[str, str] | None = None,
    ) -> ServiceMeters:
        """Meters for ``service`` read by a Prometheus registry (when given), the SDK
        ``exporters`` on a periodic reader each, and any other ``readers`` (which see the
        observable instruments, not the duration histograms)."""
        env = os.environ if environ is None else environ
        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", f"predis-{service}")})
        durations = _DurationMetrics(f"predis.{service}")
        all_readers: list[MetricReader] = list(readers)
        if registry is not None:
            all_readers.append(_PrometheusReader(registry, durations, resource))
        for exporter in exporters:
            all_readers.append(PeriodicExportingMetricReader(_WithDurations(exporter, durations, resource)))
        # Exemplars would link measurements to spans; the observable instruments have none to give.
        provider = MeterProvider(
            resource=resource, metric_readers=all_readers, exemplar_filter=AlwaysOffExemplarFilter()
        )
        return cls(provider, durations, registry)

    @classmethod
    def from_settings(cls, service: str, settings: MetricsSettings) -> ServiceMeters:
        registry = CollectorRegistry() if settings.listen is not None else None
        return cls.create(service, registry, [_load_exporter(name) for name in settings.exporters])

    # -- instruments -------------------------------------------------------------------------

    def counter(self, name: str, description: str, unit: str, read: Callable[[], Readings]) -> None:
        """A monotonic count (``*_total`` in Prometheus) read from the domain at each collection."""
        self.meter.create_observable_counter(name, [self._callback(read)], unit=unit, description=description)

    def gauge(self, name: str, description: str, unit: str, read: Callable[[], Readings]) -> None:
        """A value that goes up and down, read from the domain at each collection."""
        self.meter.create_observable_gauge(name, [self._callback(read)], unit=unit, description=description)

    def histogram(self, name: str, description: str, unit: str, *histograms: DurationHistogram) -> None:
        """Durations request paths record into ``histograms`` (their series together), exported
        as one histogram."""
        self._durations.add(name, description, unit, histograms)

    def shutdown(self) -> None:
        """A last export, then the exporters stop; call it off the event loop (the callbacks
        wait for the loop)."""
        self.provider.shutdown()

    def _callback(self, read: Callable[[], Readings]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        if self._loop is None:
            # Registered outside a loop (a test of a domain alone), callbacks read where collected.
            self._loop = _running_loop()

        def callback(options: CallbackOptions) -> Iterable[Observation]:
            readings = self._read_on_loop(read, min(options.timeout_millis / 1000, CALLBACK_TIMEOUT_S))
            return [Observation(value, dict(attributes)) for value, attributes in readings]

        return callback

    def _read_on_loop(self, read: Callable[[], Readings], timeout_s: float) -> list[tuple[float, Mapping[str, str]]]:
        loop = self._loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            return list(read())
        answer: concurrent.futures.Future[list[tuple[float, Mapping[str, str]]]] = concurrent.futures.Future()

        def on_loop() -> None:
            try:
                answer.set_result(list(read()))
            except Exception as error:  # noqa: BLE001 - a failed read is the collector's to report
                answer.set_exception(error)

        try:
            loop.call_soon_threadsafe(on_loop)
            return answer.result(timeout_s)
        except (concurrent.futures.TimeoutError, RuntimeError):  # busy, or closed meanwhile
            return []


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def install_process_meter_provider(provider: MeterProvider) -> None:
    """Makes ``provider`` the process-wide default, for code that asks the global API for a meter."""
    metrics.set_meter_provider(provider)


@dataclass
class MetricsEndpoint:
    """prometheus_client's HTTP server for one registry: ``/metrics`` on ``address``."""

    address: str
    _server: Any
    _thread: Any

    @property
    def url(self) -> str:
        return f"http://{self.address}{METRICS_PATH}"

    @classmethod
    def start(cls, listen: str, registry: CollectorRegistry) -> MetricsEndpoint:
        """Serves ``registry`` on ``listen`` (port 0 picks a free one); SettingsError naming
        PREDIS_METRICS_LISTEN when it cannot bind."""
        host, port = parse_address(listen, "PREDIS_METRICS_LISTEN")
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as error:
            raise SettingsError(f"PREDIS_METRICS_LISTEN={listen}: cannot listen there ({error.strerror})") from None
        bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return cls(f"{shown}:{bound_port}", server, thread)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
