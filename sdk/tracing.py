"""OpenTelemetry interceptors for SDK channels and the filter that keeps probes out of traces."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, client_interceptor, filters
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel


def traced_calls() -> filters.Condition:
    """Everything except health checks and reflection, which would drown real calls."""
    return filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection")))


def async_client_interceptors(provider: trace.TracerProvider | None) -> Sequence[object]:
    return aio_client_interceptors(tracer_provider=provider, filter_=traced_calls())


def traced_channel(channel: grpc.Channel, provider: trace.TracerProvider | None) -> grpc.Channel:
    """``channel`` with OpenTelemetry's client interceptor (which plugs in through its own
    ``intercept_channel``, not grpc's)."""
    traced: grpc.Channel = intercept_channel(
        channel, client_interceptor(tracer_provider=provider, filter_=traced_calls())
    )
    return traced
