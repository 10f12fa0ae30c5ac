"""The command table, and dispatch as redis-server 7.0's ``processCommand`` does it.

Each command's name, arity, flags, key positions and ACL categories are Redis's own
(``catalog.py``); its handler comes from the module of its family. Dispatch checks, in Redis's
order: the HTTP guard (``POST`` and ``Host:`` drop the connection), that the command exists,
its arity, authentication, the tenant's request rate (where Redis refuses a command over
``maxmemory``; connection commands are exempt, ``_is_request``), then waits out a CLIENT PAUSE
(``client_pause.py``), then queues it inside MULTI or runs it. Domain errors become error
replies here, in one table (``error_reply``). Transactions (MULTI, EXEC, DISCARD, WATCH,
UNWATCH) are here too: EXEC needs the table.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field

import numpy as np

from predis.services.cache.engine.storage import KeyBatch
from predis.services.resp import catalog
from predis.services.resp.arguments import c_text, option
from predis.services.resp.compiled_gets import answer_get_run, answer_mget
from predis.services.resp.connection_commands import HANDLERS as CONNECTION_HANDLERS
from predis.services.resp.context import Args, Handler, Later, RespContext
from predis.services.resp.databases import ReservedKey
from predis.services.resp.keyspace_commands import HANDLERS as KEYSPACE_HANDLERS
from predis.services.resp.monitor import MONITOR_HANDLERS
from predis.services.resp.monitor import feed as feed_monitors
from predis.services.resp.protocol import GetRun, ReadRun
from predis.services.resp.replies import (
    BULK_NULLS,
    NULL_ARRAY,
    OK,
    QUEUED,
    Encoded,
    Reply,
    SetReply,
    encode,
    err,
    error,
)
from predis.services.resp.server_commands import HANDLERS as SERVER_HANDLERS
from predis.services.resp.session import Session
from predis.services.resp.string_commands import HANDLERS as STRING_HANDLERS
from predis.services.resp.string_commands import (
    get_batch,
    get_each,
    get_now,
    get_run_now,
    mget_now,
    set_batch,
    set_each,
    set_now,
)
from predis.services.runtime import errors
from predis.services.runtime.durations import DurationHistogram

log = logging.getLogger(__name__)

NOAUTH = error("NOAUTH Authentication required.")
EXEC_ABORT = error("EXECABORT Transaction discarded because of previous errors.")
OOM = "OOM command not allowed when used memory > 'maxmemory'."
# Commands that run at once inside MULTI instead of being queued (Redis's processCommand).
_RUN_INSIDE_MULTI = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
_HTTP = frozenset({b"POST", b"HOST:"})  # Redis drops a connection that speaks HTTP to it
# Commands that are no request of the tenant's request rate (CacheDomain.admit), besides Redis's
# @connection category (AUTH, HELLO, PING, ECHO, SELECT, QUIT, RESET, CLIENT, COMMAND): the
# bounds of a transaction, which touch no data. Inside MULTI only EXEC counts, once for them all.
_NOT_REQUESTS = frozenset({"multi", "discard", "unwatch"})


@dataclass(frozen=True)
class Command:
    """One command (or subcommand, named ``container|sub``) as Redis describes it, with its handler.

    ``arity`` counts the command's name: 2 for ``GET key``; a negative arity is a minimum
    (``-3``: at least three). ``info`` is its COMMAND INFO entry without the subcommands,
    ``docs`` its COMMAND DOCS entry without them."""

    name: str
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    key_step: int
    acl_categories: tuple[str, ...]
    handler: Handler | None
    is_async: bool
    info: list[Reply]
    docs: dict[str, Reply]
    subcommands: Mapping[bytes, Command] = field(default_factory=dict)
    # A data command (string or keyspace family) with a handler that does not wait: a read that
    # is only this request may be answered in its callback (``CommandTable.lone_request``).
    answers_alone: bool = False

    def arity_fits(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def info_reply(self) -> list[Reply]:
        if not self.subcommands:
            return [*self.info, SetReply([])]  # Redis says "no subcommands" as an empty set
        return [*self.info, [sub.info_reply() for sub in self.subcommands.values()]]

    def docs_reply(self) -> dict[str, Reply]:
        if not self.subcommands:
            return self.docs
        return {**self.docs, "subcommands": {sub.name: sub.docs_reply() for sub in self.subcommands.values()}}

    def keys_of(self, args: Args) -> list[int] | None:
        """Positions of the key arguments in ``args`` (the command's name at 0), from its first
        key, last key (negative: from the end) and step; None when it takes no keys."""
        if self.first_key <= 0:
            return None
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return list(range(self.first_key, last + 1, self.key_step))


def _command(
    name: str, handler: Handler | None, subcommands: Mapping[bytes, Command] | None = None, alone: bool = False
) -> Command:
    info = catalog.INFO[name]
    is_async = handler is not None and inspect.iscoroutinefunction(handler)
    return Command(
        name=name,
        arity=info[1],
        flags=frozenset(str(flag) for flag in info[2]),
        first_key=info[3],
        last_key=info[4],
        key_step=info[5],
        acl_categories=tuple(str(category) for category in info[6]),
        handler=handler,
        is_async=is_async,
        info=info,
        docs=catalog.DOCS[name],
        subcommands=subcommands or {},
        answers_alone=alone and handler is not None and not is_async and not subcommands,
    )


class CommandTable:
    """The commands served, by lower-case name; everything else is Redis's unknown command."""

    def __init__(self, handlers: Mapping[str, Handler], data_commands: Collection[str] = ()) -> None:
        containers: dict[str, dict[bytes, Command]] = {}
        for name, handler in handlers.items():
            container, bar, sub = name.partition("|")
            if bar:
                containers.setdefault(container, {})[sub.encode()] = _command(name, handler)
        top: dict[bytes, Command] = {}
        for name, handler in handlers.items():
            if "|" not in name:
                top[name.encode()] = _command(name, handler, containers.pop(name, None), name in data_commands)
        for container, subs in containers.items():
            top[container.encode()] = _command(container, None, subs)
        self.commands = top

    def __len__(self) -> int:
        return len(self.commands)

    def lookup(self, args: Args) -> Command | None:
        """The command ``args`` names (a container's subcommand when it has one), as Redis's
        ``lookupCommand``: a container alone is itself, so that its arity error is Redis's."""
        base = self.commands.get(args[0].lower())
        if base is None or not base.subcommands or len(args) == 1:
            return base
        return base.subcommands.get(args[1].lower())

    def named(self, name: bytes) -> Command | None:
        """A command by name, ``container|sub`` for a subcommand (COMMAND INFO, DOCS)."""
        container, bar, sub = name.lower().partition(b"|")
        base = self.commands.get(container)
        if not bar or base is None:
            return base
        return base.subcommands.get(sub)

    def every_name(self) -> list[str]:
        """Every command's and subcommand's name (COMMAND LIST)."""
        names = []
        for command in self.commands.values():
            names.append(command.name)
            names.extend(sub.name for sub in command.subcommands.values())
        return names

    async def dispatch(self, ctx: RespContext, session: Session, args: Args) -> Reply | None:
        """The reply to one request (``args`` not empty); None when the connection must be
        dropped without one (``session.dropped``)."""
        if option(args[0]) in _HTTP:
            log.warning("a connection from %s sent an HTTP request; closing it", session.address)
            session.dropped = True
            return None
        command = self.lookup(args)
        refusal = self._refusal(ctx, session, command, args)
        if refusal is not None:
            if session.transaction is not None:
                session.transaction_failed = True
            if command is not None and command.name == "exec":
                return _exec_abort(ctx, session, refusal)
            return refusal
        assert command is not None
        if session.authenticated:
            pause = ctx.pauses.holding(session.tenant)
            if pause is not None:
                await pause.wait(self._writes(session, command))
        if session.transaction is not None and command.name not in _RUN_INSIDE_MULTI:
            session.transaction.append(args)
            return QUEUED
        return await self.run(ctx, session, command, args)

    def _writes(self, session: Session, command: Command) -> bool:
        """Whether ``command`` may write, for a WRITE pause: flagged ``write``, or an EXEC with
        such a command queued (Redis's ``is_may_replicate_command``)."""
        if "write" in command.flags:
            return True
        if command.name != "exec" or not session.transaction:
            return False
        queued = (self.lookup(args) for args in session.transaction)
        return any(c is not None and "write" in c.flags for c in queued)

    def _refusal(self, ctx: RespContext, session: Session, command: Command | None, args: Args) -> Reply | None:
        if command is None:
            return unknown_command(self, args)
        if not command.arity_fits(len(args)):
            return err(f"wrong number of arguments for '{command.name}' command")
        if not session.authenticated and "no_auth" not in command.flags:
            ctx.audit(session, command.name.upper(), "NOAUTH", "a command before AUTH")
            return NOAUTH
        if ctx.domain.limits_requests and _is_request(session, command):
            try:
                ctx.domain.admit(session.tenant)
            except errors.Overloaded as exc:
                ctx.audit(session, command.name.upper(), "RATE_LIMITED", str(exc))
                return error_reply(exc)
        return None

    async def run(self, ctx: RespContext, session: Session, command: Command, args: Args) -> Reply:
        """Runs a command that passed the checks; domain errors become their error replies."""
        session.last_command = command.name
        session.argv_bytes = sum(map(len, args))
        ctx.stats.commands_processed += 1
        assert command.handler is not None
        # GET and SET are timed once metrics are on (cache/request_durations.py); nothing else is.
        durations = ctx.domain.durations
        timed = durations.resp_commands.get(command.name) if durations is not None else None
        started = time.perf_counter_ns() if timed is not None else 0
        try:
            if command.is_async:
                return await command.handler(ctx, session, args)  # type: ignore[misc]
            return command.handler(ctx, session, args)
        except Exception as exc:  # noqa: BLE001 - no traceback may reach a client
            return _failure(ctx, session, command.name, exc)
        finally:
            if timed is not None:
                timed.record_since(session.tenant, started)
            if ctx.monitors and "admin" not in command.flags:
                feed_monitors(ctx, session, args)

    def answers_together(self, ctx: RespContext, session: Session) -> bool:
        """Whether a pipeline's run of GETs or of plain SETs may be answered by
        :meth:`run_together`: nothing stands in the way that checks or tells of each command on
        its own (authentication still to come, MULTI, MONITOR, per-tenant request rates, a
        CLIENT PAUSE)."""
        return (
            session.authenticated
            and session.transaction is None
            and not ctx.monitors
            and not ctx.domain.limits_requests
            and ctx.pauses.holding(session.tenant) is None
        )

    def lone_get(self, ctx: RespContext, session: Session, key: bytes) -> bytes | Later:
        """The encoded reply to a read that is one ``GET key``, under :meth:`answers_together`
        with its reply wanted: what :meth:`dispatch` answers, counted and timed as it counts,
        without a coroutine (a lone GET's dispatch costs about as much as its read). Later, its
        coroutine giving the reply to encode, when the key missed and reads through the origin
        (the read is recorded already)."""
        return self._answer_now(ctx, session, "get", 3 + len(key), get_now, key)

    def lone_set(self, ctx: RespContext, session: Session, key: bytes, value: bytes) -> bytes:
        """:meth:`lone_get` of a read that is one plain ``SET key value``."""
        reply = self._answer_now(ctx, session, "set", 3 + len(key) + len(value), set_now, key, value)
        assert isinstance(reply, bytes)  # a write never waits
        return reply

    def lone_mget(self, ctx: RespContext, session: Session, keys: KeyBatch) -> bytes | Later:
        """:meth:`lone_get` of a read that is one MGET of database 0's plain keys (``keys``
        where they lie in the read's bytes)."""
        return self._answer_now(ctx, session, "mget", 4 + int(keys.lengths.sum()), mget_now, keys)

    def lone_request(self, ctx: RespContext, session: Session, args: Args) -> bytes | None:
        """:meth:`lone_get` of a read that is one request of a command that ``answers_alone``
        (INCR, DEL, EXPIRE, TTL and the other data commands that never wait), its arity right;
        None for any other request, which takes the long way."""
        command = self.lookup(args)
        if command is None or not command.answers_alone or not command.arity_fits(len(args)):
            return None
        reply = self._answer_now(ctx, session, command.name, sum(map(len, args)), command.handler, args)  # type: ignore[arg-type]
        assert isinstance(reply, bytes)  # its handler does not wait
        return reply

    def lone_run(self, ctx: RespContext, session: Session, run: ReadRun) -> bytes | Later | None:
        """:meth:`lone_get` of a read that is a run of plain GETs or plain SETs in database 0 (a
        ``ReadRun`` with ``plain`` keys): the run's replies encoded as one, as :meth:`run_read`
        answers it, without its coroutines. Later when misses read through the origin (the read
        is recorded already). None when the cache refuses the run whole, before anything
        changed: :meth:`run_read` then answers it one by one."""
        is_get = isinstance(run, GetRun)
        command = self.commands[b"get" if is_get else b"set"]
        durations = ctx.domain.durations
        timed = durations.resp_commands.get(command.name) if durations is not None else None
        started = time.perf_counter_ns() if timed is not None else 0
        result: list[Reply] | Encoded | Coroutine[object, None, list[bytes | None | Exception]]
        try:
            if is_get:
                result = get_run_now(ctx, session, run.keys)
            else:
                result = set_batch(ctx, session, run.keys, run.values, together=True)  # type: ignore[union-attr]
        except errors.DomainError:
            return None
        n = len(run)
        _count_run(ctx, session, command.name, n, run.last_argv_bytes)
        if isinstance(result, Coroutine):  # misses read through the origin
            return Later(self._finish_run_later(session, command.name, n, result, timed, started))
        _time_each(timed, session, n, started)
        if isinstance(result, Encoded):
            return result
        return b"".join([encode(reply, session.resp3) for reply in result])

    def compiled_get_run(self, ctx: RespContext, session: Session, data: bytes, limit: int) -> bytes | None:
        """:meth:`lone_run` of a read that may be a run of plain GETs in database 0, answered in
        one compiled call from its bytes (``compiled_gets.py``): the replies, or None when that
        call answered nothing (not such a run, or a read the cache leaves to the ordinary way: an
        expired key, a miss read through the origin), nothing changed."""
        return self._compiled(ctx, session, "get", data, answer_get_run, limit)

    def compiled_mget(self, ctx: RespContext, session: Session, data: bytes) -> bytes | None:
        """:meth:`compiled_get_run` of a read that may be one MGET of database 0's plain keys
        (:meth:`lone_mget`'s, in one compiled call)."""
        return self._compiled(ctx, session, "mget", data, answer_mget)

    def _compiled(
        self, ctx: RespContext, session: Session, name: str, data: bytes, answer: Callable[..., tuple], *args: object
    ) -> bytes | None:
        domain = ctx.domain
        state = domain.compiled_read_state(session.tenant)  # database 0's: its misses read through
        if state is None:
            return None
        durations = domain.durations
        timed = durations.resp_commands.get(name) if durations is not None else None
        started = time.perf_counter_ns() if timed is not None else 0
        buffer = np.frombuffer(data, dtype=np.uint8)
        out, keys, commands, argv_bytes, prefetched_hits, held = answer(buffer, *args, BULK_NULLS[session.resp3], state)
        if not keys:
            return None
        domain.compiled_read_done(session.tenant, buffer, keys, prefetched_hits, held)
        _count_run(ctx, session, name, commands, argv_bytes)
        _time_each(timed, session, commands, started)
        return out.tobytes()

    async def _finish_run_later(
        self,
        session: Session,
        name: str,
        n: int,
        results: Coroutine[object, None, list[bytes | None | Exception]],
        timed: DurationHistogram | None,
        started: int,
    ) -> Reply:
        """:meth:`lone_run`'s replies once its misses are read through: each key's value, nil, or
        its own fill's failure, encoded as one."""
        try:
            replies = [_run_reply(name, result) for result in await results]
        finally:
            _time_each(timed, session, n, started)
        return Encoded(b"".join([encode(reply, session.resp3) for reply in replies]))

    def _answer_now(
        self,
        ctx: RespContext,
        session: Session,
        name: str,
        argv_bytes: int,
        answer: Callable[..., Reply | Later],
        *args: object,
    ) -> bytes | Later:
        session.last_command = name
        session.argv_bytes = argv_bytes
        ctx.stats.commands_processed += 1
        durations = ctx.domain.durations
        timed = durations.resp_commands.get(name) if durations is not None else None
        started = time.perf_counter_ns() if timed is not None else 0
        try:
            result = answer(ctx, session, *args)
        except Exception as exc:  # noqa: BLE001
            result = _failure(ctx, session, name, exc)
        if isinstance(result, Later):
            return Later(self._finish_later(ctx, session, name, result.reply, timed, started))
        if timed is not None:
            timed.record_since(session.tenant, started)
        return encode(result, session.resp3)

    async def _finish_later(
        self,
        ctx: RespContext,
        session: Session,
        name: str,
        reply: Coroutine[object, None, Reply],
        timed: DurationHistogram | None,
        started: int,
    ) -> Reply:
        try:
            return await reply
        except Exception as exc:  # noqa: BLE001
            return _failure(ctx, session, name, exc)
        finally:
            if timed is not None:
                timed.record_since(session.tenant, started)

    async def run_together(self, ctx: RespContext, session: Session, run: list[Args]) -> list[Reply]:
        """The replies to a run of pipelined GETs (each ``GET key``) or SETs (each ``SET key
        value``), under :meth:`answers_together`: those :meth:`dispatch` gives one by one, from
        one read or one batch write of the cache (a command costs most of its time there, and a
        batch little more than one). One by one after all when a key is named twice or
        reserved, or the batch is refused before it reads or writes anything."""
        command = self.commands[b"get" if len(run[0]) == 2 else b"set"]

        async def answer() -> list[Reply | Exception] | Encoded | None:
            if command.name == "get":
                # Replies all sent (no CLIENT REPLY SKIP or OFF): they may come encoded as one.
                return await get_each(ctx, session, [args[1] for args in run], session.reply_wanted)
            return set_each(ctx, session, [args[1] for args in run], [args[2] for args in run], session.reply_wanted)

        return await self._answer_run(ctx, session, command, len(run), sum(map(len, run[-1])), answer, lambda: run)

    async def run_read(self, ctx: RespContext, session: Session, run: ReadRun) -> list[Reply]:
        """:meth:`run_together` of a read that is only GETs or only plain SETs (``RequestParser``'s
        ``ReadRun``), its keys and values read where they lie in the bytes that came: no request
        lists, no copies. As :meth:`run_together` when a key is not plain (empty, reserved, named
        twice) or the database is not 0 (its keys are stored behind a prefix)."""
        if not run.plain or session.database.prefix:
            return await self.run_together(ctx, session, run.frames())
        together = session.reply_wanted

        async def answer() -> list[Reply | Exception] | Encoded | None:
            if isinstance(run, GetRun):
                return await get_batch(ctx, session, run.keys, together)
            return set_batch(ctx, session, run.keys, run.values, together)

        command = self.commands[b"get" if isinstance(run, GetRun) else b"set"]
        return await self._answer_run(ctx, session, command, len(run), run.last_argv_bytes, answer, run.frames)

    async def _answer_run(
        self,
        ctx: RespContext,
        session: Session,
        command: Command,
        n: int,
        last_argv_bytes: int,
        answer: Callable[[], Awaitable[list[Reply | Exception] | Encoded | None]],
        requests: Callable[[], list[Args]],
    ) -> list[Reply]:
        """A run's ``answer`` awaited and counted as its ``n`` commands; one by one (``requests``)
        when it says None or the cache refuses it whole."""
        durations = ctx.domain.durations
        timed = durations.resp_commands.get(command.name) if durations is not None else None
        started = time.perf_counter_ns()
        results: list[Reply | Exception] | Encoded | None
        try:
            results = await answer()
        except errors.DomainError:  # refused whole (a key too long, no room), before anything changed
            results = None
        if results is None:
            return [await self.run(ctx, session, command, args) for args in requests()]
        _count_run(ctx, session, command.name, n, last_argv_bytes)
        _time_each(timed, session, n, started)
        if isinstance(results, Encoded):  # the run's replies in one piece
            return [results]
        return [_run_reply(command.name, result) for result in results]

    async def run_transaction(self, ctx: RespContext, session: Session) -> Reply:
        """EXEC: the queued commands, each reply encoded in the protocol of the moment it ran
        (HELLO inside a transaction switches the protocol for the replies after it); the null
        array when a watched key was modified, as Redis's ``execCommand`` (a refused command
        queued counts first). The watches end either way, before the commands run."""
        queued = session.transaction or []
        failed = session.transaction_failed
        session.transaction, session.transaction_failed = None, False
        modified = ctx.watches.modified(session)
        ctx.watches.unwatch(session)
        if failed:
            return EXEC_ABORT
        if modified:
            return NULL_ARRAY
        replies: list[Reply] = []
        session.in_exec = True
        try:
            for args in queued:
                command = self.lookup(args)
                assert command is not None, "queued commands were looked up when they were queued"
                reply = await self.run(ctx, session, command, args)
                replies.append(Encoded(encode(reply, session.resp3)))
        finally:
            session.in_exec = False
        return replies


def _is_request(session: Session, command: Command) -> bool:
    """Whether running ``command`` now is one request of the tenant's request rate: a command
    queued inside MULTI is not (its EXEC is, once), nor are connection commands (``_NOT_REQUESTS``)."""
    if session.transaction is not None:
        return command.name == "exec"
    return command.name not in _NOT_REQUESTS and "@connection" not in command.acl_categories


def _exec_abort(ctx: RespContext, session: Session, refusal: Reply) -> Reply:
    """A refused EXEC discards the transaction and says why, as Redis's ``execCommandAbort``."""
    session.transaction, session.transaction_failed = None, False
    ctx.watches.unwatch(session)
    text = str(refusal)
    return error(f"EXECABORT Transaction discarded because of: {text[4:] if text.startswith('ERR ') else text}")


def unknown_command(table: CommandTable, args: Args) -> Reply:
    """Redis 7.0's unknown command (or subcommand) error: names and arguments as C strings
    (cut at a NUL byte), 128 bytes at most, the arguments until 128 bytes of them are shown."""
    container = table.commands.get(args[0].lower())
    if container is not None and container.subcommands:
        return err(f"unknown subcommand '{c_text(args[1], 128)}'. Try {container.name.upper()} HELP.")
    shown = ""
    for arg in args[1:]:
        if len(shown.encode("utf-8", "surrogateescape")) >= 128:
            break
        room = 128 - len(shown.encode("utf-8", "surrogateescape"))
        shown += f"'{c_text(arg, room)}' "
    return err(f"unknown command '{c_text(args[0], 128)}', with args beginning with: {shown}")


def _count_run(ctx: RespContext, session: Session, name: str, n: int, last_argv_bytes: int) -> None:
    """A run answered together counts as its ``n`` commands; CLIENT LIST shows its last."""
    session.last_command = name
    session.argv_bytes = last_argv_bytes
    ctx.stats.commands_processed += n


def _time_each(timed: DurationHistogram | None, session: Session, n: int, started: int) -> None:
    """Each of a run's ``n`` commands waited for the whole run."""
    if timed is not None:
        for _ in range(n):
            timed.record_since(session.tenant, started)


def _run_reply(name: str, result: Reply | Exception) -> Reply:
    """The reply to one command of a run answered together: its result, or its own failure's
    (a fill's: the others' results stand)."""
    if isinstance(result, errors.DomainError):
        return error_reply(result)
    if isinstance(result, Exception):
        log.error("a %s command failed", name, exc_info=result)
        return err(f"internal error in the server running '{name}'; its log has the details")
    return result


def _failure(ctx: RespContext, session: Session, name: str, exc: Exception) -> Reply:
    """The reply to a command that raised ``exc``: a domain error's own, else an internal error
    (logged: no traceback reaches a client)."""
    if isinstance(exc, errors.DomainError):
        if isinstance(exc, errors.Overloaded):  # a quota refused it: audited, as gRPC's RESOURCE_EXHAUSTED
            ctx.audit(session, name.upper(), "OOM", str(exc))
        return error_reply(exc)
    if isinstance(exc, ReservedKey):
        return err("keys beginning with the bytes FF DB are another database's; use SELECT")
    log.error("a %s command failed", name, exc_info=exc)
    return err(f"internal error in the server running '{name}'; its log has the details")


def error_reply(exc: errors.DomainError) -> Reply:
    """The one table from domain errors to error replies."""
    if isinstance(exc, errors.RateLimited):  # a limit that is not memory: ERR, as Redis's client limit
        return err(str(exc))
    if isinstance(exc, errors.Overloaded):
        return error(f"{OOM} {exc}")
    return err(str(exc))


def multi(ctx: RespContext, session: Session, args: Args) -> Reply:
    if session.transaction is not None:
        return err("MULTI calls can not be nested")
    session.transaction, session.transaction_failed = [], False
    return OK


async def exec_(ctx: RespContext, session: Session, args: Args) -> Reply:
    if session.transaction is None:
        return err("EXEC without MULTI")
    return await ctx.table.run_transaction(ctx, session)


def discard(ctx: RespContext, session: Session, args: Args) -> Reply:
    if session.transaction is None:
        return err("DISCARD without MULTI")
    session.transaction, session.transaction_failed = None, False
    ctx.watches.unwatch(session)
    return OK


def watch(ctx: RespContext, session: Session, args: Args) -> Reply:
    """As Redis's ``watchCommand``: not inside MULTI (refused without failing the transaction),
    and nothing more to watch once a watched key was modified."""
    if session.transaction is not None:
        return err("WATCH inside MULTI is not allowed")
    if not session.watch_dirty:
        ctx.watches.watch(session, session.database.keys(args[1:]))
    return OK


def unwatch(ctx: RespContext, session: Session, args: Args) -> Reply:
    ctx.watches.unwatch(session)
    return OK


TRANSACTION_HANDLERS: dict[str, Handler] = {
    "multi": multi,
    "exec": exec_,
    "discard": discard,
    "watch": watch,
    "unwatch": unwatch,
}


def build_table() -> CommandTable:
    """Every command served: each family's handlers over Redis's descriptions of them."""
    handlers = {
        **CONNECTION_HANDLERS,
        **STRING_HANDLERS,
        **KEYSPACE_HANDLERS,
        **SERVER_HANDLERS,
        **TRANSACTION_HANDLERS,
        **MONITOR_HANDLERS,
    }
    return CommandTable(handlers, data_commands=STRING_HANDLERS.keys() | KEYSPACE_HANDLERS.keys())
