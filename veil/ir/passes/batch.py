"""Round batching: independent elementwise secret ops of one kind run as one `batch` op.

The VM runs ops one after another, so every communicating op costs its own rounds even when
its inputs were ready long before. Two independent `mul`s (or `exp`s, `trunc`s, comparisons...)
with the same attributes and operand types can instead run as one op on the concatenation of
their operands: the same bytes, the rounds of one. This pass gives every op a start level (the
largest number of communicating ops on a path to it), groups batchable ops with equal keys and
levels, and re-orders the region so each group is one `batch` op. Ops on one path always have
different levels, so a group never depends on itself. Runs last, on every region; counts go to
`meta["batched_ops"]` (ops merged away).

On semi2k a product with truncation costs a product round and then a truncation round whether
fused or not, so products (`mul`, `square`, `dot_general`) are first split into an untruncated
product and a `trunc`: truncations of unrelated products then share rounds too. (aby3 fuses the
truncation into the product's round, so there the products stay whole.)
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Hashable

from veil.config import ProtocolKind, RuntimeConfig
from veil.ir.ops import SIGNATURES
from veil.ir.program import Op, Program, Region
from veil.ir.types import Visibility

__all__ = ["run", "BATCHABLE"]

# elementwise ops that communicate on secret inputs; each handler works on any flat shape
BATCHABLE = frozenset(
    {
        "mul", "square", "integer_pow", "trunc", "div", "max", "min",
        "exp", "log", "log1p", "expm1", "reciprocal", "sqrt", "rsqrt", "logistic", "tanh",
        "erf", "sin", "cos", "abs", "sign", "floor", "ceil", "round",
        "lt", "le", "gt", "ge", "eq", "ne",
    }
)  # fmt: skip
# ops that never communicate, whatever their inputs (they add no level)
_LOCAL = frozenset(
    {
        "add", "sub", "neg", "copy", "not", "const", "iota", "reshape", "transpose", "squeeze",
        "broadcast_in_dim", "concatenate", "slice", "pad", "rev", "reduce_sum", "cumsum",
        "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "scatter_add", "is_finite",
    }
)  # fmt: skip


_SPLIT = frozenset({"mul", "square", "dot_general"})


def run(program: Program, config: RuntimeConfig) -> Program:
    """Batch independent ops in place, in every region."""
    split = config.protocol is ProtocolKind.SEMI2K
    merged = _region(program, program.body, split)
    program.meta["batched_ops"] = program.meta.get("batched_ops", 0) + merged
    return program


def _communicates(op: Op) -> bool:
    """True when the op sends messages: some input is secret (or private to different owners),
    except for linear ops; a mul by a public factor communicates only to truncate."""
    if op.opcode in _LOCAL:
        return False
    vis = [v.type for v in op.inputs]
    secret = any(t.vis is Visibility.SECRET for t in vis)
    owners = {t.owner for t in vis if t.vis is Visibility.PRIVATE}
    if op.opcode == "mul" and not secret and len(owners) <= 1:
        return False
    if op.opcode == "mul" and any(t.vis is Visibility.PUBLIC for t in vis):
        return bool(op.attrs.get("trunc_bits"))
    return secret or len(owners) > 1 or bool(op.regions)


def _key(op: Op, level: int) -> Hashable | None:
    """Ops with equal keys can share one batch; None: this op is not batched."""
    if op.opcode not in BATCHABLE or op.regions or len(op.outputs) != 1 or not _communicates(op):
        return None
    try:
        attrs = tuple(sorted((k, v) for k, v in op.attrs.items()))
        hash(attrs)
    except TypeError:
        return None
    types = tuple((v.type.dtype, v.type.vis, v.type.owner) for v in op.inputs)
    out = op.outputs[0].type
    return (op.opcode, attrs, types, out.dtype, out.vis, out.owner, level)


def _split(program: Program, region: Region) -> None:
    """Products with truncation -> untruncated product + `trunc` (see the module docstring)."""
    new_ops: list[Op] = []
    for op in region.ops:
        bits = op.attrs.get("trunc_bits")
        if op.opcode in _SPLIT and bits and _communicates(op):
            out = op.outputs[0]
            raw = program.new_value(out.type)
            new_ops.append(Op(op.opcode, op.inputs, [raw], {**op.attrs, "trunc_bits": 0}, [], op.loc))
            new_ops.append(Op("trunc", [raw], [out], {"bits": int(bits)}, [], op.loc))
        else:
            new_ops.append(op)
    region.ops = new_ops


def _schedules(deps: list[list[int]], weight: list[int]) -> list[list[int]]:
    """Start levels of every op as soon as possible and as late as possible (both valid: a user
    never starts before its input's op finishes). Batching by either is safe; ALAP lines up ops
    whose results are only needed at the end (a training step's parameter updates)."""
    asap: list[int] = []
    for i in range(len(weight)):
        asap.append(max((asap[d] + weight[d] for d in deps[i]), default=0))
    depth = max((a + w for a, w in zip(asap, weight)), default=0)
    users: list[list[int]] = [[] for _ in weight]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    alap = [0] * len(weight)
    for i in reversed(range(len(weight))):
        alap[i] = min((alap[u] for u in users[i]), default=depth) - weight[i]
    return [asap, alap]


def _groups(ops: list[Op], levels: list[int]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, op in enumerate(ops):
        key = _key(op, levels[i])
        if key is not None:
            groups[key].append(i)
    return groups


def _region(program: Program, region: Region, split: bool) -> int:
    merged = sum(_region(program, r, split) for op in region.ops for r in op.regions)
    if split:
        _split(program, region)
    ops = region.ops
    producer: dict[int, int] = {}
    for i, op in enumerate(ops):
        for v in op.outputs:
            producer[v.id] = i
    deps = [sorted({producer[v.id] for v in op.inputs if v.id in producer}) for op in ops]
    weight = [1 if _communicates(op) else 0 for op in ops]
    # the schedule that merges more ops (ASAP on a tie: max keeps the first)
    groups = max(
        (_groups(ops, levels) for levels in _schedules(deps, weight)),
        key=lambda g: sum(len(m) - 1 for m in g.values()),
    )
    node_of = list(range(len(ops)))
    batches = [members for members in groups.values() if len(members) > 1]
    if not batches:
        return merged
    for members in batches:
        for i in members:
            node_of[i] = members[0]
    # topological order of nodes (a batch is one node), earliest original position first
    node_deps: dict[int, set[int]] = defaultdict(set)
    users: dict[int, set[int]] = defaultdict(set)
    for i in range(len(ops)):
        n = node_of[i]
        for d in deps[i]:
            if node_of[d] != n:
                node_deps[n].add(node_of[d])
                users[node_of[d]].add(n)
    nodes = sorted(set(node_of))
    waiting = {n: len(node_deps[n]) for n in nodes}
    ready = [n for n in nodes if waiting[n] == 0]
    heapq.heapify(ready)
    members_of = {m[0]: m for m in batches}
    new_ops: list[Op] = []
    while ready:
        n = heapq.heappop(ready)
        if n in members_of:
            new_ops.append(_batch_op([ops[i] for i in members_of[n]]))
            merged += len(members_of[n]) - 1
        else:
            new_ops.append(ops[n])
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(new_ops) != len(nodes):  # pragma: no cover - levels make cycles impossible
        raise RuntimeError("ir.passes.batch: a batch depends on itself (a bug in the levels)")
    region.ops = new_ops
    return merged


def _batch_op(members: list[Op]) -> Op:
    first = members[0]
    arity = len(first.inputs)
    assert SIGNATURES[first.opcode].n_in in (-1, arity)
    return Op(
        "batch",
        [v for m in members for v in m.inputs],
        [m.outputs[0] for m in members],
        {"op": first.opcode, "arity": arity, "member_attrs": tuple(sorted(first.attrs.items()))},
        [],
        f"{first.loc} (+{len(members) - 1} batched)" if first.loc else f"{len(members)} batched",
    )
