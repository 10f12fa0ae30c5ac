"""The retraining loop: the retrainer's domain. It turns triggers into jobs (``jobs.py``), runs
each job (train on recent segments, validate against the champion, promote or reject), and flips
champions back by hand or when the drift service sees live quality fall after a promotion.

One job runs at a time (the worker process has the CPU; on 2 cores a second would only slow both
down); the others wait QUEUED. Each job is one OpenTelemetry trace: the job's span continues the
alert's ``traceparent`` when an alert started it, with child spans ``retrainer.train``,
``retrainer.validation`` and ``retrainer.promotion`` or ``retrainer.rejection``.

Plain Python, no gRPC: the predictor and the drift service come in as interfaces.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from predis.services.models.store import CorruptModel, ModelStore, StoredVersion, describe_scope, scope_folder
from predis.services.retrainer.adaptation import AdaptationStrategy
from predis.services.retrainer.jobs import JobBook, JobState, TrainingJob, Trigger, TriggerKind
from predis.services.retrainer.promotion import DriftReference, Flip, ModelServing, Promoter, tenant_windows
from predis.services.retrainer.settings import RetrainerSettings
from predis.services.retrainer.traffic import event_count, segment_tenants
from predis.services.retrainer.training import TrainingOptions
from predis.services.retrainer.triggers import AlertSource, DriftAlert, WatchState, watch_alerts
from predis.services.retrainer.validation import Validation
from predis.services.retrainer.worker import (
    BuildRequest,
    BuildResult,
    ValidateRequest,
    build_candidate,
    ready,
    validate_candidate,
    worker_pool,
)
from predis.services.runtime.errors import DomainError, FailedPrecondition, InvalidInput, NotFound, Unavailable
from predis.services.runtime.tenancy import validate_tenant

log = logging.getLogger(__name__)
T = TypeVar("T")
NS = 1_000_000_000


def validation_record(validation: Validation, version: str) -> dict[str, Any]:
    """The validation as the job and the store's record keep it."""

    def arm(metrics: Any, name: str) -> dict[str, Any]:
        return {
            "version": name,
            "hit_ratio": metrics.hit_ratio,
            "precision": metrics.precision,
            "origin_fetches": metrics.origin_fetches,
            "prefetches": metrics.prefetches,
            "hits": metrics.hits,
            "requests": metrics.requests,
        }

    return {
        "requests": validation.requests,
        "champion": arm(validation.champion, validation.champion.version),
        "challenger": arm(validation.challenger, version),
        "hit_ratio_difference": validation.difference,
        "ci_low": validation.ci_low,
        "ci_high": validation.ci_high,
        "confidence": validation.confidence,
        "margin": validation.margin,
        "blocks": validation.blocks,
        "cache_size": validation.cache_size,
        "passed": validation.passed,
        "reason": validation.reason,
        "seconds": validation.seconds,
    }


class RetrainingLoop:
    """``store`` None (no data directory): the book answers, but no job can run. ``serving``
    None (no predictor): jobs stop at VALIDATED and Promote/Rollback are refused."""

    def __init__(
        self,
        settings: RetrainerSettings,
        book: JobBook,
        store: ModelStore | None,
        strategies: Mapping[str, AdaptationStrategy],
        tracer_provider: trace.TracerProvider,
        serving: ModelServing | None = None,
        drift: DriftReference | None = None,
        alerts: AlertSource | None = None,
        executor: Executor | None = None,
    ) -> None:
        if settings.adaptation not in strategies:
            known = ", ".join(sorted(strategies)) or "none (is the adaptation plugin disabled?)"
            raise InvalidInput(f"PREDIS_RETRAINER_ADAPTATION={settings.adaptation!r} is not a strategy; known: {known}")
        self.settings = settings
        self.book = book
        self.store = store
        self.strategy = strategies[settings.adaptation]
        self.tracer = tracer_provider.get_tracer("predis.retrainer")
        self.serving = serving
        self.drift = drift
        self.promoter = Promoter(serving, store, settings.stages, drift) if serving and store else None
        self.alerts = alerts
        self.alert_watch = WatchState()
        self._executor = executor
        self._own_executor = executor is None
        self._tasks: list[asyncio.Task[None]] = []
        self._running: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Promotions, rejections and rollbacks since the start, by (what, scope): retrainer/metrics.py.
        self.decisions: collections.Counter[tuple[str, str]] = collections.Counter()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Cleans what a stop left behind, then runs the scheduler, the alert watch and the
        schedule/volume clock in the background."""
        if self.store is not None:
            for path in self.store.discard_staging():
                log.info("removed %s, a version a stopped job was assembling", path)
            if self._executor is None:
                self._executor = worker_pool()
            # Start the worker now (it imports and compiles for a few seconds), not at the first job.
            started = asyncio.get_running_loop().run_in_executor(self._executor, ready)
            started.add_done_callback(_log_worker_start)
        for job in self.book.recovered:
            await self._forget_interrupted_candidate(job)
        self._tasks.append(asyncio.create_task(self._schedule(), name="retrainer-scheduler"))
        if self.alerts is not None:
            self._tasks.append(asyncio.create_task(watch_alerts(self.alerts, self.on_alert, self.alert_watch)))
        wants_clock = self.settings.schedule_s > 0 or self.settings.volume_events > 0
        if self.store is not None and self.settings.data_dir is not None and wants_clock:
            self._tasks.append(asyncio.create_task(self._clock(), name="retrainer-clock"))

    async def stop(self) -> None:
        """Stops the background tasks; a job that was running is left as the book says (TRAINING
        or later), so the next start retries it."""
        tasks = [*self._tasks, *([self._running] if self._running else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- triggers ----------------------------------------------------------------------------

    async def submit(self, trigger: Trigger, auto_promote: bool) -> TrainingJob:
        """A job for the trigger's tenant, in the scope the adaptation strategy picks."""
        store, data_dir = self.store, self.settings.data_dir
        if store is None or data_dir is None:
            raise FailedPrecondition(
                "the retrainer has no data directory (PREDIS_DATA_DIR): it has no segments to train on "
                "and no model store"
            )
        if trigger.tenant:
            scope_folder(validate_tenant(trigger.tenant))
            events = await asyncio.to_thread(event_count, data_dir, trigger.tenant)
            scope = self.strategy.scope(trigger.tenant, events, self.settings.tenant_min_events)
        else:
            scope = ""
        if scope:
            scope_folder(validate_tenant(scope))
        job = self.book.submit(trigger, scope, self.settings.adaptation, auto_promote)
        self._wake.set()
        return job

    async def start_training(self, tenant: str, reason: str, auto_promote: bool) -> TrainingJob:
        return await self.submit(Trigger(TriggerKind.MANUAL, tenant, reason or "manual"), auto_promote)

    async def on_alert(self, alert: DriftAlert) -> None:
        """A critical alert: a rollback when ADWIN saw live quality fall in a scope promoted
        within the watch period, else a job for the alert's tenant."""
        if not alert.critical:
            return
        if alert.quality_fell:
            promoted = self._recently_promoted(alert.tenant)
            if promoted is not None:
                await self._roll_back_on_alert(promoted, alert)
                return
        trigger = Trigger(
            TriggerKind.DRIFT_ALERT,
            alert.tenant,
            f"drift alert {alert.id}: {alert.detector} on {alert.signal}",
            alert.id,
            alert.traceparent,
            alert.window_start_unix_nano,
        )
        try:
            await self.submit(trigger, self.settings.auto_promote)
        except DomainError as error:
            log.warning("drift alert %s started no job: %s", alert.id, error)

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_s)
            try:
                await self.check_schedule_and_volume()
            except Exception:  # noqa: BLE001 - a bad poll must not stop the next
                log.exception("checking the schedule and the volume of new data failed")

    async def check_schedule_and_volume(self) -> list[TrainingJob]:
        """Submits a job for each scope that the schedule or its new data says is due."""
        data_dir = self.settings.data_dir
        assert data_dir is not None
        started: list[TrainingJob] = []
        now = self.book.clock()
        for tenant in await asyncio.to_thread(segment_tenants, data_dir):
            events = await asyncio.to_thread(event_count, data_dir, tenant)
            scope = self.strategy.scope(tenant, events, self.settings.tenant_min_events)
            if not self.book.may_start_now(scope, tenant):  # busy, too soon, or at its job limit: next poll
                continue
            trigger = await self._due_trigger(tenant, scope, now)
            if trigger is not None:
                started.append(await self.submit(trigger, self.settings.auto_promote))
        return started

    async def _due_trigger(self, tenant: str, scope: str, now: int) -> Trigger | None:
        last = self.book.last_trained(scope)
        schedule_s, volume = self.settings.schedule_s, self.settings.volume_events
        if schedule_s > 0 and (last is None or now - last.started_unix_nano >= schedule_s * NS):
            return Trigger(TriggerKind.SCHEDULE, tenant, f"schedule: every {schedule_s:g}s")
        if volume <= 0 or self.settings.data_dir is None:
            return None
        since = last.window_to_unix_nano if last is not None else 0
        new = await asyncio.to_thread(event_count, self.settings.data_dir, tenant, since)
        if new < volume:
            return None
        return Trigger(TriggerKind.VOLUME, tenant, f"volume: {new:,} new events of {tenant!r} since the last training")

    # -- running jobs ------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            if self._running is None or self._running.done():
                due = self.book.due()
                if due:
                    self._running = asyncio.create_task(self.run(due[0]), name=f"retrainer-{due[0].id}")
                    self._running.add_done_callback(lambda _: self._wake.set())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def _in_worker(self, fn: Any, request: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, request)
        except BrokenProcessPool:
            # The worker died (killed, out of memory): the next job gets a new one.
            if self._own_executor and self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = worker_pool()
            raise Unavailable(
                "the retrainer's worker process died during the job; the next job starts a new one"
            ) from None

    async def _waits_for_data(self, job: TrainingJob) -> bool:
        """Defers a job that trains on the traffic after a change until ``min_events`` of it are
        on disk, or ``data_wait_s`` has passed since the job was made (then it trains on what
        there is, or fails saying how little that was)."""
        data_dir = self.settings.data_dir
        if not job.data_from_unix_nano or data_dir is None:
            return False
        tenants = (job.tenant,) if job.tenant else tuple(await asyncio.to_thread(segment_tenants, data_dir))
        counts = [await asyncio.to_thread(event_count, data_dir, t, job.data_from_unix_nano) for t in tenants]
        have, need = sum(counts), self.settings.min_events
        waited_s = (self.book.clock() - job.created_unix_nano) / NS
        if have >= need or waited_s >= self.settings.data_wait_s:
            return False
        self.book.defer(job, 1.0, f"waiting for traffic after the change: {have:,} of {need:,} events so far")
        return True

    async def run(self, job: TrainingJob) -> None:
        """Runs one job to its end (PROMOTED, VALIDATED, REJECTED or FAILED)."""
        if await self._waits_for_data(job):
            return
        parent = TraceContextTextMapPropagator().extract({"traceparent": job.traceparent}) if job.traceparent else None
        attributes = {
            "predis.job.id": job.id,
            "predis.tenant": job.tenant,
            "predis.job.trigger": job.trigger.value,
            "predis.job.attempt": job.attempts + 1,
        }
        if job.alert_id:
            attributes["predis.alert.id"] = job.alert_id
        with self.tracer.start_as_current_span("retrainer.job", context=parent, attributes=attributes) as span:
            job.trace_id = format(span.get_span_context().trace_id, "032x")
            self.book.begin(job)
            try:
                await self._train_validate_promote(job, span)
            except asyncio.CancelledError:
                raise
            except (DomainError, ValueError) as error:
                self.book.move(job, JobState.FAILED, error=str(error))
            except Exception as error:  # noqa: BLE001 - a job's bug must not stop the loop
                log.exception("job %s failed", job.id)
                self.book.move(job, JobState.FAILED, error=f"internal error: {type(error).__name__}: {error}")
            span.set_attribute("predis.job.state", job.state.value)
            if job.candidate_version:
                span.set_attribute("predis.model.version", job.candidate_version)
        if self.store is not None:  # once the job's aliases are set: an aliased version is never pruned
            for version in self.store.prune(job.tenant, self.settings.keep_versions):
                log.info("removed version %s from the store (PREDIS_RETRAINER_KEEP_VERSIONS)", version)

    async def _train_validate_promote(self, job: TrainingJob, span: trace.Span) -> None:
        store, data_dir = self.store, self.settings.data_dir
        assert store is not None and data_dir is not None
        tenants = (job.tenant,) if job.tenant else tuple(await asyncio.to_thread(segment_tenants, data_dir))
        champion = await self._baseline(job.tenant)
        job.parent_version = champion[0] if champion else ""
        staging = store.staging(job.tenant, job.id)
        try:
            with self.tracer.start_as_current_span("retrainer.train", attributes={"predis.tenant": job.tenant}):
                build: BuildResult = await self._in_worker(
                    build_candidate, self._build_request(job, tenants, staging, champion)
                )
            self.book.move(
                job,
                JobState.VALIDATING,
                training_events=build.events,
                training_seconds=build.seconds,
                window_from_unix_nano=build.window_from_unix_nano,
                window_to_unix_nano=build.window_to_unix_nano,
            )
            with self.tracer.start_as_current_span("retrainer.validation") as validation_span:
                request = ValidateRequest(staging, "", champion, self.settings.validation)
                validation: Validation = await self._in_worker(validate_candidate, request)
                validation_span.set_attributes(
                    {
                        "predis.validation.difference": validation.difference,
                        "predis.validation.ci_low": validation.ci_low,
                        "predis.validation.passed": validation.passed,
                        "predis.model.champion": job.parent_version,
                    }
                )
            record = self._record(job, build, validation)
            stored = await asyncio.to_thread(store.commit, job.tenant, staging, record)
        finally:
            if staging.exists():
                await asyncio.to_thread(_remove, staging)
        job.candidate_version = stored.version
        job.validation = validation_record(validation, stored.version)
        span.set_attribute("predis.model.version", stored.version)
        if not validation.passed:
            with self.tracer.start_as_current_span(
                "retrainer.rejection", attributes={"predis.reason": validation.reason}
            ):
                note = f"rejected: {validation.reason}"
                if job.trigger is TriggerKind.DRIFT_ALERT:
                    note += await self._accept_new_traffic(stored)
                self.book.move(job, JobState.REJECTED, note=note)
                self.decisions["rejection", job.tenant] += 1
            return
        store.set_aliases(job.tenant, challenger=stored.version)
        if self.promoter is None or not job.auto_promote:
            why = (
                "no predictor is configured (PREDIS_PREDICTOR_ADDRESS)"
                if self.promoter is None
                else "auto_promote is off"
            )
            self.book.move(job, JobState.VALIDATED, note=f"validated ({validation.reason}); not promoted: {why}")
            return
        await self._promote(job, stored)

    async def _accept_new_traffic(self, stored: StoredVersion) -> str:
        """After a rejection that answered a drift alert: the champion was judged as good as a
        model of the new traffic, so that traffic becomes the drift service's reference (else it
        would go on alarming about a change already answered). Returns a note for the job."""
        if self.drift is None:
            return ""
        problems = []
        for tenant, first, last in tenant_windows(stored):
            problem = await self.drift.reset_reference(tenant, first, last)
            if problem:
                problems.append(f"{tenant}: {problem}")
        if problems:
            return f"; the drift reference was not moved to the new traffic ({'; '.join(problems)})"
        return "; the new traffic is now the drift service's reference"

    async def _promote(self, job: TrainingJob, stored: StoredVersion) -> None:
        assert self.promoter is not None and self.store is not None
        self.book.move(job, JobState.PROMOTING)
        with self.tracer.start_as_current_span(
            "retrainer.promotion", attributes={"predis.model.version": stored.version}
        ):
            outcome = await self.promoter.staged(job.tenant, stored)
        if outcome.promoted:
            note = f"promoted over {outcome.report.previous_champion or 'no champion'} in {outcome.report.seconds:.1f}s"
            self.book.move(job, JobState.PROMOTED, promotion=outcome.report.to_json(), note=note)
            self.decisions["promotion", job.tenant] += 1
            return
        self.store.set_aliases(job.tenant, challenger=None)
        with self.tracer.start_as_current_span("retrainer.rejection", attributes={"predis.reason": outcome.reason}):
            self.book.move(
                job, JobState.REJECTED, promotion=outcome.report.to_json(), note=f"rejected: {outcome.reason}"
            )
        self.decisions["rejection", job.tenant] += 1

    def _build_request(
        self, job: TrainingJob, tenants: tuple[str, ...], staging: Path, champion: tuple[str, Path] | None
    ) -> BuildRequest:
        s = self.settings
        assert s.data_dir is not None
        return BuildRequest(
            scope=job.tenant,
            tenants=tenants,
            data_dir=s.data_dir,
            staging=staging,
            strategy=job.strategy or s.adaptation,
            window_events=s.window_events,
            holdout_share=s.holdout_share,
            min_events=s.min_events,
            options=TrainingOptions(train_fraction=1.0, model=s.model, max_rows=s.max_rows),
            champion_dir=champion[1] if champion else None,
            since_unix_nano=job.data_from_unix_nano,
        )

    def _record(self, job: TrainingJob, build: BuildResult, validation: Validation) -> dict[str, Any]:
        return {
            "parent_version": job.parent_version,
            "training_window": build.training_window,
            "trigger": {"kind": job.trigger.value, "alert_id": job.alert_id, "reason": job.reason, "job_id": job.id},
            "strategy": job.strategy,
            "validation": validation_record(validation, ""),
        }

    async def _baseline(self, scope: str) -> tuple[str, Path] | None:
        """The model that serves the scope now, to validate against: the store's champion, else
        the predictor's (when its files are on this machine), else the global scope's for a
        tenant; None when no model serves it."""
        for candidate_scope in (scope, "") if scope else ("",):
            found = await self._serving_model(candidate_scope)
            if found is not None:
                return found
        return None

    async def _serving_model(self, scope: str) -> tuple[str, Path] | None:
        assert self.store is not None
        try:
            stored = self.store.champion(scope)
        except (CorruptModel, NotFound) as error:
            log.warning("the store's champion of %s cannot be used: %s", describe_scope(scope), error)
            stored = None
        if stored is not None:
            return stored.version, stored.path
        if self.promoter is None:
            return None
        try:
            served = await self.promoter.champion(scope)
        except DomainError as error:
            log.info("could not ask the predictor for the champion of %s: %s", describe_scope(scope), error)
            return None
        if served is not None and Path(served.source_path, "model.onnx").is_file():
            return served.version, Path(served.source_path)
        return None

    async def _forget_interrupted_candidate(self, job: TrainingJob) -> None:
        """A job interrupted mid-promotion may have left its candidate loaded in the predictor."""
        if self.serving is None or not job.candidate_version:
            return
        try:
            served = await self.serving.models(job.tenant)
            if any(m.version == job.candidate_version and m.role != "champion" for m in served):
                await self.serving.unload(job.candidate_version)
        except DomainError as error:
            log.info("could not check the predictor for %s's candidate: %s", job.id, error)

    # -- promote and roll back by hand -------------------------------------------------------

    def _require_promoter(self) -> Promoter:
        if self.promoter is None:
            raise FailedPrecondition(
                "the retrainer has no predictor (PREDIS_PREDICTOR_ADDRESS) or no data directory (PREDIS_DATA_DIR)"
            )
        return self.promoter

    async def promote(self, version: str) -> Flip:
        """Makes a stored version its scope's champion now (no stages: a person decided)."""
        promoter = self._require_promoter()
        assert self.store is not None
        stored = self.store.get(version)
        flip = await promoter.flip(stored.tenant, stored)
        self.decisions["promotion", stored.tenant] += 1
        job = self.book.by_candidate(version)
        if job is not None and job.state in (JobState.VALIDATED, JobState.REJECTED, JobState.ROLLED_BACK):
            self.book.move(job, JobState.PROMOTED, note=f"promoted by hand over {flip.previous_champion or 'none'}")
        return flip

    async def rollback(self, version: str, tenant: str, why: str = "rolled back by hand") -> Flip:
        """Makes ``version`` (or the scope's previous champion) champion again."""
        promoter = self._require_promoter()
        assert self.store is not None
        if tenant:
            scope_folder(validate_tenant(tenant))
        if version:
            target = self.store.get(version)
            if tenant and target.tenant != tenant:
                raise InvalidInput(f"version {version!r} belongs to {describe_scope(target.tenant)}, not {tenant!r}")
        else:
            aliases = self.store.aliases(tenant)
            if aliases.previous is None and tenant and aliases.champion is not None:
                flip = await promoter.retire(tenant)  # its first model of its own: back to the global one
                self._mark_rolled_back(flip, why, tenant)
                return flip
            if aliases.previous is None:
                raise FailedPrecondition(f"{describe_scope(tenant)} has no previous champion to roll back to")
            target = self.store.get(aliases.previous, tenant)
        flip = await promoter.flip(target.tenant, target)
        self._mark_rolled_back(flip, why, target.tenant)
        return flip

    def _mark_rolled_back(self, flip: Flip, why: str, scope: str) -> None:
        self.decisions["rollback", scope] += 1
        job = self.book.by_candidate(flip.previous_champion) if flip.previous_champion else None
        if job is not None and job.state is JobState.PROMOTED:
            now = f"{flip.champion} is champion again" if flip.champion else "the global model serves the tenant again"
            self.book.move(job, JobState.ROLLED_BACK, note=f"{why}: {now} ({flip.seconds:.3f}s)")

    def _recently_promoted(self, tenant: str) -> TrainingJob | None:
        """The scope serving ``tenant`` that a job promoted within the watch period, if any."""
        horizon = time.time_ns() - int(self.settings.stages.watch_s * NS)
        scopes = [tenant, ""] if tenant else [""]
        for scope in scopes:
            promoted = [
                j
                for j in self.book.jobs.values()
                if j.tenant == scope and j.state is JobState.PROMOTED and j.finished_unix_nano >= horizon
            ]
            if promoted:
                return max(promoted, key=lambda j: j.finished_unix_nano)
        return None

    async def _roll_back_on_alert(self, job: TrainingJob, alert: DriftAlert) -> None:
        parent = (
            TraceContextTextMapPropagator().extract({"traceparent": alert.traceparent}) if alert.traceparent else None
        )
        attributes = {
            "predis.alert.id": alert.id,
            "predis.tenant": job.tenant,
            "predis.model.version": job.candidate_version,
        }
        why = f"rolled back automatically on drift alert {alert.id} ({alert.detector} saw {alert.signal} fall)"
        with self.tracer.start_as_current_span("retrainer.rollback", context=parent, attributes=attributes):
            try:
                await self.rollback("", job.tenant, why)
            except DomainError as error:
                log.warning("drift alert %s asked for a rollback of %s, which failed: %s", alert.id, job.id, error)


def _log_worker_start(started: asyncio.Future[bool]) -> None:
    if not started.cancelled() and started.exception() is not None:
        log.warning("the retrainer's worker process did not start: %s", started.exception())


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
