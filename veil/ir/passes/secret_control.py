"""Control flow on secret data: a secret `cond` becomes both branches plus selects; a secret
`while` is a compile error.

MPC parties cannot branch on a value none of them knows, so a `cond` whose predicate is secret
(or private to one party) runs every branch and combines the outputs with
`select_n(index, *branch_outputs)` (for a bool predicate: `select_n(pred, false_out, true_out)`).
A `while` loop's trip count would reveal its predicate, so a non-public predicate is rejected
with the fix. Run after the visibility pass (it reads visibilities) and rerun it afterwards.
"""

from __future__ import annotations

from veil.config import RuntimeConfig
from veil.errors import CompileError
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import Visibility, join_vis

__all__ = ["run"]


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Inline every cond with a non-public predicate; reject whiles with one (in place)."""
    _region(program, program.body)
    return program


def _region(program: Program, region: Region) -> None:
    """Rewrite `region` bottom-up: nested regions first, so inner secret conds inline first."""
    mapping: dict[int, Value] = {}
    new_ops: list[Op] = []
    for op in region.ops:
        op.inputs = [mapping.get(v.id, v) for v in op.inputs]
        for r in op.regions:
            _region(program, r)
        if op.opcode == "while":
            _check_while(op)
        if op.opcode == "cond" and op.inputs[0].type.vis is not Visibility.PUBLIC:
            new_ops += _inline(program, op, mapping)
        else:
            new_ops.append(op)
    region.ops = new_ops
    region.results = [mapping.get(v.id, v) for v in region.results]


def _check_while(op: Op) -> None:
    pred = op.regions[0].results[0]
    if pred.type.vis is not Visibility.PUBLIC:
        raise CompileError(
            f"while_loop with a secret predicate (at {op.loc or '<unknown loc>'}): veil cannot branch on "
            "secret data; make the trip count public (e.g. lax.fori_loop with Python int bounds) or "
            "compute a fixed number of iterations and select the result"
        )


def _inline(program: Program, op: Op, mapping: dict[int, Value]) -> list[Op]:
    """The ops of every branch, then one select per output. Outputs that every branch computes
    as the same value are substituted through `mapping` instead of selected."""
    index, operands = op.inputs[0], op.inputs[1:]
    ops: list[Op] = []
    results: list[list[Value]] = []
    for branch in op.regions:
        subst = {p.id: v for p, v in zip(branch.params, operands, strict=True)}
        for bop in branch.ops:
            bop.inputs = [subst.get(v.id, v) for v in bop.inputs]
            bop.loc = bop.loc or op.loc
            ops.append(bop)
        results.append([subst.get(v.id, v) for v in branch.results])
    selectors: dict[tuple[int, ...], Value] = {}
    for i, out in enumerate(op.outputs):
        cases = [res[i] for res in results]
        if all(c is cases[0] for c in cases):
            mapping[out.id] = cases[0]
            continue
        which = _selector(program, index, out.type.shape, selectors, ops, op.loc)
        out.type = out.type.with_vis(*join_vis(index.type, *(c.type for c in cases)))
        ops.append(Op("select_n", [which, *cases], [out], {}, [], op.loc))
    return ops


def _selector(
    program: Program,
    index: Value,
    shape: tuple[int, ...],
    cache: dict[tuple[int, ...], Value],
    ops: list[Op],
    loc: str,
) -> Value:
    """`index` broadcast to `shape` (one broadcast per shape), so selects are elementwise."""
    if shape == ():
        return index
    if shape not in cache:
        which = program.new_value(index.type.with_shape(shape))
        attrs = {"shape": shape, "broadcast_dimensions": ()}
        ops.append(Op("broadcast_in_dim", [index], [which], attrs, [], loc))
        cache[shape] = which
    return cache[shape]
