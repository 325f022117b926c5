"""How a `TcpLink` sets up its connections: dial lower ranks, accept higher ones, register each.

A mixin of `veil.link.tcp.TcpLink` (split out to keep modules small): it uses the link's
mailroom, connection table and settings declared below, and starts the link's reader thread
(`_read_loop`) for every connection it registers. The wire steps are in `tcp_connect`.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

from veil.errors import LinkError
from veil.link.grpc_state import Mailroom
from veil.link.tcp_connect import Conn, Rejected, accept_hello, describe, dial, refusal, split_address
from veil.link.tcp_pipe import TlsPipe, tune
from veil.link.tcp_proto import Kind
from veil.link.tls import TlsConfig


class ConnectionSetup:
    """Dialing, accepting and registering connections (see the module docstring)."""

    rank: int
    world: int
    addresses: dict[int, str]
    _room: Mailroom
    _conns: dict[int, Conn]
    _tls: TlsConfig | None
    _peer_names: dict[int, str] | None
    _client_ctx: ssl.SSLContext | None
    _server_ctx: ssl.SSLContext | None
    _hello: bytes
    _connect_timeout: float
    _send_timeout: float
    _max_message: int
    _listener: socket.socket
    _stop: threading.Event
    _closing: bool
    _thread: Callable[..., threading.Thread]
    _name: Callable[[int], int | str]
    _read_loop: Callable[[int], None]

    def _dial_peer(self, peer: int) -> None:
        """Connect to a lower rank (retrying until connect_timeout), then read from it."""
        address = self.addresses[peer]
        server_name = None
        if self._tls is not None:
            server_name = (
                (self._peer_names or {}).get(peer) or self._tls.server_name or split_address(address)[0]
            )

        def on_retry(detail: str) -> None:
            with self._room.cond:
                self._room.peers[peer].out_error = detail

        try:
            got = dial(
                address, self._connect_timeout, self._stop, on_retry, hello=self._hello, expect_rank=peer,
                ctx=self._client_ctx, server_name=server_name, send_timeout=self._send_timeout,
                max_message=self._max_message,
            )  # fmt: skip
        except Rejected as e:
            if not self._closing:
                self._room.mark_failed(self._name(peer), f"unreachable: {e}")
            return
        if got is not None and not self._register(peer, Conn(*got), accept=False):
            got[0].close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, addr = self._listener.accept()
            except OSError:
                return  # the listener was shut down by close()
            self._thread(self._serve_incoming, "hello", sock, addr)

    def _serve_incoming(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        """Check one incoming connection's HELLO (and certificate), then accept or refuse it."""
        room = self._room
        try:
            pipe, reader, (peer, world, nranks) = accept_hello(
                sock, self._server_ctx, max(1.0, min(self._connect_timeout, 10.0)), self._max_message
            )
        except (OSError, LinkError) as e:  # ssl.SSLError is an OSError
            sock.close()
            with room.cond:  # shown if a peer never connects: maybe this was it
                for p, st in room.peers.items():
                    if p > self.rank and p not in self._conns:
                        st.out_error = f"a connection from {addr[0]}:{addr[1]} failed ({describe(e)})"
            return
        cert = pipe.peer_cert() if isinstance(pipe, TlsPipe) else None
        expected = (self._peer_names or {}).get(peer) if self._tls else None
        why = refusal(peer, world, nranks, self.rank, self.world, len(self.addresses), expected, cert)
        if why or not self._register(peer, Conn(pipe, reader), accept=True):
            why = why or f"rank {peer} is already connected (or this link is closing)"
            if peer in room.peers and peer not in self._conns:
                room.peers[peer].out_error = f"refused its connection: {why}"
            try:
                pipe.send_frame(Kind.REJECT, f"party {self._name(self.rank)} refused: {why}".encode())
            except OSError:
                pass
            pipe.close()

    def _register(self, peer: int, conn: Conn, accept: bool) -> bool:
        """Make `conn` the connection to `peer` (answering ACCEPT first) and start its reader."""
        room = self._room
        with room.cond:
            st = room.peers[peer]
            if peer in self._conns or st.closed or self._closing:
                return False
            if accept:  # before anyone else can write to it
                try:
                    tune(conn.pipe.sock, self._send_timeout)
                    conn.pipe.send_frame(Kind.ACCEPT, self._hello)
                except OSError:
                    return False
            self._conns[peer] = conn
            st.inbound = True
            st.last_heard = time.monotonic()
            room.cond.notify_all()
        self._thread(self._read_loop, f"read-{peer}", peer)
        return True
