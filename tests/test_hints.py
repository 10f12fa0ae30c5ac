"""Client hints: a bounded table of which keys follow which."""

from __future__ import annotations

import pytest

from predis.services.cache.hints import MAX_FOLLOWERS, HintTable
from predis.services.runtime.errors import InvalidInput


def test_sequences_link_each_key_to_the_next() -> None:
    table = HintTable()
    assert table.add("t", "sequence", [b"a", b"b", b"c"]) == 2
    assert table.followers("t", [b"a"]) == [b"b"]
    assert table.followers("t", [b"b", b"a"]) == [b"c", b"b"]
    assert table.add("t", "sequence", [b"a", b"b"]) == 0  # known already


def test_groups_link_every_key_to_every_other() -> None:
    table = HintTable()
    assert table.add("t", "group", [b"a", b"b", b"c"]) == 6
    assert sorted(table.followers("t", [b"a"])) == [b"b", b"c"]


def test_tenants_do_not_share_hints() -> None:
    table = HintTable()
    table.add("t", "sequence", [b"a", b"b"])
    assert table.followers("u", [b"a"]) == [] and not table.has("u")


def test_the_table_is_bounded() -> None:
    table = HintTable(max_keys=3)
    table.add("t", "group", [b"%d" % i for i in range(MAX_FOLLOWERS + 4)])
    assert len(table.followers("t", [b"%d" % (MAX_FOLLOWERS + 3)])) == MAX_FOLLOWERS
    assert sum(bool(table.followers("t", [b"%d" % i])) for i in range(MAX_FOLLOWERS + 4)) == 3


@pytest.mark.parametrize(
    ("kind", "keys"),
    [("ring", [b"a", b"b"]), ("group", [b"a"]), ("group", [b"a", b""]), ("group", [b"a", b"x" * 70_000])],
)
def test_bad_hints_are_refused(kind: str, keys: list[bytes]) -> None:
    with pytest.raises(InvalidInput):
        HintTable().add("t", kind, keys)
