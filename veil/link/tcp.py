"""Network link over plain TCP sockets (optionally mutual TLS): the low-latency party link.

Same contract, failure semantics and `LinkStats` as `veil.link.grpc.GrpcLink` (callers switch
with the cluster key `transport: tcp | grpc`), but a message crosses no thread hand-offs:
`send` encodes the `veil.link.wire` frame and writes it from the caller's thread under a
per-peer lock; one reader thread per peer parses frames (`tcp_proto`) into the shared
`grpc_state.Mailroom` (mailboxes, timeouts, failures, shaper), where `recv` waits.

One connection per pair of ranks; the higher rank dials (`tcp_connect`). A `send` to a peer not
connected yet waits for the connection (bounded by connect_timeout). With TLS, each side checks
that the other's certificate names peer_names[rank] (server: SAN via the dialled name; client:
CN), and nothing but TLS records crosses the socket.

Failure detection: a connection that ends without CLOSE (the peer died), silence for 3
heartbeats (a frozen peer), or no connection within connect_timeout makes every pending and later
wait raise `PartyError(peer, "unreachable: ...")`; `fail(reason)` sends FAIL to every peer.
Malformed data from a peer makes `recv` from that peer raise `LinkError` naming it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping

import numpy as np

from veil.errors import LinkError, LinkTimeoutError
from veil.link.network import NetworkLink
from veil.link.shaper import Shaper
from veil.link.tcp_connect import Conn, describe, listen
from veil.link.tcp_proto import HEADER, Kind, StreamEnded, hello_body
from veil.link.tcp_setup import ConnectionSetup
from veil.link.tls import TlsConfig, ssl_client_context, ssl_server_context
from veil.link.wire import decode_frame

HEARTBEAT_MISSES = 3  # a peer silent this many heartbeats is unreachable
MAX_REASON = 4000  # bytes of a FAIL reason kept
WireHook = Callable[[int, bytes], None]  # (peer, frame bytes before TLS)


class TcpLink(ConnectionSetup, NetworkLink):
    """One party's endpoint over TCP (satisfies `veil.link.base.Link`); arguments as GrpcLink's.

    addresses: {rank: "host:port"} of every party in the job, this one included (the dealer,
    rank == world, takes part if listed). tls: mutual TLS files (None = plaintext). timeout bounds
    each recv; connect_timeout how long peers may take to come up; heartbeat_s paces failure
    detection (3 silent heartbeats = dead). on_wire(peer, bytes) sees every frame before TLS.
    peer_names: {rank: certificate name} each peer must present (with TLS). max_message bounds
    one frame from a peer; max_chunk is accepted for GrpcLink compatibility and unused (a TCP
    stream needs no chunking).
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
        on_wire: WireHook | None = None,
        peer_names: Mapping[int, str] | None = None,
        bind: str | None = None,
        max_message: int = 1 << 36,
        max_chunk: int | None = None,
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
        self._connect_timeout = connect_timeout
        self._on_wire = on_wire
        self._send_timeout = HEARTBEAT_MISSES * heartbeat_s + 1.0
        self._conns: dict[int, Conn] = {}  # guarded by self._room.cond
        self._dial_deadline = time.monotonic() + connect_timeout
        self._connect_deadline = self._dial_deadline + heartbeat_s
        self._server_ctx = ssl_server_context(tls) if tls else None
        self._client_ctx = ssl_client_context(tls) if tls else None
        self._hello = hello_body(rank, world, len(self.addresses))
        bind = bind or self.addresses[rank]
        try:
            self._listener = listen(bind)
        except OSError as e:
            raise LinkError(
                f"party {self._name(rank)}: cannot listen on {bind} ({describe(e)}); the port is taken "
                "or the host is not local: free it or change this party's address"
            ) from None
        for p, st in self._room.peers.items():
            if p > rank:
                st.out_error = f"it did not dial this party's address {self.addresses[rank]}"
        self._threads = [self._thread(self._accept_loop, "accept")]
        self._threads += [self._thread(self._dial_peer, f"dial-{p}", p) for p in self._room.peers if p < rank]
        self._threads.append(self._thread(self._monitor_loop, "hb"))

    def _thread(self, fn: Callable[..., None], what: str, *args: object) -> threading.Thread:
        t = threading.Thread(target=fn, args=args, name=f"veil-tcp-{self.rank}-{what}", daemon=True)
        t.start()
        return t

    def _read_loop(self, peer: int) -> None:
        """Parse the peer's frames into the mailroom until its connection ends."""
        room = self._room
        conn = self._conns[peer]
        st = room.peers[peer]

        def progress() -> None:
            st.last_heard = time.monotonic()  # a long frame is arriving: the peer is alive

        conn.reader.on_progress = progress
        detail = "its process died or the network failed"
        try:
            while (item := conn.reader.read_frame()) is not None:
                kind, body = item
                st.last_heard = time.monotonic()
                if kind == Kind.DATA:
                    room.deliver(peer, decode_frame(body), len(body))
                elif kind == Kind.HEARTBEAT:
                    pass
                elif kind == Kind.ACK and len(body) == 1:
                    with room.cond:
                        conn.acks.add(body[0])
                        room.cond.notify_all()
                elif kind in (Kind.FAIL, Kind.CLOSE):
                    if kind == Kind.FAIL:
                        room.mark_failed(
                            self._name(peer), bytes(body[:MAX_REASON]).decode("utf-8", "replace")
                        )
                    else:
                        room.mark_closed(peer)
                    self._write(peer, conn, Kind.ACK, bytes([kind]), quiet=True)
                else:
                    raise LinkError(f"unexpected {kind.name} frame on an open connection")
        except (LinkError, MemoryError) as e:  # MemoryError: a frame header claiming a giant body
            why = e if isinstance(e, LinkError) else "a frame too large to buffer (MemoryError)"
            room.mark_broken(peer, f"malformed data from party {self._name(peer)}: {why}")
            conn.pipe.shutdown()
        except StreamEnded as e:
            detail = str(e)
        except OSError as e:
            detail = f"the connection broke: {describe(e)}"
        finally:
            with room.cond:
                conn.ended = True
                room.cond.notify_all()
            if not self._closing:
                room.stream_ended(peer, detail)

    # -- writing -------------------------------------------------------------------------------

    def _write(self, peer: int, conn: Conn, kind: Kind, body: bytes, quiet: bool = False) -> bool:
        """Write one frame to `peer`. On a broken connection: mark the peer failed unless it is
        gone already, and raise PartyError. `quiet` (control frames): never raise, and give up
        after a heartbeat if another write holds the connection (so readers never deadlock)."""
        if not conn.lock.acquire(timeout=self._heartbeat_s if quiet else -1):
            return False
        try:
            conn.pipe.send_frame(kind, body)
        except OSError as e:
            if not (quiet or self._closing or self._room.is_gone(peer)):
                self._room.mark_failed(self._name(peer), f"unreachable: sending to it failed ({describe(e)})")
                self._room.raise_if_failed()
            return False
        finally:
            conn.lock.release()
        if self._on_wire is not None:
            self._on_wire(peer, HEADER.pack(kind, len(body)) + body)
        return True

    def _conn_for(self, peer: int, deadline: float) -> Conn | None:
        """The connection to `peer`, waiting for it to come up; None if the peer is gone."""
        room = self._room
        with room.cond:
            while peer not in self._conns:
                room.raise_if_failed()
                if self._closed or room.is_gone(peer):
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LinkTimeoutError(
                        f"party {self._name(self.rank)}: party {self._name(peer)} at {self.addresses[peer]} "
                        "did not connect in time; start it or check its address"
                    )
                room.cond.wait(min(left, 0.1))
            return self._conns[peer]

    def _monitor_loop(self) -> None:
        """Every heartbeat: ping idle connections, judge every peer's liveness, cut dead ones."""
        room = self._room
        while not self._stop.wait(self._heartbeat_s):
            with room.cond:
                conns = list(self._conns.items())
            for peer, conn in conns:
                if not room.is_gone(peer) and conn.lock.acquire(blocking=False):
                    try:  # a write in progress is contact too; never wait for it here
                        conn.pipe.send_frame(Kind.HEARTBEAT)
                    except OSError:
                        pass
                    finally:
                        conn.lock.release()
            room.check_liveness(self._heartbeat_s, HEARTBEAT_MISSES, self._connect_deadline)
            for peer, conn in conns:
                st = room.peers[peer]
                if room.is_gone(peer) and not st.closed and st.broken is None:
                    conn.pipe.shutdown()  # failed: wake any writer blocked on it

    # -- Link API ------------------------------------------------------------------------------

    def send(self, to: int, tag: str, array: np.ndarray) -> None:
        """Write `array` to party `to` (returns once the kernel has it; waits for the connection)."""
        frame = self._frame_for(to, tag, array)
        if frame is None:
            return
        conn = self._conns.get(to) or self._conn_for(to, self._connect_deadline + self.timeout)
        if conn is not None:
            self._write(to, conn, Kind.DATA, frame)

    send_donated = send  # the frame is encoded (copied) at once either way

    def _broadcast_control(self, kind: Kind, body: bytes, deadline: float) -> None:
        """Send a control frame to every connected peer still there, then wait for their ACKs."""
        room = self._room
        with room.cond:
            conns = {p: c for p, c in self._conns.items() if not c.ended and not room.is_gone(p)}
        sent = {p: c for p, c in conns.items() if self._write(p, c, kind, body, quiet=True)}
        with room.cond:
            while time.monotonic() < deadline:
                waiting = [p for p, c in sent.items() if kind not in c.acks and not c.ended]
                waiting = [p for p in waiting if kind == Kind.FAIL or not room.is_gone(p)]
                if not waiting:
                    return
                room.cond.wait(min(0.05, max(deadline - time.monotonic(), 0.0)))

    def fail(self, reason: str) -> None:
        """Mark this party failed and tell every connected peer (waits briefly for their ACKs)."""
        self._room.mark_failed(self._name(self.rank), reason)
        if self._closed:
            return
        data = reason.encode("utf-8", "replace")[:MAX_REASON]
        self._broadcast_control(Kind.FAIL, data, time.monotonic() + min(self.timeout, 5.0))

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every peer is connected (e.g. before timing a benchmark)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        room = self._room
        with room.cond:
            while True:
                room.raise_if_failed()
                waiting = [p for p, st in room.peers.items() if p not in self._conns and not st.closed]
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise LinkTimeoutError(
                        f"party {self._name(self.rank)}: parties {sorted(map(str, map(self._name, waiting)))} "
                        "not connected in time; start them or check their addresses"
                    )
                room.cond.wait(0.05)

    def close(self) -> None:
        """Send CLOSE to every peer (after all data written), wait for ACKs, then shut down."""
        with self._lock:
            if self._closing:
                return
            deadline = time.monotonic() + min(self.timeout, 10.0)
            room = self._room
            with room.cond:  # peers still connecting must learn we closed (not that we died)
                while time.monotonic() < min(deadline, self._dial_deadline) and any(
                    p not in self._conns and not room.is_gone(p) for p in room.peers
                ):
                    room.cond.wait(0.05)
            self._broadcast_control(Kind.CLOSE, b"", deadline)
            self._closing = True
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._room.cond:
            conns = list(self._conns.values())
        for conn in conns:
            conn.pipe.close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(1.0)
        self._closed = True
