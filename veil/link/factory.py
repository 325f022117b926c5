"""Open a party's network link from a cluster config: `transport: tcp` (default) or `grpc`.

The link layer imports nothing from `veil.device`, so the config is taken by shape
(`ClusterLike`: what `veil.device.cluster.ClusterConfig` provides). Node processes and
production scripts call `open_link`; everything else in the config (TLS, timeouts, shaper,
certificate names) is passed the same way to either link class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from veil.errors import ConfigError
from veil.link.shaper import Shaper
from veil.link.tls import TlsConfig

TRANSPORTS = ("tcp", "grpc")
DEFAULT_TRANSPORT = "tcp"


class _Timeouts(Protocol):
    link_s: float
    connect_s: float
    heartbeat_s: float


class ClusterLike(Protocol):
    """The parts of a cluster config a link needs."""

    transport: str
    world: int
    timeouts: _Timeouts
    tls: Mapping[str, TlsConfig] | None

    @property
    def link_names(self) -> list[str]: ...

    def rank_of(self, name: str) -> int: ...

    def link_addresses(self) -> dict[int, str]: ...

    def make_shaper(self) -> Shaper | None: ...


def link_class(transport: str) -> type:
    """TcpLink or GrpcLink by name; ConfigError for anything else."""
    if transport == "tcp":
        from veil.link.tcp import TcpLink

        return TcpLink
    if transport == "grpc":
        from veil.link.grpc import GrpcLink

        return GrpcLink
    raise ConfigError(f"link transport {transport!r} is unknown; use one of {list(TRANSPORTS)}")


def open_link(cluster: ClusterLike, party: str, **extra: Any) -> Any:
    """This party's link to the cluster (TLS, timeouts and shaper from the config).

    `extra` goes to the link constructor as is (e.g. on_wire for audits, bind).
    """
    t = cluster.timeouts
    tls = cluster.tls.get(party) if cluster.tls else None
    cls = link_class(getattr(cluster, "transport", DEFAULT_TRANSPORT))
    return cls(
        cluster.rank_of(party), cluster.world, cluster.link_addresses(), tls=tls, timeout=t.link_s,
        connect_timeout=t.connect_s, heartbeat_s=t.heartbeat_s, shaper=cluster.make_shaper(),
        peer_names=dict(enumerate(cluster.link_names)) if tls else None, **extra,
    )  # fmt: skip
