"""Reassociation of product chains: operands are multiplied in the order they become ready.

`(a * b) * c` with b the output of a long secret computation (an rsqrt, a tanh) and a, c ready
early costs two product rounds after b; `(a * c) * b` computes a * c while b is still being
computed (or in a batch with other early ops) and costs one after b. LayerNorm's
`(x - mean) * rsqrt(var) * gamma`, the tanh GeLU's `0.5 * x * (1 + tanh(...))` and the
logistic-regression gradient are such chains.

Two rewrites, on elementwise fxp ops whose intermediate results have no other use:
- factoring: `l * a + l * b` (either product possibly negated, or `-`) -> `l * (a +- b)`: one
  product instead of two, and `l` joins the product tree it feeds;
- rebuilding: a maximal tree of products (through negations) is rebuilt by multiplying the two
  earliest-ready operands first (Huffman order), if that makes its result ready sooner.
Readiness is estimated in rounds: a path's cost summed over communicating ops (products 2,
truncating public products 1, sign tests 4, nonlinear functions 12, anything else secret 2;
local ops 0). Runs after the algebraic rewrites and before fixed-point typing (which sets the
new products' `trunc_bits`). Counts go to `meta["reassociated"]`.
"""

from __future__ import annotations

import heapq

from veil.config import RuntimeConfig
from veil.ir.ops import LOCAL_OPS
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility, join_vis

__all__ = ["run"]

_PRODUCTS = frozenset({"mul", "dot_general", "square", "integer_pow"})
_COMPARES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "max", "min", "select_n", "abs", "sign"})


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Reassociate in place, in every region."""
    program.meta["reassociated"] = program.meta.get("reassociated", 0) + _region(program, program.body)
    return program


def _cost(op: Op) -> int:
    """Estimated rounds of one op (0 when it cannot communicate)."""
    secret = [v.type.vis is not Visibility.PUBLIC for v in op.inputs]
    if op.opcode in LOCAL_OPS or op.regions or not any(secret):
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
    factored: list[Op] = []
    for op in region.ops:  # first: l * a + l * b -> l * (a + b)
        rewritten = _factor(program, op, producer, uses)
        count += rewritten is not None
        for o in rewritten or [op]:
            factored.append(o)
            producer.update((v.id, o) for v in o.outputs)
    uses = Region(region.params, factored, region.results).use_counts()
    ready = _ready_times(factored)
    parent_is_product = {v.id for op in factored if _fxp_mul(op) for v in op.inputs}
    new_ops: list[Op] = []
    for op in factored:  # then: rebuild each maximal product tree, earliest operands first
        root = _fxp_mul(op) and not (
            op.outputs[0].id in parent_is_product and uses.get(op.outputs[0].id) == 1
        )
        rebuilt = _rebuild(program, op, producer, ready, uses) if root else None
        count += rebuilt is not None
        new_ops.extend(rebuilt or [op])  # the old inner products are dead now: DCE drops them
    region.ops = new_ops
    return count


def _ready_times(ops: list[Op]) -> dict[int, int]:
    ready: dict[int, int] = {}  # value id -> estimated rounds until it is available
    for op in ops:
        start = max((ready.get(v.id, 0) for v in op.inputs), default=0)
        ready.update((v.id, start + _cost(op)) for v in op.outputs)
    return ready


def _leaves(v: Value, producer: dict[int, Op], uses: dict[int, int], top: bool) -> tuple[list[Value], bool]:
    """Operands of the product tree below v (through single-use products and negations), and
    whether an odd number of negations was crossed."""
    if not top:
        signed = _signed_product(v, producer, uses)
        if signed is None:
            return [v], False
        op, negate = signed
    else:
        op, negate = producer[v.id], False
    leaves: list[Value] = []
    for x in op.inputs:
        sub, neg = _leaves(x, producer, uses, False)
        leaves += sub
        negate ^= neg
    return leaves, negate


def _rebuild(
    program: Program, root: Op, producer: dict[int, Op], ready: dict[int, int], uses: dict[int, int]
) -> list[Op] | None:
    """The tree rooted at `root` as products of the two earliest-ready operands first (Huffman
    order), when that makes the root ready sooner; None otherwise."""
    leaves, negate = _leaves(root.outputs[0], producer, uses, True)
    if len(leaves) < 3:
        return None
    out = root.outputs[0]
    heap = [(ready.get(v.id, 0), i, v) for i, v in enumerate(leaves)]
    heapq.heapify(heap)
    ops: list[Op] = []
    while len(heap) > 1:
        (ra, _, a), (rb, _, b) = heapq.heappop(heap), heapq.heappop(heap)
        last = not heap
        vis, owner = join_vis(a.type, b.type)
        v = (
            out
            if last and not negate
            else program.new_value(TensorType(out.type.shape, DType.FXP, vis, owner))
        )
        op = Op("mul", [a, b], [v], {}, [], root.loc)
        ops.append(op)
        heapq.heappush(heap, (max(ra, rb) + _cost(op), len(leaves) + len(ops), v))
    if negate:
        ops.append(Op("neg", [ops[-1].outputs[0]], [out], {}, [], root.loc))
    if heap[0][0] >= ready.get(out.id, 0):
        return None  # no earlier than the program's own order: keep it
    return ops


def _signed_product(v: Value, producer: dict[int, Op], uses: dict[int, int]) -> tuple[Op, bool] | None:
    """(fxp mul, negated) when v is a single-use product, or the single-use negation of one."""
    op = producer.get(v.id)
    negate = False
    if op is not None and op.opcode == "neg" and uses.get(v.id, 0) == 1:
        v, op, negate = op.inputs[0], producer.get(op.inputs[0].id), True
    return (op, negate) if _fxp_mul(op) and uses.get(v.id, 0) == 1 else None


def _factor(program: Program, op: Op, producer: dict[int, Op], uses: dict[int, int]) -> list[Op] | None:
    """[+-a +- b, l * that] replacing (+-l * a) + (+-l * b) (or -): one product instead of two,
    and `l * (a + b)` can then be reassociated like any product."""
    if op.opcode not in ("add", "sub") or op.outputs[0].type.dtype is not DType.FXP:
        return None
    sides = [_signed_product(v, producer, uses) for v in op.inputs]
    if sides[0] is None or sides[1] is None or sides[0][0] is sides[1][0]:
        return None
    (p, neg_p), (q, neg_q) = sides
    neg_q ^= op.opcode == "sub"
    common = {v.id for v in p.inputs} & {v.id for v in q.inputs}
    if len(common) != 1:
        return None
    (lid,) = common
    late = next(v for v in p.inputs if v.id == lid)
    a = next(v for v in p.inputs if v.id != lid) if p.inputs[0].id != p.inputs[1].id else late
    b = next(v for v in q.inputs if v.id != lid) if q.inputs[0].id != q.inputs[1].id else late
    vis, owner = join_vis(a.type, b.type)
    d = program.new_value(TensorType(op.outputs[0].type.shape, DType.FXP, vis, owner))
    out = op.outputs[0]
    if neg_p and neg_q:  # -(l a) - (l b) = l * -(a + b)
        s = program.new_value(d.type)
        return [Op("add", [a, b], [s], {}, [], op.loc), Op("neg", [s], [d], {}, [], op.loc),
                Op("mul", [late, d], [out], {}, [], op.loc)]  # fmt: skip
    combine = (
        Op("sub", [b, a] if neg_p else [a, b], [d], {}, [], op.loc)
        if neg_p or neg_q
        else Op("add", [a, b], [d], {}, [], op.loc)
    )
    return [combine, Op("mul", [late, d], [out], {}, [], op.loc)]


def _fxp_mul(op: Op | None) -> bool:
    return (
        op is not None
        and op.opcode == "mul"
        and len(op.inputs) == 2
        and all(v.type.dtype is DType.FXP for v in [*op.inputs, *op.outputs])
    )
