"""`predis replay`: every row scored on the same requests, next to libCacheSim."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from predis.client import Client
from predis.config import ClientConfig
from predis.services.replay.runner import cache_sizes, run_replay

FIELDS = {
    "trace",
    "requests",
    "footprint",
    "cache_size",
    "policy",
    "source",
    "hit_ratio",
    "hits",
    "misses",
    "prefetches",
    "prefetch_used",
    "origin_fetches",
    "eval_from",
}


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    ids = (np.random.default_rng(3).zipf(1.3, 20_000) % 1500).tolist()
    path = tmp_path / "skewed.trace.gz"
    path.write_bytes(gzip.compress("".join(f"{i}\n" for i in ids).encode()))
    return path


def test_lru_rows_equal_libcachesim_and_all_rows_share_the_window(trace_file: Path) -> None:
    rows = run_replay([trace_file], ["lru", "s3fifo"], [0.05, 0.1], train_fraction=0.3, versus=["LRU", "S3FIFO"])
    assert len(rows) == 8
    for size in {r.cache_size for r in rows}:
        group = {(r.policy, r.source): r for r in rows if r.cache_size == size}
        assert group[("lru", "predis")].hits == group[("LRU", "libcachesim")].hits
        assert abs(group[("s3fifo", "predis")].hit_ratio - group[("S3FIFO", "libcachesim")].hit_ratio) <= 0.005
    assert {r.eval_from for r in rows} == {6000}
    assert {r.hits + r.misses for r in rows} == {14_000}


def test_sizes_are_fractions_of_unique_keys_or_counts() -> None:
    assert cache_sizes([0.01, 0.5, 100, 2.0], 1000) == [10, 500, 100, 2]


def test_cli_prints_the_json_the_design_names(trace_file: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "predis.services.cli",
            "replay",
            str(trace_file),
            "--size",
            "0.1",
            "--vs-libcachesim",
            "LRU",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = json.loads(out)["rows"]
    assert {r["source"] for r in rows} == {"predis", "libcachesim"}
    assert all(set(r) >= FIELDS for r in rows)  # the fields DESIGN.md names, and a timeline beside them


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--policy", "mru"], "policy 'mru' is not one of"),
        (["--vs-libcachesim", "Magic"], "libCacheSim policy 'Magic'"),
        (["--train-fraction", "1.5"], "train-fraction"),
    ],
)
def test_cli_refuses_bad_options_clearly(trace_file: Path, args: list[str], needle: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "replay", str(trace_file), *args], capture_output=True, text=True
    )
    assert result.returncode == 2 and needle in result.stderr


def test_rows_carry_a_timeline_per_percent_and_replay_speed(trace_file: Path) -> None:
    rows = run_replay([trace_file], ["lru"], [0.1], train_fraction=0.5, versus=["LRU"])
    ours, theirs = rows
    assert len(ours.timeline) == 100 and ours.timeline == theirs.timeline
    assert all(t is None for t in ours.timeline[:50]) and all(t is not None for t in ours.timeline[50:])
    assert ours.requests_per_s and ours.requests_per_s > 0 and theirs.requests_per_s is None


def test_plot_is_a_png_with_a_panel_per_trace(trace_file: Path, tmp_path: Path) -> None:
    from predis.services.replay.plot import plot_rows

    rows = run_replay([trace_file], ["lru", "s3fifo"], [0.02, 0.05, 0.1], versus=["LRU"])
    out = tmp_path / "hit-ratio.png"
    plot_rows(rows, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_replay_through_a_running_service(tmp_path: Path) -> None:
    from conftest import BackgroundSuite
    from predis.services.replay.keys import load_trace
    from predis.services.replay.through_service import replay_through_service

    path = tmp_path / "small.trace.gz"
    ids = (np.random.default_rng(9).zipf(1.3, 2_000) % 300).tolist()
    path.write_bytes(gzip.compress("".join(f"{i}\n" for i in ids).encode()))
    trace = load_trace(path, keys="scrambled")
    suite = BackgroundSuite().start()
    try:
        row = replay_through_service(trace, suite.addresses["cache"], train_fraction=0.0)
        with Client(suite.addresses["cache"], config=ClientConfig(tenant=f"replay-{os.getpid()}")) as client:
            # The service holds the scrambled keys the in-process replay uses, not the recorded ones.
            assert client.lookup(int(trace.ids[0]).to_bytes(8, "big"), skip_origin=True).found
            assert not client.lookup(int(ids[0]).to_bytes(8, "big"), skip_origin=True).found
    finally:
        suite.stop()
    assert row.keys == "scrambled" and row.format == "lirs"
    # The suite's budget holds every key: only first requests miss.
    assert row.source == "service" and row.errors == 0
    assert row.misses == len(set(ids)) and row.hits == len(ids) - len(set(ids))
    assert row.latency_p50_ms is not None and 0 < row.latency_p50_ms <= row.latency_p99_ms  # type: ignore[operator]
