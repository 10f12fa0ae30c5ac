"""``predis stats`` and ``predis models``: what a running suite is doing and what it learned, through the SDK.

``predis stats`` asks the cache for one tenant's ``Stats`` (hit ratio, prefetch precision, the
live-quality shadow's baseline and gain, origin fetches, memory, the prefetch loop) and the
predictor for its models and their metrics. ``predis models`` lists the predictor's loaded
versions and the retrainer's recent jobs. ``--json`` prints one JSON object instead of text.

Addresses come from the flags, else ``PREDIS_<SERVICE>_ADDRESS``, else the default ports; the
token and TLS from ``PREDIS_TOKEN`` and ``PREDIS_TLS_CA`` as for any SDK client. A service that
cannot be reached is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import predis
from predis.config import default_address
from predis.v1 import common_pb2, predictor_pb2, retrainer_pb2

TIMEOUT_S = 3.0
JOBS_SHOWN = 10
ROLES = {
    common_pb2.MODEL_ROLE_CHAMPION: "champion",
    common_pb2.MODEL_ROLE_CHALLENGER: "challenger",
    common_pb2.MODEL_ROLE_SHADOW: "shadow",
}


class Unreachable(Exception):
    """A service did not answer; the message names it and its address."""


def add_parsers(commands: Any) -> None:
    """Adds ``stats`` and ``models`` to the ``predis`` command's subparsers."""
    stats = commands.add_parser("stats", help="what the cache is doing and what the predictor learned")
    stats.add_argument("--tenant", help="the tenant to show (default: the token's, else default)")
    stats.add_argument(
        "--cache", metavar="ADDR", help="cache address (default PREDIS_CACHE_ADDRESS or 127.0.0.1:50051)"
    )
    stats.add_argument(
        "--predictor",
        metavar="ADDR",
        help="predictor address (default PREDIS_PREDICTOR_ADDRESS, else the one the cache uses)",
    )
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=run_stats)

    models = commands.add_parser("models", help="the predictor's loaded models and the retrainer's recent jobs")
    models.add_argument(
        "--predictor", metavar="ADDR", help="predictor address (default PREDIS_PREDICTOR_ADDRESS or 127.0.0.1:50052)"
    )
    models.add_argument(
        "--retrainer", metavar="ADDR", help="retrainer address (default PREDIS_RETRAINER_ADDRESS or 127.0.0.1:50054)"
    )
    models.add_argument("--jobs", type=int, default=JOBS_SHOWN, help=f"recent jobs shown ({JOBS_SHOWN})")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    models.set_defaults(func=run_models)


def _address(given: str | None, service: str) -> str:
    return given or os.environ.get(f"PREDIS_{service.upper()}_ADDRESS") or default_address(service)


def _client(
    tenant: str | None = None, *, cache: str | None = None, predictor: str | None = None, retrainer: str | None = None
) -> predis.Client:
    # One try, a short deadline: a person is waiting, and a service that is down says so at once.
    config = predis.ClientConfig(tenant=tenant, timeout_s=TIMEOUT_S, retry=predis.RetryPolicy(max_attempts=1))
    return predis.Client(cache, predictor=predictor, retrainer=retrainer, config=config)


def _ask(service: str, address: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except predis.PredisError as error:
        if error.code.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            raise Unreachable(f"cannot reach the {service} at {address} ({error.code.name}: {error.details})") from None
        raise


def _failed(command: str, error: Exception) -> int:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    print(f"predis {command}: {detail}", file=sys.stderr)
    return 2


# -- predis stats -----------------------------------------------------------------------------


def run_stats(args: argparse.Namespace) -> int:
    try:
        report = stats_report(args.cache, args.predictor, args.tenant)
    except (Unreachable, predis.PredisError, ValueError) as error:
        return _failed("stats", error)
    print(json.dumps(report, indent=2) if args.json else render_stats(report))
    unreachable = report["models"].get("error")
    if unreachable:
        print(f"predis stats: {unreachable}", file=sys.stderr)
        return 2
    return 0


def stats_report(cache_address: str | None, predictor_address: str | None, tenant: str | None) -> dict[str, Any]:
    """One tenant's Stats from the cache, and the models serving it from the predictor."""
    cache = _address(cache_address, "cache")
    with _client(tenant, cache=cache) as client:
        stats = _ask("cache", cache, client.stats)
    report = _cache_report(cache, stats)
    wanted = predictor_address or os.environ.get("PREDIS_PREDICTOR_ADDRESS") or stats.predictor.address
    if not wanted:
        report["models"] = {"address": "", "error": "", "versions": [], "note": "the cache has no predictor"}
        return report
    try:
        versions = model_rows(wanted, scope_of=stats.tenant.tenant)
        report["models"] = {"address": wanted, "error": "", "versions": versions}
    except Unreachable as error:
        report["models"] = {"address": wanted, "error": str(error), "versions": []}
    return report


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _cache_report(address: str, stats: Any) -> dict[str, Any]:
    t, e, q, p = stats.tenant, stats.engine, stats.quality, stats.prefetcher
    settled = t.prefetches_used + t.prefetches_unused
    report: dict[str, Any] = {
        "cache": address,
        "tenant": t.tenant,
        "reads": t.hits + t.misses,
        "hits": t.hits,
        "misses": t.misses,
        "hit_ratio": _ratio(t.hits, t.hits + t.misses),
        "prefetches": {
            "loaded": t.prefetches,
            "used": t.prefetches_used,
            "wasted": t.prefetches_unused,
            "precision": _ratio(t.prefetches_used, settled),
        },
        "quality": None,
        "origin": {"fetches": t.origin_fetches, "errors": t.origin_errors},
        "memory": {
            "bytes": t.memory_bytes,
            "entries": t.entries,
            "quota_bytes": t.quota_bytes,
            "evictions": t.evictions,
            "engine_bytes": e.memory_bytes,
            "engine_budget_bytes": e.memory_budget_bytes,
            "engine_entries": e.entries,
            "policy": e.policy,
            "backend": e.backend,
        },
        "prefetch_loop": {"enabled": p.enabled, "state": p.state},
    }
    if q.enabled:
        report["quality"] = {
            "reads": q.reads,
            "hit_ratio": q.hit_ratio,
            "shadow_hit_ratio": q.shadow_hit_ratio,
            "live_gain": q.live_gain,
            "sample_rate": q.sample_rate,
        }
    if p.enabled:
        right = p.prefetches_used + p.prefetches_late
        report["prefetch_loop"].update(
            threshold=p.threshold,
            precision_target=p.precision_target,
            recent_precision=p.recent_precision,
            candidates_scored=p.candidates_scored,
            started=p.prefetches_started,
            used=p.prefetches_used,
            late=p.prefetches_late,
            wasted=p.prefetches_unused,
            precision=_ratio(right, right + p.prefetches_unused),
            held_back_memory=p.held_back_memory,
            held_back_rate=p.held_back_rate,
        )
    return report


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def render_stats(r: dict[str, Any]) -> str:
    pf, mem, origin = r["prefetches"], r["memory"], r["origin"]
    reads = f"{r['reads']:,} (hits {r['hits']:,}, misses {r['misses']:,})"
    lines = [
        f"cache {r['cache']}, tenant {r['tenant']}",
        f"  reads        {reads}: hit ratio {_percent(r['hit_ratio'])}",
        f"  prefetches   loaded {pf['loaded']:,}, used {pf['used']:,}, wasted {pf['wasted']:,}: "
        f"precision {_percent(pf['precision'])}",
    ]
    q = r["quality"]
    if q is None:
        lines.append("  baseline     off (the live-quality shadow is off: PREDIS_CACHE_SHADOW)")
    else:
        gain = 100 * q["live_gain"]
        lines.append(
            f"  baseline     plain S3-FIFO would hit {_percent(q['shadow_hit_ratio'])}, this cache hits "
            f"{_percent(q['hit_ratio'])}: gain {gain:+.1f} points over {q['reads']:,} reads "
            f"(sample {_percent(q['sample_rate'])})"
        )
    lines.append(f"  origin       fetches {origin['fetches']:,}, errors {origin['errors']:,}")
    quota = _bytes(mem["quota_bytes"]) if mem["quota_bytes"] else "none"
    lines.append(
        f"  memory       {_bytes(mem['bytes'])} in {mem['entries']:,} entries (quota {quota}, evictions "
        f"{mem['evictions']:,}); engine {_bytes(mem['engine_bytes'])} of {_bytes(mem['engine_budget_bytes'])}, "
        f"{mem['policy']} on {mem['backend']}"
    )
    loop = r["prefetch_loop"]
    lines.append(f"  prefetch loop {loop['state']}")
    if loop["enabled"]:
        lines.append(
            f"    threshold {loop['threshold']:.3f}, precision target {_percent(loop['precision_target'])}, "
            f"recent precision {_percent(loop['recent_precision'])}"
        )
        lines.append(
            f"    scored {loop['candidates_scored']:,}, started {loop['started']:,}: used {loop['used']:,}, "
            f"late {loop['late']:,}, wasted {loop['wasted']:,}: precision {_percent(loop['precision'])}"
        )
        lines.append(
            f"    held back {loop['held_back_memory']:,} (memory share), {loop['held_back_rate']:,} (origin rate)"
        )
    models = r["models"]
    if not models["address"]:
        lines.append(f"models: {models.get('note', 'no predictor')}")
    elif models["error"]:
        lines.append(f"models: {models['error']}")
    else:
        lines.append(f"models (predictor {models['address']}):")
        lines.extend(_model_lines(models["versions"]))
    return "\n".join(lines)


# -- the predictor's models -------------------------------------------------------------------


def model_rows(address: str, scope_of: str | None = None) -> list[dict[str, Any]]:
    """The predictor's loaded versions with their metrics; with ``scope_of``, only those that
    may serve that tenant (its own scope and the global one)."""
    with _client(predictor=address) as client:
        infos: list[predictor_pb2.ModelInfo] = _ask("predictor", address, client.predictor.list_models)
        rows = []
        for info in infos:
            if scope_of is not None and info.tenant not in ("", scope_of):
                continue
            status: predictor_pb2.GetModelStatusResponse = _ask(
                "predictor", address, functools.partial(client.predictor.model_status, info.version)
            )
            settled = status.prefetches_used + status.prefetches_late + status.prefetches_unused
            rows.append(
                {
                    "version": info.version,
                    "scope": info.tenant or "global",
                    "role": ROLES.get(info.role, "unknown"),
                    "weight": info.traffic_weight,
                    "requests": status.requests,
                    "rows": status.rows,
                    "latency_p50_us": status.latency_p50_us,
                    "latency_p99_us": status.latency_p99_us,
                    "prefetches_used": status.prefetches_used,
                    "prefetches_late": status.prefetches_late,
                    "prefetches_wasted": status.prefetches_unused,
                    "precision": status.precision if settled else None,
                }
            )
    return rows


def _model_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["  (no model loaded)"]
    lines = [
        f"  {'version':<24} {'scope':<12} {'role':<10} {'weight':>6} {'requests':>10} {'rows':>12} "
        f"{'p50 us':>8} {'p99 us':>8} {'precision':>9}"
    ]
    for m in rows:
        lines.append(
            f"  {m['version']:<24} {m['scope']:<12} {m['role']:<10} {m['weight']:>6.2f} {m['requests']:>10,} "
            f"{m['rows']:>12,} {m['latency_p50_us']:>8.0f} {m['latency_p99_us']:>8.0f} {_percent(m['precision']):>9}"
        )
    return lines


# -- predis models ----------------------------------------------------------------------------

JOB_STATES = {value: name.removeprefix("JOB_STATE_").lower() for name, value in retrainer_pb2.JobState.items()}
TRIGGERS = {value: name.removeprefix("TRIGGER_KIND_").lower() for name, value in retrainer_pb2.TriggerKind.items()}


def run_models(args: argparse.Namespace) -> int:
    try:
        report = models_report(args.predictor, args.retrainer, args.jobs)
    except (Unreachable, predis.PredisError, ValueError) as error:
        return _failed("models", error)
    print(json.dumps(report, indent=2) if args.json else render_models(report))
    return 0


def models_report(predictor_address: str | None, retrainer_address: str | None, jobs: int) -> dict[str, Any]:
    predictor, retrainer = _address(predictor_address, "predictor"), _address(retrainer_address, "retrainer")
    versions = model_rows(predictor)
    with _client(retrainer=retrainer) as client:
        recent = _ask("retrainer", retrainer, lambda: client.retrainer.list_jobs(max(jobs, 1)))
    return {
        "predictor": predictor,
        "retrainer": retrainer,
        "models": versions,
        "jobs": [_job(job) for job in recent[: max(jobs, 0)]],
    }


def _job(job: retrainer_pb2.Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": JOB_STATES.get(job.state, "unknown"),
        "scope": job.tenant or "global",
        "trigger": TRIGGERS.get(job.trigger, "unknown"),
        "candidate_version": job.candidate_version,
        "created_unix_nano": job.created_unix_nano,
        "note": job.note or job.error,
    }


def render_models(r: dict[str, Any]) -> str:
    lines = [f"models (predictor {r['predictor']}):", *_model_lines(r["models"])]
    lines.append(f"recent jobs (retrainer {r['retrainer']}):")
    if not r["jobs"]:
        lines.append("  (none)")
    for job in r["jobs"]:
        version = job["candidate_version"] or "-"
        note = f"  {job['note']}" if job["note"] else ""
        lines.append(f"  {job['id']:<36} {job['state']:<11} {job['scope']:<12} {job['trigger']:<11} {version}{note}")
    return "\n".join(lines)
