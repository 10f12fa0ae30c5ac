"""String commands: GET, SET and their kin, MGET/MSET, APPEND, ranges (GETRANGE and its old name
SUBSTR), counters.

Reads that answer a value (GET, MGET, GETEX, GETDEL, GETSET, SET ... GET, GETRANGE, STRLEN) go
through the domain's ``get``/``get_many``: they count as reads, feed the prefetch loop and, in
database 0, read through to the origin. Read-modify-write commands (APPEND, SETRANGE, INCR*)
``peek`` and ``set`` with no ``await`` between, so no other command runs in between; they never
read through (a write makes the cache's value the one that counts).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine

from predis.services.cache.domain import Condition
from predis.services.cache.engine.engine import BatchRead
from predis.services.cache.engine.storage import KeyBatch
from predis.services.resp.arguments import LLONG_MAX, LLONG_MIN, option, to_int, to_long_double
from predis.services.resp.context import Args, Handler, Later, RespContext
from predis.services.resp.databases import ReservedKey
from predis.services.resp.replies import (
    ENCODED_OK,
    NOT_AN_INTEGER,
    OK,
    SYNTAX_ERROR,
    Encoded,
    Reply,
    bulk_array,
    bulk_strings,
    err,
    error,
)
from predis.services.resp.session import Session

OVERFLOW = err("increment or decrement would overflow")
NOT_A_FLOAT = err("value is not a valid float")
TOO_LONG = err("string exceeds maximum allowed size (proto-max-bulk-len)")
NOT_STORED = error("OOM command not allowed when used memory > 'maxmemory'. (the cache declined to hold the value)")


def now_ms() -> int:
    """Unix milliseconds now (Redis's command time)."""
    return time.time_ns() // 1_000_000


def _reads_through(session: Session) -> bool:
    """Only database 0 reads through: the origin knows keys as they are, not behind a prefix."""
    return session.database.index == 0


async def _read(ctx: RespContext, session: Session, key: bytes) -> bytes | None:
    result = await ctx.domain.get(session.tenant, key, skip_origin=not _reads_through(session))
    return result.value


def get_now(ctx: RespContext, session: Session, key: bytes) -> Reply | Later:
    """GET of ``key`` without a coroutine: the value or None; Later for a miss read through."""
    stored = session.database.key(key)
    value, reads_through = ctx.domain.value_now(session.tenant, stored, skip_origin=not _reads_through(session))
    return Later(_filled(ctx, session, stored)) if reads_through else value


async def _filled(ctx: RespContext, session: Session, stored: bytes) -> Reply:
    return (await ctx.domain.fill(session.tenant, stored)).value


def mget_now(ctx: RespContext, session: Session, keys: KeyBatch) -> Reply | Later:
    """MGET of ``keys`` as stored (none empty or reserved) without a coroutine: the encoded
    array; Later when misses read through the origin."""
    read, complete = ctx.domain.get_many_now(session.tenant, keys, skip_origin=not _reads_through(session))
    if not complete:
        return Later(_mget_filled(ctx, session, keys, read))
    return bulk_array(read.values, read.lengths, read.found, session.resp3)


def get_run_now(
    ctx: RespContext, session: Session, keys: KeyBatch
) -> Encoded | Coroutine[object, None, list[bytes | None | Exception]]:
    """A read's run of GETs of ``keys`` as stored (plain: distinct, none empty or reserved)
    without a coroutine: the replies encoded as one; when misses read through the origin, the
    coroutine that gives each key's value, None, or the exception its own fill raised."""
    read, complete = ctx.domain.get_many_now(session.tenant, keys, skip_origin=not _reads_through(session))
    if not complete:
        return ctx.domain.fill_each(session.tenant, keys, read)
    return bulk_strings(read.values, read.lengths, read.found, session.resp3)


async def _mget_filled(ctx: RespContext, session: Session, keys: KeyBatch, read: BatchRead) -> Reply:
    values, lengths, found = await ctx.domain.fill_many(session.tenant, keys, read)
    return bulk_array(values, lengths, found, session.resp3)


def set_now(ctx: RespContext, session: Session, key: bytes, value: bytes) -> Reply:
    """``SET key value`` with no options: OK, or the cache's refusal."""
    return OK if ctx.domain.set(session.tenant, session.database.key(key), value) else NOT_STORED  # _store's, no expiry


def _expire_error(name: str) -> Reply:
    return err(f"invalid expire time in '{name}' command")


# -- SET's and GETEX's options ----------------------------------------------------------------


class ExpiryOptions:
    """What SET's or GETEX's options asked for (Redis's ``parseExtendedStringArgumentsOrReply``)."""

    __slots__ = ("nx", "xx", "get", "keep_ttl", "persist", "unit", "absolute", "expire")

    def __init__(self) -> None:
        self.nx = self.xx = self.get = self.keep_ttl = self.persist = False
        self.unit = ""  # EX, PX, EXAT or PXAT
        self.absolute = False
        self.expire: bytes | None = None


def parse_expiry_options(args: Args, start: int, for_set: bool) -> ExpiryOptions | None:
    """The options from ``args[start:]``, or None for Redis's syntax error. The combinations
    Redis refuses are refused in the same order: an expiry with KEEPTTL or PERSIST or another kind
    of expiry, NX with XX; the same option twice is allowed (the last expiry counts)."""
    opts = ExpiryOptions()
    i = start
    while i < len(args):
        word = option(args[i])
        has_next = i + 1 < len(args)
        timed = opts.unit
        if word == b"NX" and for_set and not opts.xx:
            opts.nx = True
        elif word == b"XX" and for_set and not opts.nx:
            opts.xx = True
        elif word == b"GET" and for_set:
            opts.get = True
        elif word == b"KEEPTTL" and for_set and not opts.persist and not timed:
            opts.keep_ttl = True
        elif word == b"PERSIST" and not for_set and not timed and not opts.keep_ttl:
            opts.persist = True
        elif word in (b"EX", b"PX", b"EXAT", b"PXAT") and has_next and not opts.keep_ttl and not opts.persist:
            if timed and timed != word.decode():
                return None
            opts.unit = word.decode()
            opts.absolute = word.endswith(b"AT")
            opts.expire = args[i + 1]
            i += 1
        else:
            return None
        i += 1
    return opts


def expiry_ms(opts: ExpiryOptions, now: int) -> int | None:
    """The expiry as Unix milliseconds, or None for Redis's invalid expire time: not positive,
    or past a signed 64-bit count of milliseconds once converted and added to now."""
    assert opts.expire is not None
    value = to_int(opts.expire)
    if value is None:
        raise _NotAnInteger
    seconds = opts.unit in ("EX", "EXAT")
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        return None
    if seconds:
        value *= 1000
    if not opts.absolute:
        if value > LLONG_MAX - now:
            return None
        value += now
    return value


class _NotAnInteger(Exception):
    """An expiry that is not an integer: Redis's "value is not an integer or out of range"."""


# -- commands ---------------------------------------------------------------------------------


async def get(ctx: RespContext, session: Session, args: Args) -> Reply:
    return await _read(ctx, session, session.database.key(args[1]))


def _distinct_stored_keys(session: Session, keys: list[bytes]) -> list[bytes] | None:
    """The keys of a run as stored (``session``'s database); None when one is named twice or reserved."""
    try:
        stored = session.database.keys(keys)
    except ReservedKey:
        return None
    return stored if len(set(stored)) == len(stored) else None


async def get_each(
    ctx: RespContext, session: Session, keys: list[bytes], together: bool = False
) -> list[bytes | None | Exception] | Encoded | None:
    """GET of each of ``keys``, a pipeline's run (``CommandTable.run_together``), in one read: each
    value, None for a miss, or the exception its read through the origin raised. With
    ``together``, when nothing was read through, the replies of the whole run encoded in one
    compiled call instead. None when the run must be answered one by one: a key named twice (a
    miss read through would make the second one a hit) or reserved."""
    stored = _distinct_stored_keys(session, keys)
    if stored is None:
        return None
    return await get_batch(ctx, session, stored, together)


async def get_batch(
    ctx: RespContext, session: Session, stored: list[bytes] | KeyBatch, together: bool = False
) -> list[bytes | None | Exception] | Encoded:
    """:func:`get_each` of keys already as stored and distinct (a list, or packed where a read's
    requests hold them)."""
    results = await ctx.domain.get_each(
        session.tenant, stored, skip_origin=not _reads_through(session), packed=together
    )
    if isinstance(results, list):
        return results
    return bulk_strings(results.values, results.lengths, results.found, session.resp3)


def set_each(
    ctx: RespContext, session: Session, keys: list[bytes], values: list[bytes], together: bool = False
) -> list[Reply] | Encoded | None:
    """SET of each key to its value (no options), a pipeline's run (``CommandTable.run_together``),
    in one batch write: each reply, OK or the cache's refusal; with ``together``, when every
    key was stored, the run's replies encoded as one. None when the run must be answered one by
    one: a key named twice (the last SET wins, which a batch does not say) or reserved. A batch
    the cache refuses whole raises before anything changed."""
    stored_keys = _distinct_stored_keys(session, keys)
    if stored_keys is None:
        return None
    return set_batch(ctx, session, KeyBatch.of(stored_keys), KeyBatch.of(values), together)


def set_batch(
    ctx: RespContext, session: Session, stored: KeyBatch, values: KeyBatch, together: bool = False
) -> list[Reply] | Encoded:
    """:func:`set_each` of keys already as stored and distinct (packed, or where a read's
    requests hold them, as their values)."""
    written = ctx.domain.set_many(session.tenant, stored, values)
    if together and written.all():
        return Encoded(ENCODED_OK * len(stored))
    return [OK if ok else NOT_STORED for ok in written.tolist()]


async def set_(ctx: RespContext, session: Session, args: Args) -> Reply:
    opts = parse_expiry_options(args, 3, for_set=True)
    if opts is None:
        return SYNTAX_ERROR
    return await _set(ctx, session, "set", args[1], args[2], opts)


async def _set(ctx: RespContext, session: Session, name: str, key: bytes, value: bytes, opts: ExpiryOptions) -> Reply:
    """Redis's ``setGenericCommand``: the expiry checked first, then the old value read (GET),
    then the write under NX/XX."""
    stored_key = session.database.key(key)
    now = expires = 0  # the command's time: only an expiry needs it
    if opts.expire is not None:
        now = now_ms()
        try:
            when = expiry_ms(opts, now)
        except _NotAnInteger:
            return NOT_AN_INTEGER
        if when is None:
            return _expire_error(name)
        expires = when
    old = await _read(ctx, session, stored_key) if opts.get else None
    condition = Condition.IF_ABSENT if opts.nx else Condition.IF_PRESENT if opts.xx else Condition.ALWAYS
    stored = _store(ctx, session, stored_key, value, expires, now, condition, opts.keep_ttl, opts.absolute)
    if opts.get:
        return old
    if not stored:
        return None if condition is not Condition.ALWAYS else NOT_STORED
    return OK


def _store(
    ctx: RespContext,
    session: Session,
    stored_key: bytes,
    value: bytes,
    expires: int,
    now: int,
    condition: Condition = Condition.ALWAYS,
    keep_ttl: bool = False,
    absolute: bool = False,
) -> bool:
    """Writes with an expiry in Unix milliseconds (0: none); one already past stores and at
    once removes, as Redis leaves such a key to expire on its next access. An ``absolute``
    expiry (EXAT, PXAT) is then set as the very time asked, so that PEXPIRETIME answers it."""
    ttl = expires - now if expires else 0
    stored = ctx.domain.set(session.tenant, stored_key, value, max(ttl, 1) if expires else 0, condition, keep_ttl)
    if stored and expires and ttl <= 0:
        ctx.domain.delete(session.tenant, [stored_key])
    elif stored and expires and absolute:
        ctx.domain.expire_at(session.tenant, stored_key, expires)
    return stored


async def getex(ctx: RespContext, session: Session, args: Args) -> Reply:
    opts = parse_expiry_options(args, 2, for_set=False)
    if opts is None:
        return SYNTAX_ERROR
    key = session.database.key(args[1])
    value = await _read(ctx, session, key)
    if value is None:
        return None
    tenant = session.tenant
    if opts.expire is not None:
        now = now_ms()
        try:
            when = expiry_ms(opts, now)
        except _NotAnInteger:
            return NOT_AN_INTEGER
        if when is None:
            return _expire_error("getex")
        if when <= now:
            ctx.domain.delete(tenant, [key])
        elif opts.absolute:
            ctx.domain.expire_at(tenant, key, when)
        else:
            ctx.domain.expire(tenant, key, when - now)
    elif opts.persist:
        ctx.domain.expire(tenant, key, 0, persist=True)
    return value


async def getdel(ctx: RespContext, session: Session, args: Args) -> Reply:
    key = session.database.key(args[1])
    value = await _read(ctx, session, key)
    if value is not None:
        ctx.domain.delete(session.tenant, [key])
    return value


async def getset(ctx: RespContext, session: Session, args: Args) -> Reply:
    key = session.database.key(args[1])
    old = await _read(ctx, session, key)
    if not ctx.domain.set(session.tenant, key, args[2]):
        return NOT_STORED
    return old


def setnx(ctx: RespContext, session: Session, args: Args) -> Reply:
    key = session.database.key(args[1])
    return int(ctx.domain.set(session.tenant, key, args[2], condition=Condition.IF_ABSENT))


async def setex(ctx: RespContext, session: Session, args: Args) -> Reply:
    return await _set_for(ctx, session, "setex", args, "EX")


async def psetex(ctx: RespContext, session: Session, args: Args) -> Reply:
    return await _set_for(ctx, session, "psetex", args, "PX")


async def _set_for(ctx: RespContext, session: Session, name: str, args: Args, unit: str) -> Reply:
    opts = ExpiryOptions()
    opts.unit, opts.expire = unit, args[2]
    return await _set(ctx, session, name, args[1], args[3], opts)


async def mget(ctx: RespContext, session: Session, args: Args) -> Reply:
    reply = mget_now(ctx, session, KeyBatch.of(session.database.keys(args[1:])))
    return await reply.reply if isinstance(reply, Later) else reply


def _pairs(session: Session, args: Args) -> dict[bytes, bytes] | None:
    """MSET's keys and values, a key named twice holding its last value (as Redis sets in order)."""
    if len(args) % 2 == 0:
        return None
    keys = session.database.keys(args[1::2])
    return dict(zip(keys, args[2::2], strict=True))


def mset(ctx: RespContext, session: Session, args: Args) -> Reply:
    pairs = _pairs(session, args)
    if pairs is None:
        return err("wrong number of arguments for 'mset' command")
    ctx.domain.set_many(session.tenant, KeyBatch.of(list(pairs)), KeyBatch.of(list(pairs.values())))
    return OK


def msetnx(ctx: RespContext, session: Session, args: Args) -> Reply:
    pairs = _pairs(session, args)
    if pairs is None:
        return err("wrong number of arguments for 'msetnx' command")
    if ctx.domain.exists(session.tenant, list(pairs)):
        return 0
    ctx.domain.set_many(session.tenant, KeyBatch.of(list(pairs)), KeyBatch.of(list(pairs.values())))
    return 1


def _fits(ctx: RespContext, length: int) -> bool:
    return length <= ctx.settings.proto_max_bulk_len


def append(ctx: RespContext, session: Session, args: Args) -> Reply:
    key = session.database.key(args[1])
    old = ctx.domain.peek(session.tenant, key)
    if old is not None and not _fits(ctx, len(old) + len(args[2])):
        return TOO_LONG
    value = args[2] if old is None else old + args[2]
    if not ctx.domain.set(session.tenant, key, value, keep_ttl=True):
        return NOT_STORED
    return len(value)


async def strlen(ctx: RespContext, session: Session, args: Args) -> Reply:
    value = await _read(ctx, session, session.database.key(args[1]))
    return 0 if value is None else len(value)


async def getrange(ctx: RespContext, session: Session, args: Args) -> Reply:
    start, end = to_int(args[2]), to_int(args[3])
    if start is None or end is None:
        return NOT_AN_INTEGER
    value = await _read(ctx, session, session.database.key(args[1]))
    if value is None or (start < 0 and end < 0 and start > end):
        return b""
    size = len(value)
    start = max(start + size if start < 0 else start, 0)
    end = max(end + size if end < 0 else end, 0)
    end = min(end, size - 1)
    return b"" if start > end or size == 0 else value[start : end + 1]


def setrange(ctx: RespContext, session: Session, args: Args) -> Reply:
    offset = to_int(args[2])
    if offset is None:
        return NOT_AN_INTEGER
    if offset < 0:
        return err("offset is out of range")
    key, patch = session.database.key(args[1]), args[3]
    old = ctx.domain.peek(session.tenant, key)
    if not patch:
        return 0 if old is None else len(old)
    if not _fits(ctx, offset + len(patch)):
        return TOO_LONG
    value = old or b""
    if len(value) < offset + len(patch):
        value = value.ljust(offset + len(patch), b"\0")
    value = value[:offset] + patch + value[offset + len(patch) :]
    if not ctx.domain.set(session.tenant, key, value, keep_ttl=True):
        return NOT_STORED
    return len(value)


def _increment(ctx: RespContext, session: Session, raw_key: bytes, by: int) -> Reply:
    key = session.database.key(raw_key)
    old = ctx.domain.peek(session.tenant, key)
    current = 0 if old is None else to_int(old)
    if current is None:
        return NOT_AN_INTEGER
    if (by < 0 and current < 0 and by < LLONG_MIN - current) or (by > 0 and current > 0 and by > LLONG_MAX - current):
        return OVERFLOW
    value = current + by
    if not ctx.domain.set(session.tenant, key, b"%d" % value, keep_ttl=True):
        return NOT_STORED
    return value


def incr(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _increment(ctx, session, args[1], 1)


def decr(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _increment(ctx, session, args[1], -1)


def incrby(ctx: RespContext, session: Session, args: Args) -> Reply:
    by = to_int(args[2])
    return NOT_AN_INTEGER if by is None else _increment(ctx, session, args[1], by)


def decrby(ctx: RespContext, session: Session, args: Args) -> Reply:
    by = to_int(args[2])
    if by is None:
        return NOT_AN_INTEGER
    if by == LLONG_MIN:
        return err("decrement would overflow")
    return _increment(ctx, session, args[1], -by)


def incrbyfloat(ctx: RespContext, session: Session, args: Args) -> Reply:
    key = session.database.key(args[1])
    old = ctx.domain.peek(session.tenant, key)
    current = to_long_double(b"0" if old is None else old)
    by = to_long_double(args[2])
    if current is None or by is None:
        return NOT_A_FLOAT
    total = current + by
    if not total.is_finite():
        return err("increment would produce NaN or Infinity")
    value = total.human()
    if not ctx.domain.set(session.tenant, key, value, keep_ttl=True):
        return NOT_STORED
    return value


HANDLERS: dict[str, Handler] = {
    "get": get,
    "set": set_,
    "getex": getex,
    "getdel": getdel,
    "getset": getset,
    "setnx": setnx,
    "setex": setex,
    "psetex": psetex,
    "mget": mget,
    "mset": mset,
    "msetnx": msetnx,
    "append": append,
    "strlen": strlen,
    "getrange": getrange,
    "substr": getrange,  # GETRANGE's old name, the same command in Redis 7.0
    "setrange": setrange,
    "incr": incr,
    "decr": decr,
    "incrby": incrby,
    "decrby": decrby,
    "incrbyfloat": incrbyfloat,
}
