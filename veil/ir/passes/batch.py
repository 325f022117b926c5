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

Secret x secret `dot_general`s of one level batch too, whatever their shapes: the members'
own attributes (contracting/batch dims) go to the batch op's `each_attrs`, and the VM runs
them with `hal.linalg.dot_general_many` (semi2k: every Beaver opening in one message). A
training step's backward pass has two such products per layer (dW = h^T d, dX = d W^T); with
the Beaver cache on, dX already opens nothing (d and W are cached), so there the gain is in
runs without the cache. Only on `DOT_PROTOCOLS` (see there).

On semi2k 2PC a `trunc` and a fused select+truncation (`select_n {trunc_bits}`, from
veil/ir/passes/defer_trunc.py) share one kind: one `bit_trunc_mixed_s` round runs both (the
truncation written as `select_n(true, 0, x) {trunc_bits}`). Besides the ASAP and ALAP levels, a
third schedule moves ops with slack onto a level their kind already uses (a training step's
weight-gradient truncations onto the backward pass's masked truncations); the schedule that
merges most wins.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from veil.config import ProtocolKind, RuntimeConfig, TruncMode
from veil.ir.ops import LOCAL_OPS, SIGNATURES
from veil.ir.program import Op, Program, Region
from veil.ir.types import DType, TensorType, Visibility

__all__ = ["run", "BATCHABLE"]

# elementwise ops that communicate on secret inputs; each handler works on any flat shape
BATCHABLE = frozenset(
    {
        "mul", "square", "integer_pow", "trunc", "div", "max", "min",
        "exp", "log", "log1p", "expm1", "reciprocal", "sqrt", "rsqrt", "logistic", "tanh",
        "erf", "sin", "cos", "abs", "sign", "floor", "ceil", "round",
        "lt", "le", "gt", "ge", "eq", "ne", "select_n",
    }
)  # fmt: skip


_SPLIT = frozenset({"mul", "square", "dot_general"})
# protocols whose dot_generals batch: semi2k has the one-round `matmul_ss_many` kernel and splits
# products from their truncations; aby3 (a product per round, truncation inside) measured worse
DOT_PROTOCOLS = frozenset({ProtocolKind.SEMI2K})


@dataclass(frozen=True)
class _Options:
    split: bool  # split truncating products into raw product + trunc (semi2k)
    dots: bool  # batch secret x secret dot_generals
    mix_truncs: bool  # truncations and fused select+truncations share a round (semi2k 2PC)


def run(program: Program, config: RuntimeConfig) -> Program:
    """Batch independent ops in place, in every region."""
    semi2k = config.protocol is ProtocolKind.SEMI2K
    opts = _Options(
        split=semi2k,
        dots=config.protocol in DOT_PROTOCOLS,
        mix_truncs=semi2k and config.world_size == 2 and config.trunc is TruncMode.PROBABILISTIC,
    )
    merged = _region(program, program.body, opts)
    program.meta["batched_ops"] = program.meta.get("batched_ops", 0) + merged
    return program


def _communicates(op: Op) -> bool:
    """True when the op sends messages: some input is secret (or private to different owners),
    except for linear ops; a mul by a public factor communicates only to truncate."""
    if op.opcode in LOCAL_OPS:
        return False
    vis = [v.type for v in op.inputs]
    secret = any(t.vis is Visibility.SECRET for t in vis)
    owners = {t.owner for t in vis if t.vis is Visibility.PRIVATE}
    if op.opcode == "mul" and not secret and len(owners) <= 1:
        return False
    if op.opcode == "mul" and any(t.vis is Visibility.PUBLIC for t in vis):
        return bool(op.attrs.get("trunc_bits"))
    return secret or len(owners) > 1 or bool(op.regions)


def _key(op: Op, level: int, opts: _Options) -> Hashable | None:
    """Ops with equal keys can share one batch; None: this op is not batched."""
    if op.opcode == "dot_general":
        return _dot_key(op, level) if opts.dots else None
    if op.opcode not in BATCHABLE or op.regions or len(op.outputs) != 1 or not _communicates(op):
        return None
    bits = _trunc_class(op) if opts.mix_truncs else 0
    if bits:  # a trunc and a select_n {trunc_bits} run as one bit_trunc_mixed_s call
        return ("trunc_select", bits, op.outputs[0].type.dtype, level)
    try:
        attrs = tuple(sorted((k, v) for k, v in op.attrs.items()))
        hash(attrs)
    except TypeError:
        return None
    # a square joins the products of its level as mul(x, x): one round, 8 more bytes per element
    ins, opcode = (op.inputs * 2, "mul") if op.opcode == "square" else (op.inputs, op.opcode)
    types = tuple((v.type.dtype, v.type.vis, v.type.owner) for v in ins)
    out = op.outputs[0].type
    return (opcode, attrs, types, out.dtype, out.vis, out.owner, level)


def _trunc_class(op: Op) -> int:
    """Bits of a truncation (`trunc`) or fused select+truncation (2-case `select_n` with
    `trunc_bits`, see veil/ir/passes/defer_trunc.py); 0 for other ops."""
    if op.opcode == "trunc":
        return int(op.attrs["bits"])
    if op.opcode == "select_n" and len(op.inputs) == 3:
        return int(op.attrs.get("trunc_bits") or 0)
    return 0


def _dot_key(op: Op, level: int) -> Hashable | None:
    """Secret x secret dot_generals of one level batch whatever their shapes and dims (each
    member keeps its own attributes in `each_attrs`); other products are local or rare."""
    if any(v.type.vis is not Visibility.SECRET for v in op.inputs):
        return None
    types = tuple(v.type.dtype for v in op.inputs)
    return ("dot_general", types, op.outputs[0].type.dtype, level)


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


def _slack_levels(ops: list[Op], deps: list[list[int]], weight: list[int], opts: _Options) -> list[int]:
    """Start levels that line up ops with slack with ops of their kind: an op whose window
    [earliest start after its placed inputs, ALAP] holds a level already used by its kind
    (ops without slack first, then earlier placements) starts there, else as soon as possible.
    Every level stays <= ALAP, so every later op still has a valid window."""
    asap, alap = _schedules(deps, weight)
    kinds = [_key(op, 0, opts) for op in ops]
    taken: dict[Hashable, set[int]] = defaultdict(set)
    for i, kind in enumerate(kinds):
        if kind is not None and asap[i] == alap[i]:
            taken[kind].add(asap[i])
    levels: list[int] = []
    for i, kind in enumerate(kinds):
        earliest = max((levels[d] + weight[d] for d in deps[i]), default=0)
        fits = (
            sorted(lv for lv in taken.get(kind, ()) if earliest <= lv <= alap[i]) if kind is not None else []
        )
        levels.append(fits[0] if fits else earliest)
        if kind is not None:
            taken[kind].add(levels[i])
    return levels


def _groups(ops: list[Op], levels: list[int], opts: _Options) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, op in enumerate(ops):
        key = _key(op, levels[i], opts)
        if key is not None:
            groups[key].append(i)
    return groups


def _region(program: Program, region: Region, opts: _Options) -> int:
    merged = sum(_region(program, r, opts) for op in region.ops for r in op.regions)
    if opts.split:
        _split(program, region)
    ops = region.ops
    producer: dict[int, int] = {}
    for i, op in enumerate(ops):
        for v in op.outputs:
            producer[v.id] = i
    deps = [sorted({producer[v.id] for v in op.inputs if v.id in producer}) for op in ops]
    weight = [1 if _communicates(op) else 0 for op in ops]
    # the schedule that merges more ops (the first on a tie: max keeps it)
    schedules = [*_schedules(deps, weight), _slack_levels(ops, deps, weight, opts)]
    groups = max(
        (_groups(ops, levels, opts) for levels in schedules),
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
    emitted = 0
    while ready:
        n = heapq.heappop(ready)
        emitted += 1
        if n in members_of:
            new_ops.extend(_batch_ops(program, [ops[i] for i in members_of[n]]))
            merged += len(members_of[n]) - 1
        else:
            new_ops.append(ops[n])
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if emitted != len(nodes):  # pragma: no cover - levels make cycles impossible
        raise RuntimeError("ir.passes.batch: a batch depends on itself (a bug in the levels)")
    region.ops = new_ops
    return merged


def _batch_ops(program: Program, members: list[Op]) -> list[Op]:
    """The batch op of a group, after the consts it needs: in a group that mixes truncations
    with fused selects, trunc(x) becomes select_n(true, 0, x) {trunc_bits}, the same value; in
    one that mixes products with squares, square(x) becomes mul(x, x)."""
    if len({m.opcode for m in members}) == 1:
        return [_batch_op(members)]
    if {m.opcode for m in members} == {"mul", "square"}:
        return [
            _batch_op(
                [
                    Op("mul", m.inputs * 2, m.outputs, m.attrs, [], m.loc) if m.opcode == "square" else m
                    for m in members
                ]
            )
        ]
    consts: list[Op] = []
    uniform = []
    for m in members:
        if m.opcode == "select_n":
            uniform.append(m)
            continue
        x, out = m.inputs[0], m.outputs[0]
        true = program.new_value(TensorType((), DType.BOOL, Visibility.PUBLIC))
        zero0 = program.new_value(TensorType((), DType.INT, Visibility.PUBLIC))
        zero = program.new_value(TensorType(out.type.shape, DType.INT, Visibility.PUBLIC))
        consts += [
            Op("const", [], [true], {"value": np.array(True)}, [], m.loc),
            Op("const", [], [zero0], {"value": np.array(0, np.int64)}, [], m.loc),
            Op(
                "broadcast_in_dim",
                [zero0],
                [zero],
                {"shape": out.type.shape, "broadcast_dimensions": ()},
                [],
                m.loc,
            ),
        ]
        uniform.append(Op("select_n", [true, zero, x], [out], {"trunc_bits": m.attrs["bits"]}, [], m.loc))
    return [*consts, _batch_op(uniform)]


def _batch_op(members: list[Op]) -> Op:
    first = members[0]
    arity = len(first.inputs)
    assert SIGNATURES[first.opcode].n_in in (-1, arity)
    attrs = {"op": first.opcode, "arity": arity, "member_attrs": tuple(sorted(first.attrs.items()))}
    if first.opcode == "dot_general":  # members differ in dims: each keeps its own attributes
        attrs["each_attrs"] = tuple(tuple(sorted(m.attrs.items())) for m in members)
    return Op(
        "batch",
        [v for m in members for v in m.inputs],
        [m.outputs[0] for m in members],
        attrs,
        [],
        f"{first.loc} (+{len(members) - 1} batched)" if first.loc else f"{len(members)} batched",
    )
