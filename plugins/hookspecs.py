"""Every hook a Predis plugin can implement. A hook's docstring is its contract.

Plugins implement hooks with ``@predis.plugins.hookimpl`` and may accept any subset of a hook's
arguments, so hooks can gain arguments without breaking them.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from predis.plugins.origin import OriginFactory

hookspec = pluggy.HookspecMarker("predis")
hookimpl = pluggy.HookimplMarker("predis")


@hookspec
def predis_register_origins(register: Callable[[str, OriginFactory], None]) -> None:
    """Register read-through origins by name.

    Call ``register(name, factory)`` once per origin. ``name`` is the scheme of the origin URL
    that selects it (``PREDIS_ORIGIN=name:location?option=value``); ``factory`` receives the
    parsed :class:`~predis.plugins.origin.OriginSpec` and returns an
    :class:`~predis.plugins.origin.Origin`, raising ``ValueError`` with a helpful message when the
    spec is wrong. The cache calls ``Origin.fetch`` on a miss, in a worker thread, with a timeout;
    names must be unique across all plugins.
    """
