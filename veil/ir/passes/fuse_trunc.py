"""Truncation fusion: truncate a sum of fixed-point products once, after the sum.

A fxp x fxp product (`mul`/`dot_general`/`square` with `trunc_bits = f`) normally truncates its 2f
fraction bits back to f. When products feed only a chain of `add`/`sub`/`neg`/`reduce_sum`
whose other operands are also such products (each intermediate used once, by the chain), the
products keep their 2f fraction bits (`trunc_bits = 0`), the chain adds at scale 2f, and one
`trunc(bits=f)` follows the chain's root. This saves (products - 1) truncations (each costs a
round and communication for secret data) and rounds once instead of per product. A single
product under a `reduce_sum` is also fused: the truncation then runs on fewer elements.
Counts go to `meta["truncs_saved"]` and `meta["trunc_elements_saved"]`.

Headroom: the untruncated sum must fit the ring like one product does, |sum| < 2^(k-1-2f)
(about 1.3e8 on FM64 with f = 18), the same bound a dot_general's inner sum already needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region
from veil.ir.types import DType

__all__ = ["run"]

_PRODUCTS = frozenset({"mul", "dot_general", "square"})
_CHAIN = frozenset({"add", "sub", "neg", "reduce_sum"})


@dataclass
class _Tree:
    """A fusable sum-of-products tree rooted at one value."""

    leaves: list[Op] = field(default_factory=list)
    has_reduce: bool = False


def run(program: Program, config: RuntimeConfig) -> Program:
    """Fuse truncations in place, in every region."""
    saved, elements = _region(program, program.body, config.f)
    program.meta["truncs_saved"] = program.meta.get("truncs_saved", 0) + saved
    program.meta["trunc_elements_saved"] = program.meta.get("trunc_elements_saved", 0) + elements
    return program


def _region(program: Program, region: Region, f: int) -> tuple[int, int]:
    saved, elements = 0, 0
    for op in region.ops:
        for r in op.regions:
            s, e = _region(program, r, f)
            saved, elements = saved + s, elements + e
    trees, roots = _find_trees(region, f)
    new_ops: list[Op] = []
    for op in region.ops:
        new_ops.append(op)
        tree = trees.get(op.outputs[0].id) if op.outputs and op.outputs[0].id in roots else None
        if tree is None or (len(tree.leaves) < 2 and not tree.has_reduce):
            continue
        for leaf in tree.leaves:
            leaf.attrs["trunc_bits"] = 0
        out = op.outputs[0]
        raw = program.new_value(out.type)
        op.outputs = [raw]
        new_ops.append(Op("trunc", [raw], [out], {"bits": f}, [], op.loc))
        saved += len(tree.leaves) - 1
        elements += sum(leaf.outputs[0].type.size for leaf in tree.leaves) - out.type.size
    region.ops = new_ops
    return saved, elements


def _find_trees(region: Region, f: int) -> tuple[dict[int, _Tree], set[int]]:
    """Fusable trees by value id, and the output ids of chain ops that root maximal trees."""
    uses = region.use_counts()
    trees: dict[int, _Tree] = {}
    absorbed: set[int] = set()
    chain_ops: list[Op] = []
    for op in region.ops:
        if len(op.outputs) != 1 or op.outputs[0].type.dtype is not DType.FXP:
            continue
        out = op.outputs[0]
        if op.opcode in _PRODUCTS and f > 0 and op.attrs.get("trunc_bits") == f:
            trees[out.id] = _Tree([op])
        elif op.opcode in _CHAIN and _children_fusable(op, trees, uses):
            kids = [trees[v.id] for v in op.inputs]
            trees[out.id] = _Tree(
                [leaf for t in kids for leaf in t.leaves],
                op.opcode == "reduce_sum" or any(t.has_reduce for t in kids),
            )
            absorbed.update(v.id for v in op.inputs)
            chain_ops.append(op)
    return trees, {op.outputs[0].id for op in chain_ops} - absorbed


def _children_fusable(op: Op, trees: dict[int, _Tree], uses: dict[int, int]) -> bool:
    """Every input is a fusable tree used only here (its raw 2f-scaled value must not escape)."""
    ids = [v.id for v in op.inputs]
    return len(set(ids)) == len(ids) and all(i in trees and uses.get(i, 0) == 1 for i in ids)
