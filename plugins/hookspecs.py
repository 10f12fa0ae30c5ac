"""Every hook a Predis plugin can implement. A hook's docstring is its contract.

Plugins implement hooks with ``@predis.plugins.hookimpl`` and may accept any subset of a hook's
arguments, so hooks can gain arguments without breaking them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


@hookspec
def predis_prefetch_candidates(tenant: str, key: bytes) -> Iterable[bytes] | None:
    """Keys the application knows are likely to be read soon after ``key`` (for ``tenant``).

    The cache's prefetch loop calls this off the read path, after each read, when learned
    prefetching runs (a predictor, an origin and the collector are configured). Returned keys
    that are not cached are loaded through the origin like the model's prefetches, within the
    same budgets, and their outcomes (used or not) are counted; they are not scored by the model:
    the application's knowledge is not a guess. Return None or an empty iterable for nothing.
    Keep it fast and free of I/O (it runs in the event loop); an exception is logged and the
    read's application candidates are skipped.
    """
