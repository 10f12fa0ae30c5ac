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
    JOB_STATE_SKIPPED: _ClassVar[JobState]
    JOB_STATE_VALIDATED: _ClassVar[JobState]
    JOB_STATE_PROMOTING: _ClassVar[JobState]
    JOB_STATE_ROLLED_BACK: _ClassVar[JobState]

class TriggerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_KIND_UNSPECIFIED: _ClassVar[TriggerKind]
    TRIGGER_KIND_MANUAL: _ClassVar[TriggerKind]
    TRIGGER_KIND_DRIFT_ALERT: _ClassVar[TriggerKind]
    TRIGGER_KIND_SCHEDULE: _ClassVar[TriggerKind]
    TRIGGER_KIND_VOLUME: _ClassVar[TriggerKind]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_TRAINING: JobState
JOB_STATE_VALIDATING: JobState
JOB_STATE_PROMOTED: JobState
JOB_STATE_REJECTED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_SKIPPED: JobState
JOB_STATE_VALIDATED: JobState
JOB_STATE_PROMOTING: JobState
JOB_STATE_ROLLED_BACK: JobState
TRIGGER_KIND_UNSPECIFIED: TriggerKind
TRIGGER_KIND_MANUAL: TriggerKind
TRIGGER_KIND_DRIFT_ALERT: TriggerKind
TRIGGER_KIND_SCHEDULE: TriggerKind
TRIGGER_KIND_VOLUME: TriggerKind

class ReplayArm(_message.Message):
    __slots__ = ("version", "hit_ratio", "precision", "origin_fetches", "prefetches")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FETCHES_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_FIELD_NUMBER: _ClassVar[int]
    version: str
    hit_ratio: float
    precision: float
    origin_fetches: int
    prefetches: int
    def __init__(self, version: _Optional[str] = ..., hit_ratio: _Optional[float] = ..., precision: _Optional[float] = ..., origin_fetches: _Optional[int] = ..., prefetches: _Optional[int] = ...) -> None: ...

class ValidationReport(_message.Message):
    __slots__ = ("requests", "champion_hit_ratio", "candidate_hit_ratio", "candidate_precision", "champion", "candidate", "hit_ratio_difference", "ci_low", "ci_high", "confidence", "margin", "blocks", "cache_size", "passed", "reason", "seconds")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PRECISION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    HIT_RATIO_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CACHE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    champion_hit_ratio: float
    candidate_hit_ratio: float
    candidate_precision: float
    champion: ReplayArm
    candidate: ReplayArm
    hit_ratio_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    margin: float
    blocks: int
    cache_size: int
    passed: bool
    reason: str
    seconds: float
    def __init__(self, requests: _Optional[int] = ..., champion_hit_ratio: _Optional[float] = ..., candidate_hit_ratio: _Optional[float] = ..., candidate_precision: _Optional[float] = ..., champion: _Optional[_Union[ReplayArm, _Mapping]] = ..., candidate: _Optional[_Union[ReplayArm, _Mapping]] = ..., hit_ratio_difference: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ..., confidence: _Optional[float] = ..., margin: _Optional[float] = ..., blocks: _Optional[int] = ..., cache_size: _Optional[int] = ..., passed: _Optional[bool] = ..., reason: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class PromotionReport(_message.Message):
    __slots__ = ("previous_champion", "shadow_seconds", "shadow_precision", "shadow_outcomes", "ab_share", "ab_seconds", "challenger_precision", "champion_precision", "drift_reference_reset", "note", "seconds")
    PREVIOUS_CHAMPION_FIELD_NUMBER: _ClassVar[int]
    SHADOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_PRECISION_FIELD_NUMBER: _ClassVar[int]
    SHADOW_OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    AB_SHARE_FIELD_NUMBER: _ClassVar[int]
    AB_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_PRECISION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_PRECISION_FIELD_NUMBER: _ClassVar[int]
    DRIFT_REFERENCE_RESET_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    previous_champion: str
    shadow_seconds: float
    shadow_precision: float
    shadow_outcomes: int
    ab_share: float
    ab_seconds: float
    challenger_precision: float
    champion_precision: float
    drift_reference_reset: bool
    note: str
    seconds: float
    def __init__(self, previous_champion: _Optional[str] = ..., shadow_seconds: _Optional[float] = ..., shadow_precision: _Optional[float] = ..., shadow_outcomes: _Optional[int] = ..., ab_share: _Optional[float] = ..., ab_seconds: _Optional[float] = ..., challenger_precision: _Optional[float] = ..., champion_precision: _Optional[float] = ..., drift_reference_reset: _Optional[bool] = ..., note: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "reason", "candidate_version", "created_unix_nano", "started_unix_nano", "finished_unix_nano", "validation", "error", "tenant", "requested_tenant", "trigger", "alert_id", "auto_promote", "parent_version", "attempts", "strategy", "not_before_unix_nano", "training_events", "training_seconds", "promotion", "note", "trace_id", "window_from_unix_nano", "window_to_unix_nano")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_TENANT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTO_PROMOTE_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    TRAINING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FROM_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    WINDOW_TO_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    reason: str
    candidate_version: str
    created_unix_nano: int
    started_unix_nano: int
    finished_unix_nano: int
    validation: ValidationReport
    error: str
    tenant: str
    requested_tenant: str
    trigger: TriggerKind
    alert_id: str
    auto_promote: bool
    parent_version: str
    attempts: int
    strategy: str
    not_before_unix_nano: int
    training_events: int
    training_seconds: float
    promotion: PromotionReport
    note: str
    trace_id: str
    window_from_unix_nano: int
    window_to_unix_nano: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., reason: _Optional[str] = ..., candidate_version: _Optional[str] = ..., created_unix_nano: _Optional[int] = ..., started_unix_nano: _Optional[int] = ..., finished_unix_nano: _Optional[int] = ..., validation: _Optional[_Union[ValidationReport, _Mapping]] = ..., error: _Optional[str] = ..., tenant: _Optional[str] = ..., requested_tenant: _Optional[str] = ..., trigger: _Optional[_Union[TriggerKind, str]] = ..., alert_id: _Optional[str] = ..., auto_promote: _Optional[bool] = ..., parent_version: _Optional[str] = ..., attempts: _Optional[int] = ..., strategy: _Optional[str] = ..., not_before_unix_nano: _Optional[int] = ..., training_events: _Optional[int] = ..., training_seconds: _Optional[float] = ..., promotion: _Optional[_Union[PromotionReport, _Mapping]] = ..., note: _Optional[str] = ..., trace_id: _Optional[str] = ..., window_from_unix_nano: _Optional[int] = ..., window_to_unix_nano: _Optional[int] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("reason", "auto_promote", "tenant")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AUTO_PROMOTE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    auto_promote: bool
    tenant: str
    def __init__(self, reason: _Optional[str] = ..., auto_promote: _Optional[bool] = ..., tenant: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("previous_champion", "champion", "seconds")
    PREVIOUS_CHAMPION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    previous_champion: str
    champion: str
    seconds: float
    def __init__(self, previous_champion: _Optional[str] = ..., champion: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("version", "tenant")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    version: str
    tenant: str
    def __init__(self, version: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("previous_champion", "champion", "seconds")
    PREVIOUS_CHAMPION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    previous_champion: str
    champion: str
    seconds: float
    def __init__(self, previous_champion: _Optional[str] = ..., champion: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...
