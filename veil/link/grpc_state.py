"""Inbound state of one gRPC link endpoint: mailboxes, what is known about each peer, failures.

Mirrors `MemoryHub`'s receive side for one party: FIFO mailboxes per (peer, tag), waits that time
out, and failures that wake every waiter. Peer liveness is judged here from what the party hears:
any message (data or heartbeat) refreshes a peer; a stream that ends without CLOSE, a silence of
`misses` heartbeats, or no contact before the connect deadline makes the peer failed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from veil.errors import LinkError, LinkTimeoutError, PartyError
from veil.link.base import PeerClosedError, party_name
from veil.link.shaper import Shaper
from veil.link.wire import Frame


@dataclass
class PeerStatus:
    """What this party knows about one peer."""

    address: str
    last_heard: float | None = None  # monotonic time of the last message from it
    inbound: bool = False  # its stream to us is open
    closed: bool = False  # it sent CLOSE (clean shutdown)
    broken: str | None = None  # it sent malformed data: recv from it raises LinkError
    lost_at: float | None = None  # our stream to it broke at this time
    lost_detail: str = ""
    out_error: str = ""  # the last error of our connection attempts to it


class Mailroom:
    """Mailboxes and peer states of one party, guarded by one condition variable."""

    def __init__(
        self, rank: int, world: int, addresses: dict[int, str], timeout: float, shaper: Shaper | None
    ) -> None:
        self.rank = rank
        self.world = world
        self.timeout = timeout
        self.shaper = shaper
        self.cond = threading.Condition()
        self.peers = {p: PeerStatus(a) for p, a in addresses.items() if p != rank}
        self._boxes: dict[tuple[int, str], deque[tuple[float, Frame]]] = {}
        self._failures: list[tuple[int | str, str]] = []
        self._failed: set[int | str] = set()

    def name(self, rank: int) -> int | str:
        return party_name(rank, self.world)

    # -- events (called by the server handler, the senders and the monitor) -------------------------

    def heard(self, peer: int) -> None:
        with self.cond:
            self.peers[peer].last_heard = time.monotonic()

    def deliver(self, peer: int, frame: Frame, wire_bytes: int) -> None:
        visible = self.shaper.schedule(peer, self.rank, wire_bytes) if self.shaper else 0.0
        with self.cond:
            self._boxes.setdefault((peer, frame.tag), deque()).append((visible, frame))
            self.cond.notify_all()

    def mark_failed(self, who: int | str, reason: str) -> None:
        """Record that `who` failed and wake every waiter (idempotent per party)."""
        with self.cond:
            if who not in self._failed:
                self._failed.add(who)
                self._failures.append((who, reason))
            self.cond.notify_all()

    def mark_closed(self, peer: int) -> None:
        with self.cond:
            self.peers[peer].closed = True
            self.cond.notify_all()

    def mark_broken(self, peer: int, reason: str) -> None:
        with self.cond:
            st = self.peers[peer]
            if st.broken is None and not st.closed:
                st.broken = reason
            self.cond.notify_all()

    def stream_ended(self, peer: int, detail: str) -> None:
        """The peer's stream to us ended; without a CLOSE first, the peer is gone."""
        with self.cond:
            st = self.peers[peer]
            st.inbound = False
            gone = not st.closed and st.broken is None
        if gone:
            self.mark_failed(
                self.name(peer), f"unreachable: its connection closed without a close message ({detail})"
            )

    def check_liveness(self, heartbeat_s: float, misses: int, connect_deadline: float) -> None:
        """Mark failed every open peer silent for `misses` heartbeats or never heard by the deadline."""
        now = time.monotonic()
        found: list[tuple[int, str]] = []
        with self.cond:
            for peer, st in self.peers.items():
                if st.closed or st.broken is not None or self.name(peer) in self._failed:
                    continue
                if st.last_heard is None and now > connect_deadline:
                    why = f"; last connection error: {st.out_error}" if st.out_error else ""
                    found.append(
                        (peer, f"unreachable: it never connected to party {self.name(self.rank)}{why}")
                    )
                elif st.last_heard is not None and now - st.last_heard > misses * heartbeat_s:
                    found.append(
                        (peer, f"unreachable: silent for {now - st.last_heard:.1f} s (no heartbeat)")
                    )
                elif st.lost_at is not None and now - st.lost_at > heartbeat_s:
                    found.append((peer, f"unreachable: {st.lost_detail}"))
        for peer, reason in found:
            self.mark_failed(self.name(peer), reason)

    def is_gone(self, peer: int) -> bool:
        """The peer closed, sent malformed data or failed: nothing more will be exchanged with it."""
        with self.cond:
            st = self.peers[peer]
            return st.closed or st.broken is not None or self.name(peer) in self._failed

    # -- waits -----------------------------------------------------------------------------------

    def raise_if_failed(self) -> None:
        """PartyError for the earliest failure of another party; LinkError if this party failed."""
        me = self.name(self.rank)
        with self.cond:
            failures = list(self._failures)
        for who, reason in failures:
            if who != me:
                raise PartyError(who, reason)
        if failures:
            raise LinkError(f"party {me}: this party already failed ({failures[0][1]})")

    def take(self, src: int, tag: str) -> Frame:
        """Pop the oldest visible frame from `src` under `tag`, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + self.timeout
        me, peer = self.name(self.rank), self.name(src)
        with self.cond:
            while True:
                self.raise_if_failed()
                box = self._boxes.get((src, tag))
                now = time.monotonic()
                wake = deadline
                st = self.peers[src]
                if box:
                    visible, frame = box[0]
                    if visible <= now:
                        box.popleft()
                        return frame
                    wake = min(visible, deadline)
                elif st.broken is not None:
                    raise LinkError(f"party {me}: recv from party {peer} (tag '{tag}'): {st.broken}")
                elif st.closed:
                    raise PeerClosedError(
                        f"party {me}: recv from party {peer} (tag '{tag}'): the peer closed its link "
                        "without sending it; check that both sides run the same protocol steps"
                    )
                if now >= deadline:
                    raise LinkTimeoutError(
                        f"party {me}: recv from party {peer} (tag '{tag}') timed out after "
                        f"{self.timeout:g} s; the peer is slow, stuck or sent under another tag "
                        "(raise the timeout or check the protocol's tags)"
                    )
                self.cond.wait(wake - now)
