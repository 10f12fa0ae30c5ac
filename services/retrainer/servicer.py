"""The retrainer's gRPC servicer."""

from __future__ import annotations

import grpc

from predis.services.retrainer.jobs import JobBook, JobState, TrainingJob
from predis.services.runtime.status import maps_domain_errors
from predis.v1 import retrainer_pb2, retrainer_pb2_grpc

_STATES = {state: retrainer_pb2.JobState.Value(f"JOB_STATE_{state.name}") for state in JobState}


def _job(job: TrainingJob) -> retrainer_pb2.Job:
    return retrainer_pb2.Job(
        id=job.id,
        state=_STATES[job.state],
        reason=job.reason,
        candidate_version=job.candidate_version,
        created_unix_nano=job.created_unix_nano,
        error=job.error,
    )


class RetrainerServicer(retrainer_pb2_grpc.RetrainerServiceServicer):
    def __init__(self, book: JobBook) -> None:
        self.book = book

    @maps_domain_errors
    async def StartTraining(
        self, request: retrainer_pb2.StartTrainingRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.StartTrainingResponse:
        return retrainer_pb2.StartTrainingResponse(job=_job(self.book.start(request.reason, request.auto_promote)))

    @maps_domain_errors
    async def GetJob(
        self, request: retrainer_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.GetJobResponse:
        return retrainer_pb2.GetJobResponse(job=_job(self.book.get(request.id)))

    @maps_domain_errors
    async def ListJobs(
        self, request: retrainer_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.ListJobsResponse:
        return retrainer_pb2.ListJobsResponse(jobs=[_job(j) for j in self.book.newest_first(request.limit)])

    @maps_domain_errors
    async def Promote(
        self, request: retrainer_pb2.PromoteRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.PromoteResponse:
        previous, champion = self.book.promote(request.version)
        return retrainer_pb2.PromoteResponse(previous_champion=previous, champion=champion)

    @maps_domain_errors
    async def Rollback(
        self, request: retrainer_pb2.RollbackRequest, context: grpc.aio.ServicerContext
    ) -> retrainer_pb2.RollbackResponse:
        previous, champion = self.book.rollback(request.version)
        return retrainer_pb2.RollbackResponse(previous_champion=previous, champion=champion)
