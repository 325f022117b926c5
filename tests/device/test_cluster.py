"""Cluster config: parsing both forms (veil's and SecretFlow's), YAML, and every validation error."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from veil.config import Field, ProtocolKind
from veil.device.cluster import ClusterConfig, ColocatedDealerWarning, cluster_def
from veil.errors import ConfigError
from veil.link.tls import generate_test_pki


def base(**changes):
    doc = {
        "parties": [
            {"name": "alice", "address": "10.0.0.1:9100"},
            {"name": "bob", "address": "10.0.0.2:9100"},
            {"name": "carol", "address": "10.0.0.3:9100"},
        ],
        "dealer": {"name": "dealer", "address": "10.0.0.9:9100"},
        "protocol": "semi2k",
        "field": "FM64",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def test_veil_form_defaults_and_ranks() -> None:
    cfg = ClusterConfig.from_dict(base(compute=["bob", "carol"], data_owners=["alice"]))
    assert cfg.compute == ("bob", "carol") and cfg.data_owners == ("alice",)
    assert cfg.runtime.world_size == 2 and cfg.runtime.protocol is ProtocolKind.SEMI2K
    assert cfg.link_names == ["bob", "carol", "dealer"]
    assert cfg.link_addresses() == {0: "10.0.0.2:9100", 1: "10.0.0.3:9100", 2: "10.0.0.9:9100"}
    assert cfg.rank_of("dealer") == 2 and cfg.name_of(0) == "bob" and cfg.name_of("dealer") == "dealer"
    assert cfg.runtime.link_timeout_s == cfg.timeouts.link_s == 60.0


def test_secretflow_form_from_cluster_def() -> None:
    doc = cluster_def(
        ["alice", "bob", "carol"], protocol="aby3", field="FM128", fxp_bits=20, timeouts={"link_s": 5}
    )
    assert doc["nodes"][0] == {"party": "alice"} and doc["runtime_config"]["protocol"] == "aby3"
    cfg = ClusterConfig.from_dict(doc)
    assert cfg.runtime.field is Field.FM128 and cfg.runtime.f == 20 and cfg.dealer is None
    assert cfg.timeouts.link_s == 5 and cfg.runtime.link_timeout_s == 5


def test_shaper_presets_and_values() -> None:
    cfg = ClusterConfig.from_dict(cluster_def(["a", "b"], shaper="100mbit_10ms"))
    assert cfg.shaper == (0.010, 100e6) and cfg.make_shaper().latency_s == 0.010
    cfg = ClusterConfig.from_dict(cluster_def(["a", "b"], shaper={"latency_ms": 5}))
    assert cfg.shaper == (0.005, None)
    assert ClusterConfig.from_dict(cfg.to_dict()).shaper == cfg.shaper
    assert ClusterConfig.from_dict(cluster_def(["a", "b"])).make_shaper() is None


@pytest.mark.parametrize("transport", ["tcp", "grpc"])
def test_transport_parses_round_trips_and_picks_the_link_class(transport: str) -> None:
    from veil.link.factory import link_class

    cfg = ClusterConfig.from_dict(base(transport=transport))
    assert cfg.transport == transport and cfg.to_dict()["transport"] == transport
    assert ClusterConfig.from_dict(cfg.to_dict()).transport == transport
    assert ClusterConfig.from_dict(cluster_def(["a", "b"], transport=transport)).transport == transport
    assert link_class(cfg.transport).__name__ == {"tcp": "TcpLink", "grpc": "GrpcLink"}[transport]
    assert ClusterConfig.from_dict(base()).transport == "tcp"  # the default


@pytest.mark.parametrize("transport", ["tcp", "grpc"])
def test_open_link_from_a_cluster_config(transport: str) -> None:
    import threading

    import numpy as np

    from veil.device.launcher import free_ports
    from veil.link.factory import open_link

    ports = free_ports(2)
    doc = cluster_def(
        ["a", "b"], protocol="ref2k", transport=transport, timeouts={"link_s": 5, "connect_s": 5}
    )
    doc["nodes"] = [{"party": p, "address": f"127.0.0.1:{port}"} for p, port in zip("ab", ports)]
    cfg = ClusterConfig.from_dict(doc)
    links = {}
    threads = [threading.Thread(target=lambda p=p: links.update({p: open_link(cfg, p)})) for p in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        assert type(links["a"]).__name__ == {"tcp": "TcpLink", "grpc": "GrpcLink"}[transport]
        assert links["a"].timeout == 5 and links["b"].rank == 1
        links["a"].send(1, "t", np.arange(3))
        assert links["b"].recv(0, "t").tolist() == [0, 1, 2]
    finally:
        for lk in links.values():
            lk.close()


def test_local_semi2k_gets_a_default_dealer() -> None:
    cfg = ClusterConfig.from_dict(cluster_def(["alice", "bob"]))
    assert cfg.dealer is not None and cfg.dealer.name == "dealer" and cfg.dealer.address is None
    with pytest.raises(ConfigError, match="no 'address'"):
        cfg.link_addresses()


def test_yaml_round_trip_with_tls(tmp_path: Path) -> None:
    generate_test_pki(tmp_path, ["alice", "bob", "dealer"])
    doc = base(parties=base()["parties"][:2])
    doc["tls"] = {
        n: {"ca": "ca.pem", "cert": f"{n}.pem", "key": f"{n}.key"} for n in ("alice", "bob", "dealer")
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = ClusterConfig.from_yaml(path)
    assert cfg.tls is not None and cfg.tls["bob"].cert == tmp_path / "bob.pem"
    again = ClusterConfig.from_dict(cfg.to_dict())
    assert again == cfg


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"parties": []}, "'parties' must be a non-empty list"),
        ({"parties": [{"name": "alice"}, {"name": "alice"}]}, "distinct"),
        ({"parties": [{"name": "a b", "address": "h:1"}]}, r"parties\[0\].name"),
        ({"parties": [{"name": "alice", "address": "10.0.0.1"}]}, r"parties\[0\].address='10.0.0.1'"),
        ({"parties": [{"name": "alice", "address": "h:70000"}]}, "port in 1..65535"),
        ({"parties": [{"name": "alice", "adress": "h:1"}]}, "unknown keys"),
        ({"compute": ["alice", "dave"]}, r"compute names unknown parties \['dave'\]"),
        ({"protocol": "spdz"}, "protocol='spdz': allowed values"),
        ({"protocol": "aby3"}, "protocol aby3 has no dealer; remove it"),
        ({"field": "FM32"}, "field='FM32'"),
        ({"timeouts": {"link_s": 0}}, r"timeouts.link_s=0"),
        ({"timeouts": {"link": 5}}, "unknown timeouts"),
        ({"runtime_config": {"fxp_bits": 40}}, "fxp_bits=40"),
        ({"runtime_config": {"sigmoid_mode": 1}}, "unknown runtime_config keys"),
        ({"dealer": None}, r"semi2k needs a 'dealer"),
        ({"dealer": {"name": "alice", "address": "10.0.0.8:1"}}, "dealer.name='alice' is also a party"),
        ({"allow_colocated_dealer": "yes"}, "must be true or false"),
        ({"tls": {"alice": {"ca": "x"}}}, "tls has no entry"),
        ({"nodes": []}, "exactly one of 'parties'"),
        ({"bogus": 1}, "unknown keys"),
        ({"shaper": "56k_modem"}, "presets are"),
        ({"shaper": {"latency_ms": -1}}, "shaper.latency_ms=-1"),
        ({"shaper": {"bandwidth_mbps": 0}}, "shaper.bandwidth_mbps=0"),
        ({"transport": "udp"}, r"transport='udp': must be one of \['tcp', 'grpc'\]"),
        ({"transport": True}, "transport=True"),
    ],
)
def test_validation_errors_name_the_field(changes: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ClusterConfig.from_dict(base(**changes))


def test_aby3_needs_three_compute_parties() -> None:
    with pytest.raises(ConfigError, match="aby3 runs on exactly 3 parties"):
        ClusterConfig.from_dict(base(protocol="aby3", dealer=None, compute=["alice", "bob"]))


def test_tls_file_missing(tmp_path: Path) -> None:
    tls = {
        n: {"ca": str(tmp_path / "ca.pem"), "cert": "c", "key": "k"}
        for n in ("alice", "bob", "carol", "dealer")
    }
    with pytest.raises(ConfigError, match="tls.alice"):
        ClusterConfig.from_dict(base(tls=tls))


def test_colocated_dealer_refused_unless_allowed() -> None:
    doc = base(dealer={"name": "dealer", "address": "10.0.0.1:9999"})
    with pytest.raises(ConfigError, match="colocated with compute party 'alice'"):
        ClusterConfig.from_dict(doc)
    with pytest.warns(ColocatedDealerWarning, match="allow_colocated_dealer"):
        cfg = ClusterConfig.from_dict({**doc, "allow_colocated_dealer": True})
    assert cfg.dealer is not None


def test_loopback_is_not_colocation() -> None:
    doc = base(
        parties=[{"name": "alice", "address": "127.0.0.1:1"}, {"name": "bob", "address": "127.0.0.1:2"}],
        dealer={"name": "dealer", "address": "127.0.0.1:3"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ClusterConfig.from_dict(doc)


def test_unknown_party_lookup() -> None:
    cfg = ClusterConfig.from_dict(base())
    with pytest.raises(ConfigError, match="no party named 'zed'"):
        cfg.party("zed")


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("parties: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        ClusterConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="cannot read"):
        ClusterConfig.from_yaml(tmp_path / "missing.yaml")
