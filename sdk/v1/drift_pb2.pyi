from predis.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_SEVERITY_UNSPECIFIED: _ClassVar[AlertSeverity]
    ALERT_SEVERITY_WARNING: _ClassVar[AlertSeverity]
    ALERT_SEVERITY_CRITICAL: _ClassVar[AlertSeverity]

class DetectorPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETECTOR_PHASE_UNSPECIFIED: _ClassVar[DetectorPhase]
    DETECTOR_PHASE_WARMING_UP: _ClassVar[DetectorPhase]
    DETECTOR_PHASE_BUILDING_REFERENCE: _ClassVar[DetectorPhase]
    DETECTOR_PHASE_WATCHING: _ClassVar[DetectorPhase]
ALERT_SEVERITY_UNSPECIFIED: AlertSeverity
ALERT_SEVERITY_WARNING: AlertSeverity
ALERT_SEVERITY_CRITICAL: AlertSeverity
DETECTOR_PHASE_UNSPECIFIED: DetectorPhase
DETECTOR_PHASE_WARMING_UP: DetectorPhase
DETECTOR_PHASE_BUILDING_REFERENCE: DetectorPhase
DETECTOR_PHASE_WATCHING: DetectorPhase

class QualityWindow(_message.Message):
    __slots__ = ("tenant", "reads", "hits", "shadow_hits", "prefetches_used", "prefetches_unused", "prefetches_late", "end_unix_nano")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_HITS_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_USED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_UNUSED_FIELD_NUMBER: _ClassVar[int]
    PREFETCHES_LATE_FIELD_NUMBER: _ClassVar[int]
    END_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    reads: int
    hits: int
    shadow_hits: int
    prefetches_used: int
    prefetches_unused: int
    prefetches_late: int
    end_unix_nano: int
    def __init__(self, tenant: _Optional[str] = ..., reads: _Optional[int] = ..., hits: _Optional[int] = ..., shadow_hits: _Optional[int] = ..., prefetches_used: _Optional[int] = ..., prefetches_unused: _Optional[int] = ..., prefetches_late: _Optional[int] = ..., end_unix_nano: _Optional[int] = ...) -> None: ...

class ObserveEventsRequest(_message.Message):
    __slots__ = ("events", "outcomes", "windows")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccessEvent]
    outcomes: _containers.RepeatedCompositeFieldContainer[_common_pb2.PrefetchOutcome]
    windows: _containers.RepeatedCompositeFieldContainer[QualityWindow]
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.AccessEvent, _Mapping]]] = ..., outcomes: _Optional[_Iterable[_Union[_common_pb2.PrefetchOutcome, _Mapping]]] = ..., windows: _Optional[_Iterable[_Union[QualityWindow, _Mapping]]] = ...) -> None: ...

class ObserveEventsResponse(_message.Message):
    __slots__ = ("events_received", "outcomes_received", "windows_received")
    EVENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    events_received: int
    outcomes_received: int
    windows_received: int
    def __init__(self, events_received: _Optional[int] = ..., outcomes_received: _Optional[int] = ..., windows_received: _Optional[int] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "detector", "signal", "tenant", "statistic", "threshold", "severity", "time_unix_nano", "message", "effect_size", "p_value", "adjusted_p_value", "reference_size", "window_size", "tenant_events", "window_start_unix_nano", "window_end_unix_nano", "traceparent", "change")
    ID_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EFFECT_SIZE_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    TENANT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    detector: str
    signal: str
    tenant: str
    statistic: float
    threshold: float
    severity: AlertSeverity
    time_unix_nano: int
    message: str
    effect_size: float
    p_value: float
    adjusted_p_value: float
    reference_size: int
    window_size: int
    tenant_events: int
    window_start_unix_nano: int
    window_end_unix_nano: int
    traceparent: str
    change: float
    def __init__(self, id: _Optional[str] = ..., detector: _Optional[str] = ..., signal: _Optional[str] = ..., tenant: _Optional[str] = ..., statistic: _Optional[float] = ..., threshold: _Optional[float] = ..., severity: _Optional[_Union[AlertSeverity, str]] = ..., time_unix_nano: _Optional[int] = ..., message: _Optional[str] = ..., effect_size: _Optional[float] = ..., p_value: _Optional[float] = ..., adjusted_p_value: _Optional[float] = ..., reference_size: _Optional[int] = ..., window_size: _Optional[int] = ..., tenant_events: _Optional[int] = ..., window_start_unix_nano: _Optional[int] = ..., window_end_unix_nano: _Optional[int] = ..., traceparent: _Optional[str] = ..., change: _Optional[float] = ...) -> None: ...

class DetectorStatus(_message.Message):
    __slots__ = ("detector", "signal", "observations", "detections", "tenant", "phase", "statistic", "effect_size", "threshold", "p_value", "reference_size", "window_size", "drifted")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    EFFECT_SIZE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    detector: str
    signal: str
    observations: int
    detections: int
    tenant: str
    phase: DetectorPhase
    statistic: float
    effect_size: float
    threshold: float
    p_value: float
    reference_size: int
    window_size: int
    drifted: bool
    def __init__(self, detector: _Optional[str] = ..., signal: _Optional[str] = ..., observations: _Optional[int] = ..., detections: _Optional[int] = ..., tenant: _Optional[str] = ..., phase: _Optional[_Union[DetectorPhase, str]] = ..., statistic: _Optional[float] = ..., effect_size: _Optional[float] = ..., threshold: _Optional[float] = ..., p_value: _Optional[float] = ..., reference_size: _Optional[int] = ..., window_size: _Optional[int] = ..., drifted: _Optional[bool] = ...) -> None: ...

class TenantStatus(_message.Message):
    __slots__ = ("tenant", "events_observed", "windows_observed", "outcomes_observed", "phase", "reference_size", "reference_from_unix_nano", "reference_to_unix_nano")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SIZE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FROM_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TO_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    events_observed: int
    windows_observed: int
    outcomes_observed: int
    phase: DetectorPhase
    reference_size: int
    reference_from_unix_nano: int
    reference_to_unix_nano: int
    def __init__(self, tenant: _Optional[str] = ..., events_observed: _Optional[int] = ..., windows_observed: _Optional[int] = ..., outcomes_observed: _Optional[int] = ..., phase: _Optional[_Union[DetectorPhase, str]] = ..., reference_size: _Optional[int] = ..., reference_from_unix_nano: _Optional[int] = ..., reference_to_unix_nano: _Optional[int] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("events_observed", "outcomes_observed", "detectors", "recent_alerts", "windows_observed", "tenants", "events_not_watched")
    EVENTS_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ALERTS_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_NOT_WATCHED_FIELD_NUMBER: _ClassVar[int]
    events_observed: int
    outcomes_observed: int
    detectors: _containers.RepeatedCompositeFieldContainer[DetectorStatus]
    recent_alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    windows_observed: int
    tenants: _containers.RepeatedCompositeFieldContainer[TenantStatus]
    events_not_watched: int
    def __init__(self, events_observed: _Optional[int] = ..., outcomes_observed: _Optional[int] = ..., detectors: _Optional[_Iterable[_Union[DetectorStatus, _Mapping]]] = ..., recent_alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., windows_observed: _Optional[int] = ..., tenants: _Optional[_Iterable[_Union[TenantStatus, _Mapping]]] = ..., events_not_watched: _Optional[int] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("alert", "alerts_dropped")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    ALERTS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    alerts_dropped: int
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., alerts_dropped: _Optional[int] = ...) -> None: ...

class ResetReferenceRequest(_message.Message):
    __slots__ = ("tenant", "from_unix_nano", "to_unix_nano")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FROM_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    TO_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    from_unix_nano: int
    to_unix_nano: int
    def __init__(self, tenant: _Optional[str] = ..., from_unix_nano: _Optional[int] = ..., to_unix_nano: _Optional[int] = ...) -> None: ...

class ResetReferenceResponse(_message.Message):
    __slots__ = ("reference_size", "waiting_for_events", "reference_from_unix_nano", "reference_to_unix_nano", "retained_from_unix_nano", "retained_to_unix_nano")
    REFERENCE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_EVENTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FROM_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TO_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    RETAINED_FROM_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    RETAINED_TO_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    reference_size: int
    waiting_for_events: bool
    reference_from_unix_nano: int
    reference_to_unix_nano: int
    retained_from_unix_nano: int
    retained_to_unix_nano: int
    def __init__(self, reference_size: _Optional[int] = ..., waiting_for_events: _Optional[bool] = ..., reference_from_unix_nano: _Optional[int] = ..., reference_to_unix_nano: _Optional[int] = ..., retained_from_unix_nano: _Optional[int] = ..., retained_to_unix_nano: _Optional[int] = ...) -> None: ...
