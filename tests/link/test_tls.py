"""Mutual TLS: the test PKI, and for both network links (`link_cls`, see conftest.py) exchanges
over TLS, refusal of foreign certificates, a named handshake error, and that TLS leaves no
plaintext on the TCP wire (captured by a relay). Checks of one transport's wording for a wrong
identity are in test_grpc_tls.py and test_tcp_tls.py."""

from __future__ import annotations

import socket
import stat
import threading
import time

import numpy as np
import pytest
from cryptography import x509

from veil.errors import ConfigError, PartyError
from veil.link.base import Link
from veil.link.grpc import GrpcLink
from veil.link.memory import run_job
from veil.link.tcp import TcpLink
from veil.link.tls import TlsConfig, generate_test_pki

from .helpers import LinkCls, free_addresses, run_threads

pytestmark = pytest.mark.timeout(30)
PATTERN = b"VEIL-PLAINTEXT-MARKER-0123456789"


def test_generate_test_pki_files(pki: dict[str, TlsConfig]) -> None:
    cfg = pki["p1"]
    ca = x509.load_pem_x509_certificate(cfg.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(cfg.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "p1"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(cfg.key.stat().st_mode) == 0o600
    assert "PRIVATE" not in repr(cfg) and cfg.key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    with pytest.raises(ConfigError, match="is not a file"):
        TlsConfig(cfg.ca_cert, cfg.cert, cfg.key.with_name("missing.key"))
    with pytest.raises(ConfigError, match="distinct"):
        generate_test_pki(cfg.key.parent / "x", ["a", "a"])


def _pattern_fn(link: Link) -> tuple:
    """An all-gather of small messages, then a 24 MB ring exchange (many TLS records per frame,
    both directions at once)."""
    msg = np.frombuffer(PATTERN * 64, np.uint8)
    got = link.all_gather("g", msg + np.uint8(link.rank))
    nxt, prv = (link.rank + 1) % 3, (link.rank - 1) % 3
    link.send(nxt, "big", np.full(3 << 20, link.rank, np.int64))
    big = link.recv(prv, "big")
    return tuple(int(g[0]) for g in got), bool(big.shape == (3 << 20,) and (big == prv).all())


def test_three_parties_over_tls(link_cls: LinkCls, pki: dict[str, TlsConfig]) -> None:
    addrs = free_addresses(range(3))
    names = {r: f"p{r}" for r in range(3)}
    links = {
        r: link_cls(r, 3, addrs, tls=pki[names[r]], peer_names=names, timeout=5.0, connect_timeout=5.0)
        for r in range(3)
    }
    out = run_threads(links, _pattern_fn)
    assert out == {r: ((86, 87, 88), True) for r in range(3)}
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == run_job(3, _pattern_fn).stats


@pytest.mark.parametrize("trusts_our_ca", [False, True])
def test_party_with_a_foreign_certificate_is_refused(
    link_cls: LinkCls, pki: dict[str, TlsConfig], other_pki: dict[str, TlsConfig], trusts_our_ca: bool
) -> None:
    """Rank 1 holds a cert from another CA (and trusts either that CA or ours): no connection."""
    addrs = free_addresses(range(2))
    foreign = other_pki["p1"]
    if trusts_our_ca:
        foreign = TlsConfig(pki["p1"].ca_cert, foreign.cert, foreign.key)
    kw = {"timeout": 10.0, "connect_timeout": 1.5, "heartbeat_s": 0.25}
    links = {0: link_cls(0, 2, addrs, tls=pki["p0"], **kw), 1: link_cls(1, 2, addrs, tls=foreign, **kw)}

    def fn(link: Link) -> str:
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="unreachable") as info:
            link.recv(1 - link.rank, "x")
        assert info.value.party == 1 - link.rank and time.monotonic() - t0 < 3.0
        return str(info.value)

    out = run_threads(links, fn)
    assert all(isinstance(m, str) for m in out.values()), out
    if link_cls is TcpLink:  # gRPC's own message may say only "Socket closed"
        assert "TLS" in out[1] and "certificate" in out[1], out[1]  # the dialer says why at once
        assert "failed" in out[0], out[0]  # the listener names the failed connection


# What the dialer says and how soon: gRPC retries the handshake until connect_timeout (1 s here);
# for TcpLink a TLS failure is final at once.
HANDSHAKE_ERROR = {
    GrpcLink: (r"cannot connect to 127\.0\.0\.1:\d+ .*andshake", 2.0),
    TcpLink: (r"TLS handshake with 127\.0\.0\.1:\d+ failed.*certificate verify", 1.0),
}


def test_handshake_error_is_named(
    link_cls: LinkCls, pki: dict[str, TlsConfig], other_pki: dict[str, TlsConfig]
) -> None:
    addrs = free_addresses(range(2))
    pattern, bound = HANDSHAKE_ERROR[link_cls]
    server = link_cls(0, 2, addrs, tls=other_pki["p1"], connect_timeout=1.0)
    link = link_cls(1, 2, addrs, tls=pki["p0"], timeout=10.0, connect_timeout=1.0)
    try:
        t0 = time.monotonic()
        with pytest.raises(PartyError, match=pattern):
            link.recv(0, "x")
        assert time.monotonic() - t0 < bound
    finally:
        link.close()
        server.close()


class _Relay:
    """A TCP relay on loopback that records every byte the client sends to the server."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.captured = bytearray()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes the other pump blocked in recv
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("use_tls", [False, True])
def test_tls_leaves_no_plaintext_on_the_wire(
    link_cls: LinkCls, pki: dict[str, TlsConfig], use_tls: bool
) -> None:
    addrs = free_addresses(range(2))
    relay = _Relay(addrs[0])
    hooked: list[bytes] = []
    kw = {"timeout": 5.0, "connect_timeout": 5.0}
    links = {
        0: link_cls(0, 2, addrs, tls=pki["p0"] if use_tls else None, **kw),
        1: link_cls(
            1,
            2,
            {**addrs, 0: relay.address},
            tls=pki["p1"] if use_tls else None,
            on_wire=lambda peer, b: hooked.append(b),
            **kw,
        ),
    }

    def fn(link: Link) -> bool:
        if link.rank == 1:
            link.send(0, "secret", np.frombuffer(PATTERN * 4, np.uint8))
            return True
        return bytes(link.recv(1, "secret")) == PATTERN * 4

    try:
        assert run_threads(links, fn) == {0: True, 1: True}
    finally:
        relay.close()
    assert any(PATTERN in b for b in hooked)  # the hook sees messages before TLS
    assert len(relay.captured) > len(PATTERN) * 4
    assert (PATTERN in relay.captured) is (not use_tls)
