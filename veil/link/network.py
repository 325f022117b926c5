"""What the two network links (`TcpLink`, `GrpcLink`) share: argument checks and the Link API
parts that only touch the `grpc_state.Mailroom` and `LinkStats`.

A subclass calls `_setup` first (rank, stats, the `grpc_state.Mailroom`, flags), and implements
`send`'s delivery, `fail`, `wait_ready` and `close`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.errors import ConfigError, LinkError
from veil.link.base import party_name
from veil.link.collectives import CollectivesMixin
from veil.link.grpc_state import Mailroom
from veil.link.stats import LinkStats
from veil.link.wire import encode_frame

if TYPE_CHECKING:
    from typing import Self

    from veil.link.shaper import Shaper


def validate_link_args(
    kind: str,
    rank: int,
    world: int,
    addresses: Mapping[int, str],
    timeout: float,
    connect_timeout: float,
    heartbeat_s: float,
) -> None:
    """ConfigError naming `kind` (the link class) for a bad rank, address map or timeout."""
    if world < 1 or not 0 <= rank <= world:
        raise ConfigError(f"{kind}: rank {rank} is not in 0..{world} (world={world})")
    missing = sorted((set(range(world)) | {rank}) - set(addresses))
    extra = sorted(r for r in addresses if not 0 <= r <= world)
    if missing or extra:
        raise ConfigError(
            f"{kind}(rank={rank}): addresses must list ranks 0..{world - 1}, this rank and "
            f"optionally the dealer ({world}); missing {missing}, unknown {extra}"
        )
    for r, a in addresses.items():
        host, sep, port = str(a).rpartition(":")
        if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{kind}: address of rank {r} is {a!r}; expected 'host:port'")
    for name, value in (
        ("timeout", timeout),
        ("connect_timeout", connect_timeout),
        ("heartbeat_s", heartbeat_s),
    ):
        if not value > 0:
            raise ConfigError(f"{kind}: {name} must be > 0 seconds, got {value}")


class NetworkLink(CollectivesMixin, ABC):
    """Peer checks, framing with the round stamp, `recv` from the mailroom, context manager."""

    rank: int
    world: int
    stats: LinkStats
    timeout: float
    _room: Mailroom
    _closed: bool
    _tls: Any

    def _setup(
        self,
        rank: int,
        world: int,
        addresses: Mapping[int, str],
        tls: Any,
        timeout: float,
        connect_timeout: float,
        heartbeat_s: float,
        shaper: Shaper | None,
        peer_names: Mapping[int, str] | None,
        max_message: int,
    ) -> None:
        """Validate the constructor arguments both links share and set their common state."""
        validate_link_args(type(self).__name__, rank, world, addresses, timeout, connect_timeout, heartbeat_s)
        self.rank, self.world = rank, world
        self.stats = LinkStats(rank, world)
        self.addresses = {int(r): str(a) for r, a in addresses.items()}
        self.timeout = timeout
        self._tls = tls
        self._peer_names = dict(peer_names) if peer_names else None
        self._heartbeat_s = heartbeat_s
        self._max_message = max_message
        self._room = Mailroom(rank, world, self.addresses, timeout, shaper)
        self._lock = threading.Lock()
        self._closing = self._closed = False
        self._stop = threading.Event()

    def _name(self, rank: int) -> int | str:
        return party_name(rank, self.world)

    def _check_peer(self, peer: int, what: str, tag: str) -> None:
        if self._closed:
            raise LinkError(f"party {self._name(self.rank)}: {what} '{tag}' on a closed link")
        if peer not in self._room.peers:
            raise LinkError(
                f"party {self._name(self.rank)}: {what} '{tag}' with invalid peer {peer}; "
                f"peers are {sorted(self._room.peers)}"
            )

    def _frame_for(self, to: int, tag: str, array: np.ndarray) -> bytes | None:
        """The wire frame of one `send` (counted in the stats), or None if `to` already closed
        (like memory.py, posting to a closed peer is silent)."""
        self._check_peer(to, "send", tag)
        self._room.raise_if_failed()
        arr = np.asarray(array)
        frame = encode_frame(tag, arr, self.stats.peek_stamp(to))
        self.stats.on_send(to, arr.nbytes)
        return None if self._room.peers[to].closed else frame

    def recv(self, frm: int, tag: str) -> np.ndarray:
        """The next array `frm` sent under `tag` (FIFO); times out, or raises PartyError/LinkError."""
        self._check_peer(frm, "recv", tag)
        frame = self._room.take(frm, tag)
        self.stats.on_recv(frm, frame.array.nbytes, frame.depth)
        return frame.array

    @abstractmethod
    def fail(self, reason: str) -> None:
        """Mark this party failed and tell every peer (the link's own mechanism)."""

    @abstractmethod
    def close(self) -> None:
        """Send CLOSE to every peer, then release the link's threads and sockets."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """On an exception, fail the link (peers learn why), then close it."""
        if exc is not None:
            self.fail(repr(exc)[:2000])
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self._name(self.rank)}, world={self.world}, tls={self._tls is not None})"
