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

or SecretFlow's SPU form `{"nodes": [{"party", "address"}], "runtime_config": {...}}` (what
`cluster_def` builds). Every problem raises `ConfigError` naming the field and the fix.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from veil.config import ApproxConfig, RuntimeConfig
from veil.errors import ConfigError
from veil.link.shaper import PRESETS, Shaper
from veil.link.tls import TlsConfig

LOCAL_DEALER = "dealer"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_TOP_KEYS = {
    "parties", "nodes", "compute", "data_owners", "dealer", "allow_colocated_dealer", "protocol",
    "field", "runtime_config", "tls", "timeouts", "shaper",
}  # fmt: skip


class ColocatedDealerWarning(UserWarning):
    """The semi2k dealer runs inside a compute party's trust domain: that party could cheat."""


@dataclass(frozen=True)
class PartySpec:
    """One party: its name, the `host:port` of its link, and (for driver-controlled nodes) of its control service."""

    name: str
    address: str | None = None
    control_address: str | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds. link_s bounds each receive; heartbeat_s paces failure detection (3 misses = dead);
    startup_s bounds node start-up; job_s bounds one job as seen by the driver."""

    link_s: float = 60.0
    connect_s: float = 30.0
    heartbeat_s: float = 2.0
    startup_s: float = 60.0
    job_s: float = 3600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ConfigError(
                    f"cluster config: timeouts.{f.name}={value!r}: must be a number of seconds > 0"
                )


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
        parties = _parse_parties(doc[key], key)
        names = [p.name for p in parties]
        compute = _name_list(doc.get("compute", names), "compute", names)
        owners = _name_list(doc.get("data_owners", names), "data_owners", names)
        timeouts = _parse_timeouts(doc.get("timeouts", {}))
        runtime = _parse_runtime(doc, len(compute), timeouts.link_s)
        dealer = _parse_dealer(doc.get("dealer"), runtime, names, any(p.address for p in parties))
        cfg = cls(
            parties=tuple(parties),
            runtime=runtime,
            compute=tuple(compute),
            data_owners=tuple(owners),
            dealer=dealer,
            allow_colocated_dealer=_bool(doc.get("allow_colocated_dealer", False), "allow_colocated_dealer"),
            tls=_parse_tls(doc.get("tls"), compute + ([dealer.name] if dealer else [])),
            timeouts=timeouts,
            shaper=_parse_shaper(doc.get("shaper")),
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
    **runtime_config: Any,
) -> dict[str, Any]:
    """SecretFlow's SPU cluster definition: {'nodes': [{'party', 'address'}], 'runtime_config': {...}}.

    Addresses may be left out in local mode (the launcher picks loopback ports). `timeouts` and
    `shaper` (veil extras) become top-level keys of the config.
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
    return doc


def _spec_dict(p: PartySpec) -> dict[str, Any]:
    return {
        k: v
        for k, v in (("name", p.name), ("address", p.address), ("control_address", p.control_address))
        if v
    }


def _approx_dict(a: ApproxConfig) -> dict[str, Any]:
    return {f.name: (v.value if hasattr(v, "value") else v) for f in fields(a) for v in [getattr(a, f.name)]}


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(
            f"cluster config: {where}={name!r}: a party name must be a non-empty [A-Za-z0-9._-]+ string"
        )
    return name


def check_address(address: Any, where: str) -> str:
    """'host:port' with a port in 1..65535, or ConfigError naming `where`."""
    host, sep, port = str(address).rpartition(":") if isinstance(address, str) else ("", "", "")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(
            f"cluster config: {where}={address!r}: expected 'host:port' with a port in 1..65535"
        )
    return address  # type: ignore[return-value]


def _parse_parties(items: Any, key: str) -> list[PartySpec]:
    if not isinstance(items, list) or not items:
        raise ConfigError(f"cluster config: '{key}' must be a non-empty list of parties")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError(f"cluster config: {key}[{i}] must be a mapping with 'name' and 'address'")
        name_key = "party" if key == "nodes" else "name"
        extra = sorted(set(item) - {name_key, "address", "control_address", "id"})
        if extra:
            raise ConfigError(f"cluster config: {key}[{i}] has unknown keys {extra}")
        name = _check_name(item.get(name_key), f"{key}[{i}].{name_key}")
        addr = item.get("address")
        ctl = item.get("control_address")
        out.append(PartySpec(
            name,
            check_address(addr, f"{key}[{i}].address") if addr is not None else None,
            check_address(ctl, f"{key}[{i}].control_address") if ctl is not None else None,
        ))  # fmt: skip
    names = [p.name for p in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"cluster config: party names must be distinct; {dup} appear twice in '{key}'")
    addrs = [p.address for p in out if p.address]
    dup_a = sorted({a for a in addrs if addrs.count(a) > 1})
    if dup_a:
        raise ConfigError(f"cluster config: addresses {dup_a} are used by two parties in '{key}'")
    return out


def _name_list(value: Any, key: str, names: list[str]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"cluster config: '{key}' must be a non-empty list of party names")
    bad = [v for v in value if v not in names]
    if bad:
        raise ConfigError(f"cluster config: {key} names unknown parties {bad}; parties are {names}")
    if len(set(value)) != len(value):
        raise ConfigError(f"cluster config: '{key}' lists a party twice: {value}")
    return list(value)


def _parse_timeouts(doc: Any) -> Timeouts:
    if not isinstance(doc, Mapping):
        raise ConfigError("cluster config: 'timeouts' must be a mapping like {link_s: 60}")
    allowed = [f.name for f in fields(Timeouts)]
    bad = sorted(set(doc) - set(allowed))
    if bad:
        raise ConfigError(f"cluster config: unknown timeouts {bad}; allowed are {allowed}")
    return Timeouts(**doc)


def _parse_runtime(doc: Mapping[str, Any], world: int, link_s: float) -> RuntimeConfig:
    rc = dict(doc.get("runtime_config") or {})
    if not isinstance(doc.get("runtime_config", {}), Mapping):
        raise ConfigError(
            "cluster config: 'runtime_config' must be a mapping like {protocol: semi2k, field: FM64}"
        )
    for key in ("protocol", "field"):
        if key in doc:
            if key in rc and rc[key] != doc[key]:
                raise ConfigError(
                    f"cluster config: '{key}' is given twice with different values ({doc[key]!r}, {rc[key]!r})"
                )
            rc[key] = doc[key]
    allowed = {"protocol", "field", "fxp_bits", "trunc", "approx", "seed"}
    bad = sorted(set(rc) - allowed)
    if bad:
        raise ConfigError(f"cluster config: unknown runtime_config keys {bad}; allowed are {sorted(allowed)}")
    if "approx" in rc:
        if not isinstance(rc["approx"], Mapping):
            raise ConfigError(
                "cluster config: runtime_config.approx must be a mapping of ApproxConfig fields"
            )
        try:
            rc["approx"] = ApproxConfig(**rc["approx"])
        except TypeError as e:
            raise ConfigError(f"cluster config: runtime_config.approx: {e}") from None
    if isinstance(rc.get("seed"), str):
        try:
            rc["seed"] = bytes.fromhex(rc["seed"])
        except ValueError:
            raise ConfigError("cluster config: runtime_config.seed must be 64 hex digits") from None
    for key in ("protocol", "field"):
        if key in rc and not isinstance(rc[key], str):
            rc[key] = getattr(rc[key], "name", rc[key])  # SecretFlow enums (spu.ProtocolKind.SEMI2K)
    try:
        return RuntimeConfig(world_size=world, link_timeout_s=float(link_s), **rc)
    except ConfigError as e:
        raise ConfigError(f"cluster config: runtime_config: {e} (compute parties: {world})") from None


def _parse_dealer(doc: Any, runtime: RuntimeConfig, names: list[str], deployed: bool) -> PartySpec | None:
    from veil.mpc.protocols import needs_dealer

    if not needs_dealer(runtime):
        if doc is not None:
            raise ConfigError(
                f"cluster config: 'dealer' is set but protocol {runtime.protocol.value} has no dealer; remove it"
            )
        return None
    if doc is None:
        if deployed:
            raise ConfigError(
                "cluster config: semi2k needs a 'dealer: {name, address}' (its own node); "
                "or use aby3 (3 parties, no dealer)"
            )
        if LOCAL_DEALER in names:
            raise ConfigError(
                f"cluster config: a party is named {LOCAL_DEALER!r}; name the dealer explicitly: dealer: {{name: ...}}"
            )
        return PartySpec(LOCAL_DEALER)
    if isinstance(doc, str):
        doc = {"name": doc}
    if not isinstance(doc, Mapping) or set(doc) - {"name", "address", "control_address"}:
        raise ConfigError("cluster config: 'dealer' must be a mapping {name, address[, control_address]}")
    name = _check_name(doc.get("name", LOCAL_DEALER), "dealer.name")
    addr = doc.get("address")
    ctl = doc.get("control_address")
    return PartySpec(
        name,
        check_address(addr, "dealer.address") if addr is not None else None,
        check_address(ctl, "dealer.control_address") if ctl is not None else None,
    )


def _parse_tls(doc: Any, names: list[str]) -> dict[str, TlsConfig] | None:
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise ConfigError("cluster config: 'tls' must map each party to {ca, cert, key} file paths")
    missing = [n for n in names if n not in doc]
    if missing:
        raise ConfigError(
            f"cluster config: tls has no entry for {missing}; every party on the link needs one (or drop 'tls')"
        )
    out = {}
    for name, files in doc.items():
        if not isinstance(files, Mapping) or set(files) != {"ca", "cert", "key"}:
            raise ConfigError(f"cluster config: tls.{name} must be {{ca, cert, key}} (PEM file paths)")
        try:
            out[str(name)] = TlsConfig(Path(files["ca"]), Path(files["cert"]), Path(files["key"]))
        except ConfigError as e:
            raise ConfigError(f"cluster config: tls.{name}: {e}") from None
    return out


def _parse_shaper(doc: Any) -> tuple[float, float | None] | None:
    if doc is None:
        return None
    if isinstance(doc, str):
        if doc not in PRESETS:
            raise ConfigError(f"cluster config: shaper={doc!r}: presets are {sorted(PRESETS)}")
        return PRESETS[doc]
    if not isinstance(doc, Mapping) or not set(doc) <= {"latency_ms", "bandwidth_mbps"}:
        raise ConfigError("cluster config: 'shaper' must be a preset name or {latency_ms, bandwidth_mbps}")
    latency, bw = doc.get("latency_ms", 0.0), doc.get("bandwidth_mbps")
    if not isinstance(latency, (int, float)) or latency < 0:
        raise ConfigError(f"cluster config: shaper.latency_ms={latency!r}: must be a number >= 0")
    if bw is not None and (not isinstance(bw, (int, float)) or bw <= 0):
        raise ConfigError(f"cluster config: shaper.bandwidth_mbps={bw!r}: must be a number > 0")
    return float(latency) / 1e3, None if bw is None else float(bw) * 1e6


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"cluster config: '{key}' must be true or false, got {value!r}")
    return value


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
