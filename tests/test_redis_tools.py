"""``predis bench redis-suite`` and ``redis-compare``: the tooling that checks a Redis-protocol
server with clients nobody here wrote.

The suite's JUnit parsing and side-by-side diff run on a small fake pytest project standing in for
redis-py's tests (no network, no download); redis-compare runs at toy size against real
redis-servers on loopback. The real suite runs (slow) only where its sources are already cached."""

from __future__ import annotations

import json
import os
import shutil
import socket
import textwrap
from pathlib import Path

import pytest
import redis

from predis.services.bench import redis_compare, redis_suite
from predis.services.cli import main

HAVE_REDIS = shutil.which("redis-server") is not None and shutil.which("redis-benchmark") is not None
needs_redis = pytest.mark.skipif(not HAVE_REDIS, reason="needs redis-server and redis-benchmark on PATH")

# Outcomes the fake suite's tests choose from the URL: a URL ending in /9 stands for a server that
# gets MGET wrong and breaks ECHO's fixture; --protocol 3 skips the TTL test.
FAKE_CONFTEST = """
import pytest

def pytest_addoption(parser):
    parser.addoption("--redis-url", default="redis://localhost:6379/0")
    parser.addoption("--redis-mod-url", default="redis://localhost:6479")
    parser.addoption("--protocol", default="")

@pytest.fixture()
def url(request):
    return request.config.getoption("--redis-url")

@pytest.fixture()
def echo_client(url):
    if url.endswith("/9"):
        raise ConnectionError("Connection closed by server.")
    return object()
"""

FAKE_COMMANDS = """
import pytest

class TestRedisCommands:
    def test_get_and_set(self, url):
        pass

    def test_mget(self, url):
        assert not url.endswith("/9"), "mget answered [None, None]\\nsecond line"

    def test_ttl(self, request):
        if request.config.getoption("--protocol") == "3":
            pytest.skip("RESP version required != 3")

    def test_echo(self, echo_client):
        pass

    def test_auth(self, url):
        pass

    def test_hset(self, url):
        raise AssertionError("not selected: never runs")

    @pytest.mark.onlycluster
    def test_client_cluster_only(self):
        raise AssertionError("deselected by marker: never runs")
"""

FAKE_PIPELINE = """
class TestPipeline:
    def test_pipeline(self, url):
        pass

class TestPipelineMetricsRecording:
    def test_pipeline_metrics(self):
        raise AssertionError("excluded: never runs")
"""


@pytest.fixture(scope="module")
def fake_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fake-redis-py")
    (folder / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["onlycluster: x", "onlynoncluster: x", "redismod: x", "replica: x"]\n'
    )
    tests = folder / "tests"
    tests.mkdir()
    (tests / "__init__.py").write_text("")
    (tests / "conftest.py").write_text(textwrap.dedent(FAKE_CONFTEST))
    (tests / "test_commands.py").write_text(textwrap.dedent(FAKE_COMMANDS))
    (tests / "test_pipeline.py").write_text(textwrap.dedent(FAKE_PIPELINE))
    return folder


def test_the_keyword_expression_is_built_from_the_documented_groups() -> None:
    expression = redis_suite.keyword_expression(("ttl", "pipeline"))
    assert expression == (
        "(test_expire or test_pexpire or test_ttl or test_pttl or TestPipeline)"
        " and not (TestPipelineMetricsRecording or test_client_setinfo)"
    )
    everything = redis_suite.keyword_expression()
    assert all(name in everything for names in redis_suite.SELECTED.values() for name in names)
    with pytest.raises(ValueError, match="unknown test group"):
        redis_suite.keyword_expression(("strings",))


def test_a_password_url_leaves_out_the_test_that_clears_requirepass() -> None:
    assert redis_suite.url_expression("(a)", "redis://127.0.0.1:6379/0") == "(a)"
    assert redis_suite.url_expression("(a)", "redis://u:pw@127.0.0.1:6379/0") == "((a)) and not (test_auth)"
    assert redis_suite.mask("redis://u:pw@127.0.0.1:6379/0") == "redis://u:***@127.0.0.1:6379/0"
    assert redis_suite.mask("redis://:secret@h:1/2") == "redis://:***@h:1/2"


def test_junit_outcomes_count_a_failure_before_a_teardown_error(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(
        '<?xml version="1.0"?><testsuites><testsuite>'
        '<testcase classname="tests.test_x.T" name="test_a"/>'
        '<testcase classname="tests.test_x.T" name="test_b"><failure message="AssertionError: b&#10;more"/>'
        '<error message="teardown broke"/></testcase>'
        '<testcase classname="tests.test_x.T" name="test_c"><error message="fixture broke"/></testcase>'
        '<testcase classname="tests.test_x.T" name="test_d"><skipped type="pytest.skip" message="too old"/>'
        "</testcase></testsuite></testsuites>"
    )
    results = redis_suite.parse_junit(report)
    assert [(r.outcome, r.message) for r in results.values()] == [
        ("passed", ""),
        ("failed", "AssertionError: b"),
        ("error", "fixture broke"),
        ("skipped", "too old"),
    ]
    assert redis_suite.count(results) == {"passed": 1, "failed": 1, "skipped": 1, "error": 1}


def test_the_suite_runs_per_url_and_lists_what_differs(fake_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expression = redis_suite.keyword_expression()
    good = redis_suite.run_suite(fake_suite, "redis://127.0.0.1:1/0", expression, protocol=2, timeout_s=60)
    bad = redis_suite.run_suite(fake_suite, "redis://:secret@127.0.0.1:1/9", expression, protocol=2, timeout_s=60)
    assert good.counts == {"passed": 6, "failed": 0, "skipped": 0, "error": 0}
    assert bad.counts == {"passed": 3, "failed": 1, "skipped": 0, "error": 1}  # test_auth left out
    assert bad.url == "redis://:***@127.0.0.1:1/9" and bad.left_out == ("test_auth",)
    assert "secret" not in " ".join(bad.command) and "--protocol" in bad.command

    result = redis_suite.summarise([good, bad], fake_suite, redis_suite.SUITE_FILES, 2, expression)
    prefix = "tests.test_commands.TestRedisCommands::"
    assert [(d["test"], d["reference"], d["outcome"], d["message"]) for d in result["differences"]] == [
        (
            f"{prefix}test_echo",
            "passed",
            "error",
            'failed on setup with "ConnectionError: Connection closed by server."',
        ),
        (f"{prefix}test_mget", "passed", "failed", "AssertionError: mget answered [None, None]"),
    ]
    json.dumps(result)
    redis_suite.print_report(result)
    out = capsys.readouterr().out
    assert "2 outcome(s) differ from the reference (redis://127.0.0.1:1/0)" in out
    assert "test_mget: passed -> failed: AssertionError: mget answered [None, None]" in out
    assert "left out against redis://:***@127.0.0.1:1/9 (a password URL): test_auth" in out
    assert "secret" not in out


def test_the_protocol_reaches_the_suite(fake_suite: Path) -> None:
    run = redis_suite.run_suite(
        fake_suite, "redis://127.0.0.1:1/0", redis_suite.keyword_expression(("ttl",)), protocol=3, timeout_s=60
    )
    assert run.counts == {"passed": 0, "failed": 0, "skipped": 1, "error": 0}
    assert run.results["tests.test_commands.TestRedisCommands::test_ttl"].message == "RESP version required != 3"


def test_a_broken_suite_run_fails_with_pytest_s_own_words(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(textwrap.dedent(FAKE_CONFTEST))
    (tmp_path / "tests" / "test_commands.py").write_text("import no_such_module\n")
    with pytest.raises(RuntimeError, match=r"exited 2:(.|\n)*no_such_module"):
        redis_suite.run_suite(tmp_path, "redis://127.0.0.1:1/0", "test_x", None, 60, ("tests/test_commands.py",))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "http://127.0.0.1:6379"], "is not a redis://"),
        (["--url", "redis://127.0.0.1:port"], "Port could not be cast"),
        (["--url", "redis://127.0.0.1:6379", "--select", "string,nope"], "unknown test group"),
        (["--url", "redis://127.0.0.1:6379", "--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_redis_suite_refuses_bad_arguments(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        main(["bench", "redis-suite", *argv])


def test_redis_suite_says_when_a_url_does_not_answer(fake_suite: Path) -> None:
    with pytest.raises(RuntimeError, match="redis://127.0.0.1:1/0 does not answer PING"):
        redis_suite.run_comparison(["redis://127.0.0.1:1/0"], folder=fake_suite)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "127.0.0.1"], "is not HOST:PORT"),
        (["--target", "127.0.0.1:70000"], "is not HOST:PORT"),
        (["--target", "127.0.0.1:6379", "--reference", "127.0.0.1:6379"], "the same server"),
        (["--target", "127.0.0.1:6379", "--rounds", "0"], "--rounds must be at least 1"),
        (["--target", "127.0.0.1:6379", "--warmup-calls", "-1"], "--warmup-calls must not be negative"),
    ],
)
def test_redis_compare_refuses_bad_arguments(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        main(["bench", "redis-compare", *argv])


def test_redis_compare_says_which_programs_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit, match="redis-server and redis-benchmark not found on PATH"):
        main(["bench", "redis-compare", "--target", "127.0.0.1:6379"])


def test_redis_benchmark_7_csv_is_parsed() -> None:
    output = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
        '"max_latency_ms"\n'
        '"SET","25974.03","1.441","0.072","0.839","2.679","20.623","22.655"\n'
        '"MSET (10 keys)","32786.89","1.037","0.048","0.983","1.655","2.655","3.087"\n'
    )
    rows = redis_compare.parse_csv(output)
    assert list(rows) == ["SET", "MSET (10 keys)"]
    assert rows["SET"]["rps"] == 25974.03 and rows["MSET (10 keys)"]["p99_latency_ms"] == 2.655
    with pytest.raises(ValueError, match="no CSV header"):
        redis_compare.parse_csv("Error from server\n")


def test_runs_too_short_for_redis_benchmark_s_clock_are_left_out_of_the_median() -> None:
    def run(rps: float) -> dict[str, float]:
        return {"rps": rps, "p50_latency_ms": 0.1, "p99_latency_ms": 0.2}

    row = redis_compare._summary({"target": [run(100.0), run(float("inf"))], "reference": [run(float("inf"))]})
    assert row["target_rps"] == 100.0 and row["target_runs_rps"] == [100.0, None]
    assert row["reference_rps"] is None and row["ratio"] is None
    assert row["target_spread"] == 0.0 and row["reference_spread"] is None


@needs_redis
def test_redis_compare_measures_a_target_beside_a_started_redis_server(capsys: pytest.CaptureFixture[str]) -> None:
    toy = ["--requests", "2000", "--keyspace", "200", "--mget-requests", "100", "--mget-keys", "10"]
    toy += ["--latency-calls", "200", "--warmup-calls", "20", "--rounds", "2", "--clients", "4"]
    with redis_compare.redis_server() as (host, port):
        assert main(["bench", "redis-compare", "--target", f"{host}:{port}", "--start-redis", *toy, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reference_started_here"] and result["target"] == f"{host}:{port}"
    names = ["SET", "GET", "INCR", "MSET (10 keys)"]
    assert list(result["benchmark"]) == [*names, *(f"{n} -P 16" for n in names), "MGET (10 keys)"]
    for row in result["benchmark"].values():
        assert len(row["target_runs_rps"]) == len(row["reference_runs_rps"]) == 2
        assert row["ratio"] is None or row["ratio"] > 0  # None: a toy run too short for redis-benchmark's clock
    mget = result["benchmark"]["MGET (10 keys)"]
    assert mget["reference_rps"] is None or result["mget_keys_per_s"]["reference"] == round(mget["reference_rps"] * 10)
    assert set(result["latency"]) == {"GET", "SET"} and result["latency"]["GET"]["p50_ratio"] > 0
    # Both servers run here: the CPU each process spent per call, from its threads' schedstat.
    for op in ("GET", "SET"):
        row = result["latency"][op]
        assert row["target"]["server_cpu_us"] > 0 and row["reference"]["server_cpu_us"] > 0
        assert row["server_cpu_ratio"] == pytest.approx(
            row["target"]["server_cpu_us"] / row["reference"]["server_cpu_us"], rel=0.01
        )
    assert result["commands"]["target"]["mget"][-10:] == ["key:__rand_int__"] * 10
    assert result["versions"]["reference"] and result["date"] and result["machine"]
    redis_compare.print_table(result)
    printed = capsys.readouterr().out
    assert "MGET keys/s" in printed and "server CPU us/call" in printed


def test_the_floor_server_answers_redis_py_with_replies_of_a_cache_s_shape() -> None:
    with redis_compare.loop_floor(7) as ((host, port), pid):
        assert pid > 0
        for protocol in (2, 3):
            client = redis.Redis(host, port, protocol=protocol)
            assert client.set("a", "b") is True and client.get("a") == b"v" * 7
            assert client.mget("a", "b", "c") == [b"v" * 7] * 3 and client.incr("n") == 1
            pipe = client.pipeline(transaction=False)
            for _ in range(2000):  # more than one read's worth: requests split across reads
                pipe.get("k")
            assert pipe.execute() == [b"v" * 7] * 2000
            client.close()
        with socket.create_connection((host, port)) as raw:
            raw.sendall(b"PING\r\n")  # an inline command: refused, and the connection closed
            assert raw.recv(200).startswith(b"-ERR the floor server reads only RESP arrays")
            assert raw.recv(200) == b""


def test_the_floor_server_says_why_it_did_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREDIS_EVENT_LOOP", "tokio")
    with (
        pytest.raises(RuntimeError, match="the floor server did not start: .*PREDIS_EVENT_LOOP"),
        redis_compare.loop_floor(100),
    ):
        pass


def test_pinning_refuses_a_server_elsewhere_and_a_machine_of_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        pytest.raises(RuntimeError, match="the reference is not"),
        redis_compare.placement({"target": os.getpid(), "reference": None}),
    ):
        pass
    monkeypatch.setattr(redis_compare.os, "sched_getaffinity", lambda pid: {0})
    with pytest.raises(RuntimeError, match="needs two CPUs or more"), redis_compare.placement({"target": os.getpid()}):
        pass


@needs_redis
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--pin needs two CPUs")
def test_redis_compare_pins_the_servers_and_measures_the_floor_beside_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    toy = ["--requests", "1000", "--keyspace", "100", "--mget-requests", "50", "--mget-keys", "10"]
    toy += ["--latency-calls", "100", "--warmup-calls", "10", "--rounds", "1", "--clients", "2"]
    before = os.sched_getaffinity(0)
    with redis_compare.redis_server() as target, redis_compare.redis_server() as reference:
        server_pid = redis_compare.local_pid(target, 2)
        assert server_pid is not None
        server_before = os.sched_getaffinity(server_pid)
        argv = [
            "--target",
            "{}:{}".format(*target),
            "--reference",
            "{}:{}".format(*reference),
            "--floor",
            "--pin",
            *toy,
        ]
        assert main(["bench", "redis-compare", *argv, "--json"]) == 0
        assert os.sched_getaffinity(server_pid) == server_before  # put back as it was
    assert os.sched_getaffinity(0) == before
    result = json.loads(capsys.readouterr().out)
    cpus = sorted(before)
    assert result["placement"] == {"server_cpus": cpus[-1:], "client_cpus": cpus[:-1]}
    assert result["settings"]["floor"] and result["settings"]["pin"] and result["floor_loop"]
    for row in result["benchmark"].values():
        assert len(row["floor_runs_rps"]) == 1
    for op in ("GET", "SET"):
        assert result["latency"][op]["floor"]["server_cpu_us"] > 0
    redis_compare.print_table(result)
    printed = capsys.readouterr().out
    assert "floor req/s" in printed and "--pin: the servers on CPU" in printed and "floor:" in printed


@needs_redis
def test_redis_compare_says_when_the_target_does_not_answer() -> None:
    with (
        redis_compare.redis_server() as (host, port),
        pytest.raises(SystemExit, match="the target at 127.0.0.1:1 does not answer PING"),
    ):
        main(["bench", "redis-compare", "--target", "127.0.0.1:1", "--reference", f"{host}:{port}"])


@needs_redis
def test_redis_suite_refuses_a_wrong_password(fake_suite: Path) -> None:
    with redis_compare.redis_server(("--requirepass", "secret")) as (host, port):
        with pytest.raises(RuntimeError, match="refused the URL's credentials"):
            redis_suite.run_comparison([f"redis://:wrong@{host}:{port}/0"], folder=fake_suite)
        result = redis_suite.run_comparison([f"redis://:secret@{host}:{port}/0"], folder=fake_suite)
    assert result["runs"][0]["passed"] == 5


@pytest.mark.slow
@needs_redis
def test_redis_py_s_own_suite_passes_against_redis_server_with_and_without_a_password() -> None:
    folder = redis_suite.default_cache_dir() / f"redis-py-{redis_suite.installed_redis_py()}"
    if not (folder / "tests" / "conftest.py").is_file():
        pytest.skip(f"redis-py's sources are not cached in {folder} (predis bench redis-suite fetches them)")
    expression = redis_suite.keyword_expression()
    with redis_compare.redis_server() as plain, redis_compare.redis_server(("--requirepass", "pw")) as locked:
        urls = [f"redis://{plain[0]}:{plain[1]}/0", f"redis://:pw@{locked[0]}:{locked[1]}/0"]
        runs = [redis_suite.run_suite(folder, url, expression, protocol=2) for url in urls]
    result = redis_suite.summarise(runs, folder, redis_suite.SUITE_FILES, 2, expression)
    assert result["differences"] == []
    assert result["runs"][0]["passed"] > 100 and result["runs"][0]["failed"] == result["runs"][0]["error"] == 0
    # A name that matches nothing means redis-py renamed a test: the selection must follow.
    names = [test.lower() for test in runs[0].results]
    for pattern in (p for patterns in redis_suite.SELECTED.values() for p in patterns):
        assert any(pattern.lower() in name for name in names), pattern
