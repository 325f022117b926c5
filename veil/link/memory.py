"""In-process link: parties are threads of one process exchanging arrays through a hub.

A send validates the array as the wire format would and queues ONE owned little-endian C-order
copy with its depth stamp (`veil.link.memory_frames`), so every receiver gets its own writable
array, as after `decode_frame`, without encoding and parsing a byte frame per message (the gRPC
link and tests/link/test_wire.py exercise the byte format; a shaper still sees the exact encoded
frame size). Mailboxes are FIFO per (src, dst, tag). Every wait times out, and a party's `fail`
wakes all waiters so that nobody hangs on a dead peer. `run_parties` runs a whole job (compute
parties plus optional dealer) on threads and reports the root-cause error.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.errors import LinkError, LinkTimeoutError, PartyError, VeilError
from veil.link.base import PeerClosedError, party_name
from veil.link.collectives import CollectivesMixin
from veil.link.memory_frames import frame_size, owned_copy
from veil.link.shaper import Shaper
from veil.link.stats import JobStats, LinkStats, StatsSnapshot, job_stats

_Key = tuple[int, int, str]  # (src, dst, tag)
_Item = tuple[int, np.ndarray]  # (depth stamp, owned array)


class MemoryHub:
    """Shared mailboxes of one job. Ranks 0..world-1 compute; rank `world` is the dealer."""

    def __init__(
        self,
        world: int,
        with_dealer: bool = False,
        timeout: float = 60.0,
        shaper: Shaper | None = None,
    ) -> None:
        if world < 1:
            raise LinkError(f"MemoryHub: world must be >= 1 compute party, got {world}")
        if not timeout > 0:
            raise LinkError(f"MemoryHub: timeout must be > 0 seconds, got {timeout}")
        self.world = world
        self.with_dealer = with_dealer
        self.timeout = timeout
        self.shaper = shaper
        self.nranks = world + (1 if with_dealer else 0)
        self._conds = [threading.Condition() for _ in range(self.nranks)]  # one per receiver
        self._waiting = [0] * self.nranks  # receivers blocked in `take`, per rank (under its cond)
        self._boxes: dict[_Key, deque[tuple[float, _Item]]] = {}
        self._lock = threading.Lock()
        self._failures: list[tuple[int | str, str]] = []  # (party name, reason), in time order
        self._failed: set[int | str] = set()
        self._closed: set[int] = set()
        self._links: dict[int, MemoryLink] = {}

    def name(self, rank: int) -> int | str:
        return party_name(rank, self.world)

    def link(self, rank: int) -> MemoryLink:
        """The endpoint of `rank` (the same object on every call)."""
        if not 0 <= rank < self.nranks:
            hint = "" if self.with_dealer else " (build the hub with with_dealer=True for the dealer)"
            raise LinkError(f"MemoryHub.link: rank {rank} is not in 0..{self.nranks - 1}{hint}")
        with self._lock:
            if rank not in self._links:
                self._links[rank] = MemoryLink(self, rank)
            return self._links[rank]

    def stats(self) -> dict[int, StatsSnapshot]:
        """Snapshots of every link created so far, by rank (dealer = world)."""
        with self._lock:
            links = dict(self._links)
        return {r: lk.stats.snapshot() for r, lk in sorted(links.items())}

    # -- failure and closing: record, then wake every waiter ------------------------------------

    def mark_failed(self, who: int | str, reason: str) -> None:
        """Record that `who` (a party name, or "runner") failed and wake everyone (idempotent)."""
        with self._lock:
            if who in self._failed:
                return
            self._failed.add(who)
            self._failures.append((who, reason))
        self._wake_all()

    def mark_closed(self, rank: int) -> None:
        with self._lock:
            self._closed.add(rank)
        self._wake_all()

    def _wake_all(self) -> None:
        for cond in self._conds:
            with cond:
                cond.notify_all()

    def first_failure(self) -> tuple[int | str, str] | None:
        with self._lock:
            return self._failures[0] if self._failures else None

    def raise_if_failed(self, rank: int) -> None:
        """PartyError for the earliest failure of another party (the root cause)."""
        if not self._failures:  # the common case, without the lock (a list read is atomic)
            return
        me = self.name(rank)
        with self._lock:
            failures = list(self._failures)
        for who, reason in failures:
            if who != me:
                raise PartyError(who, reason)
        if failures:
            raise LinkError(f"party {me}: this party already failed ({failures[0][1]})")

    # -- mailboxes -------------------------------------------------------------------------------

    def post(self, src: int, dst: int, tag: str, item: _Item, frame_bytes: int) -> None:
        """Queue `item` on (src, dst, tag); a shaper delays it as a frame of `frame_bytes`."""
        visible = self.shaper.schedule(src, dst, frame_bytes) if self.shaper else 0.0
        cond = self._conds[dst]
        with cond:
            box = self._boxes.get((src, dst, tag))
            if box is None:
                box = self._boxes[(src, dst, tag)] = deque()
            box.append((visible, item))
            if self._waiting[dst]:  # Condition.notify_all costs ~3 us even with nobody to wake
                cond.notify_all()

    def take(self, src: int, dst: int, tag: str) -> _Item:
        """Pop the oldest visible frame on (src, dst, tag), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + self.timeout
        cond = self._conds[dst]
        with cond:
            while True:
                self.raise_if_failed(dst)
                box = self._boxes.get((src, dst, tag))
                now = time.monotonic()
                wake = deadline
                if box:
                    visible, frame = box[0]
                    if visible <= now:
                        box.popleft()
                        return frame
                    wake = min(visible, deadline)
                elif src in self._closed:
                    raise PeerClosedError(
                        f"party {self.name(dst)}: recv from party {self.name(src)} (tag '{tag}'): "
                        "the peer closed its link without sending it; check that both sides run "
                        "the same protocol steps"
                    )
                if now >= deadline:
                    raise LinkTimeoutError(
                        f"party {self.name(dst)}: recv from party {self.name(src)} (tag '{tag}') "
                        f"timed out after {self.timeout:g} s; the peer is slow, stuck or sent "
                        "under another tag (raise the timeout or check the protocol's tags)"
                    )
                self._waiting[dst] += 1
                try:
                    cond.wait(wake - now)
                finally:
                    self._waiting[dst] -= 1


class MemoryLink(CollectivesMixin):
    """One party's endpoint on a `MemoryHub` (satisfies `veil.link.base.Link`)."""

    def __init__(self, hub: MemoryHub, rank: int) -> None:
        self.hub = hub
        self.rank = rank
        self.world = hub.world
        self.stats = LinkStats(rank, hub.world)
        self._closed = False

    def _check_peer(self, peer: int, what: str, tag: str) -> None:
        if self._closed:
            raise LinkError(f"party {self.hub.name(self.rank)}: {what} '{tag}' on a closed link")
        if not 0 <= peer < self.hub.nranks or peer == self.rank:
            raise LinkError(
                f"party {self.hub.name(self.rank)}: {what} '{tag}' with invalid peer {peer}; "
                f"peers are 0..{self.hub.nranks - 1} except {self.rank}"
            )

    def send(self, to: int, tag: str, array: np.ndarray) -> None:
        """Queue a copy of `array` for party `to` (never blocks)."""
        self._send(to, tag, array, False)

    def send_donated(self, to: int, tag: str, array: np.ndarray) -> None:
        """`send` for an array the caller hands over and never touches again (the dealer's
        adjust): queued without the copy when it already owns C-order little-endian data.
        Counted, validated and received exactly as `send`; links without it copy or encode."""
        self._send(to, tag, array, True)

    def _send(self, to: int, tag: str, array: np.ndarray, donated: bool) -> None:
        self._check_peer(to, "send", tag)
        self.hub.raise_if_failed(self.rank)
        arr = np.asarray(array)
        payload = owned_copy(tag, arr, donated)  # validates like encode_frame, before anything is counted
        size = frame_size(tag, arr) if self.hub.shaper else 0
        stamp = self.stats.on_send(to, arr.nbytes)
        self.hub.post(self.rank, to, tag, (stamp, payload), size)

    def recv(self, frm: int, tag: str) -> np.ndarray:
        """The next array `frm` sent under `tag` (FIFO); times out, or raises PartyError."""
        self._check_peer(frm, "recv", tag)
        depth, array = self.hub.take(frm, self.rank, tag)
        self.stats.on_recv(frm, array.nbytes, depth)
        return array

    def fail(self, reason: str) -> None:
        """Mark this party failed: every pending or later recv elsewhere raises PartyError."""
        self.hub.mark_failed(self.hub.name(self.rank), reason)

    def close(self) -> None:
        """Close this endpoint; peers waiting on it with nothing queued get PeerClosedError."""
        if not self._closed:
            self._closed = True
            self.hub.mark_closed(self.rank)

    def __repr__(self) -> str:
        return f"MemoryLink(rank={self.hub.name(self.rank)}, world={self.world})"


# ------------------------------------------------------------------------------- running jobs


@dataclass(frozen=True)
class JobResult:
    """Outcome of `run_job`: per-party results, the dealer's result, per-rank stats and totals."""

    results: list[Any]
    dealer_result: Any
    stats: dict[int, StatsSnapshot]
    totals: JobStats


def run_parties(
    world: int,
    fn: Callable[..., Any],
    *,
    timeout: float = 60.0,
    dealer: Callable[[MemoryLink], Any] | None = None,
    shaper: Shaper | None = None,
    args_per_party: Sequence[Any] | None = None,
) -> list[Any]:
    """Run `fn(link)` (or `fn(link, args_per_party[rank])`) on each party's thread; results by rank.

    See `run_job` for the error contract; this returns only the compute parties' results.
    """
    return run_job(
        world, fn, timeout=timeout, dealer=dealer, shaper=shaper, args_per_party=args_per_party
    ).results


def run_job(
    world: int,
    fn: Callable[..., Any],
    *,
    timeout: float = 60.0,
    dealer: Callable[[MemoryLink], Any] | None = None,
    shaper: Shaper | None = None,
    args_per_party: Sequence[Any] | None = None,
    job_timeout: float | None = None,
) -> JobResult:
    """Run one job on daemon threads and return results plus the traffic every party measured.

    If a party raises, its link fails so the others raise PartyError within `timeout`; the caller
    gets the root-cause exception: a VeilError re-raised as itself with "[party r]" prepended to
    its message, anything else as PartyError(rank, repr) with the original as __cause__. After a
    failure the others get `timeout` seconds to stop; `job_timeout` (None = unbounded) caps the
    whole job. Each recv is bounded by `timeout`. A dealer that is still serving (or that ends
    with PeerClosedError) once all compute parties are done is stopped, not reported.
    """
    if args_per_party is not None and len(args_per_party) != world:
        raise LinkError(f"run_parties: args_per_party has {len(args_per_party)} entries, world={world}")
    hub = MemoryHub(world, with_dealer=dealer is not None, timeout=timeout, shaper=shaper)
    done: queue.Queue[tuple[int, BaseException | None]] = queue.Queue()
    results: dict[int, Any] = {}
    targets: dict[int, Callable[[MemoryLink], Any]] = {}
    for rank in range(world):
        arg = None if args_per_party is None else args_per_party[rank]
        targets[rank] = fn if args_per_party is None else _bind(fn, arg)
    if dealer is not None:
        targets[world] = dealer
    for rank, target in targets.items():
        th = threading.Thread(
            target=_party_main,
            args=(hub, rank, target, results, done),
            name=f"veil-party-{hub.name(rank)}",
            daemon=True,
        )
        th.start()
    pending, errors = _wait(hub, done, set(targets), timeout, job_timeout)
    if pending:
        names = sorted(str(hub.name(r)) for r in pending)
        hub.mark_failed("runner", f"job stopped while parties {names} were still running")
    if errors:
        _raise_root_cause(hub, errors)
    if any(r < world for r in pending):
        raise LinkTimeoutError(
            f"run_parties: parties {[r for r in sorted(pending) if r < world]} did not finish "
            f"within job_timeout={job_timeout} s; raise it or look for a stuck local computation"
        )
    stats = hub.stats()
    return JobResult([results[r] for r in range(world)], results.get(world), stats, job_stats(stats))


def _bind(fn: Callable[..., Any], arg: Any) -> Callable[[MemoryLink], Any]:
    return lambda link: fn(link, arg)


def _party_main(
    hub: MemoryHub,
    rank: int,
    target: Callable[[MemoryLink], Any],
    results: dict[int, Any],
    done: queue.Queue[tuple[int, BaseException | None]],
) -> None:
    """Thread body: run the party, fail its link on error, close it on success, report."""
    link = hub.link(rank)
    try:
        results[rank] = target(link)
    except PeerClosedError as e:
        if rank != hub.world:  # a serving dealer ends when its clients close: not an error
            link.fail(repr(e)[:2000])
            done.put((rank, e))
            return
    except BaseException as e:  # noqa: BLE001 - reported to the caller, never swallowed
        link.fail(repr(e)[:2000])
        done.put((rank, e))
        return
    link.close()
    done.put((rank, None))


def _wait(
    hub: MemoryHub,
    done: queue.Queue[tuple[int, BaseException | None]],
    pending: set[int],
    timeout: float,
    job_timeout: float | None,
) -> tuple[set[int], list[tuple[int, BaseException]]]:
    """Collect thread reports until all are in, or the grace period / job deadline passes."""
    errors: list[tuple[int, BaseException]] = []
    job_deadline = None if job_timeout is None else time.monotonic() + job_timeout
    grace_deadline: float | None = None
    while pending:
        if grace_deadline is None and (errors or all(r >= hub.world for r in pending)):
            grace_deadline = time.monotonic() + timeout
        deadlines = [d for d in (job_deadline, grace_deadline) if d is not None]
        wait = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
        try:
            rank, exc = done.get(timeout=wait)
        except queue.Empty:
            break
        pending.discard(rank)
        if exc is not None:
            errors.append((rank, exc))
    return pending, errors


def _raise_root_cause(hub: MemoryHub, errors: list[tuple[int, BaseException]]) -> None:
    """Re-raise the exception of the party that failed first (see `run_job`)."""
    by_name = {hub.name(r): (r, e) for r, e in reversed(errors)}
    first = hub.first_failure()
    rank, exc = by_name[first[0]] if first and first[0] in by_name else errors[0]
    name = hub.name(rank)
    if isinstance(exc, VeilError):
        prefix = f"[party {name}] "
        msg = exc.args[0] if exc.args else None
        if isinstance(msg, str) and not msg.startswith((prefix, f"party {name}:")):
            exc.args = (prefix + exc.args[0], *exc.args[1:])
        raise exc
    raise PartyError(name, repr(exc)) from exc
