"""Setting up the TCP link's connections: listening, dialing with backoff, and the HELLO exchange.

The higher rank of each pair dials the lower one (the dealer, rank == world, dials everyone).
A dial attempt connects, runs the TLS handshake (the client checks that the server's
certificate names the expected party), sends HELLO and waits for ACCEPT or REJECT. The
listener side runs each incoming connection's handshake on its own short-lived thread, so a
slow or hostile client cannot hold up the others; the link decides whether to accept.

Refused connections, resets and timeouts are retried with exponential backoff until
`connect_timeout`; a REJECT or a TLS failure (wrong CA, wrong name) is final at once.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from veil.errors import LinkError
from veil.link.tcp_pipe import PlainPipe, TlsPipe, tune
from veil.link.tcp_proto import MAX_CONTROL, FrameReader, Kind, parse_hello
from veil.link.tls import common_names

_FIRST_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 1.0
_ATTEMPT_S = 5.0  # longest single connect / handshake step


class Conn:
    """One established connection: its pipe, reader, write lock and the ACKs it received."""

    def __init__(self, pipe: PlainPipe, reader: FrameReader) -> None:
        self.pipe = pipe
        self.reader = reader
        self.lock = threading.Lock()
        self.acks: set[int] = set()
        self.ended = False  # the reader thread stopped
        if isinstance(pipe, TlsPipe):
            pipe.send_lock = self.lock


class Rejected(Exception):
    """The peer refused this connection for good (a REJECT, a TLS failure): do not retry."""


def split_address(address: str) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') as (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def listen(bind: str) -> socket.socket:
    """A listening socket on `bind` ('host:port'); OSError if the port is taken or not local."""
    host, port = split_address(bind)
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


def describe(e: BaseException) -> str:
    """A short reason for a failed attempt: the exception type and its message."""
    text = str(e) or repr(e)
    return f"{type(e).__name__}: {text}"


def dial_once(
    address: str,
    *,
    hello: bytes,
    expect_rank: int,
    ctx: ssl.SSLContext | None,
    server_name: str | None,
    timeout: float,
    send_timeout: float,
    max_message: int,
) -> tuple[PlainPipe, FrameReader]:
    """One attempt: connect, handshake, HELLO -> ACCEPT. OSError to retry, Rejected if final."""
    sock = socket.create_connection(split_address(address), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            pipe = (
                TlsPipe.open(sock, ctx, server_side=False, server_name=server_name)
                if ctx
                else PlainPipe(sock)
            )
        except ssl.SSLError as e:
            raise Rejected(f"TLS handshake with {address} failed ({describe(e)})") from None
        pipe.send_frame(Kind.HELLO, hello)
        reader = FrameReader(pipe.recv_into, max_message)
        try:
            got = reader.read_frame(limit=MAX_CONTROL)
        except ssl.SSLError as e:  # TLS 1.3: the server checks our certificate after our handshake ends
            raise Rejected(f"{address} refused this party's TLS certificate ({describe(e)})") from None
        except LinkError as e:
            raise Rejected(f"{address} answered with something that is not a veil TCP link ({e})") from None
        if got is None:
            raise ConnectionResetError(f"{address} closed the connection before answering HELLO")
        kind, body = got
        if kind == Kind.REJECT:
            raise Rejected(f"{address} refused the connection: {bytes(body).decode('utf-8', 'replace')}")
        if kind != Kind.ACCEPT:
            raise Rejected(f"{address} answered HELLO with {kind.name}, expected ACCEPT")
        try:
            rank = parse_hello(body)[0]
        except LinkError as e:
            raise Rejected(f"{address} sent a bad ACCEPT ({e})") from None
        if rank != expect_rank:
            raise Rejected(
                f"the party at {address} is rank {rank}, expected {expect_rank}: check the addresses"
            )
        tune(sock, send_timeout)
        return pipe, reader
    except BaseException:
        sock.close()
        raise


def dial(
    address: str, connect_timeout: float, stop: threading.Event, on_retry: Callable[[str], None], **kw: Any
) -> tuple[PlainPipe, FrameReader] | None:
    """Retry `dial_once(address, **kw)` with backoff until it succeeds (the pipe), `stop` is set
    (None), or connect_timeout passes (Rejected naming the address and the last error)."""
    deadline = time.monotonic() + connect_timeout
    delay = _FIRST_BACKOFF_S
    while not stop.is_set():
        left = deadline - time.monotonic()
        try:
            return dial_once(address, timeout=min(max(left, 0.2), _ATTEMPT_S), **kw)
        except OSError as e:
            detail = describe(e)
        on_retry(detail)
        left = deadline - time.monotonic()
        if left <= 0:
            raise Rejected(f"cannot connect to {address} within {connect_timeout:g} s ({detail})")
        stop.wait(min(delay, left))
        delay = min(2 * delay, _MAX_BACKOFF_S)
    return None


def accept_hello(
    sock: socket.socket, ctx: ssl.SSLContext | None, timeout: float, max_message: int
) -> tuple[PlainPipe, FrameReader, tuple[int, int, int]]:
    """Listener side of one connection: TLS handshake, then the HELLO's (rank, world, nranks).

    Raises OSError / ssl.SSLError / LinkError for anything that is not a veil party saying HELLO.
    """
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pipe = TlsPipe.open(sock, ctx, server_side=True) if ctx else PlainPipe(sock)
    reader = FrameReader(pipe.recv_into, max_message)
    got = reader.read_frame(limit=MAX_CONTROL)
    if got is None:
        raise ConnectionResetError("closed before HELLO")
    kind, body = got
    if kind != Kind.HELLO:
        raise LinkError(f"first frame is {kind.name}, not HELLO")
    return pipe, reader, parse_hello(body)


def refusal(
    peer: int,
    world: int,
    nranks: int,
    rank: int,
    job_world: int,
    job_nranks: int,
    expected_name: str | None,
    cert: dict[str, object] | None,
) -> str:
    """Why the listener (rank `rank`) refuses a HELLO from `peer` ("" = accept it).

    The dialer must be a higher rank of this job with the same shape; with TLS and peer names,
    its client certificate's CN must be `expected_name`.
    """
    if not rank < peer < job_nranks or (world, nranks) != (job_world, job_nranks):
        return (
            f"rank {peer} with world={world}, {nranks} ranks does not belong to this job or must not "
            f"dial party {rank} (world={job_world}, {job_nranks} ranks): check the cluster config"
        )
    if expected_name is not None and common_names(cert) != [expected_name]:
        return f"a client claims rank {peer} but its certificate is for {common_names(cert)}, not {expected_name!r}"
    return ""
