"""Algebraic rewrites that let CSE share expensive secret reciprocals.

Secret division and reciprocal cost ~16-18 rounds each, and JAX gradients produce them in
related forms: sigmoid's forward pass has `1 / u` and its derivative `1 / u**2`. Rewrites, for a
SECRET fxp denominator u:
- `div(c, u)` with a uniform public constant c -> `reciprocal(u)` (c = 1), `neg(reciprocal(u))`
  (c = -1), or `mul(reciprocal(u), c)`;
- `reciprocal(square(u))` -> `square(reciprocal(u))`, and likewise for `integer_pow(u, n)`.
Afterwards CSE merges the identical `reciprocal(u)` ops.

Comparisons cost a sign test (3-4 rounds) each, and `jax.nn.relu`'s derivative compares the
same x as its forward `max(x, 0)`. For a secret x and a public c, `max(x, c)` ->
`select_n(gt(x, c), c, x)` and `min(x, c)` -> `select_n(lt(x, c), c, x)`: the same cost alone
(one sign test, one product), and CSE then shares the comparison with the derivative's `gt`
(an MLP layer saves one sign test per step). Counts go to meta["algebraic_rewrites"].
"""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.dtypes import DType, Visibility
from veil.ir.program import Op, Program, Region, Value

__all__ = ["run"]


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Rewrite in place; count rewrites in `meta["algebraic_rewrites"]`."""
    count = _region(program, program.body)
    program.meta["algebraic_rewrites"] = program.meta.get("algebraic_rewrites", 0) + count
    return program


def _secret_fxp(v: Value) -> bool:
    return v.type.vis is Visibility.SECRET and v.type.dtype is DType.FXP


def _uniform_const(producer: dict[int, Op], v: Value) -> float | None:
    op = producer.get(v.id)
    if op is None or op.opcode != "const":
        return None
    value = np.asarray(op.attrs["value"], dtype=np.float64)
    if value.size == 0 or not np.all(value == value.flat[0]):
        return None
    return float(value.flat[0])


def _region(program: Program, region: Region) -> int:
    producer: dict[int, Op] = {}
    new_ops: list[Op] = []
    count = 0
    for op in region.ops:
        for r in op.regions:
            count += _region(program, r)
        rewritten = _rewrite(program, op, producer)
        if rewritten is not None:
            count += 1
            new_ops.extend(rewritten)
        else:
            new_ops.append(op)
        for o in new_ops[-1 if rewritten is None else -len(rewritten) :]:
            for out in o.outputs:
                producer[out.id] = o
    region.ops = new_ops
    return count


def _select_form(program: Program, op: Op) -> list[Op] | None:
    """max/min of a secret and a public value as a comparison and a select (see the docstring)."""
    a, b = op.inputs
    if b.type.vis is not Visibility.PUBLIC:
        a, b = b, a
    if (
        b.type.vis is not Visibility.PUBLIC
        or a.type.vis is not Visibility.SECRET
        or a.type.shape != b.type.shape
    ):
        return None
    if a.type.dtype is DType.BOOL or a.type.dtype is not b.type.dtype:
        return None
    pred = program.new_value(a.type.with_dtype(DType.BOOL))
    cmp = "gt" if op.opcode == "max" else "lt"
    return [
        Op(cmp, [a, b], [pred], {}, [], op.loc),
        Op("select_n", [pred, b, a], [op.outputs[0]], {}, [], op.loc),
    ]


def _rewrite(program: Program, op: Op, producer: dict[int, Op]) -> list[Op] | None:
    """The replacement ops for `op` (its output Value is kept), or None to keep it."""
    out = op.outputs[0] if op.outputs else None
    if op.opcode in ("max", "min"):
        return _select_form(program, op)
    if op.opcode == "div" and _secret_fxp(op.inputs[1]) and op.inputs[0].type.dtype is DType.FXP:
        c = _uniform_const(producer, op.inputs[0])
        if c is None:
            return None
        denom = op.inputs[1]
        if c == 1.0:
            return [Op("reciprocal", [denom], [out], {}, [], op.loc)]
        recip = program.new_value(denom.type)
        first = Op("reciprocal", [denom], [recip], {}, [], op.loc)
        if c == -1.0:
            return [first, Op("neg", [recip], [out], {}, [], op.loc)]
        return [first, Op("mul", [recip, op.inputs[0]], [out], {}, [], op.loc)]
    if op.opcode == "reciprocal" and _secret_fxp(op.inputs[0]):
        inner = producer.get(op.inputs[0].id)
        if inner is None or inner.opcode not in ("square", "integer_pow"):
            return None
        base = inner.inputs[0]
        if not _secret_fxp(base) or (inner.opcode == "integer_pow" and int(inner.attrs["y"]) < 1):
            return None
        recip = program.new_value(base.type)
        attrs = {"y": inner.attrs["y"]} if inner.opcode == "integer_pow" else {}
        return [
            Op("reciprocal", [base], [recip], {}, [], op.loc),
            Op(inner.opcode, [recip], [out], attrs, [], op.loc),
        ]
    return None
