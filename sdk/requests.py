"""Request builders and response decoders shared by the sync and async clients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from predis.packing import pack, unpack
from predis.v1 import cache_pb2, common_pb2, predictor_pb2

Key = bytes | str

HINT_KINDS = {"group": cache_pb2.HINT_KIND_GROUP, "sequence": cache_pb2.HINT_KIND_SEQUENCE}
SET_CONDITIONS = {
    None: cache_pb2.SET_CONDITION_UNSPECIFIED,
    "nx": cache_pb2.SET_CONDITION_IF_ABSENT,
    "xx": cache_pb2.SET_CONDITION_IF_PRESENT,
}
ROLES = {
    "champion": common_pb2.MODEL_ROLE_CHAMPION,
    "challenger": common_pb2.MODEL_ROLE_CHALLENGER,
    "shadow": common_pb2.MODEL_ROLE_SHADOW,
}


INT64_MAX = (1 << 63) - 1
_BYTES_LIKE = (bytes, bytearray, memoryview)


def key_bytes(key: Key) -> bytes:
    """A key as bytes: str (UTF-8) or bytes-like; anything else is refused, never coerced (bytes(5)
    would be five zero bytes)."""
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, _BYTES_LIKE):
        return bytes(key)
    raise TypeError(f"a key must be str or bytes, not {type(key).__name__}")


def value_bytes(value: bytes) -> bytes:
    """A value as bytes; None and numbers are refused (a value of None is not a delete)."""
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    hint = "; to remove a key use delete()" if value is None else ""
    raise TypeError(f"a value must be bytes, not {type(value).__name__}{hint}")


def ttl_value(ttl_ms: int) -> int:
    """A TTL in milliseconds, checked for what the wire can carry (an integer within a signed 64
    bits); whether the cache accepts it (range, sign) is the cache's decision."""
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, (int, np.integer)):
        raise TypeError(f"ttl_ms must be an integer number of milliseconds, not {type(ttl_ms).__name__}")
    if not -INT64_MAX <= ttl_ms <= INT64_MAX:
        raise ValueError(f"ttl_ms {ttl_ms} does not fit a signed 64-bit count of milliseconds")
    return int(ttl_ms)


def keys_bytes(keys: Iterable[Key]) -> list[bytes]:
    return [key_bytes(k) for k in keys]


def set_request(key: Key, value: bytes, ttl_ms: int, condition: str | None) -> cache_pb2.SetRequest:
    if condition not in SET_CONDITIONS:
        raise ValueError(f"condition must be None, 'nx' or 'xx', not {condition!r}")
    return cache_pb2.SetRequest(
        key=key_bytes(key), value=value_bytes(value), ttl_ms=ttl_value(ttl_ms), condition=SET_CONDITIONS[condition]
    )


def batch_get_request(keys: Sequence[Key], skip_origin: bool) -> cache_pb2.BatchGetRequest:
    return cache_pb2.BatchGetRequest(keys=pack(keys_bytes(keys)), skip_origin=skip_origin)


def batch_get_values(response: cache_pb2.BatchGetResponse) -> list[bytes | None]:
    values = unpack(response.values)
    found = response.found
    return [value if found[i] else None for i, value in enumerate(values)]


def batch_set_request(
    items: Mapping[Key, bytes] | Iterable[tuple[Key, bytes]], ttl_ms: int
) -> cache_pb2.BatchSetRequest:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    return cache_pb2.BatchSetRequest(
        keys=pack([key_bytes(k) for k, _ in pairs]),
        values=pack([value_bytes(v) for _, v in pairs]),
        ttl_ms=ttl_value(ttl_ms),
    )


def hint_request(kind: str, keys: Sequence[Key]) -> cache_pb2.HintRequest:
    if kind not in HINT_KINDS:
        raise ValueError(f"hint kind must be 'group' or 'sequence', not {kind!r}")
    return cache_pb2.HintRequest(kind=HINT_KINDS[kind], keys=keys_bytes(keys))


def predict_request(
    features: np.ndarray, routing_key: Key, groups: Sequence[tuple[Key, int]] = ()
) -> predictor_pb2.PredictRequest:
    matrix = np.asarray(features, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError("features must be a 2-D array: one row per candidate")
    return predictor_pb2.PredictRequest(
        routing_key=key_bytes(routing_key),
        feature_count=matrix.shape[1],
        features=matrix.ravel().tolist(),
        group_sizes=[size for _, size in groups],
        group_routing_keys=[key_bytes(key) for key, _ in groups],
    )


def traffic_request(assignments: Mapping[str, tuple[str, float]]) -> predictor_pb2.SetTrafficRequest:
    """``{"v2": ("challenger", 0.1)}`` -> SetTrafficRequest."""
    out = []
    for version, (role, weight) in assignments.items():
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        out.append(predictor_pb2.TrafficAssignment(version=version, role=ROLES[role], weight=weight))
    return predictor_pb2.SetTrafficRequest(assignments=out)


def role_value(role: str | None) -> int:
    if role is None:
        return common_pb2.MODEL_ROLE_UNSPECIFIED
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return ROLES[role]
