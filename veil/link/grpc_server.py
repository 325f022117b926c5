"""Inbound half of the gRPC link: the party's server reads each peer's stream into its mailboxes.

One generic bidirectional method (no protobuf: raw-bytes serializers) receives HELLO, DATA
chunks, HEARTBEAT, FAIL and CLOSE. The HELLO is checked (rank, job shape and, with TLS and
`peer_names`, the client certificate's name) before anything is accepted from a stream; any
malformed message after it makes the peer "broken" (its recvs raise LinkError) and ends the
stream, so a bad peer can neither crash the server nor make a waiter hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from veil.errors import LinkError
from veil.link.grpc_proto import METHOD, SERVICE, Header, Kind, Reassembler, pack, parse, parse_hello
from veil.link.grpc_state import Mailroom
from veil.link.tls import TlsConfig, server_credentials
from veil.link.wire import decode_frame

MAX_REASON = 4000  # bytes of a FAIL reason kept


class _Reject(Exception):
    """A stream refused at HELLO: (gRPC status, message) sent back to the connecting party."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _DaemonExecutor(futures.Executor):
    """Runs each inbound stream on its own daemon thread.

    A stream lives as long as its peer; with ThreadPoolExecutor (non-daemon workers joined at
    exit) a process that ends without `close()` would hang on them.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> futures.Future[Any]:
        fut: futures.Future[Any] = futures.Future()

        def run() -> None:
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args, **kwargs))
                except BaseException as e:  # noqa: BLE001 - handed to gRPC through the future
                    fut.set_exception(e)

        threading.Thread(target=run, name=self._name, daemon=True).start()
        return fut


class InboundServer:
    """The gRPC server of one party: accepts one stream per peer and fills the `Mailroom`."""

    def __init__(
        self,
        room: Mailroom,
        nranks: int,
        *,
        bind: str,
        options: list[tuple[str, Any]],
        tls: TlsConfig | None,
        peer_names: dict[int, str] | None,
        max_message: int,
        is_closing: Callable[[], bool],
    ) -> None:
        self.room = room
        self.rank = room.rank
        self.nranks = nranks
        self._tls = tls
        self._peer_names = peer_names
        self._max_message = max_message
        self._is_closing = is_closing
        self.server = self._start(bind, options)

    def _start(self, bind: str, options: list[tuple[str, Any]]) -> grpc.Server:
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {METHOD: grpc.stream_stream_rpc_method_handler(self._serve)}
        )
        pool = _DaemonExecutor(f"veil-grpc-srv-{self.rank}")
        server = grpc.server(pool, handlers=[handler], options=[*options, ("grpc.so_reuseport", 0)])
        try:
            if self._tls is None:
                port = server.add_insecure_port(bind)
            else:
                port = server.add_secure_port(bind, server_credentials(self._tls))
        except RuntimeError as e:
            port, detail = 0, str(e)
        else:
            detail = ""
        if not port:
            server.stop(None)
            raise LinkError(
                f"party {self.room.name(self.rank)}: cannot listen on {bind} ({detail or 'bind failed'}); "
                "the port is taken or the host is not local: free it or change this party's address"
            )
        server.start()
        return server

    def stop(self, wait_s: float = 2.0) -> None:
        self.server.stop(None).wait(wait_s)

    def _serve(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """Read one peer's stream into the mailboxes; ACK its HELLO, FAIL and CLOSE messages."""
        room = self.room
        peer: int | None = None
        reasm = Reassembler(self._max_message)
        detail = "its process died or the network failed"
        try:
            for message in requests:
                h, payload = parse(message)
                if peer is None:
                    peer = self._accept_hello(h, payload, context)
                    yield pack(Kind.ACK, self.rank, h.msg_id, index=Kind.HELLO)
                    continue
                if self._on_message(peer, h, payload, reasm):
                    yield pack(Kind.ACK, self.rank, h.msg_id, index=h.kind)
            if peer is not None and reasm.pending():
                raise LinkError(f"grpc link: the stream ended mid-message: {reasm.pending()}")
        except _Reject as e:
            context.abort(e.code, f"party {room.name(self.rank)} refused the stream: {e}")
        except LinkError as e:
            who = "an unidentified client" if peer is None else f"party {room.name(peer)}"
            if peer is not None:
                room.mark_broken(peer, f"malformed data from party {room.name(peer)}: {e}")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed data from {who}: {e}")
        except grpc.RpcError:
            detail = "the connection broke: its process died or the network failed"
        finally:
            if peer is not None and not self._is_closing():
                room.stream_ended(peer, detail)

    def _accept_hello(self, h: Header, payload: memoryview, context: grpc.ServicerContext) -> int:
        """Check the HELLO (rank, job shape, identity) and register the peer's inbound stream."""
        room = self.room
        if h.kind != Kind.HELLO:
            raise _Reject(grpc.StatusCode.INVALID_ARGUMENT, f"first message is {h.kind.name}, not HELLO")
        peer = h.sender
        world, nranks = parse_hello(payload)
        if peer not in room.peers or (world, nranks) != (room.world, self.nranks):
            raise _Reject(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"rank {peer} with world={world}, {nranks} ranks does not belong to this job "
                f"(world={room.world}, {self.nranks} ranks): check the cluster config",
            )
        if self._tls is not None and self._peer_names:
            names = context.auth_context().get("x509_common_name", [])
            want = self._peer_names[peer].encode()
            if names != [want]:
                raise _Reject(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"client claims rank {peer} but its certificate is for {names}, not {want!r}",
                )
        with room.cond:
            st = room.peers[peer]
            if st.inbound or st.closed:
                raise _Reject(grpc.StatusCode.ALREADY_EXISTS, f"rank {peer} already has a stream")
            st.inbound = True
        room.heard(peer)
        return peer

    def _on_message(self, peer: int, h: Header, payload: memoryview, reasm: Reassembler) -> bool:
        """Handle one message after HELLO; True if it must be acknowledged."""
        room = self.room
        if h.sender != peer:
            raise LinkError(f"a message claims sender {h.sender} on the stream of rank {peer}")
        room.heard(peer)
        if h.kind == Kind.DATA:
            raw = reasm.feed(h, payload)
            if raw is not None:
                room.deliver(peer, decode_frame(raw), len(raw))
            return False
        reasm.check_idle(h.kind)
        if h.kind == Kind.HEARTBEAT:
            return False
        if h.kind == Kind.FAIL:
            reason = bytes(payload[:MAX_REASON]).decode("utf-8", "replace")
            room.mark_failed(room.name(peer), reason)
            return True
        if h.kind == Kind.CLOSE:
            room.mark_closed(peer)
            return True
        raise LinkError(f"unexpected {h.kind.name} message after HELLO")
