"""Every hook a Predis plugin can implement. A hook's docstring is its contract, and the single
source of the contracts in docs/plugins.md (``python -m predis.plugins.reference docs/plugins.md``
copies them there; a test fails when the two differ).

Plugins implement hooks with ``@predis.plugins.hookimpl`` and may accept any subset of a hook's
arguments, so hooks can gain arguments without breaking them. Every hook is called through pluggy,
so ``tryfirst``/``trylast`` and wrappers apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pluggy

from predis.plugins.origin import OriginFactory

if TYPE_CHECKING:
    import numpy as np

    from predis.services.retrainer.adaptation import AdaptationStrategy

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
    Keep it fast and free of I/O (it runs in the event loop). An answer that is not an iterable
    of non-empty ``bytes`` is logged and skipped; an exception is logged and that read gets no
    application candidates from any plugin (pluggy calls no implementation after it). A wrapper
    (``wrapper=True``) receives, and may change, the list of the other implementations' answers.
    """


@hookspec
def predis_register_adaptation_strategies(register: Callable[[str, AdaptationStrategy], None]) -> None:
    """Register per-tenant adaptation strategies by name.

    Call ``register(name, strategy)`` once per strategy; ``PREDIS_RETRAINER_ADAPTATION=name``
    selects the one the retrainer uses (built in: ``global``, ``per-tenant-model``,
    ``per-tenant-threshold``). ``strategy`` is an
    :class:`~predis.services.retrainer.adaptation.AdaptationStrategy`: ``scope(tenant,
    tenant_events, min_events)`` says which scope a retraining asked for ``tenant`` trains (the
    tenant's own, or "" for the global model), and ``build(request)`` writes the challenger
    (model.onnx and its card) into ``request.out`` from the training windows it is given. The
    retrainer validates what it builds against the champion like any challenger. ``build`` runs in
    the retrainer's worker process, which looks the strategy up again by name, so it must not rely
    on state set up in the service's process. Names must be unique across all plugins.
    """


@hookspec
def predis_register_drift_detectors(register: Callable[[str, Callable[[str, np.ndarray], object]], None]) -> None:
    """Register drift detectors by name.

    Call ``register(name, factory)`` once per detector. For each tenant, the drift service calls
    ``factory(signal, reference)`` for every signal it watches: ``reuse_distance``,
    ``inter_arrival`` and ``popularity_rank`` (one value per access event; ``reference`` is the
    tenant's reference window of that signal, a float64 NumPy array, and the factory is called
    again whenever the reference is replaced), ``live_gain`` and ``prefetch_precision`` (one value
    per quality window; ``reference`` is empty). It returns a detector with River's shape,
    ``update(x)`` then ``drift_detected``, or None to leave that signal alone; a ``reading``
    attribute holding a :class:`~predis.services.drift.detectors.Reading` gives its alerts their
    statistic and effect size. A detection goes through the alarm gate like the built-in
    detectors' (one alert per change, cool-down) as a WARNING. Names must be unique and differ
    from the built-in ``ks``, ``psi``, ``chi2`` and ``adwin``. Detectors run in the service's
    event loop, one value at a time: keep ``update`` fast; one that raises is logged and switched
    off for that tenant and signal.
    """
