"""Fixtures for the link tests: `link_cls` runs a test once per network link class (the contract
GrpcLink and TcpLink share), `pki` / `other_pki` are test PKIs made once per session."""

from __future__ import annotations

import pytest

from veil.link.grpc import GrpcLink
from veil.link.tcp import TcpLink
from veil.link.tls import TlsConfig, generate_test_pki


@pytest.fixture(params=[pytest.param(GrpcLink, id="grpc"), pytest.param(TcpLink, id="tcp")])
def link_cls(request: pytest.FixtureRequest) -> type[GrpcLink] | type[TcpLink]:
    return request.param


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return generate_test_pki(tmp_path_factory.mktemp("pki"), ["p0", "p1", "p2", "mallory"])


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    """A second CA whose only party `p1` collides with the first PKI's rank-1 name."""
    return generate_test_pki(tmp_path_factory.mktemp("pki2"), ["p1"], ca_name="another CA")
