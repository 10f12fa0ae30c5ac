"""The asyncio event loop every service runs on, chosen once here.

uvloop's loop (libuv, its sockets and transports in C) by default: a RESP request served from the
cache spends as much in the standard loop's Python transport code as in the cache's own work.
``PREDIS_EVENT_LOOP=asyncio`` runs the standard library's loop instead (where uvloop is not
installed, as on Windows, that is the default).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from predis.services.runtime.settings import SettingsError

EVENT_LOOP_VAR = "PREDIS_EVENT_LOOP"
EVENT_LOOPS = ("uvloop", "asyncio")

T = TypeVar("T")


def event_loop_name(environ: Mapping[str, str]) -> str:
    """``PREDIS_EVENT_LOOP``'s loop: ``uvloop`` (the default where it is installed) or ``asyncio``."""
    name = environ.get(EVENT_LOOP_VAR, "").strip().lower()
    if not name:
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if name not in EVENT_LOOPS:
        raise SettingsError(f"{EVENT_LOOP_VAR} must be one of {', '.join(EVENT_LOOPS)}, not {name!r}")
    if name == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise SettingsError(f"{EVENT_LOOP_VAR}=uvloop, but uvloop is not installed (pip install uvloop)")
    return name


def loop_factory(environ: Mapping[str, str]) -> Callable[[], asyncio.AbstractEventLoop]:
    if event_loop_name(environ) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def new_event_loop(environ: Mapping[str, str]) -> asyncio.AbstractEventLoop:
    """A new loop of ``PREDIS_EVENT_LOOP``'s kind (for a loop run on a thread of its own)."""
    return loop_factory(environ)()


def run(main: Coroutine[Any, Any, T], environ: Mapping[str, str]) -> T:
    """``asyncio.run(main)`` on ``PREDIS_EVENT_LOOP``'s loop."""
    try:
        factory = loop_factory(environ)
    except SettingsError:
        main.close()  # never awaited: close it so that Python does not warn about it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
