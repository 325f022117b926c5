"""LinkStats: Lamport rounds, online/offline split, snapshots and job totals."""

from __future__ import annotations

import pytest

from veil.link.stats import Counters, LinkStats, StatsSnapshot, job_stats


def test_sends_before_a_wait_share_one_round() -> None:
    s = LinkStats(0, 3)
    assert s.on_send(1, 8) == 1
    assert s.on_send(2, 8) == 1
    assert s.rounds == 1
    s.on_recv(1, 8, 1)
    assert s.on_send(1, 8) == 2
    assert s.rounds == 2


def test_recv_takes_max_of_clock_and_stamp() -> None:
    s = LinkStats(2, 3)
    s.on_recv(1, 4, 5)
    assert s.rounds == 5
    s.on_recv(0, 4, 2)  # an older message does not lower the clock
    assert s.rounds == 5
    assert s.on_send(0, 4) == 6


def test_dealer_traffic_is_offline_and_never_moves_clocks() -> None:
    party = LinkStats(0, 2)
    assert party.on_send(2, 16) == 0  # request to the dealer
    party.on_recv(2, 100, 7)  # a stamp on a dealer frame is ignored
    snap = party.snapshot()
    assert snap.rounds == 0 and snap.online == Counters()
    assert snap.offline == Counters(bytes_sent=16, bytes_recv=100, msgs_sent=1, msgs_recv=1)
    dealer = LinkStats(2, 2)
    assert dealer.on_send(0, 100) == 0
    assert dealer.snapshot().offline.bytes_sent == 100 and dealer.rounds == 0


def test_snapshot_difference_dict_and_reset() -> None:
    s = LinkStats(0, 2)
    s.on_send(1, 10)
    a = s.snapshot()
    s.on_recv(1, 20, 1)
    s.on_send(1, 30)
    d = s.snapshot() - a
    assert d == StatsSnapshot(Counters(30, 20, 1, 1), Counters(), 1)
    assert d.as_dict() == {
        "online_bytes_sent": 30,
        "online_bytes_recv": 20,
        "online_msgs_sent": 1,
        "online_msgs_recv": 1,
        "offline_bytes_sent": 0,
        "offline_bytes_recv": 0,
        "offline_msgs_sent": 0,
        "offline_msgs_recv": 0,
        "rounds": 1,
    }
    with pytest.raises(AttributeError):
        a.rounds = 3  # type: ignore[misc]
    s.reset()
    assert s.snapshot() == StatsSnapshot() and s.on_send(1, 1) == 1


def test_job_stats_totals() -> None:
    snaps = {
        0: StatsSnapshot(Counters(10, 5, 1, 1), Counters(4, 50, 1, 1), 3),
        1: StatsSnapshot(Counters(5, 10, 1, 1), Counters(4, 0, 1, 0), 2),
        2: StatsSnapshot(Counters(), Counters(50, 8, 1, 2), 0),  # dealer
    }
    t = job_stats(snaps)
    assert (t.rounds, t.online_bytes, t.offline_bytes, t.online_msgs, t.offline_msgs) == (3, 15, 58, 2, 3)


def test_bad_rank() -> None:
    with pytest.raises(ValueError, match="rank"):
        LinkStats(3, 2)


def test_mark_since_equals_snapshot_difference() -> None:
    s = LinkStats(0, 2)
    s.on_send(1, 10)
    m, before = s.mark(), s.snapshot()
    assert s.since(m) == StatsSnapshot()  # nothing moved: the zero delta
    s.on_send(1, 7)
    s.on_recv(1, 5, 4)
    s.on_send(2, 3)  # the dealer: offline
    s.on_recv(2, 11, 0)
    assert s.since(m) == s.snapshot() - before
    assert s.since(m).rounds == 4 - 1 and s.since(m).offline.bytes_recv == 11


def test_mark_is_reused_until_something_moves() -> None:
    """mark() returns the same tuple while nothing is counted (the VM marks around every op),
    a fresh one after any send or receive, and zeros again after reset()."""
    s = LinkStats(0, 2)
    m = s.mark()
    assert s.mark() is m and s.since(m) == StatsSnapshot()
    s.on_send(1, 8)
    m2 = s.mark()
    assert m2 is not m and m2 != m and s.since(m).online.bytes_sent == 8
    s.on_recv(2, 5, 0)  # offline: moves a counter, not the clock
    assert s.mark() != m2 and s.since(m2).offline.bytes_recv == 5
    s.reset()
    assert s.mark() == m and s.since(m) == StatsSnapshot()
