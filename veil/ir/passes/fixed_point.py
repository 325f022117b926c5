"""Fixed-point typing: decide where products need a truncation, and make small constant
factors integers so that they need none.

`mul`, `dot_general` and `square` get `trunc_bits = f` (config.fxp_bits) when both operands are
fixed point (the product carries 2f fraction bits) and 0 otherwise (int x fxp and bool x fxp
products are already at scale f). A fixed-point constant factor whose values are all integers
below 2^20 in magnitude (e.g. the 2.0 in `x * 2.0`, possibly broadcast) is replaced by an int
twin, so that product needs no truncation at all. No converts are inserted.
"""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType

__all__ = ["run", "SMALL_INT_BOUND"]

SMALL_INT_BOUND = 2**20
_PRODUCTS = frozenset({"mul", "dot_general"})


def run(program: Program, config: RuntimeConfig) -> Program:
    """Set `trunc_bits` on every product (in place) and record `meta["fxp_bits"]`."""
    f = config.f
    _region(program, program.body, f)
    program.meta["fxp_bits"] = f
    return program


def _region(program: Program, region: Region, f: int) -> None:
    defs = {o.id: op for op in region.ops for o in op.outputs}
    twins: dict[int, Value] = {}
    new_ops: list[Op] = []
    for op in region.ops:
        for r in op.regions:
            _region(program, r, f)
        if op.opcode in _PRODUCTS:
            _use_int_factor(program, op, defs, twins, new_ops)
            a, b = op.inputs
            op.attrs["trunc_bits"] = f if a.type.dtype is DType.FXP and b.type.dtype is DType.FXP else 0
        elif op.opcode == "square":
            op.attrs["trunc_bits"] = f if op.inputs[0].type.dtype is DType.FXP else 0
        new_ops.append(op)
    region.ops = new_ops


def _use_int_factor(
    program: Program, op: Op, defs: dict[int, Op], twins: dict[int, Value], new_ops: list[Op]
) -> None:
    """Swap one fixed-point small-integer constant operand of a fxp x fxp product for an int twin."""
    if any(v.type.dtype is not DType.FXP for v in op.inputs):
        return
    for i, v in enumerate(op.inputs):
        twin = twins.get(v.id) or _int_twin(program, v, defs, new_ops)
        if twin is not None:
            twins[v.id] = twin
            op.inputs[i] = twin
            return


def _small_ints(op: Op | None) -> np.ndarray | None:
    """The value of a fixed-point const op if every element is an integer below the bound."""
    if op is None or op.opcode != "const" or op.outputs[0].type.dtype is not DType.FXP:
        return None
    value = np.asarray(op.attrs["value"], dtype=np.float64)
    if not np.all(np.isfinite(value)) or np.any(np.abs(value) >= SMALL_INT_BOUND):
        return None
    return value.astype(np.int64) if np.all(value == np.trunc(value)) else None


def _int_twin(program: Program, v: Value, defs: dict[int, Op], new_ops: list[Op]) -> Value | None:
    """An int copy of `v` if it is a small-integer fxp const or a broadcast of one, else None."""
    src = defs.get(v.id)
    value = _small_ints(src)
    if value is not None:
        twin = program.new_value(v.type.with_dtype(DType.INT))
        new_ops.append(Op("const", [], [twin], {"value": value}, [], src.loc if src else ""))
        return twin
    if src is None or src.opcode != "broadcast_in_dim":
        return None
    inner = _int_twin(program, src.inputs[0], defs, new_ops)
    if inner is None:
        return None
    twin = program.new_value(v.type.with_dtype(DType.INT))
    new_ops.append(Op("broadcast_in_dim", [inner], [twin], dict(src.attrs), [], src.loc))
    return twin
