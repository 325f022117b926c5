"""Shared helpers for the gRPC link tests: free loopback ports, parties on threads, fake peers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from veil.link.grpc import GrpcLink
from veil.link.grpc_proto import FULL_METHOD, Kind, hello_payload, pack


def free_addresses(ranks: Iterable[int]) -> dict[int, str]:
    """A free 127.0.0.1 port per rank (bind port 0, read it, release it)."""
    socks = []
    out = {}
    for r in ranks:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        out[r] = f"127.0.0.1:{s.getsockname()[1]}"
    for s in socks:
        s.close()
    return out


def make_links(world: int, addresses: dict[int, str], **kw: Any) -> dict[int, GrpcLink]:
    """One GrpcLink per rank in `addresses` (construction does not wait for peers)."""
    kw.setdefault("timeout", 5.0)
    kw.setdefault("connect_timeout", 5.0)
    return {r: GrpcLink(r, world, addresses, **kw) for r in sorted(addresses)}


def run_threads(
    links: dict[int, GrpcLink], fn: Callable[[GrpcLink], Any], join_s: float = 15.0
) -> dict[int, Any]:
    """Run fn(link) per party on threads; each failing party fails its link; all links close.

    Returns {rank: result or the exception raised}.
    """
    out: dict[int, Any] = {}

    def body(link: GrpcLink) -> None:
        try:
            out[link.rank] = fn(link)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            out[link.rank] = e
            link.fail(repr(e))
        finally:
            link.close()

    threads = [threading.Thread(target=body, args=(lk,), daemon=True) for lk in links.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join_s)
    if any(t.is_alive() for t in threads):
        raise AssertionError("a party thread hung")
    return out


class FakePeer:
    """A raw gRPC client posing as rank `rank`: sends HELLO then whatever bytes the test wants."""

    def __init__(self, address: str, rank: int, world: int, nranks: int) -> None:
        self.channel = grpc.insecure_channel(address)
        self._items: list[bytes | None] = []
        self._cond = threading.Condition()
        self.hello = pack(Kind.HELLO, rank, 0, hello_payload(world, nranks))
        self.responses: list[bytes] = []
        self.error: grpc.RpcError | None = None
        self._call = self.channel.stream_stream(FULL_METHOD)(self._requests())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[bytes]:
        yield self.hello
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                item = self._items.pop(0)
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for m in self._call:
                self.responses.append(m)
        except grpc.RpcError as e:
            self.error = e

    def send(self, message: bytes | None) -> None:
        """Queue raw bytes (None ends the stream cleanly, i.e. half-close)."""
        with self._cond:
            self._items.append(message)
            self._cond.notify()

    def close(self, join_s: float = 5.0) -> None:
        self.send(None)
        self._reader.join(join_s)
        self._call.cancel()
        self.channel.close()
