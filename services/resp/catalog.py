"""What redis-server 7.0.15 says about the commands served here: each one's ``COMMAND INFO`` entry
(name, arity, flags, first key, last key, step, ACL categories, tips, key specs; the subcommands
are put together from the supported ones) and its ``COMMAND DOCS`` entry, captured from a real
7.0.15 (``COMMAND INFO`` / ``COMMAND DOCS`` over RESP3) so that clients which read them (redis-cli's
hints, cluster-aware clients' key positions) see what Redis would say. Redis's command metadata is
BSD-3-Clause (Copyright Redis Ltd.). Data only: ``commands.py`` joins it to the handlers.
"""

# ruff: noqa: E501

from __future__ import annotations

from predis.services.resp.replies import Reply, SetReply
from predis.services.resp.replies import Status as S

INFO: dict[str, list[Reply]] = {
    "ping": [
        "ping",
        -1,
        SetReply([S("fast")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply(["request_policy:all_shards", "response_policy:all_succeeded"]),
        SetReply([]),
    ],
    "echo": [
        "echo",
        2,
        SetReply([S("loading"), S("stale"), S("fast")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "hello": [
        "hello",
        -1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("no_auth"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "auth": [
        "auth",
        -2,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("no_auth"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "select": [
        "select",
        2,
        SetReply([S("loading"), S("stale"), S("fast")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "quit": [
        "quit",
        -1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("no_auth"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "reset": [
        "reset",
        1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("no_auth"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client": ["client", -2, SetReply([]), 0, 0, 0, SetReply([S("@slow")]), SetReply([]), SetReply([])],
    "command": [
        "command",
        -1,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply(["nondeterministic_output_order"]),
        SetReply([]),
    ],
    "config": ["config", -2, SetReply([]), 0, 0, 0, SetReply([S("@slow")]), SetReply([]), SetReply([])],
    "info": [
        "info",
        -1,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@dangerous")]),
        SetReply(["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
        SetReply([]),
    ],
    "time": [
        "time",
        1,
        SetReply([S("loading"), S("stale"), S("fast")]),
        0,
        0,
        0,
        SetReply([S("@fast")]),
        SetReply(["nondeterministic_output"]),
        SetReply([]),
    ],
    "get": [
        "get",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@read"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "set": [
        "set",
        -3,
        SetReply([S("write"), S("denyoom")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "notes": "RW and ACCESS due to the optional `GET` argument",
                    "flags": SetReply([S("RW"), S("access"), S("update"), S("variable_flags")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "getex": [
        "getex",
        -2,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "notes": "RW and UPDATE because it changes the TTL",
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "getdel": [
        "getdel",
        2,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("delete")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "getset": [
        "getset",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "setnx": [
        "setnx",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("OW"), S("insert")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "setex": [
        "setex",
        4,
        SetReply([S("write"), S("denyoom")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("OW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "psetex": [
        "psetex",
        4,
        SetReply([S("write"), S("denyoom")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("OW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "mget": [
        "mget",
        -2,
        SetReply([S("readonly"), S("fast")]),
        1,
        -1,
        1,
        SetReply([S("@read"), S("@string"), S("@fast")]),
        SetReply(["request_policy:multi_shard"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "mset": [
        "mset",
        -3,
        SetReply([S("write"), S("denyoom")]),
        1,
        -1,
        2,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply(["request_policy:multi_shard", "response_policy:all_succeeded"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("OW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 2, "limit": 0}},
                }
            ]
        ),
    ],
    "msetnx": [
        "msetnx",
        -3,
        SetReply([S("write"), S("denyoom")]),
        1,
        -1,
        2,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply(["request_policy:multi_shard", "response_policy:agg_min"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("OW"), S("insert")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 2, "limit": 0}},
                }
            ]
        ),
    ],
    "append": [
        "append",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("insert")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "strlen": [
        "strlen",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@read"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "getrange": [
        "getrange",
        4,
        SetReply([S("readonly")]),
        1,
        1,
        1,
        SetReply([S("@read"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "substr": [
        "substr",
        4,
        SetReply([S("readonly")]),
        1,
        1,
        1,
        SetReply([S("@read"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "setrange": [
        "setrange",
        4,
        SetReply([S("write"), S("denyoom")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "incr": [
        "incr",
        2,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "decr": [
        "decr",
        2,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "incrby": [
        "incrby",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "decrby": [
        "decrby",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "incrbyfloat": [
        "incrbyfloat",
        3,
        SetReply([S("write"), S("denyoom"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@write"), S("@string"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "del": [
        "del",
        -2,
        SetReply([S("write")]),
        1,
        -1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@slow")]),
        SetReply(["request_policy:multi_shard", "response_policy:agg_sum"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RM"), S("delete")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "unlink": [
        "unlink",
        -2,
        SetReply([S("write"), S("fast")]),
        1,
        -1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply(["request_policy:multi_shard", "response_policy:agg_sum"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RM"), S("delete")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "exists": [
        "exists",
        -2,
        SetReply([S("readonly"), S("fast")]),
        1,
        -1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply(["request_policy:multi_shard", "response_policy:agg_sum"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "type": [
        "type",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "rename": [
        "rename",
        3,
        SetReply([S("write")]),
        1,
        2,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("delete")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
                {
                    "flags": SetReply([S("OW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 2}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
            ]
        ),
    ],
    "renamenx": [
        "renamenx",
        3,
        SetReply([S("write"), S("fast")]),
        1,
        2,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("access"), S("delete")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
                {
                    "flags": SetReply([S("OW"), S("insert")]),
                    "begin_search": {"type": "index", "spec": {"index": 2}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
            ]
        ),
    ],
    "copy": [
        "copy",
        -3,
        SetReply([S("write"), S("denyoom")]),
        1,
        2,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@slow")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
                {
                    "flags": SetReply([S("OW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 2}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                },
            ]
        ),
    ],
    "keys": [
        "keys",
        2,
        SetReply([S("readonly")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@read"), S("@slow"), S("@dangerous")]),
        SetReply(["request_policy:all_shards", "nondeterministic_output_order"]),
        SetReply([]),
    ],
    "scan": [
        "scan",
        -2,
        SetReply([S("readonly")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@read"), S("@slow")]),
        SetReply(["nondeterministic_output", "request_policy:special"]),
        SetReply([]),
    ],
    "randomkey": [
        "randomkey",
        1,
        SetReply([S("readonly")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@read"), S("@slow")]),
        SetReply(["request_policy:all_shards", "nondeterministic_output"]),
        SetReply([]),
    ],
    "dbsize": [
        "dbsize",
        1,
        SetReply([S("readonly"), S("fast")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply(["request_policy:all_shards", "response_policy:agg_sum"]),
        SetReply([]),
    ],
    "flushdb": [
        "flushdb",
        -1,
        SetReply([S("write")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@write"), S("@slow"), S("@dangerous")]),
        SetReply(["request_policy:all_shards", "response_policy:all_succeeded"]),
        SetReply([]),
    ],
    "flushall": [
        "flushall",
        -1,
        SetReply([S("write")]),
        0,
        0,
        0,
        SetReply([S("@keyspace"), S("@write"), S("@slow"), S("@dangerous")]),
        SetReply(["request_policy:all_shards", "response_policy:all_succeeded"]),
        SetReply([]),
    ],
    "expire": [
        "expire",
        -3,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "pexpire": [
        "pexpire",
        -3,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "expireat": [
        "expireat",
        -3,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "pexpireat": [
        "pexpireat",
        -3,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "expiretime": [
        "expiretime",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "pexpiretime": [
        "pexpiretime",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "ttl": [
        "ttl",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply(["nondeterministic_output"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "pttl": [
        "pttl",
        2,
        SetReply([S("readonly"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@read"), S("@fast")]),
        SetReply(["nondeterministic_output"]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO"), S("access")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "persist": [
        "persist",
        2,
        SetReply([S("write"), S("fast")]),
        1,
        1,
        1,
        SetReply([S("@keyspace"), S("@write"), S("@fast")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RW"), S("update")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "multi": [
        "multi",
        1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@transaction")]),
        SetReply([]),
        SetReply([]),
    ],
    "monitor": [
        "monitor",
        1,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous")]),
        SetReply([]),
        SetReply([]),
    ],
    "exec": [
        "exec",
        1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("skip_slowlog")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@transaction")]),
        SetReply([]),
        SetReply([]),
    ],
    "discard": [
        "discard",
        1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@transaction")]),
        SetReply([]),
        SetReply([]),
    ],
    "watch": [
        "watch",
        -2,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("allow_busy")]),
        1,
        -1,
        1,
        SetReply([S("@fast"), S("@transaction")]),
        SetReply([]),
        SetReply(
            [
                {
                    "flags": SetReply([S("RO")]),
                    "begin_search": {"type": "index", "spec": {"index": 1}},
                    "find_keys": {"type": "range", "spec": {"lastkey": -1, "keystep": 1, "limit": 0}},
                }
            ]
        ),
    ],
    "unwatch": [
        "unwatch",
        1,
        SetReply([S("noscript"), S("loading"), S("stale"), S("fast"), S("allow_busy")]),
        0,
        0,
        0,
        SetReply([S("@fast"), S("@transaction")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|id": [
        "client|id",
        2,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|info": [
        "client|info",
        2,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply(["nondeterministic_output"]),
        SetReply([]),
    ],
    "client|list": [
        "client|list",
        -2,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply(["nondeterministic_output"]),
        SetReply([]),
    ],
    "client|setname": [
        "client|setname",
        3,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|getname": [
        "client|getname",
        2,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|help": [
        "client|help",
        2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|kill": [
        "client|kill",
        -3,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|pause": [
        "client|pause",
        -3,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|unpause": [
        "client|unpause",
        2,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|reply": [
        "client|reply",
        3,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|no-evict": [
        "client|no-evict",
        3,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|getredir": [
        "client|getredir",
        2,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|unblock": [
        "client|unblock",
        -3,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "client|trackinginfo": [
        "client|trackinginfo",
        2,
        SetReply([S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "command|count": [
        "command|count",
        2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "command|info": [
        "command|info",
        -2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply(["nondeterministic_output_order"]),
        SetReply([]),
    ],
    "command|docs": [
        "command|docs",
        -2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply(["nondeterministic_output_order"]),
        SetReply([]),
    ],
    "command|list": [
        "command|list",
        -2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply(["nondeterministic_output_order"]),
        SetReply([]),
    ],
    "command|getkeys": [
        "command|getkeys",
        -4,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "command|help": [
        "command|help",
        2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow"), S("@connection")]),
        SetReply([]),
        SetReply([]),
    ],
    "config|get": [
        "config|get",
        -3,
        SetReply([S("admin"), S("noscript"), S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@admin"), S("@slow"), S("@dangerous")]),
        SetReply([]),
        SetReply([]),
    ],
    "config|help": [
        "config|help",
        2,
        SetReply([S("loading"), S("stale")]),
        0,
        0,
        0,
        SetReply([S("@slow")]),
        SetReply([]),
        SetReply([]),
    ],
}
DOCS: dict[str, dict[str, Reply]] = {
    "ping": {
        "summary": "Ping the server",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "message", "type": "string", "flags": SetReply([S("optional")])}],
    },
    "echo": {
        "summary": "Echo the given string",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "message", "type": "string"}],
    },
    "hello": {
        "summary": "Handshake with Redis",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "history": SetReply(
            [
                [
                    "6.2.0",
                    "`protover` made optional; when called without arguments the command reports the current connection's context.",
                ]
            ]
        ),
        "arguments": [
            {
                "name": "arguments",
                "type": "block",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "protover", "type": "integer"},
                    {
                        "name": "username_password",
                        "type": "block",
                        "token": "AUTH",
                        "flags": SetReply([S("optional")]),
                        "arguments": [{"name": "username", "type": "string"}, {"name": "password", "type": "string"}],
                    },
                    {"name": "clientname", "type": "string", "token": "SETNAME", "flags": SetReply([S("optional")])},
                ],
            }
        ],
    },
    "auth": {
        "summary": "Authenticate to the server",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of passwords defined for the user",
        "history": SetReply([["6.0.0", "Added ACL style (username and password)."]]),
        "arguments": [
            {"name": "username", "type": "string", "since": "6.0.0", "flags": SetReply([S("optional")])},
            {"name": "password", "type": "string"},
        ],
    },
    "select": {
        "summary": "Change the selected database for the current connection",
        "since": "1.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "index", "type": "integer"}],
    },
    "quit": {"summary": "Close the connection", "since": "1.0.0", "group": "connection", "complexity": "O(1)"},
    "reset": {"summary": "Reset the connection", "since": "6.2.0", "group": "connection", "complexity": "O(1)"},
    "client": {
        "summary": "A container for client connection commands",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "Depends on subcommand.",
    },
    "command": {
        "summary": "Get array of Redis command details",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the total number of Redis commands",
    },
    "config": {
        "summary": "A container for server configuration commands",
        "since": "2.0.0",
        "group": "server",
        "complexity": "Depends on subcommand.",
    },
    "info": {
        "summary": "Get information and statistics about the server",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
        "history": SetReply([["7.0.0", "Added support for taking multiple section arguments."]]),
        "arguments": [{"name": "section", "type": "string", "flags": SetReply([S("optional"), S("multiple")])}],
    },
    "time": {"summary": "Return the current server time", "since": "2.6.0", "group": "server", "complexity": "O(1)"},
    "get": {
        "summary": "Get the value of a key",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "set": {
        "summary": "Set the string value of a key",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "history": SetReply(
            [
                ["2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."],
                ["6.0.0", "Added the `KEEPTTL` option."],
                ["6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."],
                ["7.0.0", "Allowed the `NX` and `GET` options to be used together."],
            ]
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "value", "type": "string"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "2.6.12",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                ],
            },
            {"name": "get", "type": "pure-token", "token": "GET", "since": "6.2.0", "flags": SetReply([S("optional")])},
            {
                "name": "expiration",
                "type": "oneof",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "seconds", "type": "integer", "token": "EX", "since": "2.6.12"},
                    {"name": "milliseconds", "type": "integer", "token": "PX", "since": "2.6.12"},
                    {"name": "unix-time-seconds", "type": "unix-time", "token": "EXAT", "since": "6.2.0"},
                    {"name": "unix-time-milliseconds", "type": "unix-time", "token": "PXAT", "since": "6.2.0"},
                    {"name": "keepttl", "type": "pure-token", "token": "KEEPTTL", "since": "6.0.0"},
                ],
            },
        ],
    },
    "getex": {
        "summary": "Get the value of a key and optionally set its expiration",
        "since": "6.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {
                "name": "expiration",
                "type": "oneof",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "seconds", "type": "integer", "token": "EX"},
                    {"name": "milliseconds", "type": "integer", "token": "PX"},
                    {"name": "unix-time-seconds", "type": "unix-time", "token": "EXAT"},
                    {"name": "unix-time-milliseconds", "type": "unix-time", "token": "PXAT"},
                    {"name": "persist", "type": "pure-token", "token": "PERSIST"},
                ],
            },
        ],
    },
    "getdel": {
        "summary": "Get the value of a key and delete the key",
        "since": "6.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "getset": {
        "summary": "Set the string value of a key and return its old value",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "doc_flags": SetReply([S("deprecated")]),
        "deprecated_since": "6.2.0",
        "replaced_by": "`SET` with the `!GET` argument",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}],
    },
    "setnx": {
        "summary": "Set the value of a key, only if the key does not exist",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}],
    },
    "setex": {
        "summary": "Set the value and expiration of a key",
        "since": "2.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "seconds", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
    "psetex": {
        "summary": "Set the value and expiration in milliseconds of a key",
        "since": "2.6.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "milliseconds", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
    "mget": {
        "summary": "Get the values of all the given keys",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(N) where N is the number of keys to retrieve.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": SetReply([S("multiple")])}],
    },
    "mset": {
        "summary": "Set multiple keys to multiple values",
        "since": "1.0.1",
        "group": "string",
        "complexity": "O(N) where N is the number of keys to set.",
        "arguments": [
            {
                "name": "key_value",
                "type": "block",
                "flags": SetReply([S("multiple")]),
                "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}],
            }
        ],
    },
    "msetnx": {
        "summary": "Set multiple keys to multiple values, only if none of the keys exist",
        "since": "1.0.1",
        "group": "string",
        "complexity": "O(N) where N is the number of keys to set.",
        "arguments": [
            {
                "name": "key_value",
                "type": "block",
                "flags": SetReply([S("multiple")]),
                "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}],
            }
        ],
    },
    "append": {
        "summary": "Append a value to a key",
        "since": "2.0.0",
        "group": "string",
        "complexity": "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}],
    },
    "strlen": {
        "summary": "Get the length of the value stored in a key",
        "since": "2.2.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "getrange": {
        "summary": "Get a substring of the string stored at a key",
        "since": "2.4.0",
        "group": "string",
        "complexity": "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "end", "type": "integer"},
        ],
    },
    "substr": {
        "summary": "Get a substring of the string stored at a key",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        "doc_flags": SetReply([S("deprecated")]),
        "deprecated_since": "2.0.0",
        "replaced_by": "`GETRANGE`",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "start", "type": "integer"},
            {"name": "end", "type": "integer"},
        ],
    },
    "setrange": {
        "summary": "Overwrite part of a string at key starting at the specified offset",
        "since": "2.2.0",
        "group": "string",
        "complexity": "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "offset", "type": "integer"},
            {"name": "value", "type": "string"},
        ],
    },
    "incr": {
        "summary": "Increment the integer value of a key by one",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "decr": {
        "summary": "Decrement the integer value of a key by one",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "incrby": {
        "summary": "Increment the integer value of a key by the given amount",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "increment", "type": "integer"}],
    },
    "decrby": {
        "summary": "Decrement the integer value of a key by the given number",
        "since": "1.0.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "decrement", "type": "integer"}],
    },
    "incrbyfloat": {
        "summary": "Increment the float value of a key by the given amount",
        "since": "2.6.0",
        "group": "string",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}, {"name": "increment", "type": "double"}],
    },
    "del": {
        "summary": "Delete a key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": SetReply([S("multiple")])}],
    },
    "unlink": {
        "summary": "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "since": "4.0.0",
        "group": "generic",
        "complexity": "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": SetReply([S("multiple")])}],
    },
    "exists": {
        "summary": "Determine if a key exists",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(N) where N is the number of keys to check.",
        "history": SetReply([["3.0.3", "Accepts multiple `key` arguments."]]),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": SetReply([S("multiple")])}],
    },
    "type": {
        "summary": "Determine the type stored at key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "rename": {
        "summary": "Rename a key",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "newkey", "type": "key", "key_spec_index": 1},
        ],
    },
    "renamenx": {
        "summary": "Rename a key, only if the new key does not exist",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply(
            [["3.2.0", "The command no longer returns an error when source and destination names are the same."]]
        ),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "newkey", "type": "key", "key_spec_index": 1},
        ],
    },
    "copy": {
        "summary": "Copy a key",
        "since": "6.2.0",
        "group": "generic",
        "complexity": "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        "arguments": [
            {"name": "source", "type": "key", "key_spec_index": 0},
            {"name": "destination", "type": "key", "key_spec_index": 1},
            {"name": "destination-db", "type": "integer", "token": "DB", "flags": SetReply([S("optional")])},
            {"name": "replace", "type": "pure-token", "token": "REPLACE", "flags": SetReply([S("optional")])},
        ],
    },
    "keys": {
        "summary": "Find all keys matching the given pattern",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        "arguments": [{"name": "pattern", "type": "pattern"}],
    },
    "scan": {
        "summary": "Incrementally iterate the keys space",
        "since": "2.8.0",
        "group": "generic",
        "complexity": "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "history": SetReply([["6.0.0", "Added the `TYPE` subcommand."]]),
        "arguments": [
            {"name": "cursor", "type": "integer"},
            {"name": "pattern", "type": "pattern", "token": "MATCH", "flags": SetReply([S("optional")])},
            {"name": "count", "type": "integer", "token": "COUNT", "flags": SetReply([S("optional")])},
            {"name": "type", "type": "string", "token": "TYPE", "since": "6.0.0", "flags": SetReply([S("optional")])},
        ],
    },
    "randomkey": {
        "summary": "Return a random key from the keyspace",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
    },
    "dbsize": {
        "summary": "Return the number of keys in the selected database",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
    "flushdb": {
        "summary": "Remove all keys from the current database",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of keys in the selected database",
        "history": SetReply(
            [
                ["4.0.0", "Added the `ASYNC` flushing mode modifier."],
                ["6.2.0", "Added the `SYNC` flushing mode modifier."],
            ]
        ),
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC", "since": "4.0.0"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC", "since": "6.2.0"},
                ],
            }
        ],
    },
    "flushall": {
        "summary": "Remove all keys from all databases",
        "since": "1.0.0",
        "group": "server",
        "complexity": "O(N) where N is the total number of keys in all databases",
        "history": SetReply(
            [
                ["4.0.0", "Added the `ASYNC` flushing mode modifier."],
                ["6.2.0", "Added the `SYNC` flushing mode modifier."],
            ]
        ),
        "arguments": [
            {
                "name": "async",
                "type": "oneof",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "async", "type": "pure-token", "token": "ASYNC", "since": "4.0.0"},
                    {"name": "sync", "type": "pure-token", "token": "SYNC", "since": "6.2.0"},
                ],
            }
        ],
    },
    "expire": {
        "summary": "Set a key's time to live in seconds",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]]),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "seconds", "type": "integer"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
    "pexpire": {
        "summary": "Set a key's time to live in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]]),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "milliseconds", "type": "integer"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
    "expireat": {
        "summary": "Set the expiration for a key as a UNIX timestamp",
        "since": "1.2.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]]),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "unix-time-seconds", "type": "unix-time"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
    "pexpireat": {
        "summary": "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]]),
        "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0},
            {"name": "unix-time-milliseconds", "type": "unix-time"},
            {
                "name": "condition",
                "type": "oneof",
                "since": "7.0.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "nx", "type": "pure-token", "token": "NX"},
                    {"name": "xx", "type": "pure-token", "token": "XX"},
                    {"name": "gt", "type": "pure-token", "token": "GT"},
                    {"name": "lt", "type": "pure-token", "token": "LT"},
                ],
            },
        ],
    },
    "expiretime": {
        "summary": "Get the expiration Unix timestamp for a key",
        "since": "7.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "pexpiretime": {
        "summary": "Get the expiration Unix timestamp for a key in milliseconds",
        "since": "7.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "ttl": {
        "summary": "Get the time to live for a key in seconds",
        "since": "1.0.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["2.8.0", "Added the -2 reply."]]),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "pttl": {
        "summary": "Get the time to live for a key in milliseconds",
        "since": "2.6.0",
        "group": "generic",
        "complexity": "O(1)",
        "history": SetReply([["2.8.0", "Added the -2 reply."]]),
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "persist": {
        "summary": "Remove the expiration from a key",
        "since": "2.2.0",
        "group": "generic",
        "complexity": "O(1)",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0}],
    },
    "multi": {
        "summary": "Mark the start of a transaction block",
        "since": "1.2.0",
        "group": "transactions",
        "complexity": "O(1)",
    },
    "monitor": {
        "summary": "Listen for all requests received by the server in real time",
        "since": "1.0.0",
        "group": "server",
    },
    "exec": {
        "summary": "Execute all commands issued after MULTI",
        "since": "1.2.0",
        "group": "transactions",
        "complexity": "Depends on commands in the transaction",
    },
    "discard": {
        "summary": "Discard all commands issued after MULTI",
        "since": "2.0.0",
        "group": "transactions",
        "complexity": "O(N), when N is the number of queued commands",
    },
    "watch": {
        "summary": "Watch the given keys to determine execution of the MULTI/EXEC block",
        "since": "2.2.0",
        "group": "transactions",
        "complexity": "O(1) for every key.",
        "arguments": [{"name": "key", "type": "key", "key_spec_index": 0, "flags": SetReply([S("multiple")])}],
    },
    "unwatch": {
        "summary": "Forget about all watched keys",
        "since": "2.2.0",
        "group": "transactions",
        "complexity": "O(1)",
    },
    "client|id": {
        "summary": "Returns the client ID for the current connection",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
    "client|info": {
        "summary": "Returns information about the current client connection.",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(1)",
    },
    "client|list": {
        "summary": "Get the list of client connections",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of client connections",
        "history": SetReply(
            [
                ["2.8.12", "Added unique client `id` field."],
                ["5.0.0", "Added optional `TYPE` filter."],
                ["6.0.0", "Added `user` field."],
                ["6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."],
                ["7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."],
                ["7.0.3", "Added `ssub` field."],
            ]
        ),
        "arguments": [
            {
                "name": "normal_master_replica_pubsub",
                "type": "oneof",
                "token": "TYPE",
                "since": "5.0.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "normal", "type": "pure-token", "token": "NORMAL"},
                    {"name": "master", "type": "pure-token", "token": "MASTER"},
                    {"name": "replica", "type": "pure-token", "token": "REPLICA"},
                    {"name": "pubsub", "type": "pure-token", "token": "PUBSUB"},
                ],
            },
            {
                "name": "id",
                "type": "block",
                "token": "ID",
                "since": "6.2.0",
                "flags": SetReply([S("optional")]),
                "arguments": [{"name": "client-id", "type": "integer", "flags": SetReply([S("multiple")])}],
            },
        ],
    },
    "client|setname": {
        "summary": "Set the current connection name",
        "since": "2.6.9",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [{"name": "connection-name", "type": "string"}],
    },
    "client|getname": {
        "summary": "Get the current connection name",
        "since": "2.6.9",
        "group": "connection",
        "complexity": "O(1)",
    },
    "client|help": {
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
    "client|kill": {
        "summary": "Kill the connection of a client",
        "since": "2.4.0",
        "group": "connection",
        "complexity": "O(N) where N is the number of client connections",
        "history": SetReply(
            [
                ["2.8.12", "Added new filter format."],
                ["2.8.12", "`ID` option."],
                ["3.2.0", "Added `master` type in for `TYPE` option."],
                [
                    "5.0.0",
                    "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.",
                ],
                ["6.2.0", "`LADDR` option."],
            ]
        ),
        "arguments": [
            {
                "name": "filter",
                "type": "oneof",
                "arguments": [
                    {"name": "ip:port", "type": "string", "deprecated_since": "2.8.12"},
                    {
                        "name": "new-format",
                        "type": "oneof",
                        "flags": SetReply([S("multiple")]),
                        "arguments": [
                            {
                                "name": "client-id",
                                "type": "integer",
                                "token": "ID",
                                "since": "2.8.12",
                                "flags": SetReply([S("optional")]),
                            },
                            {
                                "name": "normal_master_slave_pubsub",
                                "type": "oneof",
                                "token": "TYPE",
                                "since": "2.8.12",
                                "flags": SetReply([S("optional")]),
                                "arguments": [
                                    {"name": "normal", "type": "pure-token", "token": "NORMAL"},
                                    {"name": "master", "type": "pure-token", "token": "MASTER", "since": "3.2.0"},
                                    {"name": "slave", "type": "pure-token", "token": "SLAVE"},
                                    {"name": "replica", "type": "pure-token", "token": "REPLICA", "since": "5.0.0"},
                                    {"name": "pubsub", "type": "pure-token", "token": "PUBSUB"},
                                ],
                            },
                            {"name": "username", "type": "string", "token": "USER", "flags": SetReply([S("optional")])},
                            {"name": "ip:port", "type": "string", "token": "ADDR", "flags": SetReply([S("optional")])},
                            {
                                "name": "ip:port",
                                "type": "string",
                                "token": "LADDR",
                                "since": "6.2.0",
                                "flags": SetReply([S("optional")]),
                            },
                            {"name": "yes/no", "type": "string", "token": "SKIPME", "flags": SetReply([S("optional")])},
                        ],
                    },
                ],
            }
        ],
    },
    "client|pause": {
        "summary": "Stop processing commands from clients for some time",
        "since": "2.9.50",
        "group": "connection",
        "complexity": "O(1)",
        "history": SetReply([["6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."]]),
        "arguments": [
            {"name": "timeout", "type": "integer"},
            {
                "name": "mode",
                "type": "oneof",
                "since": "6.2.0",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "write", "type": "pure-token", "token": "WRITE"},
                    {"name": "all", "type": "pure-token", "token": "ALL"},
                ],
            },
        ],
    },
    "client|unpause": {
        "summary": "Resume processing of clients that were paused",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(N) Where N is the number of paused clients",
    },
    "client|reply": {
        "summary": "Instruct the server whether to reply to commands",
        "since": "3.2.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "on_off_skip",
                "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                    {"name": "skip", "type": "pure-token", "token": "SKIP"},
                ],
            }
        ],
    },
    "client|no-evict": {
        "summary": "Set client eviction mode for the current connection",
        "since": "7.0.0",
        "group": "connection",
        "complexity": "O(1)",
        "arguments": [
            {
                "name": "enabled",
                "type": "oneof",
                "arguments": [
                    {"name": "on", "type": "pure-token", "token": "ON"},
                    {"name": "off", "type": "pure-token", "token": "OFF"},
                ],
            }
        ],
    },
    "client|getredir": {
        "summary": "Get tracking notifications redirection client ID if any",
        "since": "6.0.0",
        "group": "connection",
        "complexity": "O(1)",
    },
    "client|unblock": {
        "summary": "Unblock a client blocked in a blocking command from a different connection",
        "since": "5.0.0",
        "group": "connection",
        "complexity": "O(log N) where N is the number of client connections",
        "arguments": [
            {"name": "client-id", "type": "integer"},
            {
                "name": "timeout_error",
                "type": "oneof",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "timeout", "type": "pure-token", "token": "TIMEOUT"},
                    {"name": "error", "type": "pure-token", "token": "ERROR"},
                ],
            },
        ],
    },
    "client|trackinginfo": {
        "summary": "Return information about server assisted client side caching for the current connection",
        "since": "6.2.0",
        "group": "connection",
        "complexity": "O(1)",
    },
    "command|count": {
        "summary": "Get total number of Redis commands",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(1)",
    },
    "command|info": {
        "summary": "Get array of specific Redis command details, or all when no argument is given.",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the number of commands to look up",
        "history": SetReply([["7.0.0", "Allowed to be called with no argument to get info on all commands."]]),
        "arguments": [{"name": "command-name", "type": "string", "flags": SetReply([S("optional"), S("multiple")])}],
    },
    "command|docs": {
        "summary": "Get array of specific Redis command documentation",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the number of commands to look up",
        "arguments": [{"name": "command-name", "type": "string", "flags": SetReply([S("optional"), S("multiple")])}],
    },
    "command|list": {
        "summary": "Get an array of Redis command names",
        "since": "7.0.0",
        "group": "server",
        "complexity": "O(N) where N is the total number of Redis commands",
        "arguments": [
            {
                "name": "filterby",
                "type": "oneof",
                "token": "FILTERBY",
                "flags": SetReply([S("optional")]),
                "arguments": [
                    {"name": "module-name", "type": "string", "token": "MODULE"},
                    {"name": "category", "type": "string", "token": "ACLCAT"},
                    {"name": "pattern", "type": "pattern", "token": "PATTERN"},
                ],
            }
        ],
    },
    "command|getkeys": {
        "summary": "Extract keys given a full Redis command",
        "since": "2.8.13",
        "group": "server",
        "complexity": "O(N) where N is the number of arguments to the command",
    },
    "command|help": {
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
    "config|get": {
        "summary": "Get the values of configuration parameters",
        "since": "2.0.0",
        "group": "server",
        "complexity": "O(N) when N is the number of configuration parameters provided",
        "history": SetReply([["7.0.0", "Added the ability to pass multiple pattern parameters in one call"]]),
        "arguments": [
            {
                "name": "parameter",
                "type": "block",
                "flags": SetReply([S("multiple")]),
                "arguments": [{"name": "parameter", "type": "string"}],
            }
        ],
    },
    "config|help": {
        "summary": "Show helpful text about the different subcommands",
        "since": "5.0.0",
        "group": "server",
        "complexity": "O(1)",
    },
}
