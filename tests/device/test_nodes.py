"""Node processes: failures end the job everywhere with a PartyError naming the culprit; programs
whose hashes disagree are refused; the CLI and the control channel reject bad input cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from veil.device import control
from veil.device.api import Session
from veil.device.cluster import cluster_def
from veil.device.pyu import PYU
from veil.device.spu import SPU
from veil.errors import CompileError, PartyError
from veil.ir.serialize import dumps, program_hash

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]
TIMEOUTS = {"link_s": 10, "heartbeat_s": 0.5, "startup_s": 45}


def long_job(x):
    """~4000 dependent secret matmuls: several seconds of work even on the TCP link, so a node can
    be killed in the middle (the tests kill one after 1 s)."""
    return jax.lax.fori_loop(0, 4000, lambda i, v: (v @ x) * 0.5 + 0.01, x)


@pytest.fixture(autouse=True)
def drop_kept_logs():
    """A failed cluster keeps its node logs for the user; the tests delete them afterwards."""
    before = set(Path(tempfile.gettempdir()).glob("veil-nodes-*"))
    yield
    for path in set(Path(tempfile.gettempdir()).glob("veil-nodes-*")) - before:
        shutil.rmtree(path, ignore_errors=True)


def start(parties: list[str], protocol: str) -> tuple[Session, SPU]:
    session = Session(parties)
    try:
        # keep_private=False: inputs are shared up front, so the jobs below really run the protocol
        # (a PRIVATE input would be computed on locally by its owner, with no messages)
        spu = SPU(
            cluster_def(parties, protocol=protocol, timeouts=TIMEOUTS), session=session, keep_private=False
        )
        return session, spu
    except BaseException:
        session.shutdown()
        raise


@pytest.mark.parametrize("victim", ["bob", "dealer"])
def test_killed_node_fails_the_job_everywhere(victim: str) -> None:
    session, spu = start(["alice", "bob"], "semi2k")
    try:
        procs = spu.runner.local.procs
        x = PYU("alice", session)(lambda: np.eye(48) * 0.5)()
        spu(lambda v: v @ v)(x)  # warm up: the nodes have run one job
        timer = threading.Timer(1.0, os.kill, (procs[victim].pid, signal.SIGKILL))
        start_t = time.monotonic()
        timer.start()
        with pytest.raises(PartyError) as info:
            spu(long_job)(x)
        elapsed = time.monotonic() - start_t
        timer.join()
        assert info.value.party == victim, str(info.value)
        assert "exited with status -9" in str(info.value)
        assert elapsed < 1.0 + 3 * TIMEOUTS["link_s"], elapsed
        status = spu.runner.local.wait_exit(15.0)
        assert status[victim] == -signal.SIGKILL
        survivors = {n: c for n, c in status.items() if n != victim}
        assert all(c is not None for c in survivors.values()), f"nodes still running: {survivors}"
        with pytest.raises(PartyError, match="failed earlier"):
            spu(lambda v: v + 1.0)(x)
    finally:
        session.shutdown()


def test_frozen_node_is_named_by_its_peers() -> None:
    session, spu = start(["alice", "bob", "carol"], "aby3")
    procs = spu.runner.local.procs
    try:
        x = PYU("alice", session)(lambda: np.eye(48) * 0.5)()
        spu(lambda v: v @ v)(x)
        timer = threading.Timer(1.0, os.kill, (procs["carol"].pid, signal.SIGSTOP))
        start_t = time.monotonic()
        timer.start()
        with pytest.raises(PartyError) as info:
            spu(long_job)(x)
        timer.join()
        assert info.value.party == "carol", str(info.value)
        assert time.monotonic() - start_t < 1.0 + TIMEOUTS["link_s"] + 10 * TIMEOUTS["heartbeat_s"]
    finally:
        session.shutdown()
    assert all(p.poll() is not None for p in procs.values())


def test_program_hash_mismatch_is_refused() -> None:
    session, spu = start(["alice", "bob", "carol"], "aby3")
    try:
        x = PYU("alice", session)(lambda: np.ones((2, 2)))()
        runner = spu.runner
        real_call_all = runner.call_all
        other = {}

        def tamper(msgs, what):  # a corrupt driver: carol gets another program (with its true hash)
            if "carol" in msgs and msgs["carol"].get("op") == "run" and other:
                msgs["carol"] = {**msgs["carol"], "program": other["blob"], "hash": other["hash"]}
            return real_call_all(msgs, what)

        program = _compiled(spu, lambda v: v * 3.0, np.ones((2, 2)))
        other.update(blob=dumps(program), hash=program_hash(program))
        runner.call_all = tamper
        with pytest.raises(CompileError, match="program hash mismatch"):
            spu(lambda v: v * 2.0)(x)
        other.update(hash="ab" * 32)  # the announced hash does not match the program either
        with pytest.raises(CompileError, match="refusing to run"):
            spu(lambda v: v * 2.0)(x)
        other.clear()
        runner.call_all = real_call_all
        # nothing ran, so the cluster is still usable
        np.testing.assert_allclose(spu.reveal(spu(lambda v: v * 2.0)(x)), np.full((2, 2), 2.0), atol=1e-4)
    finally:
        session.shutdown()


def _compiled(spu, fn, *args):
    compiled, _ = spu._cache.get(fn, args, {}, (), (), [None] * len(args))
    return compiled.program


def test_semi2k_refusal_releases_the_dealer() -> None:
    session, spu = start(["alice", "bob"], "semi2k")
    try:
        x = PYU("alice", session)(lambda: np.ones(3))()
        runner = spu.runner
        real = runner.call_all

        def tamper(msgs, what):
            if "bob" in msgs and msgs["bob"].get("op") == "run":
                msgs["bob"] = {**msgs["bob"], "program": b"not a program"}
            return real(msgs, what)

        runner.call_all = tamper
        with pytest.raises(CompileError, match="cannot load the program"):
            spu(lambda v: v * v)(x)
        runner.call_all = real
        np.testing.assert_allclose(spu.reveal(spu(lambda v: v * v)(x)), np.ones(3), atol=1e-4)
    finally:
        session.shutdown()


def test_control_channel_rejects_garbage() -> None:
    session, spu = start(["alice", "bob", "carol"], "aby3")
    try:
        client = spu.runner.clients["alice"]
        reply = control.unpack(client._stub(b"\xc1garbage", timeout=5))
        assert reply["ok"] is False and "malformed" in reply["error"]
        reply = client.call({"op": "launch_missiles"}, timeout=5)
        assert reply["ok"] is False and "unknown control op" in reply["error"]
        reply = client.call({"op": "fetch", "ids": ["nope"]}, timeout=5)
        assert reply["ok"] is False and "holds no object" in reply["error"]
        assert client.call({"op": "ping"}, timeout=5)["ok"]  # still alive
    finally:
        session.shutdown()


def _node(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRPC_VERBOSITY": "ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "veil.cli", "node", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=60,
    )


def test_node_cli_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("parties: [{name: alice, address: nowhere}]\n")
    done = _node(["--config", str(bad), "--party", "alice"], tmp_path)
    assert done.returncode == 3 and "parties[0].address='nowhere'" in done.stderr
    good = tmp_path / "good.yaml"
    good.write_text(
        "parties: [{name: alice, address: '127.0.0.1:1'}, {name: bob, address: '127.0.0.1:2'}, "
        "{name: carol, address: '127.0.0.1:3'}]\nprotocol: aby3\n"
    )
    done = _node(["--config", str(good), "--party", "zed"], tmp_path)
    assert done.returncode == 3 and "'zed' is not on the link" in done.stderr
    done = _node(["--config", str(good), "--party", "alice"], tmp_path)
    assert done.returncode == 3 and "needs a control_address" in done.stderr


DRIVER = """
import sys, time
from veil.device.cluster import ClusterConfig, cluster_def
from veil.device.launcher import LocalCluster
c = LocalCluster(ClusterConfig.from_dict(cluster_def(["alice", "bob", "carol"], protocol="aby3")))
print(" ".join(str(p.pid) for p in c.procs.values()), flush=True)
time.sleep(60)
"""


def test_nodes_exit_when_the_driver_dies(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRPC_VERBOSITY": "ERROR"}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        pids = [int(p) for p in driver.stdout.readline().split()]
        assert len(pids) == 3
        driver.kill()
        driver.wait(10)
        deadline = time.monotonic() + 15
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in pids if _alive(p)]
        assert not alive, f"node processes {alive} outlived their driver"
    finally:
        driver.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not reaped since its parent died) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
