"""``python -m predis.services.cache.engine.precompile``: compiles every engine kernel into the
on-disk cache, so that the first start of a service or of replay does not wait for Numba.
``make install`` runs it."""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    started = time.monotonic()
    from predis.services.cache.collector import AccessRing
    from predis.services.cache.engine.candidates import candidate_rows
    from predis.services.cache.engine.engine import warm_up
    from predis.services.cache.engine.numpy_storage import NumpyStorage
    from predis.services.cache.engine.simulate import simulate
    from predis.services.cache.engine.threshold import ThresholdTuner, TunerSettings

    AccessRing(16)
    for policy in ("s3fifo", "lru"):
        warm_up(policy, NumpyStorage())
    for policy in ("s3fifo", "lru", "successor"):
        simulate(np.arange(100, dtype=np.uint64) % 17, 10, policy, eval_from=5)
    candidate_rows(np.arange(100, dtype=np.uint64) % 17)
    tuner = ThresholdTuner(TunerSettings(), 0.5)  # the cache's prefetch loop calls these one at a time
    tuner.reads(1)
    tuner.record(True, tuner.enroll())
    print(f"engine kernels compiled in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
