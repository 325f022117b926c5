"""Mutual TLS on the driver <-> node control channel: the node accepts only the cluster's driver
certificate; a certificate from another CA, another party's certificate and plaintext are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from veil.device.api import Session
from veil.device.cluster import cluster_def
from veil.device.control import DRIVER, ControlClient, ControlServer, driver_tls
from veil.device.launcher import free_ports
from veil.device.objects import reveal
from veil.device.pyu import PYU
from veil.device.spu import SPU
from veil.errors import ConfigError, LinkError
from veil.link.tls import generate_test_pki

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = Path(tmp_path_factory.mktemp("pki"))
    ours = generate_test_pki(base / "ours", ["alice", "bob", DRIVER])
    foreign = generate_test_pki(base / "foreign", [DRIVER], ca_name="other CA")
    address = f"127.0.0.1:{free_ports(1)[0]}"
    seen: list[dict] = []
    srv = ControlServer(
        address, lambda m: (seen.append(m), {"ok": True, "echo": m["op"]})[1], "alice", tls=ours["alice"]
    )
    yield address, ours, foreign, seen
    srv.stop(0.1)


def test_the_driver_certificate_is_accepted(server) -> None:
    address, ours, _, seen = server
    client = ControlClient(address, "alice", tls=ours[DRIVER])
    try:
        assert client.call({"op": "ping"}, timeout=10.0) == {"ok": True, "echo": "ping"}
    finally:
        client.close()
    assert seen[-1] == {"op": "ping"}


@pytest.mark.parametrize("who", ["foreign CA", "another party", "plaintext"])
def test_other_clients_are_refused(server, who: str) -> None:
    address, ours, foreign, seen = server
    tls = {"foreign CA": foreign[DRIVER], "another party": ours["bob"], "plaintext": None}[who]
    before = len(seen)
    client = ControlClient(address, "alice", tls=tls)
    try:
        with pytest.raises(LinkError) as info:
            client.call({"op": "shutdown"}, timeout=3.0)
    finally:
        client.close()
    if who == "another party":  # the handshake succeeds (same CA); the node checks the name
        assert "PERMISSION_DENIED" in str(info.value) and "driver" in str(info.value)
    else:
        assert "UNAVAILABLE" in str(info.value) or "DEADLINE" in str(info.value)
    assert len(seen) == before, "the handler must not run for a refused client"


def test_driver_certificate_required_when_tls_is_on(server) -> None:
    _, ours, _, _ = server
    assert driver_tls(None) is None
    with pytest.raises(ConfigError, match="no 'driver' entry"):
        driver_tls({"alice": ours["alice"]})


def test_local_cluster_control_channel_over_tls() -> None:
    session = Session(["alice", "bob"], tls=True)
    try:
        spu = SPU(
            cluster_def(["alice", "bob"], protocol="semi2k", timeouts={"startup_s": 45}), session=session
        )
        local = spu.runner.local
        assert DRIVER in local.cluster.tls
        out = spu(lambda a: a * 3.0)(PYU("bob", session)(lambda: np.arange(4.0))())
        np.testing.assert_allclose(reveal(out), 3 * np.arange(4.0), atol=1e-4)
        # a plaintext client cannot reach a node's control service
        address = local.cluster.party("alice").control_address
        plain = ControlClient(address, "alice")
        try:
            with pytest.raises(LinkError):
                plain.call({"op": "ping"}, timeout=3.0)
        finally:
            plain.close()
    finally:
        session.shutdown()
