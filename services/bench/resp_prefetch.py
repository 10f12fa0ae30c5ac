"""``predis bench resp-prefetch``: learned prefetching's gain through the gRPC front end and
through the RESP one, on the same replay, in one run.

It sets up what ``predis demo`` sets up, with the demo's own functions: the shipped
cache2k-orm-busy trace with honest keys (its object ids scrambled, each key sent as the name an
application would use, ``type<t>:<object id>:<index>``), a model ``predis train``'s code fits on
its first 100,000 requests (on the ids the cache's key mapping gives those names), a SQLite
origin holding every key, a 500-entry cache. It starts the four services (``predis up``'s code)
with the RESP server on (``PREDIS_RESP_LISTEN`` on a free port) and one RESP user per run
(``PREDIS_RESP_USERS``), so that every RESP run, as every gRPC run, has a fresh tenant (a flush
keeps S3-FIFO's ghost of evicted keys: a reused tenant would not start as a new one).

The same requests are then read through each front end, read-through (the SDK's ``get``,
redis-py's ``GET``; a miss reads the origin), each run alone on the cache in a tenant of its own:

1. prefetching off (no model loaded: plain S3-FIFO): gRPC, then RESP;
2. prefetching on (the model loaded as champion, then a throwaway tenant's reads until the
   prefetch loop is active: :func:`prime`): ``--rounds`` rounds of a gRPC run and a RESP run,
   which goes first alternating round by round.

A run reads the last ``--warm`` training requests at full speed, unscored (as the demo does: the
scored part starts with the candidate tables filled), then the ``--requests`` after the training
window at ``--rate`` GETs a second (a late one goes at once), so that the prefetch loop has time
to land what it predicts; the rate must be one both front ends keep up with (the table says what
each reached). A run's hit ratio is its tenant's hits over reads in the scored part, from the
cache's own counters (Stats, INFO ``stats``) after the warm-up and after the scored part: a
read-through GET always answers a value, so only the cache can tell a hit. A front end's gain is
its mean "on" hit ratio minus its "off" one, in points.

The "off" runs are deterministic (the same reads in the same order: the same S3-FIFO decisions),
so both front ends give one number there. The "on" runs are not: a prefetch counts only if it
lands before its read, and on a shared machine one run meets another moment's load. The two runs
of a round are paired (back to back), and the standard error of their differences says how far
chance moves the difference of the gains; ``--sides resp,resp`` (or ``grpc,grpc``) runs one front
end twice a round, an A/A check of that. (Running the two front ends at the same time instead
makes them interact: one prefetch loop serves both tenants, and whichever tenant's reads reach
it first in its cycles gains more; two RESP tenants read at the same instant differed by 2 to 3
points so.) The drift service runs but nobody dials it (``start_suite``'s ``dial``): no alert
starts a retraining job, which would take the cores from a measured run or change the model
between runs.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import secrets
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.services.bench import budget_env, machine
from predis.services.replay.through_service import (
    CacheFrontEnd,
    FrontEndError,
    GrpcFrontEnd,
    RespFrontEnd,
    TenantState,
)

MODEL_VERSION = "orm-resp-bench"
SETTLE_S = 0.6  # after the warm-up and after the scored part: the prefetch loop catches up
PRIME_READS = 2000  # reads of a throwaway tenant after the model load, before any "on" run
FRONT_ENDS = ("grpc", "resp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _paced_reads(cache: CacheFrontEnd, keys: list[bytes], rate: float) -> tuple[np.ndarray, int, float]:
    """GETs of ``keys`` in order, one every 1/rate seconds (a late one goes at once): latency in ms
    of each (NaN where it failed), failures, seconds taken. A wrong value stops the run."""
    from predis.services.demo import value_of

    latencies = np.full(len(keys), np.nan)
    errors = 0
    started = time.perf_counter()
    for i, key in enumerate(keys):
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        try:
            value = cache.get(key)
        except FrontEndError:
            errors += 1
            continue
        latencies[i] = (time.perf_counter() - t0) * 1000
        if value != value_of(key):
            raise RuntimeError(f"{cache.where}: wrong value for key {key!r}")
    return latencies, errors, time.perf_counter() - started


def prime(address: str, keys: list[bytes], timeout_s: float = 30.0) -> str:
    """Reads ``keys`` through gRPC as a throwaway tenant, then more of them until the prefetch loop
    says it is active (a scoring cycle went through), then empties that tenant; returns the loop's
    state. The first Predict calls after a model load can be slow and the loop backs off after a
    slow one: whichever run came first after the load would meet that, and no measured run should."""
    with Client(address, config=ClientConfig(tenant="prime", tracing=False)) as client:
        for key in keys:
            client.get(key)
        deadline = time.monotonic() + timeout_s
        state = client.stats().prefetcher.state
        for key in itertools.cycle(keys):
            if state == "active" or time.monotonic() > deadline:
                break
            client.get(key)
            state = client.stats().prefetcher.state
        time.sleep(SETTLE_S)
        client.flush()
    return state


def run_once(cache: CacheFrontEnd, warm: list[bytes], scored: list[bytes], rate: float) -> dict[str, Any]:
    """One run into an emptied tenant, alone on the cache: the warm-up at full speed, then the
    scored reads paced; the tenant is emptied after (its memory goes back)."""
    cache.flush()
    for key in warm:
        cache.get(key)
    time.sleep(SETTLE_S)
    before = cache.state()
    latencies, errors, seconds = _paced_reads(cache, scored, rate)
    time.sleep(SETTLE_S)
    result = _result(cache.state().since(before), latencies, errors)
    cache.flush()
    return result | {"rate_per_s": round(len(scored) / seconds, 1) if seconds else 0.0}


def _result(counted: TenantState, latencies: np.ndarray, errors: int) -> dict[str, Any]:
    ok = latencies[~np.isnan(latencies)]
    return {
        "hit_ratio": round(counted.hit_ratio, 4),
        "hits": counted.hits,
        "misses": counted.misses,
        "origin_fetches": counted.origin_fetches,
        "prefetches_issued": counted.prefetches_issued,
        "prefetches_loaded": counted.prefetches_loaded,
        "prefetches_used": counted.prefetches_used,
        "prefetches_late": counted.prefetches_late,
        "errors": errors,
        "p50_ms": round(float(np.percentile(ok, 50)), 3) if len(ok) else None,
        "p99_ms": round(float(np.percentile(ok, 99)), 3) if len(ok) else None,
    }


def prepare(tmp: Path, requests: int) -> tuple[Path, dict[str, str], list[bytes]]:
    """``predis demo``'s set-up in ``tmp``: the model's directory, the services' environment, and
    the names of the trace's first ``TRAIN_REQUESTS + requests`` requests in order."""
    from predis.services.demo import (
        CACHE_ENTRIES,
        DEMO_TRACE,
        TRAIN_REQUESTS,
        TRAIN_ROWS,
        entry_charge,
        make_origin,
        service_ids,
    )
    from predis.services.replay.keys import load_trace
    from predis.services.retrainer.training import TrainingOptions, train

    full = load_trace(DEMO_TRACE, keys="auto")  # honest keys: the object ids scrambled
    ids_of_names, names, name_of = service_ids(full.ids[: TRAIN_REQUESTS + requests])
    model_dir = tmp / "model"
    window = replace(full, ids=ids_of_names[:TRAIN_REQUESTS])
    train([window], model_dir, TrainingOptions(train_fraction=1.0, max_rows=TRAIN_ROWS))
    origin = tmp / "origin.sqlite"
    make_origin(origin, names)
    budget = CACHE_ENTRIES * entry_charge(names)
    env = {
        "PREDIS_ORIGIN": f"sqlite://{origin}",
        **budget_env(budget),
    }
    return model_dir, env, [names[i] for i in name_of.tolist()]


def side_labels(kinds: tuple[str, ...]) -> list[str]:
    """A label per side: its front end's name, numbered when both sides use the same one."""
    if len(set(kinds)) == len(kinds):
        return list(kinds)
    return [f"{kind}{i + 1}" for i, kind in enumerate(kinds)]


def run_bench(
    requests: int, warm: int, rate: float, rounds: int, kinds: tuple[str, ...] = FRONT_ENDS
) -> dict[str, Any]:
    from predis.services.demo import CACHE_ENTRIES, DEMO_KEYS, TRAIN_REQUESTS
    from predis.services.supervisor import start_suite

    labels = side_labels(kinds)
    steps = [(False, 0)] + [(True, r) for r in range(rounds)]
    tenants = {(on, r): [f"{label}-{'on' if on else 'off'}-{r}" for label in labels] for on, r in steps}
    passwords = {
        t: secrets.token_hex(8) for names in tenants.values() for t, k in zip(names, kinds, strict=True) if k == "resp"
    }
    resp_port = _free_port()
    with tempfile.TemporaryDirectory(prefix="predis-resp-prefetch-") as tmp:
        model_dir, env, keys = prepare(Path(tmp), requests)
        warm_keys, scored_keys = keys[TRAIN_REQUESTS - warm : TRAIN_REQUESTS], keys[TRAIN_REQUESTS:]
        env |= {
            "PREDIS_RESP_LISTEN": f"127.0.0.1:{resp_port}",
            "PREDIS_RESP_USERS": ",".join(f"{t}:{pw}={t}" for t, pw in passwords.items()),
        }
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env, dial={"drift": ""})
        try:
            addresses = suite.addresses
            runs: list[dict[str, Any]] = []
            primed = ""
            for on, round_ in steps:
                if on and round_ == 0:
                    with Client(predictor=addresses["predictor"]) as admin:
                        admin.predictor.load_model(MODEL_VERSION, str(model_dir))
                    primed = prime(addresses["cache"], warm_keys[:PRIME_READS])
                sides = list(zip(labels, kinds, tenants[on, round_], strict=True))
                for label, kind, tenant in sides if round_ % 2 == 0 else sides[::-1]:
                    cache: CacheFrontEnd = (
                        GrpcFrontEnd(addresses["cache"], tenant, read_through=True)
                        if kind == "grpc"
                        else RespFrontEnd(f"redis://{tenant}:{passwords[tenant]}@127.0.0.1:{resp_port}/0")
                    )
                    try:
                        result = run_once(cache, warm_keys, scored_keys, rate)
                    finally:
                        cache.close()
                    runs.append({"side": label, "prefetching": on, "round": round_, **result})
            with Client(retrainer=addresses["retrainer"]) as admin:
                jobs = len(admin.retrainer.list_jobs())
        finally:
            suite.stop()
    return _summary(runs, labels, requests, warm, rate, rounds, jobs) | {
        "prefetcher_after_priming": primed,
        "sides": dict(zip(labels, kinds, strict=True)),
        "keys": DEMO_KEYS,
        "train_requests": TRAIN_REQUESTS,
        "cache_entries": CACHE_ENTRIES,
    }


def _hit_ratios(runs: list[dict[str, Any]], side: str, prefetching: bool) -> list[float]:
    chosen = [r for r in runs if r["side"] == side and r["prefetching"] == prefetching]
    return [r["hits"] / max(1, r["hits"] + r["misses"]) for r in chosen]


def _summary(
    runs: list[dict[str, Any]], labels: list[str], requests: int, warm: int, rate: float, rounds: int, jobs: int
) -> dict[str, Any]:
    first, second = labels
    mean = {(side, on): float(np.mean(_hit_ratios(runs, side, on))) for side in labels for on in (False, True)}
    gains = {side: round((mean[side, True] - mean[side, False]) * 100, 2) for side in labels}
    # Per round, the second side's "on" hit ratio minus the first's: two runs back to back.
    on = zip(_hit_ratios(runs, first, True), _hit_ratios(runs, second, True), strict=True)
    paired = [(b - a) * 100 for a, b in on]
    # The off runs are equal (a plain cache is deterministic), so the gains differ by the mean of
    # the paired "on" differences; its standard error says how far chance moves that mean.
    error = float(np.std(paired, ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else None
    return {
        "bench": "resp-prefetch",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "trace": "cache2k-orm-busy",
        "warm": warm,
        "requests": requests,
        "rate_per_s": rate,
        "rounds": rounds,
        "runs": runs,
        "hit_ratio": {f"{side}_{'on' if on else 'off'}": round(v, 4) for (side, on), v in mean.items()},
        "gain_points": gains,
        "gain_difference_points": round(gains[second] - gains[first], 2),
        "on_difference_points_by_round": [round(d, 2) for d in paired],
        "gain_difference_standard_error_points": None if error is None else round(error, 2),
        "off_difference_points": round((mean[second, False] - mean[first, False]) * 100, 2),
        "retrainer_jobs": jobs,
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=5000, help="scored GETs per run (5,000)")
    parser.add_argument(
        "--warm", type=int, default=10_000, help="the last training requests read first, at full speed (10,000)"
    )
    parser.add_argument("--rate", type=float, default=250.0, help="scored GETs a second (250, the demo's)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of runs with prefetching on (1)")
    parser.add_argument(
        "--sides",
        default="grpc,resp",
        help="the two front ends compared (grpc,resp); resp,resp or grpc,grpc: the same one twice, which "
        "shows how far two runs differ by chance",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _cell(runs: list[dict[str, Any]], side: str, on: bool, field: str) -> str:
    values = [r[field] for r in runs if r["side"] == side and r["prefetching"] == on]
    return " / ".join(f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in values)


TITLES = {"grpc": "gRPC (SDK get)", "resp": "RESP (redis-py GET)"}


def print_result(result: dict[str, Any]) -> None:
    runs, sides = result["runs"], result["sides"]
    first, second = sides
    print(
        f"resp-prefetch: {result['trace']} ({result['keys']}), a {result['cache_entries']}-entry cache, model "
        f"from predis train on its first {result['train_requests']:,} requests; per run {result['warm']:,} warm-up "
        f"GETs, then {result['requests']:,} scored at {result['rate_per_s']:g}/s, read-through, each run alone; "
        f"{result['rounds']} round(s) with prefetching on; {result['machine']}"
    )
    titles = {side: TITLES[kind] + (f" #{side[-1]}" if side != kind else "") for side, kind in sides.items()}
    rows = [
        ("hit ratio, prefetching off", False, "hit_ratio"),
        ("hit ratio, prefetching on", True, "hit_ratio"),
        ("  prefetches issued", True, "prefetches_issued"),
        ("  prefetches loaded", True, "prefetches_loaded"),
        ("  prefetches used", True, "prefetches_used"),
        ("  of them late", True, "prefetches_late"),
        ("  origin reads", True, "origin_fetches"),
        ("  GET p50 ms", True, "p50_ms"),
        ("  GET p99 ms", True, "p99_ms"),
        ("GETs/s reached, off", False, "rate_per_s"),
        ("GETs/s reached, on", True, "rate_per_s"),
        ("failed GETs, off", False, "errors"),
        ("failed GETs, on", True, "errors"),
    ]
    cells = [(label, _cell(runs, first, on, field), _cell(runs, second, on, field)) for label, on, field in rows]
    gains = result["gain_points"]
    cells.append(("gain (points of hit ratio)", f"{gains[first]:+.2f}", f"{gains[second]:+.2f}"))
    width = 2 + max(len(text) for row in [("", titles[first], titles[second]), *cells] for text in row[1:])
    print(f"  {'':<30}{titles[first]:>{width}}{titles[second]:>{width}}")
    for label, a, b in cells:
        print(f"  {label:<30}{a:>{width}}{b:>{width}}")
    by_round = ", ".join(f"{d:+.2f}" for d in result["on_difference_points_by_round"])
    error = result["gain_difference_standard_error_points"]
    spread = "" if error is None else f" (standard error {error:.2f})"
    print(
        f"  {titles[second]} minus {titles[first]}: {result['gain_difference_points']:+.2f} points of gain{spread}; "
        f"with prefetching on, by round: {by_round}; off: {result['off_difference_points']:+.2f}; "
        f"retrainer jobs: {result['retrainer_jobs']}; prefetch loop after priming: {result['prefetcher_after_priming']}"
    )


def run(args: argparse.Namespace) -> int:
    from predis.services.demo import TRAIN_REQUESTS

    kinds = tuple(side.strip() for side in args.sides.split(","))
    if len(kinds) != 2 or not set(kinds) <= set(FRONT_ENDS):
        raise SystemExit("predis bench resp-prefetch: --sides is two of grpc and resp, such as grpc,resp")
    if args.requests < 1 or not 0 <= args.warm <= TRAIN_REQUESTS or args.rate <= 0 or args.rounds < 1:
        raise SystemExit(
            f"predis bench resp-prefetch: --requests and --rounds at least 1, --warm 0 to {TRAIN_REQUESTS:,} "
            "(the training requests), --rate > 0"
        )
    result = run_bench(args.requests, args.warm, args.rate, args.rounds, kinds)
    if args.json:
        print(json.dumps(result))
    else:
        print_result(result)
    return 0
