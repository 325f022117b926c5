"""Cluster configuration: who the parties are, where they listen, and how the job runs.

A cluster config is a dict or a YAML file, in veil's own form

    parties:                       # every party: compute parties and data owners
      - {name: alice, address: "10.0.0.1:9100", control_address: "127.0.0.1:9200"}
      - {name: bob,   address: "10.0.0.2:9100"}
    compute: [alice, bob]          # default: all parties
    data_owners: [alice, bob]      # default: all parties
    dealer: {name: dealer, address: "10.0.0.3:9100"}   # semi2k only; never a compute party
    allow_colocated_dealer: false  # true lets a compute party also run the dealer (a warning is printed)
    protocol: semi2k               # or inside runtime_config
    field: FM64
    runtime_config: {fxp_bits: 18}
    tls: {alice: {ca: ca.pem, cert: alice.pem, key: alice.key}, ...}   # every link endpoint, or none
    timeouts: {link_s: 60, connect_s: 30, heartbeat_s: 2, startup_s: 60, job_s: 3600}
    shaper: 100mbit_10ms           # emulated WAN for benchmarks: a preset, or {latency_ms, bandwidth_mbps}
    transport: tcp                 # party link: tcp (default, lowest latency) or grpc

or SecretFlow's SPU form `{"nodes": [{"party", "address"}], "runtime_config": {...}}` (what
`cluster_def` builds). Every problem raises `ConfigError` naming the field and the fix.
This module assembles and queries the whole config; the per-field validators and the
`PartySpec`/`Timeouts` values are in `veil.device.cluster_fields` (re-exported here).
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from veil.config import ApproxConfig, RuntimeConfig
from veil.device.cluster_fields import (
    LOCAL_DEALER,
    PartySpec,
    Timeouts,
    check_address,
    parse_bool,
    parse_dealer,
    parse_name_list,
    parse_parties,
    parse_runtime,
    parse_shaper,
    parse_timeouts,
    parse_tls,
    parse_transport,
)
from veil.errors import ConfigError
from veil.link.shaper import Shaper
from veil.link.tls import TlsConfig

__all__ = [
    "LOCAL_DEALER",
    "ClusterConfig",
    "ColocatedDealerWarning",
    "PartySpec",
    "Timeouts",
    "check_address",
    "cluster_def",
]

_TOP_KEYS = {
    "parties", "nodes", "compute", "data_owners", "dealer", "allow_colocated_dealer", "protocol",
    "field", "runtime_config", "tls", "timeouts", "shaper", "transport",
}  # fmt: skip


class ColocatedDealerWarning(UserWarning):
    """The semi2k dealer runs inside a compute party's trust domain: that party could cheat."""


@dataclass(frozen=True)
class ClusterConfig:
    """A validated cluster: the link ranks are the compute parties in order, then the dealer."""

    parties: tuple[PartySpec, ...]
    runtime: RuntimeConfig
    compute: tuple[str, ...]
    data_owners: tuple[str, ...]
    dealer: PartySpec | None = None
    allow_colocated_dealer: bool = False
    tls: Mapping[str, TlsConfig] | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    shaper: tuple[float, float | None] | None = None  # (one-way latency s, bandwidth bit/s or None)
    transport: str = "tcp"  # the party link: "tcp" (TcpLink) or "grpc" (GrpcLink)

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ClusterConfig:
        """Parse and validate a config dict (veil's form or SecretFlow's `nodes` form)."""
        if not isinstance(doc, Mapping):
            raise ConfigError(f"cluster config must be a mapping, got {type(doc).__name__}")
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            raise ConfigError(f"cluster config: unknown keys {unknown}; allowed are {sorted(_TOP_KEYS)}")
        if ("parties" in doc) == ("nodes" in doc):
            raise ConfigError(
                "cluster config: give exactly one of 'parties' (veil) or 'nodes' (SecretFlow form)"
            )
        key = "parties" if "parties" in doc else "nodes"
        parties = parse_parties(doc[key], key)
        names = [p.name for p in parties]
        compute = parse_name_list(doc.get("compute", names), "compute", names)
        owners = parse_name_list(doc.get("data_owners", names), "data_owners", names)
        timeouts = parse_timeouts(doc.get("timeouts", {}))
        runtime = parse_runtime(doc, len(compute), timeouts.link_s)
        dealer = parse_dealer(doc.get("dealer"), runtime, names, any(p.address for p in parties))
        cfg = cls(
            parties=tuple(parties),
            runtime=runtime,
            compute=tuple(compute),
            data_owners=tuple(owners),
            dealer=dealer,
            allow_colocated_dealer=parse_bool(
                doc.get("allow_colocated_dealer", False), "allow_colocated_dealer"
            ),
            tls=parse_tls(doc.get("tls"), compute + ([dealer.name] if dealer else [])),
            timeouts=timeouts,
            shaper=parse_shaper(doc.get("shaper")),
            transport=parse_transport(doc.get("transport", "tcp")),
        )
        cfg.check_dealer_placement()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClusterConfig:
        """Read a YAML cluster file (relative TLS paths are taken from the file's directory)."""
        import yaml

        p = Path(path)
        try:
            doc = yaml.safe_load(p.read_text())
        except OSError as e:
            raise ConfigError(f"cluster config {p}: cannot read it ({e})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"cluster config {p}: invalid YAML ({e})") from None
        if isinstance(doc, dict) and isinstance(doc.get("tls"), dict):
            doc["tls"] = {
                k: {kk: str(p.parent / vv) if isinstance(vv, str) else vv for kk, vv in v.items()}
                if isinstance(v, dict) else v
                for k, v in doc["tls"].items()
            }  # fmt: skip
        return cls.from_dict(doc or {})

    @classmethod
    def load(cls, source: ClusterConfig | Mapping[str, Any] | str | Path) -> ClusterConfig:
        """A ClusterConfig from itself, a dict, or a YAML path."""
        if isinstance(source, ClusterConfig):
            return source
        if isinstance(source, (str, Path)):
            return cls.from_yaml(source)
        return cls.from_dict(source)

    # -- queries -----------------------------------------------------------------------------------

    def party(self, name: str) -> PartySpec:
        """The spec of a party or of the dealer, by name."""
        for p in (*self.parties, *([self.dealer] if self.dealer else [])):
            if p.name == name:
                return p
        known = [p.name for p in self.parties] + ([self.dealer.name] if self.dealer else [])
        raise ConfigError(f"cluster config: no party named {name!r}; known parties are {known}")

    @property
    def world(self) -> int:
        return len(self.compute)

    @property
    def link_names(self) -> list[str]:
        """Names by link rank: compute parties 0..world-1, then the dealer if any."""
        return list(self.compute) + ([self.dealer.name] if self.dealer else [])

    def rank_of(self, name: str) -> int:
        names = self.link_names
        if name not in names:
            raise ConfigError(f"party {name!r} is not on the link (compute parties and dealer: {names})")
        return names.index(name)

    def name_of(self, rank: int | str) -> str:
        """The party name behind a link rank (or the 'dealer' label links use)."""
        if rank == "dealer" and self.dealer:
            return self.dealer.name
        names = self.link_names
        return names[rank] if isinstance(rank, int) and 0 <= rank < len(names) else str(rank)

    def link_addresses(self) -> dict[int, str]:
        """{rank: address} of everything on the link; ConfigError if an address is missing."""
        out = {}
        for rank, name in enumerate(self.link_names):
            address = self.party(name).address
            if not address:
                raise ConfigError(f"cluster config: party {name!r} has no 'address' (host:port of its link)")
            out[rank] = address
        return out

    def with_addresses(self, links: Mapping[str, str], controls: Mapping[str, str]) -> ClusterConfig:
        """A copy with these link/control addresses (the local launcher fills them in)."""
        from dataclasses import replace

        def upd(p: PartySpec) -> PartySpec:
            return replace(
                p,
                address=links.get(p.name, p.address),
                control_address=controls.get(p.name, p.control_address),
            )

        return replace(
            self,
            parties=tuple(upd(p) for p in self.parties),
            dealer=upd(self.dealer) if self.dealer else None,
        )

    def make_shaper(self) -> Shaper | None:
        """A fresh link shaper for one party (None: no emulated WAN)."""
        return None if self.shaper is None else Shaper(*self.shaper)

    def check_dealer_placement(self) -> None:
        """Refuse (or, if allowed, warn about) a dealer inside a compute party's trust domain."""
        if self.dealer is None:
            return
        if self.dealer.name in [p.name for p in self.parties]:
            raise ConfigError(
                f"cluster config: dealer.name={self.dealer.name!r} is also a party; give the dealer its own "
                "name (e.g. 'dealer'), and its own host"
            )
        same = [c for c in self.compute if _same_host(self.party(c).address, self.dealer.address)]
        if not same:
            return
        msg = (
            f"the semi2k dealer {self.dealer.name!r} is colocated with compute party {same[0]!r}: that party "
            "could learn the correlated randomness and with it the other parties' secrets"
        )
        if not self.allow_colocated_dealer:
            raise ConfigError(
                f"cluster config: {msg}; give the dealer its own host, or set allow_colocated_dealer: true"
            )
        warnings.warn(
            msg + " (allowed by allow_colocated_dealer: true)", ColocatedDealerWarning, stacklevel=3
        )

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (veil's form), e.g. to write a YAML file for node processes."""
        rt = self.runtime
        doc: dict[str, Any] = {
            "parties": [_spec_dict(p) for p in self.parties],
            "compute": list(self.compute),
            "data_owners": list(self.data_owners),
            "protocol": rt.protocol.value,
            "field": rt.field.name,
            "runtime_config": {
                "fxp_bits": rt.fxp_bits,
                "trunc": rt.trunc.value,
                "approx": _approx_dict(rt.approx),
            },
            "allow_colocated_dealer": self.allow_colocated_dealer,
            "timeouts": {f.name: getattr(self.timeouts, f.name) for f in fields(self.timeouts)},
            "transport": self.transport,
        }
        if rt.seed is not None:
            doc["runtime_config"]["seed"] = rt.seed.hex()
        if self.dealer:
            doc["dealer"] = _spec_dict(self.dealer)
        if self.shaper is not None:
            latency, bw = self.shaper
            doc["shaper"] = {"latency_ms": latency * 1e3, **({"bandwidth_mbps": bw / 1e6} if bw else {})}
        if self.tls:
            doc["tls"] = {
                n: {"ca": str(t.ca_cert), "cert": str(t.cert), "key": str(t.key)} for n, t in self.tls.items()
            }
        return doc


# ----------------------------------------------------------------------------- helpers


def cluster_def(
    parties: Sequence[str],
    protocol: str = "semi2k",
    field: str = "FM64",
    addresses: Mapping[str, str] | None = None,
    timeouts: Mapping[str, float] | None = None,
    shaper: str | Mapping[str, float] | None = None,
    transport: str | None = None,
    **runtime_config: Any,
) -> dict[str, Any]:
    """SecretFlow's SPU cluster definition: {'nodes': [{'party', 'address'}], 'runtime_config': {...}}.

    Addresses may be left out in local mode (the launcher picks loopback ports). `timeouts`,
    `shaper` and `transport` (veil extras) become top-level keys of the config.
    """
    if isinstance(parties, str) or not parties:
        raise ConfigError(f"cluster_def: parties must be a non-empty list of names, got {parties!r}")
    addresses = dict(addresses or {})
    nodes = [{"party": p, **({"address": addresses[p]} if p in addresses else {})} for p in parties]
    doc: dict[str, Any] = {
        "nodes": nodes,
        "runtime_config": {"protocol": protocol, "field": field, **runtime_config},
    }
    if timeouts:
        doc["timeouts"] = dict(timeouts)
    if shaper is not None:
        doc["shaper"] = shaper if isinstance(shaper, str) else dict(shaper)
    if transport is not None:
        doc["transport"] = transport
    return doc


def _spec_dict(p: PartySpec) -> dict[str, Any]:
    return {
        k: v
        for k, v in (("name", p.name), ("address", p.address), ("control_address", p.control_address))
        if v
    }


def _approx_dict(a: ApproxConfig) -> dict[str, Any]:
    return {f.name: (v.value if hasattr(v, "value") else v) for f in fields(a) for v in [getattr(a, f.name)]}


def _same_host(a: str | None, b: str | None) -> bool:
    """Two addresses on one machine (loopback does not count: that is a one-machine test setup)."""
    if not a or not b:
        return False
    ha, hb = a.rpartition(":")[0].strip("[]"), b.rpartition(":")[0].strip("[]")
    try:
        if ipaddress.ip_address(ha).is_loopback:
            return False
    except ValueError:
        if ha == "localhost":
            return False
    return ha == hb
