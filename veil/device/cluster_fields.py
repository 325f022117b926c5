"""The fields of a cluster config: party specs, timeouts, and one validator per key.

Each `parse_*` / `check_*` turns one key of the config dict (veil's `parties` form or
SecretFlow's `nodes` form) into a typed value, or raises `ConfigError` naming the field and the
fix. `veil.device.cluster.ClusterConfig.from_dict` assembles them; import the public names from
`veil.device.cluster` (it re-exports them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from veil.config import ApproxConfig, RuntimeConfig
from veil.errors import ConfigError
from veil.link.shaper import PRESETS
from veil.link.tls import TlsConfig

LOCAL_DEALER = "dealer"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


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


def check_name(name: Any, where: str) -> str:
    """A party name: a non-empty [A-Za-z0-9._-]+ string."""
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


def parse_parties(items: Any, key: str) -> list[PartySpec]:
    """`parties` (veil: name) or `nodes` (SecretFlow: party): distinct names and addresses."""
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
        name = check_name(item.get(name_key), f"{key}[{i}].{name_key}")
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


def parse_name_list(value: Any, key: str, names: list[str]) -> list[str]:
    """`compute` / `data_owners`: a non-empty list of distinct known party names."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"cluster config: '{key}' must be a non-empty list of party names")
    bad = [v for v in value if v not in names]
    if bad:
        raise ConfigError(f"cluster config: {key} names unknown parties {bad}; parties are {names}")
    if len(set(value)) != len(value):
        raise ConfigError(f"cluster config: '{key}' lists a party twice: {value}")
    return list(value)


def parse_timeouts(doc: Any) -> Timeouts:
    """`timeouts`: a mapping of Timeouts fields (missing ones keep their defaults)."""
    if not isinstance(doc, Mapping):
        raise ConfigError("cluster config: 'timeouts' must be a mapping like {link_s: 60}")
    allowed = [f.name for f in fields(Timeouts)]
    bad = sorted(set(doc) - set(allowed))
    if bad:
        raise ConfigError(f"cluster config: unknown timeouts {bad}; allowed are {allowed}")
    return Timeouts(**doc)


def parse_runtime(doc: Mapping[str, Any], world: int, link_s: float) -> RuntimeConfig:
    """`runtime_config` plus top-level `protocol`/`field` (they must agree) as a RuntimeConfig."""
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


def parse_dealer(doc: Any, runtime: RuntimeConfig, names: list[str], deployed: bool) -> PartySpec | None:
    """`dealer`: required for a deployed semi2k cluster, forbidden without a dealer protocol."""
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
    name = check_name(doc.get("name", LOCAL_DEALER), "dealer.name")
    addr = doc.get("address")
    ctl = doc.get("control_address")
    return PartySpec(
        name,
        check_address(addr, "dealer.address") if addr is not None else None,
        check_address(ctl, "dealer.control_address") if ctl is not None else None,
    )


def parse_tls(doc: Any, names: list[str]) -> dict[str, TlsConfig] | None:
    """`tls`: {ca, cert, key} PEM paths for every party on the link, or None (plaintext links)."""
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


def parse_shaper(doc: Any) -> tuple[float, float | None] | None:
    """`shaper`: a preset name or {latency_ms, bandwidth_mbps} as (one-way latency s, bit/s or None)."""
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


def parse_transport(value: Any) -> str:
    """`transport`: which network link party processes use, 'tcp' (default) or 'grpc'."""
    from veil.link.factory import TRANSPORTS

    if value not in TRANSPORTS:
        raise ConfigError(f"cluster config: transport={value!r}: must be one of {list(TRANSPORTS)}")
    return str(value)


def parse_bool(value: Any, key: str) -> bool:
    """A YAML boolean (no truthy strings or ints)."""
    if not isinstance(value, bool):
        raise ConfigError(f"cluster config: '{key}' must be true or false, got {value!r}")
    return value
