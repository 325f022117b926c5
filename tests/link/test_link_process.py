"""GrpcLink and TcpLink between separate processes (`link_cls`, see conftest.py): an exchange, a
clean close, fail(), and a peer that is killed (SIGKILL) or frozen (SIGSTOP) while the other waits
on it or (TcpLink, whose sends block) is writing large arrays to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from veil.errors import PartyError
from veil.link.base import PeerClosedError
from veil.link.grpc import GrpcLink

from .helpers import LinkCls, free_addresses

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import importlib
import sys
import numpy as np

module, name, mode, a0, a1 = sys.argv[1:6]
link_cls = getattr(importlib.import_module(module), name)
link = link_cls(1, 2, {0: a0, 1: a1}, timeout=5.0, connect_timeout=10.0, heartbeat_s=0.5)
x = link.recv(0, "x")
link.send(0, "y", x * 2)
print("exchanged", flush=True)
if mode == "close":
    link.close()
elif mode == "fail":
    link.recv(0, "go")  # FAIL overtakes queued data, so fail only after "y" was taken
    link.fail("child broke on purpose")
    sys.exit(3)
else:
    link.recv(0, "never")  # wait here until the test kills or freezes this process
"""


def _start_child(link_cls: LinkCls, mode: str, addrs: dict[int, str], tmp: Path) -> subprocess.Popen[str]:
    script = tmp / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRPC_VERBOSITY": "ERROR"}
    return subprocess.Popen(
        [sys.executable, str(script), link_cls.__module__, link_cls.__name__, mode, addrs[0], addrs[1]],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _exchange(link_cls: LinkCls, mode: str, tmp: Path) -> tuple[Any, subprocess.Popen[str]]:
    addrs = free_addresses(range(2))
    child = _start_child(link_cls, mode, addrs, tmp)
    link = link_cls(0, 2, addrs, timeout=5.0, connect_timeout=10.0, heartbeat_s=0.5)
    x = np.arange(1000, dtype=np.int64)
    link.send(1, "x", x)
    assert np.array_equal(link.recv(1, "y"), 2 * x)
    assert child.stdout is not None and child.stdout.readline().strip() == "exchanged"
    return link, child


def test_two_processes_exchange_and_close(link_cls: LinkCls, tmp_path: Path) -> None:
    link, child = _exchange(link_cls, "close", tmp_path)
    try:
        with pytest.raises(PeerClosedError):
            link.recv(1, "more")
        assert child.wait(10) == 0
        snap = link.stats.snapshot()
        assert snap.online.bytes_sent == snap.online.bytes_recv == 8000 and snap.rounds == 2
    finally:
        link.close()
        child.kill()


def test_fail_in_another_process_reaches_the_waiter(link_cls: LinkCls, tmp_path: Path) -> None:
    link, child = _exchange(link_cls, "fail", tmp_path)
    link.send(1, "go", np.zeros(1))
    try:
        with pytest.raises(PartyError, match="child broke on purpose") as info:
            link.recv(1, "never")
        assert info.value.party == 1 and child.wait(10) == 3
    finally:
        link.close()
        child.kill()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["SIGKILL", "SIGSTOP"])
def test_killed_or_frozen_peer_is_reported_within_bound(link_cls: LinkCls, tmp_path: Path, sig: int) -> None:
    """SIGKILL: its connection drops (TCP sees it at once, gRPC within 1.5 s); SIGSTOP: it stops
    answering (detected after ~3 heartbeats)."""
    bound = 3.5 if sig == signal.SIGSTOP else 1.5 if link_cls is GrpcLink else 1.0
    link, child = _exchange(link_cls, "wait", tmp_path)
    killed_at: list[float] = []

    def kill() -> None:
        time.sleep(0.3)
        killed_at.append(time.monotonic())
        os.kill(child.pid, sig)

    threading.Thread(target=kill, daemon=True).start()
    try:
        with pytest.raises(PartyError, match="unreachable") as info:
            link.recv(1, "never")  # the peer's recv timeout is 5 s; we must know much sooner
        elapsed = time.monotonic() - killed_at[0]
        assert info.value.party == 1 and elapsed < bound, (elapsed, str(info.value))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        link.close()


def test_writer_blocked_on_a_frozen_peer_is_released(link_cls: LinkCls, tmp_path: Path) -> None:
    """A send that fills what a frozen peer can take (TCP: the socket buffers; gRPC: the 64 MB
    outbox) waits, and fails once the peer is found silent, instead of growing memory."""
    link, child = _exchange(link_cls, "wait", tmp_path)
    os.kill(child.pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        with pytest.raises(PartyError, match="unreachable") as info:
            for _ in range(8):  # 8 x 32 MB: far more than the kernel buffers hold
                link.send(1, "big", np.zeros(4 << 20))
        elapsed = time.monotonic() - frozen_at
        assert info.value.party == 1 and elapsed < 3.5, (elapsed, str(info.value))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        link.close()
