"""Shared helpers for the TcpLink tests: links on loopback and a raw-socket fake peer."""

from __future__ import annotations

import socket
from typing import Any

from veil.link.tcp import TcpLink
from veil.link.tcp_proto import HEADER, MAX_CONTROL, FrameReader, Kind, hello_body


def make_links(world: int, addresses: dict[int, str], **kw: Any) -> dict[int, TcpLink]:
    """One TcpLink per rank in `addresses` (construction does not wait for peers)."""
    kw.setdefault("timeout", 5.0)
    kw.setdefault("connect_timeout", 5.0)
    return {r: TcpLink(r, world, addresses, **kw) for r in sorted(addresses)}


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

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()
