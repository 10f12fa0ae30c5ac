"""TLS for the gRPC ports and the RESP port: certificates and keys read from PEM files, checked once
at start, and read again when the files change, so that a renewed certificate needs no restart."""

from __future__ import annotations

import logging
import os
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from predis.services.runtime.settings import SettingsError

log = logging.getLogger(__name__)

TLS_PREFIX = "PREDIS_TLS"  # PREDIS_TLS_CERT, PREDIS_TLS_KEY, PREDIS_TLS_CLIENT_CA: every gRPC port
RESP_TLS_PREFIX = "PREDIS_RESP_TLS"  # the RESP port's, each falling back to its PREDIS_TLS_* one
RELOAD_CHECK_S = 1.0  # the RESP server looks at its files at most this often

_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = b"PRIVATE KEY-----"  # PKCS#8 "BEGIN PRIVATE KEY", or "BEGIN EC/RSA PRIVATE KEY"

FileStamp = tuple[int, int, int]  # (inode, mtime_ns, size); the inode catches a rename over the file


@dataclass(frozen=True)
class TlsSettings:
    """Where a server's certificate and key are, and which CA its clients' certificates need.

    Attributes:
        cert_file: PEM certificate chain the server presents, its own certificate first
            (``PREDIS_TLS_CERT``).
        key_file: that certificate's PEM private key, unencrypted (``PREDIS_TLS_KEY``).
        client_ca_file: PEM bundle of the CAs that sign client certificates; when set, a client
            must present a certificate signed by one of them: mutual TLS (``PREDIS_TLS_CLIENT_CA``).
    """

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], prefix: str = TLS_PREFIX, fallback_prefix: str | None = None
    ) -> TlsSettings | None:
        """Reads ``{prefix}_CERT``, ``{prefix}_KEY`` and ``{prefix}_CLIENT_CA``; one that is unset
        takes ``{fallback_prefix}_*``'s value (set it empty to mean none). None when neither
        certificate nor key is given. Fails naming the variable when only one is, or when a file
        is missing, unreadable, not PEM, or the key is not the certificate's."""
        labels: dict[str, str] = {}
        values: dict[str, str] = {}
        for part in ("CERT", "KEY", "CLIENT_CA"):
            name = f"{prefix}_{part}"
            if name not in environ and fallback_prefix is not None:
                name = f"{fallback_prefix}_{part}"
            labels[part], values[part] = name, environ.get(name, "").strip()
        if not values["CERT"] and not values["KEY"]:
            if values["CLIENT_CA"]:
                raise SettingsError(
                    f"{labels['CLIENT_CA']} is set but {labels['CERT']} and {labels['KEY']} are not: "
                    "mutual TLS needs the server's own certificate and key too"
                )
            return None
        for given, missing in (("CERT", "KEY"), ("KEY", "CERT")):
            if not values[missing]:
                raise SettingsError(f"{labels[given]} is set but {labels[missing]} is not: set both, or neither")
        settings = cls(
            cert_file=Path(values["CERT"]),
            key_file=Path(values["KEY"]),
            client_ca_file=Path(values["CLIENT_CA"]) if values["CLIENT_CA"] else None,
        )
        _read_checked(settings, _Labels(labels["CERT"], labels["KEY"], labels["CLIENT_CA"], variables=True))
        return settings


@dataclass(frozen=True)
class _Labels:
    """What an error calls each file: the variable that named it at start, the file's role later."""

    cert: str = "certificate file"
    key: str = "key file"
    client_ca: str = "client CA file"
    variables: bool = False

    def of(self, label: str, path: Path) -> str:
        return f"{label}={str(path)!r}" if self.variables else f"the {label} {str(path)!r}"


@dataclass(frozen=True)
class _Pems:
    cert: bytes
    key: bytes
    client_ca: bytes | None


def _read_pem(path: Path, described: str, marker: bytes, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"{described} does not exist") from None
    except OSError as error:
        raise SettingsError(f"{described} cannot be read: {error.strerror or error}") from None
    if marker not in data:
        raise SettingsError(f"{described} holds no PEM {what}")
    return data


def _read_checked(settings: TlsSettings, labels: _Labels) -> _Pems:
    """The three files' bytes, after OpenSSL has loaded them as a server would."""
    cert_described = labels.of(labels.cert, settings.cert_file)
    key_described = labels.of(labels.key, settings.key_file)
    cert = _read_pem(settings.cert_file, cert_described, _CERTIFICATE, "certificate")
    key = _read_pem(settings.key_file, key_described, _PRIVATE_KEY, "private key")
    if b"ENCRYPTED PRIVATE KEY" in key or b"Proc-Type: 4,ENCRYPTED" in key:  # PKCS#8, or OpenSSL's old format
        # Neither gRPC nor a server started unattended can ask for the password.
        raise SettingsError(f"{key_described} is encrypted; give the key unencrypted, readable by this user only")
    client_ca = None
    if settings.client_ca_file is not None:
        ca_described = labels.of(labels.client_ca, settings.client_ca_file)
        client_ca = _read_pem(settings.client_ca_file, ca_described, _CERTIFICATE, "certificate")
        try:
            ssl.create_default_context(cafile=settings.client_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise SettingsError(f"{ca_described} is not a whole PEM CA bundle ({_reason(error)})") from None
    try:
        ssl.create_default_context(cafile=settings.cert_file)
    except (OSError, ssl.SSLError) as error:
        raise SettingsError(f"{cert_described} is not a whole PEM certificate ({_reason(error)})") from None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(settings.cert_file, settings.key_file, _no_password)
    except (OSError, ssl.SSLError) as error:
        if isinstance(error, ssl.SSLError) and error.reason == "KEY_VALUES_MISMATCH":
            raise SettingsError(f"{key_described} is not the key of the certificate in {cert_described}") from None
        raise SettingsError(
            f"{key_described} could not be loaded with the certificate in {cert_described}: {_reason(error)}"
        ) from None
    return _Pems(cert, key, client_ca)


def _no_password() -> bytes:
    return b""  # an encrypted key then fails to load instead of prompting on a terminal


def _reason(error: OSError) -> str:
    """OpenSSL's words without the line of _ssl.c that raised them."""
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return re.sub(r" \(_ssl\.c:\d+\)$", "", str(error.strerror or error))


MISSING_FILE: FileStamp = (0, 0, -1)


def _stamp(path: Path) -> FileStamp:
    try:
        info = os.stat(path)
    except OSError:
        # Missing (between a deploy tool's delete and its rename): counted as a change, whose
        # load then fails and keeps the pair loaded before, with a warning.
        return MISSING_FILE
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _stamps(settings: TlsSettings) -> tuple[FileStamp, ...]:
    paths = [settings.cert_file, settings.key_file]
    if settings.client_ca_file is not None:
        paths.append(settings.client_ca_file)
    return tuple(_stamp(path) for path in paths)


# -- gRPC ---------------------------------------------------------------------------------------


def _grpc_configuration(pems: _Pems) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(pems.key, pems.cert)], root_certificates=pems.client_ca)


class GrpcCertificateFetcher:
    """What gRPC calls before each handshake: a new configuration once the files have changed,
    None (keep the current one) otherwise, or when the new files do not load."""

    def __init__(self, settings: TlsSettings) -> None:
        self._settings = settings
        self._stamps = _stamps(settings)
        self.initial = _grpc_configuration(_read_checked(settings, _Labels()))

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        stamps = _stamps(self._settings)
        if stamps == self._stamps:
            return None
        try:
            pems = _read_checked(self._settings, _Labels())
        except SettingsError as error:
            self._stamps = stamps  # warn once per change; the next write changes the stamps again
            log.warning("TLS files changed but %s: new connections keep the certificate loaded before", error)
            return None
        if _stamps(self._settings) != stamps:
            return None  # written to while read: look again at the next handshake
        self._stamps = stamps
        log.info("TLS certificate reloaded from %s for new gRPC connections", self._settings.cert_file)
        return _grpc_configuration(pems)


def grpc_server_credentials(settings: TlsSettings) -> grpc.ServerCredentials:
    """Credentials for ``server.add_secure_port`` that follow the files: each new connection gets
    the certificate (and client CA) on disk then; connections already open keep theirs."""
    fetcher = GrpcCertificateFetcher(settings)
    return grpc.dynamic_ssl_server_credentials(fetcher.initial, fetcher, require_client_authentication=settings.mutual)


# -- asyncio (the RESP port) --------------------------------------------------------------------


def server_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """A server context of TLS 1.2 or later with the files loaded; client certificates required
    (and checked against the client CA) when ``client_ca_file`` is set."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert_file, settings.key_file, _no_password)
    if settings.client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=settings.client_ca_file)
    return context


class ReloadingSslContext:
    """A server ``ssl.SSLContext`` for asyncio servers whose certificate follows its files.

    :attr:`context` is the one to hand to ``create_server``, and stays that object. A reload
    builds a whole new context from the files, and the SNI callback (which OpenSSL runs on every
    ClientHello, with or without a server name) moves each new handshake onto it. So a file that
    fails to load leaves nothing half loaded, and a CA taken out of the client CA file stops
    being trusted, which loading into the first context again could not do.
    """

    def __init__(
        self,
        settings: TlsSettings,
        check_interval_s: float = RELOAD_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._interval = check_interval_s
        self._clock = clock
        self._stamps = _stamps(settings)
        self._next_check = clock() + check_interval_s
        self._context = server_ssl_context(settings)
        self._current = self._context
        self._context.sni_callback = self._use_current

    @property
    def context(self) -> ssl.SSLContext:
        return self._context

    def maybe_reload(self) -> bool:
        """Loads the files again when they changed since the last look, looking at most once per
        ``check_interval_s``; True when new connections now get new certificates. Files that
        fail to load (one half written) keep the old ones, with a warning."""
        now = self._clock()
        if now < self._next_check:
            return False
        self._next_check = now + self._interval
        stamps = _stamps(self._settings)
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        try:
            fresh = server_ssl_context(self._settings)
        except (OSError, ssl.SSLError) as error:
            log.warning(
                "TLS files changed but %s does not load (%s): new connections keep the certificate loaded before",
                self._settings.cert_file,
                _reason(error),
            )
            return False
        self._current = fresh
        log.info("TLS certificate reloaded from %s for new connections", self._settings.cert_file)
        return True

    def _use_current(self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object) -> None:
        if connection.context is not self._current:
            connection.context = self._current
