"""Shared helpers for the network link tests (GrpcLink and TcpLink): free loopback ports, links
built per rank, parties on threads, a fake peer of either transport, and the dealer pattern that
memory, gRPC and TCP must all count the same way."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest

from veil.errors import LinkError
from veil.link.base import Link
from veil.link.grpc import GrpcLink
from veil.link.tcp import TcpLink

from . import test_grpc_helpers, test_tcp_helpers

LinkCls = type[GrpcLink] | type[TcpLink]


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


def make_links(link_cls: LinkCls, world: int, addresses: dict[int, str], **kw: Any) -> dict[int, Any]:
    """One link of `link_cls` per rank in `addresses` (construction does not wait for peers)."""
    kw.setdefault("timeout", 5.0)
    kw.setdefault("connect_timeout", 5.0)
    return {r: link_cls(r, world, addresses, **kw) for r in sorted(addresses)}


def run_threads(links: dict[int, Any], fn: Callable[[Any], Any], join_s: float = 15.0) -> dict[int, Any]:
    """Run fn(link) per party on threads; each failing party fails its link; all links close.

    Returns {rank: result or the exception raised}.
    """
    out: dict[int, Any] = {}

    def body(link: Any) -> None:
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


def fake_peer(link_cls: LinkCls, address: str, rank: int, world: int = 2, nranks: int = 2) -> Any:
    """A raw client of `link_cls`'s transport posing as `rank`: says HELLO, then only what the test
    sends. Both kinds have close() and refusal() (why the link refused it, "" if it accepted)."""
    kinds = {GrpcLink: test_grpc_helpers.FakePeer, TcpLink: test_tcp_helpers.FakePeer}
    return kinds[link_cls](address, rank, world, nranks)


def ping_pong(link: Link) -> int:
    """20 alternating sends between ranks 0 and 1, then a check that send copies its array.
    Returns the last value received: 20 on rank 0, 19 on rank 1."""
    x = np.zeros(3, np.uint64)
    for i in range(20):
        if (i + link.rank) % 2 == 0:
            link.send(1 - link.rank, "ping", x + 1)
        else:
            x = link.recv(1 - link.rank, "ping")
    a = np.arange(3, dtype=np.int64)
    link.send(1 - link.rank, "copy", a)
    a[0] = 100  # the peer got a copy at send time
    got = link.recv(1 - link.rank, "copy")
    assert got.tolist() == [0, 1, 2] and got.flags.writeable
    return int(x[0])


FIFO_TAGS, FIFO_COUNT = [f"t{i}" for i in range(8)], 25


def fifo_per_tag(link: Link) -> list[list[int]] | None:
    """Rank 0 interleaves FIFO_COUNT messages on each of FIFO_TAGS; rank 1 drains the tags in
    reverse order (tags do not block each other) and returns the sequence numbers per tag."""
    if link.rank == 0:
        for i in range(FIFO_COUNT):
            for t in FIFO_TAGS:
                link.send(1, t, np.array([i, FIFO_TAGS.index(t)], np.int32))
        return None
    return [[int(link.recv(0, t)[0]) for _ in range(FIFO_COUNT)] for t in reversed(FIFO_TAGS)]


def dealer_serve(link: Link) -> None:
    """A dealer (rank 2 of 2 parties) serving zero triples until the parties close."""
    while True:  # PeerClosedError ends the loop
        n = int(link.recv(0, "req")[0])
        link.send(0, "triple", np.zeros(n, np.uint64))
        link.send(1, "triple", np.zeros(n, np.uint64))
        link.recv(1, "req")


def with_dealer(link: Link) -> int:
    """A party asking the dealer for 8 values, then opening them with the other party (1 round)."""
    link.send(2, "req", np.array([8], np.int64))
    t = link.recv(2, "triple")
    link.exchange(1 - link.rank, "open", t)
    return link.stats.rounds


def expect_malformed(link: Link, match: str) -> None:
    """rank 0's recv from rank 1 fails at once with a LinkError naming the peer and `match`."""
    t0 = time.monotonic()
    with pytest.raises(LinkError, match=f"party 0: recv from party 1 .*malformed data from party 1.*{match}"):
        link.recv(1, "x")
    assert time.monotonic() - t0 < 2.0
