"""``predis bench redis-suite``: redis-py's own test suite, run against any Redis-protocol address.

Real clients nobody here wrote: the suite comes from redis-py's source distribution for the
installed redis-py version (``pip download --no-binary :all: --no-deps redis==<version>``, unpacked
into ``~/.cache/predis/redis-py-<version>/`` and reused). Only its ``tests/`` folder and
``pyproject.toml`` (which holds its pytest settings) are unpacked, not its ``redis/`` package, so the
tests drive the redis-py installed here, hiredis parser included.

Each ``--url`` gets its own ``python -m pytest`` subprocess on ``tests/test_commands.py`` and
``tests/test_pipeline.py`` with the suite's ``--redis-url`` (and ``--protocol`` when asked), a
keyword expression built from ``SELECTED`` (below), and a JUnit XML report, which is parsed. The
counts are printed side by side, then every test whose outcome differs from the first URL's, the
reference (a real redis-server), with the first line of its failure or skip reason.

The suite is destructive: its fixtures FLUSHDB after every test, some tests CONFIG SET and SELECT
other databases, and ``test_auth`` ends with ``CONFIG SET requirepass ""``. Point it at scratch
servers only.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from predis.services.bench import machine

SUITE_FILES = ("tests/test_commands.py", "tests/test_pipeline.py")

# The tests the RESP front end is checked with, by family. Each name is matched as pytest's -k
# matches: a case-insensitive substring of the test's name, so ``test_expire`` takes in
# test_expire_option_nx, test_expireat_datetime and test_expiretime too. Names are chosen so that
# none is a substring of a test outside its family (``test_get`` alone would take test_get_set_bit).
SELECTED: dict[str, tuple[str, ...]] = {
    "string": (
        "test_get_and_set",
        "test_binary_get_set",
        "test_getitem",
        "test_getdel",
        "test_getex",
        "test_getrange",
        "test_getset",
        "test_set_",
        "test_setex",
        "test_setnx",
        "test_setrange",
        "test_psetex",
        "test_mget",
        "test_mset",
        "test_append",
        "test_strlen",
        "test_substr",
        "test_incr",
        "test_decr",
    ),
    # PERSIST is exercised inside test_expire, FLUSHDB by every fixture's teardown: no test of their own.
    "ttl": ("test_expire", "test_pexpire", "test_ttl", "test_pttl"),
    "keyspace": (
        "test_delete",
        "test_delitem",
        "test_unlink",
        "test_exists",
        "test_keys",
        "test_scan",
        "test_rename",
        "test_type",
        "test_randomkey",
        "test_dbsize",
        "test_copy",
    ),
    "client": ("test_client_", "test_ping", "test_echo", "test_hello", "test_auth", "test_select"),
    # test_pipeline.py's TestPipeline: pipelines, MULTI/EXEC, WATCH.
    "pipeline": ("TestPipeline",),
}

# Left out of every run, with the reason.
EXCLUDED: dict[str, str] = {
    "TestPipelineMetricsRecording": "mocked connections: no server involved",
    # Both open redis.Redis() on localhost:6379 whatever --redis-url says (they need a server >= 7.2).
    "test_client_setinfo": "ignores --redis-url: talks to localhost:6379",
}

# Left out, in addition, of runs against a URL with a password: its teardown ends with CONFIG SET
# requirepass "", so every test after it would run against a server that no longer asks for one.
EXCLUDED_WITH_PASSWORD: dict[str, str] = {"test_auth": "its teardown clears the server's requirepass"}

# Standalone servers: redis-py's CI leaves the cluster-only and module tests out the same way.
MARKERS = "not onlycluster and not redismod and not replica"

# What redis-py's conftest reads from INFO before the first test (the version gates many tests).
CONFTEST_INFO_FIELDS = ("redis_version", "arch_bits", "cluster_enabled")

OUTCOMES = ("passed", "failed", "skipped", "error")


@dataclass(frozen=True)
class CaseResult:
    """One test case of a JUnit report: its outcome and the first line of why."""

    test: str
    outcome: str
    message: str = ""


@dataclass
class SuiteRun:
    """One URL's run of the suite."""

    url: str  # password masked
    seconds: float
    counts: dict[str, int]
    results: dict[str, CaseResult] = field(repr=False)
    left_out: tuple[str, ...] = ()  # names from EXCLUDED_WITH_PASSWORD this run left out
    command: tuple[str, ...] = ()  # password masked


def keyword_expression(groups: tuple[str, ...] | None = None) -> str:
    """The ``-k`` expression that selects ``groups`` (all of ``SELECTED`` by default) minus ``EXCLUDED``."""
    chosen = tuple(SELECTED) if groups is None else groups
    unknown = [g for g in chosen if g not in SELECTED]
    if unknown or not chosen:
        raise ValueError(f"unknown test group(s) {', '.join(unknown) or '(none)'}; known: {', '.join(SELECTED)}")
    names = [name for group in chosen for name in SELECTED[group]]
    return f"({' or '.join(names)}) and not ({' or '.join(EXCLUDED)})"


def url_expression(keywords: str, url: str) -> str:
    """``keywords`` for one URL: ``EXCLUDED_WITH_PASSWORD`` is left out too when the URL has a password."""
    if urlsplit(url).password is None:
        return keywords
    return f"({keywords}) and not ({' or '.join(EXCLUDED_WITH_PASSWORD)})"


def mask(url: str) -> str:
    """The URL with its password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> None:
    """Refuse what is not a redis:// URL with a host; say why."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ValueError(f"--url {mask(url)!r} is not a redis://[[user]:password@]host:port[/db] URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as e:
        raise ValueError(f"--url {mask(url)!r}: {e}") from None


def installed_redis_py() -> str:
    return importlib.metadata.version("redis")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "predis"


def suite_folder(version: str, cache_dir: Path) -> Path:
    """redis-py ``version``'s tests, unpacked under ``cache_dir`` (downloaded once, with pip)."""
    folder = cache_dir / f"redis-py-{version}"
    if (folder / "tests" / "conftest.py").is_file() and (folder / "pyproject.toml").is_file():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="redis-py-", dir=cache_dir) as tmp:
        download = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        done = subprocess.run(
            [*download, "--quiet", "-d", tmp, f"redis=={version}"], capture_output=True, text=True, check=False
        )
        archives = list(Path(tmp).glob("redis-*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise RuntimeError(f"could not download redis-py {version}'s sources with pip:\n{done.stderr.strip()}")
        unpacked = Path(tmp) / "unpacked"
        _unpack_tests(archives[0], unpacked)
        if folder.exists():  # a half-made folder from an interrupted run
            shutil.rmtree(folder)
        unpacked.rename(folder)
    return folder


def _unpack_tests(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            _, _, inside = member.name.partition("/")
            if inside == "pyproject.toml" or inside.startswith("tests/"):
                member.name = inside
                members.append(member)
        tar.extractall(into, members=members, filter="data")
    if not (into / "tests" / "conftest.py").is_file():
        raise RuntimeError(f"{archive.name} has no tests/conftest.py: not redis-py's source distribution?")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def parse_junit(path: Path) -> dict[str, CaseResult]:
    """Test id (``module.Class::test``) -> outcome; a failure counts before an error before a skip."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            element = case.find(tag)
            if element is not None:
                outcome, message = name, _first_line(element.get("message") or element.text or "")
                break
        results[test] = CaseResult(test, outcome, message)
    return results


def count(results: dict[str, CaseResult]) -> dict[str, int]:
    return {o: sum(1 for r in results.values() if r.outcome == o) for o in OUTCOMES}


def pytest_command(
    folder: Path, url: str, keywords: str, junit: Path, protocol: int | None, files: tuple[str, ...] = SUITE_FILES
) -> list[str]:
    """The pytest command line one URL's run uses (the URL as given: it may hold a password)."""
    command = [sys.executable, "-m", "pytest", *files, "-c", str(folder / "pyproject.toml")]
    # --tb=line: pytest formatting whole tracebacks of failures took most of a run's time, so
    # the seconds column measured the failures rather than the server.
    command += ["--rootdir", str(folder), "-p", "no:cacheprovider", "-q", "--tb=line", "-m", MARKERS, "-k", keywords]
    # The module-tests' server is the same one: otherwise the suite looks for one on localhost:6479.
    command += ["--redis-url", url, "--redis-mod-url", url, f"--junitxml={junit}"]
    if protocol is not None:
        command += ["--protocol", str(protocol)]
    return command


def run_suite(
    folder: Path,
    url: str,
    keywords: str,
    protocol: int | None,
    timeout_s: float = 1800,
    files: tuple[str, ...] = SUITE_FILES,
) -> SuiteRun:
    """Runs the suite in ``folder`` against ``url`` in a subprocess and parses its report."""
    left_out = tuple(EXCLUDED_WITH_PASSWORD) if urlsplit(url).password is not None else ()
    with tempfile.TemporaryDirectory(prefix="predis-redis-suite-") as tmp:
        junit = Path(tmp) / "junit.xml"
        command = pytest_command(folder, url, url_expression(keywords, url), junit, protocol, files)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "RE_CLUSTER")}
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, cwd=folder, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the suite against {mask(url)} ran past {timeout_s:g}s") from None
        seconds = time.perf_counter() - started
        # pytest exits 0 (all passed) or 1 (some failed); anything else means the run itself broke.
        if done.returncode not in (0, 1) or not junit.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
            raise RuntimeError(f"pytest against {mask(url)} exited {done.returncode}:\n{tail}")
        results = parse_junit(junit)
    shown = tuple(mask(part) if part == url else part for part in command)
    return SuiteRun(mask(url), round(seconds, 1), count(results), results, left_out, shown)


def differences(reference: SuiteRun, other: SuiteRun) -> list[dict[str, str]]:
    """Tests whose outcome in ``other`` is not the reference's, a test missing from one side included
    unless that side left it out on purpose (``EXCLUDED_WITH_PASSWORD``)."""
    out = []
    for test in sorted(reference.results.keys() | other.results.keys()):
        ref = reference.results.get(test)
        got = other.results.get(test)
        if ref is not None and got is not None and ref.outcome == got.outcome:
            continue
        if (ref is None and _left_out(test, reference)) or (got is None and _left_out(test, other)):
            continue
        out.append(
            {
                "test": test,
                "url": other.url,
                "reference": ref.outcome if ref else "missing",
                "outcome": got.outcome if got else "missing",
                "message": (got.message if got and got.outcome != "passed" else ref.message if ref else ""),
            }
        )
    return out


def _left_out(test: str, run: SuiteRun) -> bool:
    name = test.rpartition("::")[2].lower()
    return any(pattern.lower() in name for pattern in run.left_out)


def check_server(url: str, protocol: int | None) -> None:
    """Fails with a message a person can act on when ``url`` does not answer PING, or INFO with the
    fields the suite's conftest reads."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5, "retry": Retry(NoBackoff(), 0)}
    if protocol is not None:
        kwargs["protocol"] = protocol
    try:
        client = redis.Redis.from_url(url, **kwargs)
        client.ping()
    except redis.AuthenticationError as e:
        raise RuntimeError(f"{mask(url)} refused the URL's credentials: {e}") from None
    except redis.RedisError as e:
        raise RuntimeError(f"{mask(url)} does not answer PING: {e}") from None
    # The suite's conftest reads these at session start and stops with a traceback without them.
    try:
        info = client.info()
    except redis.RedisError as e:
        raise RuntimeError(f"{mask(url)} answers PING but not INFO, which redis-py's suite needs: {e}") from None
    finally:
        client.close()
    missing = [f for f in CONFTEST_INFO_FIELDS if f not in info]
    if missing:
        raise RuntimeError(f"{mask(url)}'s INFO lacks {', '.join(missing)}, which redis-py's suite reads at start")


def run_comparison(
    urls: list[str],
    protocol: int | None = None,
    groups: tuple[str, ...] | None = None,
    keywords: str | None = None,
    cache_dir: Path | None = None,
    folder: Path | None = None,
    files: tuple[str, ...] = SUITE_FILES,
    timeout_s: float = 1800,
) -> dict[str, Any]:
    """The suite against every URL in turn, the first being the reference. ``folder`` replaces the
    downloaded suite (tests hand in a small pytest project)."""
    for url in urls:
        check_url(url)
    expression = keywords or keyword_expression(groups)
    for url in urls:  # before a download that may take a minute
        check_server(url, protocol)
    if folder is None:
        folder = suite_folder(installed_redis_py(), cache_dir or default_cache_dir())
    runs = [run_suite(folder, url, expression, protocol, timeout_s, files) for url in urls]
    return summarise(runs, folder, files, protocol, expression)


def summarise(
    runs: list[SuiteRun], folder: Path, files: tuple[str, ...], protocol: int | None, expression: str
) -> dict[str, Any]:
    """One JSON-ready object: every run's counts, what differs from the first run, and where it ran."""
    from redis.utils import DEFAULT_RESP_VERSION

    return {
        "redis_py": installed_redis_py(),
        "suite": str(folder),
        "files": list(files),
        "protocol": protocol,
        "protocol_on_the_wire": protocol or DEFAULT_RESP_VERSION,
        "markers": MARKERS,
        "keywords": expression,
        "runs": [_run_summary(r) for r in runs],
        "differences": [d for other in runs[1:] for d in differences(runs[0], other)],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def _run_summary(run: SuiteRun) -> dict[str, Any]:
    not_passed = [
        {"test": r.test, "outcome": r.outcome, "message": r.message}
        for r in sorted(run.results.values(), key=lambda r: r.test)
        if r.outcome != "passed"
    ]
    return {
        "url": run.url,
        "seconds": run.seconds,
        **run.counts,
        "left_out": list(run.left_out),
        "command": list(run.command),
        "not_passed": not_passed,
    }


def print_report(result: dict[str, Any]) -> None:
    runs = result["runs"]
    protocol = result["protocol"]
    wire = f"RESP{result['protocol_on_the_wire']}"
    told = f"--protocol {protocol} ({wire})" if protocol else f"redis-py's default protocol ({wire} on the wire)"
    total = sum(runs[0][o] for o in OUTCOMES)
    print(f"redis-py {result['redis_py']}'s suite ({', '.join(result['files'])}): {total} tests selected, {told}")
    width = max(12, *(len(r["url"]) for r in runs)) + 2
    print(" " * 9 + "".join(f"{r['url']:>{width}}" for r in runs))
    for label, key in (("passed", "passed"), ("failed", "failed"), ("skipped", "skipped"), ("errors", "error")):
        print(f"{label:<9}" + "".join(f"{r[key]:>{width}}" for r in runs))
    print(f"{'seconds':<9}" + "".join(f"{r['seconds']:>{width}}" for r in runs))
    for r in runs:
        if r["left_out"]:
            reasons = "; ".join(f"{n}: {EXCLUDED_WITH_PASSWORD[n]}" for n in r["left_out"])
            print(f"left out against {r['url']} (a password URL): {reasons}")
    if len(runs) == 1:
        return
    diffs = result["differences"]
    if not diffs:
        print(f"every test's outcome matches the reference ({runs[0]['url']})")
        return
    print(f"{len(diffs)} outcome(s) differ from the reference ({runs[0]['url']}):")
    for d in diffs:
        where = f" [{d['url']}]" if len(runs) > 2 else ""
        why = f": {d['message']}" if d["message"] else ""
        print(f"  {d['test']}{where}: {d['reference']} -> {d['outcome']}{why}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        action="append",
        required=True,
        help="redis://[[user]:password@]host:port[/db]; repeat it: the first is the reference (a real redis-server)",
    )
    parser.add_argument("--protocol", type=int, choices=(2, 3), help="RESP version (default: redis-py's own)")
    parser.add_argument(
        "--select",
        default=",".join(SELECTED),
        help=f"comma-separated test groups (default: all of {','.join(SELECTED)})",
    )
    parser.add_argument("--keyword", help="a pytest -k expression to run instead of the groups' (one test, say)")
    parser.add_argument("--cache-dir", type=Path, help="where redis-py's sources are kept (~/.cache/predis)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="longest run per URL, seconds (1800)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """0 when every URL's outcomes match the reference's, 1 when some differ."""
    groups = tuple(g.strip() for g in args.select.split(",") if g.strip())
    try:
        if args.timeout <= 0:
            raise ValueError("--timeout must be positive")
        for url in args.url:
            check_url(url)
        keyword_expression(groups)
    except ValueError as e:
        raise SystemExit(f"predis bench redis-suite: {e}") from None
    try:
        result = run_comparison(args.url, args.protocol, groups, args.keyword, args.cache_dir, timeout_s=args.timeout)
    except RuntimeError as e:
        raise SystemExit(f"predis bench redis-suite: {e}") from None
    if args.json:
        print(json.dumps(result))
    else:
        print_report(result)
    return 1 if result["differences"] else 0
