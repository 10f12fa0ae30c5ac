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
ALERT_SEVERITY_UNSPECIFIED: AlertSeverity
ALERT_SEVERITY_WARNING: AlertSeverity
ALERT_SEVERITY_CRITICAL: AlertSeverity

class ObserveEventsRequest(_message.Message):
    __slots__ = ("events", "outcomes")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccessEvent]
    outcomes: _containers.RepeatedCompositeFieldContainer[_common_pb2.PrefetchOutcome]
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.AccessEvent, _Mapping]]] = ..., outcomes: _Optional[_Iterable[_Union[_common_pb2.PrefetchOutcome, _Mapping]]] = ...) -> None: ...

class ObserveEventsResponse(_message.Message):
    __slots__ = ("events_received", "outcomes_received")
    EVENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    events_received: int
    outcomes_received: int
    def __init__(self, events_received: _Optional[int] = ..., outcomes_received: _Optional[int] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "detector", "signal", "tenant", "statistic", "threshold", "severity", "time_unix_nano", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    detector: str
    signal: str
    tenant: str
    statistic: float
    threshold: float
    severity: AlertSeverity
    time_unix_nano: int
    message: str
    def __init__(self, id: _Optional[str] = ..., detector: _Optional[str] = ..., signal: _Optional[str] = ..., tenant: _Optional[str] = ..., statistic: _Optional[float] = ..., threshold: _Optional[float] = ..., severity: _Optional[_Union[AlertSeverity, str]] = ..., time_unix_nano: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class DetectorStatus(_message.Message):
    __slots__ = ("detector", "signal", "observations", "detections")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    detector: str
    signal: str
    observations: int
    detections: int
    def __init__(self, detector: _Optional[str] = ..., signal: _Optional[str] = ..., observations: _Optional[int] = ..., detections: _Optional[int] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("events_observed", "outcomes_observed", "detectors", "recent_alerts")
    EVENTS_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_OBSERVED_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ALERTS_FIELD_NUMBER: _ClassVar[int]
    events_observed: int
    outcomes_observed: int
    detectors: _containers.RepeatedCompositeFieldContainer[DetectorStatus]
    recent_alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, events_observed: _Optional[int] = ..., outcomes_observed: _Optional[int] = ..., detectors: _Optional[_Iterable[_Union[DetectorStatus, _Mapping]]] = ..., recent_alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...
