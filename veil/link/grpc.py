"""Network link: parties are processes (local or remote) talking gRPC, optionally over mutual TLS.

Each party runs one gRPC server at its address (`grpc_server.InboundServer`) and opens one
bidirectional stream to every peer (`grpc_peer.PeerSender`). Messages are `veil.link.wire`
frames cut into chunks (`grpc_proto`); there is no protobuf and no pickle: the method is
registered generically with raw-bytes serializers. `send` queues and returns; `recv` waits on a mailbox (`grpc_state.Mailroom`) with
the same timeout, failure and close semantics as `veil.link.memory`, and the same `LinkStats`.

Failure detection: a peer whose stream ends without CLOSE (its process died), that is silent
for 3 heartbeats, or that cannot be reached within `connect_timeout` makes every pending and
later wait raise `PartyError(peer, "unreachable: ...")`; `fail(reason)` tells every peer at once.
Malformed data from a peer makes `recv` from that peer raise `LinkError` naming it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import grpc
import numpy as np

from veil.errors import ConfigError, LinkTimeoutError
from veil.link.grpc_peer import PeerSender, WireHook
from veil.link.grpc_proto import HEADER_SIZE, Kind
from veil.link.grpc_server import MAX_REASON, InboundServer
from veil.link.network import NetworkLink
from veil.link.shaper import Shaper
from veil.link.tls import TlsConfig, channel_credentials

MiB = 1 << 20
HEARTBEAT_MISSES = 3  # a peer silent this many heartbeats is unreachable


class GrpcLink(NetworkLink):
    """One party's endpoint over gRPC (satisfies `veil.link.base.Link`).

    addresses: {rank: "host:port"} of every party in the job, this one included; the dealer
    (rank == world) takes part if listed. tls: mutual TLS files (None = plaintext, for tests on
    loopback only). timeout bounds each recv; connect_timeout bounds how long peers may take to
    come up; heartbeat_s sets failure detection (~3 heartbeats; keep it above a chunk's transfer
    time). shaper delays delivery to emulate a WAN (scheduled by the receiver on arrival, so it
    adds to the real network's latency). max_chunk: bytes per gRPC message (use the same on every party). on_wire(peer, bytes)
    sees every message this party hands to gRPC (tests). peer_names: {rank: certificate name};
    with TLS, each peer must present that name (CN of clients, SAN of servers).
    """

    def __init__(
        self,
        rank: int,
        world: int,
        addresses: Mapping[int, str],
        *,
        tls: TlsConfig | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 30.0,
        heartbeat_s: float = 2.0,
        shaper: Shaper | None = None,
        max_chunk: int = 4 * MiB,
        on_wire: WireHook | None = None,
        peer_names: Mapping[int, str] | None = None,
        bind: str | None = None,
        max_message: int = 1 << 36,
    ) -> None:
        self._setup(
            rank,
            world,
            addresses,
            tls,
            timeout,
            connect_timeout,
            heartbeat_s,
            shaper,
            peer_names,
            max_message,
        )
        if not 1 <= max_chunk <= 1 << 30:
            raise ConfigError(f"GrpcLink: max_chunk must be in 1..2^30 bytes, got {max_chunk}")
        # the sender's own report (with the connect error) comes first; this catches the rest
        self._connect_deadline = time.monotonic() + connect_timeout + heartbeat_s
        limit = max(max_chunk, 4 * MiB) + HEADER_SIZE + 1024
        self._options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]
        self._inbound = InboundServer(
            self._room,
            len(self.addresses),
            bind=bind or self.addresses[rank],
            options=self._options,
            tls=tls,
            peer_names=self._peer_names,
            max_message=max_message,
            is_closing=lambda: self._closing,
        )
        self._senders = {
            p: self._make_sender(p, max_chunk, connect_timeout, on_wire) for p in self._room.peers
        }
        for sender in self._senders.values():
            sender.start()
        self._monitor = threading.Thread(target=self._monitor_loop, name=f"veil-grpc-hb-{rank}", daemon=True)
        self._monitor.start()

    # -- setup ----------------------------------------------------------------------------------

    def _make_sender(
        self, peer: int, max_chunk: int, connect_timeout: float, on_wire: WireHook | None
    ) -> PeerSender:
        address = self.addresses[peer]
        options: list[tuple[str, Any]] = [
            *self._options,
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.min_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        if self._tls is None:
            channel = grpc.insecure_channel(address, options=options)
        else:
            name = self._peer_names.get(peer) if self._peer_names else self._tls.server_name
            if name:
                options.append(("grpc.ssl_target_name_override", name))
            channel = grpc.secure_channel(address, channel_credentials(self._tls), options=options)
        return PeerSender(
            rank=self.rank,
            peer=peer,
            address=address,
            channel=channel,
            hello=(self.world, len(self.addresses)),
            max_chunk=max_chunk,
            connect_timeout=connect_timeout,
            report=self._on_sender_event,
            on_wire=on_wire,
        )

    # -- outbound events and heartbeats --------------------------------------------------------

    def _on_sender_event(self, peer: int, event: str, detail: str) -> None:
        room = self._room
        with room.cond:
            st = room.peers[peer]
            ignore = self._closing or st.closed
            if event in ("retry", "unreachable"):
                st.out_error = detail
            elif event == "lost" and not ignore:
                st.lost_at, st.lost_detail = time.monotonic(), detail
        if event == "unreachable" and not ignore:
            room.mark_failed(self._name(peer), f"unreachable: {detail}")

    def _monitor_loop(self) -> None:
        """Every heartbeat: ping the connected peers, then judge the liveness of all of them."""
        while not self._stop.wait(self._heartbeat_s):
            for sender in self._senders.values():
                if sender.up:
                    sender.enqueue(Kind.HEARTBEAT, b"")
            self._room.check_liveness(self._heartbeat_s, HEARTBEAT_MISSES, self._connect_deadline)

    # -- Link API ------------------------------------------------------------------------------

    def send(self, to: int, tag: str, array: np.ndarray) -> None:
        """Queue a copy of `array` for party `to`; returns before it is on the network."""
        frame = self._frame_for(to, tag, array)
        if frame is not None:
            check = self._room.raise_if_failed  # a stuck peer is found by the heartbeat monitor
            self._senders[to].enqueue(Kind.DATA, frame, check=check, deadline=time.monotonic() + self.timeout)

    def fail(self, reason: str) -> None:
        """Mark this party failed and tell every connected peer (waits briefly for their ACKs)."""
        self._room.mark_failed(self._name(self.rank), reason)
        if self._closed:
            return
        data = reason.encode("utf-8", "replace")[:MAX_REASON]
        ids = {p: s.enqueue(Kind.FAIL, data, urgent=True) for p, s in self._senders.items() if s.up}
        self._await_acks(ids, time.monotonic() + min(self.timeout, 5.0))

    def _await_acks(self, ids: dict[int, int], deadline: float) -> None:
        """Wait for the ACK of each peer's message, skipping peers that finished or are gone."""
        pending = dict(ids)
        while pending and time.monotonic() < deadline:
            for peer, msg_id in list(pending.items()):
                sender = self._senders[peer]
                step = min(deadline, time.monotonic() + 0.05)
                if sender.wait_acked(msg_id, step) or sender.finished or self._room.is_gone(peer):
                    del pending[peer]

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every peer is connected both ways (e.g. before timing a benchmark)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            self._room.raise_if_failed()
            with self._room.cond:
                waiting = [p for p, st in self._room.peers.items() if not st.inbound and not st.closed]
            waiting += [p for p, s in self._senders.items() if not s.up and p not in waiting]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise LinkTimeoutError(
                    f"party {self._name(self.rank)}: parties {sorted(map(str, map(self._name, waiting)))} "
                    "not connected in time; start them or check their addresses"
                )
            time.sleep(0.01)

    def close(self) -> None:
        """Send CLOSE to every peer (after all queued data), wait for ACKs, then shut down."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        # also to peers still connecting: their queued data must go out before the CLOSE
        ids = {
            p: s.enqueue(Kind.CLOSE, b"")
            for p, s in self._senders.items()
            if not s.finished and not self._room.is_gone(p)
        }
        self._await_acks(ids, time.monotonic() + min(self.timeout, 10.0))
        self._stop.set()
        for sender in self._senders.values():
            sender.stop()
        self._inbound.stop()
        self._monitor.join(1.0)
        self._closed = True
