"""Reassociation of product chains: the operand that is ready last is multiplied last.

`(a * b) * c` with b the output of a long secret computation (an rsqrt, a tanh) and a, c ready
early costs two product rounds after b. `(a * c) * b` computes a * c while b is still being
computed and costs one. LayerNorm's `(x - mean) * rsqrt(var) * gamma` and the tanh GeLU's
`0.5 * x * (1 + tanh(...))` are such chains (each saves a product and a truncation round per use);
so is the logistic-regression gradient `-(r^2 * g) * e` (looked through one negation).

Readiness is estimated in rounds: a path's cost summed over communicating ops (products 2,
truncating public products 1, sign tests 4, nonlinear functions 12, anything else secret 2;
local ops 0). The rewrite applies to elementwise fxp `mul`s whose inner product has no other
use, only when `a * c` is ready before b, so it never lengthens the critical path. Runs after
the algebraic rewrites and before fixed-point typing (which then sets `trunc_bits` of the new products). Counts go to
`meta["reassociated"]`.
"""

from __future__ import annotations

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region
from veil.ir.types import DType, TensorType, Visibility, join_vis

__all__ = ["run"]

_LOCAL = frozenset(
    {
        "add", "sub", "neg", "copy", "const", "iota", "reshape", "transpose", "squeeze", "convert",
        "broadcast_in_dim", "concatenate", "slice", "pad", "rev", "reduce_sum", "cumsum",
        "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "scatter_add", "is_finite",
    }
)  # fmt: skip
_PRODUCTS = frozenset({"mul", "dot_general", "square", "integer_pow"})
_COMPARES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "max", "min", "select_n", "abs", "sign"})


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Reassociate in place, in every region."""
    program.meta["reassociated"] = program.meta.get("reassociated", 0) + _region(program, program.body)
    return program


def _cost(op: Op) -> int:
    """Estimated rounds of one op (0 when it cannot communicate)."""
    secret = [v.type.vis is not Visibility.PUBLIC for v in op.inputs]
    if op.opcode in _LOCAL or op.regions or not any(secret):
        return 0
    if op.opcode in _PRODUCTS:
        return 2 if sum(secret) > 1 or op.opcode in ("square", "integer_pow") else 1
    if op.opcode in _COMPARES:
        return 4
    return 12 if len(op.inputs) <= 2 else 2


def _region(program: Program, region: Region) -> int:
    count = sum(_region(program, r) for op in region.ops for r in op.regions)
    uses = region.use_counts()
    producer: dict[int, Op] = {}
    ready: dict[int, int] = {}  # value id -> estimated rounds until it is available
    new_ops: list[Op] = []
    for op in region.ops:
        swapped = _swap(program, op, producer, ready, uses)
        for o in swapped or [op]:
            start = max((ready.get(v.id, 0) for v in o.inputs), default=0)
            for v in o.outputs:
                ready[v.id] = start + _cost(o)
                producer[v.id] = o
        count += swapped is not None
        new_ops.extend(swapped or [op])  # the old inner product is dead now: DCE drops it
    region.ops = new_ops
    return count


def _fxp_mul(op: Op | None) -> bool:
    return (
        op is not None
        and op.opcode == "mul"
        and len(op.inputs) == 2
        and all(v.type.dtype is DType.FXP for v in [*op.inputs, *op.outputs])
    )


def _swap(
    program: Program, op: Op, producer: dict[int, Op], ready: dict[int, int], uses: dict[int, int]
) -> list[Op] | None:
    """[a * c, (a * c) * b] replacing outer = (a * b) * c with b late (also through one negation
    of the inner product: -(a * b) * c -> -((a * c) * b)), or None."""
    if not _fxp_mul(op):
        return None
    for k in (0, 1):
        inner_v, c = op.inputs[k], op.inputs[1 - k]
        inner, negate = producer.get(inner_v.id), False
        if inner is not None and inner.opcode == "neg" and uses.get(inner_v.id, 0) == 1:
            inner_v, inner, negate = inner.inputs[0], producer.get(inner.inputs[0].id), True
        if not _fxp_mul(inner) or uses.get(inner_v.id, 0) != 1 or c.id in (inner_v.id, op.inputs[k].id):
            continue
        for j in (0, 1):
            a, b = inner.inputs[j], inner.inputs[1 - j]
            early = max(ready.get(a.id, 0), ready.get(c.id, 0))
            if early + _cost(Op("mul", [a, c], [inner_v], {}, [], inner.loc)) > ready.get(b.id, 0) - 1:
                continue
            vis, owner = join_vis(a.type, c.type)
            ac = program.new_value(TensorType(inner_v.type.shape, DType.FXP, vis, owner))
            out = op.outputs[0]
            prod = program.new_value(out.type) if negate else out
            ops = [Op("mul", [a, c], [ac], {}, [], inner.loc), Op("mul", [ac, b], [prod], {}, [], op.loc)]
            return ops + ([Op("neg", [prod], [out], {}, [], op.loc)] if negate else [])
    return None
