"""Production mode (multi-controller): this process is one party, talking to its peers directly.

Every compute party runs the same script with `veil.init(cluster=..., self_party=name)`. The
script's SPU calls are collective (SPMD): every party makes them in the same order. For each
call, every party traces and compiles the function itself, the parties compare program hashes
over the link (`agree_hash`) and refuse to run on a mismatch; a PYU input is shared by its
owner, who sends each compute party its share (the others only learn the input's shape and
dtype, which the owner announces); the owner's input stays PRIVATE at the owner (nothing is
sent) until an op needs it shared. The semi2k dealer is a separate process:
`veil node --config cluster.yaml --party dealer --production`; party 0 announces each job to it.

Limits of this version: data owners must be compute parties (outsourced mode needs owners on the
link: not yet), and moving a PYU value to another party goes through an SPU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import msgpack
import numpy as np

from veil.device.cluster import ClusterConfig
from veil.device.objects import PYUObject
from veil.device.party import JobLink, agree_hash, hal_value, run_dealer_job, run_party
from veil.device.runner import Source, run_stats
from veil.device.simulation import RunStats
from veil.dtypes import Visibility
from veil.errors import ConfigError, LinkTimeoutError, PartyError, VeilError
from veil.hal.value import Value as HalValue
from veil.ir.program import Program
from veil.link.base import PeerClosedError
from veil.mpc import io

if TYPE_CHECKING:
    from veil.device.api import Session

log = logging.getLogger("veil.production")
DEALER_TAG = "dealer:job"


def open_link(cluster: ClusterConfig, party: str) -> Any:
    """This party's link to the cluster (transport, TLS and timeouts from the config)."""
    from veil.link.factory import open_link as open_party_link

    return open_party_link(cluster, party)


class ProductionRuntime:
    """The SPU runner of one party in production mode (satisfies `veil.device.spu.Runner`)."""

    def __init__(self, session: Session) -> None:
        cluster = session.cluster
        if cluster is None or session.self_party is None:
            raise ConfigError("production mode needs a cluster and self_party")
        me = session.self_party
        if me not in cluster.compute:
            raise ConfigError(
                f"production mode: {me!r} is not a compute party {list(cluster.compute)}; data owners outside the "
                "compute parties are not supported in production mode yet (make them compute parties)"
            )
        self.session = session
        self.cluster = cluster
        self.config = cluster.runtime
        self.me = me
        self.rank = cluster.rank_of(me)
        self.link = open_link(cluster, me)
        self.link.wait_ready(cluster.timeouts.connect_s)
        self.store: dict[str, HalValue] = {}
        self._seq = 0
        log.info("party %s: link up (rank %d of %d)", me, self.rank, cluster.world)

    def _tag(self, what: str) -> JobLink:
        """A fresh per-call namespace on the link (the same sequence at every party)."""
        self._seq += 1
        return JobLink(self.link, f"{what}{self._seq}")

    # -- inputs ----------------------------------------------------------------------------------

    def input_avals(self, obj: PYUObject) -> tuple[Any, list[np.ndarray | None]]:
        """(placeholder tree to trace with, data leaves at the owner / Nones elsewhere)."""
        owner = self.cluster.rank_of(obj.owner) if obj.owner in self.cluster.compute else None
        if owner is None:
            raise ConfigError(f"production mode: input owner {obj.owner!r} must be a compute party")
        jl = self._tag("avals")
        if owner == self.rank:
            leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(obj.data)]
            desc = describe(obj.data)
            blob = np.frombuffer(msgpack.packb(desc, use_bin_type=True), np.uint8)
            jl.send_to_all("avals", blob)
            return placeholders(desc), leaves
        desc = msgpack.unpackb(jl.recv(owner, "avals").tobytes(), raw=False)
        tree = placeholders(desc)
        return tree, [None] * len(jax.tree_util.tree_leaves(tree))

    def _inputs(self, jl: JobLink, program: Program, sources: Sequence[Source]) -> list[HalValue]:
        values = []
        for i, (src, p) in enumerate(zip(sources, program.inputs)):
            if src.kind == "ref":
                values.append(self._get(str(src.ref)))
            elif src.kind == "public":
                values.append(hal_value(p.type, src.ring, self.config))
            elif p.type.vis is Visibility.PRIVATE:  # stays at its owner: nothing is sent
                values.append(hal_value(p.type, src.ring if p.type.owner == self.rank else None, self.config))
            else:
                owner = self.cluster.rank_of(str(src.owner))
                if owner == self.rank:
                    shares = io.share(self.config, src.ring, self.session.stream.fork(f"{jl.prefix}in{i}"))
                    for r in range(self.cluster.world):
                        if r != self.rank:
                            jl.send(r, f"in{i}", shares[r])
                    mine = shares[self.rank]
                else:
                    mine = jl.recv(owner, f"in{i}")
                values.append(hal_value(p.type, mine, self.config))
        return values

    # -- Runner ----------------------------------------------------------------------------------

    def run(
        self,
        job: str,
        program: Program,
        blob: bytes,
        digest: str,
        sources: Sequence[Source],
        out_ids: list[str],
    ) -> RunStats:
        jl = JobLink(self.link, job)
        agree_hash(jl, digest, self.cluster.link_names)
        if self.cluster.dealer is not None and self.rank == 0:
            self.link.send(self.cluster.world, DEALER_TAG, np.frombuffer(job.encode(), np.uint8))
        values = self._inputs(jl, program, sources)
        try:
            result = run_party(
                jl, self.config, program, lambda rank: values, dealer_present=self.cluster.dealer is not None
            )
        except PartyError:
            raise
        except Exception as e:
            self.link.fail(f"{self.me}: {type(e).__name__}: {e}"[:2000])
            raise
        self.store.update(zip(out_ids, result.outputs))
        trace = [
            [op, secs, d.online.bytes_sent, d.offline.bytes_sent, d.rounds] for op, secs, d in result.trace
        ]
        return run_stats([{"stats": result.stats.as_dict(), "trace": trace}], [])

    def _get(self, obj_id: str) -> HalValue:
        v = self.store.get(obj_id)
        if v is None:
            raise VeilError(f"party {self.me} holds no object {obj_id!r} (deleted, or from another session)")
        return v

    def reveal(self, ids: list[str]) -> list[np.ndarray]:
        """Collective: every compute party learns the values."""
        jl = self._tag("reveal")
        out = []
        for k, obj_id in enumerate(ids):
            v = self._get(obj_id)
            if v.vis is Visibility.SECRET:
                parts = jl.all_gather(f"v{k}", np.asarray(v.payload))
                out.append(io.reconstruct(self.config, parts))
            elif v.vis is Visibility.PUBLIC:
                out.append(np.asarray(v.payload))
            else:  # private to one party: its owner sends it to everyone
                owner = int(v.owner)
                if owner == self.rank:
                    jl.send_to_all(f"v{k}", np.asarray(v.payload))
                    out.append(np.asarray(v.payload))
                else:
                    out.append(jl.recv(owner, f"v{k}"))
        return out

    def reveal_to(self, job: str, party: str, ids: list[str]) -> list[np.ndarray] | None:
        """Collective: the others send `party` their shares; only `party` reconstructs."""
        if party not in self.cluster.compute:
            raise ConfigError(
                f"production mode: can only reveal to compute parties {list(self.cluster.compute)}, not {party!r}"
            )
        target = self.cluster.rank_of(party)
        jl = JobLink(self.link, job)
        out = []
        for k, obj_id in enumerate(ids):
            v = self._get(obj_id)
            if v.vis is Visibility.PUBLIC or (v.vis is Visibility.PRIVATE and v.owner == target):
                out.append(np.asarray(v.payload) if v.payload is not None else None)
            elif v.vis is Visibility.PRIVATE:  # the owner sends it to the target
                if self.rank == v.owner:
                    jl.send(target, f"v{k}", np.asarray(v.payload))
                out.append(jl.recv(int(v.owner), f"v{k}") if self.rank == target else None)
            elif self.rank == target:
                parts = [v.payload if r == target else jl.recv(r, f"v{k}") for r in range(self.cluster.world)]
                out.append(io.reconstruct(self.config, [np.asarray(p) for p in parts]))
            else:
                jl.send(target, f"v{k}", np.asarray(v.payload))
        return out if self.rank == target else None

    def delete(self, ids: list[str]) -> None:
        for obj_id in ids:
            self.store.pop(obj_id, None)

    def shutdown(self) -> None:
        """One SPU is done; the link stays open for the session."""

    def close(self) -> None:
        if self.cluster.dealer is not None and self.rank == 0:
            try:
                self.link.send(self.cluster.world, DEALER_TAG, np.zeros(0, np.uint8))
            except VeilError:
                pass
        self.link.close()


# ----------------------------------------------------------------------------- avals


def describe(tree: Any) -> Any:
    """Shapes and dtypes of a pytree of arrays (lists, tuples, dicts), as msgpack-able data."""
    if isinstance(tree, dict):
        keys = sorted(tree)
        if not all(isinstance(k, str) for k in keys):
            raise VeilError("production mode: dict keys of PYU values given to an SPU must be strings")
        return {"t": "d", "k": keys, "v": [describe(tree[k]) for k in keys]}
    if isinstance(tree, (list, tuple)) and type(tree) in (list, tuple):
        return {"t": "l" if isinstance(tree, list) else "u", "v": [describe(x) for x in tree]}
    arr = np.asarray(tree)
    if arr.dtype.kind not in "biuf":
        raise VeilError(
            f"production mode: PYU values given to an SPU must be arrays or lists/tuples/dicts of arrays, got {type(tree).__name__}"
        )
    return {"t": "a", "s": list(arr.shape), "d": arr.dtype.str}


def placeholders(desc: Any) -> Any:
    """The pytree `describe` described, with jax.ShapeDtypeStruct leaves."""
    if not isinstance(desc, dict) or desc.get("t") not in ("d", "l", "u", "a"):
        raise VeilError("production mode: malformed input description from the owner")
    if desc["t"] == "a":
        return jax.ShapeDtypeStruct(tuple(int(d) for d in desc["s"]), np.dtype(str(desc["d"])))
    items = [placeholders(x) for x in desc["v"]]
    if desc["t"] == "d":
        return dict(zip(desc["k"], items))
    return items if desc["t"] == "l" else tuple(items)


# ----------------------------------------------------------------------------- dealer


def serve_dealer(cluster: ClusterConfig, name: str) -> int:
    """The semi2k dealer of a production cluster: serve each job party 0 announces, until it stops."""
    if cluster.dealer is None or cluster.dealer.name != name:
        raise ConfigError(f"{name!r} is not this cluster's dealer")
    link = open_link(cluster, name)
    jobs = 0
    try:
        while True:
            try:
                msg = link.recv(0, DEALER_TAG)
            except LinkTimeoutError:
                continue
            except PeerClosedError:
                break
            if msg.size == 0:
                break
            job = msg.tobytes().decode("utf-8", "replace")
            served = run_dealer_job(link, cluster.runtime, job)
            jobs += 1
            log.info("dealer %s: job %s served %d correlations", name, job, served)
    except VeilError as e:
        log.error("dealer %s failed: %s", name, e)
        return 1
    finally:
        link.close()
    return 0
