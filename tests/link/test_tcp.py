"""TcpLink with parties as threads on 127.0.0.1: delivery, FIFO, large arrays, collectives, stats
equal to MemoryHub's, failures, timeouts, closing, and malformed input from a peer (mirrors
test_grpc.py; TLS cases are in test_tcp_tls.py, separate processes in test_tcp_process.py)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import numpy as np
import pytest

from veil.errors import ConfigError, LinkError, LinkTimeoutError, PartyError
from veil.link.base import Link, PeerClosedError
from veil.link.memory import run_job
from veil.link.shaper import Shaper
from veil.link.tcp import TcpLink
from veil.link.tcp_proto import HEADER, Kind, hello_body
from veil.link.wire import encode_frame

from .test_grpc_helpers import free_addresses, run_threads
from .test_tcp_helpers import FakePeer, frame, make_links

U128 = np.dtype([("lo", "<u8"), ("hi", "<u8")])
pytestmark = pytest.mark.timeout(30)


def test_satisfies_protocol_and_validates_config() -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, connect_timeout=1.0)
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
        TcpLink(0, 2, {0: addrs[0]})
    with pytest.raises(ConfigError, match="host:port"):
        TcpLink(0, 2, {0: addrs[0], 1: "nohost"})
    with pytest.raises(ConfigError, match="heartbeat_s"):
        TcpLink(0, 2, addrs, heartbeat_s=0)


def test_port_taken_is_a_clear_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    addr = f"127.0.0.1:{s.getsockname()[1]}"
    try:
        with pytest.raises(LinkError, match="cannot listen on"):
            TcpLink(0, 2, {0: addr, 1: "127.0.0.1:1"})
    finally:
        s.close()


def test_ping_pong_and_copies() -> None:
    def fn(link: TcpLink) -> int:
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

    out = run_threads(make_links(2, free_addresses(range(2))), fn)
    assert out == {0: 20, 1: 19}


def test_many_tags_interleaved_fifo_per_tag() -> None:
    tags = [f"t{i}" for i in range(8)]

    def fn(link: TcpLink) -> list[list[int]] | None:
        if link.rank == 0:
            for i in range(25):
                for t in tags:
                    link.send(1, t, np.array([i, tags.index(t)], np.int32))
            return None
        return [[int(link.recv(0, t)[0]) for _ in range(25)] for t in reversed(tags)]

    out = run_threads(make_links(2, free_addresses(range(2))), fn)
    assert out[1] == [list(range(25))] * 8


def test_20mb_arrays_both_ways_are_intact() -> None:
    """Large frames bypass the reader's buffer; both directions at once must not deadlock."""
    rng = np.random.default_rng(1)
    big = {r: rng.integers(0, 2**63, size=20 * 2**20 // 8, dtype=np.uint64) for r in range(2)}
    pair = np.zeros(1000, U128)
    pair["lo"], pair["hi"] = np.arange(1000), 7
    seen: list[tuple[int, int]] = []
    addrs = free_addresses(range(2))
    links = make_links(2, addrs, on_wire=lambda p, b: seen.append((p, len(b))))

    def fn(link: TcpLink) -> bool:
        other = 1 - link.rank
        link.send(other, "big", big[link.rank])
        link.send(other, "pair", pair)
        got, got2 = link.recv(other, "big"), link.recv(other, "pair")
        return bool(np.array_equal(got, big[other]) and np.array_equal(got2, pair) and got2.dtype == U128)

    assert run_threads(links, fn) == {0: True, 1: True}
    assert sum(n > 20 * 2**20 for _, n in seen) == 2  # one frame per array, no chunking
    assert links[0].stats.snapshot().online.bytes_recv == 20 * 2**20 + pair.nbytes


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


def test_three_parties_collectives_stats_equal_memory() -> None:
    links = make_links(3, free_addresses(range(3)))
    out = run_threads(links, _gather_pattern)
    for rank in range(3):
        assert out[rank][:3] == ([10, 11, 12], 42, (rank - 1) % 3)
    mem = run_job(3, _gather_pattern)
    assert [out[r] for r in range(3)] == mem.results
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == mem.stats


def _dealer(link: Link) -> None:
    while True:  # serve until the parties close
        n = int(link.recv(0, "req")[0])
        link.send(0, "triple", np.zeros(n, np.uint64))
        link.send(1, "triple", np.zeros(n, np.uint64))
        link.recv(1, "req")


def _with_dealer(link: Link) -> int:
    link.send(2, "req", np.array([8], np.int64))
    t = link.recv(2, "triple")
    link.exchange(1 - link.rank, "open", t)
    return link.stats.rounds


def test_dealer_is_a_peer_and_its_traffic_offline() -> None:
    links = make_links(2, free_addresses(range(3)))

    def fn(link: TcpLink) -> int | None:
        if link.rank == 2:
            with pytest.raises(PeerClosedError):
                _dealer(link)
            return None
        return _with_dealer(link)

    out = run_threads(links, fn)
    assert out == {0: 1, 1: 1, 2: None}
    mem = run_job(2, _with_dealer, dealer=_dealer)
    snaps = {r: lk.stats.snapshot() for r, lk in links.items()}
    assert snaps == mem.stats and snaps[0].offline.bytes_recv == 64 and snaps[0].online.bytes_recv == 64


def test_fail_wakes_every_peer_quickly() -> None:
    def fn(link: TcpLink) -> None:
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

    out = run_threads(make_links(3, free_addresses(range(3)), timeout=5.0), fn)
    assert isinstance(out[1], ValueError) and out[0] is None and out[2] is None


def test_recv_timeout_names_peer_tag_and_timeout() -> None:
    links = make_links(2, free_addresses(range(2)), timeout=0.3)
    try:
        t0 = time.monotonic()
        with pytest.raises(LinkTimeoutError, match=r"party 1: recv from party 0 \(tag 'mul/open'\).*0.3 s"):
            links[1].recv(0, "mul/open")
        assert 0.25 < time.monotonic() - t0 < 1.5
    finally:
        for lk in links.values():
            lk.close()


def test_close_delivers_written_data_then_peer_closed() -> None:
    links = make_links(2, free_addresses(range(2)))
    a, b = links[0], links[1]
    a.wait_ready(5.0)
    a.send(1, "t", np.ones(1))
    a.send(1, "big", np.ones(2**20))  # 8 MB still in flight when CLOSE follows
    a.close()
    assert b.recv(0, "t").tolist() == [1.0] and b.recv(0, "big").sum() == 2**20
    with pytest.raises(PeerClosedError, match="closed"):
        b.recv(0, "t")
    with pytest.raises(LinkError, match="closed link"):
        a.send(1, "t", np.ones(1))
    b.send(0, "ignored", np.ones(1))  # sending to a closed peer is silent, like memory.py
    b.close()


def test_send_before_the_peer_is_up_waits_for_the_connection() -> None:
    addrs = free_addresses(range(2))
    first = TcpLink(1, 2, addrs, timeout=5.0, connect_timeout=5.0)  # dials rank 0, not there yet
    result: list[Any] = []
    sender = threading.Thread(target=lambda: result.append(first.send(0, "early", np.arange(4))))
    sender.start()
    time.sleep(0.3)
    second = TcpLink(0, 2, addrs, timeout=5.0, connect_timeout=5.0)
    try:
        assert second.recv(1, "early").tolist() == [0, 1, 2, 3]
        sender.join(5.0)
        assert result == [None]
    finally:
        first.close()
        second.close()


def test_unreachable_peer_fails_within_connect_timeout() -> None:
    """The dialer (higher rank) names the address and the error; the listener says who never came."""
    addrs = free_addresses(range(2))  # nobody listens on rank 0's port
    dialer = TcpLink(1, 2, addrs, timeout=10.0, connect_timeout=1.0, heartbeat_s=0.2)
    try:
        t0 = time.monotonic()
        with pytest.raises(
            PartyError, match=f"unreachable: cannot connect to {addrs[0]} within 1 s.*refused"
        ) as e:
            dialer.recv(0, "x")
        assert e.value.party == 0 and 0.8 < time.monotonic() - t0 < 2.0
    finally:
        dialer.close()
    listener = TcpLink(0, 2, addrs, timeout=10.0, connect_timeout=1.0, heartbeat_s=0.2)
    try:
        t0 = time.monotonic()
        with pytest.raises(PartyError, match=f"never connected to party 0.*did not dial .*{addrs[0]}") as e:
            listener.recv(1, "x")
        assert e.value.party == 1 and 0.8 < time.monotonic() - t0 < 2.5
    finally:
        listener.close()


def test_silent_peer_is_unreachable_after_three_heartbeats() -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, timeout=10.0, connect_timeout=5.0, heartbeat_s=0.2)
    fake = FakePeer(addrs[0], rank=1)  # says HELLO, then never a heartbeat
    try:
        assert fake.answer[0] == Kind.ACCEPT
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="silent"):
            link.recv(1, "x")
        assert 0.5 < time.monotonic() - t0 < 2.0
    finally:
        fake.close()
        link.close()


def test_peer_process_gone_is_unreachable_at_once() -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, timeout=10.0, connect_timeout=5.0)
    fake = FakePeer(addrs[0], rank=1)
    try:
        fake.send(frame(Kind.DATA, encode_frame("x", np.arange(3), 1))[:-5])  # dies mid-frame
        fake.close()
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="unreachable: its connection closed without a close message"):
            link.recv(1, "x")
        assert time.monotonic() - t0 < 1.0
    finally:
        link.close()


def test_shaper_delays_delivery() -> None:
    links = make_links(2, free_addresses(range(2)), shaper=Shaper(0.05))

    def fn(link: TcpLink) -> float:
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


# ----------------------------------------------------------------------------- malformed peers


@pytest.mark.parametrize(
    "case, match",
    [
        ("unknown-kind", "unknown frame kind 200"),
        ("bad-frame", "wire: bad magic"),
        ("oversized", "exceeds the limit"),
        ("second-hello", "unexpected HELLO frame"),
        ("bad-dtype", "dtype '<c8' is not allowed"),
    ],
)
def test_malformed_input_is_a_link_error_naming_the_peer(case: str, match: str) -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, timeout=5.0, connect_timeout=5.0, max_message=1 << 20)
    fake = FakePeer(addrs[0], rank=1)
    good = encode_frame("x", np.arange(100, dtype=np.int64), 1)
    bad = {
        "unknown-kind": bytes([200]) + b"\0" * 8,
        "bad-frame": frame(Kind.DATA, b"NOPE" + good[4:]),
        "oversized": HEADER.pack(Kind.DATA, (1 << 20) + 1),
        "second-hello": frame(Kind.HELLO, hello_body(1, 2, 2)),
        "bad-dtype": frame(Kind.DATA, good.replace(b"\x03\x00<i8", b"\x03\x00<c8")),  # complex: refused
    }[case]
    try:
        fake.send(frame(Kind.HEARTBEAT) + bad)
        t0 = time.monotonic()
        with pytest.raises(
            LinkError, match=f"party 0: recv from party 1 .*malformed data from party 1.*{match}"
        ):
            link.recv(1, "x")
        assert time.monotonic() - t0 < 2.0
        fake.sock.settimeout(2.0)
        assert fake.sock.recv(100) == b""  # and the link hung up on it
    finally:
        fake.close()
        link.close()


def test_anonymous_garbage_and_strangers_are_refused_and_link_keeps_working() -> None:
    addrs = free_addresses(range(2))
    links = make_links(2, addrs)
    try:
        raw = socket.create_connection(("127.0.0.1", int(addrs[0].rsplit(":", 1)[1])))
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 8)
        raw.close()
        stranger = FakePeer(addrs[0], rank=7)  # not a rank of this job
        assert stranger.answer[0] == Kind.REJECT and b"does not belong to this job" in stranger.answer[1]
        stranger.close()
        links[0].wait_ready(5.0)
        twin = FakePeer(addrs[0], rank=1)  # rank 1 is connected already
        assert twin.answer[0] == Kind.REJECT and b"already connected" in twin.answer[1]
        twin.close()
        links[1].send(0, "ok", np.arange(3))
        assert links[0].recv(1, "ok").tolist() == [0, 1, 2]
    finally:
        for lk in links.values():
            lk.close()


def test_stats_match_memory_for_a_two_party_pattern() -> None:
    def fn(link: Link) -> int:
        y = link.exchange(1 - link.rank, "e", np.ones(4, np.uint64))
        link.exchange(1 - link.rank, "f", y)
        return link.stats.rounds

    links = make_links(2, free_addresses(range(2)))
    assert run_threads(links, fn) == {0: 2, 1: 2}
    mem = run_job(2, fn)
    assert {r: lk.stats.snapshot() for r, lk in links.items()} == mem.stats


def test_context_manager_fails_peers_on_error_and_threads_are_released() -> None:
    before = threading.active_count()
    addrs = free_addresses(range(2))
    other = TcpLink(1, 2, addrs, timeout=5.0)
    with pytest.raises(RuntimeError, match="oops"):
        with TcpLink(0, 2, addrs, timeout=5.0) as link:
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
