"""Sorting rules: lax.sort (argsort carries an iota operand) and lax.top_k."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veil.dtypes import DType
from veil.errors import UnsupportedOpError
from veil.frontend.rules.common import Rule
from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering


def _sort(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """sort by operands[0], permuting every operand (jnp.sort, jnp.argsort, lax.sort_key_val)."""
    num_keys = int(eqn.params.get("num_keys", 1))
    if num_keys != 1:
        raise UnsupportedOpError(
            "sort",
            ctx.where(),
            f"lexicographic sort on {num_keys} keys: veil sorts by one key; combine the keys into one "
            "(e.g. k1 * scale + k2 for integer keys) and sort by that",
        )
    types = [ctx.joined(ins, v.type.shape, v.type.dtype) for v in ins]
    attrs = {"dimension": int(eqn.params["dimension"]), "num_keys": 1, "descending": False}
    return ctx.emit("sort", ins, types, attrs)


def _top_k(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """lax.top_k: (values, int indices) of the k largest along `axis` (the last one by default)."""
    x = ins[0]
    k = int(eqn.params["k"])
    axis = int(eqn.params.get("axis", -1)) % max(x.type.ndim, 1)
    shape = list(x.type.shape)
    shape[axis] = k
    types = [ctx.joined(ins, shape, x.type.dtype), ctx.joined(ins, shape, DType.INT)]
    return ctx.emit("top_k", ins, types, {"k": k, "axis": axis})


RULES: dict[str, Rule] = {
    "sort": _sort,
    "top_k": _top_k,
}
