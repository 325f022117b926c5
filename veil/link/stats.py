"""Per-party traffic counters: payload bytes, messages and Lamport rounds, online and offline.

Why Lamport rounds: a round is one latency-bound step (send, then wait for a peer). Each online
frame carries a depth stamp = sender clock + 1; a receiver's clock becomes max(clock, stamp).
Sends issued together before the next wait share a stamp, so they count as one round, and a
chain 0 -> 1 -> 2 counts two rounds at party 2. Traffic to or from the dealer (rank == world) is
offline: it is counted apart and never moves clocks (dealer frames carry depth 0).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Counters:
    """Bytes (payload = array.nbytes, header excluded) and message counts for one traffic class."""

    bytes_sent: int = 0
    bytes_recv: int = 0
    msgs_sent: int = 0
    msgs_recv: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            self.bytes_sent + other.bytes_sent,
            self.bytes_recv + other.bytes_recv,
            self.msgs_sent + other.msgs_sent,
            self.msgs_recv + other.msgs_recv,
        )

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.bytes_sent - other.bytes_sent,
            self.bytes_recv - other.bytes_recv,
            self.msgs_sent - other.msgs_sent,
            self.msgs_recv - other.msgs_recv,
        )


@dataclass(frozen=True)
class StatsSnapshot:
    """An immutable copy of one party's counters; `b - a` gives the traffic between two snapshots.

    `rounds` of a difference is the growth of the party's round clock; it equals the rounds of the
    code run in between when every party starts that code at the same clock (e.g. after reset()).
    """

    online: Counters = field(default_factory=Counters)
    offline: Counters = field(default_factory=Counters)
    rounds: int = 0

    def __sub__(self, other: StatsSnapshot) -> StatsSnapshot:
        return StatsSnapshot(
            self.online - other.online, self.offline - other.offline, self.rounds - other.rounds
        )

    def as_dict(self) -> dict[str, int]:
        """Flat dict: online_bytes_sent, ..., offline_msgs_recv, rounds (for CSV / logs)."""
        out = {f"online_{k}": v for k, v in asdict(self.online).items()}
        out.update({f"offline_{k}": v for k, v in asdict(self.offline).items()})
        out["rounds"] = self.rounds
        return out


@dataclass(frozen=True)
class JobStats:
    """Totals over all parties of one job, in the units of `veil.mpc.kernels.Cost`.

    rounds: max over compute parties; online_bytes / online_msgs: sent by compute parties to
    compute parties; offline_bytes / offline_msgs: sent to or by the dealer.
    """

    rounds: int = 0
    online_bytes: int = 0
    offline_bytes: int = 0
    online_msgs: int = 0
    offline_msgs: int = 0


def job_stats(snapshots: Mapping[int, StatsSnapshot]) -> JobStats:
    """Aggregate per-rank snapshots (compute parties and, if present, the dealer) into job totals."""
    rounds = max((s.rounds for s in snapshots.values()), default=0)
    online = sum((s.online for s in snapshots.values()), Counters())
    offline = sum((s.offline for s in snapshots.values()), Counters())
    return JobStats(rounds, online.bytes_sent, offline.bytes_sent, online.msgs_sent, offline.msgs_sent)


_ZERO = StatsSnapshot()


class LinkStats:
    """Counters of one party. Links call `on_send` / `on_recv`; protocols read `snapshot()`.

    Owned by one party (one thread); a lock keeps `snapshot()` consistent if another thread reads.
    """

    def __init__(self, rank: int, world: int) -> None:
        if world < 1 or not 0 <= rank <= world:
            raise ValueError(f"LinkStats: rank {rank} is not in 0..{world} (world={world})")
        self.rank = rank
        self.world = world
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero all counters and the round clock (call on every party at the same point)."""
        with self._lock:
            # plain ints, not Counters: one send or recv must not build dataclasses (hot path)
            self._on = [0, 0, 0, 0]  # online bytes_sent, bytes_recv, msgs_sent, msgs_recv
            self._off = [0, 0, 0, 0]  # offline, same layout
            self._clock = 0
            self._max_stamp = 0
            self._events = 0  # sends + receives counted so far: tells `mark` nothing moved
            self._mark: tuple[int, ...] | None = None  # the last `mark`, valid while _events stays
            self._mark_events = -1

    def is_offline(self, peer: int) -> bool:
        """Traffic with the dealer (either end has rank == world) is offline."""
        return self.rank == self.world or peer == self.world

    def peek_stamp(self, peer: int) -> int:
        """The depth stamp the next send to `peer` will carry (without counting anything)."""
        with self._lock:
            return 0 if self.is_offline(peer) else self._clock + 1

    def on_send(self, peer: int, nbytes: int) -> int:
        """Count a message to `peer`; return the depth stamp to put on its frame (0 if offline)."""
        with self._lock:
            self._events += 1
            if self.rank == self.world or peer == self.world:
                c = self._off
                c[0] += nbytes
                c[2] += 1
                return 0
            c = self._on
            c[0] += nbytes
            c[2] += 1
            stamp = self._clock + 1
            if stamp > self._max_stamp:
                self._max_stamp = stamp
            return stamp

    def on_recv(self, peer: int, nbytes: int, depth: int) -> None:
        """Count a message from `peer` carrying `depth`; online receives advance the clock."""
        with self._lock:
            self._events += 1
            if self.rank == self.world or peer == self.world:
                c = self._off
                c[1] += nbytes
                c[3] += 1
                return
            c = self._on
            c[1] += nbytes
            c[3] += 1
            if depth > self._clock:
                self._clock = depth

    @property
    def rounds(self) -> int:
        """max(clock, largest stamp sent): the depth of this party's last online step."""
        with self._lock:
            return max(self._clock, self._max_stamp)

    def mark(self) -> tuple[int, ...]:
        """A raw reading of every counter, for `since` (cheaper than a snapshot: no dataclasses).

        The same tuple object is returned again while nothing was sent or received (the VM
        marks before and after every op when per-op statistics are on, and most ops are local).
        """
        if self._mark_events == self._events and self._mark is not None:
            return self._mark
        with self._lock:
            self._mark = (*self._on, *self._off, max(self._clock, self._max_stamp))
            self._mark_events = self._events
            return self._mark

    def since(self, mark: tuple[int, ...]) -> StatsSnapshot:
        """`snapshot() - (snapshot at mark)`, built once; the shared zero delta if nothing moved
        (most VM ops are local: this runs after every op when per-op statistics are on)."""
        now = self.mark()
        if now is mark or now == mark:
            return _ZERO
        d = [a - b for a, b in zip(now, mark)]
        return StatsSnapshot(Counters(*d[0:4]), Counters(*d[4:8]), d[8])

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(Counters(*self._on), Counters(*self._off), max(self._clock, self._max_stamp))

    def __repr__(self) -> str:
        return f"LinkStats(rank={self.rank}, world={self.world}, {self.snapshot().as_dict()})"
