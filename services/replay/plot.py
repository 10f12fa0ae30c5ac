"""``predis replay --plot out.png``: hit ratio against cache size, one panel per trace."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from predis.services.replay.runner import Row


def plot_rows(rows: Sequence[Row], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError as exc:
        raise ValueError("--plot needs matplotlib: pip install 'predis[plot]'") from exc
    traces = list(dict.fromkeys(r.trace for r in rows))
    columns = min(3, len(traces))
    lines = math.ceil(len(traces) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 4.0 * lines), squeeze=False)
    for ax, trace in zip(axes.flat, traces, strict=False):
        mine = [r for r in rows if r.trace == trace]
        for policy, source in dict.fromkeys((r.policy, r.source) for r in mine):
            points = sorted((r.cache_size, r.hit_ratio) for r in mine if r.policy == policy and r.source == source)
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if source == "predis":
                # Wide and pale underneath, so a libCacheSim line drawn on top of it stays visible.
                ax.plot(xs, ys, "-o", label=f"{policy} (Predis)", linewidth=4, alpha=0.45, markersize=6)
            else:
                ax.plot(xs, ys, "--s", label=f"{policy} (libCacheSim)", linewidth=1.2, markersize=3)
        ax.set_title(f"{trace} ({mine[0].requests:,} requests, {mine[0].footprint:,} keys)", fontsize=10)
        ax.set_xlabel("cache size (objects)")
        ax.set_ylabel("hit ratio")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(traces) :]:
        ax.set_visible(False)
    window = rows[0].eval_from if rows else 0
    scope = "whole trace" if window == 0 else "requests after the training window"
    fig.suptitle(f"Hit ratio against cache size ({scope})", fontsize=12)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
