"""The contract GrpcLink and TcpLink share, run once per link class (`link_cls`, see conftest.py)
with parties as threads on 127.0.0.1: delivery, FIFO, large arrays, collectives, stats equal to
MemoryHub's, failures, timeouts, closing, and strangers. Transport-specific checks (gRPC chunks,
TCP frames, malformed bytes of each protocol) stay in test_grpc.py and test_tcp.py."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import numpy as np
import pytest

from veil.errors import ConfigError, LinkError, LinkTimeoutError, PartyError
from veil.link.base import Link, PeerClosedError
from veil.link.grpc import GrpcLink
from veil.link.memory import run_job
from veil.link.shaper import Shaper
from veil.link.tcp import TcpLink

from .helpers import (
    FIFO_COUNT,
    FIFO_TAGS,
    LinkCls,
    dealer_serve,
    fake_peer,
    fifo_per_tag,
    free_addresses,
    make_links,
    ping_pong,
    run_threads,
    with_dealer,
)

U128 = np.dtype([("lo", "<u8"), ("hi", "<u8")])
MIB = 2**20
pytestmark = pytest.mark.timeout(30)


def test_satisfies_protocol_and_validates_config(link_cls: LinkCls) -> None:
    addrs = free_addresses(range(2))
    link = link_cls(0, 2, addrs, connect_timeout=1.0)
    try:
        assert isinstance(link, Link)
        for peer in (0, 2, -1):
            with pytest.raises(LinkError, match="invalid peer"):
                link.send(peer, "t", np.ones(1))
    finally:
        link.close()
    with pytest.raises(LinkError, match="closed link"):
        link.recv(1, "t")
    with pytest.raises(ConfigError, match="missing \\[1\\]"):
        link_cls(0, 2, {0: addrs[0]})
    with pytest.raises(ConfigError, match="host:port"):
        link_cls(0, 2, {0: addrs[0], 1: "nohost"})
    with pytest.raises(ConfigError, match="heartbeat_s"):
        link_cls(0, 2, addrs, heartbeat_s=0)


def test_port_taken_is_a_clear_error(link_cls: LinkCls) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    addr = f"127.0.0.1:{s.getsockname()[1]}"
    try:
        with pytest.raises(LinkError, match="cannot listen on"):
            link_cls(0, 2, {0: addr, 1: "127.0.0.1:1"})
    finally:
        s.close()


def test_ping_pong_and_copies(link_cls: LinkCls) -> None:
    out = run_threads(make_links(link_cls, 2, free_addresses(range(2))), ping_pong)
    assert out == {0: 20, 1: 19}


def test_many_tags_interleaved_fifo_per_tag(link_cls: LinkCls) -> None:
    out = run_threads(make_links(link_cls, 2, free_addresses(range(2))), fifo_per_tag)
    assert out[1] == [list(range(FIFO_COUNT))] * len(FIFO_TAGS)


def _wire_sizes_ok(link_cls: LinkCls, sizes: list[int]) -> bool:
    """gRPC sends a 20 MiB array as 20 chunks of at most max_chunk (1 MiB here) plus a small header;
    TCP sends it as one frame (large frames bypass the reader's buffer)."""
    if link_cls is GrpcLink:
        return sum(n > MIB // 2 for n in sizes) == 20 and max(sizes) <= MIB + 64
    return sum(n > 20 * MIB for n in sizes) == 1


def test_20mb_arrays_both_ways_are_intact(link_cls: LinkCls) -> None:
    """Both directions at once must not deadlock; the U128 dtype survives the trip."""
    rng = np.random.default_rng(1)
    big = {r: rng.integers(0, 2**63, size=20 * MIB // 8, dtype=np.uint64) for r in range(2)}
    pair = np.zeros(1000, U128)
    pair["lo"], pair["hi"] = np.arange(1000), 7
    seen: dict[int, list[int]] = {0: [], 1: []}
    extra = {"max_chunk": MIB} if link_cls is GrpcLink else {}
    addrs = free_addresses(range(2))
    links = {
        r: link_cls(r, 2, addrs, timeout=5.0, on_wire=lambda p, b, r=r: seen[r].append(len(b)), **extra)
        for r in range(2)
    }

    def fn(link: Link) -> bool:
        other = 1 - link.rank
        link.send(other, "big", big[link.rank])
        link.send(other, "pair", pair)
        got, got2 = link.recv(other, "big"), link.recv(other, "pair")
        return bool(np.array_equal(got, big[other]) and np.array_equal(got2, pair) and got2.dtype == U128)

    assert run_threads(links, fn) == {0: True, 1: True}
    assert _wire_sizes_ok(link_cls, seen[0]) and _wire_sizes_ok(link_cls, seen[1])
    assert links[0].stats.snapshot().online.bytes_recv == 20 * MIB + pair.nbytes


def _gather_pattern(link: Link) -> tuple:
    x = np.zeros(2, U128)
    x["lo"], x["hi"] = link.rank, 10 + link.rank
    gathered = link.all_gather("g", x)
    b = link.broadcast(1, "b", np.array([42]) if link.rank == 1 else None)
    nxt, prv = (link.rank + 1) % 3, (link.rank - 1) % 3
    link.send(nxt, "ring", np.array([link.rank]))
    got = int(link.recv(prv, "ring")[0])
    y = link.exchange(nxt if link.rank == 0 else prv, "ex", np.ones(5)) if link.rank != 2 else None
    return [int(g["hi"][0]) for g in gathered], int(b[0]), got, y is not None


def test_three_parties_collectives_stats_equal_memory(link_cls: LinkCls) -> None:
    links = make_links(link_cls, 3, free_addresses(range(3)))
    out = run_threads(links, _gather_pattern)
    for rank in range(3):
        assert out[rank][:3] == ([10, 11, 12], 42, (rank - 1) % 3)
    mem = run_job(3, _gather_pattern)
    assert [out[r] for r in range(3)] == mem.results
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == mem.stats


def test_dealer_is_a_peer_and_its_traffic_offline(link_cls: LinkCls) -> None:
    links = make_links(link_cls, 2, free_addresses(range(3)))

    def fn(link: Link) -> int | None:
        if link.rank == 2:
            with pytest.raises(PeerClosedError):
                dealer_serve(link)
            return None
        return with_dealer(link)

    out = run_threads(links, fn)
    assert out == {0: 1, 1: 1, 2: None}
    mem = run_job(2, with_dealer, dealer=dealer_serve)
    snaps = {r: lk.stats.snapshot() for r, lk in links.items()}
    assert snaps == mem.stats and snaps[0].offline.bytes_recv == 64 and snaps[0].online.bytes_recv == 64


def test_stats_match_memory_for_a_two_party_pattern(link_cls: LinkCls) -> None:
    def fn(link: Link) -> int:
        y = link.exchange(1 - link.rank, "e", np.ones(4, np.uint64))
        link.exchange(1 - link.rank, "f", y)
        return link.stats.rounds

    links = make_links(link_cls, 2, free_addresses(range(2)))
    assert run_threads(links, fn) == {0: 2, 1: 2}
    mem = run_job(2, fn)
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == mem.stats


def test_fail_wakes_every_peer_quickly(link_cls: LinkCls) -> None:
    def fn(link: Link) -> None:
        link.send((link.rank + 1) % 3, "warmup", np.zeros(1))
        link.recv((link.rank - 1) % 3, "warmup")
        if link.rank == 1:
            time.sleep(0.05)
            raise ValueError("boom in party 1")
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="boom in party 1") as info:
            link.recv(1, "never")
        assert info.value.party == 1 and time.monotonic() - t0 < 1.0
        with pytest.raises(PartyError):  # later sends fail too
            link.send(1, "late", np.zeros(1))

    out = run_threads(make_links(link_cls, 3, free_addresses(range(3)), timeout=5.0), fn)
    assert isinstance(out[1], ValueError) and out[0] is None and out[2] is None


def test_recv_timeout_names_peer_tag_and_timeout(link_cls: LinkCls) -> None:
    links = make_links(link_cls, 2, free_addresses(range(2)), timeout=0.3)
    try:
        t0 = time.monotonic()
        with pytest.raises(LinkTimeoutError, match=r"party 1: recv from party 0 \(tag 'mul/open'\).*0.3 s"):
            links[1].recv(0, "mul/open")
        assert 0.25 < time.monotonic() - t0 < 1.5
    finally:
        for lk in links.values():
            lk.close()


def test_close_delivers_sent_data_then_peer_closed(link_cls: LinkCls) -> None:
    links = make_links(link_cls, 2, free_addresses(range(2)))
    a, b = links[0], links[1]
    a.wait_ready(5.0)
    a.send(1, "t", np.ones(1))
    a.send(1, "big", np.ones(MIB))  # 8 MB still in flight when the close follows
    a.close()
    assert b.recv(0, "t").tolist() == [1.0] and b.recv(0, "big").sum() == MIB
    with pytest.raises(PeerClosedError, match="closed"):
        b.recv(0, "t")
    with pytest.raises(LinkError, match="closed link"):
        a.send(1, "t", np.ones(1))
    b.send(0, "ignored", np.ones(1))  # sending to a closed peer is silent, like memory.py
    b.close()


def test_send_before_the_peer_is_up_waits_for_the_connection(link_cls: LinkCls) -> None:
    addrs = free_addresses(range(2))
    first = link_cls(1, 2, addrs, timeout=5.0, connect_timeout=5.0)  # rank 0 is not there yet
    result: list[Any] = []
    sender = threading.Thread(target=lambda: result.append(first.send(0, "early", np.arange(4))))
    sender.start()
    time.sleep(0.3)
    second = link_cls(0, 2, addrs, timeout=5.0, connect_timeout=5.0)
    try:
        assert second.recv(1, "early").tolist() == [0, 1, 2, 3]
        sender.join(5.0)
        assert result == [None]
    finally:
        first.close()
        second.close()


# Who waits alone, and what it says: a gRPC party dials every peer; a TCP party dials only the lower
# ranks, and a listener names the party that never dialed it.
UNREACHABLE = {
    (GrpcLink, 0): ("unreachable: cannot connect to {peer}.*refused", 2.5),
    (GrpcLink, 1): ("unreachable: cannot connect to {peer}.*refused", 2.5),
    (TcpLink, 0): ("never connected to party 0.*did not dial .*{own}", 2.5),
    (TcpLink, 1): ("unreachable: cannot connect to {peer} within 1 s.*refused", 2.0),
}


@pytest.mark.parametrize("alone", [0, 1])
def test_unreachable_peer_fails_within_connect_timeout(link_cls: LinkCls, alone: int) -> None:
    """Nobody ever runs the other rank: the error comes after about connect_timeout."""
    addrs = free_addresses(range(2))
    pattern, bound = UNREACHABLE[link_cls, alone]
    link = link_cls(alone, 2, addrs, timeout=10.0, connect_timeout=1.0, heartbeat_s=0.2)
    try:
        t0 = time.monotonic()
        with pytest.raises(PartyError, match=pattern.format(peer=addrs[1 - alone], own=addrs[alone])) as e:
            link.recv(1 - alone, "x")
        assert e.value.party == 1 - alone and 0.8 < time.monotonic() - t0 < bound
    finally:
        link.close()


def test_silent_peer_is_unreachable_after_three_heartbeats(link_cls: LinkCls) -> None:
    addrs = free_addresses(range(2))
    link = link_cls(0, 2, addrs, timeout=10.0, connect_timeout=5.0, heartbeat_s=0.2)
    fake = fake_peer(link_cls, addrs[0], rank=1)  # says HELLO, then never a heartbeat
    try:
        assert fake.refusal(wait_s=0.0) == ""
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="silent"):
            link.recv(1, "x")
        assert 0.5 < time.monotonic() - t0 < 2.0
    finally:
        fake.close()
        link.close()


def test_shaper_delays_delivery(link_cls: LinkCls) -> None:
    links = make_links(link_cls, 2, free_addresses(range(2)), shaper=Shaper(0.05))

    def fn(link: Link) -> float:
        link.wait_ready(5.0)
        t0 = time.monotonic()
        for _ in range(3):  # ping-pong: two shaped deliveries per iteration
            if link.rank == 0:
                link.send(1, "p", np.ones(4))
                link.recv(1, "p")
            else:
                link.send(0, "p", link.recv(0, "p"))
        return time.monotonic() - t0

    out = run_threads(links, fn)
    assert 0.3 <= out[0] < 2.0, out


def test_anonymous_garbage_and_strangers_are_refused_and_link_keeps_working(link_cls: LinkCls) -> None:
    addrs = free_addresses(range(2))
    links = make_links(link_cls, 2, addrs)
    try:
        raw = socket.create_connection(("127.0.0.1", int(addrs[0].rsplit(":", 1)[1])))
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 8)
        raw.close()
        stranger = fake_peer(link_cls, addrs[0], rank=7)  # not a rank of this job
        assert "does not belong to this job" in stranger.refusal()
        stranger.close()
        links[0].wait_ready(5.0)
        twin = fake_peer(link_cls, addrs[0], rank=1)  # rank 1 is connected already
        assert re.search("already (connected|has a stream)", twin.refusal())  # each says it its way
        twin.close()
        links[1].send(0, "ok", np.arange(3))
        assert links[0].recv(1, "ok").tolist() == [0, 1, 2]
    finally:
        for lk in links.values():
            lk.close()


def test_context_manager_fails_peers_on_error_and_threads_are_released(link_cls: LinkCls) -> None:
    before = threading.active_count()
    addrs = free_addresses(range(2))
    other = link_cls(1, 2, addrs, timeout=5.0)
    with pytest.raises(RuntimeError, match="oops"):
        with link_cls(0, 2, addrs, timeout=5.0) as link:
            link.wait_ready(5.0)
            raise RuntimeError("oops")
    with pytest.raises(PartyError, match="oops") as info:
        other.recv(0, "x")
    assert info.value.party == 0
    other.close()
    deadline = time.monotonic() + 3.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
