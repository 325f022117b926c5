"""MemoryHub / MemoryLink / run_parties: delivery, FIFO, rounds, dealer, failures, timeouts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from veil.errors import ConfigError, LinkError, LinkTimeoutError, PartyError
from veil.link.base import Link, PeerClosedError
from veil.link.memory import MemoryHub, MemoryLink, run_job, run_parties

from .helpers import FIFO_COUNT, FIFO_TAGS, dealer_serve, fifo_per_tag, ping_pong, with_dealer

U128 = np.dtype([("lo", "<u8"), ("hi", "<u8")])


def test_memory_link_satisfies_protocol() -> None:
    assert isinstance(MemoryHub(2).link(0), Link)


def test_ping_pong_and_copies() -> None:
    assert run_parties(2, ping_pong) == [20, 19]
    hub = MemoryHub(2)
    a = np.arange(3, dtype=np.int64)
    hub.link(0).send(1, "t", a)
    a[0] = 100  # the receiver got a copy at send time, also outside run_parties
    got = hub.link(1).recv(0, "t")
    assert got.tolist() == [0, 1, 2] and got.flags.writeable


def test_tags_interleaved_fifo_per_tag() -> None:
    assert run_parties(2, fifo_per_tag)[1] == [list(range(FIFO_COUNT))] * len(FIFO_TAGS)


def test_structured_payloads_and_collectives_three_parties() -> None:
    def fn(link: MemoryLink) -> tuple:
        x = np.zeros(2, U128)
        x["lo"] = link.rank
        x["hi"] = 10 + link.rank
        gathered = link.all_gather("g", x)
        b = link.broadcast(1, "b", np.array([42]) if link.rank == 1 else None)
        nxt, prv = (link.rank + 1) % 3, (link.rank - 1) % 3
        link.send(nxt, "ring", np.array([link.rank]))
        got = int(link.recv(prv, "ring")[0])
        link.send_to_all("s", np.array([link.rank]))
        every = {r: int(v[0]) for r, v in link.recv_from_all("s").items()}
        return [int(g["hi"][0]) for g in gathered], int(b[0]), got, every, link.stats.rounds

    out = run_parties(3, fn)
    for rank, (hi, b, got, every, rounds) in enumerate(out):
        assert hi == [10, 11, 12] and b == 42 and got == (rank - 1) % 3
        assert every == {r: r for r in range(3) if r != rank}
        assert rounds == 4  # gather, broadcast, ring, send_to_all: 4 dependent steps


def test_exchange_is_one_round_two_exchanges_two() -> None:
    def one(link: MemoryLink) -> int:
        link.exchange(1 - link.rank, "e", np.ones(4, np.uint64))
        return link.stats.rounds

    def two(link: MemoryLink) -> int:
        y = link.exchange(1 - link.rank, "e", np.ones(4, np.uint64))
        link.exchange(1 - link.rank, "f", y)
        return link.stats.rounds

    assert run_parties(2, one) == [1, 1]
    res = run_job(2, two)
    assert res.results == [2, 2] and res.totals.rounds == 2
    assert res.totals.online_bytes == 2 * 2 * 32 and res.totals.online_msgs == 4
    assert res.stats[0].online.bytes_recv == 64


def test_chain_rounds() -> None:
    def fn(link: MemoryLink) -> int:
        if link.rank == 0:
            link.send(1, "c", np.array([1]))
        elif link.rank == 1:
            link.send(2, "c", link.recv(0, "c") + 1)
        else:
            link.recv(1, "c")
        return link.stats.rounds

    assert run_parties(3, fn) == [1, 2, 2]
    assert run_job(3, fn).totals.rounds == 2


def test_four_parties_all_gather_rounds() -> None:
    def fn(link: MemoryLink) -> tuple[int, int]:
        for i in range(3):
            link.all_gather(f"g{i}", np.full(5, link.rank, np.int64))
        return link.stats.rounds, link.stats.snapshot().online.bytes_sent

    assert run_parties(4, fn) == [(3, 3 * 3 * 40)] * 4


def test_dealer_traffic_is_offline() -> None:
    res = run_job(2, with_dealer, dealer=dealer_serve)
    assert res.results == [1, 1]
    assert res.stats[2].rounds == 0 and res.stats[2].offline.bytes_sent == 2 * 64
    assert res.totals.offline_bytes == 2 * 64 + 2 * 8 and res.totals.online_bytes == 2 * 64
    assert res.stats[0].offline.bytes_recv == 64 and res.stats[0].online.bytes_sent == 64


def test_failing_party_wakes_everyone_quickly() -> None:
    seen: dict[int, BaseException] = {}

    def fn(link: MemoryLink) -> None:
        link.send((link.rank + 1) % 3, "warmup", np.zeros(1))  # mid-protocol, not at start
        link.recv((link.rank - 1) % 3, "warmup")
        if link.rank == 1:
            time.sleep(0.05)
            raise ValueError("boom in party 1")
        try:
            link.recv(1, "never")
        except PartyError as e:
            seen[link.rank] = e
            raise

    t0 = time.monotonic()
    with pytest.raises(PartyError, match="boom in party 1") as info:
        run_parties(3, fn, timeout=2.0)
    assert time.monotonic() - t0 < 1.0
    assert info.value.party == 1 and isinstance(info.value.__cause__, ValueError)
    assert set(seen) == {0, 2} and all(e.party == 1 for e in seen.values())


def test_veil_error_keeps_its_type_with_rank() -> None:
    def fn(link: MemoryLink) -> None:
        if link.rank == 2:
            raise ConfigError("bad field")
        link.recv(2, "x")

    with pytest.raises(ConfigError, match=r"\[party 2\] bad field"):
        run_parties(3, fn, timeout=2.0)


def test_failing_dealer_is_named() -> None:
    def dealer(link: MemoryLink) -> None:
        raise RuntimeError("dealer broke")

    def fn(link: MemoryLink) -> None:
        link.recv(2, "triple")

    with pytest.raises(PartyError, match="party dealer failed") as info:
        run_parties(2, fn, dealer=dealer, timeout=2.0)
    assert info.value.party == "dealer"


def test_recv_timeout_names_peer_tag_and_timeout() -> None:
    hub = MemoryHub(2, timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(LinkTimeoutError, match=r"party 1: recv from party 0 \(tag 'mul/open'\).*0.2 s"):
        hub.link(1).recv(0, "mul/open")
    assert 0.15 < time.monotonic() - t0 < 1.5


def test_timeout_inside_run_parties_is_reported() -> None:
    def fn(link: MemoryLink) -> None:
        link.recv(1 - link.rank, "nobody-sends")

    t0 = time.monotonic()
    with pytest.raises(LinkTimeoutError, match="nobody-sends"):
        run_parties(2, fn, timeout=0.3)
    assert time.monotonic() - t0 < 2.0


def test_recv_from_closed_peer_and_closed_link() -> None:
    hub = MemoryHub(2, timeout=5.0)
    a, b = hub.link(0), hub.link(1)
    a.send(1, "t", np.ones(1))
    a.close()
    assert b.recv(0, "t").tolist() == [1.0]  # queued data is still delivered
    with pytest.raises(PeerClosedError, match="closed"):
        b.recv(0, "t")
    with pytest.raises(LinkError, match="closed link"):
        a.send(1, "t", np.ones(1))


def test_invalid_peers() -> None:
    link = MemoryHub(2).link(0)
    for peer in (0, 2, -1):
        with pytest.raises(LinkError, match="invalid peer"):
            link.send(peer, "t", np.ones(1))
    with pytest.raises(LinkError, match="with_dealer"):
        MemoryHub(2).link(2)


def test_job_timeout_bounds_a_stuck_party() -> None:
    def fn(link: MemoryLink) -> None:
        if link.rank == 0:
            time.sleep(3.0)

    t0 = time.monotonic()
    with pytest.raises(LinkTimeoutError, match=r"parties \[0\]"):
        run_job(2, fn, job_timeout=0.3)
    assert time.monotonic() - t0 < 1.5


def test_args_per_party() -> None:
    assert run_parties(3, lambda link, a: a * 10 + link.rank, args_per_party=[1, 2, 3]) == [10, 21, 32]
    with pytest.raises(LinkError, match="args_per_party"):
        run_parties(3, lambda link, a: a, args_per_party=[1])


def test_send_validates_like_the_wire_and_sizes_frames_exactly() -> None:
    from veil.link.memory_frames import frame_size
    from veil.link.wire import decode_frame, encode_frame

    hub = MemoryHub(2)
    with pytest.raises(LinkError, match="cannot be sent"):
        hub.link(0).send(1, "t", np.zeros(2, np.complex128))
    with pytest.raises(LinkError, match="tag"):
        hub.link(0).send(1, "\ud800", np.zeros(2))
    assert hub.link(0).stats.snapshot().online.msgs_sent == 0  # nothing counted for a refused send
    big_endian = np.arange(6, dtype=">u4").reshape(2, 3)[:, ::2]  # also non-contiguous
    for tag, arr in [("t", big_endian), ("é", np.zeros((0, 4), np.float32)), ("x", np.ones(3, U128))]:
        hub.link(0).send(1, tag, arr)
        got = hub.link(1).recv(0, tag)
        want = decode_frame(encode_frame(tag, arr)).array
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
        assert got.flags.c_contiguous and got.flags.writeable
        assert frame_size(tag, arr) == len(encode_frame(tag, arr))


def test_send_donated_skips_only_a_needless_copy() -> None:
    """send_donated hands over a writable C-order array as is (also a contiguous view: the
    caller hands over its buffer); anything else (a non-contiguous or read-only array) is
    copied as by send. Counting is the same."""
    hub = MemoryHub(2)
    a, b = hub.link(0), hub.link(1)
    owned = np.arange(6, dtype=np.uint64)
    a.send_donated(1, "t", owned)
    assert b.recv(0, "t") is owned
    base = np.arange(12, dtype=np.uint64)
    view = np.arange(12, dtype=np.uint64)[2:8]
    a.send_donated(1, "t", view)
    assert b.recv(0, "t") is view
    readonly = np.arange(3, dtype=np.uint8)
    readonly.flags.writeable = False
    for arr in (base.reshape(3, 4)[:, 1], readonly):
        a.send_donated(1, "t", arr)
        got = b.recv(0, "t")
        assert got is not arr and np.array_equal(got, arr) and got.flags.writeable and got.base is None
    plain = MemoryHub(2)
    plain.link(0).send(1, "t", owned)
    plain.link(0).send(1, "t", base[2:8])
    plain.link(0).send(1, "t", base.reshape(3, 4)[:, 1])
    plain.link(0).send(1, "t", readonly)
    assert a.stats.snapshot() == plain.link(0).stats.snapshot()
    with pytest.raises(LinkError):
        a.send_donated(1, "t", np.zeros((1,) * 40, np.uint8))  # validated like send
