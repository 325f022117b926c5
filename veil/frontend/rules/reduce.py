"""Reduction and scan-like rules: sums, max/min, and/or, argmax/argmin, cumsum/cummax/cummin."""

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
}
