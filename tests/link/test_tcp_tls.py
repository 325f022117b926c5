"""Mutual TLS for TcpLink: exchanges over TLS, refusal of foreign certificates and of wrong
identities (either side), and that TLS leaves no plaintext on the TCP wire (captured by a relay)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from veil.errors import PartyError
from veil.link.memory import run_job
from veil.link.tcp import TcpLink
from veil.link.tls import TlsConfig, generate_test_pki

from .test_grpc_helpers import free_addresses, run_threads
from .test_tcp_helpers import FakePeer
from .test_tls import PATTERN, _Relay

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return generate_test_pki(tmp_path_factory.mktemp("pki"), ["p0", "p1", "p2", "mallory"])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return generate_test_pki(tmp_path_factory.mktemp("pki2"), ["p1"], ca_name="another CA")


def test_three_parties_over_tls(pki: dict[str, TlsConfig]) -> None:
    addrs = free_addresses(range(3))
    names = {r: f"p{r}" for r in range(3)}
    links = {
        r: TcpLink(r, 3, addrs, tls=pki[names[r]], peer_names=names, timeout=5.0, connect_timeout=5.0)
        for r in range(3)
    }
    out = run_threads(links, lambda lk: (lk.all_gather("g", np.arange(4) + lk.rank)[2].tolist(), _big(lk)))
    assert out == {r: ([2, 3, 4, 5], True) for r in range(3)}
    stats = run_job(3, lambda lk: (lk.all_gather("g", np.arange(4) + lk.rank), _big(lk))).stats
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == stats


def _big(link: TcpLink) -> bool:
    """A 24 MB ring exchange: many TLS records per frame, both directions at once."""
    nxt, prv = (link.rank + 1) % 3, (link.rank - 1) % 3
    link.send(nxt, "big", np.full(3 << 20, link.rank, np.int64))
    got = link.recv(prv, "big")
    return bool(got.shape == (3 << 20,) and (got == prv).all())


@pytest.mark.parametrize("trusts_our_ca", [False, True])
def test_party_with_a_foreign_certificate_is_refused(
    pki: dict[str, TlsConfig], other_pki: dict[str, TlsConfig], trusts_our_ca: bool
) -> None:
    """Rank 1 holds a cert from another CA (and trusts either that CA or ours): no connection."""
    addrs = free_addresses(range(2))
    foreign = other_pki["p1"]
    if trusts_our_ca:
        foreign = TlsConfig(pki["p1"].ca_cert, foreign.cert, foreign.key)
    kw = {"timeout": 10.0, "connect_timeout": 1.5, "heartbeat_s": 0.25}
    links = {0: TcpLink(0, 2, addrs, tls=pki["p0"], **kw), 1: TcpLink(1, 2, addrs, tls=foreign, **kw)}

    def fn(link: TcpLink) -> str:
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="unreachable") as info:
            link.recv(1 - link.rank, "x")
        assert info.value.party == 1 - link.rank and time.monotonic() - t0 < 3.0
        return str(info.value)

    out = run_threads(links, fn)
    assert "TLS" in out[1] and "certificate" in out[1], out[1]  # the dialer says why at once
    assert "failed" in out[0], out[0]  # the listener names the failed connection


def test_handshake_error_is_named(pki: dict[str, TlsConfig], other_pki: dict[str, TlsConfig]) -> None:
    addrs = free_addresses(range(2))
    server = TcpLink(0, 2, addrs, tls=other_pki["p1"], connect_timeout=1.0)
    link = TcpLink(1, 2, addrs, tls=pki["p0"], timeout=10.0, connect_timeout=1.0)
    try:
        t0 = time.monotonic()
        with pytest.raises(
            PartyError, match=r"TLS handshake with 127\.0\.0\.1:\d+ failed.*certificate verify"
        ):
            link.recv(0, "x")
        assert time.monotonic() - t0 < 1.0  # a TLS failure is final: no retries until the timeout
    finally:
        link.close()
        server.close()


def test_valid_certificate_with_the_wrong_name_is_refused(pki: dict[str, TlsConfig]) -> None:
    """Same CA, wrong identity: as a client (CN checked by the listener) and as a server (SAN)."""
    names = {0: "p0", 1: "p1"}
    kw = {"timeout": 10.0, "connect_timeout": 1.0, "heartbeat_s": 0.2, "peer_names": names}
    addrs = free_addresses(range(2))
    good = TcpLink(0, 2, addrs, tls=pki["p0"], **kw)
    impostor = TcpLink(1, 2, addrs, tls=pki["mallory"], **kw)  # claims rank 1
    try:
        with pytest.raises(
            PartyError, match=r"refused the connection.*certificate is for \['mallory'\], not 'p1'"
        ):
            impostor.recv(0, "x")
        with pytest.raises(PartyError, match=r"never connected.*certificate is for \['mallory'\]"):
            good.recv(1, "x")
    finally:
        impostor.close()
        good.close()
    addrs = free_addresses(range(2))
    impostor = TcpLink(0, 2, addrs, tls=pki["mallory"], **kw)  # claims rank 0: its SAN lacks p0
    good = TcpLink(1, 2, addrs, tls=pki["p1"], **kw)
    try:
        with pytest.raises(PartyError, match="TLS handshake .* failed .*[Hh]ostname mismatch.*'p0'"):
            good.recv(0, "x")
    finally:
        impostor.close()
        good.close()


@pytest.mark.parametrize("use_tls", [False, True])
def test_tls_leaves_no_plaintext_on_the_wire(pki: dict[str, TlsConfig], use_tls: bool) -> None:
    addrs = free_addresses(range(2))
    relay = _Relay(addrs[0])
    hooked: list[bytes] = []
    kw = {"timeout": 5.0, "connect_timeout": 5.0}
    links = {
        0: TcpLink(0, 2, addrs, tls=pki["p0"] if use_tls else None, **kw),
        1: TcpLink(
            1,
            2,
            {**addrs, 0: relay.address},
            tls=pki["p1"] if use_tls else None,
            on_wire=lambda peer, b: hooked.append(b),
            **kw,
        ),
    }

    def fn(link: TcpLink) -> bool:
        if link.rank == 1:
            link.send(0, "secret", np.frombuffer(PATTERN * 4, np.uint8))
            return True
        return bytes(link.recv(1, "secret")) == PATTERN * 4

    try:
        assert run_threads(links, fn) == {0: True, 1: True}
    finally:
        relay.close()
    assert any(PATTERN in b for b in hooked)  # the hook sees frames before TLS
    assert len(relay.captured) > len(PATTERN) * 4
    assert (PATTERN in relay.captured) is (not use_tls)


def test_plaintext_client_on_a_tls_link_is_refused_and_the_link_keeps_working(
    pki: dict[str, TlsConfig],
) -> None:
    addrs = free_addresses(range(2))
    links = {r: TcpLink(r, 2, addrs, tls=pki[f"p{r}"], timeout=5.0, connect_timeout=5.0) for r in range(2)}
    try:
        links[0].wait_ready(5.0)
        with pytest.raises((AssertionError, OSError)):  # no TLS: the listener hangs up, no ACCEPT
            FakePeer(addrs[0], rank=1)
        links[1].send(0, "ok", np.arange(3))
        assert links[0].recv(1, "ok").tolist() == [0, 1, 2]
    finally:
        for lk in links.values():
            lk.close()
