"""Simulator: every compute party (and the semi2k dealer) as a thread over the in-memory link.

It runs the same VM and protocol code a party node runs; only the link differs. The driver
shares inputs with a cryptographic stream, gives each party its payloads, and reconstructs
the outputs the program reveals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.config import ProtocolKind, RuntimeConfig
from veil.device.party import PartyResult, hal_value, run_party
from veil.device.progress import ProgressLine, ProgressSink, Throttled, Tracker, make_sink
from veil.dtypes import Visibility
from veil.hal.value import Value as HalValue
from veil.ir.program import Program
from veil.link.memory import run_job
from veil.link.shaper import Shaper
from veil.mpc import io
from veil.mpc.prg import AesCtrStream
from veil.mpc.protocols import run_dealer


@dataclass
class OpCost:
    """Cost of one opcode summed over its executions: bytes over all parties, rounds max-per-call summed."""

    opcode: str
    calls: int = 0
    online_bytes: int = 0
    rounds: int = 0
    offline_bytes: int = 0
    seconds: float = 0.0


@dataclass
class RunStats:
    """What one secure run cost. Bytes are payload bytes summed over the compute parties."""

    online_bytes: int = 0
    offline_bytes: int = 0
    rounds: int = 0
    party0_bytes: int = 0
    wall_s: float = 0.0
    compile_s: float = 0.0
    per_op: dict[str, OpCost] = field(default_factory=dict)

    def table(self) -> str:
        """The per-op cost table, most expensive first."""
        rows = sorted(self.per_op.values(), key=lambda c: (-c.online_bytes, -c.rounds))
        lines = [f"{'op':<20}{'calls':>8}{'online KB':>12}{'rounds':>9}{'offline KB':>12}{'s':>9}"]
        for c in rows:
            lines.append(
                f"{c.opcode:<20}{c.calls:>8}{c.online_bytes / 1e3:>12.1f}{c.rounds:>9}"
                f"{c.offline_bytes / 1e3:>12.1f}{c.seconds:>9.3f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return (
            f"online {self.online_bytes / 1e6:.3f} MB, rounds {self.rounds}, "
            f"offline {self.offline_bytes / 1e6:.3f} MB, compile {self.compile_s:.2f} s, run {self.wall_s:.2f} s"
        )


@dataclass
class PartyInput:
    """One program input as the parties see it: per-party payloads (None where not held)."""

    value_type: Any  # veil.ir.types.TensorType
    payloads: list[np.ndarray | None]


class Simulator:
    """Runs compiled programs on `config.world_size` threads (plus a dealer thread for semi2k)."""

    def __init__(self, config: RuntimeConfig, shaper: Shaper | None = None) -> None:
        self.config = config
        self.shaper = shaper
        seed = config.seed if config.seed is not None else os.urandom(32)
        self._driver_stream = AesCtrStream(seed).fork("veil.driver.inputs")

    def share_input(
        self, ring_value: np.ndarray, vis: Visibility, owner: int | None = None
    ) -> list[np.ndarray | None]:
        """The payload each party receives for one input (shares, copies, or the owner's plaintext)."""
        n = self.config.world_size
        if vis is Visibility.PUBLIC:
            return [ring_value.copy() for _ in range(n)]
        if vis is Visibility.PRIVATE:
            return [ring_value.copy() if r == owner else None for r in range(n)]
        return list(io.share(self.config, ring_value, self._driver_stream))

    def run(
        self, program: Program, inputs: Sequence[PartyInput], progress: ProgressSink | bool | None = None
    ) -> tuple[list[list[HalValue]], RunStats]:
        """Execute `program`; returns every party's output HAL values and the run's cost.

        `progress`: True draws a progress line on stderr; a callable gets party 0's `Progress`
        (every party runs the same ops) at most every `veil.device.progress.POLL_S` seconds.
        """
        config = self.config
        with_dealer = config.protocol is ProtocolKind.SEMI2K
        sink = make_sink(progress, "sim")
        tracker = Tracker(program, "party0") if sink is not None else None
        hook = Throttled(tracker, sink) if tracker is not None and sink is not None else None

        def party(link: Any) -> PartyResult:
            return run_party(
                link,
                config,
                program,
                lambda rank: [hal_value(inp.value_type, inp.payloads[rank], config) for inp in inputs],
                dealer_present=with_dealer,
                on_op=hook.on_op if hook is not None and link.rank == 0 else None,
            )

        dealer = (lambda link: run_dealer(link, config)) if with_dealer else None
        start = time.perf_counter()
        job = run_job(
            config.world_size, party, timeout=config.link_timeout_s, dealer=dealer, shaper=self.shaper
        )
        results = job.results
        if tracker is not None and sink is not None:
            if isinstance(sink, ProgressLine):
                sink.close([tracker.snapshot()])
            else:
                sink([tracker.snapshot()])
        stats = _aggregate([r[2] for r in results])
        stats.online_bytes = job.totals.online_bytes
        stats.offline_bytes = job.totals.offline_bytes
        stats.rounds = job.totals.rounds
        stats.party0_bytes = results[0][1].online.bytes_sent
        stats.wall_s = time.perf_counter() - start
        return [r[0] for r in results], stats


def _aggregate(traces: list[list[tuple[str, float, Any]]]) -> RunStats:
    """Merge the parties' per-op traces (every party runs the same op sequence) into one table."""
    stats = RunStats()
    for step in zip(*traces):
        opcode = step[0][0]
        cost = stats.per_op.setdefault(opcode, OpCost(opcode))
        cost.calls += 1
        cost.seconds += max(secs for _, secs, _ in step)
        cost.online_bytes += sum(delta.online.bytes_sent for _, _, delta in step)
        cost.offline_bytes += sum(delta.offline.bytes_sent for _, _, delta in step)
        cost.rounds += max(delta.rounds for _, _, delta in step)
    return stats
