"""Opening channels with the client's options, credentials and tracing interceptors."""

from __future__ import annotations

import grpc
from opentelemetry import trace

from predis.config import SERVICES, ClientConfig, default_address
from predis.tracing import async_client_interceptors, traced_channel
from predis.v1 import cache_pb2_grpc, drift_pb2_grpc, predictor_pb2_grpc, retrainer_pb2_grpc

STUB_CLASSES: dict[str, type] = {
    "cache": cache_pb2_grpc.CacheServiceStub,
    "predictor": predictor_pb2_grpc.PredictorServiceStub,
    "drift": drift_pb2_grpc.DriftServiceStub,
    "retrainer": retrainer_pb2_grpc.RetrainerServiceStub,
}


def service_targets(given: dict[str, str | None]) -> dict[str, tuple[str, type]]:
    """Address and stub class per service: the given address, else the environment's or the default."""
    return {service: (given.get(service) or default_address(service), STUB_CLASSES[service]) for service in SERVICES}


def open_channel(address: str, config: ClientConfig, tracer_provider: trace.TracerProvider | None) -> grpc.Channel:
    options = config.channel_options()
    if config.tls is not None:
        channel = grpc.secure_channel(address, config.tls.credentials(), options, config.grpc_compression)
    else:
        channel = grpc.insecure_channel(address, options, config.grpc_compression)
    if config.tracing:
        channel = traced_channel(channel, tracer_provider)
    return channel


def open_aio_channel(
    address: str, config: ClientConfig, tracer_provider: trace.TracerProvider | None
) -> grpc.aio.Channel:
    options = config.channel_options()
    interceptors = list(async_client_interceptors(tracer_provider)) if config.tracing else None
    if config.tls is not None:
        return grpc.aio.secure_channel(
            address,
            config.tls.credentials(),
            options,
            config.grpc_compression,
            interceptors,  # type: ignore[arg-type]
        )
    return grpc.aio.insecure_channel(address, options, config.grpc_compression, interceptors)  # type: ignore[arg-type]
