"""Dead code elimination: drop ops whose outputs nothing uses (every IR op is pure).

Works backwards through each region and recursively into nested ones. Also drops cond outputs
nobody uses (from every branch), and cond operands and loop/while constants that no region
reads any more.
"""

from __future__ import annotations

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region

__all__ = ["run"]


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Remove dead ops in place; record how many in `meta["dce_removed"]` (cumulative)."""
    removed = _region(program.body)
    program.meta["dce_removed"] = program.meta.get("dce_removed", 0) + removed
    return program


def _region(region: Region) -> int:
    """DCE one region given that its results are live; returns the number of ops removed."""
    live = {v.id for v in region.results}
    kept: list[Op] = []
    removed = 0
    for op in reversed(region.ops):
        if op.opcode == "cond":
            _prune_cond_outputs(op, live)
        if not any(o.id in live for o in op.outputs):
            removed += 1 + sum(1 for r in op.regions for _ in r.walk())
            continue
        for r in op.regions:
            removed += _region(r)
        if op.regions:
            _prune_unused_inputs(op)
        live.update(v.id for v in op.inputs)
        kept.append(op)
    region.ops = kept[::-1]
    return removed


def _prune_cond_outputs(op: Op, live: set[int]) -> None:
    keep = [i for i, o in enumerate(op.outputs) if o.id in live]
    if len(keep) == len(op.outputs):
        return
    op.outputs = [op.outputs[i] for i in keep]
    for branch in op.regions:
        branch.results = [branch.results[i] for i in keep]


def _prune_unused_inputs(op: Op) -> None:
    """Drop operands that no region reads: cond operands, loop/while constants (not carries)."""
    if op.opcode == "cond":
        first_param, first_input = 0, 1
    elif op.opcode == "loop":
        n = op.attrs["n_carries"]
        first_param, first_input = 1 + n, n
    else:  # while: cond and body share the params [*carries, *consts]
        n = op.attrs["n_carries"]
        first_param, first_input = n, n
    uses = [r.use_counts() for r in op.regions]
    n_candidates = len(op.inputs) - first_input
    dead = {
        k
        for k in range(n_candidates)
        if all(u.get(r.params[first_param + k].id, 0) == 0 for u, r in zip(uses, op.regions, strict=True))
    }
    if not dead:
        return
    op.inputs = op.inputs[:first_input] + [v for k, v in enumerate(op.inputs[first_input:]) if k not in dead]
    for r in op.regions:
        head, tail = r.params[:first_param], r.params[first_param:]
        r.params = head + [p for k, p in enumerate(tail) if k not in dead]
