"""Driver side of driver-controlled nodes: run jobs on them, fetch and move their values.

The driver plays every data owner (local mode is a simulation of the owners): it secret-shares
an owner's input with `veil.mpc.io.share` and sends each compute node only its own share. SPU
outputs stay at the nodes as shares until revealed. Any node failure ends the cluster: the
driver raises `PartyError` naming the party that failed first (a dead process, or the party
the surviving nodes blame).
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from veil.config import RuntimeConfig
from veil.device import control
from veil.device.cluster import ClusterConfig
from veil.device.launcher import LocalCluster
from veil.device.progress import POLL_S, Progress, ProgressLine, ProgressSink, make_sink
from veil.device.simulation import OpCost, RunStats
from veil.dtypes import Visibility
from veil.errors import CompileError, PartyError, VeilError
from veil.ir.program import Program
from veil.link.stats import Counters, StatsSnapshot, job_stats
from veil.mpc import io
from veil.mpc.prg import AesCtrStream

_KINDS = {"CompileError": CompileError}


@dataclass(frozen=True)
class Source:
    """Where one program input comes from: a value the nodes hold (`ref`), an owner's secret
    (ring array, shared by the owner), or a public ring array (every party has it)."""

    kind: str  # "ref" | "secret" | "public"
    ref: str | None = None
    owner: str | None = None
    ring: np.ndarray | None = None


class NodeRunner:
    """Runs jobs on a set of nodes through their control services (local launcher or remote)."""

    def __init__(
        self, local: LocalCluster, stream: AesCtrStream, progress: ProgressSink | bool | None = None
    ) -> None:
        self.local = local
        self.progress = progress
        self.cluster: ClusterConfig = local.cluster
        self.config: RuntimeConfig = self.cluster.runtime
        self.clients = local.clients
        self.stream = stream
        self.broken: PartyError | None = None

    # -- jobs ------------------------------------------------------------------------------------

    def payloads(self, src: Source, value_type: Any) -> list[dict[str, Any]]:
        """What each compute node receives for one input: a reference, the public value, the
        owner's plaintext at the owner only (PRIVATE), or one share each (SECRET)."""
        n = self.config.world_size
        vis = value_type.vis
        if src.kind == "ref":
            return [{"ref": src.ref}] * n
        if src.ring is None:
            raise VeilError(f"input owned by {src.owner}: the driver has no data for it")
        if vis is Visibility.PUBLIC:
            return [{"payload": control.array_bytes(src.ring)}] * n
        if vis is Visibility.PRIVATE:
            mine = {"payload": control.array_bytes(src.ring)}
            return [mine if r == value_type.owner else {"payload": None} for r in range(n)]
        shares = io.share(self.config, src.ring, self.stream.fork(f"veil.owner.{src.owner}"))
        return [{"payload": control.array_bytes(s)} for s in shares]

    def run(
        self,
        job: str,
        program: Program,
        blob: bytes,
        digest: str,
        sources: Sequence[Source],
        out_ids: list[str],
    ) -> RunStats:
        """Run one compiled program on every node (and the dealer); returns its cost."""
        self._check_usable()
        per_input = [self.payloads(s, p.type) for s, p in zip(sources, program.inputs)]
        msgs = {}
        for rank, name in enumerate(self.cluster.link_names):
            if rank == self.config.world_size:
                msgs[name] = {"op": "run", "job": job}
            else:
                inputs = [per[rank] for per in per_input]
                msgs[name] = {
                    "op": "run",
                    "job": job,
                    "program": blob,
                    "hash": digest,
                    "inputs": inputs,
                    "outputs": out_ids,
                }
        start = time.perf_counter()
        watcher = self._watch_progress(job)
        try:
            replies = self.call_all(msgs, f"job {job}")
        finally:
            if watcher is not None:
                watcher()
        stats = run_stats(
            [replies[n] for n in self.cluster.compute],
            [r for n, r in replies.items() if n not in self.cluster.compute],
        )
        stats.wall_s = time.perf_counter() - start
        return stats

    def _watch_progress(self, job: str) -> Callable[[], None] | None:
        """Poll the compute nodes' progress every POLL_S while a job runs and feed the sink;
        returns the function that stops the poller (None when progress is off)."""
        sink = make_sink(self.progress, job)
        if sink is None:
            return None
        stop = threading.Event()
        last: list[Progress] = []

        def poll() -> None:
            while not stop.wait(POLL_S):
                reports = []
                for n in self.cluster.compute:
                    try:
                        reply = self.clients[n].call({"op": "progress"}, timeout=2.0)
                    except VeilError:
                        continue
                    if reply.get("ok") and isinstance(reply.get("progress"), dict):
                        reports.append(Progress.from_dict(reply["progress"]))
                if reports and not stop.is_set():
                    last[:] = reports
                    sink(reports)

        thread = threading.Thread(target=poll, name=f"veil-progress-{job}", daemon=True)
        thread.start()

        def finish() -> None:
            stop.set()
            thread.join(3.0)
            if isinstance(sink, ProgressLine):
                sink.close(last)

        return finish

    def fetch(self, party: str, ids: list[str]) -> list[dict[str, Any]]:
        """The values (meta + payload) a node holds under `ids`."""
        return self.call_all({party: {"op": "fetch", "ids": ids}}, "fetch")[party]["values"]

    def reveal(self, ids: list[str]) -> list[np.ndarray]:
        """Plaintext ring arrays of values held by the compute nodes (reveal to the driver)."""
        per_node = {n: self.fetch(n, ids) for n in self.cluster.compute}
        out = []
        for i in range(len(ids)):
            metas = [per_node[n][i] for n in self.cluster.compute]
            out.append(self._combine(metas))
        return out

    def _combine(self, metas: list[dict[str, Any]]) -> np.ndarray:
        vis = Visibility(metas[0]["vis"])
        if vis is Visibility.PUBLIC:
            return control.bytes_array(metas[0]["payload"])
        if vis is Visibility.PRIVATE:
            return control.bytes_array(metas[int(metas[0]["owner"])]["payload"])
        return io.reconstruct(self.config, [control.bytes_array(m["payload"]) for m in metas])

    def reveal_to(self, job: str, party: str, ids: list[str]) -> list[np.ndarray]:
        """Reconstruct values at `party`'s node only (the others send it their shares), then fetch them.

        A party without a node (a data owner outside the compute parties) is played by the driver:
        the driver reconstructs on its behalf.
        """
        if party not in self.cluster.compute:
            return self.reveal(ids)
        rank = self.cluster.rank_of(party)
        out = []
        for k, obj_id in enumerate(ids):
            new_id = f"{obj_id}@{party}.{job}.{k}"
            msgs = {
                n: {"op": "send", "job": f"{job}.{k}", "id": obj_id, "to": rank}
                for n in self.cluster.compute
                if n != party
            }
            msgs[party] = {"op": "gather", "job": f"{job}.{k}", "id": obj_id, "new_id": new_id}
            self.call_all(msgs, f"reveal to {party}")
            (value,) = self.fetch(party, [new_id])
            self.call_all({party: {"op": "delete", "ids": [new_id]}}, "delete")
            out.append(control.bytes_array(value["payload"]))
        return out

    def delete(self, ids: list[str]) -> None:
        if self.broken is None:
            self.call_all({n: {"op": "delete", "ids": ids} for n in self.cluster.compute}, "delete")

    # -- requests and failures -------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.broken is not None:
            raise PartyError(
                self.broken.party,
                f"this SPU's cluster failed earlier ({self.broken.reason}); create a new SPU",
            )

    def call_all(self, msgs: dict[str, dict[str, Any]], what: str) -> dict[str, dict[str, Any]]:
        """Send requests to several nodes at once; all replies, or PartyError naming the culprit."""
        self._check_usable()
        t = self.cluster.timeouts
        done_q: queue.Queue[str] = queue.Queue()
        futs = {}
        for n, m in msgs.items():
            futs[n] = self.clients[n].call_async(m, timeout=t.job_s)
            futs[n].add_done_callback(lambda _f, n=n: done_q.put(n))
        replies: dict[str, dict[str, Any]] = {}
        failures: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + t.job_s
        pending = set(futs)
        while pending:
            try:
                name = done_q.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                break
            pending.discard(name)
            reply = self._reply(futs[name], name)
            (replies if reply.get("ok") else failures)[name] = reply
            if failures:  # the others learn of it through the link: give them a bounded while to answer
                deadline = min(deadline, time.monotonic() + 3 * t.heartbeat_s + 2.0)
        for name in pending:
            futs[name].cancel()
        if failures or pending:
            raise self._fail(failures, sorted(pending), what)
        return replies

    def _reply(self, fut: grpc.Future, name: str) -> dict[str, Any]:
        try:
            return control.unpack(fut.result(timeout=0))
        except grpc.RpcError as e:
            detail = f"{e.code().name}: {e.details()}" if isinstance(e, grpc.Call) else repr(e)
            return {
                "ok": False,
                "error": f"no answer from its node ({detail})",
                "party": name,
                "kind": "LinkError",
                "dead": True,
            }

    def _fail(self, failures: dict[str, dict[str, Any]], silent: list[str], what: str) -> VeilError:
        """Pick the root cause, stop the cluster, and build the error to raise."""
        if failures and not silent and all(r.get("refused") for r in failures.values()):
            first = sorted(failures.values(), key=lambda r: not r.get("local"))[0]
            return CompileError(first["error"])  # nothing ran: the cluster stays up
        time.sleep(0.3)  # let a killed process be reaped so that exited() sees it
        exited = self.local.exited()
        crashed = [n for n in self.cluster.link_names if n in exited and exited[n] != 1]
        if crashed:
            who = crashed[0]
            reason = f"its node process exited with status {exited[who]} during {what}"
        else:
            blamed = collections.Counter(r["party"] for r in failures.values())
            self_blamed = [n for n, r in failures.items() if r["party"] == n]
            who = self_blamed[0] if self_blamed else (blamed.most_common(1)[0][0] if blamed else silent[0])
            reply = failures.get(who) or next(
                iter(failures.values()), {"error": "no answer within the timeout"}
            )
            reason = f"{reply['error']} (during {what})"
            kind = _KINDS.get(str(reply.get("kind")))
            if kind is not None and who in failures:
                self._stop(PartyError(who, reason))
                return kind(f"party {who}: {reply['error']}")
        err = PartyError(who, f"{reason}; node logs in {self.local.dir}")
        self._stop(err, silent)
        return err

    def _stop(self, err: PartyError, silent: Sequence[str] = ()) -> None:
        """The cluster is unusable after a failure: stop it (nodes that never answered are killed)."""
        self.broken = err
        self.local.shutdown(keep_logs=True, kill_first=silent)

    def shutdown(self) -> None:
        self.local.shutdown()


def run_stats(replies: list[dict[str, Any]], dealer: list[dict[str, Any]]) -> RunStats:
    """Job totals and the per-op table from the compute nodes' replies (as the Simulator reports)."""
    snaps = {i: _snapshot(r["stats"]) for i, r in enumerate(replies)}
    totals = job_stats({**snaps, **{len(snaps) + i: _snapshot(r["stats"]) for i, r in enumerate(dealer)}})
    stats = RunStats(
        online_bytes=totals.online_bytes, offline_bytes=totals.offline_bytes, rounds=totals.rounds
    )
    stats.party0_bytes = snaps[0].online.bytes_sent if snaps else 0
    for step in zip(*(r["trace"] for r in replies)):
        opcode = step[0][0]
        cost = stats.per_op.setdefault(opcode, OpCost(opcode))
        cost.calls += 1
        cost.seconds += max(s[1] for s in step)
        cost.online_bytes += sum(s[2] for s in step)
        cost.offline_bytes += sum(s[3] for s in step)
        cost.rounds += max(s[4] for s in step)
    return stats


def _snapshot(d: dict[str, int]) -> StatsSnapshot:
    def counters(prefix: str) -> Counters:
        return Counters(
            *(int(d[f"{prefix}_{k}"]) for k in ("bytes_sent", "bytes_recv", "msgs_sent", "msgs_recv"))
        )

    return StatsSnapshot(counters("online"), counters("offline"), int(d["rounds"]))
