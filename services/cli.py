"""The ``predis`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from predis.plugins.listing import add_parser as add_plugins_parser
from predis.services.runtime import event_loop
from predis.services.runtime.settings import (
    DEFAULT_PORTS,
    SERVICES,
    ServerSettings,
    SettingsError,
    address_env_var,
    default_address,
)
from predis.services.security.token_command import add_parser as add_tokens_parser
from predis.services.stats_command import add_parsers as add_stats_parsers


def _serve(args: argparse.Namespace) -> int:
    from predis.plugins import PluginError
    from predis.services.security.tokens import TokenError

    try:
        return _run_service(args)
    except (SettingsError, PluginError, TokenError) as error:  # found at start: bind address, tokens file
        print(f"predis serve {args.service}: {error}", file=sys.stderr)
        return 2


def _run_service(args: argparse.Namespace) -> int:
    from predis.plugins import PluginError

    try:
        if args.service == "cache":
            from predis.services.cache.server import main as cache_main
            from predis.services.cache.settings import CacheSettings

            event_loop.run(cache_main(CacheSettings.from_env(os.environ, args.listen)), os.environ)
            return 0
        if args.service == "predictor":
            from predis.services.predictor.server import main as predictor_main
            from predis.services.predictor.settings import PredictorSettings

            event_loop.run(predictor_main(PredictorSettings.from_env(os.environ, args.listen)), os.environ)
            return 0
        settings = ServerSettings.from_env(args.service, os.environ, args.listen)
    except (SettingsError, PluginError) as error:
        print(f"predis serve {args.service}: {error}", file=sys.stderr)
        return 2
    if args.service == "drift":
        from predis.services.drift.server import main
    else:
        from predis.services.retrainer.server import main
    event_loop.run(main(settings), os.environ)
    return 0


def _up(args: argparse.Namespace) -> int:
    from predis.services.supervisor import run_up

    return run_up(args.host, args.base_port, args.log_dir)


def _dashboard(args: argparse.Namespace) -> int:
    from predis.services.dashboard.server import main
    from predis.services.dashboard.settings import DashboardSettings

    try:
        settings = DashboardSettings.from_env(os.environ, args.listen)
    except SettingsError as error:
        print(f"predis dashboard: {error}", file=sys.stderr)
        return 2
    try:
        event_loop.run(main(settings), os.environ)
    except SettingsError as error:  # PREDIS_EVENT_LOOP
        print(f"predis dashboard: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the address is taken, or not this machine's
        print(f"predis dashboard: cannot listen on {settings.listen}: {error}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    from predis.services.health_check import check
    from predis.services.supervisor import read_state

    healthy = True
    cache = args.cache or os.environ.get(address_env_var("cache"), default_address("cache"))
    up = read_state(cache)  # restart counts, when a predis up runs this cache
    for service in args.only or SERVICES:
        address = getattr(args, service) or os.environ.get(address_env_var(service), default_address(service))
        state = check(address)
        healthy &= state == "SERVING"
        restarts = up.get(service, {}).get("restarts")
        print(f"{service:<10} {address:<22} {state}" + ("" if restarts is None else f"  restarts {restarts}"))
    return 0 if healthy else 1


def _demo(args: argparse.Namespace) -> int:
    from predis.services.demo import TRAIN_REQUESTS, run_demo

    if args.warm is None:
        return run_demo(args.requests, args.rate, switch=not args.no_switch)
    if not 0 <= args.warm <= TRAIN_REQUESTS:
        print(f"predis demo: --warm must be 0 to {TRAIN_REQUESTS:,} (the training requests)", file=sys.stderr)
        return 2
    return run_demo(args.requests, args.rate, warm=args.warm, switch=not args.no_switch)


def _train(args: argparse.Namespace) -> int:
    import json

    from predis.services.replay.keys import load_trace
    from predis.services.replay.traces import TraceFormatError
    from predis.services.retrainer.training import TrainingOptions, train

    try:
        horizon = {} if args.horizon is None else {"horizon": args.horizon}  # else TrainingOptions' default
        options = TrainingOptions(
            train_fraction=args.train_fraction, model=args.model, max_rows=args.max_rows, seed=args.seed, **horizon
        )
        traces = [load_trace(path, args.format, args.keys, args.key_seed, _say) for path in args.traces]
        card = train(traces, args.out, options)
    except (ValueError, FileNotFoundError, TraceFormatError) as error:
        print(f"predis train: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "offline_metrics": card["offline_metrics"]}))
    return 0


def _bench_throughput(args: argparse.Namespace) -> int:
    import json

    from predis.services.bench.throughput import ThroughputOptions, print_table, run_throughput

    options = ThroughputOptions(
        keys=args.keys,
        batch=args.batch,
        value_size=args.value_size,
        seconds=args.seconds,
        rounds=args.rounds,
        clients=args.clients,
        concurrency=args.concurrency,
        backend=args.backend,
        vs_redis=args.vs_redis,
        compare=args.compare,
    )
    result = run_throughput(options)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def _bench_predictor(args: argparse.Namespace) -> int:
    import json

    from predis.services.bench.predictor import run_bench

    rates = [float(r) for r in args.rate.split(",")]
    models = args.model.split(",")
    rows = [run_bench(args.batch, m, rates, args.seconds, args.processes, args.deadline_ms) for m in models]
    if args.json:
        print(json.dumps(rows[0] if len(rows) == 1 else {"rows": rows}))
        return 0
    print(
        f"batches of {args.batch} candidate rows x {rows[0]['features']} features (cache2k-web07, honest keys, "
        f"model from predis train); service driven by {args.processes} load processes for {args.seconds:g}s a rate, "
        f"deadline {args.deadline_ms:g} ms"
    )
    for r in rows:
        print(f"  {r['model']:<9} in process p50 {r['inprocess_p50_us']} us, p99 {r['inprocess_p99_us']} us")
        for run in r["service"]:
            failed = ", ".join(f"{n} {code}" for code, n in run["failed"].items()) or "none"
            print(
                f"    {run['rate_per_s']:>6g}/s sent: served {run['served_per_s']:g}/s, p50 {run['served_p50_ms']} ms,"
                f" p99 {run['served_p99_ms']} ms; refused {run['refused']} of {run['sent']}"
                f" (p99 {run['refused_p99_ms']} ms); other failures: {failed}"
            )
    return 0


def _bench_wire(args: argparse.Namespace) -> int:
    import json

    from predis.services.bench.wire import run_wire

    result = run_wire(args.batch, args.value_size)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['batch']} keys, {result['value_size']} B values; median microseconds per batch")
        print(f"  {'':<28}{'server':>10}{'client':>10}")
        print(f"  {'KeyBlock (blob + lengths)':<28}{result['server_packed_us']:>10}{result['client_packed_us']:>10}")
        print(f"  {'repeated bytes':<28}{result['server_repeated_us']:>10}{result['client_repeated_us']:>10}")
    return 0


def _certs(args: argparse.Namespace) -> int:
    from predis.services.security.certs import DEFAULT_CLIENTS, how_to_use, write_dev_certificates

    hosts = [host.strip() for host in args.hosts.split(",") if host.strip()]
    clients = args.client or list(DEFAULT_CLIENTS)
    try:
        paths = write_dev_certificates(args.dir, hosts, args.days, clients, args.force)
    except (ValueError, FileExistsError) as error:
        print(f"predis certs: {error}", file=sys.stderr)
        return 2
    print("\n".join([*(f"wrote {path}" for path in paths), "", how_to_use(args.dir, clients[0])]))
    return 0


def _say(line: str) -> None:
    """What a command assumed of its input (a trace's format, its keys), on stderr."""
    print(f"predis: {line}", file=sys.stderr)


def _replay(args: argparse.Namespace) -> int:
    from predis.errors import PredisError
    from predis.services.cache.engine.threshold import TunerSettings
    from predis.services.replay.keys import load_trace
    from predis.services.replay.runner import Progress, parse_floats, print_rows, rows_json, run_replay
    from predis.services.replay.traces import TraceFormatError

    try:
        if args.per_read < 1:
            raise ValueError("--per-read must be at least 1")
        if args.through_service:
            from predis.services.replay.through_service import FrontEndError, replay_through_service

            progress = Progress(0)
            try:
                rows = [
                    replay_through_service(
                        load_trace(path, args.format, args.keys, args.key_seed, _say),
                        args.through_service,
                        args.train_fraction,
                        args.value_size,
                        progress,
                        _say,
                    )
                    for path in args.traces
                ]
            except FrontEndError as error:
                print(f"predis replay: {error}", file=sys.stderr)
                return 2
        else:
            rows = run_replay(
                args.traces,
                [p.strip() for p in args.policy.split(",") if p.strip()],
                parse_floats(args.size),
                args.train_fraction,
                [p.strip() for p in args.vs_libcachesim.split(",") if p.strip()],
                args.format,
                model=args.model,
                threshold=args.threshold,
                live=not args.fixed_threshold,
                keys=args.keys,
                key_seed=args.key_seed,
                say=_say,
                tuning=TunerSettings()
                if args.precision_target is None
                else TunerSettings(target=args.precision_target),
                per_read=args.per_read,
            )
        if args.plot:
            from predis.services.replay.plot import plot_rows

            plot_rows(rows, args.plot)
    except (ValueError, FileNotFoundError, TraceFormatError, PredisError) as error:
        print(f"predis replay: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(rows_json(rows))
        return 0
    print_rows(rows)
    for row in rows:
        if row.latency_p50_ms is not None:
            print(f"{row.trace}: GET p50 {row.latency_p50_ms} ms, p99 {row.latency_p99_ms} ms, {row.errors} errors")
    return 0


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    from predis.services.replay.keys import KEY_MODES

    parser.add_argument(
        "--keys",
        choices=KEY_MODES,
        default="auto",
        help="auto: scramble keys numbered by first appearance (default); scrambled: always (only the id "
        "field of cache2k keys whose whole key is not numbered); scrambled-whole: every key as a whole; "
        "recorded: never",
    )
    parser.add_argument("--key-seed", type=int, default=0, help="seed of the key scrambling (train and replay alike)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="predis", description="Predis: a cache that learns what comes next.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument(
        "--listen", help="HOST:PORT to bind (default PREDIS_LISTEN or the service's port); port 0 picks one"
    )
    serve.set_defaults(func=_serve)

    up = commands.add_parser("up", help="run all four services on this machine until Ctrl-C")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_PORTS["cache"],
        help="cache's port; the others follow it (0: free ports)",
    )
    up.add_argument("--log-dir", type=Path, help="where each service's log goes (default a temporary folder)")
    up.set_defaults(func=_up)

    add_tokens_parser(commands)
    add_plugins_parser(commands)

    dashboard = commands.add_parser("dashboard", help="serve the ROI dashboard: a web page over the running suite")
    dashboard.add_argument(
        "--listen", help="HOST:PORT to serve on (default PREDIS_DASHBOARD_LISTEN or 127.0.0.1:8080); port 0 picks one"
    )
    dashboard.set_defaults(func=_dashboard)

    status = commands.add_parser("status", help="health of each service")
    status.add_argument("--only", action="append", choices=SERVICES, help="check only this service (repeatable)")
    for service in SERVICES:
        status.add_argument(
            f"--{service}", help=f"address (default {address_env_var(service)} or {default_address(service)})"
        )
    status.set_defaults(func=_status)

    add_stats_parsers(commands)

    replay = commands.add_parser("replay", help="replay recorded traces through the engine's policies")
    replay.add_argument("traces", nargs="+", type=Path)
    replay.add_argument("--policy", default="lru,s3fifo", help="Predis policies, comma-separated (lru, s3fifo)")
    replay.add_argument("--size", default="0.01,0.05,0.1", help="below 1: fraction of unique keys; else objects")
    replay.add_argument("--train-fraction", type=float, default=0.0, help="score only the requests after this share")
    replay.add_argument("--vs-libcachesim", default="", help="libCacheSim policies, comma-separated (LRU,S3FIFO,...)")
    replay.add_argument("--format", help="trace format when the name does not tell it")
    _key_arguments(replay)
    replay.add_argument("--model", type=Path, help="for the learned policy: a directory `predis train` wrote")
    replay.add_argument(
        "--threshold", type=float, help="for the learned policy: a fixed score cut (default: tuned, then live)"
    )
    replay.add_argument(
        "--fixed-threshold",
        action="store_true",
        help="for the learned policy: keep the cut tuned on the training window (no live tuning)",
    )
    replay.add_argument(
        "--precision-target",
        type=float,
        help="for the learned policy: the live tuner's target (default: the cache's PREDIS_PREFETCH_PRECISION_TARGET "
        "default)",
    )
    replay.add_argument(
        "--per-read",
        type=int,
        default=2,
        help="most prefetches one request starts, as PREDIS_PREFETCH_PER_READ (2)",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.add_argument("--plot", type=Path, help="write hit ratio against cache size, a panel per trace, to this PNG")
    replay.add_argument(
        "--through-service",
        metavar="ADDR",
        help="replay through a running cache service instead: a gRPC address (the SDK), or "
        "redis://[user:password@]HOST:PORT[/db] (redis-py on its RESP port)",
    )
    replay.add_argument("--value-size", type=int, default=100, help="with --through-service: bytes per value set")
    replay.set_defaults(func=_replay)

    train = commands.add_parser("train", help="train a prefetch model on the first part of traces")
    train.add_argument("traces", nargs="+", type=Path)
    train.add_argument("--out", type=Path, required=True, help="directory for model.onnx and model.json")
    train.add_argument("--train-fraction", type=float, default=0.3, help="share of each trace to learn from")
    train.add_argument(
        "--horizon", type=int, help="label: requested within this many requests (default: predis train's, 8 today)"
    )
    train.add_argument("--model", default="gbdt", help="gbdt or logistic")
    train.add_argument("--max-rows", type=int, default=400_000, help="candidate rows kept for fitting")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--format", help="trace format when the name does not tell it")
    _key_arguments(train)
    train.set_defaults(func=_train)

    bench = commands.add_parser("bench", help="benchmarks (commands, not tests)")
    benches = bench.add_subparsers(dest="bench", required=True)
    throughput = benches.add_parser("throughput", help="batch GET keys/s through the service, next to Redis MGET")
    throughput.add_argument("--vs-redis", action="store_true", help="also measure redis-server MGET in the same run")
    throughput.add_argument("--keys", type=int, default=1_000_000)
    throughput.add_argument("--batch", type=int, default=1000)
    throughput.add_argument("--value-size", type=int, default=100)
    throughput.add_argument("--seconds", type=float, default=5.0, help="length of each timed round")
    throughput.add_argument("--rounds", type=int, default=6, help="rounds with the feature on and off, alternated")
    throughput.add_argument(
        "--compare",
        choices=("collector", "shadow"),
        default="collector",
        help="the feature the second cache runs without: the access collector or the live-quality shadow",
    )
    throughput.add_argument("--clients", type=int, default=1, help="client processes")
    throughput.add_argument("--concurrency", type=int, default=4, help="calls in flight per client process")
    throughput.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    throughput.add_argument("--json", action="store_true", help="print one JSON object")
    throughput.set_defaults(func=_bench_throughput)

    from predis.services.bench import engine as engine_bench

    engine = benches.add_parser("engine", help="the engine's batch reads and writes in process, per backend")
    engine_bench.add_arguments(engine)
    engine.set_defaults(func=engine_bench.run)

    predictor = benches.add_parser("predictor", help="scoring latency in process and through the predictor service")
    predictor.add_argument("--batch", type=int, default=64)
    predictor.add_argument("--model", default="logistic,gbdt", help="logistic, gbdt (50 trees), comma-separated")
    predictor.add_argument(
        "--rate", default="1000,1500,3000", help="calls/s sent to the service, comma-separated (1000,1500,3000)"
    )
    predictor.add_argument("--processes", type=int, default=2, help="load processes sharing the rate (2)")
    predictor.add_argument("--deadline-ms", type=float, default=250.0, help="each call's deadline (250: the cache's)")
    predictor.add_argument("--seconds", type=float, default=10.0)
    predictor.add_argument("--json", action="store_true")
    predictor.set_defaults(func=_bench_predictor)

    from predis.services.bench import drift as drift_bench
    from predis.services.bench import faults, prefetch_targets, soak

    drift_parser = benches.add_parser("drift", help="a regime change through the running suite: the closed loop")
    drift_bench.add_arguments(drift_parser)
    drift_parser.set_defaults(func=drift_bench.run)

    soak_bench = benches.add_parser("soak", help="the suite under steady load with prefetching on: leaks and drift")
    soak.add_arguments(soak_bench)
    soak_bench.set_defaults(func=soak.run)

    faults_bench = benches.add_parser(
        "faults", help="the supervised suite under load while its helpers are slowed, flooded and killed"
    )
    faults.add_arguments(faults_bench)
    faults_bench.set_defaults(func=faults.run)

    from predis.services.bench import redis_compare, redis_suite

    suite_bench = benches.add_parser("redis-suite", help="redis-py's own test suite against Redis-protocol URLs")
    redis_suite.add_arguments(suite_bench)
    suite_bench.set_defaults(func=redis_suite.run)

    compare_bench = benches.add_parser("redis-compare", help="redis-benchmark and redis-py beside a redis-server")
    redis_compare.add_arguments(compare_bench)
    compare_bench.set_defaults(func=redis_compare.run)

    from predis.services.bench import resp_prefetch

    resp_prefetch_bench = benches.add_parser(
        "resp-prefetch", help="learned prefetching's gain through gRPC and through RESP on the same replay"
    )
    resp_prefetch.add_arguments(resp_prefetch_bench)
    resp_prefetch_bench.set_defaults(func=resp_prefetch.run)

    targets = benches.add_parser("targets", help="learned-policy replay rows against the bars they must clear")
    prefetch_targets.add_arguments(targets)
    targets.set_defaults(func=prefetch_targets.run)

    wire = benches.add_parser("wire", help="KeyBlock versus repeated bytes: message cost of one batch")
    wire.add_argument("--batch", type=int, default=1000)
    wire.add_argument("--value-size", type=int, default=100)
    wire.add_argument("--json", action="store_true")
    wire.set_defaults(func=_bench_wire)

    demo = commands.add_parser(
        "demo", help="start the suite, replay a real trace with and without learned prefetching, print both, stop"
    )
    demo.add_argument("--requests", type=int, default=5000, help="requests replayed per run")
    demo.add_argument("--rate", type=float, default=250.0, help="GETs per second (a late one goes at once)")
    demo.add_argument(
        "--no-switch", action="store_true", help="skip the traffic switch at the end (the closed loop's part)"
    )
    demo.add_argument(
        "--warm",
        type=int,
        help="training requests served first, unscored (default 10,000; 0: start from an empty cache)",
    )
    demo.set_defaults(func=_demo)

    certs = commands.add_parser("certs", help="make a development CA and certificates for TLS and mutual TLS")
    certs.add_argument("dir", type=Path, help="folder to write them to (made if missing)")
    certs.add_argument(
        "--hosts",
        default="localhost,127.0.0.1,::1",
        help="names and addresses the server certificate is for, comma-separated (localhost,127.0.0.1,::1)",
    )
    certs.add_argument("--days", type=int, default=365, help="days the certificates are valid (365)")
    certs.add_argument(
        "--client",
        action="append",
        metavar="NAME",
        help="write client-NAME.pem and client-NAME-key.pem (repeatable; default one client, predis)",
    )
    certs.add_argument("--force", action="store_true", help="replace files that exist")
    certs.set_defaults(func=_certs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
