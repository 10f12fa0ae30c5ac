"""TLS and mutual TLS on the gRPC ports and the RESP port, with certificates made by `predis certs`:
real handshakes on loopback, real clients (grpc.aio, redis-py, asyncio streams), files replaced
under running servers."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from redis.backoff import NoBackoff
from redis.retry import Retry
from test_resp_harness import PredisResp, free_port

import predis
from predis.config import ClientConfig, TlsConfig
from predis.services.cli import main
from predis.services.resp.settings import RespSettings
from predis.services.runtime.server import RunningServer, start_server
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.services.security.certs import CertifiedKey, make_ca, make_certificate, write_dev_certificates
from predis.services.security.tls import ReloadingSslContext, TlsSettings


@dataclass(frozen=True)
class Certs:
    """One `predis certs` folder."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server-key.pem"

    @property
    def client(self) -> Path:
        return self.folder / "client-predis.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client-predis-key.pem"


def replace_file(source: Path, target: Path) -> None:
    """As a deploy tool renews a certificate: a whole new file renamed over the old one."""
    partial = target.with_name(f".{target.name}.new")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("first")
    write_dev_certificates(folder)
    return Certs(folder)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """Another CA and everything it signed, for renewals and for clients the first CA never signed."""
    folder = tmp_path_factory.mktemp("second")
    write_dev_certificates(folder)
    return Certs(folder)


@pytest.fixture(scope="module")
def server_only(first: Certs, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate the first CA signed for servers only: no good for a client to present."""
    key = serialization.load_pem_private_key((first.folder / "ca-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ca = CertifiedKey(x509.load_pem_x509_certificate(first.ca.read_bytes()), key)
    issued = make_certificate(ca, "localhost", ["localhost"], server=True, client=False)
    folder = tmp_path_factory.mktemp("server-only")
    (folder / "cert.pem").write_bytes(issued.certificate_pem())
    (folder / "key.pem").write_bytes(issued.key_pem())
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def live(tmp_path: Path, first: Certs) -> Certs:
    """Copies of the first CA's files where a running server reads them, to be replaced under it."""
    for name in ("ca.pem", "server.pem", "server-key.pem"):
        shutil.copyfile(first.folder / name, tmp_path / name)
    return Certs(tmp_path)


# -- gRPC --------------------------------------------------------------------------------------


@asynccontextmanager
async def grpc_server(tls: TlsSettings) -> AsyncIterator[RunningServer]:
    running = await start_server(ServerSettings(listen="127.0.0.1:0", tls=tls), [], TracerProvider())
    try:
        yield running
    finally:
        await running.stop(0)


async def health_check(
    port: int, ca: Path, cert: Path | None = None, key: Path | None = None
) -> grpc.StatusCode | health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    """The health service's answer over a new TLS connection, or the status code it failed with."""
    credentials = grpc.ssl_channel_credentials(
        ca.read_bytes(), key.read_bytes() if key else None, cert.read_bytes() if cert else None
    )
    # A channel of its own, so that each check makes a new connection and handshake.
    options = [("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError as error:
            return error.code()
    return reply.status


SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_a_client_trusting_the_ca_completes_the_handshake(first: Certs) -> None:
    async with grpc_server(TlsSettings(first.server, first.server_key)) as running:
        assert await health_check(running.port, first.ca) == SERVING


async def test_a_client_that_does_not_trust_the_ca_is_unavailable(first: Certs, second: Certs) -> None:
    async with grpc_server(TlsSettings(first.server, first.server_key)) as running:
        assert await health_check(running.port, second.ca) == grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_client_gets_nothing_from_a_tls_port(first: Certs) -> None:
    async with grpc_server(TlsSettings(first.server, first.server_key)) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            with pytest.raises(grpc.RpcError) as refused:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_clients_without_a_certificate_the_ca_signed(
    first: Certs, second: Certs, server_only: tuple[Path, Path]
) -> None:
    async with grpc_server(TlsSettings(first.server, first.server_key, first.ca)) as running:
        assert await health_check(running.port, first.ca) == grpc.StatusCode.UNAVAILABLE
        assert await health_check(running.port, first.ca, second.client, second.client_key) == (
            grpc.StatusCode.UNAVAILABLE
        )
        assert await health_check(running.port, first.ca, *server_only) == grpc.StatusCode.UNAVAILABLE
        assert await health_check(running.port, first.ca, first.client, first.client_key) == SERVING


async def test_a_renewed_certificate_serves_new_connections_without_a_restart(live: Certs, second: Certs) -> None:
    async with grpc_server(TlsSettings(live.server, live.server_key)) as running:
        assert await health_check(running.port, live.ca) == SERVING
        replace_file(second.server, live.server)
        replace_file(second.server_key, live.server_key)
        assert await health_check(running.port, second.ca) == SERVING
        assert await health_check(running.port, live.ca) == grpc.StatusCode.UNAVAILABLE  # the old CA's is gone


async def test_a_renewed_client_ca_is_the_one_mutual_tls_checks(live: Certs, first: Certs, second: Certs) -> None:
    async with grpc_server(TlsSettings(live.server, live.server_key, live.ca)) as running:
        assert await health_check(running.port, first.ca, first.client, first.client_key) == SERVING
        replace_file(second.ca, live.ca)
        assert await health_check(running.port, first.ca, second.client, second.client_key) == SERVING
        assert await health_check(running.port, first.ca, first.client, first.client_key) == (
            grpc.StatusCode.UNAVAILABLE
        )


async def test_files_that_do_not_load_keep_the_certificate_loaded_before(
    live: Certs, second: Certs, caplog: pytest.LogCaptureFixture
) -> None:
    async with grpc_server(TlsSettings(live.server, live.server_key)) as running:
        with caplog.at_level(logging.WARNING, logger="predis.services.security.tls"):
            live.server.write_bytes(live.server.read_bytes()[:100])  # half written
            assert await health_check(running.port, live.ca) == SERVING
            replace_file(second.server, live.server)  # a new certificate, but the old key
            assert await health_check(running.port, live.ca) == SERVING
        warnings = [record.getMessage() for record in caplog.records]
        assert len(warnings) == 2 and all("keep the certificate loaded before" in w for w in warnings)
        assert "is not a whole PEM certificate" in warnings[0] and "is not the key of the certificate" in warnings[1]
        replace_file(second.server_key, live.server_key)  # the pair complete: now it loads
        assert await health_check(running.port, second.ca) == SERVING


# -- the asyncio context (the RESP port's) on its own --------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def echo_server(reloading: ReloadingSslContext) -> AsyncIterator[int]:
    """A TLS echo server that looks at its files before each connection, as the RESP server does."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    class Factory(asyncio.StreamReaderProtocol):
        def __init__(self) -> None:
            reloading.maybe_reload()
            super().__init__(asyncio.StreamReader(), echo)

    server = await asyncio.get_running_loop().create_server(Factory, "127.0.0.1", 0, ssl=reloading.context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def echoes(port: int, ca: Path, cert: Path | None = None, key: Path | None = None) -> bool:
    context = ssl.create_default_context(cafile=ca)
    if cert is not None:
        context.load_cert_chain(cert, key)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        writer.write(b"hello\n")
        line = await reader.readline()  # TLS 1.3: a refused client certificate shows only here
        writer.close()
    except (ssl.SSLError, ConnectionError):
        return False
    return line == b"hello\n"


async def test_the_asyncio_context_reloads_at_most_once_an_interval(live: Certs, second: Certs) -> None:
    clock = Clock()
    reloading = ReloadingSslContext(TlsSettings(live.server, live.server_key), check_interval_s=1.0, clock=clock)
    context = reloading.context
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    async with echo_server(reloading) as port:
        assert await echoes(port, live.ca)
        replace_file(second.server, live.server)
        replace_file(second.server_key, live.server_key)
        assert not await echoes(port, second.ca)  # not looked at again yet
        clock.now = 1.0
        assert await echoes(port, second.ca)
        assert not await echoes(port, live.ca)
    assert reloading.context is context  # the one create_server holds


async def test_the_asyncio_context_swaps_the_client_ca_and_keeps_the_old_files_on_failure(
    live: Certs, first: Certs, second: Certs
) -> None:
    clock = Clock()
    reloading = ReloadingSslContext(TlsSettings(live.server, live.server_key, live.ca), clock=clock)
    assert reloading.context.verify_mode == ssl.CERT_REQUIRED
    async with echo_server(reloading) as port:
        assert await echoes(port, first.ca, first.client, first.client_key)
        assert not await echoes(port, first.ca)
        replace_file(second.ca, live.ca)
        clock.now = 1.0
        assert await echoes(port, first.ca, second.client, second.client_key)
        assert not await echoes(port, first.ca, first.client, first.client_key)  # the CA taken out
        live.server_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\ntruncat")
        clock.now = 2.0
        assert not reloading.maybe_reload()
        assert await echoes(port, first.ca, second.client, second.client_key)


# -- RESP ---------------------------------------------------------------------------------------


@pytest.fixture
def resp_tls(first: Certs) -> Iterator[PredisResp]:
    settings = RespSettings(listen="127.0.0.1:0", tls=TlsSettings(first.server, first.server_key))
    server = PredisResp(settings).start()
    yield server
    server.stop()


NO_RETRIES = Retry(NoBackoff(), 0)  # a refusal fails at once instead of after redis-py's backoff


def tls_client(
    port: int, ca: Path, cert: Path | None = None, key: Path | None = None, timeout_s: float = 5.0
) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=timeout_s,
        retry=NO_RETRIES,
        ssl=True,
        ssl_ca_certs=str(ca),
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
    )


def test_redis_py_speaks_to_the_resp_port_over_tls(resp_tls: PredisResp, first: Certs) -> None:
    client = tls_client(resp_tls.port, first.ca)
    assert client.ping() is True
    assert client.set("tls", "on") is True and client.get("tls") == b"on"
    client.close()


def test_a_plaintext_client_on_the_tls_port_fails_and_the_server_serves_on(
    resp_tls: PredisResp, first: Certs, second: Certs
) -> None:
    plain = redis.Redis(host="127.0.0.1", port=resp_tls.port, socket_timeout=5, retry=NO_RETRIES)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError, match="Connection closed by server"):
        plain.ping()
    assert time.monotonic() - started < 2  # closed at once, not left to time out
    plain.close()
    assert tls_client(resp_tls.port, first.ca).ping() is True
    with pytest.raises(redis.ConnectionError):  # a client that does not trust the CA
        tls_client(resp_tls.port, second.ca).ping()
    assert tls_client(resp_tls.port, first.ca).ping() is True


def test_mutual_tls_on_the_resp_port(first: Certs, second: Certs, server_only: tuple[Path, Path]) -> None:
    settings = RespSettings(listen="127.0.0.1:0", tls=TlsSettings(first.server, first.server_key, first.ca))
    server = PredisResp(settings).start()
    try:
        with pytest.raises(redis.ConnectionError):
            tls_client(server.port, first.ca).ping()
        with pytest.raises(redis.ConnectionError):  # a certificate another CA signed
            tls_client(server.port, first.ca, second.client, second.client_key).ping()
        with pytest.raises(redis.ConnectionError):  # the right CA, but not for client authentication
            tls_client(server.port, first.ca, *server_only).ping()
        client = tls_client(server.port, first.ca, first.client, first.client_key)
        assert client.ping() is True and client.set("who", "me") is True and client.get("who") == b"me"
        client.close()
    finally:
        server.stop()


def test_the_resp_port_takes_a_renewed_certificate_for_new_connections(live: Certs, second: Certs) -> None:
    server = PredisResp(RespSettings(listen="127.0.0.1:0", tls=TlsSettings(live.server, live.server_key))).start()
    try:
        before = tls_client(server.port, live.ca)
        assert before.ping() is True
        replace_file(second.server, live.server)
        replace_file(second.server_key, live.server_key)
        deadline = time.monotonic() + 5  # the server looks at its files once a second
        while True:
            try:
                assert tls_client(server.port, second.ca).ping() is True
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the renewed certificate was not picked up"
                time.sleep(0.2)
        assert before.ping() is True  # the connection opened before keeps its session
        before.close()
    finally:
        server.stop()


def test_redis_cli_connects_with_tls_and_a_client_certificate(first: Certs) -> None:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not on PATH")
    settings = RespSettings(listen="127.0.0.1:0", tls=TlsSettings(first.server, first.server_key, first.ca))
    server = PredisResp(settings).start()
    try:
        tls = ["redis-cli", "--tls", "--cacert", str(first.ca), "-p", str(server.port)]
        mutual = [*tls, "--cert", str(first.client), "--key", str(first.client_key)]
        assert subprocess.run([*mutual, "ping"], capture_output=True, text=True, timeout=10).stdout == "PONG\n"
        assert subprocess.run([*tls, "ping"], capture_output=True, text=True, timeout=10).stdout != "PONG\n"
    finally:
        server.stop()


def test_predis_serve_cache_takes_tls_for_both_ports_from_the_environment(first: Certs) -> None:
    resp_port = free_port()
    env = {
        **os.environ,
        "PREDIS_TLS_CERT": str(first.server),
        "PREDIS_TLS_KEY": str(first.server_key),
        "PREDIS_RESP_LISTEN": f"127.0.0.1:{resp_port}",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        config = ClientConfig(tracing=False, tls=TlsConfig(root_certificates=first.ca))
        with predis.Client(address, config=config) as client:
            client.set(b"over", b"grpc")
        resp = tls_client(resp_port, first.ca, timeout_s=30)  # a new process may still be compiling
        assert resp.get("over") == b"grpc"
        resp.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def test_predis_serve_stops_at_start_naming_the_tls_variable(first: Certs) -> None:
    env = {**os.environ, "PREDIS_TLS_CERT": str(first.server)}
    env.pop("PREDIS_TLS_KEY", None)
    command = [sys.executable, "-m", "predis.services.cli", "serve", "drift", "--listen", "127.0.0.1:0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert "PREDIS_TLS_CERT is set but PREDIS_TLS_KEY is not" in result.stderr


# -- settings -----------------------------------------------------------------------------------


def env_of(certs: Certs, **extra: str) -> dict[str, str]:
    return {"PREDIS_TLS_CERT": str(certs.server), "PREDIS_TLS_KEY": str(certs.server_key), **extra}


def test_no_tls_variables_mean_plaintext() -> None:
    assert TlsSettings.from_env({}) is None
    assert TlsSettings.from_env({"PREDIS_TLS_CERT": "", "PREDIS_TLS_KEY": " "}) is None
    assert ServerSettings.from_env("cache", {}).tls is None
    assert RespSettings.from_env({}).tls is None


def test_tls_settings_are_read_from_the_environment(first: Certs) -> None:
    settings = TlsSettings.from_env(env_of(first, PREDIS_TLS_CLIENT_CA=str(first.ca)))
    assert settings == TlsSettings(first.server, first.server_key, first.ca) and settings.mutual
    assert ServerSettings.from_env("drift", env_of(first)).tls == TlsSettings(first.server, first.server_key)


def test_the_resp_port_takes_each_unset_variable_from_predis_tls(first: Certs, second: Certs) -> None:
    shared = env_of(first, PREDIS_TLS_CLIENT_CA=str(first.ca))
    assert RespSettings.from_env(shared).tls == TlsSettings(first.server, first.server_key, first.ca)
    own = {
        **shared,
        "PREDIS_RESP_TLS_CERT": str(second.server),
        "PREDIS_RESP_TLS_KEY": str(second.server_key),
        "PREDIS_RESP_TLS_CLIENT_CA": "",  # set empty: no client certificates on the RESP port
    }
    assert RespSettings.from_env(own).tls == TlsSettings(second.server, second.server_key, None)
    plaintext = {**shared, "PREDIS_RESP_TLS_CERT": "", "PREDIS_RESP_TLS_KEY": "", "PREDIS_RESP_TLS_CLIENT_CA": ""}
    assert RespSettings.from_env(plaintext).tls is None


def test_bad_tls_settings_fail_naming_the_variable(tmp_path: Path, first: Certs, second: Certs) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    cases = [
        ({"PREDIS_TLS_CERT": str(first.server)}, r"PREDIS_TLS_CERT is set but PREDIS_TLS_KEY is not"),
        ({"PREDIS_TLS_KEY": str(first.server_key)}, r"PREDIS_TLS_KEY is set but PREDIS_TLS_CERT is not"),
        ({"PREDIS_TLS_CLIENT_CA": str(first.ca)}, r"PREDIS_TLS_CLIENT_CA is set but PREDIS_TLS_CERT"),
        (env_of(first, PREDIS_TLS_CERT=str(tmp_path / "nowhere.pem")), r"PREDIS_TLS_CERT='.*nowhere.pem' does not"),
        (env_of(first, PREDIS_TLS_CERT=str(not_pem)), r"PREDIS_TLS_CERT='.*' holds no PEM certificate"),
        (env_of(first, PREDIS_TLS_KEY=str(not_pem)), r"PREDIS_TLS_KEY='.*' holds no PEM private key"),
        (env_of(first, PREDIS_TLS_KEY=str(second.server_key)), r"PREDIS_TLS_KEY='.*' is not the key of the cert"),
        (env_of(first, PREDIS_TLS_KEY=str(encrypted)), r"PREDIS_TLS_KEY='.*' is encrypted"),
        (env_of(first, PREDIS_TLS_CLIENT_CA=str(not_pem)), r"PREDIS_TLS_CLIENT_CA='.*' holds no PEM certificate"),
        (env_of(first, PREDIS_TLS_CERT=str(tmp_path)), r"PREDIS_TLS_CERT='.*' cannot be read"),
    ]
    for env, message in cases:
        with pytest.raises(SettingsError, match=message):
            TlsSettings.from_env(env)
    with pytest.raises(SettingsError, match="PREDIS_TLS_KEY='.*' is not the key"):
        ServerSettings.from_env("cache", env_of(first, PREDIS_TLS_KEY=str(second.server_key)))
    with pytest.raises(SettingsError, match="PREDIS_RESP_TLS_KEY is set but PREDIS_RESP_TLS_CERT is not"):
        RespSettings.from_env({"PREDIS_RESP_TLS_KEY": str(first.server_key), "PREDIS_RESP_TLS_CERT": ""})
    with pytest.raises(SettingsError, match="PREDIS_RESP_TLS_KEY='.*' is not the key"):
        RespSettings.from_env(env_of(first, PREDIS_RESP_TLS_KEY=str(second.server_key)))


# -- certificates and `predis certs` ------------------------------------------------------------


def test_dev_certificates_verify_for_their_hosts_and_uses(first: Certs) -> None:
    ca = x509.load_pem_x509_certificate(first.ca.read_bytes())
    server = x509.load_pem_x509_certificate(first.server.read_bytes())
    client = x509.load_pem_x509_certificate(first.client.read_bytes())
    store = Store([ca])
    subjects: list[x509.DNSName | x509.IPAddress] = [x509.DNSName("localhost")]
    subjects += [x509.IPAddress(ipaddress.ip_address(address)) for address in ("127.0.0.1", "::1")]
    for subject in subjects:
        PolicyBuilder().store(store).build_server_verifier(subject).verify(server, [])
    PolicyBuilder().store(store).build_client_verifier().verify(client, [])
    usages = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.verification.VerificationError):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName("elsewhere.example")).verify(server, [])


def test_a_certificate_for_other_hosts(tmp_path: Path) -> None:
    ca = make_ca(days=2)
    issued = make_certificate(ca, "cache.internal", ["cache.internal", "10.0.0.7"], days=2)
    names = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["cache.internal"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    with pytest.raises(ValueError, match="neither an IP address nor a DNS name"):
        make_certificate(ca, "x", ["not a host"])
    with pytest.raises(ValueError, match="days must be at least 1"):
        make_ca(days=0)


def test_predis_certs_writes_the_files_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "certs"
    assert main(["certs", str(folder), "--hosts", "localhost,127.0.0.1", "--days", "30", "--client", "app"]) == 0
    written = capsys.readouterr().out
    names = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client-app.pem", "client-app-key.pem"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        assert f"wrote {folder / name}" in written
        mode = stat.S_IMODE((folder / name).stat().st_mode)
        assert mode == (0o600 if name.endswith("-key.pem") else 0o644), name
    assert f"PREDIS_TLS_CERT={folder / 'server.pem'}" in written and "PREDIS_TLS_CLIENT_CA=" in written
    assert TlsSettings.from_env(
        {"PREDIS_TLS_CERT": str(folder / "server.pem"), "PREDIS_TLS_KEY": str(folder / "server-key.pem")}
    )
    before = {name: (folder / name).read_bytes() for name in names}
    assert main(["certs", str(folder), "--client", "app"]) == 2
    assert "already exist; pass --force" in capsys.readouterr().err
    assert {name: (folder / name).read_bytes() for name in names} == before
    assert main(["certs", str(folder), "--client", "app", "--force"]) == 0
    assert all((folder / name).read_bytes() != before[name] for name in names)


def test_predis_certs_defaults_to_one_client_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "client-predis.pem").exists()
    capsys.readouterr()
    assert main(["certs", str(tmp_path / "b"), "--client", "../escape"]) == 2
    assert main(["certs", str(tmp_path / "c"), "--hosts", "bad host"]) == 2
    assert "neither an IP address nor a DNS name" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
