"""Mutual TLS for the links: which files a party uses, credentials for gRPC, `ssl` contexts for
the TCP link, and a throwaway PKI for tests.

Every party holds the job's CA certificate, its own certificate and its private key. The server
side requires a client certificate signed by the CA; the client side checks the server's
certificate against the CA and the host name (or IP) it dialled. Keys are read only when a link
is built and are never logged or put in error messages.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from veil.errors import ConfigError

_CA_DAYS = 30
_LEAF_DAYS = 30


@dataclass(frozen=True)
class TlsConfig:
    """PEM files of one party: the CA that signs every party, this party's cert and key.

    `server_name`: the name to check in peers' certificates instead of the dialled host
    (grpc's ssl_target_name_override); None checks the host of each peer's address.
    """

    ca_cert: Path
    cert: Path
    key: Path
    server_name: str | None = None

    def __post_init__(self) -> None:
        for field_name in ("ca_cert", "cert", "key"):
            value = Path(getattr(self, field_name))
            object.__setattr__(self, field_name, value)
            if not value.is_file():
                raise ConfigError(
                    f"TlsConfig.{field_name}: {value} is not a file; give the PEM path "
                    "(generate_test_pki makes a set for tests)"
                )

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca_cert, cert, key) PEM bytes. The key stays in memory only for building credentials."""
        return self.ca_cert.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()

    def __repr__(self) -> str:  # paths only; contents (notably the key) are never shown
        return f"TlsConfig(ca_cert={str(self.ca_cert)!r}, cert={str(self.cert)!r}, key=<{self.key.name}>)"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _write_pem(path: Path, obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> None:
    """Write a certificate, or a private key readable by the owner only."""
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
        return
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(
        obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _make_ca(ca_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(ca_name, _name(ca_name), key, _CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    party: str, hosts: Sequence[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A party cert usable as TLS server and client: CN = party, SAN = hosts + party."""
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        _builder(party, ca.subject, key, _LEAF_DAYS)
        .add_extension(_san([*hosts, party]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def generate_test_pki(
    out_dir: Path | str,
    parties: list[str],
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    ca_name: str = "veil test CA",
) -> dict[str, TlsConfig]:
    """Make a test CA and one cert per party (SAN = hosts + the party's name) under `out_dir`.

    For tests and local demos only: EC P-256 keys, 30-day validity. Returns {party: TlsConfig}.
    Files: ca.pem, ca.key, <party>.pem, <party>.key (keys are mode 0600).
    """
    if not parties or len(set(parties)) != len(parties):
        raise ConfigError(f"generate_test_pki: parties must be distinct names, got {parties!r}")
    for p in parties:
        if not p or not all(c.isalnum() or c in "-_." for c in p):
            raise ConfigError(f"generate_test_pki: party name {p!r} must be [A-Za-z0-9._-]+")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca(ca_name)
    _write_pem(out / "ca.pem", ca)
    _write_pem(out / "ca.key", ca_key)
    configs: dict[str, TlsConfig] = {}
    for party in parties:
        cert, key = _make_leaf(party, hosts, ca, ca_key)
        _write_pem(out / f"{party}.pem", cert)
        _write_pem(out / f"{party}.key", key)
        configs[party] = TlsConfig(out / "ca.pem", out / f"{party}.pem", out / f"{party}.key")
    return configs


def server_credentials(cfg: TlsConfig) -> grpc.ServerCredentials:
    """Server side of mutual TLS: present this party's cert and require a CA-signed client cert."""
    ca, cert, key = cfg.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def channel_credentials(cfg: TlsConfig) -> grpc.ChannelCredentials:
    """Client side of mutual TLS: verify the server against the CA and present this party's cert."""
    ca, cert, key = cfg.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def _load_chain(ctx: ssl.SSLContext, cfg: TlsConfig) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cafile=str(cfg.ca_cert))
        ctx.load_cert_chain(str(cfg.cert), str(cfg.key))
    except (ssl.SSLError, OSError) as e:  # the message names the failing step, never key bytes
        raise ConfigError(f"TLS files of {cfg!r} cannot be used: {e}") from None
    return ctx


def ssl_server_context(cfg: TlsConfig) -> ssl.SSLContext:
    """`ssl` server side of mutual TLS (TCP link): this party's cert; clients need a CA-signed cert."""
    ctx = _load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), cfg)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def ssl_client_context(cfg: TlsConfig) -> ssl.SSLContext:
    """`ssl` client side of mutual TLS (TCP link): verify the server's cert and name, show ours."""
    ctx = _load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), cfg)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def common_names(cert: dict[str, object] | None) -> list[str]:
    """The subject CNs of a certificate as `SSLObject.getpeercert()` returns it."""
    subject = (cert or {}).get("subject", ())
    return [v for rdn in subject for k, v in rdn if k == "commonName"]  # type: ignore[union-attr]
