"""Outbound half of the gRPC link: one `PeerSender` per peer streams this party's messages to it.

`send` only appends to the peer's `Outbox`, so it never waits for the network; a single stream
per peer keeps every (peer, tag) in send order. The sender connects with retry and exponential
backoff until `connect_timeout` (peers may start in any order), holds back data until the
peer's server acknowledged the HELLO, and reports "up", "retry" (a failed attempt), "unreachable"
(gave up) or "lost" (an established stream broke) to the link.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc

from veil.errors import LinkError, LinkTimeoutError
from veil.link.grpc_proto import FULL_METHOD, Kind, chunks, hello_payload, pack, parse

Report = Callable[[int, str, str], None]  # (peer, "up" | "retry" | "unreachable" | "lost", detail)
WireHook = Callable[[int, bytes], None]  # (peer, message bytes handed to gRPC)

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN}
_FIRST_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 1.0
MAX_QUEUED_BYTES = 64 << 20  # DATA bytes an outbox holds before `send` waits for the peer


@dataclass
class Item:
    """One queued message: a wire frame (DATA) or a control message with its payload."""

    kind: Kind
    msg_id: int
    payload: bytes = b""


class Outbox:
    """FIFO of one peer's outgoing items; urgent items (FAIL) jump ahead of queued data.

    DATA waits while `max_bytes` of data are queued (one item always fits an empty queue), so a
    peer that stops reading holds back the sender instead of growing this party's memory.
    """

    def __init__(self, label: str = "send", max_bytes: int = MAX_QUEUED_BYTES) -> None:
        self._label = label  # who sends to whom, for errors
        self._items: deque[Item] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._bytes = 0  # DATA payload bytes queued
        self._max_bytes = max_bytes

    def put(
        self,
        item: Item,
        urgent: bool = False,
        check: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> None:
        """Queue `item`; DATA over the limit waits, calling `check` (which raises if the peer is
        gone) every 50 ms, until `deadline` (then LinkTimeoutError)."""
        size = len(item.payload) if item.kind == Kind.DATA else 0
        with self._cond:
            while size and self._bytes and self._bytes + size > self._max_bytes and not self._closed:
                if check is not None:
                    check()
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    raise LinkTimeoutError(
                        f"{self._label}: {self._bytes} bytes still queued when the link timeout passed; "
                        "the peer does not read them (slow or stuck: raise the timeout or check the peer)"
                    )
                self._cond.wait(left)
            if urgent:
                self._items.appendleft(item)
            else:
                self._items.append(item)
            self._bytes += size
            self._cond.notify_all()

    def get(self) -> Item | None:
        """The next item, waiting for one; None once the outbox is closed."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            item = self._items.popleft()
            if item.kind == Kind.DATA:
                self._bytes -= len(item.payload)
                self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class _Attempt:
    """One connection attempt: `go` opens the data path once established (or releases it)."""

    go: threading.Event = field(default_factory=threading.Event)
    established: bool = False


def describe_rpc_error(e: grpc.RpcError) -> str:
    """'CODE: details' of a gRPC error (details name the address and, for TLS, the handshake error)."""
    code = e.code() if isinstance(e, grpc.Call) else None
    details = e.details() if isinstance(e, grpc.Call) else repr(e)
    return f"{code.name if code else 'ERROR'}: {details}"


class PeerSender:
    """Streams one peer's outbox over one gRPC channel and tracks the ACKs of control messages."""

    def __init__(
        self,
        *,
        rank: int,
        peer: int,
        address: str,
        channel: grpc.Channel,
        hello: tuple[int, int],
        max_chunk: int,
        connect_timeout: float,
        report: Report,
        on_wire: WireHook | None = None,
    ) -> None:
        self.rank = rank
        self.peer = peer
        self.address = address
        self.outbox = Outbox(f"party {rank}: send to party {peer}")
        self._channel = channel
        self._stub = channel.stream_stream(FULL_METHOD)
        self._hello = pack(Kind.HELLO, rank, 0, hello_payload(*hello))
        self._max_chunk = max_chunk
        self._connect_timeout = connect_timeout
        self._report = report
        self._on_wire = on_wire
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._acked: set[int] = set()
        self._up = False
        self._finished = False
        self._stopping = threading.Event()
        self._attempt = _Attempt()
        self._call: grpc.Call | None = None
        self._thread = threading.Thread(target=self._run, name=f"veil-grpc-{rank}->{peer}", daemon=True)

    # -- API used by the link ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def up(self) -> bool:
        """True while the stream is established and not finished."""
        with self._cond:
            return self._up and not self._finished

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._finished

    def enqueue(
        self,
        kind: Kind,
        payload: bytes,
        urgent: bool = False,
        check: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> int:
        """Queue a message; returns its id (to wait for the ACK of a control message). DATA may
        wait for room in the outbox (see `Outbox.put`)."""
        msg_id = next(self._ids)
        self.outbox.put(Item(kind, msg_id, payload), urgent, check, deadline)
        return msg_id

    def wait_acked(self, msg_id: int, deadline: float) -> bool:
        """Wait until the peer acknowledged `msg_id`, the stream finished, or `deadline` passed."""
        with self._cond:
            while msg_id not in self._acked and not self._finished:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return msg_id in self._acked

    def stop(self, join_s: float = 1.0) -> None:
        """Cancel the stream, release every waiting thread and close the channel."""
        self._stopping.set()
        self.outbox.close()
        self._attempt.go.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(join_s)
        self._channel.close()
        self._set_finished()

    # -- sender thread -----------------------------------------------------------------------------

    def _set_finished(self) -> None:
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def _run(self) -> None:
        """Connect (retrying with backoff until connect_timeout), then pump the stream until it ends."""
        deadline = time.monotonic() + self._connect_timeout
        delay = _FIRST_BACKOFF_S
        while not self._stopping.is_set():
            attempt = self._attempt = _Attempt()
            code, detail = self._one_attempt(attempt)
            if code is None or self._stopping.is_set():
                break
            if attempt.established:
                self._report(self.peer, "lost", f"connection to {self.address} broke: {detail}")
                break
            self._report(self.peer, "retry", detail)
            left = deadline - time.monotonic()
            if code not in _RETRYABLE or left <= 0:
                self._report(
                    self.peer,
                    "unreachable",
                    f"cannot connect to {self.address} within {self._connect_timeout:g} s ({detail})",
                )
                break
            self._stopping.wait(min(delay, left))
            delay = min(2 * delay, _MAX_BACKOFF_S)
        self._set_finished()

    def _one_attempt(self, attempt: _Attempt) -> tuple[grpc.StatusCode | None, str]:
        """Run one stream to the end: (None, "") if it completed, else (status code, detail)."""
        try:
            call = self._stub(self._requests(attempt))
            self._call = call
            for message in call:
                self._on_response(message, attempt)
            return None, ""
        except grpc.RpcError as e:
            code = e.code() if isinstance(e, grpc.Call) else grpc.StatusCode.UNKNOWN
            return code, describe_rpc_error(e)
        except LinkError as e:  # the server answered with something that is not a veil ACK
            if self._call is not None:
                self._call.cancel()
            return grpc.StatusCode.INTERNAL, str(e)
        finally:
            attempt.go.set()  # an attempt that failed before its ACK releases its request thread

    def _on_response(self, message: bytes, attempt: _Attempt) -> None:
        h, _ = parse(message)
        if h.kind != Kind.ACK:
            raise LinkError(f"grpc link: party {self.peer} answered with {h.kind.name}, expected ACK")
        if h.index == Kind.HELLO:
            attempt.established = True
            with self._cond:
                self._up = True
            attempt.go.set()
            self._report(self.peer, "up", "")
            return
        with self._cond:
            self._acked.add(h.msg_id)
            self._cond.notify_all()

    def _wire(self, message: bytes) -> bytes:
        if self._on_wire is not None:
            self._on_wire(self.peer, message)
        return message

    def _requests(self, attempt: _Attempt) -> Iterator[bytes]:
        """The request stream (consumed by a gRPC thread): HELLO, then the outbox once established."""
        yield self._wire(self._hello)
        attempt.go.wait()
        if not attempt.established or self._stopping.is_set():
            return
        while True:
            item = self.outbox.get()
            if item is None:
                return
            if item.kind == Kind.DATA:
                for message in chunks(self.rank, item.msg_id, item.payload, self._max_chunk):
                    yield self._wire(message)
            else:
                yield self._wire(pack(item.kind, self.rank, item.msg_id, item.payload))
            if item.kind == Kind.CLOSE:
                return
