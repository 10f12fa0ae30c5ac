"""Recent traffic of each tenant, read from the cache's access segments
(``<data dir>/segments/<tenant>/``, ``services/cache/segments.py``), as the ids the model sees.

Keys are mapped through :class:`~predis.services.cache.key_ids.KeyIds`, as the live cache maps
them before computing candidate features, so a model trained here scores the rows the cache
sends. Every event (hit, miss, prefetch hit) is one read request, in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from predis.services.cache.key_ids import KeyIds
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.tenancy import validate_tenant

if TYPE_CHECKING:
    import pyarrow as pa

SEGMENTS_FOLDER = "segments"


@dataclass(frozen=True)
class TenantTraffic:
    """One tenant's most recent events: ids (uint64) and times (ns since the Unix epoch)."""

    tenant: str
    ids: np.ndarray
    times: np.ndarray

    @property
    def requests(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Split:
    """A tenant's recent traffic cut in time: the model learns from ``train``; validation replays
    ``replay`` (the end of the training part to warm the cache, then the held-out part, scored
    from ``eval_from`` on), so no scored request was ever trained on."""

    tenant: str
    train: np.ndarray
    train_times: np.ndarray
    replay: np.ndarray
    eval_from: int
    holdout_from_unix_nano: int
    holdout_to_unix_nano: int


def segments_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SEGMENTS_FOLDER


def segment_tenants(data_dir: Path) -> list[str]:
    """Tenants that have a segment folder."""
    folder = segments_dir(data_dir)
    if not folder.is_dir():
        return []
    names = []
    for path in sorted(folder.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue
        try:
            names.append(validate_tenant(path.name))
        except InvalidInput:
            continue
    return names


def _table(data_dir: Path, tenant: str) -> pa.Table:
    from predis.services.cache.segments import read_segments

    return read_segments(segments_dir(data_dir), tenant)


def event_count(data_dir: Path, tenant: str, since_unix_nano: int = 0) -> int:
    """Events of ``tenant`` kept in its segments, or only those after ``since_unix_nano``."""
    table = _table(data_dir, tenant)
    if since_unix_nano <= 0 or table.num_rows == 0:
        return int(table.num_rows)
    times = table.column("time_unix_nano").to_numpy()
    return int(np.count_nonzero(times > since_unix_nano))


def recent_traffic(data_dir: Path, tenant: str, limit: int, since_unix_nano: int = 0) -> TenantTraffic:
    """The last ``limit`` events of ``tenant`` (all of them when fewer), only those after
    ``since_unix_nano`` when it is given."""
    table = _table(data_dir, tenant)
    first = 0
    if since_unix_nano > 0 and table.num_rows:
        first = int(np.searchsorted(table.column("time_unix_nano").to_numpy(), since_unix_nano, side="right"))
    table = table.slice(max(table.num_rows - limit, first))
    key_ids = KeyIds()
    keys = table.column("key").to_pylist()
    ids = np.fromiter((key_ids.id_of(k) for k in keys), dtype=np.uint64, count=len(keys))
    times = table.column("time_unix_nano").to_numpy().astype(np.int64)
    return TenantTraffic(tenant, ids, times)


def split(traffic: TenantTraffic, holdout_share: float) -> Split:
    """The latest ``holdout_share`` of the traffic held out; the cache warmed on as many training
    requests as are held out (or all of them, when fewer)."""
    n = traffic.requests
    holdout = max(1, int(round(holdout_share * n)))
    train_end = n - holdout
    warm_from = max(0, train_end - holdout)
    return Split(
        tenant=traffic.tenant,
        train=traffic.ids[:train_end],
        train_times=traffic.times[:train_end],
        replay=traffic.ids[warm_from:],
        eval_from=train_end - warm_from,
        holdout_from_unix_nano=int(traffic.times[train_end]) if n else 0,
        holdout_to_unix_nano=int(traffic.times[-1]) if n else 0,
    )
