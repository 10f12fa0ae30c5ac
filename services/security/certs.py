"""A development CA and the certificates it signs, for TLS and mutual TLS on a laptop or in tests.

Keys are ECDSA P-256, which OpenSSL, BoringSSL (gRPC) and redis-cli all take. Not for production:
the CA's key sits beside the certificates it signed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_CLIENTS = ("predis",)
DEFAULT_DAYS = 365
CLOCK_SKEW = datetime.timedelta(minutes=5)  # valid a little before now, for machines whose clocks differ
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # it becomes part of a file name
_DNS_NAME = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted: what gRPC and the RESP server load."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=days))


def make_ca(common_name: str = "Predis development CA", days: int = DEFAULT_DAYS) -> CertifiedKey:
    """A self-signed CA that may sign certificates but no other CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _validity(x509.CertificateBuilder(), days)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return CertifiedKey(builder.sign(key, hashes.SHA256()), key)


def subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """An IP address entry for each host that is one, a DNS entry for each other."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not _DNS_NAME.fullmatch(host):
                raise ValueError(f"{host!r} is neither an IP address nor a DNS name") from None
            names.append(x509.DNSName(host))
    return names


def make_certificate(
    ca: CertifiedKey,
    common_name: str,
    hosts: Sequence[str] = (),
    days: int = DEFAULT_DAYS,
    server: bool = True,
    client: bool = False,
) -> CertifiedKey:
    """A certificate signed by ``ca`` for ``hosts`` (its subject alternative names), usable by a
    TLS server, a TLS client, or both."""
    if not server and not client:
        raise ValueError("a certificate must be good for a server, a client, or both")
    if server and not hosts:
        raise ValueError("a server certificate needs at least one host name or address")
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    builder = (
        _validity(x509.CertificateBuilder(), days)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(subject_alternative_names(hosts)), critical=False)
    return CertifiedKey(builder.sign(ca.key, hashes.SHA256()), key)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes beside ``path`` and renames over it, so a server reloading the files never reads
    half of one; the temporary file has ``mode`` from the start, so a key is never readable by others."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(descriptor, mode)  # O_CREAT's mode is masked by the umask, and ignored for a file left over
        file.write(data)
        file.flush()
        os.fsync(descriptor)
    partial.replace(path)


def write_dev_certificates(
    directory: Path,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    days: int = DEFAULT_DAYS,
    clients: Sequence[str] = DEFAULT_CLIENTS,
    force: bool = False,
) -> list[Path]:
    """Writes a new CA (``ca.pem``, ``ca-key.pem``), a server certificate for ``hosts``
    (``server.pem``, ``server-key.pem``; good for client authentication too, so a service can
    present it to another), and a client certificate per name (``client-NAME.pem``,
    ``client-NAME-key.pem``). Keys are readable by their owner only. Refuses, writing nothing,
    when any of the files exists, unless ``force``. Answers the paths written, in that order."""
    for name in clients:
        if not _CLIENT_NAME.fullmatch(name):
            raise ValueError(f"client name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    if len(set(clients)) != len(clients):
        raise ValueError("a client name is given twice")
    if not hosts:
        raise ValueError("give at least one host name or address for the server certificate")
    subject_alternative_names(hosts)  # a bad host fails before anything is written
    stems = ["ca", "server", *(f"client-{name}" for name in clients)]
    paths = [directory / f"{stem}{suffix}" for stem in stems for suffix in (".pem", "-key.pem")]
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        raise FileExistsError(f"{', '.join(existing)} already exist; pass --force to replace them")
    ca = make_ca(days=days)
    issued = [ca, make_certificate(ca, hosts[0], hosts, days, server=True, client=True)]
    # The client's name as its one subject alternative name too: verifiers that follow RFC 5280
    # strictly (cryptography's, Go's) refuse a certificate without one.
    issued += [make_certificate(ca, name, [name], days, server=False, client=True) for name in clients]
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for certified, (cert_path, key_path) in zip(issued, zip(paths[::2], paths[1::2], strict=True), strict=True):
        _write(cert_path, certified.certificate_pem(), 0o644)
        _write(key_path, certified.key_pem(), 0o600)
    return paths


def how_to_use(directory: Path, client: str) -> str:
    """What to set for TLS and mutual TLS with the files ``write_dev_certificates`` wrote there."""
    folder = directory.resolve()
    ca, server, server_key = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    cert, key = folder / f"client-{client}.pem", folder / f"client-{client}-key.pem"
    return "\n".join(
        [
            "Servers: TLS on every gRPC port and on the RESP port",
            f"  export PREDIS_TLS_CERT={server} PREDIS_TLS_KEY={server_key}",
            "and mutual TLS (clients must present a certificate this CA signed):",
            f"  export PREDIS_TLS_CLIENT_CA={ca}",
            "SDK clients, and services calling each other (server.pem is good for a client too):",
            f"  export PREDIS_TLS_CA={ca}",
            f"  export PREDIS_TLS_CLIENT_CERT={cert} PREDIS_TLS_CLIENT_KEY={key}  # mutual TLS",
            "Redis clients:",
            f"  redis-cli --tls --cacert {ca} --cert {cert} --key {key} -p RESP_PORT ping",
        ]
    )
