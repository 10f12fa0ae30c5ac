"""MONITOR: a connection that asks is sent a line for every command the server runs, as Redis
7.0's ``replicationFeedMonitors`` writes them, and only its own tenant's.

A line is a status reply: ``+<seconds>.<microseconds> [<db> <ip:port>] "arg" "arg" ...``, each
argument as Redis's ``sdscatrepr`` quotes it. A command is fed once it has run (an error reply
included), with the arguments as the client sent them: commands refused before running (unknown,
wrong arity, NOAUTH, queued inside MULTI) are not; EXEC's commands are, each as it runs, then EXEC.
Commands Redis keeps out of the feed are kept out: those flagged ``admin`` (MONITOR itself, CONFIG,
CLIENT's administrative subcommands), and AUTH's and HELLO's credentials, shown as ``(redacted)``.
"""

from __future__ import annotations

import time

from predis.services.resp.context import Args, RespContext
from predis.services.resp.replies import NO_REPLY, OK, Reply, err
from predis.services.resp.session import Session

REDACTED = b'"(redacted)"'
_ESCAPES = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x07: b"\\a", 0x08: b"\\b"}


def monitor(ctx: RespContext, session: Session, args: Args) -> Reply:
    """As Redis's ``monitorCommand``: refused inside EXEC, nothing at all when already monitoring."""
    if session.in_exec:
        return err("MONITOR isn't allowed for DENY BLOCKING client")
    if session.monitoring:
        return NO_REPLY
    session.monitoring = True
    ctx.monitors.append(session)
    return OK


def stop_monitoring(ctx: RespContext, session: Session) -> None:
    """RESET, or the connection closed: no more lines."""
    if session.monitoring:
        session.monitoring = False
        ctx.monitors[:] = [m for m in ctx.monitors if m is not session]


def feed(ctx: RespContext, session: Session, args: Args) -> None:
    """Sends the line of the command ``args`` that ``session`` ran to the monitors of its tenant."""
    # CLIENT REPLY OFF silences a monitor's lines too, as Redis's prepareClientToWrite does.
    watchers = [m for m in ctx.monitors if m.tenant == session.tenant and not (m.closing or m.reply_off)]
    if not watchers:
        return
    line = monitor_line(session, args, time.time_ns())
    for watcher in watchers:
        watcher.push(line)


def monitor_line(session: Session, args: Args, now_ns: int) -> bytes:
    seconds, micros = divmod(now_ns // 1000, 1_000_000)
    head = f"+{seconds}.{micros:06d} [{session.database.index} {session.address}] ".encode()
    quoted = [quote(a) for a in args]
    for i in _redacted(args):
        quoted[i] = REDACTED
    return head + b" ".join(quoted) + b"\r\n"


def _redacted(args: Args) -> list[int]:
    """Positions Redis replaces by ``(redacted)``: AUTH's arguments; HELLO's AUTH user and
    password, its options read one by one as Redis's ``helloCommand`` reads them (every AUTH, up
    to the first option it refuses)."""
    name = args[0].lower()
    if name == b"auth":
        return list(range(1, len(args)))
    if name != b"hello":
        return []
    found, i = [], 2
    while i < len(args):
        more, opt = len(args) - 1 - i, args[i].lower()
        if opt == b"auth" and more >= 2:
            found += [i + 1, i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            i += 2
        else:
            break
    return found


def quote(arg: bytes) -> bytes:
    """``arg`` in double quotes as Redis's ``sdscatrepr``: backslash escapes for ``\\ " \\n \\r
    \\t \\a \\b``, ``\\xHH`` for other bytes that are not printable ASCII."""
    out = bytearray(b'"')
    for byte in arg:
        escaped = _ESCAPES.get(byte)
        if escaped is not None:
            out += escaped
        elif 0x20 <= byte <= 0x7E:
            out.append(byte)
        else:
            out += b"\\x%02x" % byte
    out += b'"'
    return bytes(out)


MONITOR_HANDLERS = {"monitor": monitor}
