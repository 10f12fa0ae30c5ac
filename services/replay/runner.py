"""``predis replay``: recorded traces through the cache engine's policy code, side by side with
libCacheSim's policies, every row scored on the same requests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from predis.services.cache.engine.policy import POLICIES
from predis.services.cache.engine.simulate import simulate
from predis.services.replay.libcachesim_runner import POLICY_NAMES, libcachesim_hits
from predis.services.replay.traces import Trace, read_trace


@dataclass(frozen=True)
class Row:
    trace: str
    requests: int
    footprint: int
    cache_size: int
    policy: str
    source: str  # "predis" or "libcachesim"
    hit_ratio: float
    hits: int
    misses: int
    prefetches: int
    prefetch_used: int
    origin_fetches: int
    eval_from: int


def cache_sizes(sizes: Sequence[float], footprint: int) -> list[int]:
    """Sizes below 1 are fractions of the unique keys (rounded down); others are object counts."""
    return [int(s * footprint) if s < 1 else int(s) for s in sizes]


def replay_trace(
    trace: Trace, policies: Sequence[str], sizes: Sequence[float], train_fraction: float, versus: Sequence[str]
) -> list[Row]:
    footprint = trace.footprint
    eval_from = int(train_fraction * trace.requests)
    rows = []
    for size in cache_sizes(sizes, footprint):
        for policy in policies:
            result = simulate(trace.ids, size, policy, eval_from=eval_from)
            rows.append(_row(trace, footprint, size, policy, "predis", result.hits, result.misses, eval_from))
        for policy in versus:
            hits, misses = libcachesim_hits(trace.ids, size, policy, eval_from)
            rows.append(_row(trace, footprint, size, policy, "libcachesim", hits, misses, eval_from))
    return rows


def _row(
    trace: Trace, footprint: int, size: int, policy: str, source: str, hits: int, misses: int, eval_from: int
) -> Row:
    scored = hits + misses
    return Row(
        trace=trace.name,
        requests=trace.requests,
        footprint=footprint,
        cache_size=size,
        policy=policy,
        source=source,
        hit_ratio=hits / scored if scored else 0.0,
        hits=hits,
        misses=misses,
        prefetches=0,
        prefetch_used=0,
        origin_fetches=misses,
        eval_from=eval_from,
    )


def check_policies(policies: Sequence[str], versus: Sequence[str]) -> None:
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    for policy in versus:
        if policy not in POLICY_NAMES:
            raise ValueError(f"libCacheSim policy {policy!r} is not one of {', '.join(POLICY_NAMES)}")


def run_replay(
    paths: Sequence[Path],
    policies: Sequence[str],
    sizes: Sequence[float],
    train_fraction: float = 0.0,
    versus: Sequence[str] = (),
    fmt: str | None = None,
) -> list[Row]:
    check_policies(policies, versus)
    if not 0.0 <= train_fraction < 1.0:
        raise ValueError("--train-fraction must be at least 0 and below 1")
    rows: list[Row] = []
    for path in paths:
        rows.extend(replay_trace(read_trace(path, fmt), policies, sizes, train_fraction, versus))
    return rows


def rows_json(rows: Sequence[Row]) -> str:
    return json.dumps({"rows": [asdict(r) for r in rows]})


def print_rows(rows: Sequence[Row]) -> None:
    """One line per row: hit ratio, and its difference to LRU and to the best libCacheSim row of
    the same trace and size, in points and in relative percent."""
    header = f"{'trace':<18}{'size':>8}  {'policy':<10}{'source':<12}{'hit ratio':>10}{'vs LRU':>20}{'vs best lcs':>20}"
    print(header)
    print("-" * len(header))
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.trace, row.cache_size), []).append(row)
    for group in groups.values():
        lru = next((r for r in group if r.policy.lower() == "lru"), None)
        best = max(
            (r for r in group if r.source == "libcachesim" and r.policy != "Belady"),
            key=lambda r: r.hit_ratio,
            default=None,
        )
        for row in group:
            print(
                f"{row.trace:<18}{row.cache_size:>8}  {row.policy:<10}{row.source:<12}{row.hit_ratio:>10.4f}"
                f"{_delta(row, lru):>20}{_delta(row, best):>20}"
            )


def _delta(row: Row, base: Row | None) -> str:
    if base is None:
        return "-"
    points = 100 * (row.hit_ratio - base.hit_ratio)
    relative = 100 * (row.hit_ratio / base.hit_ratio - 1) if base.hit_ratio else float("nan")
    return f"{points:+.2f} pt {relative:+.1f}%"


def parse_floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]
