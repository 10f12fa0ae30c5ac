"""The retrainer's metrics: its jobs by state (the job book ``ListJobs`` answers from) and the
promotions, rejections and rollbacks it made (``RetrainingLoop.decisions``), read at each
collection. Scopes are a tenant's name or ``_global``. docs/metrics.md lists every name.
"""

from __future__ import annotations

import collections

from predis.services.models.store import GLOBAL_FOLDER
from predis.services.retrainer.jobs import JobState
from predis.services.retrainer.loop import RetrainingLoop
from predis.services.runtime.metrics import ServiceMeters

_DECISIONS = {
    "promotion": ("predis.retrainer.promotions", "Versions made champion (by a job's stages, or Promote)"),
    "rejection": ("predis.retrainer.rejections", "Candidates rejected by validation or during promotion"),
    "rollback": ("predis.retrainer.rollbacks", "Champions rolled back (Rollback, or a drift alert after a promotion)"),
}


def _scope(scope: str) -> str:
    return scope or GLOBAL_FOLDER


def register_retrainer_metrics(meters: ServiceMeters, loop: RetrainingLoop) -> None:
    """Registers the retrainer's instruments on ``meters``."""

    def jobs() -> list[tuple[float, dict[str, str]]]:
        counts = collections.Counter((job.state, _scope(job.tenant)) for job in list(loop.book.jobs.values()))
        scopes = sorted({GLOBAL_FOLDER, *(scope for _, scope in counts)})  # the global scope's zeros from the start
        return [
            (counts[state, scope], {"state": state.value, "scope": scope}) for scope in scopes for state in JobState
        ]

    meters.gauge(
        "predis.retrainer.jobs",
        "Jobs in the job book, by state and scope",
        "{job}",
        jobs,
    )
    for what, (name, description) in _DECISIONS.items():

        def decided(what: str = what) -> list[tuple[float, dict[str, str]]]:
            counts = {_scope(scope): n for (kind, scope), n in list(loop.decisions.items()) if kind == what}
            counts.setdefault(GLOBAL_FOLDER, 0)
            return [(n, {"scope": scope}) for scope, n in sorted(counts.items())]

        meters.counter(name, description, "{decision}", decided)
