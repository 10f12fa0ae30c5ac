"""The retrainer's book of training jobs: who may start, when, and what became of each.

Plain Python, no gRPC. Rules:

- At most one job per scope (a tenant's own model, or the global model, ``""``) is queued or
  running at a time, and two jobs of one scope start at least ``min_interval_s`` apart.
- A tenant has at most ``max_jobs_per_tenant`` jobs queued or running, over every scope, those
  started by triggers included (``PREDIS_RETRAINER_MAX_JOBS_PER_TENANT``; a job is a tenant's when
  it trains the tenant's scope or the tenant asked for it).
- A manual request (``StartTraining``) that breaks a rule is refused (FailedPrecondition; over
  the tenant's job limit Overloaded) with what blocks it and when to try again: a person asked and
  gets an answer now.
- An automatic trigger (drift alert, schedule, volume) is never lost: when a job of its scope is
  running or the interval has not passed, it is queued to start once it may (``not_before``);
  when one is already queued, it is recorded as SKIPPED, naming the queued job that will cover it.
  Over its tenant's job limit it is recorded as SKIPPED too, and logged.
- The book is saved to ``jobs.json`` (atomically) after every change. A job found TRAINING,
  VALIDATING or PROMOTING when the book is opened was interrupted by a stop of the retrainer: it
  is queued again once (``max_attempts`` 2), or marked FAILED saying so. Either way it never
  touched the registry's champion: a version becomes champion only once a job has promoted it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from predis.services.runtime.errors import FailedPrecondition, NotFound, Overloaded
from predis.services.runtime.files import write_atomically

log = logging.getLogger(__name__)

FORMAT = "predis-retrainer-jobs/1"
KEEP_JOBS = 1000
MAX_ATTEMPTS = 2
MAX_JOBS_PER_TENANT = 2
INTERRUPTED = "interrupted"


class JobState(Enum):
    QUEUED = "queued"
    TRAINING = "training"
    VALIDATING = "validating"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"
    VALIDATED = "validated"
    PROMOTING = "promoting"
    ROLLED_BACK = "rolled_back"


ACTIVE = (JobState.TRAINING, JobState.VALIDATING, JobState.PROMOTING)
FINISHED = (
    JobState.PROMOTED,
    JobState.REJECTED,
    JobState.FAILED,
    JobState.SKIPPED,
    JobState.VALIDATED,
    JobState.ROLLED_BACK,
)


class TriggerKind(Enum):
    MANUAL = "manual"
    DRIFT_ALERT = "drift_alert"
    SCHEDULE = "schedule"
    VOLUME = "volume"


@dataclass(frozen=True)
class Trigger:
    """Why a job is asked for. ``tenant``: the tenant named ("" for the global model);
    ``traceparent``: the W3C trace context of the alert, continued by the job's span."""

    kind: TriggerKind
    tenant: str = ""
    reason: str = ""
    alert_id: str = ""
    traceparent: str = ""
    # Train only on events after this time (0: the most recent, whenever they came): a drift
    # alert's changed window starts here, and a model of the traffic before it is the one to replace.
    data_from_unix_nano: int = 0


def scope_name(scope: str) -> str:
    return "the global model" if scope == "" else f"tenant {scope!r}"


@dataclass
class TrainingJob:
    id: str
    state: JobState
    reason: str
    created_unix_nano: int
    tenant: str = ""  # the scope it trains
    requested_tenant: str = ""
    trigger: TriggerKind = TriggerKind.MANUAL
    alert_id: str = ""
    traceparent: str = ""
    auto_promote: bool = False
    strategy: str = ""
    candidate_version: str = ""
    parent_version: str = ""
    started_unix_nano: int = 0
    finished_unix_nano: int = 0
    not_before_unix_nano: int = 0
    attempts: int = 0
    error: str = ""
    note: str = ""
    trace_id: str = ""
    training_events: int = 0
    training_seconds: float = 0.0
    window_from_unix_nano: int = 0
    window_to_unix_nano: int = 0
    data_from_unix_nano: int = 0
    validation: dict[str, Any] = field(default_factory=dict)
    promotion: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["state"] = self.state.value
        body["trigger"] = self.trigger.value
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TrainingJob:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in body.items() if k in known}
        values["state"] = JobState(values["state"])
        values["trigger"] = TriggerKind(values.get("trigger", TriggerKind.MANUAL.value))
        return cls(**values)


class JobBook:
    """The jobs, saved in ``path`` (None: kept in memory only). ``clock`` gives nanoseconds since
    the Unix epoch (tests pass their own). ``max_jobs_per_tenant``: jobs one tenant may have
    queued or running at once, 0 for no limit."""

    def __init__(
        self,
        path: Path | None = None,
        min_interval_s: float = 300.0,
        clock: Callable[[], int] = time.time_ns,
        max_attempts: int = MAX_ATTEMPTS,
        max_jobs_per_tenant: int = MAX_JOBS_PER_TENANT,
    ) -> None:
        self.path = path
        self.min_interval_ns = int(min_interval_s * 1e9)
        self.clock = clock
        self.max_attempts = max_attempts
        self.max_jobs_per_tenant = max_jobs_per_tenant
        self.jobs: dict[str, TrainingJob] = {}
        self.recovered: list[TrainingJob] = []  # jobs found interrupted when the book was opened
        if path is not None and path.exists():
            self._load(path)

    # -- admission ---------------------------------------------------------------------------

    def submit(self, trigger: Trigger, scope: str, strategy: str, auto_promote: bool) -> TrainingJob:
        """A new job for ``scope``, queued to start now or once the rules allow (see the module
        docstring); FailedPrecondition for a manual request that breaks a rule."""
        now = self.clock()
        queued = self.queued(scope)
        active = self.active(scope)
        wait_until = self._interval_end(scope)
        over_limit = self._over_tenant_limit(trigger.tenant or scope)
        if trigger.kind is TriggerKind.MANUAL:
            if over_limit:
                raise Overloaded(over_limit)
            self._check_manual(scope, queued or active, wait_until, now)
        job = TrainingJob(
            id=f"job-{uuid.uuid4().hex[:12]}",
            state=JobState.QUEUED,
            reason=trigger.reason or trigger.kind.value,
            created_unix_nano=now,
            tenant=scope,
            requested_tenant=trigger.tenant,
            trigger=trigger.kind,
            alert_id=trigger.alert_id,
            traceparent=trigger.traceparent,
            data_from_unix_nano=trigger.data_from_unix_nano,
            auto_promote=auto_promote,
            strategy=strategy,
            not_before_unix_nano=max(now, wait_until),
        )
        if over_limit:
            job.state, job.finished_unix_nano, job.note = JobState.SKIPPED, now, over_limit
            log.info("a %s trigger started no job: %s", trigger.kind.value, over_limit)
        elif queued is not None:
            job.state, job.finished_unix_nano = JobState.SKIPPED, now
            job.note = f"{scope_name(scope)} already has job {queued.id} queued; it will use the newest data"
        elif active is not None:
            job.note = f"waits for job {active.id}, {active.state.value}: one job per scope at a time"
        elif wait_until > now:
            job.note = (
                f"deferred {(wait_until - now) / 1e9:.0f}s: the last job of {scope_name(scope)} started "
                f"{(now - self._last_start(scope)) / 1e9:.0f}s ago, and the minimum interval is "
                f"{self.min_interval_ns / 1e9:.0f}s"
            )
        self.jobs[job.id] = job
        self.save()
        return job

    def _check_manual(self, scope: str, blocking: TrainingJob | None, wait_until: int, now: int) -> None:
        if blocking is not None:
            raise FailedPrecondition(
                f"job {blocking.id} for {scope_name(scope)} is {blocking.state.value}; at most one job per "
                f"scope runs at a time: follow it with GetJob"
            )
        if wait_until > now:
            raise FailedPrecondition(
                f"the last job for {scope_name(scope)} started {(now - self._last_start(scope)) / 1e9:.0f}s ago "
                f"and the minimum interval is {self.min_interval_ns / 1e9:.0f}s (PREDIS_RETRAINER_MIN_INTERVAL_S): "
                f"try again in {(wait_until - now) / 1e9:.0f}s"
            )

    def may_start_now(self, scope: str, tenant: str = "") -> bool:
        """Whether a new job of ``scope`` (for ``tenant``) would start at once (nothing queued or
        running, the interval passed, the tenant under its job limit): the schedule and volume
        triggers ask before submitting."""
        idle = self.queued(scope) is None and self.active(scope) is None
        return idle and self._interval_end(scope) <= self.clock() and not self._over_tenant_limit(tenant or scope)

    def tenant_jobs(self, tenant: str) -> list[TrainingJob]:
        """``tenant``'s jobs queued or running, oldest first: those of its scope and those it asked for."""
        mine = (j for j in self.jobs.values() if tenant in (j.tenant, j.requested_tenant))
        live = (j for j in mine if j.state is JobState.QUEUED or j.state in ACTIVE)
        return sorted(live, key=lambda j: j.created_unix_nano)

    def _over_tenant_limit(self, tenant: str) -> str:
        """Why ``tenant`` may not have another job now (its jobs queued or running are at the
        limit); "" when it may, or for the global model, which is no tenant's."""
        limit = self.max_jobs_per_tenant
        if not tenant or limit <= 0:
            return ""
        jobs = self.tenant_jobs(tenant)
        if len(jobs) < limit:
            return ""
        listed = ", ".join(f"{j.id} {j.state.value}" for j in jobs)
        return (
            f"tenant {tenant!r} already has {len(jobs)} training jobs queued or running ({listed}), the most one "
            f"tenant may have (PREDIS_RETRAINER_MAX_JOBS_PER_TENANT={limit}): follow them with GetJob and start "
            "another once one has finished"
        )

    def due(self) -> list[TrainingJob]:
        """Queued jobs that may start now, oldest first, one per scope with nothing running."""
        now = self.clock()
        busy = {j.tenant for j in self.jobs.values() if j.state in ACTIVE}
        ready = []
        for job in sorted(self.jobs.values(), key=lambda j: j.created_unix_nano):
            if job.state is JobState.QUEUED and job.tenant not in busy and job.not_before_unix_nano <= now:
                ready.append(job)
                busy.add(job.tenant)
        return ready

    # -- transitions -------------------------------------------------------------------------

    def defer(self, job: TrainingJob, seconds: float, note: str) -> None:
        """Puts a queued job back to wait ``seconds`` more (for data), saying why."""
        job.not_before_unix_nano = self.clock() + int(seconds * 1e9)
        job.note = note
        self.save()

    def begin(self, job: TrainingJob) -> None:
        job.state = JobState.TRAINING
        job.started_unix_nano = self.clock()
        job.attempts += 1
        if not job.note.startswith(INTERRUPTED):  # why it waited no longer matters
            job.note = ""
        self.save()

    def move(self, job: TrainingJob, state: JobState, **changes: Any) -> None:
        """Sets the job's state (and any other fields given) and saves. A new note follows the
        note of an interruption instead of replacing it."""
        note = changes.get("note")
        if note and job.note.startswith(INTERRUPTED) and not note.startswith(INTERRUPTED):
            changes["note"] = f"{job.note}; then {note}"
        for name, value in changes.items():
            setattr(job, name, value)
        job.state = state
        if state in FINISHED and not job.finished_unix_nano:
            job.finished_unix_nano = self.clock()
        self.save()

    # -- reads -------------------------------------------------------------------------------

    def get(self, job_id: str) -> TrainingJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no training job has id {job_id!r}")
        return job

    def newest_first(self, limit: int) -> list[TrainingJob]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_unix_nano, reverse=True)
        return jobs[: limit or 100]

    def queued(self, scope: str) -> TrainingJob | None:
        return next((j for j in self._of(scope) if j.state is JobState.QUEUED), None)

    def active(self, scope: str) -> TrainingJob | None:
        return next((j for j in self._of(scope) if j.state in ACTIVE), None)

    def last_trained(self, scope: str) -> TrainingJob | None:
        """The newest job of the scope that got as far as learning (has a training window)."""
        trained = [j for j in self._of(scope) if j.window_to_unix_nano]
        return max(trained, key=lambda j: j.started_unix_nano, default=None)

    def by_candidate(self, version: str) -> TrainingJob | None:
        return next((j for j in self.jobs.values() if j.candidate_version == version), None)

    def _of(self, scope: str) -> Iterator[TrainingJob]:
        return (j for j in self.jobs.values() if j.tenant == scope)

    def _last_start(self, scope: str) -> int:
        return max((j.started_unix_nano for j in self._of(scope)), default=0)

    def _interval_end(self, scope: str) -> int:
        last = self._last_start(scope)
        return last + self.min_interval_ns if last else 0

    # -- persistence -------------------------------------------------------------------------

    def save(self) -> None:
        if self.path is None:
            return
        kept = sorted(self.jobs.values(), key=lambda j: j.created_unix_nano)[-KEEP_JOBS:]
        self.jobs = {j.id: j for j in kept}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": FORMAT, "jobs": [j.to_json() for j in kept]}
        write_atomically(self.path, json.dumps(body).encode())

    def _load(self, path: Path) -> None:
        try:
            body = json.loads(path.read_text())
            if body.get("format") != FORMAT:
                raise ValueError(f"format {body.get('format')!r}, expected {FORMAT!r}")
            jobs = [TrainingJob.from_json(j) for j in body["jobs"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Kept aside, not overwritten: a person may want to read it.
            aside = path.with_name(f"{path.name}.unreadable-{self.clock()}")
            path.replace(aside)
            log.warning(
                "the job book %s could not be read (%s); starting an empty one, the old file is %s", path, error, aside
            )
            return
        self.jobs = {j.id: j for j in jobs}
        for job in jobs:
            if job.state in ACTIVE:
                self._recover(job)
        self.save()

    def _recover(self, job: TrainingJob) -> None:
        was = job.state.value
        if job.attempts < self.max_attempts:
            job.state = JobState.QUEUED
            job.not_before_unix_nano = self.clock()
            job.note = (
                f"{INTERRUPTED} while {was} (the retrainer stopped); queued again, attempt "
                f"{job.attempts + 1} of {self.max_attempts}"
            )
        else:
            job.state, job.finished_unix_nano = JobState.FAILED, self.clock()
            job.error = (
                f"interrupted while {was} on attempt {job.attempts} of {self.max_attempts} (the retrainer "
                "stopped); not retried again. The registry's champion was not changed by it"
            )
        self.recovered.append(job)
        log.warning("job %s was %s when the retrainer stopped: now %s", job.id, was, job.state.value)
