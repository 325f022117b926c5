"""The per-party body of a job, shared by the in-memory Simulator and the party node processes.

`run_party` is what every compute party runs for one program (protocol setup, HAL inputs, VM,
dealer release); `JobLink` gives one job its own tag namespace on a long-lived link;
`agree_hash` makes the compute parties compare program hashes before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from veil.config import RuntimeConfig
from veil.dtypes import DType
from veil.errors import CompileError
from veil.hal.value import Value as HalValue
from veil.ir.program import Program
from veil.link.base import Link
from veil.link.collectives import CollectivesMixin
from veil.link.stats import StatsSnapshot
from veil.mpc.protocols import make_context, run_dealer
from veil.vm.interpreter import run_program

TraceRow = tuple[str, float, Any]  # (opcode, seconds, StatsSnapshot delta)


class ProgramRefused(CompileError):
    """A node refused a program before running anything (hash checks); the cluster stays usable.

    `local`: the node found the problem itself (bad program or hash), not by comparing with peers.
    """

    def __init__(self, message: str, local: bool = False) -> None:
        super().__init__(message)
        self.local = local


class PartyResult(NamedTuple):
    """What one party's run returns: its output HAL values, its link stats, its per-op trace."""

    outputs: list[HalValue]
    stats: StatsSnapshot
    trace: list[TraceRow]


def hal_value(value_type: Any, payload: np.ndarray | None, config: RuntimeConfig) -> HalValue:
    """The HAL value of one program input (IR TensorType + this party's payload)."""
    t = value_type
    fxp_bits = config.f if t.dtype is DType.FXP else 0
    return HalValue(tuple(t.shape), t.dtype, t.vis, fxp_bits, payload, t.owner)


def run_party(
    link: Link,
    config: RuntimeConfig,
    program: Program,
    inputs: Callable[[int], Sequence[HalValue]],
    *,
    dealer_present: bool,
    on_op: Callable[[Any, float, Any], None] | None = None,
) -> PartyResult:
    """The per-party body: protocol setup, this party's HAL inputs, the VM run, dealer release.

    Shared by the Simulator (threads over the memory link) and the node (a process over gRPC).
    `inputs(rank)` builds this party's input values. The dealer client is closed (the semi2k
    dealer told to stop) before the stats are read, so they count that message too. `on_op`
    (e.g. a progress tracker's) is called after each leaf op too.
    """
    ctx = make_context(link, config, dealer_link_present=dealer_present)
    try:
        values = list(inputs(ctx.rank))
        trace: list[TraceRow] = []

        def hook(op: Any, secs: float, delta: Any) -> None:
            trace.append((op.opcode, secs, delta))
            if on_op is not None:
                on_op(op, secs, delta)

        outs = run_program(program, values, ctx, on_op=hook)
    finally:
        close = getattr(ctx.dealer, "close", None)
        if close is not None:
            close()
    return PartyResult(outs, link.stats.snapshot(), trace)


class JobLink(CollectivesMixin):
    """A view of a long-lived link for one job: tags are prefixed with the job id, so jobs on the
    same link never mix messages. Stats, failure and identity are the underlying link's."""

    def __init__(self, link: Link, job: str) -> None:
        self.base = link
        self.prefix = f"{job}:"
        self.rank = link.rank
        self.world = link.world
        self.stats = link.stats

    def send(self, to: int, tag: str, array: np.ndarray) -> None:
        self.base.send(to, self.prefix + tag, array)

    def recv(self, frm: int, tag: str) -> np.ndarray:
        return self.base.recv(frm, self.prefix + tag)

    def fail(self, reason: str) -> None:
        self.base.fail(reason)

    def close(self) -> None:
        """The job ends; the underlying link stays open for the next one."""


def agree_hash(link: Link, digest: str, names: Sequence[str]) -> None:
    """Every compute party sends its program hash to the others and checks theirs (one round).

    A mismatch raises CompileError on every party, naming who compiled what.
    """
    mine = np.frombuffer(bytes.fromhex(digest), np.uint8)
    peers = [r for r in range(link.world) if r != link.rank]
    for r in peers:
        link.send(r, "program_hash", mine)
    for r in peers:
        theirs = link.recv(r, "program_hash")
        if theirs.dtype != np.uint8 or theirs.tobytes() != mine.tobytes():
            raise ProgramRefused(
                f"program hash mismatch: party {names[link.rank]} has {digest[:16]}..., party {names[r]} has "
                f"{theirs.tobytes().hex()[:16]}...; every party must compile the same function with the same "
                "argument shapes, static arguments, config and veil version -- refusing to run"
            )


def run_dealer_job(link: Link, config: RuntimeConfig, job: str) -> int:
    """The dealer's part of one job on a long-lived link; returns the correlations served."""
    return run_dealer(JobLink(link, job), config)
