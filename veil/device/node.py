"""A party node: one process per compute party (and one for the semi2k dealer).

    veil node --config cluster.yaml --party alice

The node opens its link to the other parties (`TcpLink`, or `GrpcLink` with `transport: grpc`),
serves driver requests on its control address (`veil.device.control`), runs programs with
`veil.device.party.run_party` -- the same per-party body the in-memory Simulator runs on
threads -- and keeps its outputs (shares, for secret values) in a local object store until the
driver asks to reveal or delete them. A node never runs Python code
it receives: only serialized veil IR, whose hash every compute party checks with its peers first.

Failures: a node that fails calls `link.fail(reason)`, so every peer raises `PartyError` naming
it; it answers the driver with the error and exits with status 1. Logs name the party and never
contain payload values.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from veil.device import control
from veil.device.cluster import ClusterConfig
from veil.device.party import JobLink, ProgramRefused, agree_hash, hal_value, run_dealer_job, run_party
from veil.device.progress import Tracker
from veil.dtypes import Visibility
from veil.errors import CompileError, ConfigError, PartyError, VeilError
from veil.hal.value import Value as HalValue
from veil.ir.program import Program
from veil.ir.serialize import loads, program_hash
from veil.link.stats import StatsSnapshot
from veil.mpc import io


def value_meta(v: HalValue) -> dict[str, Any]:
    """Type of a stored value without its payload (what the driver may learn)."""
    return {
        "shape": list(v.shape),
        "dtype": v.dtype.value,
        "vis": v.vis.value,
        "owner": v.owner,
        "fxp_bits": v.fxp_bits,
    }


def wire_capture(party: str) -> Callable[[int, bytes], None] | None:
    """Tests and audits: with VEIL_WIRE_CAPTURE=<dir> set, append every message this node hands
    to its link (before TLS) to <dir>/<party>.wire, to check what the peers could see."""
    folder = os.environ.get("VEIL_WIRE_CAPTURE")
    if not folder:
        return None
    path = os.path.join(folder, f"{party}.wire")
    lock = threading.Lock()

    def hook(peer: int, data: bytes) -> None:
        with lock, open(path, "ab") as f:
            f.write(data)

    return hook


def culprit(cluster: ClusterConfig, error: BaseException, me: str) -> tuple[str, str]:
    """(party to blame, reason): the failed peer for a PartyError, else this party."""
    if isinstance(error, PartyError):
        return cluster.name_of(error.party), str(error.reason)
    return me, f"{type(error).__name__}: {error}"


class Node:
    """One party process: its link, its object store and its control service."""

    def __init__(self, cluster: ClusterConfig, party: str) -> None:
        from veil.link.factory import open_link

        self.cluster = cluster
        self.name = party
        self.rank = cluster.rank_of(party)
        self.is_dealer = self.rank == cluster.world
        self.config = cluster.runtime
        self.log = logging.getLogger(f"veil.node.{party}")
        spec = cluster.party(party)
        if not spec.control_address:
            raise ConfigError(
                f"cluster config: party {party!r} needs a control_address to run as a driver-controlled node"
            )
        tls = cluster.tls.get(party) if cluster.tls else None
        self.link = open_link(cluster, party, on_wire=wire_capture(party))
        self.store: dict[str, HalValue] = {}
        self.done = threading.Event()
        self.exit_code = 0
        self._job_lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "ping": self._ping, "run": self._run, "fetch": self._fetch, "send": self._send,
            "gather": self._gather, "delete": self._delete, "shutdown": self._shutdown,
            "progress": self._progress,
        }  # fmt: skip
        self._tracker: Tracker | None = None
        self.server = control.ControlServer(spec.control_address, self.handle, party, tls=tls)
        self.log.info(
            "node %s up: rank %d, link %s, control %s", party, self.rank, spec.address, spec.control_address
        )

    # -- requests --------------------------------------------------------------------------------

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request; a failure in a job fails the link and ends this node."""
        op = msg.get("op")
        handler = self._handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            return control.error_reply(
                f"unknown control op {op!r}; known: {sorted(self._handlers)}", self.name
            )
        try:
            return handler(msg)
        except ProgramRefused as e:
            self.log.error("%s refused: %s", op, e)
            return {**control.error_reply(e, self.name, "CompileError"), "refused": True, "local": e.local}
        except Exception as e:  # noqa: BLE001 - reported to the driver and to every peer
            who, reason = culprit(self.cluster, e, self.name)
            self.log.error(
                "%s failed: %s", op, reason if who == self.name else f"party {who} failed: {reason}"
            )
            if who == self.name and op in ("run", "send", "gather"):
                self.link.fail(f"{self.name}: {reason}"[:2000])
            if op in ("run", "send", "gather"):
                self.stop_later(1)
            return control.error_reply(reason, who, type(e).__name__)

    def _ping(self, msg: dict[str, Any]) -> dict[str, Any]:
        ready = True
        if msg.get("wait_link"):
            self.link.wait_ready(float(msg.get("timeout", self.cluster.timeouts.connect_s)))
        return {
            "ok": ready,
            "party": self.name,
            "rank": self.rank,
            "role": "dealer" if self.is_dealer else "compute",
            "pid": os.getpid(),
        }

    def _run(self, msg: dict[str, Any]) -> dict[str, Any]:
        job = str(msg["job"])
        with self._job_lock:
            start = time.perf_counter()
            jl = JobLink(self.link, job)
            if self.is_dealer:
                if jl.recv(0, "go")[0] == 0:  # the compute parties refused the program
                    return {"ok": True, "served": 0, "stats": StatsSnapshot().as_dict()}
                served = run_dealer_job(self.link, self.config, job)
                self.log.info(
                    "job %s: dealer served %d correlations in %.2f s",
                    job,
                    served,
                    time.perf_counter() - start,
                )
                return {"ok": True, "served": served, "stats": self.link.stats.snapshot().as_dict()}
            program = self._agree(jl, msg.get("program"), str(msg.get("hash")))
            self.log.info("job %s: program agreed, %d ops", job, len(program.body.ops))
            values = self._inputs(program, msg["inputs"])
            self._tracker = tracker = Tracker(program, self.name)
            try:
                result = run_party(
                    jl, self.config, program, lambda rank: values,
                    dealer_present=self.cluster.dealer is not None, on_op=tracker.on_op,
                )  # fmt: skip
            finally:
                self._tracker = None
            ids = [str(i) for i in msg["outputs"]]
            if len(ids) != len(result.outputs):
                raise VeilError(
                    f"job {job}: the driver named {len(ids)} outputs, the program has {len(result.outputs)}"
                )
            self.store.update(zip(ids, result.outputs))
            self.log.info("job %s: done in %.2f s", job, time.perf_counter() - start)
            trace = [
                [op, secs, d.online.bytes_sent, d.offline.bytes_sent, d.rounds]
                for op, secs, d in result.trace
            ]
            return {
                "ok": True,
                "stats": result.stats.as_dict(),
                "trace": trace,
                "outputs": [value_meta(v) for v in result.outputs],
            }

    def _agree(self, jl: JobLink, blob: Any, announced: str) -> Program:
        """Load the program, check it against the driver's hash and the peers' hashes; party 0
        tells the dealer whether the job goes ahead. Raises ProgramRefused (nothing has run yet)."""
        problem, local = None, True
        try:
            program = loads(blob) if isinstance(blob, bytes) else None
        except CompileError as e:
            program, problem = None, f"party {self.name}: cannot load the program: {e}"
        if program is None:
            digest = "00" * 32
            problem = problem or f"party {self.name}: the run request carries no program"
        else:
            digest = program_hash(program)
        if problem is None and digest != announced:
            problem = (
                f"party {self.name}: the program it received hashes to {digest[:16]}..., not the "
                f"{announced[:16]}... the driver announced; refusing to run"
            )
        try:
            agree_hash(jl, digest, self.cluster.link_names)
        except ProgramRefused as e:
            problem, local = problem or str(e), problem is not None
        if self.rank == 0 and self.cluster.dealer is not None:
            jl.send(self.cluster.world, "go", np.array([problem is None], np.uint8))
        if problem or program is None:
            raise ProgramRefused(problem or "no program", local)
        return program

    def _inputs(self, program: Program, specs: list[dict[str, Any]]) -> list[HalValue]:
        """This party's input values: payloads sent now, or references to values it holds."""
        if len(specs) != len(program.inputs):
            raise VeilError(f"the driver sent {len(specs)} inputs, the program takes {len(program.inputs)}")
        values = []
        for i, (spec, p) in enumerate(zip(specs, program.inputs)):
            if "ref" in spec:
                v = self._get(spec["ref"])
                if (
                    tuple(v.shape) != tuple(p.type.shape)
                    or v.vis is not p.type.vis
                    or v.owner != p.type.owner
                    or v.dtype is not p.type.dtype
                ):
                    raise VeilError(
                        f"input {i}: stored object {spec['ref']} is {value_meta(v)}, the program expects {p.type}"
                    )
                values.append(v)
            else:
                values.append(hal_value(p.type, control.bytes_array(spec.get("payload")), self.config))
        return values

    def _get(self, obj_id: Any) -> HalValue:
        v = self.store.get(str(obj_id))
        if v is None:
            raise VeilError(
                f"party {self.name} holds no object {obj_id!r} (deleted, or made by another device)"
            )
        return v

    def _progress(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The running job's progress (answered while `run` is busy: the control server has a pool)."""
        tracker = self._tracker
        return {"ok": True, "progress": None if tracker is None else tracker.snapshot().as_dict()}

    def _fetch(self, msg: dict[str, Any]) -> dict[str, Any]:
        out = []
        for obj_id in msg["ids"]:
            v = self._get(obj_id)
            out.append({**value_meta(v), "payload": control.array_bytes(v.payload)})
        return {"ok": True, "values": out}

    def _send(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Send this party's payload of a value to the party it is revealed to: its share of a
        secret, or the plaintext of a value private to this party (public values need nothing)."""
        v = self._get(msg["id"])
        if v.vis is Visibility.SECRET or (v.vis is Visibility.PRIVATE and v.owner == self.rank):
            JobLink(self.link, str(msg["job"])).send(int(msg["to"]), "reveal", v.payload)
        return {"ok": True}

    def _gather(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Reconstruct a value here from the compute parties' payloads (reveal to this party)."""
        v = self._get(msg["id"])
        jl = JobLink(self.link, str(msg["job"]))
        if v.vis is Visibility.SECRET:
            parts = [v.payload if r == self.rank else jl.recv(r, "reveal") for r in range(self.cluster.world)]
            plain = io.reconstruct(self.config, [np.asarray(p) for p in parts])
        elif v.vis is Visibility.PRIVATE and v.owner != self.rank:
            plain = jl.recv(int(v.owner), "reveal")
        else:
            plain = v.payload
        self.store[str(msg["new_id"])] = HalValue(
            v.shape, v.dtype, Visibility.PRIVATE, v.fxp_bits, plain, self.rank
        )
        return {"ok": True}

    def _delete(self, msg: dict[str, Any]) -> dict[str, Any]:
        for obj_id in msg["ids"]:
            self.store.pop(str(obj_id), None)
        return {"ok": True}

    def _shutdown(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.stop_later(0)
        return {"ok": True}

    # -- lifecycle -------------------------------------------------------------------------------

    def stop_later(self, code: int, delay: float = 0.2) -> None:
        """End the node shortly (after the current reply is on its way)."""
        self.exit_code = max(self.exit_code, code)
        threading.Timer(delay, self.done.set).start()

    def serve(self, parent_pid: int | None = None) -> int:
        """Serve until shutdown, failure, SIGTERM or the parent's death; returns the exit status."""
        if parent_pid:
            threading.Thread(target=self._watch_parent, args=(parent_pid,), daemon=True).start()
        self.done.wait()
        self.log.info("node %s stopping (status %d)", self.name, self.exit_code)
        self.server.stop(0.5)
        closer = threading.Thread(
            target=self.link.close if self.exit_code == 0 else (lambda: None), daemon=True
        )
        closer.start()
        closer.join(5.0)
        return self.exit_code

    def _watch_parent(self, parent_pid: int) -> None:
        while not self.done.wait(0.5):
            if os.getppid() != parent_pid:
                self.log.error("the driver (pid %d) is gone; stopping", parent_pid)
                self.link.fail(f"{self.name}: its driver exited")
                self.exit_code = 2
                self.done.set()


def main(argv: list[str] | None = None) -> int:
    """`veil node --config cluster.yaml --party alice [--parent-pid N]`."""
    parser = argparse.ArgumentParser(prog="veil node", description="run one party of a veil cluster")
    parser.add_argument("--config", required=True, help="cluster YAML file")
    parser.add_argument("--party", required=True, help="this party's name (or the dealer's)")
    parser.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this process (the driver) dies"
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--production", action="store_true",
        help="production mode: run the semi2k dealer for parties that run their own scripts (no driver)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format=f"%(asctime)s {args.party} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger(f"veil.node.{args.party}")
    try:
        cluster = ClusterConfig.from_yaml(args.config)
        if args.production:
            from veil.device.production import serve_dealer

            return _exit(serve_dealer(cluster, args.party))
        node = Node(cluster, args.party)
    except VeilError as e:
        log.error("cannot start: %s", e)
        return 3
    signal.signal(signal.SIGTERM, lambda *_: node.done.set())
    signal.signal(signal.SIGINT, lambda *_: node.done.set())
    return _exit(node.serve(args.parent_pid))


def _exit(code: int) -> int:
    """Flush logs and leave at once (gRPC threads must not hold the process open)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Node", "culprit", "main", "value_meta"]
