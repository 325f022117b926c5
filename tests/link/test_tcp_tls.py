"""TcpLink over mutual TLS: refusal of a wrong identity on either side (with TcpLink's wording),
and a plaintext client on a TLS listener (the shared TLS contract is in test_tls.py)."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import PartyError
from veil.link.tcp import TcpLink
from veil.link.tls import TlsConfig

from .helpers import free_addresses
from .test_tcp_helpers import FakePeer

pytestmark = pytest.mark.timeout(30)


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
