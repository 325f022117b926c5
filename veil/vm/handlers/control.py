"""Structured control flow, executed (never unrolled): loop, while (public predicate), cond.

- loop: inputs [*carries, *consts]; body params [iv, *carries, *consts] -> carries; iv is a
  PUBLIC INT scalar running start, start + 1, ... (attr `start`, default 0) for trip_count steps.
- while: cond(params) -> [pred] must be PUBLIC; body -> carries.
- cond: inputs [index, *operands]; branch = clamp(index, 0, n - 1) as in lax.switch (a bool
  index picks branch 1 when true); the index must be PUBLIC.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veil.dtypes import DType
from veil.errors import CompileError
from veil.hal import fxp as F
from veil.hal.value import Value
from veil.ir.program import Op


def _where(op: Op) -> str:
    return f" at {op.loc}" if op.loc else ""


def _public_scalar(v: Value, op: Op, what: str, fix: str) -> int:
    if not v.is_public:
        raise CompileError(f"{op.opcode}{_where(op)}: the {what} is {v.vis.value}, it must be public; {fix}")
    return int(np.floor(F.decode_public(v).reshape(-1)[0]))


def _loop(m: Any, op: Op, args: list[Value]) -> list[Value]:
    n = int(op.attrs["n_carries"])
    carries, consts = list(args[:n]), list(args[n:])
    start = int(op.attrs.get("start", 0))
    (body,) = op.regions
    for i in range(int(op.attrs["trip_count"])):
        iv = F.constant(m.ctx, start + i, (), dtype=DType.INT)
        carries = m.run_region(body, [iv, *carries, *consts])
    return carries


def _while(m: Any, op: Op, args: list[Value]) -> list[Value]:
    n = int(op.attrs["n_carries"])
    carries, consts = list(args[:n]), list(args[n:])
    cond, body = op.regions
    fix = "make the loop condition depend on public values only (e.g. a fori_loop with a public trip count)"
    while True:
        (pred,) = m.run_region(cond, [*carries, *consts])
        if not _public_scalar(pred, op, "loop predicate", fix):
            return carries
        carries = m.run_region(body, [*carries, *consts])


def _cond(m: Any, op: Op, args: list[Value]) -> list[Value]:
    fix = "secret conditions must be compiled to both branches and a select (the secret_control pass)"
    index = _public_scalar(args[0], op, "branch index", fix)
    branch = op.regions[min(max(index, 0), len(op.regions) - 1)]
    return m.run_region(branch, list(args[1:]))


HANDLERS = {"loop": _loop, "while": _while, "cond": _cond}
