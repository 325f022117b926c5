"""Indexing rules: dynamic_slice, dynamic_update_slice, gather, scatter, scatter-add.

Dimension numbers and modes become plain dicts and strings so the IR stays plain data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veil.errors import UnsupportedOpError
from veil.frontend.avals import ints, out_dtype, out_shape
from veil.frontend.rules.common import Rule
from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering

_GATHER_FIELDS = (
    "offset_dims", "collapsed_slice_dims", "start_index_map", "operand_batching_dims",
    "start_indices_batching_dims",
)  # fmt: skip
_SCATTER_FIELDS = (
    "update_window_dims", "inserted_window_dims", "scatter_dims_to_operand_dims",
    "operand_batching_dims", "scatter_indices_batching_dims",
)  # fmt: skip
_MODES = {"CLIP": "clip", "FILL_OR_DROP": "fill", "PROMISE_IN_BOUNDS": "promise_in_bounds"}


def _mode(ctx: Lowering, mode: Any) -> str:
    """GatherScatterMode -> 'clip' | 'fill' | 'promise_in_bounds'."""
    name = getattr(mode, "name", None) or str(mode).rsplit(".", 1)[-1]
    if name.upper() not in _MODES:
        raise UnsupportedOpError(f"gather/scatter mode {name}", ctx.where(), "use mode='clip' or 'fill'")
    return _MODES[name.upper()]


def _dnums(dn: Any, fields: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    return {f: ints(getattr(dn, f, ())) for f in fields}


def _dynamic_slice(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """dynamic_slice(operand, *starts); starts are scalars (public in well-formed programs)."""
    sizes = ints(eqn.params["slice_sizes"])
    return [ctx.emit1("dynamic_slice", ins, out_shape(eqn), out_dtype(eqn), slice_sizes=sizes)]


def _dynamic_update_slice(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """dynamic_update_slice(operand, update, *starts)."""
    return [ctx.emit1("dynamic_update_slice", ins, out_shape(eqn), out_dtype(eqn))]


def _gather(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    p = eqn.params
    fill = p.get("fill_value")
    attrs = {
        "dimension_numbers": _dnums(p["dimension_numbers"], _GATHER_FIELDS),
        "slice_sizes": ints(p["slice_sizes"]),
        "mode": _mode(ctx, p["mode"]),
        "fill_value": None if fill is None else float(fill),
    }
    return [ctx.emit1("gather", ins, out_shape(eqn), out_dtype(eqn), **attrs)]


def _scatter(opcode: str) -> Rule:
    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        p = eqn.params
        attrs = {
            "dimension_numbers": _dnums(p["dimension_numbers"], _SCATTER_FIELDS),
            "mode": _mode(ctx, p["mode"]),
        }
        return [ctx.emit1(opcode, ins, out_shape(eqn), out_dtype(eqn), **attrs)]

    return rule


RULES: dict[str, Rule] = {
    "dynamic_slice": _dynamic_slice,
    "dynamic_update_slice": _dynamic_update_slice,
    "gather": _gather,
    "scatter": _scatter("scatter"),
    "scatter-add": _scatter("scatter_add"),
    "scatter_add": _scatter("scatter_add"),
}
