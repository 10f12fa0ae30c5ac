"""``predis bench wire``: the cost of moving a batch of keys and values through protobuf, packed as
a KeyBlock (one blob + little-endian lengths) versus as ``repeated bytes``, timed separately for
the server (decode the keys into the engine's packed form; encode the values the engine returns
as one blob) and for the client (encode the keys; decode the values into a list of bytes)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from predis.packing import lengths_of, pack, unpack
from predis.services.bench import machine
from predis.services.cache.engine.storage import KeyBatch
from predis.v1 import cache_pb2


class _Batch:
    def __init__(self, batch: int, value_size: int) -> None:
        rng = np.random.default_rng(0)
        self.keys = [b"key:%012d" % k for k in rng.integers(0, 10**6, batch)]
        values = [rng.bytes(value_size) for _ in range(batch)]
        # What the engine hands the servicer: all values in one blob, and their lengths.
        self.value_blob = b"".join(values)
        self.value_lengths = np.full(batch, value_size, dtype="<u4")
        self.packed_request = cache_pb2.BatchGetRequest(keys=pack(self.keys)).SerializeToString()
        self.repeated_request = cache_pb2.DeleteRequest(keys=self.keys).SerializeToString()
        self.packed_reply = self._packed_reply().SerializeToString()
        # DeleteRequest is a message whose only field is `repeated bytes`: the other wire shape.
        self.repeated_reply = cache_pb2.DeleteRequest(keys=values).SerializeToString()

    def _packed_reply(self) -> cache_pb2.BatchGetResponse:
        block = cache_pb2.KeyBlock(data=self.value_blob, lengths=self.value_lengths.tobytes())
        return cache_pb2.BatchGetResponse(values=block)

    def server_packed(self) -> None:
        request = cache_pb2.BatchGetRequest.FromString(self.packed_request)
        KeyBatch.from_blob(request.keys.data, lengths_of(request.keys))
        self._packed_reply().SerializeToString()

    def server_repeated(self) -> None:
        items = list(cache_pb2.DeleteRequest.FromString(self.repeated_request).keys)
        KeyBatch.from_blob(b"".join(items), np.fromiter((len(k) for k in items), dtype=np.int64, count=len(items)))
        ends = np.cumsum(self.value_lengths, dtype=np.int64).tolist()
        blob = self.value_blob
        values = [blob[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
        cache_pb2.DeleteRequest(keys=values).SerializeToString()

    def client_packed(self) -> None:
        cache_pb2.BatchGetRequest(keys=pack(self.keys)).SerializeToString()
        unpack(cache_pb2.BatchGetResponse.FromString(self.packed_reply).values)

    def client_repeated(self) -> None:
        cache_pb2.DeleteRequest(keys=self.keys).SerializeToString()
        list(cache_pb2.DeleteRequest.FromString(self.repeated_reply).keys)


def _median_us(fn: Callable[[], None], reps: int) -> float:
    fn()
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return round(float(np.median(samples)) * 1e6, 1)


def run_wire(batch: int = 1000, value_size: int = 100, reps: int = 300) -> dict[str, object]:
    b = _Batch(batch, value_size)
    return {
        "batch": batch,
        "value_size": value_size,
        "server_packed_us": _median_us(b.server_packed, reps),
        "server_repeated_us": _median_us(b.server_repeated, reps),
        "client_packed_us": _median_us(b.client_packed, reps),
        "client_repeated_us": _median_us(b.client_repeated, reps),
        "machine": machine(),
    }
