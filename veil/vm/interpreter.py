"""Run a veil IR `Program` on one party: an environment of HAL Values, one op at a time.

Every party runs this same code on its own payloads. Values are freed right after their last
use (liveness is computed once per region), so a long loop keeps its environment bounded.
Control flow is executed, never unrolled: `loop` runs its body region trip_count times with a
PUBLIC INT induction variable, `while` re-evaluates a PUBLIC predicate, `cond` picks a branch by
a PUBLIC index. After each op the result is checked against the op's declared type; a PUBLIC
result where SECRET was declared is shared for free (p2s), other mismatches are compiler bugs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.dtypes import DType, Visibility
from veil.errors import VeilError
from veil.hal import ring as hr
from veil.hal.ring import ProtocolContext  # re-exported: vm may not import mpc
from veil.hal.value import Value
from veil.ir.program import Op, Program, Region
from veil.ir.types import TensorType
from veil.vm.dispatch import lookup

OnOp = Callable[[Op, float, Any], None]


@dataclass
class _Plan:
    """Liveness of one region: ids to drop after each op (and unused params to drop at entry)."""

    dead_at_entry: list[int]
    dead_after: list[list[int]]


def plan_region(region: Region) -> _Plan:
    """Free each value after its last use; region results live to the end."""
    keep = {v.id for v in region.results}
    last: dict[int, int] = {}
    for i, op in enumerate(region.ops):
        for v in op.inputs:
            last[v.id] = i
    dead_after: list[list[int]] = [[] for _ in region.ops]
    for vid, i in last.items():
        if vid not in keep:
            dead_after[i].append(vid)
    for i, op in enumerate(region.ops):
        dead_after[i].extend(v.id for v in op.outputs if v.id not in last and v.id not in keep)
    entry = [v.id for v in region.params if v.id not in last and v.id not in keep]
    return _Plan(entry, dead_after)


@dataclass
class Machine:
    """One party's interpreter state for one run: context, liveness plans and counters."""

    ctx: ProtocolContext
    on_op: OnOp | None = None
    ops_executed: int = 0
    max_env: int = 0
    _plans: dict[int, _Plan] = field(default_factory=dict)

    def run_region(self, region: Region, args: Sequence[Value], top: bool = False) -> list[Value]:
        """Execute `region` on `args` (its params) and return its results."""
        if len(args) != len(region.params):
            raise VeilError(
                f"vm: region expects {len(region.params)} arguments, got {len(args)} (party {self.ctx.rank})"
            )
        plan = self._plans.get(id(region))
        if plan is None:
            plan = self._plans[id(region)] = plan_region(region)
        env: dict[int, Value] = {p.id: a for p, a in zip(region.params, args)}
        for vid in plan.dead_at_entry:
            env.pop(vid, None)
        for i, op in enumerate(region.ops):
            outs = self._step(op, [env[v.id] for v in op.inputs], top)
            for v, out in zip(op.outputs, outs):
                env[v.id] = out
            self.max_env = max(self.max_env, len(env))
            for vid in plan.dead_after[i]:
                env.pop(vid, None)
        return [env[v.id] for v in region.results]

    def _step(self, op: Op, args: list[Value], top: bool) -> list[Value]:
        self.ops_executed += 1
        handler = lookup(op)
        # leaf ops at any depth are measured; control ops are the sum of what they contain
        measure = self.on_op is not None and not op.regions
        if measure:
            before, t0 = self.ctx.link.stats.mark(), time.perf_counter()
        try:
            outs = handler(self, op, args)
        except VeilError:
            raise
        except Exception as e:  # name the op and party; keep the cause
            raise VeilError(
                f"op '{op.opcode}'{f' at {op.loc}' if op.loc else ''} failed on party {self.ctx.rank}: "
                f"{type(e).__name__}: {e}"
            ) from e
        if len(outs) != len(op.outputs):
            raise VeilError(
                f"vm: handler of '{op.opcode}' returned {len(outs)} values, expected {len(op.outputs)}"
            )
        outs = [conform(self.ctx, o, v.type, op) for o, v in zip(outs, op.outputs)]
        if measure and self.on_op is not None:
            secs = time.perf_counter() - t0
            self.on_op(_reported(op), secs, self.ctx.link.stats.since(before))
        return outs


def _reported(op: Op) -> Op:
    """The op as per-op statistics see it: a `batch` counts as one call of its member op."""
    if op.opcode != "batch":
        return op
    return Op(op.attrs["op"], op.inputs, op.outputs, dict(op.attrs["member_attrs"]), [], op.loc)


def conform(ctx: ProtocolContext, x: Value, t: TensorType, op: Op) -> Value:
    """Check a result against its declared type; share PUBLIC results declared SECRET (free)."""
    if (  # the common case, without building tuples (this runs after every op)
        x.dtype is t.dtype
        and x.vis is t.vis
        and x.owner == t.owner
        and x.shape == t.shape
        and (x.payload is None or x.payload.shape == x.shape)
        and type(x.shape) is tuple
    ):
        return x
    shape = tuple(x.shape)
    if x.payload is not None and x.payload.shape != shape:
        raise VeilError(
            f"vm: {_where(op, ctx)} produced a payload of shape {x.payload.shape} for a value of shape "
            f"{x.shape} (a handler bug)"
        )
    if shape != tuple(t.shape):
        raise VeilError(
            f"vm: {_where(op, ctx)} produced shape {x.shape}, its IR type says {t.shape} "
            "(a compiler or handler bug)"
        )
    if x.dtype is not t.dtype:
        if DType.FXP in (x.dtype, t.dtype):
            raise VeilError(
                f"vm: {_where(op, ctx)} produced dtype {x.dtype.value}, its IR type says {t.dtype.value}"
            )
        x = hr.make(x, x.payload, dtype=t.dtype)
    if x.vis is t.vis and x.owner == t.owner:
        return x
    where = _where(op, ctx)
    if t.vis is Visibility.SECRET:
        return hr.to_secret(ctx, x)
    if t.vis is Visibility.PRIVATE and x.is_public:
        return hr.make(x, x.payload if ctx.rank == t.owner else None, vis=Visibility.PRIVATE, owner=t.owner)
    raise VeilError(
        f"vm: {where} produced a {x.vis.value} value where the IR says {t}; the visibility pass "
        "and the runtime disagree (a compiler bug: please report with the program dump)"
    )


def _where(op: Op, ctx: ProtocolContext) -> str:
    """Op and party, for error messages (built only when one is raised: conform runs per op)."""
    return f"op '{op.opcode}'{f' at {op.loc}' if op.loc else ''} on party {ctx.rank}"


def run_program(
    program: Program, inputs: Sequence[Value], ctx: ProtocolContext, on_op: OnOp | None = None
) -> list[Value]:
    """Execute `program` on this party's input Values; returns its output Values.

    `on_op(op, seconds, stats_delta)` is called after each leaf op (at any loop depth) with the wall time and
    the change of this party's link statistics (control-flow ops count with their bodies).
    """
    if len(inputs) != len(program.inputs):
        raise VeilError(f"vm: program takes {len(program.inputs)} inputs, got {len(inputs)}")
    for i, (v, p) in enumerate(zip(inputs, program.inputs)):
        if tuple(v.shape) != tuple(p.type.shape):
            name = program.input_names[i] if i < len(program.input_names) else f"arg{i}"
            raise VeilError(f"vm: input '{name}' has shape {v.shape}, the program expects {p.type.shape}")
    return Machine(ctx, on_op).run_region(program.body, list(inputs), top=True)
