"""compose.yaml, the Dockerfile and the OTLP path they rely on, checked without Docker.

compose.yaml is validated against the Compose Specification's JSON schema (the copy the
check-jsonschema package ships, from compose-spec/compose-spec's schema/compose-spec.json, under
the Apache License 2.0), and compared with what ``predis up`` starts: the launches of
services/supervisor.py are captured, not restated here. The Dockerfile is read by a small parser.
The last test runs the suite as ``predis up`` does, exporting over OTLP/gRPC to a receiver started
here, as compose's services export to Jaeger."""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import numpy as np
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import predis
from predis.services import supervisor
from predis.services.runtime.settings import DEFAULT_PORTS, SERVICES, address_env_var

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILES = ("compose.yaml", "deploy/compose.gpu.yaml")
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


# -- reading the files -------------------------------------------------------------------------


def env_file() -> dict[str, str]:
    """.env as compose reads it: KEY=VALUE lines, comments and blank lines skipped."""
    values = {}
    for line in (REPO / ".env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env line {line!r} is not KEY=VALUE"
            values[key.strip()] = value
    return values


def interpolate(node: Any, values: Mapping[str, str]) -> Any:
    """``${VAR}`` and ``${VAR:-default}`` replaced as compose does (with ``values`` as the environment)."""
    if isinstance(node, dict):
        return {k: interpolate(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, values) for v in node]
    if isinstance(node, str):
        return _VARIABLE.sub(lambda m: values.get(m.group(1)) or (m.group(2) or ""), node)
    return node


def raw(name: str = "compose.yaml") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / name).read_text())
    return loaded


def compose() -> dict[str, Any]:
    """compose.yaml with .env's values in: what ``docker compose config`` would show."""
    loaded: dict[str, Any] = interpolate(raw(), env_file())
    return loaded


def compose_spec_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendored / "compose-spec.json").read_text())
    return schema


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


# -- the Compose Specification ---------------------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_follow_the_compose_specification(name: str) -> None:
    schema = compose_spec_schema()
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for document in (raw(name), interpolate(raw(name), env_file())):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, errors


def test_the_schema_check_would_catch_a_misspelt_key() -> None:
    document = raw()
    document["services"]["cache"]["helthcheck"] = document["services"]["cache"].pop("healthcheck")
    assert not jsonschema.Draft202012Validator(compose_spec_schema()).is_valid(document)


# -- compose.yaml against predis up ----------------------------------------------------------


@dataclass
class Launch:
    name: str
    host: str
    port: int
    env: dict[str, str]


class _Running:
    """A process that was never started, as far as the supervisor can tell."""

    pid = 0
    returncode = None

    def poll(self) -> None:
        return None

    def send_signal(self, _signal: int) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def kill(self) -> None:
        pass


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Launch]:
    """What ``predis up`` starts, on its default ports, and the environment it adds for each
    process: ``run_up`` itself, with processes that are never started, no supervision loop, no
    signal handlers, and the test's own PREDIS_* and OTEL_* variables removed first."""
    for var in [v for v in os.environ if v.startswith(("PREDIS_", "OTEL_"))]:
        monkeypatch.delenv(var)
    outer = dict(os.environ)
    launched: list[Launch] = []

    def launch(
        name: str, host: str, port: int, _log: Path, env: dict[str, str], *_: object, seen: Any = None, **__: object
    ) -> Any:
        launched.append(Launch(name, host, port, {k: v for k, v in env.items() if outer.get(k) != v}))
        if seen is not None and "PREDIS_METRICS_LISTEN" in env:  # what the service prints as it starts
            seen["metrics"] = env["PREDIS_METRICS_LISTEN"]
        return _Running(), f"{host}:{port}"

    monkeypatch.setattr(supervisor, "_launch", launch)
    monkeypatch.setattr(supervisor, "supervise", lambda suite, stop: 0)
    monkeypatch.setattr(supervisor.signal, "signal", lambda *_: None)
    monkeypatch.setattr(supervisor, "state_path", lambda _cache: tmp_path / "up-state.json")
    assert supervisor.run_up("127.0.0.1", DEFAULT_PORTS["cache"], tmp_path) == 0
    return launched


def _services_of(launched: list[Launch]) -> list[Launch]:
    """The four ``predis serve`` services, in the order they were started."""
    return [launch for launch in launched if launch.name in SERVICES]


def test_compose_runs_what_predis_up_starts_beside_jaeger_and_prometheus(launches: list[Launch]) -> None:
    services = compose()["services"]
    assert [launch.name for launch in _services_of(launches)] == list(supervisor.START_ORDER)
    assert set(services) == {launch.name for launch in launches} | {"jaeger", "prometheus"}
    for launch in launches:
        what = ["serve", launch.name] if launch.name in SERVICES else [launch.name]  # the dashboard is no service
        assert services[launch.name]["command"] == ["predis", *what, "--listen", f"0.0.0.0:{launch.port}"]
        if launch.name in SERVICES:
            assert launch.port == DEFAULT_PORTS[launch.name]


def test_each_process_starts_after_the_ones_predis_up_starts_before_it(launches: list[Launch]) -> None:
    services = compose()["services"]
    for i, launch in enumerate(launches):
        depends = services[launch.name]["depends_on"]
        healthy = {name for name, c in depends.items() if c["condition"] == "service_healthy"}
        if launch.name in SERVICES:
            assert healthy == {earlier.name for earlier in launches[:i]}, launch.name
            assert depends["jaeger"]["condition"] == "service_started"
        else:  # after the suite: the cache is healthy only once the others are
            assert healthy == {"cache"} and {e.name for e in launches[:i]} >= set(SERVICES), launch.name


def _mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Mount target -> named volume."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts[target] = source
    return mounts


def _service_of_port(port: int) -> str | None:
    return next((name for name, p in DEFAULT_PORTS.items() if p == port), None)


def _address_vars(env: Mapping[str, str]) -> set[str]:
    return {v for v in env if re.fullmatch(r"PREDIS_[A-Z]+_ADDRESS", v)}


def test_each_service_gets_the_environment_predis_up_gives_it(launches: list[Launch]) -> None:
    top = compose()
    services = top["services"]
    image_env = dockerfile_stages()[-1].env
    for launch in _services_of(launches):
        service = services[launch.name]
        env = service["environment"]
        for var, value in launch.env.items():
            if var == "PYTHONUNBUFFERED":  # the image sets it for every process
                assert image_env[var] == value
                continue
            assert var in env, f"predis up gives {launch.name} {var}; compose.yaml does not"
            if re.fullmatch(r"[\w.]+:\d+", value):  # an address: the same port, by service name or bound wide
                host, port = host_port(value)
                peer = _service_of_port(port) if var.endswith("_ADDRESS") else None
                assert env[var] == (f"{peer}:{port}" if peer else f"0.0.0.0:{port}"), (launch.name, var)
            else:  # a directory: on a named volume, mounted on the service it is named after, else on this one
                owner = next((n for n in SERVICES if var.startswith(f"PREDIS_{n.upper()}_")), launch.name)
                mounts = _mounts(services[owner])
                assert env[var] in mounts and mounts[env[var]] in top["volumes"], (launch.name, var)
        assert _address_vars(env) == _address_vars(launch.env), launch.name


def test_the_dashboard_finds_the_services_as_under_predis_up(launches: list[Launch]) -> None:
    [dashboard] = [launch for launch in launches if launch.name not in SERVICES]
    env = compose()["services"][dashboard.name]["environment"]
    assert _address_vars(env) == _address_vars(dashboard.env) == {address_env_var(n) for n in SERVICES}
    for var in _address_vars(env):
        port = host_port(dashboard.env[var])[1]
        assert env[var] == f"{_service_of_port(port)}:{port}"
    # The cache's metrics page, for its read latency: the cache's metrics port, by service name.
    [cache] = [launch for launch in launches if launch.name == "cache"]
    assert dashboard.env["PREDIS_DASHBOARD_CACHE_METRICS"] == f"http://{cache.env['PREDIS_METRICS_LISTEN']}/metrics"
    port = host_port(cache.env["PREDIS_METRICS_LISTEN"])[1]
    assert env["PREDIS_DASHBOARD_CACHE_METRICS"] == f"http://cache:{port}/metrics"
    assert "PREDIS_METRICS_LISTEN" not in dashboard.env


def test_the_data_directory_is_one_volume_shared_as_predis_up_shares_one_folder(launches: list[Launch]) -> None:
    services = compose()["services"]
    shared = {launch.name for launch in _services_of(launches) if "PREDIS_DATA_DIR" in launch.env}
    assert {"cache", "predictor", "retrainer"} <= shared
    volumes = {_mounts(services[name])[services[name]["environment"]["PREDIS_DATA_DIR"]] for name in shared}
    assert volumes == {"predis-data"}
    predictor = services["predictor"]
    assert _mounts(predictor)[predictor["environment"]["PREDIS_PREDICTOR_STATE_DIR"]] == "predictor-state"


def test_helpers_run_at_the_priority_and_restart_as_under_predis_up(launches: list[Launch]) -> None:
    services = compose()["services"]
    nice = supervisor.helper_nice({})
    weight = round(1024 / 1.25**nice)  # the kernel's CPU weight for a nice value (1024 at nice 0)
    for launch in launches:
        service = services[launch.name]
        if launch.name == "cache":  # its exit stops predis up: not restarted, not lowered
            assert "cpu_shares" not in service and service["restart"] == "no"
        else:
            assert int(service["cpu_shares"]) == weight and service["restart"] == "unless-stopped", launch.name


def test_ports_are_the_ones_predis_up_uses_published_on_this_machine_only(launches: list[Launch]) -> None:
    services = compose()["services"]
    published = {name: set(s.get("ports", [])) for name, s in services.items()}
    for launch in launches:
        assert f"127.0.0.1:{launch.port}:{launch.port}" in published[launch.name]
    assert "127.0.0.1:6379:6379" in published["cache"]
    assert published["jaeger"] == {"127.0.0.1:16686:16686", "127.0.0.1:4317:4317", "127.0.0.1:4318:4318"}
    assert published["prometheus"] == {"127.0.0.1:9090:9090"}


def test_every_service_exports_traces_to_jaeger_over_otlp() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["OTEL_TRACES_EXPORTER"] == "otlp"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
        assert env["PREDIS_ALLOW_INSECURE"] == "on"  # bound beyond loopback without tokens and TLS
    # Jaeger takes OTLP/gRPC on 4317 (what the receiver of the last test speaks) and OTLP/HTTP on 4318.
    assert "--set=receivers.otlp.protocols.grpc.endpoint=0.0.0.0:4317" in services["jaeger"]["command"]
    assert "--set=receivers.otlp.protocols.http.endpoint=0.0.0.0:4318" in services["jaeger"]["command"]


def test_healthchecks_ask_predis_status_and_allow_a_start_period() -> None:
    services = compose()["services"]
    for name in SERVICES:
        check = services[name]["healthcheck"]
        port = DEFAULT_PORTS[name]
        assert check["test"] == ["CMD", "predis", "status", "--only", name, f"--{name}", f"127.0.0.1:{port}"]
    for name, service in services.items():
        if "healthcheck" in service:
            assert service["healthcheck"]["start_period"].endswith("s"), name


def test_prometheus_scrapes_the_metrics_port_of_every_service() -> None:
    services = compose()["services"]
    ports = {name: host_port(services[name]["environment"]["PREDIS_METRICS_LISTEN"]) for name in SERVICES}
    assert all(host == "0.0.0.0" for host, _ in ports.values())
    assert len({port for _, port in ports.values()}) == len(SERVICES)
    config = yaml.safe_load((REPO / "deploy/prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = {(t["labels"]["service"], target) for t in job["static_configs"] for target in t["targets"]}
    assert targets == {(name, f"{name}:{port}") for name, (_, port) in ports.items()}
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]


def test_env_file_holds_every_setting_compose_reads_with_its_default() -> None:
    values = env_file()
    used: dict[str, set[str]] = {}
    for name in COMPOSE_FILES:
        for var, default in _VARIABLE.findall((REPO / name).read_text()):
            used.setdefault(var, set()).add(default)
    assert set(used) == set(values), "compose reads a variable .env lacks, or .env has one compose does not read"
    for var, defaults in used.items():
        assert defaults == {values[var]}, f"{var}: .env says {values[var]!r}, compose.yaml falls back to {defaults}"
    lines = (REPO / ".env").read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            j = i - 1
            while j >= 0 and "=" in lines[j] and not lines[j].startswith("#"):
                j -= 1  # variables of one group share the comment above them
            assert j >= 0 and lines[j].startswith("#"), f".env: {line!r} has no comment saying what it is"


# -- the Dockerfile ------------------------------------------------------------------------------


UID = 10001  # the image's service user


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    instructions, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or (not current and not line.strip()):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        keyword, _, rest = current.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(rest.split())))
        current = ""
    return instructions


def dockerfile_stages(text: str | None = None) -> list[Stage]:
    """The stages (the global ARGs before the first FROM in a stage named ``global``)."""
    stages = [Stage("", "global")]
    for instruction, args in dockerfile_instructions(text or (REPO / "Dockerfile").read_text()):
        if instruction == "FROM":
            words = args.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else ""))
            continue
        stages[-1].instructions.append((instruction, args))
        if instruction == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                stages[-1].env[key] = value
    return stages


def test_dockerfile_parser_reads_stages_continuations_and_env() -> None:
    stages = dockerfile_stages("ARG B=x\nFROM ${B} AS one\n# c\nRUN a \\\n    b\nFROM one\nENV A=1 \\\n    C=2\n")
    assert [(s.base, s.name) for s in stages] == [("", "global"), ("${B}", "one"), ("one", "")]
    assert stages[1].args("RUN") == ["a b"] and stages[2].env == {"A": "1", "C": "2"}


def test_dockerfile_builds_a_wheel_into_a_venv_and_runs_it_slim_as_a_user() -> None:
    stages = dockerfile_stages()
    glob, _, build, runtime = stages
    assert "BASE=python:3.11-slim" in glob.args("ARG")  # CPU by default; a CUDA image for the GPU build
    assert [(s.base, s.name) for s in stages[1:]] == [("${BASE}", "base"), ("base", "build"), ("base", "runtime")]
    # The build stage copies the package folders pyproject names, builds the wheel, installs it
    # (with EXTRAS) into the virtual environment the runtime stage takes whole.
    package_dirs = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values()
    )
    copied = {w for a in build.args("COPY") for w in a.split()[:-1]}  # the sources, not the destination
    assert package_dirs | {"pyproject.toml", "README.md"} <= copied
    run = " ".join(build.args("RUN"))
    assert "venv /opt/predis" in run and "pip wheel" in run and "${EXTRAS:+[${EXTRAS}]}" in run
    assert "EXTRAS" in " ".join(build.args("ARG")) and "onnxruntime-gpu" in run
    assert runtime.args("COPY") == ["--from=build /opt/predis /opt/predis"]  # no sources, no build tools
    # A non-root user, which compiles every service's kernels into a cache folder it owns.
    users = runtime.args("USER")
    assert users and users[-1] not in ("root", "0")
    after_user = [a for i, a in runtime.instructions[runtime.instructions.index(("USER", users[-1])) :] if i == "RUN"]
    assert "python -m predis.services.precompile" in after_user
    [creates] = [a for a in runtime.args("RUN") if "useradd" in a and f"--uid {UID}" in a]
    owned = creates.split("install -d -o predis -g predis ", 1)[1].split()
    for var in ("XDG_CACHE_HOME", "PREDIS_DATA_DIR", "PREDIS_PREDICTOR_STATE_DIR"):
        assert runtime.env[var] in owned, var
    # The image's own health check and default command.
    [healthcheck] = runtime.args("HEALTHCHECK")
    assert "--start-period=" in healthcheck and 'CMD predis status --only "${PREDIS_SERVICE}"' in healthcheck
    assert runtime.env["PREDIS_SERVICE"] == "cache"
    assert runtime.args("CMD") == [
        json.dumps(["predis", "serve", "cache", "--listen", f"0.0.0.0:{DEFAULT_PORTS['cache']}"])
    ]
    exposed = {int(p) for a in runtime.args("EXPOSE") for p in a.split()}
    assert set(DEFAULT_PORTS.values()) <= exposed


def test_compose_mounts_volumes_where_the_image_points_the_services() -> None:
    image_env = dockerfile_stages()[-1].env
    services = compose()["services"]
    for name in SERVICES:
        for var in ("PREDIS_DATA_DIR", "PREDIS_PREDICTOR_STATE_DIR"):
            assert services[name]["environment"][var] == image_env[var]


def test_dockerignore_keeps_local_state_out_and_what_the_build_copies_in() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    ignored.discard("")
    assert {".git", ".venv", ".env", "**/__pycache__", "tests"} <= ignored
    build = dockerfile_stages()[2]
    copied = {w for a in build.args("COPY") for w in a.split()[:-1]}
    assert not copied & ignored


# -- the OTLP path ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    attributes: dict[str, Any]


def _value(value: common_pb2.AnyValue) -> object:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


class TraceReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver, as Jaeger's on port 4317: it keeps every span it is sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    attributes = {a.key: _value(a.value) for a in s.attributes}
                    received.append(
                        ReceivedSpan(
                            str(resource.get("service.name")),
                            s.name,
                            s.kind,
                            s.trace_id,
                            s.span_id,
                            s.parent_span_id,
                            attributes,
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(
        self, found: Callable[[list[ReceivedSpan]], list[ReceivedSpan] | None], timeout_s: float = 15.0
    ) -> list[ReceivedSpan]:
        """What ``found`` finds in the spans received, once it finds something."""
        deadline = time.monotonic() + timeout_s
        while not (result := found(self.spans())):
            assert time.monotonic() < deadline, "the spans looked for did not arrive"
            time.sleep(0.1)
        return result


@pytest.fixture
def receiver() -> Iterator[tuple[TraceReceiver, str]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = TraceReceiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(0)


def sessions(requests: int, seed: int) -> np.ndarray:
    """Reads in sessions: one of 100 sessions at random, then its 4 pages in order."""
    picks = np.random.default_rng(seed).integers(0, 100, requests // 4 + 1)
    return (picks[:, None] * 10 + np.arange(4)).ravel()[:requests].astype(np.uint64)


def _chain(spans: list[ReceivedSpan], *steps: tuple[str, str, int]) -> list[ReceivedSpan] | None:
    """A trace in which each (service, span name, kind) is the parent of the next, or None."""
    by_parent: dict[bytes, list[ReceivedSpan]] = {}
    for s in spans:
        by_parent.setdefault(s.parent_span_id, []).append(s)

    def extend(path: list[ReceivedSpan], rest: tuple[tuple[str, str, int], ...]) -> list[ReceivedSpan] | None:
        if not rest:
            return path
        for child in by_parent.get(path[-1].span_id, []):
            if (child.service, child.name, child.kind) == rest[0] and (found := extend([*path, child], rest[1:])):
                return found
        return None

    first = steps[0]
    for s in spans:
        if (s.service, s.name, s.kind) == first and (found := extend([s], steps[1:])):
            return found
    return None


SERVER, CLIENT, INTERNAL = (
    trace_pb2.Span.SPAN_KIND_SERVER,
    trace_pb2.Span.SPAN_KIND_CLIENT,
    trace_pb2.Span.SPAN_KIND_INTERNAL,
)


@pytest.fixture(scope="module")
def session_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from predis.services.replay.traces import Trace
    from predis.services.retrainer.training import TrainingOptions, train

    out = tmp_path_factory.mktemp("otlp-model") / "sessions"
    train([Trace("sessions", sessions(3000, seed=1))], out, TrainingOptions(train_fraction=1.0))
    return out


def test_one_trace_over_otlp_spans_the_sdk_the_cache_and_the_predictor(
    receiver: tuple[TraceReceiver, str], session_model: Path, tmp_path: Path
) -> None:
    collector, endpoint = receiver
    otlp = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{endpoint}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds between the services' exports
        "PREDIS_ORIGIN": "synthetic:?latency_ms=1&value_size=100",  # as compose.yaml's cache
        "PREDIS_DRIFT_STREAM_S": "0.5",
    }
    sdk_tracing = TracerProvider(resource=Resource.create({"service.name": "test-client"}))
    sdk_tracing.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=100)
    )
    suite = supervisor.start_suite(base_port=0, log_dir=tmp_path, extra_env=otlp)
    try:
        a = suite.addresses
        config = predis.ClientConfig(tenant="alice")
        with predis.Client(a["cache"], predictor=a["predictor"], config=config, tracer_provider=sdk_tracing) as client:
            client.predictor.load_model("v1", str(session_model))
            for page in sessions(200, seed=2).tolist():
                client.get(b"page:%d" % page)
                time.sleep(0.003)  # a user's pause between pages: the prefetch loop keeps up
            assert client.stats().prefetcher.prefetches_started > 0
        sdk_tracing.force_flush()

        # A read, the prefetching it set off, and the predictor's answer: one trace.
        read_and_prefetch = (
            ("test-client", "/predis.v1.CacheService/Get", CLIENT),
            ("predis-cache", "/predis.v1.CacheService/Get", SERVER),
            ("predis-cache", "prefetch cycle", INTERNAL),
            ("predis-cache", "/predis.v1.PredictorService/Predict", CLIENT),
            ("predis-predictor", "/predis.v1.PredictorService/Predict", SERVER),
        )

        def chain_with_a_prefetch(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
            others = [s for s in spans if s.name != "prefetch cycle"]
            for cycle in (s for s in spans if s.attributes.get("predis.prefetch.decision") == "prefetched"):
                if found := _chain([*others, cycle], *read_and_prefetch):
                    return found
            return None

        sdk_get, cache_get, cycle, _, predict = collector.wait_for(chain_with_a_prefetch)
        assert len({s.trace_id for s in (sdk_get, cache_get, cycle, predict)}) == 1
        assert cache_get.attributes["predis.tenant"] == "alice"
        assert cycle.attributes["predis.tenant"] == "alice" and cycle.attributes["predis.key_count"] >= 1
        assert cycle.attributes["predis.model.version"] == "v1" and cycle.attributes["predis.prefetch.started"] >= 1
        assert (
            cycle.attributes["predis.prefetch.candidates"] >= 1
            and 0 < cycle.attributes["predis.prefetch.threshold"] < 1
        )
        assert predict.attributes["predis.tenant"] == "alice" and predict.attributes["predis.model.version"] == "v1"
        assert predict.attributes["predis.predict.rows"] >= 1

        # Stats: the SDK, the cache and the predictor's model list in one trace.
        stats = collector.wait_for(
            lambda spans: _chain(
                spans,
                ("test-client", "/predis.v1.CacheService/Stats", CLIENT),
                ("predis-cache", "/predis.v1.CacheService/Stats", SERVER),
                ("predis-cache", "/predis.v1.PredictorService/ListModels", CLIENT),
                ("predis-predictor", "/predis.v1.PredictorService/ListModels", SERVER),
            )
        )
        assert stats[1].attributes["predis.tenant"] == "alice"

        # The cache's export to drift: one finished trace per stream, counted on both sides.
        def export_of_alice(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
            exports = [s for s in spans if s.name == "drift export" and "alice" in s.attributes["predis.tenants"]]
            others = [s for s in spans if s.name != "drift export"]
            for export in exports:
                found = _chain(
                    [*others, export],
                    ("predis-cache", "drift export", INTERNAL),
                    ("predis-cache", "/predis.v1.DriftService/ObserveEvents", CLIENT),
                    ("predis-drift", "/predis.v1.DriftService/ObserveEvents", SERVER),
                )
                if found:
                    return found
            return None

        export, _, observed = collector.wait_for(export_of_alice)
        assert export.attributes["predis.export.events"] > 0
        assert observed.attributes["predis.export.events"] == export.attributes["predis.export.events"]
        assert observed.attributes["predis.export.windows"] == export.attributes["predis.export.windows"]
    finally:
        suite.stop()
        sdk_tracing.shutdown()
