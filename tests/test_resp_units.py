"""The RESP layer's parts alone: settings from the environment, Redis's numbers, the command
table against Redis's catalog, SELECT's namespaces, SCAN's cursors, glob patterns, WATCH's table."""

from __future__ import annotations

import pytest

from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.resp import catalog
from predis.services.resp.arguments import to_int, to_long_double
from predis.services.resp.commands import build_table, unknown_command
from predis.services.resp.databases import EMPTY_KEY, Database, ReservedKey, split_by_database
from predis.services.resp.patterns import matcher
from predis.services.resp.scan_order import ScanOrder, parse_cursor
from predis.services.resp.session import Session
from predis.services.resp.settings import Account, RespSettings, parse_requirepass, parse_users
from predis.services.resp.watches import WatchedKeys
from predis.services.runtime.settings import SettingsError

# -- settings -------------------------------------------------------------------------------------


def test_settings_default_to_redis_s_defaults_and_no_server() -> None:
    settings = RespSettings.from_env({})
    assert not settings.enabled
    assert (settings.max_clients, settings.databases, settings.timeout_s) == (10_000, 16, 0.0)
    assert settings.proto_max_bulk_len == 512 * 1024 * 1024
    assert settings.accounts == {}


def test_settings_read_listen_users_and_the_default_password() -> None:
    settings = RespSettings.from_env(
        {
            "PREDIS_RESP_LISTEN": "0.0.0.0:6379",
            "PREDIS_RESP_USERS": "alice:secret1=tenant-a, bob:se:cr=et2=tenant-b",
            "PREDIS_RESP_REQUIREPASS": "pw=default",
            "PREDIS_RESP_DATABASES": "4",
            "PREDIS_RESP_TIMEOUT_S": "30",
        }
    )
    assert settings.enabled and settings.databases == 4 and settings.timeout_s == 30
    assert settings.users["bob"] == Account("bob", "se:cr=et2", "tenant-b")
    assert settings.accounts["default"] == Account("default", "pw", "default")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PREDIS_RESP_LISTEN": "nowhere"}, "PREDIS_RESP_LISTEN"),
        ({"PREDIS_RESP_MAX_CLIENTS": "0"}, "PREDIS_RESP_MAX_CLIENTS"),
        ({"PREDIS_RESP_MAX_CLIENTS": "lots"}, "PREDIS_RESP_MAX_CLIENTS"),
        ({"PREDIS_RESP_PROTO_MAX_BULK_LEN": "1000"}, "PREDIS_RESP_PROTO_MAX_BULK_LEN"),
        ({"PREDIS_RESP_QUERY_BUFFER_LIMIT": "2097152"}, "PREDIS_RESP_QUERY_BUFFER_LIMIT"),
        ({"PREDIS_RESP_TIMEOUT_S": "-1"}, "PREDIS_RESP_TIMEOUT_S"),
        ({"PREDIS_RESP_DATABASES": "257"}, "PREDIS_RESP_DATABASES"),
        ({"PREDIS_RESP_USERS": "alice=tenant-a"}, "PREDIS_RESP_USERS"),
        ({"PREDIS_RESP_USERS": "alice:pw=bad tenant!"}, "PREDIS_RESP_USERS"),
        ({"PREDIS_RESP_USERS": "a:x=t,a:y=t"}, "PREDIS_RESP_USERS"),
        ({"PREDIS_RESP_REQUIREPASS": "no-tenant"}, "PREDIS_RESP_REQUIREPASS"),
        ({"PREDIS_RESP_REQUIREPASS": "pw=t", "PREDIS_RESP_USERS": "default:x=t"}, "PREDIS_RESP_REQUIREPASS"),
    ],
)
def test_bad_settings_fail_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        RespSettings.from_env(environ)


def test_a_bad_user_entry_does_not_show_its_password() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_users("alice:hunter2")
    assert "hunter2" not in str(raised.value)
    assert parse_requirepass("") is None


# -- Redis's numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [(b"0", 0), (b"-1", -1), (b"9223372036854775807", (1 << 63) - 1), (b"-9223372036854775808", -(1 << 63))],
)
def test_integers_read_as_string2ll(text: bytes, value: int) -> None:
    assert to_int(text) == value


@pytest.mark.parametrize("text", [b"", b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"1.0", b"9223372036854775808", b"0x1"])
def test_integers_string2ll_refuses(text: bytes) -> None:
    assert to_int(text) is None


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [(b"0.1", b"0.2", b"0.3"), (b"10", b"1.5", b"11.5"), (b"5.0e3", b"0", b"5000"), (b"-0", b"0", b"0")],
)
def test_long_doubles_add_and_print_as_redis_does(a: bytes, b: bytes, total: bytes) -> None:
    x, y = to_long_double(a), to_long_double(b)
    assert x is not None and y is not None
    assert (x + y).human() == total


@pytest.mark.parametrize("text", [b"nan", b" 1", b"1 ", b"abc", b"", b"1e5000", b"\x00", b"1\x002", b"1\x00"])
def test_long_doubles_refuse_what_string2ld_refuses(text: bytes) -> None:
    assert to_long_double(text) is None


# -- the command table ----------------------------------------------------------------------------


def test_every_catalogued_command_has_a_handler_and_every_handler_a_description() -> None:
    table = build_table()
    served = {c.name for c in table.commands.values()} | {
        s.name for c in table.commands.values() for s in c.subcommands.values()
    }
    assert served == set(catalog.INFO) == set(catalog.DOCS)
    for command in table.commands.values():
        assert command.handler is not None or command.subcommands, command.name


def test_the_table_holds_redis_s_arity_flags_and_keys() -> None:
    table = build_table()
    get, mset, client = (table.commands[name] for name in (b"get", b"mset", b"client"))
    assert (get.arity, get.first_key, get.last_key, get.key_step) == (2, 1, 1, 1)
    assert {"readonly", "fast"} <= get.flags and "@string" in get.acl_categories
    assert (mset.arity, mset.keys_of([b"mset", b"a", b"1", b"b", b"2"])) == (-3, [1, 3])
    assert table.lookup([b"CLIENT", b"SetName", b"x"]) is client.subcommands[b"setname"]
    assert table.lookup([b"client"]) is client
    assert "no_auth" in table.commands[b"auth"].flags and "no_auth" not in get.flags


def test_unknown_commands_are_described_as_redis_7_does() -> None:
    table = build_table()
    assert (
        str(unknown_command(table, [b"foo", b"a", b"b"]))
        == "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    )
    assert str(unknown_command(table, [b"client", b"nope"])) == "ERR unknown subcommand 'nope'. Try CLIENT HELP."


# -- databases, cursors, patterns -----------------------------------------------------------------


def test_databases_are_prefixes_inside_the_tenant() -> None:
    zero, three = Database(0), Database(3)
    assert zero.key(b"k") == b"k" and three.key(b"k") == b"\xff\xdb\x03k"
    assert zero.key(b"") == EMPTY_KEY and three.key(b"") == b"\xff\xdb\x03"
    with pytest.raises(ReservedKey):
        zero.key(b"\xff\xdbx")
    # Many keys at once (MGET's) map as each one does: the empty key, FF alone, FF DB refused.
    assert zero.keys([b"b", b"a"]) == [b"b", b"a"] and three.keys([b"a"]) == [b"\xff\xdb\x03a"]
    assert zero.keys([b"a", b"", b"\xff", b"\xfe"]) == [b"a", EMPTY_KEY, b"\xff", b"\xfe"]
    with pytest.raises(ReservedKey):
        zero.keys([b"a", b"\xff\xdbx", b"b"])
    stored = [b"a", b"\xff\xdb\x03b", EMPTY_KEY, b"\xff\xdb\x03", b"\xff\xdb"]
    assert zero.client_keys(stored) == [b"a", b""]
    assert three.client_keys(stored) == [b"b", b""]
    assert split_by_database(stored) == {0: 2, 3: 2}


def test_scan_cursors_read_as_strtoul_does() -> None:
    assert [parse_cursor(c) for c in (b"0", b"", b"+5", b"-1", b"007")] == [0, 0, 5, (1 << 64) - 1, 7]
    assert [parse_cursor(c) for c in (b"x", b" 1", b"1 ", b"18446744073709551616", b"-")] == [None] * 5


def test_a_scan_page_never_splits_keys_of_one_position() -> None:
    order = ScanOrder("t", 0, [1, 5, 5, 5, 9], [b"a", b"b", b"c", b"d", b"e"])
    assert order.page(0, 2) == (6, [b"a", b"b", b"c", b"d"])
    assert order.page(6, 2) == (0, [b"e"])
    assert order.page(10, 2) == (0, [])


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        (b"*", b"", True),
        (b"**", b"", False),
        (b"", b"", True),
        (b"a*", b"a", True),
        (b"a?c", b"abc", True),
        (b"a\\*c", b"a*c", True),
        (b"a\\*c", b"abc", False),
        (b"[b-a]", b"a", True),
        (b"[^a]", b"b", True),
        (b"[", b"x", False),
        (b"a\\", b"a\\", True),
        (b"*a*b*c*d*e*f*g*h*i*j*", b"a" * 200, False),
    ],
)
def test_patterns_match_as_stringmatchlen(pattern: bytes, key: bytes, matches: bool) -> None:
    assert matcher(pattern)(key) is matches


# -- WATCH's table ----------------------------------------------------------------------------------


def _session(id_: int, tenant: str) -> Session:
    return Session(id=id_, address="127.0.0.1:1", local_address="127.0.0.1:2", fd=-1, tenant=tenant)


def test_watches_listen_to_the_domain_only_while_a_connection_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    domain = CacheDomain(Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage()))
    listening: list[object] = []
    monkeypatch.setattr(domain, "on_write", listening.append)
    monkeypatch.setattr(domain, "remove_write_listener", listening.remove)
    watches, one, two = WatchedKeys(domain), _session(1, "t"), _session(2, "t")
    watches.watch(one, [b"a"])
    watches.watch(two, [b"a", b"b"])
    assert len(listening) == 1
    watches.unwatch(one)
    assert len(listening) == 1
    watches.unwatch(two)
    assert listening == []


def test_a_write_modifies_the_watches_of_its_own_tenant_only() -> None:
    domain = CacheDomain(Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage()))
    watches = WatchedKeys(domain)
    alice, bob, absent = _session(1, "alice"), _session(2, "bob"), _session(3, "bob")
    domain.set("bob", b"k", b"v")
    watches.watch(alice, [b"k"])
    watches.watch(bob, [b"k"])
    watches.watch(absent, [b"zz"])
    domain.set("alice", b"k", b"v")
    assert watches.modified(alice) and not watches.modified(bob)
    domain.flush("bob")  # gone: a watched key that was cached; one that was not stays unmodified
    assert watches.modified(bob) and not watches.modified(absent)
    for session in (alice, bob, absent):
        watches.unwatch(session)
        assert not watches.modified(session) and session.watching == {}
