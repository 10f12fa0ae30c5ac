"""Reads of plain keys answered in one compiled call from their bytes to their replies: a read that
is a run of GETs, and one that is one MGET.

A client pipelining GETs (redis-benchmark ``-P 16``, a redis-py pipeline) sends reads that are
nothing else, and an MGET is a read of many keys in one request. In Python each is a dozen
compiled calls and the objects between them, most of the request's time. :func:`answer_get_run`
and :func:`answer_mget` compose the same kernels in one: the parser's walk (``protocol.get_run``,
``protocol.mget_keys``), the cache's recorded read (``cache/compiled_read.py``) and the bulk
encoder (``replies.encode_bulk_array``). Each answers nothing, having changed nothing, for a read
that is not what it takes or that the cache's kernel leaves to the ordinary read; the connection
then takes the ordinary way (the same replies, slower).
"""

from __future__ import annotations

import numba
import numpy as np

from predis.services.cache.compiled_read import DONE, read_recorded
from predis.services.resp.protocol import get_run, mget_keys
from predis.services.resp.replies import encode_bulk_array


@numba.njit(cache=True, inline="always")
def _read_encoded(
    data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, null: np.ndarray, state: tuple, array: bool
) -> tuple[np.ndarray, int, int]:
    """The cache's read of the keys and its replies (an array of them when ``array``), the hits a
    prefetch had loaded and the shadow's answer; no replies (an empty array) when it declined."""
    status, values, vlens, found, prefetched_hits, held = read_recorded(data, offsets, lengths, *state)
    if status != DONE:
        return np.empty(0, dtype=np.uint8), 0, 0
    out = np.empty(len(values) + 24 * (len(lengths) + 1), dtype=np.uint8)  # 24: the longest header of one
    used = encode_bulk_array(values, vlens, found, null, out, array)
    return out[:used], prefetched_hits, held


@numba.njit(cache=True)
def answer_get_run(
    data: np.ndarray, limit: int, null: np.ndarray, state: tuple
) -> tuple[np.ndarray, int, int, int, int, int]:
    """The replies to ``data`` when it is a run of two to ``limit`` plain GETs (``get_run``'s
    walk) and the cache read it whole (``state``: ``CacheDomain.compiled_read_state``'s): the
    bulk strings (``null`` for a miss); how many keys were read, how many commands they count as
    and the last one's argument bytes (CLIENT LIST's argv-mem); how many hits a prefetch had
    loaded and the shadow's answer, for ``CacheDomain.compiled_read_done``. No keys (0) when it
    answered nothing."""
    count, offsets, lengths, plain = get_run(data, limit)
    if count == 0 or not plain:
        return np.empty(0, dtype=np.uint8), 0, 0, 0, 0, 0
    out, prefetched_hits, held = _read_encoded(data, offsets, lengths, null, state, False)
    if not len(out):
        return out, 0, 0, 0, 0, 0
    return out, count, count, 3 + lengths[count - 1], prefetched_hits, held


@numba.njit(cache=True)
def answer_mget(data: np.ndarray, null: np.ndarray, state: tuple) -> tuple[np.ndarray, int, int, int, int, int]:
    """:func:`answer_get_run` of a read that is one MGET of plain keys (``mget_keys``'s walk; a key
    named twice is read twice, as MGET does): the array reply, then as :func:`answer_get_run`
    (one command, its arguments' bytes)."""
    count, offsets, lengths, plain = mget_keys(data)
    if count == 0 or not plain:
        return np.empty(0, dtype=np.uint8), 0, 0, 0, 0, 0
    out, prefetched_hits, held = _read_encoded(data, offsets, lengths, null, state, True)
    if not len(out):
        return out, 0, 0, 0, 0, 0
    return out, count, 1, 4 + lengths.sum(), prefetched_hits, held


def warm_up() -> None:
    """Answers a run of GETs on a scratch cache, so that the kernel is compiled (or loaded) before a
    client waits on it: with the arrays of a cache as the service builds one (its types are the
    kernel's signature)."""
    from predis.services.cache.collector import AccessRing
    from predis.services.cache.domain import CacheDomain
    from predis.services.cache.engine.engine import Engine, EngineConfig
    from predis.services.cache.engine.numpy_storage import NumpyStorage
    from predis.services.cache.engine.storage import KeyBatch
    from predis.services.cache.shadow import ShadowCache

    engine = Engine(EngineConfig(memory_bytes=64 * 1024, policy="s3fifo"), NumpyStorage())
    shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge)
    domain = CacheDomain(engine, ring=AccessRing(16), shadow=shadow)
    domain.set_many("warm-up", KeyBatch.of([b"a"]), KeyBatch.of([b"1"]))
    domain.get_many_now("warm-up", KeyBatch.of([b"a", b"b"]))  # the tenant's shadow is made by its first read
    state = domain.compiled_read_state("warm-up")
    assert state is not None
    data = np.frombuffer(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", dtype=np.uint8)
    null = np.frombuffer(b"_\r\n", dtype=np.uint8)
    _, n, _, _, prefetched_hits, held = answer_get_run(data, 2, null, state)
    domain.compiled_read_done("warm-up", data, n, prefetched_hits, held)
    data = np.frombuffer(b"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n", dtype=np.uint8)
    state = domain.compiled_read_state("warm-up")
    assert state is not None
    _, n, _, _, prefetched_hits, held = answer_mget(data, null, state)
    domain.compiled_read_done("warm-up", data, n, prefetched_hits, held)
