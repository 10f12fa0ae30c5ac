"""The cost view: money from measured counts and the user's own prices, and nothing else.

Counts are the growth of the cache's counters over the samples the dashboard holds for a tenant
(its window); prices are what the user enters. A line whose price is not given has no money
figure; a line whose count the suite did not measure has neither. Every line carries its formula
and its inputs, so a reader can redo the sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from predis.services.dashboard.history import TenantSample, window_increase

BYTES_PER_GB = 1e9
PRICES = {
    "origin_read": "price of one origin read",
    "gb_hour": "price of one GB-hour of cache memory (GB = 10^9 bytes)",
    "gpu_hour": "price of one GPU-hour",
    "gpus": "GPUs the suite holds (default: the processes seen on a GPU)",
}


@dataclass(frozen=True)
class Prices:
    """The user's prices, in one currency of their choice; None where not given."""

    origin_read: float | None = None
    gb_hour: float | None = None
    gpu_hour: float | None = None
    gpus: float | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Prices:
        """From query parameters named as ``PRICES``; empty means not given. ValueError names a
        parameter that is not a finite number of at least 0."""
        values: dict[str, float | None] = {}
        for name in PRICES:
            raw = query.get(name, "").strip()
            if not raw:
                values[name] = None
                continue
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r:.40} is not a number ({PRICES[name]})") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}={raw!r:.40} must be a finite number of at least 0 ({PRICES[name]})")
            values[name] = value
        return cls(**values)


def gpu_users(sample: TenantSample) -> list[str]:
    """The suite's processes that report running on a GPU: the cache with CuPy storage, the
    predictor when its serving version runs on ONNX Runtime's CUDA or TensorRT provider."""
    users = []
    if sample.backend == "cupy":
        users.append("cache (storage backend cupy)")
    if sample.serving_provider.startswith(("CUDA", "Tensorrt")):
        users.append(f"predictor ({sample.serving_provider})")
    return users


def _gb_hours(samples: Sequence[TenantSample]) -> float:
    """The tenant's memory over time, by the trapezoid rule between samples, in GB-hours."""
    pairs = zip(samples, samples[1:], strict=False)
    byte_seconds = sum((a.memory_bytes + b.memory_bytes) / 2 * (b.time_s - a.time_s) for a, b in pairs)
    return byte_seconds / BYTES_PER_GB / 3600


def _quantity(key: str, label: str, value: float | None, source: str, note: str = "") -> dict[str, Any]:
    return {"key": key, "label": label, "value": value, "source": source, "note": note}


def _line(
    key: str, label: str, formula: str, count: float | None, price_key: str | None, prices: Prices, note: str = ""
) -> dict[str, Any]:
    price = getattr(prices, price_key) if price_key else None
    missing = [price_key] if price_key and price is None else []
    money = None if count is None or missing else count * price  # type: ignore[operator]
    return {
        "key": key,
        "label": label,
        "formula": formula,
        "count": count,
        "price_key": price_key,
        "price": price,
        "money": money,
        "missing": missing,
        "note": note,
    }


def measured_quantities(samples: Sequence[TenantSample], prices: Prices) -> dict[str, dict[str, Any]]:
    """The counts over the window, each with the counters it comes from."""
    first, last = samples[0], samples[-1]
    hours = (last.time_s - first.time_s) / 3600
    reads = window_increase(samples, "hits") + window_increase(samples, "misses")
    origin = window_increase(samples, "origin_fetches")
    quality = all(s.quality_enabled for s in samples)
    avoided = window_increase(samples, "quality_hits") - window_increase(samples, "shadow_hits") if quality else None
    whole_shadow = quality and all(s.sample_rate == 1.0 for s in samples)
    detected = gpu_users(last)
    gpus = prices.gpus if prices.gpus is not None else float(len(detected))
    return {
        q["key"]: q
        for q in (
            _quantity("hours", "Hours in the window", hours, "the first and last sample's times"),
            _quantity("reads", "Reads served", reads, "growth of TenantStats.hits + TenantStats.misses"),
            _quantity("hits", "Reads answered from the cache", window_increase(samples, "hits"), "TenantStats.hits"),
            _quantity("origin_fetches", "Origin reads made", origin, "TenantStats.origin_fetches (misses, prefetches)"),
            _quantity(
                "misses_avoided",
                "Misses prefetching avoided",
                avoided,
                "LiveQuality.hits - LiveQuality.shadow_hits: the shadow's misses minus the cache's",
                "" if quality else "the shadow is off (PREDIS_CACHE_SHADOW=off): no baseline",
            ),
            _quantity(
                "prefetch_loads",
                "Origin reads prefetching made",
                window_increase(samples, "prefetches"),
                "TenantStats.prefetches (entries loaded by prefetching)",
            ),
            _quantity(
                "sample_rate",
                "Share of keys the shadow replays",
                last.sample_rate if quality else None,
                "LiveQuality.sample_rate",
                "" if whole_shadow or not quality else "a sampled shadow: its counts cover that share of the reads",
            ),
            _quantity("memory_gb_hours", "Cache memory, GB-hours", _gb_hours(samples), "TenantStats.memory_bytes"),
            _quantity(
                "gpus",
                "GPUs",
                gpus,
                "given" if prices.gpus is not None else "detected: " + (", ".join(detected) or "none"),
                "the GPU serves every tenant: its whole cost is set against this tenant's savings",
            ),
            _quantity("gpu_hours", "GPU-hours", gpus * hours, "GPUs x hours"),
        )
    }


def cost_view(samples: Sequence[TenantSample], prices: Prices) -> dict[str, Any]:
    """The cost view of one tenant's window: its measured quantities, the money lines computed
    from them and ``prices``, and the prices as given."""
    given = {name: getattr(prices, name) for name in PRICES}
    if len(samples) < 2:
        return {
            "window": None,
            "quantities": {},
            "lines": [],
            "prices": given,
            "note": "the cost view needs two samples of this tenant; wait for the next poll",
        }
    q = measured_quantities(samples, prices)
    value = {key: quantity["value"] for key, quantity in q.items()}
    misses = window_increase(samples, "misses")
    cache_saved: float | None = value["reads"] - value["origin_fetches"]
    cache_note = ""
    if value["origin_fetches"] == 0 and misses > 0:
        cache_saved = None
        cache_note = (
            "the cache made no origin calls though it missed: with no read-through origin, what its misses "
            "cost is not measured here"
        )
    prefetch_saved = None
    prefetch_note = ""
    if value["misses_avoided"] is None:
        prefetch_note = q["misses_avoided"]["note"]
    elif q["sample_rate"]["note"]:
        prefetch_note = "not shown for a sampled shadow: misses avoided count the sampled keys, prefetches all keys"
    else:
        prefetch_saved = value["misses_avoided"] - value["prefetch_loads"]
    lines = [
        _line(
            "cache_saved",
            "Origin reads the cache saved",
            "reads - origin reads made",
            cache_saved,
            "origin_read",
            prices,
            cache_note,
        ),
        _line(
            "prefetch_saved",
            "of which prefetching saved",
            "misses prefetching avoided - origin reads prefetching made",
            prefetch_saved,
            "origin_read",
            prices,
            prefetch_note,
        ),
        _line("memory", "Cache memory", "GB-hours", value["memory_gb_hours"], "gb_hour", prices),
        _line("gpu", "GPU", "GPUs x hours", value["gpu_hours"], "gpu_hour", prices, q["gpus"]["note"]),
    ]
    lines.append(_net_line(lines, prices))
    return {
        "window": {"from_s": samples[0].time_s, "to_s": samples[-1].time_s, "samples": len(samples)},
        "quantities": q,
        "lines": lines,
        "prices": given,
        "note": "",
    }


def _net_line(lines: list[dict[str, Any]], prices: Prices) -> dict[str, Any]:
    """Savings less costs: the cache's saved origin reads less memory and GPU. The GPU term needs
    its price only when the suite held a GPU."""
    by_key = {line["key"]: line for line in lines}
    saved, memory, gpu = by_key["cache_saved"], by_key["memory"], by_key["gpu"]
    missing = [*saved["missing"], *memory["missing"]]
    gpu_cost = 0.0 if gpu["count"] == 0 else gpu["money"]
    missing += gpu["missing"] if gpu["count"] else []
    money = None
    if not missing and saved["money"] is not None and memory["money"] is not None and gpu_cost is not None:
        money = saved["money"] - memory["money"] - gpu_cost
    return {
        "key": "net",
        "label": "Net: savings less costs",
        "formula": "origin reads the cache saved x origin_read - GB-hours x gb_hour - GPU-hours x gpu_hour",
        "count": None,
        "price_key": None,
        "price": None,
        "money": money,
        "missing": missing,
        "note": saved["note"] if saved["count"] is None else "",
    }
