"""``predis bench targets``: the learned policy's replay rows held against the bars it must clear.

Reads the JSON that ``predis replay --policy s3fifo,successor,learned --vs-libcachesim ...
--json`` printed (one file per trace, or one for many) and prints one Markdown row per trace and
size: the learned policy beside S3-FIFO, the successor rule, the best non-oracle libCacheSim
policy, Belady and, when a table of published prefetchers is given (``--bar``, the Markdown table
"Published prefetchers on these traces" of the traces' README), the best of those; then how many
cases meet each target. Every number comes from the files named; nothing is computed here but
differences and counts.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORACLES = ("Belady",)
BELADY_TRACES = ("lirs-", "cloudphysics")  # the target "above Belady in two thirds" is on these


@dataclass(frozen=True)
class Case:
    trace: str
    size: int
    keys: str
    rows: dict[str, dict[str, Any]]  # policy -> row
    bar: tuple[str, float] | None  # best published prefetcher at this size, when known

    def ratio(self, policy: str) -> float:
        return float(self.rows[policy]["hit_ratio"])

    @property
    def best_libcachesim(self) -> tuple[str, float]:
        rows = [(p, self.ratio(p)) for p, r in self.rows.items() if r["source"] == "libcachesim" and p not in ORACLES]
        return max(rows, key=lambda pr: pr[1]) if rows else ("-", float("nan"))


def published_bar(readme: Path) -> dict[tuple[str, str], tuple[str, float]]:
    """(trace, size fraction) -> (name, hit ratio) of the best published prefetcher row."""
    bar: dict[tuple[str, str], tuple[str, float]] = {}
    in_table = False
    for line in readme.read_text().splitlines():
        if line.startswith("## "):
            in_table = "prefetchers" in line.lower()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not in_table or len(cells) < 9 or not re.fullmatch(r"[0-9.]+", cells[2]):
            continue
        name, value = cells[-1].rsplit(" ", 1)
        bar[(cells[0], cells[2])] = (name, float(value))
    return bar


def cases(paths: Sequence[Path], bar: dict[tuple[str, str], tuple[str, float]]) -> list[Case]:
    grouped: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for path in paths:
        for row in json.loads(path.read_text()).get("rows", []):
            grouped.setdefault((row["trace"], row["cache_size"]), {})[row["policy"]] = row
    out = []
    for (trace, size), rows in grouped.items():
        learned = rows.get("learned")
        if learned is None:
            continue
        fraction = _fraction(size, int(learned["footprint"]))
        out.append(Case(trace, size, str(learned.get("keys", "recorded")), rows, bar.get((trace, fraction))))
    return out


def _fraction(size: int, footprint: int) -> str:
    for f in ("0.01", "0.05", "0.1"):
        if int(float(f) * footprint) == size:
            return f
    return ""


def _pt(a: float, b: float) -> str:
    return f"{100 * (a - b):+.2f}"


def print_targets(found: list[Case]) -> None:
    print(
        "| trace | keys | size | S3-FIFO | successor | learned | vs successor (pt) | best non-oracle libCacheSim "
        "| vs it (pt) | best published prefetcher | vs it (pt) | Belady | precision | prefetches | origin fetches |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|")
    for c in found:
        learned, row = c.ratio("learned"), c.rows["learned"]
        name, best = c.best_libcachesim
        prefetches = int(row["prefetches"])
        precision = f"{int(row['prefetch_used']) / prefetches:.2f}" if prefetches else "-"
        bar = f"{c.bar[0]} {c.bar[1]:.4f}" if c.bar else "-"
        print(
            f"| {c.trace} | {c.keys} | {c.size} | {c.ratio('s3fifo'):.4f} | {c.ratio('successor'):.4f} | {learned:.4f} "
            f"| {_pt(learned, c.ratio('successor'))} | {name} {best:.4f} | {_pt(learned, best)} | {bar} "
            f"| {_pt(learned, c.bar[1]) if c.bar else '-'} | {_belady(c)} | {precision} | {prefetches:,} "
            f"| {int(row['origin_fetches']):,} |"
        )
    print()
    for line in summary(found):
        print(f"- {line}")


def _belady(c: Case) -> str:
    return f"{c.ratio('Belady'):.4f}" if "Belady" in c.rows else "-"


def summary(found: list[Case]) -> list[str]:
    n = len(found)
    harm = [c for c in found if c.ratio("learned") < c.best_libcachesim[1] - 0.002]
    below_rule = [c for c in found if c.ratio("learned") < c.ratio("successor")]
    mean_rule = sum(c.ratio("learned") - c.ratio("successor") for c in found) / n if n else 0.0
    with_bar = [c for c in found if c.bar]
    below_bar = [c for c in with_bar if c.bar and c.ratio("learned") < c.bar[1]]
    belady = [c for c in found if c.trace.startswith(BELADY_TRACES) and "Belady" in c.rows]
    above = [c for c in belady if c.ratio("learned") > c.ratio("Belady")]
    imprecise = [
        c
        for c in found
        if int(c.rows["learned"]["prefetches"]) >= 100
        and int(c.rows["learned"]["prefetch_used"]) / int(c.rows["learned"]["prefetches"]) < 0.5
    ]

    def names(cs: list[Case]) -> str:
        return ", ".join(f"{c.trace}@{c.size}" for c in cs) or "none"

    return [
        f"do no harm (at most 0.2 pt below the best non-oracle libCacheSim policy): {n - len(harm)} of {n}; "
        f"missed: {names(harm)}",
        f"at least the successor rule: {n - len(below_rule)} of {n}; below: {names(below_rule)}; "
        f"mean {100 * mean_rule:+.2f} pt over it (target +1)",
        f"at least the best published prefetcher: {len(with_bar) - len(below_bar)} of {len(with_bar)}; "
        f"below: {names(below_bar)}",
        f"above Belady on lirs-* and cloudphysics: {len(above)} of {len(belady)} (target two thirds)",
        f"precision at least 0.5 where 100 or more prefetches: {n - len(imprecise)} of {n}; missed: {names(imprecise)}",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="JSON files printed by predis replay --json")
    parser.add_argument("--bar", type=Path, help="Markdown file with the published prefetchers' table")


def run(args: argparse.Namespace) -> int:
    bar = published_bar(args.bar) if args.bar else {}
    print_targets(cases(args.results, bar))
    return 0
