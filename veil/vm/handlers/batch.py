"""Handler of `batch`: the members' operands are flattened and concatenated per position, the
member op runs once on them (one kernel call, the rounds of one op), and the result is split.

Members whose runtime fixed-point formats differ in a position (an untruncated product next
to a truncated one) cannot share one call; they run one by one, on every party alike.
dot_general members differ in shapes and dims (attributes in `each_attrs`): they run through
`hal.linalg.dot_general_many`, which sends their Beaver openings together. select_n members with
`trunc_bits` (fused selects, and truncations written as selects by the batch pass) run through
`hal.compare.select_trunc_many`: one `bit_trunc_mixed_s` round on semi2k 2PC.
"""

from __future__ import annotations

from typing import Any

from veil.hal.compare import select_trunc_many
from veil.hal.layout import concat_flat, split_flat
from veil.hal.linalg import Dot, dot_general_many
from veil.hal.value import Value
from veil.ir.program import Op
from veil.ir.program import Value as IRValue
from veil.ir.types import TensorType


def _member(op: Op, ins: list[IRValue], out: IRValue) -> Op:
    return Op(op.attrs["op"], ins, [out], dict(op.attrs["member_attrs"]), [], op.loc)


def _flat(v: IRValue, n: int) -> IRValue:
    t = v.type
    return IRValue(-1, TensorType((n,), t.dtype, t.vis, t.owner))


def _dots(m: Any, op: Op, args: list[Value]) -> list[Value]:
    """A batch of dot_generals: each member with its own attributes, run together."""
    dots = []
    for i, each in enumerate(op.attrs["each_attrs"]):
        a = dict(each)
        dots.append(
            Dot(args[2 * i], args[2 * i + 1], a["contracting"], a.get("batch", ((), ())), a.get("trunc_bits"))
        )
    return dot_general_many(m.ctx, dots)


def _batch(m: Any, op: Op, args: list[Value]) -> list[Value]:
    from veil.vm.dispatch import lookup  # dispatch imports the handler modules

    if op.attrs["op"] == "dot_general":
        return _dots(m, op, args)
    arity, n = op.attrs["arity"], len(op.outputs)
    rows = [args[i * arity : (i + 1) * arity] for i in range(n)]
    bits = dict(op.attrs["member_attrs"]).get("trunc_bits")
    if op.attrs["op"] == "select_n" and bits:  # fused selects and plain truncations, one round
        return select_trunc_many(m.ctx, [(r[0], r[2], r[1]) for r in rows], int(bits))
    ir_rows = [op.inputs[i * arity : (i + 1) * arity] for i in range(n)]
    members = [_member(op, ir_rows[i], op.outputs[i]) for i in range(n)]
    handler = lookup(members[0])
    cols = [[row[j] for row in rows] for j in range(arity)]
    uniform = all(
        len({(v.fxp_bits, v.dtype, v.vis, v.owner) for v in col}) == 1
        and all(v.shape == o.type.shape for v, o in zip(col, op.outputs))
        for col in cols
    )
    if not uniform:
        return [handler(m, mem, list(row))[0] for mem, row in zip(members, rows)]
    total = sum(o.type.size for o in op.outputs)
    flat_ins = [concat_flat(col) for col in cols]
    synthetic = _member(op, [_flat(v, total) for v in ir_rows[0]], _flat(op.outputs[0], total))
    (out,) = handler(m, synthetic, flat_ins)
    return split_flat(out, [_like(o) for o in op.outputs])


def _like(v: IRValue) -> Value:
    t = v.type
    return Value(tuple(t.shape), t.dtype, t.vis, 0, None, t.owner)


HANDLERS = {"batch": _batch}
