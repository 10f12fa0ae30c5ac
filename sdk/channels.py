"""Opening channels with the client's options, credentials and tracing interceptors."""

from __future__ import annotations

import grpc
from opentelemetry import trace

from predis.config import ClientConfig
from predis.tracing import async_client_interceptors, traced_channel


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
