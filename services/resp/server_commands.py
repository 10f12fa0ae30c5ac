"""Server commands: INFO, TIME, CONFIG GET, and COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS).

What a tenant is told is about itself: INFO's memory, stats, prefetch and keyspace sections and
CONFIG GET maxmemory are the caller's tenant's; other tenants' connections and keys are not shown.
"""

from __future__ import annotations

import os
import platform
import time
from typing import TYPE_CHECKING

from predis.services.resp.arguments import option
from predis.services.resp.connection_commands import REDIS_VERSION
from predis.services.resp.context import Args, Handler, RespContext
from predis.services.resp.databases import split_by_database
from predis.services.resp.patterns import matcher
from predis.services.resp.replies import Reply, Status, Verbatim, err
from predis.services.resp.session import Session

if TYPE_CHECKING:
    from predis.services.resp.commands import Command

PREDIS_VERSION = "0.1.0"


# -- INFO -------------------------------------------------------------------------------------


def _human(size: int) -> str:
    """Bytes as Redis's ``bytesToHuman`` writes them (``1.50M``)."""
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"


def _server(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    uptime = int(time.monotonic() - ctx.started)
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_mode", "standalone"),
        ("predis_version", PREDIS_VERSION),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if platform.architecture()[0] == "64bit" else 32),
        ("multiplexing_api", "asyncio"),
        ("process_id", os.getpid()),
        ("run_id", ctx.run_id),
        ("tcp_port", ctx.port),
        ("server_time_usec", time.time_ns() // 1000),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
    ]


def _clients(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    return [
        ("connected_clients", len(ctx.sessions.of_tenant(session.tenant))),
        ("maxclients", ctx.settings.max_clients),
        ("blocked_clients", 0),
    ]


def _memory(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    memory = ctx.domain.memory(session.tenant)
    policy = ctx.domain.engine_view().policy
    return [
        ("used_memory", memory.used_bytes),
        ("used_memory_human", _human(memory.used_bytes)),
        ("maxmemory", memory.capacity_bytes),
        ("maxmemory_human", _human(memory.capacity_bytes)),
        ("maxmemory_policy", f"allkeys-{policy}"),
    ]


def _stats(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    counters = ctx.domain.counters(session.tenant)
    return [
        ("total_connections_received", ctx.sessions.connections_received),
        ("total_commands_processed", ctx.stats.commands_processed),
        ("total_net_input_bytes", ctx.stats.net_input_bytes),
        ("total_net_output_bytes", ctx.stats.net_output_bytes),
        ("rejected_connections", ctx.sessions.rejected_connections),
        ("expired_keys", counters["expired"]),
        ("evicted_keys", counters["evictions"]),
        ("keyspace_hits", counters["hits"]),
        ("keyspace_misses", counters["misses"]),
        ("origin_fetches", counters["origin_fetches"]),
        ("origin_errors", counters["origin_errors"]),
    ]


def _replication(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    return [("role", "master"), ("connected_slaves", 0)]


def _cluster(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    return [("cluster_enabled", 0)]  # clients (redis-py's tests among them) read it to pick a mode


def _prefetch(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    counters = ctx.domain.counters(session.tenant)
    names = ("issued", "loaded", "used", "late", "wasted", "over_budget")
    return [(f"prefetches_{name}", counters[f"prefetches_{name}"]) for name in names] + [
        ("unread_prefetch_bytes", counters["unread_prefetch_bytes"])
    ]


def _keyspace(ctx: RespContext, session: Session) -> list[tuple[str, object]]:
    if not ctx.domain.key_count(session.tenant):
        return []
    counts = split_by_database(ctx.domain.keys(session.tenant))
    return [(f"db{db}", f"keys={count}") for db, count in sorted(counts.items()) if db < ctx.settings.databases]


SECTIONS = {
    "server": ("Server", _server),
    "clients": ("Clients", _clients),
    "memory": ("Memory", _memory),
    "stats": ("Stats", _stats),
    "replication": ("Replication", _replication),
    "prefetch": ("Prefetch", _prefetch),
    "cluster": ("Cluster", _cluster),
    "keyspace": ("Keyspace", _keyspace),
}


def info(ctx: RespContext, session: Session, args: Args) -> Reply:
    """INFO [section ...]: ``default``, ``all`` and ``everything`` name every section here;
    unknown names add nothing, as in Redis."""
    wanted = [option(arg).lower().decode("utf-8", "surrogateescape") for arg in args[1:]]
    if not wanted or any(name in ("default", "all", "everything") for name in wanted):
        chosen = list(SECTIONS)
    else:
        chosen = [name for name in SECTIONS if name in wanted]
    parts = []
    for name in chosen:
        title, fields = SECTIONS[name]
        lines = [f"# {title}"] + [f"{key}:{value}" for key, value in fields(ctx, session)]
        parts.append("\r\n".join(lines) + "\r\n")
    return Verbatim("\r\n".join(parts))


def time_(ctx: RespContext, session: Session, args: Args) -> Reply:
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


# -- CONFIG -----------------------------------------------------------------------------------


def _config(ctx: RespContext, session: Session) -> dict[str, str]:
    """The parameters clients probe, with what they mean here."""
    settings = ctx.settings
    host = settings.listen.rpartition(":")[0] if settings.listen else "127.0.0.1"
    return {
        "appendonly": "no",
        "bind": host,
        "client-query-buffer-limit": str(settings.query_buffer_limit),
        "databases": str(settings.databases),
        "maxclients": str(settings.max_clients),
        "maxmemory": str(ctx.domain.memory(session.tenant).capacity_bytes),
        "maxmemory-policy": f"allkeys-{ctx.domain.engine_view().policy}",
        "notify-keyspace-events": "",
        "port": str(ctx.port),
        "proto-max-bulk-len": str(settings.proto_max_bulk_len),
        "save": "",
        "timeout": str(int(settings.timeout_s)),
    }


def config_get(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CONFIG GET pattern [pattern ...]: every parameter a pattern matches (case-insensitive, as
    in Redis), each once."""
    tests = [matcher(arg.lower()) for arg in args[2:]]
    return {name: value for name, value in _config(ctx, session).items() if any(t(name.encode()) for t in tests)}


CONFIG_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "HELP",
    "    Prints this help.",
]


def config_help(ctx: RespContext, session: Session, args: Args) -> Reply:
    return [Status(line) for line in CONFIG_HELP]


# -- COMMAND ----------------------------------------------------------------------------------


def command(ctx: RespContext, session: Session, args: Args) -> Reply:
    return [c.info_reply() for c in ctx.table.commands.values()]


def command_count(ctx: RespContext, session: Session, args: Args) -> Reply:
    return len(ctx.table)


def command_info(ctx: RespContext, session: Session, args: Args) -> Reply:
    if len(args) == 2:
        return command(ctx, session, args)
    found = (ctx.table.named(name) for name in args[2:])
    return [None if c is None else c.info_reply() for c in found]


def command_docs(ctx: RespContext, session: Session, args: Args) -> Reply:
    table = ctx.table
    chosen = list(table.commands.values()) if len(args) == 2 else [table.named(name) for name in args[2:]]
    return {c.name: c.docs_reply() for c in chosen if c is not None}


def command_list(ctx: RespContext, session: Session, args: Args) -> Reply:
    names = ctx.table.every_name()
    if len(args) == 2:
        return names
    if len(args) != 5 or option(args[2]) != b"FILTERBY":
        return err("syntax error")
    kind, value = option(args[3]), args[4]
    if kind == b"PATTERN":
        wanted = matcher(value.lower())
        return [name for name in names if wanted(name.encode())]
    if kind == b"ACLCAT":
        category = "@" + value.decode("utf-8", "surrogateescape").lower()
        return [name for name in names if category in _named(ctx, name).acl_categories]
    if kind == b"MODULE":
        return []
    return err("syntax error")


def _named(ctx: RespContext, name: str) -> Command:
    found = ctx.table.named(name.encode())
    assert found is not None, "every listed name is a command's"
    return found


def command_getkeys(ctx: RespContext, session: Session, args: Args) -> Reply:
    target = args[2:]
    found = ctx.table.lookup(target)
    if found is None:
        return err("Invalid command specified")
    positions = found.keys_of(target)
    if positions is None:
        return err("The command has no key arguments")
    if not found.arity_fits(len(target)):
        return err("Invalid number of arguments specified for command")
    return [target[i] for i in positions if i < len(target)]


COMMAND_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "HELP",
    "    Prints this help.",
]


def command_help(ctx: RespContext, session: Session, args: Args) -> Reply:
    return [Status(line) for line in COMMAND_HELP]


HANDLERS: dict[str, Handler] = {
    "info": info,
    "time": time_,
    "config|get": config_get,
    "config|help": config_help,
    "command": command,
    "command|count": command_count,
    "command|info": command_info,
    "command|docs": command_docs,
    "command|list": command_list,
    "command|getkeys": command_getkeys,
    "command|help": command_help,
}
