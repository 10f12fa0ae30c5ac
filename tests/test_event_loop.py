"""PREDIS_EVENT_LOOP: which asyncio loop the services run on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import uvloop

from predis.services.runtime import event_loop
from predis.services.runtime.settings import SettingsError


def test_uvloop_is_the_default_and_asyncio_can_be_chosen() -> None:
    assert event_loop.event_loop_name({}) == "uvloop"
    assert event_loop.event_loop_name({"PREDIS_EVENT_LOOP": " AsyncIO "}) == "asyncio"
    assert isinstance(event_loop.new_event_loop({}), uvloop.Loop)
    standard = event_loop.new_event_loop({"PREDIS_EVENT_LOOP": "asyncio"})
    assert not isinstance(standard, uvloop.Loop) and isinstance(standard, asyncio.AbstractEventLoop)
    standard.close()


def test_run_runs_the_coroutine_on_the_chosen_loop() -> None:
    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert event_loop.run(loop_type(), {}) is uvloop.Loop
    assert event_loop.run(loop_type(), {"PREDIS_EVENT_LOOP": "asyncio"}) is not uvloop.Loop


def test_an_unknown_loop_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="PREDIS_EVENT_LOOP must be one of uvloop, asyncio, not 'tokio'"):
        event_loop.event_loop_name({"PREDIS_EVENT_LOOP": "tokio"})


def test_serve_fails_fast_on_an_unknown_loop() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PREDIS_EVENT_LOOP": "tokio"},
    )
    assert result.returncode == 2
    assert "predis serve cache: PREDIS_EVENT_LOOP must be one of uvloop, asyncio" in result.stderr
    assert "Traceback" not in result.stderr
