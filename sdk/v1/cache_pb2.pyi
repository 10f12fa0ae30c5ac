from predis.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValueSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_SOURCE_UNSPECIFIED: _ClassVar[ValueSource]
    VALUE_SOURCE_CACHE: _ClassVar[ValueSource]
    VALUE_SOURCE_PREFETCH: _ClassVar[ValueSource]
    VALUE_SOURCE_ORIGIN: _ClassVar[ValueSource]
    VALUE_SOURCE_NONE: _ClassVar[ValueSource]

class SetCondition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SET_CONDITION_UNSPECIFIED: _ClassVar[SetCondition]
    SET_CONDITION_IF_ABSENT: _ClassVar[SetCondition]
    SET_CONDITION_IF_PRESENT: _ClassVar[SetCondition]

class HintKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HINT_KIND_UNSPECIFIED: _ClassVar[HintKind]
    HINT_KIND_GROUP: _ClassVar[HintKind]
    HINT_KIND_SEQUENCE: _ClassVar[HintKind]
VALUE_SOURCE_UNSPECIFIED: ValueSource
VALUE_SOURCE_CACHE: ValueSource
VALUE_SOURCE_PREFETCH: ValueSource
VALUE_SOURCE_ORIGIN: ValueSource
VALUE_SOURCE_NONE: ValueSource
SET_CONDITION_UNSPECIFIED: SetCondition
SET_CONDITION_IF_ABSENT: SetCondition
SET_CONDITION_IF_PRESENT: SetCondition
HINT_KIND_UNSPECIFIED: HintKind
HINT_KIND_GROUP: HintKind
HINT_KIND_SEQUENCE: HintKind

class KeyBlock(_message.Message):
    __slots__ = ("data", "lengths")
    DATA_FIELD_NUMBER: _ClassVar[int]
    LENGTHS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    lengths: bytes
    def __init__(self, data: _Optional[bytes] = ..., lengths: _Optional[bytes] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("key", "skip_origin")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SKIP_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    skip_origin: bool
    def __init__(self, key: _Optional[bytes] = ..., skip_origin: _Optional[bool] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("found", "value", "source")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    source: ValueSource
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ..., source: _Optional[_Union[ValueSource, str]] = ...) -> None: ...

class SetRequest(_message.Message):
    __slots__ = ("key", "value", "ttl_ms", "condition")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    ttl_ms: int
    condition: SetCondition
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., ttl_ms: _Optional[int] = ..., condition: _Optional[_Union[SetCondition, str]] = ...) -> None: ...

class SetResponse(_message.Message):
    __slots__ = ("stored",)
    STORED_FIELD_NUMBER: _ClassVar[int]
    stored: bool
    def __init__(self, stored: _Optional[bool] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class ExistsRequest(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ExpireRequest(_message.Message):
    __slots__ = ("key", "ttl_ms", "persist")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    PERSIST_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    ttl_ms: int
    persist: bool
    def __init__(self, key: _Optional[bytes] = ..., ttl_ms: _Optional[int] = ..., persist: _Optional[bool] = ...) -> None: ...

class ExpireResponse(_message.Message):
    __slots__ = ("applied",)
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    def __init__(self, applied: _Optional[bool] = ...) -> None: ...

class TtlRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    def __init__(self, key: _Optional[bytes] = ...) -> None: ...

class TtlResponse(_message.Message):
    __slots__ = ("ttl_ms",)
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    ttl_ms: int
    def __init__(self, ttl_ms: _Optional[int] = ...) -> None: ...

class BatchGetRequest(_message.Message):
    __slots__ = ("keys", "skip_origin")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SKIP_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    keys: KeyBlock
    skip_origin: bool
    def __init__(self, keys: _Optional[_Union[KeyBlock, _Mapping]] = ..., skip_origin: _Optional[bool] = ...) -> None: ...

class BatchGetResponse(_message.Message):
    __slots__ = ("values", "found")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    values: KeyBlock
    found: bytes
    def __init__(self, values: _Optional[_Union[KeyBlock, _Mapping]] = ..., found: _Optional[bytes] = ...) -> None: ...

class BatchSetRequest(_message.Message):
    __slots__ = ("keys", "values", "ttl_ms")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    keys: KeyBlock
    values: KeyBlock
    ttl_ms: int
    def __init__(self, keys: _Optional[_Union[KeyBlock, _Mapping]] = ..., values: _Optional[_Union[KeyBlock, _Mapping]] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class BatchSetResponse(_message.Message):
    __slots__ = ("stored",)
    STORED_FIELD_NUMBER: _ClassVar[int]
    stored: int
    def __init__(self, stored: _Optional[int] = ...) -> None: ...

class PrefetchRequest(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PrefetchResponse(_message.Message):
    __slots__ = ("queued",)
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    queued: int
    def __init__(self, queued: _Optional[int] = ...) -> None: ...

class HintRequest(_message.Message):
    __slots__ = ("kind", "keys")
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    kind: HintKind
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, kind: _Optional[_Union[HintKind, str]] = ..., keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class HintResponse(_message.Message):
    __slots__ = ("links_added",)
    LINKS_ADDED_FIELD_NUMBER: _ClassVar[int]
    links_added: int
    def __init__(self, links_added: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TenantStats(_message.Message):
    __slots__ = ("tenant", "hits", "misses", "hit_ratio", "evictions", "prefetches", "prefetches_used", "prefetches_unused", "entries", "memory_bytes", "quota_bytes", "origin_fetches", "origin_errors")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_USED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_UNUSED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    QUOTA_BYTES_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FETCHES_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_ERRORS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    hits: int
    misses: int
    hit_ratio: float
    evictions: int
    prefetches: int
    prefetches_used: int
    prefetches_unused: int
    entries: int
    memory_bytes: int
    quota_bytes: int
    origin_fetches: int
    origin_errors: int
    def __init__(self, tenant: _Optional[str] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., hit_ratio: _Optional[float] = ..., evictions: _Optional[int] = ..., prefetches: _Optional[int] = ..., prefetches_used: _Optional[int] = ..., prefetches_unused: _Optional[int] = ..., entries: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., quota_bytes: _Optional[int] = ..., origin_fetches: _Optional[int] = ..., origin_errors: _Optional[int] = ...) -> None: ...

class EngineStats(_message.Message):
    __slots__ = ("memory_budget_bytes", "memory_bytes", "entries", "policy", "backend", "events_dropped")
    MEMORY_BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    EVENTS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    memory_budget_bytes: int
    memory_bytes: int
    entries: int
    policy: str
    backend: str
    events_dropped: int
    def __init__(self, memory_budget_bytes: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., entries: _Optional[int] = ..., policy: _Optional[str] = ..., backend: _Optional[str] = ..., events_dropped: _Optional[int] = ...) -> None: ...

class PredictorLink(_message.Message):
    __slots__ = ("address", "reachable", "model_versions", "error")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    address: str
    reachable: bool
    model_versions: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, address: _Optional[str] = ..., reachable: _Optional[bool] = ..., model_versions: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...

class PrefetcherStats(_message.Message):
    __slots__ = ("enabled", "state", "threshold", "precision_target", "recent_precision", "candidates_scored", "prefetches_started", "prefetches_used", "prefetches_unused", "held_back_memory", "held_back_rate", "events_skipped", "unread_prefetch_bytes", "prefetches_late")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PRECISION_TARGET_FIELD_NUMBER: _ClassVar[int]
    RECENT_PRECISION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_SCORED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_STARTED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_USED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_UNUSED_FIELD_NUMBER: _ClassVar[int]
    HELD_BACK_MEMORY_FIELD_NUMBER: _ClassVar[int]
    HELD_BACK_RATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    UNREAD_PREFETCH_BYTES_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_LATE_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    state: str
    threshold: float
    precision_target: float
    recent_precision: float
    candidates_scored: int
    prefetches_started: int
    prefetches_used: int
    prefetches_unused: int
    held_back_memory: int
    held_back_rate: int
    events_skipped: int
    unread_prefetch_bytes: int
    prefetches_late: int
    def __init__(self, enabled: _Optional[bool] = ..., state: _Optional[str] = ..., threshold: _Optional[float] = ..., precision_target: _Optional[float] = ..., recent_precision: _Optional[float] = ..., candidates_scored: _Optional[int] = ..., prefetches_started: _Optional[int] = ..., prefetches_used: _Optional[int] = ..., prefetches_unused: _Optional[int] = ..., held_back_memory: _Optional[int] = ..., held_back_rate: _Optional[int] = ..., events_skipped: _Optional[int] = ..., unread_prefetch_bytes: _Optional[int] = ..., prefetches_late: _Optional[int] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("tenant", "engine", "predictor", "prefetcher", "quality")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    PREDICTOR_FIELD_NUMBER: _ClassVar[int]
    PREFETCHER_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    tenant: TenantStats
    engine: EngineStats
    predictor: PredictorLink
    prefetcher: PrefetcherStats
    quality: LiveQuality
    def __init__(self, tenant: _Optional[_Union[TenantStats, _Mapping]] = ..., engine: _Optional[_Union[EngineStats, _Mapping]] = ..., predictor: _Optional[_Union[PredictorLink, _Mapping]] = ..., prefetcher: _Optional[_Union[PrefetcherStats, _Mapping]] = ..., quality: _Optional[_Union[LiveQuality, _Mapping]] = ...) -> None: ...

class LiveQuality(_message.Message):
    __slots__ = ("enabled", "reads", "hits", "shadow_hits", "hit_ratio", "shadow_hit_ratio", "live_gain", "shadow_entries", "sample_rate")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_HITS_FIELD_NUMBER: _ClassVar[int]
    HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    SHADOW_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    LIVE_GAIN_FIELD_NUMBER: _ClassVar[int]
    SHADOW_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    reads: int
    hits: int
    shadow_hits: int
    hit_ratio: float
    shadow_hit_ratio: float
    live_gain: float
    shadow_entries: int
    sample_rate: float
    def __init__(self, enabled: _Optional[bool] = ..., reads: _Optional[int] = ..., hits: _Optional[int] = ..., shadow_hits: _Optional[int] = ..., hit_ratio: _Optional[float] = ..., shadow_hit_ratio: _Optional[float] = ..., live_gain: _Optional[float] = ..., shadow_entries: _Optional[int] = ..., sample_rate: _Optional[float] = ...) -> None: ...

class FlushRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FlushResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class StreamAccessEventsRequest(_message.Message):
    __slots__ = ("max_batch",)
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    max_batch: int
    def __init__(self, max_batch: _Optional[int] = ...) -> None: ...

class StreamAccessEventsResponse(_message.Message):
    __slots__ = ("events", "dropped")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccessEvent]
    dropped: int
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.AccessEvent, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...
