"""Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT's subcommands."""

from __future__ import annotations

import hmac

from predis.services.resp.arguments import INT_MAX, INT_MIN, c_text, option, to_int
from predis.services.resp.context import Args, Handler, RespContext
from predis.services.resp.databases import Database
from predis.services.resp.replies import OK, PONG, SYNTAX_ERROR, Reply, Status, Verbatim, err, error
from predis.services.resp.session import Session
from predis.services.resp.settings import DEFAULT_USER
from predis.services.runtime.tenancy import DEFAULT_TENANT

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


def authenticate(ctx: RespContext, session: Session, user: bytes, password: bytes) -> bool:
    """Whether ``user`` and ``password`` are an account's; if so the connection now acts for its
    tenant. Without any account configured the ``default`` user takes any password, as Redis's
    ``nopass`` default user does. A failed attempt changes nothing."""
    name = user.decode("utf-8", "surrogateescape")
    if not ctx.accounts:
        if name != DEFAULT_USER:
            return False
        session.authenticated, session.user, session.tenant = True, DEFAULT_USER, DEFAULT_TENANT
        return True
    account = ctx.accounts.get(name)
    if account is None or not hmac.compare_digest(password, account.password.encode("utf-8", "surrogateescape")):
        return False
    session.authenticated, session.user, session.tenant = True, account.user, account.tenant
    return True


def auth(ctx: RespContext, session: Session, args: Args) -> Reply:
    if len(args) > 3:
        return SYNTAX_ERROR
    if len(args) == 2:
        if DEFAULT_USER not in ctx.accounts:
            return NO_DEFAULT_PASSWORD
        user, password = DEFAULT_USER.encode(), args[1]
    else:
        user, password = args[1], args[2]
    return OK if authenticate(ctx, session, user, password) else WRONGPASS


def hello(ctx: RespContext, session: Session, args: Args) -> Reply:
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
    if credentials is not None and not authenticate(ctx, session, *credentials):
        return WRONGPASS
    if not session.authenticated:
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
    """As Redis's RESET: out of MULTI, database 0, RESP2, no name, and back to the ``default``
    user (unauthenticated where authentication is asked for)."""
    session.transaction, session.transaction_failed = None, False
    session.database = Database(0)
    session.protocol = 2
    session.name = None
    session.user, session.tenant = DEFAULT_USER, DEFAULT_TENANT
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


CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
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
}
