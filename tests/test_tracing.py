"""One trace spans SDK call -> cache service -> the cache's call to the predictor."""

from __future__ import annotations

import json
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import predis
from conftest import BackgroundSuite
from predis.services.runtime.logs import JsonFormatter, TraceContextFilter
from predis.services.runtime.tracing import exporter_names, tracer_provider_from_env


@pytest.fixture
def traced() -> tuple[BackgroundSuite, TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    suite = BackgroundSuite(tracer_provider=provider).start()
    yield suite, provider, exporter
    suite.stop()


def test_one_trace_covers_sdk_cache_and_predictor(traced) -> None:  # type: ignore[no-untyped-def]
    suite, provider, exporter = traced
    with predis.Client(suite.addresses["cache"], tracer_provider=provider) as client:
        assert client.stats().predictor.reachable
    spans = {(s.name, s.kind): s for s in exporter.get_finished_spans()}
    sdk_call = spans[("/predis.v1.CacheService/Stats", trace.SpanKind.CLIENT)]
    cache_side = spans[("/predis.v1.CacheService/Stats", trace.SpanKind.SERVER)]
    cache_calls = spans[("/predis.v1.PredictorService/ListModels", trace.SpanKind.CLIENT)]
    predictor_side = spans[("/predis.v1.PredictorService/ListModels", trace.SpanKind.SERVER)]
    chain = [sdk_call, cache_side, cache_calls, predictor_side]
    assert len({s.context.trace_id for s in chain}) == 1
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id


def test_health_checks_stay_out_of_traces(traced) -> None:  # type: ignore[no-untyped-def]
    suite, _, exporter = traced
    with grpc.insecure_channel(suite.addresses["cache"]) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert not [s for s in exporter.get_finished_spans() if "Health" in s.name]


def test_exporter_is_chosen_by_the_standard_variables() -> None:
    assert exporter_names({}) == []
    assert exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}) == ["otlp"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console,otlp"}) == ["console", "otlp"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) == []
    provider = tracer_provider_from_env("cache", {"OTEL_TRACES_EXPORTER": "console"})
    assert provider.resource.attributes["service.name"] == "predis-cache"
    provider.shutdown()
    with pytest.raises(ValueError, match="not installed"):
        tracer_provider_from_env("cache", {"OTEL_TRACES_EXPORTER": "zipkin-typo"})


def test_log_lines_carry_the_trace_id() -> None:
    provider = TracerProvider()
    record = logging.LogRecord("predis", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    with provider.get_tracer("test").start_as_current_span("work") as span:
        TraceContextFilter().filter(record)
        line = json.loads(JsonFormatter("cache").format(record))
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["message"] == "hello world" and line["service"] == "cache"


def test_lines_about_calls_whose_caller_had_gone_are_dropped_and_nothing_else() -> None:
    from predis.services.runtime.logs import AbandonedCallFilter

    def record(name: str, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, message, (), None)

    keep = AbandonedCallFilter().filter
    assert not keep(record("grpc._cython.cygrpc", "ExecuteBatchError raised in core by servicer method [/x]"))
    assert not keep(record("opentelemetry.instrumentation.grpc._server", "Failed to parse peer address ''"))
    assert keep(record("grpc._cython.cygrpc", "something else went wrong"))
    assert keep(record("predis", "ExecuteBatchError raised in core"))
