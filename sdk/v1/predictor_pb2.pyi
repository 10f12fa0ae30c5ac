from predis.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("routing_key", "feature_count", "features", "group_sizes", "group_routing_keys")
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZES_FIELD_NUMBER: _ClassVar[int]
    GROUP_ROUTING_KEYS_FIELD_NUMBER: _ClassVar[int]
    routing_key: bytes
    feature_count: int
    features: _containers.RepeatedScalarFieldContainer[float]
    group_sizes: _containers.RepeatedScalarFieldContainer[int]
    group_routing_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, routing_key: _Optional[bytes] = ..., feature_count: _Optional[int] = ..., features: _Optional[_Iterable[float]] = ..., group_sizes: _Optional[_Iterable[int]] = ..., group_routing_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("probabilities", "model_version", "role", "group_model_versions")
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    GROUP_MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    probabilities: _containers.RepeatedScalarFieldContainer[float]
    model_version: str
    role: _common_pb2.ModelRole
    group_model_versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, probabilities: _Optional[_Iterable[float]] = ..., model_version: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.ModelRole, str]] = ..., group_model_versions: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("version", "role", "traffic_weight", "feature_names", "source_path", "loaded_unix_nano", "execution_provider", "tenant")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    LOADED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    version: str
    role: _common_pb2.ModelRole
    traffic_weight: float
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    source_path: str
    loaded_unix_nano: int
    execution_provider: str
    tenant: str
    def __init__(self, version: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.ModelRole, str]] = ..., traffic_weight: _Optional[float] = ..., feature_names: _Optional[_Iterable[str]] = ..., source_path: _Optional[str] = ..., loaded_unix_nano: _Optional[int] = ..., execution_provider: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("version", "path", "role", "tenant")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    version: str
    path: str
    role: _common_pb2.ModelRole
    tenant: str
    def __init__(self, version: _Optional[str] = ..., path: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.ModelRole, str]] = ..., tenant: _Optional[str] = ...) -> None: ...

class LoadModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class UnloadModelRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class UnloadModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class TrafficAssignment(_message.Message):
    __slots__ = ("version", "role", "weight")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    version: str
    role: _common_pb2.ModelRole
    weight: float
    def __init__(self, version: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.ModelRole, str]] = ..., weight: _Optional[float] = ...) -> None: ...

class SetTrafficRequest(_message.Message):
    __slots__ = ("assignments", "tenant")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[TrafficAssignment]
    tenant: str
    def __init__(self, assignments: _Optional[_Iterable[_Union[TrafficAssignment, _Mapping]]] = ..., tenant: _Optional[str] = ...) -> None: ...

class SetTrafficResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class GetModelStatusRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class GetModelStatusResponse(_message.Message):
    __slots__ = ("model", "requests", "rows", "latency_p50_us", "latency_p99_us", "prefetches_used", "prefetches_unused", "precision", "prefetches_late")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_USED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_UNUSED_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_LATE_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    requests: int
    rows: int
    latency_p50_us: float
    latency_p99_us: float
    prefetches_used: int
    prefetches_unused: int
    precision: float
    prefetches_late: int
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., requests: _Optional[int] = ..., rows: _Optional[int] = ..., latency_p50_us: _Optional[float] = ..., latency_p99_us: _Optional[float] = ..., prefetches_used: _Optional[int] = ..., prefetches_unused: _Optional[int] = ..., precision: _Optional[float] = ..., prefetches_late: _Optional[int] = ...) -> None: ...

class ReportOutcomesRequest(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[_common_pb2.PrefetchOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[_common_pb2.PrefetchOutcome, _Mapping]]] = ...) -> None: ...

class ReportOutcomesResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: _Optional[int] = ...) -> None: ...
