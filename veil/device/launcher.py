"""The local launcher: one node process per party (and the dealer) on loopback ports.

`address="local"` uses it (with `tls=True`, the links and the driver's control channel use
mutual TLS with a throwaway test CA made for the run). Nodes run `python -m veil.device.node` with a generated cluster file,
log to files in a temporary directory, and exit on their own when the driver dies (they watch
their parent pid). The launcher kills whatever is left on `shutdown()`, at interpreter exit,
on SIGTERM, and shortly after any node dies unexpectedly.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from veil.device.cluster import ClusterConfig
from veil.device.control import DRIVER, ControlClient, driver_tls
from veil.errors import ConfigError, LinkError, PartyError
from veil.link.tls import generate_test_pki

log = logging.getLogger("veil.launcher")
_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the veil package
CRASH_GRACE_S = 3.0  # after a node dies, the others get this long to report and exit by themselves


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """n distinct free TCP ports (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """Node processes for the link parties of `cluster`, on 127.0.0.1; `clients` talk to them."""

    def __init__(self, cluster: ClusterConfig, log_level: str = "INFO", tls: bool = False) -> None:
        names = cluster.link_names
        ports = free_ports(2 * len(names))
        links = {n: f"127.0.0.1:{ports[2 * i]}" for i, n in enumerate(names)}
        controls = {n: f"127.0.0.1:{ports[2 * i + 1]}" for i, n in enumerate(names)}
        self.dir = Path(tempfile.mkdtemp(prefix="veil-nodes-"))
        if (
            tls and cluster.tls is None
        ):  # a throwaway CA, a certificate per node and the driver's, for this run only
            if DRIVER in names:
                raise ConfigError(
                    f"a party is named {DRIVER!r}, the name of the driver's certificate; rename it"
                )
            cluster = dataclasses.replace(cluster, tls=generate_test_pki(self.dir / "pki", [*names, DRIVER]))
        self.cluster = cluster.with_addresses(links, controls)
        self.config_path = self.dir / "cluster.yaml"
        self.config_path.write_text(yaml.safe_dump(self.cluster.to_dict(), sort_keys=False))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        own = driver_tls(self.cluster.tls)
        self.clients = {n: ControlClient(controls[n], n, tls=own) for n in names}
        self._closing = threading.Event()
        self._lock = threading.Lock()
        atexit.register(self.shutdown)
        _install_sigterm()
        try:
            for name in names:
                self.procs[name] = self._spawn(name, log_level)
            self._wait_ready()
        except BaseException:
            self.shutdown()
            raise
        threading.Thread(target=self._watch, name="veil-launcher-watch", daemon=True).start()
        log.info("local cluster up: %s (logs in %s)", ", ".join(names), self.dir)

    def _spawn(self, name: str, log_level: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("GRPC_VERBOSITY", "ERROR")
        cmd = [
            sys.executable, "-m", "veil.device.node", "--config", str(self.config_path),
            "--party", name, "--parent-pid", str(os.getpid()), "--log-level", log_level,
        ]  # fmt: skip
        logfile = open(self.log_path(name), "wb")  # noqa: SIM115 - the child owns it
        try:
            return subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT, env=env
            )
        finally:
            logfile.close()

    def log_path(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 8) -> str:
        """The last lines of a node's log (for error messages; logs never hold payload values)."""
        try:
            text = self.log_path(name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def _wait_ready(self) -> None:
        t = self.cluster.timeouts
        deadline = time.monotonic() + t.startup_s
        for name, client in self.clients.items():
            while True:
                self._raise_if_dead(name, "during start-up")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PartyError(
                        name,
                        f"node did not start within timeouts.startup_s={t.startup_s} s; log:\n{self.log_tail(name)}",
                    )
                try:
                    client.call({"op": "ping"}, timeout=min(left, 1.0), wait_for_ready=True)
                    break
                except LinkError:
                    continue
        for name, client in self.clients.items():  # every link stream up, both ways
            left = max(deadline - time.monotonic(), 1.0)
            reply = client.call({"op": "ping", "wait_link": True, "timeout": left}, timeout=left + 5.0)
            if not reply.get("ok"):
                raise PartyError(reply.get("party", name), f"link did not come up: {reply.get('error')}")

    def _raise_if_dead(self, name: str, when: str) -> None:
        code = self.procs[name].poll()
        if code is not None:
            raise PartyError(
                name, f"node process exited with status {code} {when}; log:\n{self.log_tail(name)}"
            )

    def exited(self) -> dict[str, int]:
        """{party: exit status} of the nodes that are no longer running."""
        return {n: c for n, p in self.procs.items() if (c := p.poll()) is not None}

    def _watch(self) -> None:
        """If a node dies while the cluster should be up, give the others a grace period, then kill them."""
        while not self._closing.wait(0.2):
            dead = self.exited()
            if dead:
                log.error("node(s) %s exited; stopping the local cluster", dead)
                if not self._closing.wait(CRASH_GRACE_S):
                    self.kill()
                return

    def kill(self, grace: float = 2.0) -> None:
        """SIGTERM every node still running, then SIGKILL after `grace` seconds."""
        alive = [p for p in self.procs.values() if p.poll() is None]
        for p in alive:
            _signal(p, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in alive:
            try:
                p.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                _signal(p, signal.SIGKILL)
                p.wait(5.0)

    def wait_exit(self, timeout: float) -> dict[str, int | None]:
        """Wait up to `timeout` s for every node to exit by itself; {party: status or None}."""
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
        return {n: p.poll() for n, p in self.procs.items()}

    def shutdown(self, keep_logs: bool = False, kill_first: Sequence[str] = ()) -> None:
        """Ask every node to stop, kill the stragglers, drop the temporary directory.

        `kill_first`: nodes to SIGKILL at once (e.g. one that froze and cannot answer).
        """
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
        for name in kill_first:
            if name in self.procs and self.procs[name].poll() is None:
                _signal(self.procs[name], signal.SIGKILL)
        for name, client in self.clients.items():
            if self.procs.get(name) is not None and self.procs[name].poll() is None:
                try:
                    client.call({"op": "shutdown"}, timeout=2.0)
                except LinkError:
                    pass
        self.wait_exit(8.0)
        self.kill()
        for client in self.clients.values():
            client.close()
        atexit.unregister(self.shutdown)
        if not keep_logs:
            shutil.rmtree(self.dir, ignore_errors=True)


def _signal(p: subprocess.Popen[Any], sig: int) -> None:
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass


def _install_sigterm() -> None:
    """Make SIGTERM run atexit handlers (so nodes get stopped), if nobody else handles it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
