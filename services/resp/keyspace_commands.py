"""Keyspace commands: DEL, EXISTS, TYPE, RENAME, COPY, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB,
FLUSHALL, and expiry (EXPIRE and kin, TTL and kin, PERSIST).

Only strings exist here, so TYPE answers ``string`` or ``none``. Listing commands (KEYS, SCAN,
RANDOMKEY, DBSIZE, FLUSHDB) walk the tenant's keys and keep the selected database's
(``databases.py``): they cost O(keys of the tenant) per call, as KEYS does in Redis.
"""

from __future__ import annotations

import random

from predis.services.resp.arguments import INT_MAX, INT_MIN, LLONG_MAX, LLONG_MIN, c_text, option, to_int
from predis.services.resp.context import Args, Handler, RespContext
from predis.services.resp.databases import Database
from predis.services.resp.patterns import matcher
from predis.services.resp.replies import NOT_AN_INTEGER, OK, SYNTAX_ERROR, Reply, Status, err
from predis.services.resp.scan_order import ScanOrder, parse_cursor
from predis.services.resp.session import Session
from predis.services.resp.string_commands import NOT_STORED, now_ms

NO_SUCH_KEY = err("no such key")
# A connection keeps its SCAN iteration's listing only up to this many keys, so that many
# connections scanning a big tenant hold no more than this each; past it each call re-lists.
SCAN_LISTING_KEPT = 100_000
STRING = Status("string")
NONE = Status("none")


def delete(ctx: RespContext, session: Session, args: Args) -> Reply:
    return ctx.domain.delete(session.tenant, session.database.keys(args[1:]))


def exists(ctx: RespContext, session: Session, args: Args) -> Reply:
    return ctx.domain.exists(session.tenant, session.database.keys(args[1:]))


def type_(ctx: RespContext, session: Session, args: Args) -> Reply:
    return STRING if ctx.domain.exists(session.tenant, [session.database.key(args[1])]) else NONE


def _place(ctx: RespContext, tenant: str, target: bytes, value: bytes, expires_at_ms: int) -> bool:
    """Stores ``value`` at ``target`` with the expiry ``expires_at_ms`` (Unix ms; -1: none), the
    very time, so that PEXPIRETIME answers what it answered for the source; False when the cache
    declined the value."""
    if not ctx.domain.set(tenant, target, value):
        return False
    if expires_at_ms >= 0:
        ctx.domain.expire_at(tenant, target, expires_at_ms)
    return True


def _rename(ctx: RespContext, session: Session, args: Args, only_new: bool) -> Reply:
    """Redis's ``renameGenericCommand``: the value and its expiry move to the new name."""
    tenant, db = session.tenant, session.database
    source, target = db.key(args[1]), db.key(args[2])
    value = ctx.domain.peek(tenant, source)
    if value is None:
        return NO_SUCH_KEY
    if source == target:
        return 0 if only_new else OK
    if only_new and ctx.domain.exists(tenant, [target]):
        return 0
    if not _place(ctx, tenant, target, value, ctx.domain.expires_at_ms(tenant, source)):
        return NOT_STORED
    ctx.domain.delete(tenant, [source])
    return 1 if only_new else OK


def rename(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _rename(ctx, session, args, only_new=False)


def renamenx(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _rename(ctx, session, args, only_new=True)


def copy(ctx: RespContext, session: Session, args: Args) -> Reply:
    """COPY source destination [DB db] [REPLACE], as Redis 7.0's ``copyCommand``: the options in
    order (each DB checked as it comes), the same key in the same database (an error), then the
    source (the cached value, not read through, as for RENAME) and the destination; the expiry
    is copied."""
    replace, index = False, session.database.index
    i = 3
    while i < len(args):
        word = option(args[i])
        if word == b"REPLACE":
            replace = True
        elif word == b"DB" and i + 1 < len(args):
            chosen = to_int(args[i + 1])
            if chosen is None:
                return NOT_AN_INTEGER
            if not INT_MIN <= chosen <= INT_MAX:
                return err(f"value is out of range, value must between {INT_MIN} and {INT_MAX}")
            if not 0 <= chosen < ctx.settings.databases:
                return err("DB index is out of range")
            index = chosen
            i += 1
        else:
            return SYNTAX_ERROR
        i += 1
    tenant = session.tenant
    source = session.database.key(args[1])
    target = (session.database if index == session.database.index else Database(index)).key(args[2])
    if source == target:
        return err("source and destination objects are the same")
    value = ctx.domain.peek(tenant, source)
    if value is None:
        return 0
    if not replace and ctx.domain.exists(tenant, [target]):
        return 0
    if not _place(ctx, tenant, target, value, ctx.domain.expires_at_ms(tenant, source)):
        return NOT_STORED
    return 1


def _database_keys(ctx: RespContext, session: Session) -> list[bytes]:
    """The selected database's keys, as its clients name them."""
    if not ctx.domain.key_count(session.tenant):
        return []
    return session.database.client_keys(ctx.domain.keys(session.tenant))


def keys(ctx: RespContext, session: Session, args: Args) -> Reply:
    wanted = matcher(args[1])
    return [key for key in _database_keys(ctx, session) if wanted(key)]


def randomkey(ctx: RespContext, session: Session, args: Args) -> Reply:
    found = _database_keys(ctx, session)
    return random.choice(found) if found else None


def dbsize(ctx: RespContext, session: Session, args: Args) -> Reply:
    return len(_database_keys(ctx, session))


def _flush_mode(args: Args) -> Reply | None:
    if len(args) == 2 and option(args[1]) in (b"SYNC", b"ASYNC"):
        return None
    return SYNTAX_ERROR if len(args) > 1 else None


def flushdb(ctx: RespContext, session: Session, args: Args) -> Reply:
    refused = _flush_mode(args)
    if refused is not None:
        return refused
    tenant, db = session.tenant, session.database
    stored = ctx.domain.keys(tenant)
    mine = [key for key in stored if db.owns(key)]
    if len(mine) == len(stored):
        ctx.domain.flush(tenant)
    elif mine:
        ctx.domain.delete(tenant, mine)
    return OK


def flushall(ctx: RespContext, session: Session, args: Args) -> Reply:
    """Every database of the caller's tenant (never another tenant's keys)."""
    refused = _flush_mode(args)
    if refused is not None:
        return refused
    ctx.domain.flush(session.tenant)
    return OK


# -- SCAN -------------------------------------------------------------------------------------


def scan(ctx: RespContext, session: Session, args: Args) -> Reply:
    """SCAN's guarantee holds: a key present from the first call to the last is returned at
    least once, whatever came and went in between."""
    cursor = parse_cursor(args[1])
    if cursor is None:
        return err("invalid cursor")
    count, pattern, kind = 10, None, None
    i = 2
    while i < len(args):
        word, has_value = option(args[i]), i + 1 < len(args)
        if word == b"COUNT" and has_value:
            count = to_int(args[i + 1])
            if count is None:
                return NOT_AN_INTEGER
            if count < 1:
                return SYNTAX_ERROR
        elif word == b"MATCH" and has_value:
            pattern = args[i + 1]
        elif word == b"TYPE" and has_value:
            kind = option(args[i + 1]).lower()
        else:
            return SYNTAX_ERROR
        i += 2
    order = session.scan_order
    if cursor == 0 or order is None or not order.lists(session.tenant, session.database.index):
        order = ScanOrder.of(session.tenant, session.database.index, _database_keys(ctx, session))
    following, page = order.page(cursor, count)
    session.scan_order = order if following and len(order.keys) <= SCAN_LISTING_KEPT else None
    if pattern is not None and pattern != b"*":
        wanted = matcher(pattern)
        page = [key for key in page if wanted(key)]
    if kind is not None and kind != b"string":
        page = []
    return [b"%d" % following, page]


# -- expiry -----------------------------------------------------------------------------------

NX, XX, GT, LT = 1, 2, 4, 8
_EXPIRE_OPTIONS = {b"NX": NX, b"XX": XX, b"GT": GT, b"LT": LT}


def _expire(ctx: RespContext, session: Session, args: Args, name: str, milliseconds: bool, absolute: bool) -> Reply:
    """Redis's ``expireGenericCommand``: options, then the time (overflow is an invalid expire
    time), then the key; NX/XX/GT/LT compare with the key's expiry (none counts as forever)."""
    flags = 0
    for arg in args[3:]:
        flag = _EXPIRE_OPTIONS.get(option(arg))
        if flag is None:
            return err(f"Unsupported option {c_text(arg)}")
        flags |= flag
    if flags & NX and flags & (XX | GT | LT):
        return err("NX and XX, GT or LT options at the same time are not compatible")
    if flags & GT and flags & LT:
        return err("GT and LT options at the same time are not compatible")
    when = to_int(args[2])
    if when is None:
        return NOT_AN_INTEGER
    invalid = err(f"invalid expire time in '{name}' command")
    if not milliseconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            return invalid
        when *= 1000
    now = now_ms()
    base = 0 if absolute else now
    if when > LLONG_MAX - base:
        return invalid
    when += base
    tenant, key = session.tenant, session.database.key(args[1])
    current = ctx.domain.expires_at_ms(tenant, key)
    if current == -2:
        return 0
    if flags & NX and current != -1:
        return 0
    if flags & XX and current == -1:
        return 0
    if flags & GT and (current == -1 or when <= current):
        return 0
    if flags & LT and current != -1 and when >= current:
        return 0
    if when <= now:
        ctx.domain.delete(tenant, [key])
    elif absolute:
        ctx.domain.expire_at(tenant, key, when)  # read back exactly by (P)EXPIRETIME
    else:
        ctx.domain.expire(tenant, key, when - now)
    return 1


def expire(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _expire(ctx, session, args, "expire", milliseconds=False, absolute=False)


def pexpire(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _expire(ctx, session, args, "pexpire", milliseconds=True, absolute=False)


def expireat(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _expire(ctx, session, args, "expireat", milliseconds=False, absolute=True)


def pexpireat(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _expire(ctx, session, args, "pexpireat", milliseconds=True, absolute=True)


def _seconds(ms: int) -> int:
    return ms if ms < 0 else (ms + 500) // 1000


def ttl(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _seconds(ctx.domain.ttl_ms(session.tenant, session.database.key(args[1])))


def pttl(ctx: RespContext, session: Session, args: Args) -> Reply:
    return ctx.domain.ttl_ms(session.tenant, session.database.key(args[1]))


def expiretime(ctx: RespContext, session: Session, args: Args) -> Reply:
    return _seconds(ctx.domain.expires_at_ms(session.tenant, session.database.key(args[1])))


def pexpiretime(ctx: RespContext, session: Session, args: Args) -> Reply:
    return ctx.domain.expires_at_ms(session.tenant, session.database.key(args[1]))


def persist(ctx: RespContext, session: Session, args: Args) -> Reply:
    return int(ctx.domain.expire(session.tenant, session.database.key(args[1]), 0, persist=True))


HANDLERS: dict[str, Handler] = {
    "del": delete,
    "unlink": delete,
    "exists": exists,
    "type": type_,
    "rename": rename,
    "renamenx": renamenx,
    "copy": copy,
    "keys": keys,
    "scan": scan,
    "randomkey": randomkey,
    "dbsize": dbsize,
    "flushdb": flushdb,
    "flushall": flushall,
    "expire": expire,
    "pexpire": pexpire,
    "expireat": expireat,
    "pexpireat": pexpireat,
    "expiretime": expiretime,
    "pexpiretime": pexpiretime,
    "ttl": ttl,
    "pttl": pttl,
    "persist": persist,
}
