"""GrpcLink over mutual TLS: how it refuses a valid certificate with the wrong identity (the shared
TLS contract is in test_tls.py)."""

from __future__ import annotations

import pytest

from veil.errors import PartyError
from veil.link.grpc import GrpcLink
from veil.link.tls import TlsConfig

from .helpers import free_addresses

pytestmark = pytest.mark.timeout(30)


def test_valid_certificate_with_the_wrong_name_is_refused(pki: dict[str, TlsConfig]) -> None:
    addrs = free_addresses(range(2))
    names = {0: "p0", 1: "p1"}
    kw = {"timeout": 10.0, "connect_timeout": 1.5, "peer_names": names}
    good = GrpcLink(0, 2, addrs, tls=pki["p0"], **kw)
    impostor = GrpcLink(1, 2, addrs, tls=pki["mallory"], **kw)  # same CA, claims rank 1
    try:
        with pytest.raises(PartyError, match="unreachable.*Hostname Verification"):
            good.recv(1, "x")  # the impostor's server cert does not name p1
        with pytest.raises(PartyError, match="refused the stream.*certificate is for \\[b'mallory'\\]"):
            impostor.recv(0, "x")  # and p0's server refuses its client cert for rank 1
    finally:
        impostor.close()
        good.close()
