"""Frames of the TCP link: a 9-byte header (kind, length) plus bytes. No pickle, no protobuf.

One TCP connection joins each pair of ranks; the higher rank dials. The dialer sends HELLO
(its rank and the job's shape); the listener answers ACCEPT (its own HELLO) or REJECT (a
reason) and closes. After that both sides send, in any order:

    DATA       one `veil.link.wire` frame (the array, its tag and depth stamp)
    HEARTBEAT  empty; keeps the peer's failure detector quiet while no data flows
    FAIL       utf-8 reason: this party failed (the receiver ACKs it)
    CLOSE      empty: nothing more will be sent (the receiver ACKs it, then the sender hangs up)
    ACK        one byte: the kind acknowledged

Header (little-endian): u8 kind | u64 body length. `FrameReader` parses a byte stream into
frames with bounds checks: an unknown kind or an oversized body is a `LinkError`; the stream
ending inside a frame is `StreamEnded` (the peer's process or the network went away).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

from veil.errors import LinkError

HEADER = struct.Struct("<BQ")
_HELLO = struct.Struct("<4sHIII")  # magic, version, rank, world, ranks in the job
HELLO_MAGIC = b"VLT1"
VERSION = 1
MAX_CONTROL = 8192  # bytes: HELLO / ACCEPT / REJECT bodies are tiny
_BUF = 1 << 18  # the reader's buffer; larger bodies are read straight into their own buffer


class Kind(enum.IntEnum):
    """What a frame is."""

    HELLO = 1
    ACCEPT = 2
    REJECT = 3
    DATA = 4
    HEARTBEAT = 5
    FAIL = 6
    CLOSE = 7
    ACK = 8


_KINDS = frozenset(int(k) for k in Kind)


class StreamEnded(ConnectionError):
    """The byte stream ended inside a frame (the peer died mid-message or the network broke)."""


def header(kind: Kind, length: int) -> bytes:
    return HEADER.pack(kind, length)


def hello_body(rank: int, world: int, nranks: int) -> bytes:
    return _HELLO.pack(HELLO_MAGIC, VERSION, rank, world, nranks)


def parse_hello(body: bytes | memoryview) -> tuple[int, int, int]:
    """(rank, world, ranks in the job) of a HELLO/ACCEPT body; LinkError if it is not one."""
    if len(body) != _HELLO.size:
        raise LinkError(f"tcp link: HELLO has {len(body)} bytes, expected {_HELLO.size}")
    magic, version, rank, world, nranks = _HELLO.unpack(body)
    if magic != HELLO_MAGIC:
        raise LinkError(f"tcp link: bad HELLO magic {bytes(magic)!r}; the peer is not a veil TCP link")
    if version != VERSION:
        raise LinkError(f"tcp link: protocol version {version} unsupported (this side speaks {VERSION})")
    return rank, world, nranks


RecvInto = Callable[[memoryview], int]  # fills a prefix of the view; 0 = end of stream


class FrameReader:
    """Buffered, bounds-checked frame parser over `recv_into` (one reader thread per connection).

    Small bodies are returned as views into the internal buffer: valid until the next call.
    `on_progress` is called while a large body arrives, so a long transfer counts as contact.
    """

    def __init__(self, recv_into: RecvInto, max_message: int, on_progress: Callable[[], None] | None = None):
        self._recv_into = recv_into
        self.max_message = max_message
        self.on_progress = on_progress
        self._buf = bytearray(_BUF)
        self._mv = memoryview(self._buf)
        self._start = 0
        self._end = 0

    def _have(self, n: int, at_boundary: bool = False) -> bool:
        """Buffer at least n bytes (n <= buffer size); False on a clean end at a frame boundary."""
        while self._end - self._start < n:
            if self._start and len(self._buf) - self._start < n:  # compact
                size = self._end - self._start
                self._mv[:size] = self._mv[self._start : self._end]
                self._start, self._end = 0, size
            k = self._recv_into(self._mv[self._end :])
            if k == 0:
                if at_boundary and self._end == self._start:
                    return False
                raise StreamEnded(f"the connection ended inside a frame ({self._end - self._start} bytes)")
            self._end += k
        return True

    def read_frame(self, limit: int | None = None) -> tuple[Kind, memoryview | bytearray] | None:
        """The next (kind, body), or None if the stream ended cleanly between frames."""
        if not self._have(HEADER.size, at_boundary=True):
            return None
        kind, n = HEADER.unpack_from(self._buf, self._start)
        self._start += HEADER.size
        if kind not in _KINDS:
            raise LinkError(f"tcp link: unknown frame kind {kind}; the peer is not speaking veil frames")
        cap = self.max_message if limit is None else limit
        if n > cap:
            raise LinkError(f"tcp link: a {Kind(kind).name} frame of {n} bytes exceeds the limit of {cap}")
        if n <= len(self._buf):
            self._have(n)
            body = self._mv[self._start : self._start + n]
            self._start += n
            return Kind(kind), body
        big = bytearray(n)
        got = self._end - self._start
        big[:got] = self._mv[self._start : self._end]
        self._start = self._end = 0
        view = memoryview(big)
        while got < n:
            k = self._recv_into(view[got:])
            if k == 0:
                raise StreamEnded(f"the connection ended inside a {n}-byte frame after {got} bytes")
            got += k
            if self.on_progress is not None:
                self.on_progress()
        return Kind(kind), big
