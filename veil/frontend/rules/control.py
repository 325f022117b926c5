"""Control-flow rules: inlined calls, identities, while/fori loops, scan and cond.

- jit/pjit/closed_call/remat/custom_jvp_call/custom_vjp_call: the callee jaxpr is inlined
  (for custom_vjp_call that is the primal function; its backward rule only matters under
  differentiation, which has already happened by the time we see the jaxpr).
- while: a `loop` with a trip count when it is a counted loop with known bounds, else `while`
  (a secret predicate is a CompileError).
- scan: a `loop` whose body slices xs at the iteration index and writes ys into zero buffers.
- cond: a `cond` op with one region per branch (a known index inlines the branch).
Loop-carried visibilities are widened to a fixpoint so that region params and results agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax.extend.core as jex

from veil.dtypes import DType, Visibility
from veil.errors import CompileError, UnsupportedOpError
from veil.frontend.avals import dtype_of, ints
from veil.frontend.rules.common import Rule
from veil.ir.program import Region, Value
from veil.ir.types import TensorType, join_vis

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering

_IDENTITY = (
    "stop_gradient", "reduce_precision", "copy", "copy_p", "optimization_barrier",
    "sharding_constraint", "device_put",
)  # fmt: skip
_CALLS = (
    "jit", "pjit", "closed_call", "core_call", "call", "remat", "remat2", "checkpoint",
    "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr",
)  # fmt: skip
_INDEX = TensorType((), DType.INT, Visibility.PUBLIC)
_MAX_WIDEN = 4


def _identity(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    return list(ins)


def _call(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """Inline the callee jaxpr of a call-like primitive."""
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if key in eqn.params:
            return ctx.inline(eqn.params[key], ins)
    raise UnsupportedOpError(eqn.primitive.name, ctx.where(), "call primitive without a jaxpr parameter")


def _widen(types: Sequence[TensorType], results: Sequence[Value]) -> list[TensorType] | None:
    """Join carried types with the body's result types; None when nothing changed."""
    out, changed = [], False
    for t, r in zip(types, results):
        vis, owner = join_vis(t, r.type)
        changed |= vis is not t.vis or owner != t.owner
        out.append(t.with_vis(vis, owner))
    return out if changed else None


def _fixpoint(
    carry_types: list[TensorType], build: Callable[[list[TensorType]], tuple[list[Region], list[Value]]]
) -> tuple[list[Region], list[TensorType]]:
    """Rebuild loop regions until carried visibilities are stable (at most a few rounds)."""
    for _ in range(_MAX_WIDEN):
        regions, carried_results = build(carry_types)
        wider = _widen(carry_types, carried_results)
        if wider is None:
            return regions, carry_types
        carry_types = wider
    regions, _ = build(carry_types)
    return regions, carry_types


def _loop(
    ctx: Lowering,
    carries: list[Value],
    consts: list[Value],
    trip_count: int,
    body: Callable[[Value, list[Value], list[Value]], list[Value]],
) -> list[Value]:
    """Emit `loop` with body(iv, carries, consts) -> new carries."""
    n = len(carries)

    def build(types: list[TensorType]) -> tuple[list[Region], list[Value]]:
        def fn(params: list[Value]) -> list[Value]:
            return body(params[0], params[1 : 1 + n], params[1 + n :])

        region = ctx.build_region([_INDEX, *types, *(v.type for v in consts)], fn)
        return [region], region.results

    regions, types = _fixpoint([v.type for v in carries], build)
    attrs = {"trip_count": int(trip_count), "n_carries": n}
    return ctx.emit("loop", [*carries, *consts], types, attrs, regions)


# ---- scan --------------------------------------------------------------------------------------


def _row(ctx: Lowering, x: Value, t: Value) -> Value:
    """x[t] for a scalar index t: dynamic_slice of one row, then drop the leading dim."""
    zeros = [ctx.const(0, DType.INT)] * (x.type.ndim - 1)
    sizes = (1, *x.type.shape[1:])
    row = ctx.emit1("dynamic_slice", [x, t, *zeros], sizes, x.type.dtype, slice_sizes=sizes)
    return ctx.reshape(row, x.type.shape[1:])


def _set_row(ctx: Lowering, buf: Value, y: Value, t: Value) -> Value:
    """buf with buf[t] = y."""
    zeros = [ctx.const(0, DType.INT)] * (buf.type.ndim - 1)
    y1 = ctx.reshape(y, (1, *y.type.shape))
    return ctx.emit1("dynamic_update_slice", [buf, y1, t, *zeros], buf.type.shape, buf.type.dtype)


def _scan(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """scan -> loop: carries = (scan carries, ys buffers), consts = (scan consts, xs)."""
    p = eqn.params
    body, length, reverse = p["jaxpr"], int(p["length"]), bool(p["reverse"])
    nc, ncar = int(p["num_consts"]), int(p["num_carry"])
    consts, init, xs = ins[:nc], ins[nc : nc + ncar], ins[nc + ncar :]
    bufs = [
        ctx.full(0, (length, *ints(a.shape)), dtype_of(a.dtype, ctx.where())) for a in body.out_avals[ncar:]
    ]

    def step(iv: Value, carried: list[Value], ks: list[Value]) -> list[Value]:
        t = iv
        if reverse:
            t = ctx.emit1("sub", [ctx.const(length - 1, DType.INT), iv], (), DType.INT)
        x_t = [_row(ctx, x, t) for x in ks[nc:]]
        outs = ctx.inline(body, [*ks[:nc], *carried[:ncar], *x_t])
        new_bufs = [_set_row(ctx, b, y, t) for b, y in zip(carried[ncar:], outs[ncar:])]
        return [*outs[:ncar], *new_bufs]

    return _loop(ctx, [*init, *bufs], [*consts, *xs], length, step)


# ---- while -------------------------------------------------------------------------------------


def _known_int(ctx: Lowering, v: Value) -> int | None:
    k = ctx.known.get(v.id)
    if k is None or k.ndim != 0 or k.dtype.kind not in "iu":
        return None
    return int(k)


def _counted(ctx: Lowering, eqn: Any, cconsts: list[Value], init: list[Value]) -> int | None:
    """Trip count of `while i < n: i += 1` with known initial i and bound n, else None."""
    p = eqn.params
    cj, bj = p["cond_jaxpr"].jaxpr, p["body_jaxpr"].jaxpr
    bn = int(p["body_nconsts"])
    if len(cj.eqns) != 1 or cj.eqns[0].primitive.name != "lt" or cj.eqns[0].outvars[0] is not cj.outvars[0]:
        return None
    lhs, rhs = cj.eqns[0].invars
    cvals = dict(zip(cj.invars, [*cconsts, *init]))
    carries_in = list(cj.invars[len(cconsts) :])
    if lhs not in carries_in:
        return None
    k = carries_in.index(lhs)
    start = _known_int(ctx, init[k])
    if isinstance(rhs, jex.Literal):
        bound: int | None = int(rhs.val)
    elif rhs in carries_in and bj.outvars[carries_in.index(rhs)] is bj.invars[bn + carries_in.index(rhs)]:
        bound = _known_int(ctx, init[carries_in.index(rhs)])
    else:
        bound = _known_int(ctx, cvals[rhs]) if rhs in cvals else None
    if start is None or bound is None or not _increments(bj, bn + k, k):
        return None
    return max(0, bound - start)


def _increments(bj: Any, in_pos: int, out_pos: int) -> bool:
    """True when the body computes outvars[out_pos] = invars[in_pos] + 1."""
    target, src = bj.outvars[out_pos], bj.invars[in_pos]
    for e in bj.eqns:
        if e.outvars[0] is target:
            if e.primitive.name != "add":
                return False
            a, b = e.invars
            one = b if a is src else a if b is src else None
            return isinstance(one, jex.Literal) and int(one.val) == 1
    return False


def _while(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """while -> `loop` for counted loops with known bounds, else `while` (public predicate)."""
    p = eqn.params
    cn, bn = int(p["cond_nconsts"]), int(p["body_nconsts"])
    cconsts, bconsts, init = ins[:cn], ins[cn : cn + bn], ins[cn + bn :]
    trip = _counted(ctx, eqn, cconsts, init)
    if trip is not None:

        def step(iv: Value, carried: list[Value], ks: list[Value]) -> list[Value]:
            return ctx.inline(p["body_jaxpr"], [*ks, *carried])

        return _loop(ctx, init, bconsts, trip, step)
    consts = [*cconsts, *bconsts]
    n = len(init)

    def build(types: list[TensorType]) -> tuple[list[Region], list[Value]]:
        ptypes = [*types, *(v.type for v in consts)]
        cond = ctx.build_region(ptypes, lambda ps: ctx.inline(p["cond_jaxpr"], [*ps[n : n + cn], *ps[:n]]))
        body = ctx.build_region(ptypes, lambda ps: ctx.inline(p["body_jaxpr"], [*ps[n + cn :], *ps[:n]]))
        return [cond, body], body.results

    regions, types = _fixpoint([v.type for v in init], build)
    if regions[0].results[0].type.vis is not Visibility.PUBLIC:
        raise CompileError(
            f"while_loop predicate is {regions[0].results[0].type.vis.value} (from {ctx.where()}): the number of "
            "iterations would leak; make the loop bound public (fori_loop with public bounds) or reveal it"
        )
    return ctx.emit("while", [*init, *consts], types, {"n_carries": n}, regions)


# ---- cond --------------------------------------------------------------------------------------


def _cond(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """cond(index, *operands): one region per branch; a known index inlines its branch."""
    branches = eqn.params["branches"]
    index, ops = ins[0], ins[1:]
    k = ctx.known.get(index.id)
    if k is not None and k.ndim == 0:
        i = min(max(int(k), 0), len(branches) - 1)
        return ctx.inline(branches[i], ops)
    regions = [ctx.build_region([v.type for v in ops], lambda ps, b=b: ctx.inline(b, ps)) for b in branches]
    out_types = []
    for i, var in enumerate(eqn.outvars):
        vis, owner = join_vis(index.type, *(r.results[i].type for r in regions))
        out_types.append(TensorType(ints(var.aval.shape), dtype_of(var.aval.dtype, ctx.where()), vis, owner))
    return ctx.emit("cond", [index, *ops], out_types, {}, regions)


RULES: dict[str, Rule] = {
    **{n: _identity for n in _IDENTITY},
    **{n: _call for n in _CALLS},
    "scan": _scan,
    "while": _while,
    "cond": _cond,
}
