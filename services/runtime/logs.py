"""Structured logs: one JSON object a line, carrying the trace and span ids of the current span."""

from __future__ import annotations

import json
import logging
import sys
import time

from opentelemetry import trace


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` of the active span (empty when none) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = f"{ctx.trace_id:032x}" if ctx.is_valid else ""
        record.span_id = f"{ctx.span_id:016x}" if ctx.is_valid else ""
        return True


class AbandonedCallFilter(logging.Filter):
    """Drops the two lines gRPC and its tracing write for each call whose caller had already gone
    (its deadline passed or it cancelled) when the answer was ready. The caller sees that as its
    own error; under overload a line a call would cost the loop more than the calls themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "grpc._cython.cygrpc":
            return not record.getMessage().startswith("ExecuteBatchError raised in core")
        if record.name == "opentelemetry.instrumentation.grpc._server":
            return not record.getMessage().startswith("Failed to parse peer address")
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "info") -> None:
    """Sends this process's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(AbandonedCallFilter())
    handler.addFilter(TraceContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
