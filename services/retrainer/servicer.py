"""The retrainer's gRPC servicer: decode, call the retraining loop, encode."""

from __future__ import annotations

from typing import Any

import grpc

from predis.services.retrainer.jobs import JobState, TrainingJob, TriggerKind
from predis.services.retrainer.loop import RetrainingLoop
from predis.services.runtime.errors import NotFound
from predis.services.runtime.status import maps_domain_errors
from predis.services.security.principal import visible_tenant
from predis.v1 import retrainer_pb2, retrainer_pb2_grpc

_STATES = {state: retrainer_pb2.JobState.Value(f"JOB_STATE_{state.name}") for state in JobState}
_TRIGGERS = {kind: retrainer_pb2.TriggerKind.Value(f"TRIGGER_KIND_{kind.name}") for kind in TriggerKind}


def _arm(arm: dict[str, Any]) -> retrainer_pb2.ReplayArm:
    return retrainer_pb2.ReplayArm(
        version=arm.get("version", ""),
        hit_ratio=arm.get("hit_ratio", 0.0),
        precision=arm.get("precision", 0.0),
        origin_fetches=arm.get("origin_fetches", 0),
        prefetches=arm.get("prefetches", 0),
    )


def _validation(v: dict[str, Any]) -> retrainer_pb2.ValidationReport | None:
    if not v:
        return None
    champion, challenger = v.get("champion", {}), v.get("challenger", {})
    return retrainer_pb2.ValidationReport(
        requests=v.get("requests", 0),
        champion_hit_ratio=champion.get("hit_ratio", 0.0),
        candidate_hit_ratio=challenger.get("hit_ratio", 0.0),
        candidate_precision=challenger.get("precision", 0.0),
        champion=_arm(champion),
        candidate=_arm(challenger),
        hit_ratio_difference=v.get("hit_ratio_difference", 0.0),
        ci_low=v.get("ci_low", 0.0),
        ci_high=v.get("ci_high", 0.0),
        confidence=v.get("confidence", 0.0),
        margin=v.get("margin", 0.0),
        blocks=v.get("blocks", 0),
        cache_size=v.get("cache_size", 0),
        passed=v.get("passed", False),
        reason=v.get("reason", ""),
        seconds=v.get("seconds", 0.0),
    )


def _promotion(p: dict[str, Any]) -> retrainer_pb2.PromotionReport | None:
    return retrainer_pb2.PromotionReport(**p) if p else None


def job_message(job: TrainingJob) -> retrainer_pb2.Job:
    return retrainer_pb2.Job(
        id=job.id,
        state=_STATES[job.state],
        reason=job.reason,
        candidate_version=job.candidate_version,
        created_unix_nano=job.created_unix_nano,
        started_unix_nano=job.started_unix_nano,
        finished_unix_nano=job.finished_unix_nano,
        validation=_validation(job.validation),
        error=job.error,
        tenant=job.tenant,
        requested_tenant=job.requested_tenant,
        trigger=_TRIGGERS[job.trigger],
        alert_id=job.alert_id,
        auto_promote=job.auto_promote,
        parent_version=job.parent_version,
        attempts=job.attempts,
        strategy=job.strategy,
        not_before_unix_nano=job.not_before_unix_nano,
        training_events=job.training_events,
        training_seconds=job.training_seconds,
        promotion=_promotion(job.promotion),
        note=job.note,
        trace_id=job.trace_id,
        window_from_unix_nano=job.window_from_unix_nano,
        window_to_unix_nano=job.window_to_unix_nano,
    )


def _visible(job: TrainingJob) -> bool:
    """Whether the caller may see ``job``: an admin (or no auth) every job, a tenant token the
    jobs of its own scope and those it was named in."""
    tenant = visible_tenant()
    return tenant is None or tenant in (job.tenant, job.requested_tenant)


class RetrainerServicer(retrainer_pb2_grpc.RetrainerServiceServicer):
    def __init__(self, loop: RetrainingLoop) -> None:
        self.loop = loop

    @maps_domain_errors
    async def StartTraining(
        self, request: retrainer_pb2.StartTrainingRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.StartTrainingResponse:
        job = await self.loop.start_training(request.tenant, request.reason, request.auto_promote)
        return retrainer_pb2.StartTrainingResponse(job=job_message(job))

    @maps_domain_errors
    async def GetJob(
        self, request: retrainer_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.GetJobResponse:
        job = self.loop.book.get(request.id)
        if not _visible(job):
            raise NotFound(f"no training job has id {request.id!r}")  # another tenant's: as if absent
        return retrainer_pb2.GetJobResponse(job=job_message(job))

    @maps_domain_errors
    async def ListJobs(
        self, request: retrainer_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.ListJobsResponse:
        tenant = visible_tenant()
        if tenant is None:
            jobs = self.loop.book.newest_first(request.limit)
        else:
            every = self.loop.book.newest_first(len(self.loop.book.jobs))
            jobs = [j for j in every if _visible(j)][: request.limit or 100]
        return retrainer_pb2.ListJobsResponse(jobs=[job_message(j) for j in jobs])

    @maps_domain_errors
    async def Promote(
        self, request: retrainer_pb2.PromoteRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.PromoteResponse:
        flip = await self.loop.promote(request.version)
        return retrainer_pb2.PromoteResponse(
            previous_champion=flip.previous_champion, champion=flip.champion, seconds=flip.seconds
        )

    @maps_domain_errors
    async def Rollback(
        self, request: retrainer_pb2.RollbackRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.RollbackResponse:
        flip = await self.loop.rollback(request.version, request.tenant)
        return retrainer_pb2.RollbackResponse(
            previous_champion=flip.previous_champion, champion=flip.champion, seconds=flip.seconds
        )
