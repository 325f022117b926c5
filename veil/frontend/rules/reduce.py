"""Reduction and scan-like rules: sums, max/min, and/or, argmax/argmin, cumsum/cummax/cummin,
cumlogsumexp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veil.dtypes import DType
from veil.errors import UnsupportedOpError
from veil.frontend.avals import ints, out_dtype, out_shape
from veil.frontend.rules.common import Rule
from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering


def _reduce(opcode: str, bool_only: bool = False) -> Rule:
    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        if bool_only and ins[0].type.dtype is not DType.BOOL:
            name = eqn.primitive.name
            raise UnsupportedOpError(name, ctx.where(), f"{name} is only supported on bool arrays")
        shape = out_shape(eqn)
        return [ctx.emit1(opcode, ins, shape, out_dtype(eqn), axes=ints(eqn.params["axes"]))]

    return rule


def _arg(opcode: str) -> Rule:
    """argmax/argmin over one axis; the index output is an INT."""

    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        axes = ints(eqn.params["axes"])
        if len(axes) != 1:
            raise UnsupportedOpError(opcode, ctx.where(), f"{opcode} over several axes: reshape first")
        return [ctx.emit1(opcode, ins, out_shape(eqn), DType.INT, axis=axes[0])]

    return rule


def _cum(opcode: str) -> Rule:
    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        p = eqn.params
        return [
            ctx.emit1(
                opcode, ins, out_shape(eqn), out_dtype(eqn), axis=int(p["axis"]), reverse=bool(p["reverse"])
            )
        ]

    return rule


def _cummin(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """cummin(x) = -cummax(-x)."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    p = eqn.params
    neg = ctx.emit1("neg", ins, shape, dt)
    m = ctx.emit1("cummax", [neg], shape, dt, axis=int(p["axis"]), reverse=bool(p["reverse"]))
    return [ctx.emit1("neg", [m], shape, dt)]


_LAE_CLAMP = 64.0  # exp(-64) is far below any fixed-point LSB; keeps every exp method in range


def _logaddexp(ctx: Lowering, p: Value, q: Value) -> Value:
    """log(e^p + e^q) = (p + q + |p - q|) / 2 + log1p(exp(-min(|p - q|, 64)))."""
    shape, dt = p.type.shape, p.type.dtype
    ad = ctx.emit1("abs", [ctx.emit1("sub", [p, q], shape, dt)], shape, dt)
    total = ctx.emit1("add", [ctx.emit1("add", [p, q], shape, dt), ad], shape, dt)
    top = ctx.emit1("mul", [total, ctx.full(0.5, shape, dt)], shape, dt)
    gap = ctx.emit1("clamp", [ctx.full(0.0, shape, dt), ad, ctx.full(_LAE_CLAMP, shape, dt)], shape, dt)
    tail = ctx.emit1("log1p", [ctx.emit1("exp", [ctx.emit1("neg", [gap], shape, dt)], shape, dt)], shape, dt)
    return ctx.emit1("add", [top, tail], shape, dt)


def _cut(ctx: Lowering, x: Value, axis: int, start: int, stop: int) -> Value:
    shape = list(x.type.shape)
    lo, hi = [0] * len(shape), list(shape)
    lo[axis], hi[axis] = start, stop
    shape[axis] = stop - start
    return ctx.emit1(
        "slice",
        [x],
        shape,
        x.type.dtype,
        start_indices=tuple(lo),
        limit_indices=tuple(hi),
        strides=(1,) * len(shape),
    )


def _cumlogsumexp(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """Inclusive log-sum-exp scan: a Hillis-Steele scan of logaddexp, ceil(log2 n) levels, each
    one |a - b|, a clamp, exp and log1p on all pairs at once (accurate for any spread of x)."""
    x = ins[0]
    shape, dt = x.type.shape, out_dtype(eqn)
    axis, n = int(eqn.params["axis"]), x.type.shape[int(eqn.params["axis"])]
    reverse = bool(eqn.params.get("reverse", False))
    if dt is not DType.FXP:
        raise UnsupportedOpError("cumlogsumexp", ctx.where(), "cumlogsumexp needs floating-point input")
    if reverse:
        x = ctx.emit1("rev", [x], shape, dt, dimensions=(axis,))
    step = 1
    while step < n:
        comb = _logaddexp(ctx, _cut(ctx, x, axis, step, n), _cut(ctx, x, axis, 0, n - step))
        x = ctx.emit1("concatenate", [_cut(ctx, x, axis, 0, step), comb], shape, dt, dimension=axis)
        step *= 2
    if reverse:
        x = ctx.emit1("rev", [x], shape, dt, dimensions=(axis,))
    return [x]


RULES: dict[str, Rule] = {
    "reduce_sum": _reduce("reduce_sum"),
    "reduce_max": _reduce("reduce_max"),
    "reduce_min": _reduce("reduce_min"),
    "reduce_and": _reduce("reduce_min", bool_only=True),
    "reduce_or": _reduce("reduce_max", bool_only=True),
    "argmax": _arg("argmax"),
    "argmin": _arg("argmin"),
    "cumsum": _cum("cumsum"),
    "cummax": _cum("cummax"),
    "cummin": _cummin,
    "cumlogsumexp": _cumlogsumexp,
}
