"""``predis replay``: recorded traces through the cache engine's policy code, side by side with
libCacheSim's policies, every row scored on the same requests."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from predis.services.cache.engine.policy import POLICIES
from predis.services.cache.engine.simulate import PREFETCHING, LiveThreshold, simulate
from predis.services.cache.engine.threshold import TunerSettings
from predis.services.replay.keys import load_trace
from predis.services.replay.libcachesim_runner import POLICY_NAMES, libcachesim_hits
from predis.services.replay.traces import Trace

ORACLES = ("Belady",)
DEFAULT_TUNING = TunerSettings()  # the cache's defaults


@dataclass(frozen=True)
class Row:
    trace: str
    requests: int
    footprint: int
    cache_size: int
    policy: str
    source: str  # "predis", "libcachesim" or "service"
    hit_ratio: float
    hits: int
    misses: int
    prefetches: int
    prefetch_used: int
    origin_fetches: int
    eval_from: int
    # Hit ratio in each 1% of the trace (None where no scored request fell in it).
    timeline: list[float | None] = field(default_factory=list)
    # Replay speed of Predis's own rows; None for others.
    requests_per_s: float | None = None
    # Through a running service only: GET latency and failed calls.
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    errors: int | None = None
    # Which keys the row was scored on ("recorded" or "scrambled", see replay/keys.py) and how
    # the file was read.
    keys: str = "recorded"
    scrambled_field: str = ""
    format: str = ""


def cache_sizes(sizes: Sequence[float], footprint: int) -> list[int]:
    """Sizes below 1 are fractions of the unique keys (rounded down); others are object counts."""
    return [int(s * footprint) if s < 1 else int(s) for s in sizes]


def timeline_of(hits: np.ndarray, requests: np.ndarray) -> list[float | None]:
    return [round(float(h) / r, 4) if r else None for h, r in zip(hits.tolist(), requests.tolist(), strict=True)]


class Progress:
    """One line on stderr, rewritten as steps finish; silent when stderr is not a terminal."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()

    def step(self, label: str) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        if not self.enabled or time.monotonic() - self.started < 1.0:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        print(f"\r[{bar}] {self.done}/{self.total} {label[:40]:<40}", end="", file=sys.stderr, flush=True)
        if self.done == self.total:
            print(file=sys.stderr)


def replay_trace(
    trace: Trace,
    policies: Sequence[str],
    sizes: Sequence[float],
    train_fraction: float,
    versus: Sequence[str],
    progress: Progress,
    model: Path | None = None,
    threshold: float | None = None,
    live: bool = True,
    tuning: TunerSettings = DEFAULT_TUNING,
    per_read: int = 2,
) -> Iterator[Row]:
    """``live``: the learned policy starts at the cut tuned on the training window and tunes it as
    it goes (as the cache does); without it, the tuned cut stays fixed. ``threshold`` fixes a cut."""
    footprint = trace.footprint
    eval_from = int(train_fraction * trace.requests)
    scored = None
    if "learned" in policies:
        from predis.services.replay.keys import check_model_keys
        from predis.services.replay.learned import read_card, score_proposals, tuned_threshold

        if model is None:
            raise ValueError("the learned policy needs --model DIR (a directory `predis train` wrote)")
        check_model_keys(read_card(model), trace)
        scored = score_proposals(trace.ids, model)
    for size in cache_sizes(sizes, footprint):
        for policy in policies:
            started = time.perf_counter()
            proposals, tuner = None, None
            if policy == "learned" and scored is not None:
                if threshold is not None:
                    proposals = scored.at(threshold)
                elif not live:
                    proposals = scored.at(tuned_threshold(trace, scored, size, eval_from, model))
                else:
                    # Start where the training window says, then tune live as the cache does.
                    start = tuned_threshold(trace, scored, size, eval_from, model)
                    proposals = scored.at(1.0)
                    tuner = LiveThreshold(scored.scores, start, tuning)  # start clipped to the tuner's bounds
            result = simulate(
                trace.ids,
                size,
                policy,
                eval_from=eval_from,
                proposals=proposals,
                live=tuner,
                lines=trace.lines,
                per_request=per_read,
            )
            speed = trace.requests / (time.perf_counter() - started)
            yield _row(
                trace,
                footprint,
                size,
                policy,
                "predis",
                result.hits,
                result.misses,
                eval_from,
                timeline_of(result.timeline_hits, result.timeline_requests),
                speed,
                result.prefetches,
                result.prefetch_used,
            )
            progress.step(f"{trace.name} {size} {policy}")
        for policy in versus:
            hits, misses, t_hits, t_requests = libcachesim_hits(trace.ids, size, policy, eval_from)
            yield _row(
                trace,
                footprint,
                size,
                policy,
                "libcachesim",
                hits,
                misses,
                eval_from,
                timeline_of(t_hits, t_requests),
                None,
            )
            progress.step(f"{trace.name} {size} libCacheSim {policy}")


def _row(
    trace: Trace,
    footprint: int,
    size: int,
    policy: str,
    source: str,
    hits: int,
    misses: int,
    eval_from: int,
    timeline: list[float | None],
    speed: float | None,
    prefetches: int = 0,
    prefetch_used: int = 0,
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
        prefetches=prefetches,
        prefetch_used=prefetch_used,
        origin_fetches=misses + prefetches,
        eval_from=eval_from,
        timeline=timeline,
        requests_per_s=round(speed) if speed else None,
        keys=trace.keys,
        scrambled_field=trace.scrambled_field,
        format=trace.format,
    )


def check_options(policies: Sequence[str], versus: Sequence[str], train_fraction: float) -> None:
    for policy in policies:
        if policy not in POLICIES and policy not in PREFETCHING:
            raise ValueError(f"policy {policy!r} is not one of {', '.join([*POLICIES, *PREFETCHING])}")
    for policy in versus:
        if policy not in POLICY_NAMES:
            raise ValueError(f"libCacheSim policy {policy!r} is not one of {', '.join(POLICY_NAMES)}")
    if not 0.0 <= train_fraction < 1.0:
        raise ValueError("--train-fraction must be at least 0 and below 1")


def run_replay(
    paths: Sequence[Path],
    policies: Sequence[str],
    sizes: Sequence[float],
    train_fraction: float = 0.0,
    versus: Sequence[str] = (),
    fmt: str | None = None,
    show_progress: bool | None = None,
    model: Path | None = None,
    threshold: float | None = None,
    live: bool = True,
    keys: str = "auto",
    key_seed: int = 0,
    say: Callable[[str], None] | None = None,
    tuning: TunerSettings = DEFAULT_TUNING,
    per_read: int = 2,
) -> list[Row]:
    """Every policy and size on every trace, its keys chosen by ``keys`` (``replay/keys.py``);
    ``say`` gets what was assumed of each file (format, keys)."""
    check_options(policies, versus, train_fraction)
    progress = Progress(len(paths) * len(sizes) * (len(policies) + len(versus)), show_progress)
    rows: list[Row] = []
    for path in paths:
        trace = load_trace(path, fmt, keys, key_seed, say)
        rows.extend(
            replay_trace(
                trace, policies, sizes, train_fraction, versus, progress, model, threshold, live, tuning, per_read
            )
        )
    return rows


def rows_json(rows: Sequence[Row]) -> str:
    return json.dumps({"rows": [asdict(r) for r in rows]})


def print_rows(rows: Sequence[Row]) -> None:
    """One line per row: hit ratio, and its difference to LRU and to the best non-oracle
    libCacheSim row of the same trace and size, in points and in relative percent."""
    header = (
        f"{'trace':<18}{'keys':<10}{'format':<15}{'size':>7}  {'policy':<10}{'source':<12}{'hit ratio':>10}"
        f"{'misses':>9}{'prefetch':>9}{'prec':>6}{'origin':>9}{'vs LRU':>19}{'vs best lcs':>19}"
    )
    print(header)
    print("-" * len(header))
    for group in _groups(rows).values():
        lru = next((r for r in group if r.policy.lower() == "lru"), None)
        best = _best_libcachesim(group)
        for row in group:
            precision = f"{row.prefetch_used / row.prefetches:.2f}" if row.prefetches else "-"
            print(
                f"{row.trace:<18}{row.keys:<10}{row.format:<15}{row.cache_size:>7}  {row.policy:<10}{row.source:<12}"
                f"{row.hit_ratio:>10.4f}{row.misses:>9}{row.prefetches:>9}{precision:>6}{row.origin_fetches:>9}"
                f"{_delta(row, lru):>19}{_delta(row, best):>19}"
            )
    scrambled = sorted({f"{r.trace}: {r.scrambled_field}" for r in rows if r.keys == "scrambled"})
    if scrambled:
        print("scrambled (a seeded bijection; see --keys): " + "; ".join(scrambled))


def _groups(rows: Sequence[Row]) -> dict[tuple[str, int], list[Row]]:
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.trace, row.cache_size), []).append(row)
    return groups


def _best_libcachesim(group: Sequence[Row]) -> Row | None:
    candidates = [r for r in group if r.source == "libcachesim" and r.policy not in ORACLES]
    return max(candidates, key=lambda r: r.hit_ratio, default=None)


def _delta(row: Row, base: Row | None) -> str:
    if base is None:
        return "-"
    points = 100 * (row.hit_ratio - base.hit_ratio)
    relative = 100 * (row.hit_ratio / base.hit_ratio - 1) if base.hit_ratio else float("nan")
    return f"{points:+.2f} pt {relative:+.1f}%"


def parse_floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]
