from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_KIND_UNSPECIFIED: _ClassVar[AccessKind]
    ACCESS_KIND_HIT: _ClassVar[AccessKind]
    ACCESS_KIND_MISS: _ClassVar[AccessKind]
    ACCESS_KIND_PREFETCH_HIT: _ClassVar[AccessKind]

class PrefetchOutcomeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREFETCH_OUTCOME_KIND_UNSPECIFIED: _ClassVar[PrefetchOutcomeKind]
    PREFETCH_OUTCOME_KIND_USED: _ClassVar[PrefetchOutcomeKind]
    PREFETCH_OUTCOME_KIND_EVICTED_UNUSED: _ClassVar[PrefetchOutcomeKind]
    PREFETCH_OUTCOME_KIND_EXPIRED_UNUSED: _ClassVar[PrefetchOutcomeKind]
    PREFETCH_OUTCOME_KIND_LATE: _ClassVar[PrefetchOutcomeKind]

class ModelRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_ROLE_UNSPECIFIED: _ClassVar[ModelRole]
    MODEL_ROLE_CHAMPION: _ClassVar[ModelRole]
    MODEL_ROLE_CHALLENGER: _ClassVar[ModelRole]
    MODEL_ROLE_SHADOW: _ClassVar[ModelRole]
ACCESS_KIND_UNSPECIFIED: AccessKind
ACCESS_KIND_HIT: AccessKind
ACCESS_KIND_MISS: AccessKind
ACCESS_KIND_PREFETCH_HIT: AccessKind
PREFETCH_OUTCOME_KIND_UNSPECIFIED: PrefetchOutcomeKind
PREFETCH_OUTCOME_KIND_USED: PrefetchOutcomeKind
PREFETCH_OUTCOME_KIND_EVICTED_UNUSED: PrefetchOutcomeKind
PREFETCH_OUTCOME_KIND_EXPIRED_UNUSED: PrefetchOutcomeKind
PREFETCH_OUTCOME_KIND_LATE: PrefetchOutcomeKind
MODEL_ROLE_UNSPECIFIED: ModelRole
MODEL_ROLE_CHAMPION: ModelRole
MODEL_ROLE_CHALLENGER: ModelRole
MODEL_ROLE_SHADOW: ModelRole

class AccessEvent(_message.Message):
    __slots__ = ("tenant", "key", "kind", "time_unix_nano", "value_size")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    VALUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    key: bytes
    kind: AccessKind
    time_unix_nano: int
    value_size: int
    def __init__(self, tenant: _Optional[str] = ..., key: _Optional[bytes] = ..., kind: _Optional[_Union[AccessKind, str]] = ..., time_unix_nano: _Optional[int] = ..., value_size: _Optional[int] = ...) -> None: ...

class PrefetchOutcome(_message.Message):
    __slots__ = ("tenant", "key", "outcome", "model_version", "time_unix_nano")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    key: bytes
    outcome: PrefetchOutcomeKind
    model_version: str
    time_unix_nano: int
    def __init__(self, tenant: _Optional[str] = ..., key: _Optional[bytes] = ..., outcome: _Optional[_Union[PrefetchOutcomeKind, str]] = ..., model_version: _Optional[str] = ..., time_unix_nano: _Optional[int] = ...) -> None: ...
