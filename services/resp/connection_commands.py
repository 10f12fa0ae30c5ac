"""Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT's subcommands.

A connection sees and acts on its own tenant's connections only: CLIENT LIST and CLIENT KILL
never show or close another tenant's, and CLIENT PAUSE pauses its own tenant's connections.
Client-side caching (CLIENT TRACKING) is not served: CLIENT GETREDIR and TRACKINGINFO say that
it is off.
"""

from __future__ import annotations

import hmac
import time

from predis.services.resp.arguments import INT_MAX, INT_MIN, LLONG_MAX, LLONG_MIN, c_text, option, to_int
from predis.services.resp.context import Args, Handler, RespContext
from predis.services.resp.databases import Database
from predis.services.resp.monitor import stop_monitoring
from predis.services.resp.replies import NO_REPLY, OK, PONG, SYNTAX_ERROR, Reply, SetReply, Status, Verbatim, err, error
from predis.services.resp.session import Session
from predis.services.resp.settings import DEFAULT_USER
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.tenancy import DEFAULT_TENANT, validate_tenant
from predis.services.security.principal import Identity
from predis.services.security.tokens import token_id_of

SERVER_NAME = "redis"  # what clients expect HELLO to say; INFO's predis_version says what this is
REDIS_VERSION = "7.0.15"
WRONGPASS = error("WRONGPASS invalid username-password pair or user is disabled.")
NO_DEFAULT_PASSWORD = err(
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
HELLO_NOAUTH = error(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> "
    "<pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
)
BAD_NAME = err("Client names cannot contain spaces, newlines or special characters.")


def ping(ctx: RespContext, session: Session, args: Args) -> Reply:
    if len(args) > 2:
        return err("wrong number of arguments for 'ping' command")
    return PONG if len(args) == 1 else args[1]


def echo(ctx: RespContext, session: Session, args: Args) -> Reply:
    return args[1]


async def authenticate(ctx: RespContext, session: Session, user: bytes, password: bytes) -> bool:
    """Whether ``user`` and ``password`` are a token's or an account's; if so the connection now
    acts for its tenant. A token (``pdt_...``, ``predis tokens``) authenticates the ``default``
    user or its own tenant as the user (an admin token any tenant); otherwise an account of
    ``PREDIS_RESP_USERS`` must match. Without any token or account required the ``default`` user
    takes any password, as Redis's ``nopass`` default user does. A failed attempt changes
    nothing, and is audited."""
    name = user.decode("utf-8", "surrogateescape")
    token = password.decode("ascii", "replace")
    if ctx.verifier is not None and token_id_of(token) is not None:
        identity = await ctx.verifier.identify(token)
        tenant = identity.tenant if identity is not None and name == DEFAULT_USER else name
        if identity is None or not _may_be(identity, tenant):
            ctx.audit(session, "AUTH", "WRONGPASS", f"user {name[:64]!r}: the token is not valid for it")
            return False
        session.authenticated, session.user, session.tenant = True, tenant, tenant
        session.identity = identity
        return True
    if not ctx.accounts and ctx.verifier is None:
        if name != DEFAULT_USER:
            return False
        session.authenticated, session.user, session.tenant = True, DEFAULT_USER, DEFAULT_TENANT
        return True
    account = ctx.accounts.get(name)
    if account is None or not hmac.compare_digest(password, account.password.encode("utf-8", "surrogateescape")):
        ctx.audit(session, "AUTH", "WRONGPASS", f"user {name[:64]!r}: no such user or a wrong password")
        return False
    session.authenticated, session.user, session.tenant = True, account.user, account.tenant
    session.identity = None
    return True


def _may_be(identity: Identity, tenant: str) -> bool:
    """Whether a connection authenticated by ``identity`` may act for ``tenant``."""
    try:
        validate_tenant(tenant)
    except InvalidInput:
        return False
    return identity.admin or identity.tenant == tenant


async def auth(ctx: RespContext, session: Session, args: Args) -> Reply:
    if len(args) > 3:
        return SYNTAX_ERROR
    if len(args) == 2:
        token_given = ctx.verifier is not None and token_id_of(args[1].decode("ascii", "replace")) is not None
        if DEFAULT_USER not in ctx.accounts and not token_given:
            return NO_DEFAULT_PASSWORD
        user, password = DEFAULT_USER.encode(), args[1]
    else:
        user, password = args[1], args[2]
    return OK if await authenticate(ctx, session, user, password) else WRONGPASS


async def hello(ctx: RespContext, session: Session, args: Args) -> Reply:
    version = 0
    if len(args) >= 2:
        parsed = to_int(args[1])
        if parsed is None:
            return err("Protocol version is not an integer or out of range")
        if parsed < 2 or parsed > 3:
            return error("NOPROTO unsupported protocol version")
        version = parsed
    credentials: tuple[bytes, bytes] | None = None
    name: bytes | None = None
    i = 2
    while i < len(args):
        more = len(args) - 1 - i
        word = option(args[i])
        if word == b"AUTH" and more >= 2:
            credentials = (args[i + 1], args[i + 2])
            i += 3
        elif word == b"SETNAME" and more >= 1:
            name = args[i + 1]
            i += 2
        else:
            return err(f"Syntax error in HELLO option '{c_text(args[i])}'")
    if credentials is not None and not await authenticate(ctx, session, *credentials):
        return WRONGPASS
    if not session.authenticated:
        ctx.audit(session, "HELLO", "NOAUTH", "HELLO before AUTH")
        return HELLO_NOAUTH
    if name is not None:
        refused = set_name(session, name)
        if refused is not None:
            return refused
    if version:
        session.protocol = version
    return {
        "server": SERVER_NAME,
        "version": REDIS_VERSION,
        "proto": session.protocol,
        "id": session.id,
        "mode": "standalone",
        "role": "master",
        "modules": [],
    }


def select(ctx: RespContext, session: Session, args: Args) -> Reply:
    index = to_int(args[1])
    if index is None:
        return err("value is not an integer or out of range")
    if not INT_MIN <= index <= INT_MAX:
        return err(f"value is out of range, value must between {INT_MIN} and {INT_MAX}")
    if not 0 <= index < ctx.settings.databases:
        return err("DB index is out of range")
    session.database = Database(index)
    return OK


def quit_(ctx: RespContext, session: Session, args: Args) -> Reply:
    session.closing = True
    return OK


def reset(ctx: RespContext, session: Session, args: Args) -> Reply:
    """As Redis's RESET: out of MULTI, no watches, database 0, RESP2, no name, replies on, and
    back to the ``default`` user (unauthenticated where authentication is asked for), out of
    MONITOR mode. NO-EVICT stays, as in Redis 7.0."""
    stop_monitoring(ctx, session)
    session.transaction, session.transaction_failed = None, False
    ctx.watches.unwatch(session)
    session.reply_off = session.skip_next_reply = False
    session.database = Database(0)
    session.protocol = 2
    session.name = None
    session.user, session.tenant, session.identity = DEFAULT_USER, DEFAULT_TENANT, None
    session.authenticated = not ctx.auth_required
    return Status("RESET")


# -- CLIENT ---------------------------------------------------------------------------------------


def set_name(session: Session, name: bytes) -> Reply | None:
    """Sets the connection's name (empty: none); an error reply for a name Redis refuses."""
    if any(byte < 0x21 or byte > 0x7E for byte in name):
        return BAD_NAME
    session.name = name or None
    return None


def client_setname(ctx: RespContext, session: Session, args: Args) -> Reply:
    return set_name(session, args[2]) or OK


def client_getname(ctx: RespContext, session: Session, args: Args) -> Reply:
    return session.name


def client_id(ctx: RespContext, session: Session, args: Args) -> Reply:
    return session.id


def client_info(ctx: RespContext, session: Session, args: Args) -> Reply:
    return Verbatim(session.describe())


_CLIENT_TYPES = {
    b"NORMAL": "normal",
    b"SLAVE": "replica",
    b"REPLICA": "replica",
    b"PUBSUB": "pubsub",
    b"MASTER": "master",
}


def client_list(ctx: RespContext, session: Session, args: Args) -> Reply:
    """The connections of the caller's tenant (a tenant never sees another's); all of them are
    of the ``normal`` type."""
    mine = ctx.sessions.of_tenant(session.tenant)
    if len(args) == 4 and option(args[2]) == b"TYPE":
        kind = _CLIENT_TYPES.get(option(args[3]))
        if kind is None:
            return err(f"Unknown client type '{c_text(args[3])}'")
        chosen = mine if kind == "normal" else []
    elif len(args) > 3 and option(args[2]) == b"ID":
        by_id = {s.id: s for s in mine}
        chosen = []
        for arg in args[3:]:
            wanted = to_int(arg)
            if wanted is None:
                return err("Invalid client ID")
            if wanted in by_id:
                chosen.append(by_id[wanted])
    elif len(args) != 2:
        return SYNTAX_ERROR
    else:
        chosen = mine
    return Verbatim("".join(s.describe() for s in chosen))


def _subcommand_syntax_error(args: Args) -> Reply:
    """Redis's ``addReplySubcommandSyntaxError``: the subcommand as it was typed."""
    return err(f"unknown subcommand or wrong number of arguments for '{c_text(args[1], 128)}'. Try CLIENT HELP.")


def client_kill(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CLIENT KILL ip:port (the old form: +OK, or an error when none matched; the caller may
    kill itself), or filters ID, ADDR, LADDR, TYPE, USER, SKIPME (the count killed; the caller
    is skipped unless SKIPME no). The caller is closed once its reply is written, others at once."""
    addr: str | None = None
    laddr: str | None = None
    user: str | None = None
    kind: str | None = None
    wanted_id = 0
    skip_me = True
    if len(args) == 3:
        addr, skip_me = c_text(args[2]), False
    else:
        i = 2
        while i < len(args):
            word, has_value = option(args[i]), i + 1 < len(args)
            value = args[i + 1] if has_value else b""
            if word == b"ID" and has_value:
                parsed = to_int(value)
                if parsed is None or parsed < 1:
                    return err("client-id should be greater than 0")
                wanted_id = parsed
            elif word == b"TYPE" and has_value:
                kind = _CLIENT_TYPES.get(option(value))
                if kind is None:
                    return err(f"Unknown client type '{c_text(value)}'")
            elif word == b"ADDR" and has_value:
                addr = c_text(value)
            elif word == b"LADDR" and has_value:
                laddr = c_text(value)
            elif word == b"USER" and has_value:
                user = value.decode("utf-8", "surrogateescape")
                if not _user_of_tenant(ctx, user, session.tenant):
                    return err(f"No such user '{c_text(value)}'")
            elif word == b"SKIPME" and has_value and option(value) in (b"YES", b"NO"):
                skip_me = option(value) == b"YES"
            else:
                return SYNTAX_ERROR
            i += 2
    killed = 0
    for target in ctx.sessions.of_tenant(session.tenant):
        if addr is not None and target.address != addr:
            continue
        if laddr is not None and target.local_address != laddr:
            continue
        if (kind is not None and kind != "normal") or (wanted_id and target.id != wanted_id):
            continue
        if (user is not None and target.user != user) or (target is session and skip_me):
            continue
        if target is session:
            session.closing = True
        else:
            ctx.disconnect(target)
        killed += 1
    if len(args) == 3:
        return OK if killed else err("No such client")
    return killed


def _user_of_tenant(ctx: RespContext, user: str, tenant: str) -> bool:
    """Whether ``user`` is a user a connection of ``tenant`` may name (another tenant's users
    are no users to it, as its connections are not)."""
    if ctx.verifier is not None and user == tenant:
        return True  # a token's user is its tenant
    if user == DEFAULT_USER:
        account = ctx.accounts.get(DEFAULT_USER)
        return (account.tenant if account is not None else DEFAULT_TENANT) == tenant
    account = ctx.accounts.get(user)
    return account is not None and account.tenant == tenant


def client_pause(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CLIENT PAUSE timeout [WRITE|ALL]: Redis's checks in its order; the end is now plus the
    timeout in Unix milliseconds, which like Redis's wraps past 2^63 - 1 into no pause."""
    if len(args) > 4:
        return _subcommand_syntax_error(args)
    writes_only = False
    if len(args) == 4:
        mode = option(args[3])
        if mode not in (b"WRITE", b"ALL"):
            return err("CLIENT PAUSE mode must be WRITE or ALL")
        writes_only = mode == b"WRITE"
    timeout = to_int(args[2])
    if timeout is None:
        return err("timeout is not an integer or out of range")
    if timeout < 0:
        return err("timeout is negative")
    seconds = 0.0  # 0 ends at once: it may still widen a running pause to ALL, as in Redis
    if timeout > 0:
        now = time.time_ns() // 1_000_000
        end = timeout + now
        if end > LLONG_MAX:  # C's signed overflow, as Redis 7.0 computes it
            end += 2 * LLONG_MIN
        seconds = (end - now) / 1000
    ctx.pauses.of(session.tenant).pause(seconds, writes_only)
    return OK


def client_unpause(ctx: RespContext, session: Session, args: Args) -> Reply:
    ctx.pauses.of(session.tenant).unpause()
    return OK


def client_reply(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CLIENT REPLY ON (+OK), OFF (no replies from this one on), SKIP (none for the next
    command; SKIP itself answers nothing)."""
    mode = option(args[2])
    if mode == b"ON":
        session.reply_off = session.skip_reply = session.skip_next_reply = False
        return OK
    if mode == b"OFF":
        session.reply_off = True
        return NO_REPLY
    if mode == b"SKIP":
        if not session.reply_off:
            session.skip_next_reply = True
        return NO_REPLY
    return SYNTAX_ERROR


def client_no_evict(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CLIENT NO-EVICT ON|OFF: kept and shown (flag ``e``); this server never evicts clients."""
    mode = option(args[2])
    if mode not in (b"ON", b"OFF"):
        return SYNTAX_ERROR
    session.no_evict = mode == b"ON"
    return OK


def client_getredir(ctx: RespContext, session: Session, args: Args) -> Reply:
    return -1  # not tracking (client-side caching is not served)


def client_trackinginfo(ctx: RespContext, session: Session, args: Args) -> Reply:
    return {"flags": SetReply(["off"]), "redirect": -1, "prefixes": []}


def client_unblock(ctx: RespContext, session: Session, args: Args) -> Reply:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 0, as for a client that is not blocked: no command
    blocks here (a read waiting on the origin is not a blocking command)."""
    if len(args) > 4:
        return _subcommand_syntax_error(args)
    if len(args) == 4 and option(args[3]) not in (b"TIMEOUT", b"ERROR"):
        return err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    if to_int(args[2]) is None:
        return err("value is not an integer or out of range")
    return 0


# Redis 7.0.15's CLIENT HELP, less the subcommands not served here (CACHING, TRACKING).
CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]


def client_help(ctx: RespContext, session: Session, args: Args) -> Reply:
    return [Status(line) for line in CLIENT_HELP]


HANDLERS: dict[str, Handler] = {
    "ping": ping,
    "echo": echo,
    "hello": hello,
    "auth": auth,
    "select": select,
    "quit": quit_,
    "reset": reset,
    "client|id": client_id,
    "client|info": client_info,
    "client|list": client_list,
    "client|setname": client_setname,
    "client|getname": client_getname,
    "client|help": client_help,
    "client|kill": client_kill,
    "client|pause": client_pause,
    "client|unpause": client_unpause,
    "client|reply": client_reply,
    "client|no-evict": client_no_evict,
    "client|getredir": client_getredir,
    "client|trackinginfo": client_trackinginfo,
    "client|unblock": client_unblock,
}
