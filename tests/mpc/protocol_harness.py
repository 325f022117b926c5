"""Shared test helper: run a function on every party of a protocol over the in-memory link.

Stable API (used by the ref2k, semi2k and aby3 tests, test_costs and benchmarks):

    Arith(x)   secret arithmetic input: the driver shares ring array x (veil.mpc.io.share)
    Bool(x)    secret boolean (XOR) input: the driver XOR-shares ring array x
    Pub(x)     public ring array, handed to every party as is
    any other argument (ints, tuples, None) is passed through unchanged

    run_protocol(protocol, world, field, fn, *inputs, out="arith", timeout=30.0, seed=None,
                 **config_changes) -> Run(result, stats)
        Builds RuntimeConfig(protocol, field, world_size=world, ...), runs
        fn(ctx, *party_inputs) on every compute party (plus the dealer thread for semi2k) with
        `run_parties`, and reconstructs the outputs on the driver. fn starts on a party only
        after every party finished setup (so a failure inside fn is seen inside fn elsewhere). `out` says how: "arith"
        (sum of shares), "bool" (XOR of shares), "public" (party 0's value; all must agree),
        "raw" (list of per-party payloads) or a tuple of those if fn returns a tuple.
        `stats[r]` is party r's `StatsSnapshot` over fn only (setup and sharing excluded);
        `Run.job` aggregates them: rounds = max over parties, online bytes = sum sent,
        offline bytes = requests to plus adjusts from the dealer.

    measure_kernel(protocol, world, field, kernel, *inputs, **kw) -> Run
        run_protocol with fn = the kernel looked up in the context's KernelTable.

    measure_kernels(protocol, world, field, calls, **kw) -> list[Run]
        Several kernels in ONE job: calls = [(kernel, *inputs), ...]; every party resets its
        link counters before each call (all messages of the previous call are received by
        then), so each Run's stats cover that kernel alone. Much faster than one job per kernel.

    declared(protocol, world, field, kernel, numel, shapes=None) -> (rounds, online, offline)
        The kernel's declared Cost evaluated for numel (or shapes, for ShapeCost kernels).

`seed` (32 bytes) makes the PRGs and the driver's sharing reproducible; None is fresh.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from veil.config import Field, ProtocolKind, RuntimeConfig
from veil.link.memory import run_parties
from veil.link.stats import StatsSnapshot
from veil.mpc import io, ring
from veil.mpc.context import ProtocolContext
from veil.mpc.prg import AesCtrStream
from veil.mpc.protocols import build_table, make_context, needs_dealer, run_dealer


@dataclass(frozen=True)
class Arith:
    x: np.ndarray


@dataclass(frozen=True)
class Bool:
    x: np.ndarray


@dataclass(frozen=True)
class Pub:
    x: np.ndarray


@dataclass(frozen=True)
class JobCost:
    rounds: int
    online_bytes: int
    offline_bytes: int
    online_sent: tuple[int, ...]  # per party


class Run(NamedTuple):
    result: Any
    stats: list[StatsSnapshot]

    @property
    def job(self) -> JobCost:
        return JobCost(
            rounds=max(s.rounds for s in self.stats),
            online_bytes=sum(s.online.bytes_sent for s in self.stats),
            offline_bytes=sum(s.offline.bytes_sent + s.offline.bytes_recv for s in self.stats),
            online_sent=tuple(s.online.bytes_sent for s in self.stats),
        )


def make_config(
    protocol: str | ProtocolKind,
    world: int,
    field: str | Field,
    timeout: float = 30.0,
    seed: bytes | None = None,
    **changes: Any,
) -> RuntimeConfig:
    return RuntimeConfig(
        protocol=protocol, field=field, world_size=world, link_timeout_s=timeout, seed=seed, **changes
    )


def _xor_split(x: np.ndarray, n: int, stream: AesCtrStream) -> list[np.ndarray]:
    field = ring.field_of(x)
    parts = [stream.ring(field, x.shape) for _ in range(n - 1)]
    last = x
    for p in parts:
        last = ring.xor(last, p)
    return [*parts, last]


def share_bool(config: RuntimeConfig, x: np.ndarray, stream: AesCtrStream) -> list[np.ndarray]:
    """XOR-share x in the layout of config.protocol (aby3: party i holds parts (i, i+1))."""
    n = config.world_size
    if config.protocol is ProtocolKind.REF2K:
        return [x.copy() for _ in range(n)]
    if config.protocol is ProtocolKind.SEMI2K:
        return _xor_split(x, n, stream)
    parts = _xor_split(x, 3, stream)
    out = []
    for i in range(3):
        pay = np.empty(x.shape, dtype=[("s0", x.dtype), ("s1", x.dtype)])
        pay["s0"], pay["s1"] = parts[i], parts[(i + 1) % 3]
        out.append(pay)
    return out


def reconstruct_bool(config: RuntimeConfig, payloads: Sequence[np.ndarray]) -> np.ndarray:
    if config.protocol is ProtocolKind.REF2K:
        return payloads[0]
    parts = [p if config.protocol is ProtocolKind.SEMI2K else np.ascontiguousarray(p["s0"]) for p in payloads]
    total = parts[0]
    for p in parts[1:]:
        total = ring.xor(total, p)
    return total


def _split_inputs(config: RuntimeConfig, inputs: Sequence[Any], stream: AesCtrStream) -> list[list[Any]]:
    per_party: list[list[Any]] = [[] for _ in range(config.world_size)]
    for arg in inputs:
        if isinstance(arg, Arith):
            parts = io.share(config, np.ascontiguousarray(arg.x), stream)
        elif isinstance(arg, Bool):
            parts = share_bool(config, np.ascontiguousarray(arg.x), stream)
        elif isinstance(arg, Pub):
            parts = [np.array(arg.x, copy=True) for _ in range(config.world_size)]
        else:
            parts = [arg] * config.world_size
        for r in range(config.world_size):
            per_party[r].append(parts[r])
    return per_party


def _join(config: RuntimeConfig, payloads: list[Any], kind: str) -> Any:
    if kind == "raw":
        return payloads
    if kind == "arith":
        return io.reconstruct(config, payloads)
    if kind == "bool":
        return reconstruct_bool(config, payloads)
    if kind == "public":
        return payloads[0]
    if kind == "none":
        return None
    raise ValueError(f"protocol_harness: unknown output kind {kind!r}")


def run_protocol(
    protocol: str | ProtocolKind,
    world: int,
    field: str | Field,
    fn: Callable[..., Any],
    *inputs: Any,
    out: str | tuple[str, ...] = "arith",
    timeout: float = 30.0,
    seed: bytes | None = None,
    **changes: Any,
) -> Run:
    """Run fn(ctx, *party_inputs) on every party; reconstruct the outputs (see module doc)."""
    config = make_config(protocol, world, field, timeout, seed, **changes)
    stream = AesCtrStream(seed if seed is not None else os.urandom(32))
    args = _split_inputs(config, inputs, stream)
    dealer = needs_dealer(config)

    ready = threading.Barrier(world)

    def party(link: Any, party_args: list[Any]) -> tuple[Any, StatsSnapshot]:
        try:
            ctx = make_context(link, config, dealer_link_present=dealer)
        except BaseException:
            ready.abort()  # the others stop waiting at once; run_parties reports this error
            raise
        try:
            ready.wait(timeout)  # fn starts only once every party is set up
        except threading.BrokenBarrierError:
            raise RuntimeError(f"party {link.rank}: another party failed during setup") from None
        before = link.stats.snapshot()
        result = fn(ctx, *party_args)
        return result, link.stats.snapshot() - before

    results = run_parties(
        world,
        party,
        timeout=timeout,
        args_per_party=args,
        dealer=(lambda link: run_dealer(link, config)) if dealer else None,
    )
    outs = [r[0] for r in results]
    stats = [r[1] for r in results]
    if isinstance(out, tuple):
        joined = tuple(_join(config, [o[i] for o in outs], kind) for i, kind in enumerate(out))
    else:
        joined = _join(config, outs, out)
    return Run(joined, stats)


def measure_kernel(
    protocol: str | ProtocolKind, world: int, field: str | Field, kernel: str, *inputs: Any, **kw: Any
) -> Run:
    """Run one kernel by name on shared inputs; see run_protocol for the keywords."""

    def fn(ctx: ProtocolContext, *args: Any) -> Any:
        return ctx.table.lookup(kernel).fn(ctx, *args)

    return run_protocol(protocol, world, field, fn, *inputs, **kw)


def declared(
    protocol: str | ProtocolKind,
    world: int,
    field: str | Field,
    kernel: str,
    numel: int,
    shapes: tuple[tuple[int, ...], ...] | None = None,
    **changes: Any,
) -> tuple[int, int, int]:
    """(rounds, online_bytes, offline_bytes) declared by the kernel's Cost."""
    config = make_config(protocol, world, field, **changes)
    cost = build_table(config).lookup(kernel).cost
    k = config.field.bits
    of_shapes = getattr(cost, "of_shapes", None)
    if of_shapes is not None and shapes is not None:
        return tuple(of_shapes(*shapes, k, world))  # type: ignore[return-value]
    return (
        cost.rounds(numel, k, world),
        cost.online_bytes(numel, k, world),
        cost.offline_bytes(numel, k, world),
    )


def measure_kernels(
    protocol: str | ProtocolKind,
    world: int,
    field: str | Field,
    calls: Sequence[tuple[Any, ...]],
    out: str = "raw",
    **kw: Any,
) -> list[Run]:
    """Run each (kernel, *inputs) of `calls` in one job, measuring each alone (see module doc)."""
    flat: list[Any] = [arg for call in calls for arg in call[1:]]
    counts = [len(call) - 1 for call in calls]

    def fn(ctx: ProtocolContext, *args: Any) -> list[tuple[Any, StatsSnapshot]]:
        results, pos = [], 0
        for call, count in zip(calls, counts):
            ctx.link.stats.reset()
            res = ctx.table.lookup(call[0]).fn(ctx, *args[pos : pos + count])
            results.append((res, ctx.link.stats.snapshot()))
            pos += count
        return results

    run = run_protocol(protocol, world, field, fn, *flat, out="raw", **kw)
    config = make_config(
        protocol, world, field, **{k: v for k, v in kw.items() if k not in ("timeout", "seed")}
    )
    runs = []
    for i in range(len(calls)):
        payloads = [party[i][0] for party in run.result]
        runs.append(Run(_join(config, payloads, out), [party[i][1] for party in run.result]))
    return runs
