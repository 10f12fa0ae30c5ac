"""The retrainer's domain: the book of training jobs.

Plain Python, no gRPC. Training is not built yet in this version: the book starts empty,
lookups of unknown jobs fail with not-found, and starting, promoting or rolling back says that
it is not built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from predis.services.runtime.errors import NotBuilt, NotFound


class JobState(Enum):
    QUEUED = "queued"
    TRAINING = "training"
    VALIDATING = "validating"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass
class TrainingJob:
    id: str
    state: JobState
    reason: str
    created_unix_nano: int
    candidate_version: str = ""
    error: str = ""


@dataclass
class JobBook:
    jobs: dict[str, TrainingJob] = field(default_factory=dict)

    def start(self, reason: str, auto_promote: bool) -> TrainingJob:
        raise NotBuilt("training is not built yet in this version of the retrainer")

    def get(self, job_id: str) -> TrainingJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no training job has id {job_id!r}")
        return job

    def newest_first(self, limit: int) -> list[TrainingJob]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_unix_nano, reverse=True)
        return jobs[: limit or 100]

    def promote(self, version: str) -> tuple[str, str]:
        raise NotBuilt("promotion is not built yet in this version of the retrainer")

    def rollback(self, version: str) -> tuple[str, str]:
        raise NotBuilt("rollback is not built yet in this version of the retrainer")
