"""TcpLink test helpers: raw frames and a raw-socket fake peer (generic ones are in helpers.py)."""

from __future__ import annotations

import socket

from veil.link.tcp_proto import HEADER, MAX_CONTROL, FrameReader, Kind, hello_body


def frame(kind: Kind, body: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(body)) + body


class FakePeer:
    """A raw TCP client posing as rank `rank`: HELLO, then whatever bytes the test sends."""

    def __init__(self, address: str, rank: int, world: int = 2, nranks: int = 2) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5.0)
        self.sock.sendall(frame(Kind.HELLO, hello_body(rank, world, nranks)))
        got = FrameReader(self.sock.recv_into, MAX_CONTROL).read_frame()
        assert got is not None
        self.answer = (got[0], bytes(got[1]))

    def refusal(self, wait_s: float = 0.0) -> str:
        """Why the link refused this HELLO ("" if it answered ACCEPT, read at construction)."""
        return self.answer[1].decode(errors="replace") if self.answer[0] == Kind.REJECT else ""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()
