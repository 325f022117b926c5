"""Messages on the gRPC link's streams: a fixed binary header plus bytes. No protobuf, no pickle.

Each party opens one bidirectional stream to every peer. The client sends HELLO, then DATA
chunks, HEARTBEATs and the FAIL / CLOSE control messages; the server answers with ACKs (of the
HELLO, FAIL and CLOSE). A DATA message carries one `veil.link.wire` frame split in chunks of at
most `max_chunk` bytes, sent back to back on the stream, so reassembly needs no buffering of
interleaved messages.

Header (little-endian): magic b"VG1\\0" | u8 kind | u8 version | u32 sender rank | u64 msg id
| u32 chunk index | u32 chunk count | u64 total message bytes, then the chunk's bytes.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Iterator
from typing import NamedTuple

from veil.errors import LinkError

MAGIC = b"VG1\0"
VERSION = 1
SERVICE = "veil.link.Link"
METHOD = "Stream"
FULL_METHOD = f"/{SERVICE}/{METHOD}"

_HDR = struct.Struct("<4sBBIQIIQ")
HEADER_SIZE = _HDR.size
_HELLO = struct.Struct("<II")  # world, number of ranks in the job (world + dealer)


class Kind(enum.IntEnum):
    """What a stream message is."""

    HELLO = 1
    DATA = 2
    HEARTBEAT = 3
    FAIL = 4
    CLOSE = 5
    ACK = 6  # server -> client: `index` holds the acknowledged kind, `msg_id` its id


class Header(NamedTuple):
    kind: Kind
    sender: int
    msg_id: int
    index: int
    count: int
    total: int


def pack(kind: Kind, sender: int, msg_id: int, payload: bytes = b"", index: int = 0, count: int = 1) -> bytes:
    """One single-chunk message (control messages and ACKs)."""
    return _HDR.pack(MAGIC, kind, VERSION, sender, msg_id, index, count, len(payload)) + payload


def hello_payload(world: int, nranks: int) -> bytes:
    return _HELLO.pack(world, nranks)


def parse_hello(payload: memoryview) -> tuple[int, int]:
    if len(payload) != _HELLO.size:
        raise LinkError(f"grpc link: HELLO payload has {len(payload)} bytes, expected {_HELLO.size}")
    world, nranks = _HELLO.unpack(payload)
    return int(world), int(nranks)


def chunks(sender: int, msg_id: int, frame: bytes, max_chunk: int) -> Iterator[bytes]:
    """Split one encoded frame into DATA messages of at most `max_chunk` payload bytes each."""
    view = memoryview(frame)
    count = max(1, math.ceil(len(view) / max_chunk))
    for i in range(count):
        head = _HDR.pack(MAGIC, Kind.DATA, VERSION, sender, msg_id, i, count, len(view))
        yield b"".join([head, view[i * max_chunk : (i + 1) * max_chunk]])


def parse(message: bytes) -> tuple[Header, memoryview]:
    """Split a stream message into its header and payload; malformed input raises LinkError."""
    if not isinstance(message, (bytes, bytearray)) or len(message) < HEADER_SIZE:
        size = len(message) if isinstance(message, (bytes, bytearray)) else type(message).__name__
        raise LinkError(f"grpc link: message of {size} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, kind, version, sender, msg_id, index, count, total = _HDR.unpack_from(message)
    if magic != MAGIC:
        raise LinkError(f"grpc link: bad magic {magic!r}; the peer is not a veil gRPC link")
    if version != VERSION:
        raise LinkError(f"grpc link: message version {version} unsupported (this side speaks {VERSION})")
    try:
        kind = Kind(kind)
    except ValueError:
        raise LinkError(f"grpc link: unknown message kind {kind}") from None
    payload = memoryview(message)[HEADER_SIZE:]
    if kind != Kind.DATA and (index >= 1 << 8 or count != 1 or total != len(payload)):
        raise LinkError(f"grpc link: malformed {kind.name} message (index {index}, count {count})")
    return Header(kind, sender, msg_id, index, count, total), payload


class Reassembler:
    """Rebuilds DATA messages from their chunks (in order, one message at a time) for one stream."""

    def __init__(self, max_total: int) -> None:
        self.max_total = max_total
        self._reset()

    def _reset(self) -> None:
        self.msg_id: int | None = None
        self.parts: list[bytes] = []
        self.got = 0
        self.next_index = 0
        self.count = 0
        self.total = 0

    def pending(self) -> str | None:
        """A description of the unfinished message, if one is half received."""
        if self.msg_id is None:
            return None
        return (
            f"message {self.msg_id} truncated after chunk {self.next_index}/{self.count} "
            f"({self.got} of {self.total} bytes)"
        )

    def check_idle(self, kind: Kind) -> None:
        """A non-DATA message may only arrive between messages."""
        if self.msg_id is not None:
            raise LinkError(f"grpc link: {self.pending()}: a {kind.name} message came in between")

    def feed(self, h: Header, payload: memoryview) -> bytes | memoryview | None:
        """Add one chunk; return the whole message when its last chunk arrived, else None."""
        if self.msg_id is None:
            if h.index != 0:
                raise LinkError(f"grpc link: message {h.msg_id} starts at chunk {h.index}, not 0")
            if not 1 <= h.count <= max(1, h.total) or h.total > self.max_total:
                raise LinkError(
                    f"grpc link: message {h.msg_id} claims {h.count} chunks / {h.total} bytes "
                    f"(limit {self.max_total} bytes)"
                )
            self.msg_id, self.count, self.total = h.msg_id, h.count, h.total
        elif (h.msg_id, h.index, h.count, h.total) != (self.msg_id, self.next_index, self.count, self.total):
            raise LinkError(
                f"grpc link: {self.pending()}: got chunk {h.index}/{h.count} of message {h.msg_id}"
            )
        self.got += len(payload)
        if self.got > self.total:
            raise LinkError(f"grpc link: message {h.msg_id} has more bytes than its header's {self.total}")
        self.next_index += 1
        if self.count == 1 and self.got == self.total:
            self._reset()
            return payload  # the common small message: no copy before decode_frame
        self.parts.append(payload.tobytes())
        if self.next_index < self.count:
            return None
        if self.got != self.total:
            raise LinkError(f"grpc link: {self.pending()}: last chunk arrived short")
        out = b"".join(self.parts)
        self._reset()
        return out
