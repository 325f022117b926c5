"""Shaper: visibility times (deterministic) and shaped MemoryHub runs (elapsed, generous bounds)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from veil.link.memory import MemoryLink, run_parties
from veil.link.shaper import PRESETS, Shaper


def test_schedule_latency_bandwidth_and_queueing() -> None:
    s = Shaper(latency_s=0.01, bandwidth_bps=8000.0)  # 1000 bytes per second
    assert s.schedule(0, 1, 100, now=5.0) == pytest.approx(5.0 + 0.1 + 0.01)
    # the next message on (0, 1) waits for the first to finish transmitting
    assert s.schedule(0, 1, 100, now=5.0) == pytest.approx(5.0 + 0.2 + 0.01)
    # other directions are independent
    assert s.schedule(1, 0, 100, now=5.0) == pytest.approx(5.11)
    # an idle wire does not accumulate credit
    assert s.schedule(0, 1, 0, now=9.0) == pytest.approx(9.01)
    assert Shaper(0.02).schedule(0, 1, 10**9, now=1.0) == pytest.approx(1.02)


def test_validation_and_presets() -> None:
    with pytest.raises(ValueError, match="latency_s"):
        Shaper(-1.0)
    with pytest.raises(ValueError, match="bandwidth_bps"):
        Shaper(0.0, 0.0)
    with pytest.raises(ValueError, match="preset"):
        Shaper.preset("dialup")
    assert Shaper.preset("100mbit_10ms") == Shaper(*PRESETS["100mbit_10ms"])


def _ping_pong(link: MemoryLink) -> None:
    x = np.zeros(1, np.uint64)
    for _ in range(5):
        if link.rank == 0:
            link.send(1, "p", x)
            x = link.recv(1, "p")
        else:
            x = link.recv(0, "p")
            link.send(0, "p", x + 1)


def test_latency_adds_per_round() -> None:
    t0 = time.monotonic()
    run_parties(2, _ping_pong, shaper=Shaper(latency_s=0.02))
    elapsed = time.monotonic() - t0
    assert 0.19 <= elapsed < 1.5  # 10 one-way trips of 20 ms


def test_bandwidth_serializes_one_direction() -> None:
    chunk = np.zeros(25_000, np.uint64)  # 200 kB each, 1.6 Mbit

    def fn(link: MemoryLink) -> None:
        if link.rank == 0:
            for _ in range(4):
                link.send(1, "bulk", chunk)
        else:
            for _ in range(4):
                link.recv(0, "bulk")

    t0 = time.monotonic()
    run_parties(2, fn, shaper=Shaper(latency_s=0.02, bandwidth_bps=64e6))  # 25 ms per chunk
    elapsed = time.monotonic() - t0
    assert 0.11 <= elapsed < 1.5  # 4 * 25 ms + 20 ms


def test_unshaped_is_fast() -> None:
    t0 = time.monotonic()
    run_parties(2, _ping_pong)
    assert time.monotonic() - t0 < 0.5
