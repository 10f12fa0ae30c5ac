"""Settings are read once, frozen, and fail fast naming the variable."""

from __future__ import annotations

import dataclasses

import pytest

from predis.services.cache.settings import CacheSettings
from predis.services.runtime.settings import ServerSettings, SettingsError


def test_defaults_and_port_zero() -> None:
    settings = CacheSettings.from_env({}, listen="127.0.0.1:0")
    assert settings.server.listen == "127.0.0.1:0"
    assert settings.memory_bytes == 256 * 1024 * 1024
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.memory_bytes = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PREDIS_LISTEN": "nowhere"}, "not HOST:PORT"),
        ({"PREDIS_LISTEN": "127.0.0.1:70000"}, "not HOST:PORT"),
        ({"PREDIS_CACHE_MEMORY_BYTES": "-5"}, "below its minimum"),
        ({"PREDIS_ORIGIN_TIMEOUT_S": "soon"}, "PREDIS_ORIGIN_TIMEOUT_S='soon' is not a number"),
        ({"PREDIS_LOG_LEVEL": "chatty"}, "log level"),
        ({"PREDIS_CACHE_MEMORY_BYTES": "1048576", "PREDIS_CACHE_MAX_VALUE_BYTES": "400000"}, "a quarter"),
        ({"PREDIS_CACHE_POLICY": "mru"}, "PREDIS_CACHE_POLICY='mru' is not one of"),
        ({"PREDIS_CACHE_BACKEND": "tpu"}, "PREDIS_CACHE_BACKEND='tpu' is not one of"),
        ({"PREDIS_CACHE_TENANT_QUOTAS": "a=1,b"}, "is not TENANT=BYTES"),
    ],
)
def test_bad_values_fail_fast(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        CacheSettings.from_env(env)


def test_server_settings_for_each_service_default_to_their_port() -> None:
    assert ServerSettings.from_env("drift", {}).listen == "127.0.0.1:50053"
