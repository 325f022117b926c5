"""Byte pipes of the TCP link: a plain socket, or the same socket carrying mutual TLS.

TLS runs on an `ssl.SSLObject` over memory BIOs guarded by a lock instead of an `SSLSocket`,
because the link writes from the caller's thread while a reader thread reads the same
connection, and OpenSSL forbids using one SSL object from two threads at once. Callers
serialize writes with their own per-peer lock; reads come from one reader thread.

Sockets are blocking after set-up, with TCP_NODELAY and a kernel send timeout (SO_SNDTIMEO):
a send that makes no progress for `send_timeout` seconds (a frozen peer) fails instead of
hanging forever.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading

from veil.link.tcp_proto import HEADER, Kind

_SMALL = 1 << 16  # below this, header and body go out in one write
_TLS_CHUNK = 1 << 18
SEND_BUFFER = (
    4 << 20
)  # kernel send buffer: a send returns once its frame fits here  # plaintext per TLS write (bounds the ciphertext buffered at once)


def tune(sock: socket.socket, send_timeout: float) -> None:
    """Blocking mode, no Nagle delay, and a bound on sends that make no progress."""
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sec = int(send_timeout)
    usec = int((send_timeout - sec) * 1e6)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", sec, usec))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


class PlainPipe:
    """A TCP socket as it is (loopback tests, or a network you trust)."""

    tls = False

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def sendall(self, data: bytes | memoryview) -> None:
        self.sock.sendall(data)

    def send_frame(self, kind: Kind, body: bytes | memoryview = b"") -> None:
        """One frame; the caller holds the peer's send lock."""
        head = HEADER.pack(kind, len(body))
        if len(body) < _SMALL:
            self.sendall(head + body)
        else:
            self.sendall(head)
            self.sendall(body)

    def recv_into(self, view: memoryview) -> int:
        return self.sock.recv_into(view)

    def flush(self) -> None:
        """Nothing is buffered in a plain pipe."""

    def shutdown(self) -> None:
        """Wake any thread blocked on the socket (recv or send); safe to call repeatedly."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self.shutdown()
        self.sock.close()


class TlsPipe(PlainPipe):
    """Mutual TLS over the socket via an SSLObject (see the module docstring for why)."""

    tls = True

    def __init__(
        self, sock: socket.socket, obj: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
    ):
        super().__init__(sock)
        self.obj = obj
        self._in = incoming
        self._out = outgoing
        self._lock = threading.Lock()  # guards obj and the BIOs (never held while blocking)
        self._raw = bytearray(_TLS_CHUNK)  # ciphertext read buffer (reader thread only)
        self._raw_view = memoryview(self._raw)
        self.send_lock: threading.Lock | None = None  # the link's per-peer write lock, for flush

    @classmethod
    def open(
        cls, sock: socket.socket, ctx: ssl.SSLContext, *, server_side: bool, server_name: str | None = None
    ) -> TlsPipe:
        """Run the handshake on `sock` (its timeout bounds each step); ssl.SSLError if it fails."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_name)
        pipe = cls(sock, obj, incoming, outgoing)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pipe._push()
                data = sock.recv(1 << 16)
                if not data:
                    raise ConnectionResetError(
                        "the peer closed the connection during the TLS handshake"
                    ) from None
                incoming.write(data)
            except ssl.SSLError:
                pipe._push()  # let the peer see our alert, then fail
                raise
        pipe._push()
        return pipe

    def _push(self) -> None:
        """Send whatever ciphertext the SSL object produced (caller serializes writers)."""
        with self._lock:
            data = self._out.read()
        if data:
            self.sock.sendall(data)

    def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for i in range(0, len(view), _TLS_CHUNK):
            with self._lock:
                self.obj.write(view[i : i + _TLS_CHUNK])
                out = self._out.read()
            self.sock.sendall(out)

    def flush(self) -> None:
        """Send ciphertext produced while reading (e.g. TLS 1.3 key updates), if no write is running."""
        lock = self.send_lock
        if self._out.pending and lock is not None and lock.acquire(blocking=False):
            try:
                self._push()
            finally:
                lock.release()

    def recv_into(self, view: memoryview) -> int:
        while True:
            with self._lock:
                try:
                    return self.obj.read(len(view), view)
                except ssl.SSLWantReadError:
                    pass
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return 0
            self.flush()
            n = self.sock.recv_into(self._raw_view)
            if not n:
                return 0
            with self._lock:
                self._in.write(self._raw_view[:n])

    def peer_cert(self) -> dict[str, object] | None:
        return self.obj.getpeercert()  # type: ignore[return-value]
