"""The ``recent-traffic`` adaptation strategy: like ``per-tenant-model``, a tenant with enough
events gets a model of its own, but the challenger learns only from the newest part of each
training window (``PREDIS_RECENT_TRAFFIC_SHARE``, default 0.5), so after a change it forgets the
old habits sooner. Select it with ``PREDIS_RETRAINER_ADAPTATION=recent-traffic``.

``build`` runs in the retrainer's worker process, which loads the plugins again and looks the
strategy up by name: it keeps no state and reads its setting from the environment there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from predis.plugins import hookimpl

if TYPE_CHECKING:  # the cache loads every plugin: keep NumPy and scikit-learn out of its import
    from predis.services.retrainer.adaptation import AdaptationRequest, AdaptationStrategy
    from predis.services.retrainer.training import TrainingWindow

SHARE_ENV = "PREDIS_RECENT_TRAFFIC_SHARE"


def recent_share(environ: Mapping[str, str]) -> float:
    raw = environ.get(SHARE_ENV, "0.5")
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise ValueError(f"{SHARE_ENV}={raw!r} must be a number above 0 and at most 1")
    return share


def newest(window: TrainingWindow, share: float) -> TrainingWindow:
    """The newest ``share`` of the window's requests (requests are oldest first)."""
    from predis.services.retrainer.training import TrainingWindow

    start = len(window.ids) - int(len(window.ids) * share)
    lines = None if window.lines is None else window.lines[start:]
    return TrainingWindow(window.ids[start:], lines, {**window.info, "recent_share": share})


class RecentTraffic:
    def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
        return tenant if tenant and tenant_events >= min_events else ""

    def build(self, request: AdaptationRequest) -> dict[str, object]:
        from predis.services.retrainer.training import train_windows

        share = recent_share(os.environ)
        windows = [newest(window, share) for window in request.windows]
        return train_windows(windows, request.out, request.options, {"adaptation": "recent-traffic"})


@hookimpl
def predis_register_adaptation_strategies(register: Callable[[str, AdaptationStrategy], None]) -> None:
    register("recent-traffic", RecentTraffic())
