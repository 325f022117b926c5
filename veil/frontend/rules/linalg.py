"""Linear algebra rules: dot_general (the preferred element type is dropped: the IR decides)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veil.frontend.avals import ints, out_dtype, out_shape
from veil.frontend.rules.common import Rule
from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering


def _dot_general(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """dot_general with contracting=((lhs),(rhs)) and batch=((lhs),(rhs)) dims, as in lax."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    attrs = {"contracting": (ints(lc), ints(rc)), "batch": (ints(lb), ints(rb))}
    shape = out_shape(eqn)
    t = ctx.joined(ins, shape, out_dtype(eqn))
    return ctx.emit("dot_general", ins, [t], attrs)


RULES: dict[str, Rule] = {"dot_general": _dot_general}
