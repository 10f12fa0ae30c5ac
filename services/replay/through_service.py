"""``predis replay --through-service ADDR``: a trace replayed through a running cache service, for
end-to-end numbers, through either of its front ends:

- ``ADDR`` a gRPC address (``127.0.0.1:7000``): the SDK, as a tenant of the replay's own
  (``replay-<pid>``);
- ``ADDR`` a Redis URL (``redis://[user:password@]HOST:PORT[/db]``): redis-py against the cache's
  RESP server (``PREDIS_RESP_LISTEN``), as the tenant the URL's user maps to (``default``
  without one), in the URL's database. ``rediss://`` is refused: the RESP server has no TLS.

Both replay the same requests the same way (cache-aside): each request is a read of the key that
does not ask the origin, and a miss is followed by a SET of a value of ``value_size`` bytes, so
the hit ratio is the service's own with its configured budget and policy. The keys sent are the
trace's ids as 8 big-endian bytes: the same (scrambled or recorded) ids the in-process replay
uses. A hit is a read that found a value, told from the reply; the scored window, the timeline
and the latencies come from the replies too, and the prefetch counts and entries from the
service's own counters (Stats, or INFO's ``prefetch`` and ``keyspace`` sections), taken before
the first request and after the last.

How the two front ends are kept comparable: a gRPC read skips the origin (``skip_origin``), but a
RESP GET cannot ask for that, and in database 0 of a cache with an origin it reads through, so a
value in its reply might be the origin's rather than the cache's. Telling the two apart per
request would take an INFO call per GET. Instead the RESP mode checks once, before the replay,
that a GET here does not read through: it GETs a key nobody set and looks whether INFO's
``origin_fetches`` or ``origin_errors`` moved. If they did, the replay is refused with what to do
(database 1 to 255 never reads through: ``redis://HOST:PORT/1``; or a cache without
``PREDIS_ORIGIN``). Past that check a reply's value can only be the cache's, so a reply-counted hit
is the cache's hit, as for gRPC, and both modes send the engine the same reads and writes in the
same order: on a plain cache (no prefetching) they give the same hit ratio.

The replay starts from an empty tenant: the gRPC mode flushes its own tenant; the RESP mode
empties the URL's database (FLUSHDB), so point it at a database of its own. A tenant's databases
share its memory, so keys of its other databases take room from the replay. A flush keeps
S3-FIFO's ghost (the ids of keys it evicted), so a tenant that has evicted before does not start
as a new one would: for numbers equal to the gRPC mode's, replay as a RESP user of its own
(``PREDIS_RESP_USERS``); the replay says so when its tenant has evicted before.

The replay loop is one (:func:`replay_cache_aside`) over a small :class:`CacheFrontEnd`
interface; :func:`open_front_end` opens the adapter an address names. ``predis bench
resp-prefetch`` reads through the same adapters."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.errors import PredisError
from predis.services.replay.libcachesim_runner import per_percent
from predis.services.replay.runner import Progress, Row, timeline_of
from predis.services.replay.traces import Trace

T = TypeVar("T")
RESP_SCHEMES = ("redis", "rediss")
PROBE_KEY = b"predis-replay:read-through-probe"
RESP_TIMEOUT_S = 10.0  # a read may wait on a slow origin (the bench reads through)


class FrontEndError(Exception):
    """A cache front end could not be reached, refused a call, or cannot give comparable numbers;
    the message names the address and says why."""


@dataclass(frozen=True)
class TenantState:
    """One front end's view of its tenant at one moment: counters since the tenant began, and
    what it holds."""

    hits: int
    misses: int
    evictions: int
    origin_fetches: int
    prefetches_issued: int  # started (gRPC: the learned loop's; INFO: every issuer's, the same without hints)
    prefetches_loaded: int  # landed in the cache (Stats ``prefetches``, INFO ``prefetches_loaded``)
    prefetches_used: int  # read before they left
    prefetches_late: int  # read while still loading: the read waited for the origin
    entries: int  # the tenant's (gRPC) or the selected database's (RESP)
    policy: str

    def since(self, before: TenantState) -> TenantState:
        """Counters between ``before`` and this state; entries and policy as now."""
        return replace(
            self,
            hits=self.hits - before.hits,
            misses=self.misses - before.misses,
            evictions=self.evictions - before.evictions,
            origin_fetches=self.origin_fetches - before.origin_fetches,
            prefetches_issued=self.prefetches_issued - before.prefetches_issued,
            prefetches_loaded=self.prefetches_loaded - before.prefetches_loaded,
            prefetches_used=self.prefetches_used - before.prefetches_used,
            prefetches_late=self.prefetches_late - before.prefetches_late,
        )

    @property
    def hit_ratio(self) -> float:
        reads = self.hits + self.misses
        return self.hits / reads if reads else 0.0


class CacheFrontEnd(Protocol):
    """What a replay asks of a cache, through one front end; every failed call raises
    :class:`FrontEndError`."""

    where: str  # the address, without a password

    def flush(self) -> None:
        """Empties the replay's tenant (gRPC) or database (RESP)."""

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``; None on a miss."""

    def set(self, key: bytes, value: bytes) -> None: ...

    def reads_through(self) -> bool:
        """Whether a miss of :meth:`get` may ask the origin."""

    def state(self) -> TenantState: ...

    def close(self) -> None: ...


class GrpcFrontEnd:
    """The SDK as ``tenant``; reads skip the origin unless ``read_through``."""

    def __init__(self, address: str, tenant: str, read_through: bool = False) -> None:
        self.where = address
        self._skip_origin = not read_through
        self._client = Client(address, config=ClientConfig(tenant=tenant, tracing=False))

    def _call(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return call(*args, **kwargs)
        except PredisError as error:
            raise FrontEndError(f"{self.where}: {error}") from None

    def flush(self) -> None:
        self._call(self._client.flush)

    def get(self, key: bytes) -> bytes | None:
        return self._call(self._client.get, key, skip_origin=self._skip_origin)

    def set(self, key: bytes, value: bytes) -> None:
        self._call(self._client.set, key, value)

    def reads_through(self) -> bool:
        return not self._skip_origin

    def state(self) -> TenantState:
        stats = self._call(self._client.stats)
        t = stats.tenant
        return TenantState(
            hits=t.hits,
            misses=t.misses,
            evictions=t.evictions,
            origin_fetches=t.origin_fetches,
            prefetches_issued=stats.prefetcher.prefetches_started,
            prefetches_loaded=t.prefetches,
            prefetches_used=t.prefetches_used,
            prefetches_late=stats.prefetcher.prefetches_late,
            entries=t.entries,
            policy=stats.engine.policy,
        )

    def close(self) -> None:
        self._client.close()


class RespFrontEnd:
    """redis-py on a ``redis://`` URL (user, password and database as the URL gives them). A GET
    reads through the origin where the server does so (database 0 of a cache with an origin)."""

    def __init__(self, url: str) -> None:
        self.where = without_password(url)
        try:
            import redis
        except ImportError:
            raise FrontEndError("the RESP mode needs redis-py: pip install redis") from None
        self._failures: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._refusal: type[Exception] = redis.ResponseError  # an error reply, the connection fine
        try:
            self._redis = redis.Redis.from_url(url, socket_timeout=RESP_TIMEOUT_S, socket_connect_timeout=5.0)
        except ValueError as error:
            raise FrontEndError(f"{self.where}: not a Redis URL ({error})") from None
        self._db = int(self._redis.connection_pool.connection_kwargs.get("db", 0))
        self._call(self._redis.ping)  # connects, authenticates and selects now: a bad URL fails here

    def _call(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except self._failures as error:
            raise FrontEndError(f"{self.where}: {type(error).__name__}: {error}") from None

    def flush(self) -> None:
        self._call(self._redis.flushdb)

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._call(self._redis.get, key)
        return value

    def set(self, key: bytes, value: bytes) -> None:
        self._call(self._redis.set, key, value)

    def reads_through(self) -> bool:
        """A GET of a key nobody set, and whether the origin was asked (or failed) meanwhile."""
        before = self._origin_calls()
        try:
            self._redis.get(PROBE_KEY)
        except self._refusal:
            return True  # the origin failed or timed out: a GET here asks it
        except self._failures as error:
            raise FrontEndError(f"{self.where}: {type(error).__name__}: {error}") from None
        self._call(self._redis.delete, PROBE_KEY)  # an origin might have had it
        return self._origin_calls() > before

    def _origin_calls(self) -> int:
        stats = self._call(self._redis.info, "stats")
        return int(stats.get("origin_fetches", 0)) + int(stats.get("origin_errors", 0))

    def state(self) -> TenantState:
        info = self._call(self._redis.info, "stats", "prefetch", "memory", "keyspace")
        database = info.get(f"db{self._db}")
        return TenantState(
            hits=int(info["keyspace_hits"]),
            misses=int(info["keyspace_misses"]),
            evictions=int(info.get("evicted_keys", 0)),
            origin_fetches=int(info.get("origin_fetches", 0)),
            prefetches_issued=int(info.get("prefetches_issued", 0)),
            prefetches_loaded=int(info.get("prefetches_loaded", 0)),
            prefetches_used=int(info.get("prefetches_used", 0)),
            prefetches_late=int(info.get("prefetches_late", 0)),
            entries=int(database["keys"]) if isinstance(database, dict) else 0,
            policy=str(info.get("maxmemory_policy", "")).removeprefix("allkeys-"),
        )

    def close(self) -> None:
        self._redis.close()


def is_resp_address(address: str) -> bool:
    """Whether ``address`` is a Redis URL (``redis://``, ``rediss://``) rather than a gRPC address."""
    return address.lower().startswith(tuple(f"{scheme}://" for scheme in RESP_SCHEMES))


def without_password(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``: what messages may print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_resp_url(url: str) -> None:
    """Refuses what the RESP mode cannot use, with what to do instead."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "rediss":
        raise FrontEndError(
            f"{without_password(url)}: rediss:// asks for TLS, which Predis's RESP server does not have "
            "(TLS is not built; see docs/redis.md): use redis:// on a trusted network"
        )
    if not parts.hostname:
        raise FrontEndError(f"{without_password(url)}: a Redis URL needs a host: redis://HOST:PORT[/db]")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise FrontEndError(f"{without_password(url)}: the database must be a number (redis://HOST:PORT/1)")


@contextmanager
def open_front_end(address: str, tenant: str, read_through: bool = False) -> Iterator[CacheFrontEnd]:
    """The adapter ``address`` names (a Redis URL: RESP; anything else: a gRPC address), closed on
    exit. ``tenant`` and ``read_through`` are the gRPC mode's: over RESP the URL's user is the
    tenant and a GET reads through where the server does."""
    front: GrpcFrontEnd | RespFrontEnd
    if is_resp_address(address):
        check_resp_url(address)
        front = RespFrontEnd(address)
    else:
        front = GrpcFrontEnd(address, tenant, read_through)
    try:
        yield front
    finally:
        front.close()


def replay_through_service(
    trace: Trace,
    address: str,
    train_fraction: float,
    value_size: int = 100,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> Row:
    """``trace`` replayed cache-aside through the cache at ``address`` (a gRPC address or a
    ``redis://`` URL); raises :class:`FrontEndError` when it cannot be reached or would read
    through its origin. ``say`` hears what makes the numbers less than they seem: a tenant that
    does not start as a new one would, and failed calls (the first one's message)."""
    with open_front_end(address, tenant=f"replay-{os.getpid()}") as cache:
        return replay_cache_aside(trace, cache, train_fraction, value_size, progress, say)


def replay_cache_aside(
    trace: Trace,
    cache: CacheFrontEnd,
    train_fraction: float,
    value_size: int = 100,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> Row:
    """Each request a read; a miss a SET of ``value_size`` zero bytes. Scored after the first
    ``train_fraction`` of the requests."""
    eval_from = int(train_fraction * trace.requests)
    value = bytes(value_size)
    cache.flush()
    if cache.reads_through():
        raise FrontEndError(
            f"{cache.where}: a GET that misses reads through the cache's origin here, so a hit could not be "
            "told from an origin read; replay through a database that never reads through "
            "(redis://HOST:PORT/1 to /255) or a cache without PREDIS_ORIGIN"
        )
    before = cache.state()
    if before.evictions and before.policy == "s3fifo" and say is not None:
        say(
            f"{cache.where}: this tenant evicted {before.evictions:,} entries before the replay; S3-FIFO's ghost "
            "of evicted keys outlives a flush, so its hit ratio can differ from a fresh tenant's (a RESP user "
            "of its own, PREDIS_RESP_USERS, is a fresh tenant)"
        )
    hit_flags = np.zeros(trace.requests, dtype=np.bool_)
    latencies = np.zeros(trace.requests, dtype=np.float64)
    errors = 0
    first_error: FrontEndError | None = None
    for i, obj in enumerate(trace.ids.tolist()):
        key = int(obj).to_bytes(8, "big")
        started = time.perf_counter()
        try:
            found = cache.get(key) is not None
            latencies[i] = time.perf_counter() - started
            hit_flags[i] = found
            if not found:
                cache.set(key, value)
        except FrontEndError as error:
            errors += 1
            first_error = first_error or error
        if progress is not None and i % 10_000 == 0:
            progress.step(f"{trace.name} through {cache.where}")
    end = cache.state()
    if first_error is not None and say is not None:
        say(f"{errors:,} calls failed; the first: {first_error}")
    counted = end.since(before)
    scored = trace.requests - eval_from
    hits = int(hit_flags[eval_from:].sum())
    t_hits, t_requests = per_percent(hit_flags, eval_from)
    ms = latencies * 1000
    return Row(
        trace=trace.name,
        requests=trace.requests,
        footprint=trace.footprint,
        cache_size=end.entries,
        policy=end.policy,
        source="service",
        hit_ratio=hits / scored if scored else 0.0,
        hits=hits,
        misses=scored - hits,
        prefetches=counted.prefetches_loaded,
        prefetch_used=counted.prefetches_used,
        origin_fetches=scored - hits,
        eval_from=eval_from,
        timeline=timeline_of(t_hits, t_requests),
        latency_p50_ms=round(float(np.percentile(ms, 50)), 3),
        latency_p99_ms=round(float(np.percentile(ms, 99)), 3),
        errors=errors,
        keys=trace.keys,
        scrambled_field=trace.scrambled_field,
        format=trace.format,
    )
