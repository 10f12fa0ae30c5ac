"""OpenTelemetry wiring: one tracer provider per process, interceptors passed explicitly.

The exporter is chosen by the standard ``OTEL_TRACES_EXPORTER`` variable (``otlp`` for Jaeger or
any OTLP collector, ``console``, ``none``), looked up through the SDK's own exporter entry points;
endpoints and headers come from the exporter's own ``OTEL_EXPORTER_OTLP_*`` variables. When
``OTEL_TRACES_EXPORTER`` is unset, spans are exported over OTLP only if
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its traces variant) is set, so that a laptop without a
collector does not log export failures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from predis.tracing import traced_calls

_EXPORTER_ALIASES = {"otlp": "otlp_proto_grpc"}


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the OTEL_* variables ask for (``[]`` when tracing should export nothing)."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return []
    raw = environ.get("OTEL_TRACES_EXPORTER")
    if raw is None:
        wants_otlp = "OTEL_EXPORTER_OTLP_ENDPOINT" in environ or "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" in environ
        return ["otlp"] if wants_otlp else []
    names = [n.strip() for n in raw.split(",") if n.strip()]
    return [] if names == ["none"] else names


def _load_exporter(name: str) -> SpanExporter:
    wanted = _EXPORTER_ALIASES.get(name, name)
    for ep in entry_points(group="opentelemetry_traces_exporter"):
        if ep.name == wanted:
            exporter: SpanExporter = ep.load()()
            return exporter
    known = sorted({ep.name for ep in entry_points(group="opentelemetry_traces_exporter")} | {"otlp", "none"})
    raise ValueError(f"OTEL_TRACES_EXPORTER names {name!r}, which is not installed; known: {', '.join(known)}")


def tracer_provider_from_env(service: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """A tracer provider for ``service`` exporting where the OTEL_* variables say."""
    env = os.environ if environ is None else environ
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", f"predis-{service}")})
    provider = TracerProvider(resource=resource)
    for name in exporter_names(env):
        provider.add_span_processor(BatchSpanProcessor(_load_exporter(name)))
    return provider


def install_process_tracer_provider(provider: TracerProvider) -> None:
    """Makes ``provider`` the process-wide default, for code that asks the global API for a tracer."""
    trace.set_tracer_provider(provider)


def server_interceptors(provider: trace.TracerProvider) -> list[object]:
    return [aio_server_interceptor(tracer_provider=provider, filter_=traced_calls())]
