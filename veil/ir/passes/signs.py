"""Sign inference: mark divisions whose divisor is provably non-negative (`nonneg=True`).

Secret division normalises its divisor by the highest set bit with a thermometer of sign
tests; a divisor of unknown sign needs them for both signs plus a sign test (19 on FM64), a
non-negative one only 13. Divisors built from exp, squares (x * x too), abs and non-negative constants by
sums, products, reductions and reshapes are non-negative in veil's arithmetic too (its
truncations round down or up by one unit, never below zero), which covers sigmoid's
1 / (1 + exp(-x)) and softmax's division by a sum of exps. Counts go to meta["nonneg_divisors"].
"""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region

__all__ = ["run"]

_ALWAYS = frozenset({"exp", "square", "abs"})
_ALL_INPUTS = frozenset(
    {
        "add", "mul", "min", "dot_general", "reduce_sum", "reduce_max", "reduce_min", "broadcast_in_dim",
        "reshape", "transpose", "squeeze", "slice", "concatenate", "pad", "rev", "copy", "trunc",
        "convert", "cumsum", "cummax", "reciprocal", "div", "div_bcast",
    }
)  # fmt: skip
_FIRST_INPUT = frozenset({"dynamic_slice", "dynamic_update_slice", "gather"})
_DIVISORS = {"reciprocal": 0, "div": 1, "div_bcast": 1}


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Annotate in place, in every region."""
    count = _region(program.body)
    program.meta["nonneg_divisors"] = program.meta.get("nonneg_divisors", 0) + count
    return program


def _nonneg(op: Op, known: set[int]) -> bool:
    name = op.opcode
    ins = [v.id in known for v in op.inputs]
    if name == "const":
        value = np.asarray(op.attrs["value"])
        return value.dtype != np.bool_ and bool(np.all(value >= 0))
    if name in _ALWAYS or (name == "mul" and op.inputs[0].id == op.inputs[1].id):
        return True
    if name == "integer_pow":
        return int(op.attrs["y"]) % 2 == 0 or ins[0]
    if name == "max":
        return any(ins)
    if name == "select_n":
        return all(ins[1:])
    if name in _FIRST_INPUT:
        return ins[0] if name != "dynamic_update_slice" else ins[0] and ins[1]
    return name in _ALL_INPUTS and all(ins)


def _region(region: Region) -> int:
    count = 0
    known: set[int] = set()
    for op in region.ops:
        for r in op.regions:
            count += _region(r)
        if op.regions:
            continue
        if op.opcode in _DIVISORS and op.inputs[_DIVISORS[op.opcode]].id in known:
            op.attrs["nonneg"] = True
            count += 1
        if len(op.outputs) == 1 and _nonneg(op, known):
            known.add(op.outputs[0].id)
    return count
