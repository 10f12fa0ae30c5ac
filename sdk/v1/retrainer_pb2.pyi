from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_TRAINING: _ClassVar[JobState]
    JOB_STATE_VALIDATING: _ClassVar[JobState]
    JOB_STATE_PROMOTED: _ClassVar[JobState]
    JOB_STATE_REJECTED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_TRAINING: JobState
JOB_STATE_VALIDATING: JobState
JOB_STATE_PROMOTED: JobState
JOB_STATE_REJECTED: JobState
JOB_STATE_FAILED: JobState

class ValidationReport(_message.Message):
    __slots__ = ("requests", "champion_hit_ratio", "candidate_hit_ratio", "candidate_precision")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PRECISION_FIELD_NUMBER: _ClassVar[int]
    requests: int
    champion_hit_ratio: float
    candidate_hit_ratio: float
    candidate_precision: float
    def __init__(self, requests: _Optional[int] = ..., champion_hit_ratio: _Optional[float] = ..., candidate_hit_ratio: _Optional[float] = ..., candidate_precision: _Optional[float] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "reason", "candidate_version", "created_unix_nano", "started_unix_nano", "finished_unix_nano", "validation", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    reason: str
    candidate_version: str
    created_unix_nano: int
    started_unix_nano: int
    finished_unix_nano: int
    validation: ValidationReport
    error: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., reason: _Optional[str] = ..., candidate_version: _Optional[str] = ..., created_unix_nano: _Optional[int] = ..., started_unix_nano: _Optional[int] = ..., finished_unix_nano: _Optional[int] = ..., validation: _Optional[_Union[ValidationReport, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("reason", "auto_promote")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AUTO_PROMOTE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    auto_promote: bool
    def __init__(self, reason: _Optional[str] = ..., auto_promote: _Optional[bool] = ...) -> None: ...

class StartTrainingResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class PromoteRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class PromoteResponse(_message.Message):
    __slots__ = ("previous_champion", "champion")
    PREVIOUS_CHAMPION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    previous_champion: str
    champion: str
    def __init__(self, previous_champion: _Optional[str] = ..., champion: _Optional[str] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("previous_champion", "champion")
    PREVIOUS_CHAMPION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    previous_champion: str
    champion: str
    def __init__(self, previous_champion: _Optional[str] = ..., champion: _Optional[str] = ...) -> None: ...
