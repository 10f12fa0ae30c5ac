"""The durations the cache records as it serves, once metrics are on (``CacheDomain.record_durations``).

- GET and SET through each front end: the time inside the command, from the servicer method's
  start (gRPC ``Get``/``Set``) or the RESP command's handler (``GET``/``SET``) to its answer, a
  read-through's origin call included; gRPC's and RESP's own parsing and network are not. A
  command that failed is timed too.
- Origin fetches (``read_through.py``): one origin call, as the origin's worker ran it, by outcome
  (``ok``: a value or none; ``error``: it failed, timed out, or answered something not bytes).

Plain Python, no OpenTelemetry: ``cache/metrics.py`` exports them.
"""

from __future__ import annotations

from predis.services.runtime.durations import DurationHistogram


class CacheDurations:
    """One histogram per front end and command, and per origin outcome; series by tenant."""

    def __init__(self) -> None:
        self.grpc_get = DurationHistogram(["tenant"], {"frontend": "grpc"})
        self.grpc_set = DurationHistogram(["tenant"], {"frontend": "grpc"})
        self.resp_get = DurationHistogram(["tenant"], {"frontend": "resp"})
        self.resp_set = DurationHistogram(["tenant"], {"frontend": "resp"})
        self.origin_ok = DurationHistogram(["tenant"], {"outcome": "ok"})
        self.origin_error = DurationHistogram(["tenant"], {"outcome": "error"})
        # The RESP commands timed, by the command table's name.
        self.resp_commands = {"get": self.resp_get, "set": self.resp_set}

    @property
    def get(self) -> list[DurationHistogram]:
        return [self.grpc_get, self.resp_get]

    @property
    def set(self) -> list[DurationHistogram]:
        return [self.grpc_set, self.resp_set]

    @property
    def origin(self) -> list[DurationHistogram]:
        return [self.origin_ok, self.origin_error]
