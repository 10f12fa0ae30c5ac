"""``python -m predis.services.precompile``: compiles every service's Numba kernels into the
on-disk cache, so that the first start of a service, or of replay, does not wait for Numba.
``make install`` runs it, and the Dockerfile as the image's user. Each service still runs its
kernels once as it starts (loading them from this cache), and compiles whatever is missing."""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    started = time.monotonic()
    from predis.services.cache import shadow
    from predis.services.cache.collector import AccessRing
    from predis.services.cache.engine.candidates import candidate_rows
    from predis.services.cache.engine.engine import warm_up
    from predis.services.cache.engine.numpy_storage import NumpyStorage
    from predis.services.cache.engine.simulate import simulate
    from predis.services.cache.engine.threshold import ThresholdTuner, TunerSettings
    from predis.services.drift.signals import StreamSignals
    from predis.services.resp import compiled_gets, protocol, replies

    # The cache: its engine under each policy, the access ring, the no-prefetch shadow, and the
    # prefetch loop's threshold tuner (which it calls one prefetch at a time).
    AccessRing(16)
    for policy in ("s3fifo", "lru"):
        warm_up(policy, NumpyStorage())
    shadow.warm_up()
    tuner = ThresholdTuner(TunerSettings(), 0.5)
    tuner.reads(1)
    tuner.record(True, tuner.enroll())
    # The RESP front end: the check of pipelined frames, MGET's reply, a run of GETs in one call.
    protocol.warm_up()
    replies.warm_up()
    compiled_gets.warm_up()
    # Replay and the retrainer's jobs: the policy simulator and the candidate features.
    for policy in ("s3fifo", "lru", "successor"):
        simulate(np.arange(100, dtype=np.uint64) % 17, 10, policy, eval_from=5)
    candidate_rows(np.arange(100, dtype=np.uint64) % 17)
    # Drift: the stream signals.
    StreamSignals(2).observe_ids(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    print(f"kernels compiled in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
