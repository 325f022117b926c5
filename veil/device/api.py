"""The SecretFlow-style entry points: `init`, `shutdown`, and the session they manage.

    veil.init(parties=["alice", "bob"], address="local")            # simulation: local node processes
    veil.init(cluster="cluster.yaml", self_party="alice")            # production: this process is alice

Local mode: the driver (this process) simulates every data owner -- it runs PYU functions and
secret-shares PYU values itself -- while each SPU's compute parties (and the semi2k dealer) run
as separate node processes on loopback, spawned when the SPU is created.

Production mode (multi-controller, as SecretFlow with RayFed): every party runs the same script
with its own `self_party`; PYU functions run only at their owner; each party compiles SPU
functions itself, the parties compare program hashes over their link before running, and no
party executes code sent by another.

The session is module state on purpose: SecretFlow's API (`sf.init`, `sf.PYU("alice")`) has no
context argument. Devices also accept an explicit `session=`.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from veil.device.cluster import ClusterConfig, cluster_def
from veil.device.objects import PYUObject, reveal
from veil.device.pyu import PYU
from veil.device.spu import SPU, Runner
from veil.errors import ConfigError, VeilError
from veil.mpc.prg import AesCtrStream


class Session:
    """What `init` set up: the parties, the mode, the devices to shut down."""

    def __init__(
        self,
        parties: Sequence[str],
        *,
        cluster: ClusterConfig | None = None,
        self_party: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        log_level: str = "INFO",
        tls: bool = False,
        progress: Any = None,
    ) -> None:
        self.parties = tuple(parties)
        # None: a progress line on stderr when it is a terminal; True/False; or a callable sink
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.tls = tls
        self.cluster = cluster
        self.self_party = self_party
        self.defaults = dict(defaults or {})
        self.log_level = log_level
        self.spus: list[SPU] = []
        self._jobs = itertools.count(1)
        self._lock = threading.Lock()
        self.production: Any = None  # the ProductionRuntime, opened by the first SPU
        seed = self.defaults.get("seed")
        self.stream = AesCtrStream(seed if isinstance(seed, bytes) else os.urandom(32)).fork("veil.driver")

    @property
    def mode(self) -> str:
        return "local" if self.self_party is None else "production"

    def next_job(self) -> str:
        """A job id (the same sequence on every party of a production run)."""
        with self._lock:
            return f"j{next(self._jobs)}"

    def check_party(self, party: str) -> None:
        if party not in self.parties:
            raise ConfigError(f"party {party!r} is not in this session's parties {list(self.parties)}")

    def spu_cluster(self, definition: Any) -> ClusterConfig:
        """The cluster of an SPU: its definition (cluster_def dict, ClusterConfig, YAML path) or the defaults."""
        if self.mode == "production":
            assert self.cluster is not None
            if definition is not None:
                other = ClusterConfig.load(definition)
                if (
                    other.compute != self.cluster.compute
                    or other.runtime.protocol is not self.cluster.runtime.protocol
                ):
                    raise ConfigError(
                        "production mode: the SPU's cluster_def must match the cluster given to veil.init"
                    )
            return self.cluster
        if definition is None:
            top = ("protocol", "field", "timeouts", "shaper", "transport")  # cluster keys, not runtime ones
            rc = {k: v for k, v in self.defaults.items() if k not in top}
            definition = cluster_def(
                list(self.parties), self.defaults.get("protocol", "semi2k"), self.defaults.get("field", "FM64"),
                timeouts=self.defaults.get("timeouts"), shaper=self.defaults.get("shaper"),
                transport=self.defaults.get("transport"), **rc,
            )  # fmt: skip
        cluster = ClusterConfig.load(definition)
        missing = [p for p in cluster.compute if p not in self.parties]
        if missing:
            raise ConfigError(
                f"SPU: compute parties {missing} are not in veil.init(parties={list(self.parties)})"
            )
        return cluster

    def start_runner(self, spu: SPU) -> Runner:
        """Local mode: spawn the SPU's node processes. Production: this party's link."""
        if self.mode == "production":
            from veil.device.production import ProductionRuntime

            if self.production is None:
                self.production = ProductionRuntime(self)
            self.spus.append(spu)
            return self.production
        from veil.device.launcher import LocalCluster
        from veil.device.runner import NodeRunner

        local = LocalCluster(spu.cluster, log_level=self.log_level, tls=self.tls)
        self.spus.append(spu)
        return NodeRunner(local, self.stream.fork(f"spu{len(self.spus)}"), progress=self.progress)

    def pyu_input(self, obj: PYUObject) -> tuple[Any, list[Any]]:
        """A PYU value given to an SPU: (pytree to trace with, its plaintext leaves or None where
        this process is not the owner)."""
        if self.mode == "local":
            leaves, tree = jax.tree_util.tree_flatten(obj.data)
            arrays = [np.asarray(x) for x in leaves]
            return jax.tree_util.tree_unflatten(tree, arrays), arrays
        return self.production.input_avals(obj)

    def shutdown(self) -> None:
        for spu in reversed(self.spus):
            try:
                spu.shutdown()
            except VeilError:
                pass
        self.spus.clear()
        if self.production is not None:
            self.production.close()
            self.production = None


_state: dict[str, Session | None] = {"session": None}


def init(
    parties: Sequence[str] | None = None,
    address: str = "local",
    *,
    cluster: ClusterConfig | Mapping[str, Any] | str | Path | None = None,
    self_party: str | None = None,
    protocol: str | None = None,
    field: str | None = None,
    log_level: str = "WARNING",
    tls: bool = False,
    progress: Any = None,
    **runtime_config: Any,
) -> Session:
    """Start a session (see the module docstring for the two modes).

    Local mode: `protocol`, `field` and other runtime_config keys (and the cluster keys `timeouts`,
    `shaper`, `transport`) are the defaults of `veil.SPU()` without a cluster_def; `tls=True` runs the node links over mutual TLS with a throwaway CA;
    `log_level` is the nodes' log level. Production mode reads all of it from the cluster config.
    `progress`: a per-party progress line on stderr for SPU jobs longer than a second (default:
    when stderr is a terminal); or a callable that receives `veil.device.progress.Progress` lists.
    """
    if _state["session"] is not None:
        raise VeilError("veil.init was already called; call veil.shutdown() first")
    defaults = {k: v for k, v in (("protocol", protocol), ("field", field)) if v is not None}
    defaults.update(runtime_config)
    if cluster is not None or self_party is not None:
        if cluster is None or self_party is None:
            raise ConfigError("production mode needs both cluster=... and self_party=...")
        cfg = ClusterConfig.load(cluster)
        names = [p.name for p in cfg.parties]
        if self_party not in names:
            raise ConfigError(f"self_party={self_party!r} is not a party of the cluster {names}")
        session = Session(names, cluster=cfg, self_party=self_party, defaults=defaults, log_level=log_level)
    else:
        if address != "local":
            raise ConfigError(
                f"address={address!r}: only 'local' is supported (or production mode: cluster=..., self_party=...)"
            )
        if isinstance(parties, str) or not parties or len(set(parties)) != len(parties):
            raise ConfigError(f"veil.init: parties must be a list of distinct names, got {parties!r}")
        session = Session(list(parties), defaults=defaults, log_level=log_level, tls=tls, progress=progress)
    _state["session"] = session
    return session


def current_session() -> Session:
    session = _state["session"]
    if session is None:
        raise VeilError("no veil session: call veil.init(parties=[...], address='local') first")
    return session


def shutdown() -> None:
    """Stop every device of the current session (node processes, links)."""
    session = _state["session"]
    _state["session"] = None
    if session is not None:
        session.shutdown()


__all__ = ["PYU", "SPU", "Session", "cluster_def", "current_session", "init", "reveal", "shutdown"]
