"""Common-subexpression elimination: an op identical to an earlier one in the same region
(same opcode, inputs, attributes and result types) is dropped and its uses point to the first.

Every IR op is pure, so this is always sound. Operands of commutative ops are put in a canonical
order first. Constants match when their dtype, shape and bytes match (large ones by SHA-256 of
their bytes). Control-flow ops are not merged (their regions are still simplified inside).
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Any

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.ops import COMMUTATIVE
from veil.ir.program import Op, Program, Region, Value

__all__ = ["run"]

_INLINE_BYTES = 64  # constants up to this size are keyed by their bytes, larger ones by a digest


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Merge duplicate ops in place; record the count in `meta["cse_merged"]` (cumulative)."""
    merged = _region(program.body)
    program.meta["cse_merged"] = program.meta.get("cse_merged", 0) + merged
    return program


def _region(region: Region) -> int:
    table: dict[Any, Op] = {}
    mapping: dict[int, Value] = {}
    kept: list[Op] = []
    merged = 0
    for op in region.ops:
        op.inputs = [mapping.get(v.id, v) for v in op.inputs]
        for r in op.regions:
            merged += _region(r)
        key = _key(op)
        prev = table.get(key) if key is not None else None
        if prev is not None:
            for dup, first in zip(op.outputs, prev.outputs, strict=True):
                mapping[dup.id] = first
            merged += 1
            continue
        if key is not None:
            table[key] = op
        kept.append(op)
    region.ops = kept
    region.results = [mapping.get(v.id, v) for v in region.results]
    return merged


def _key(op: Op) -> Any:
    """A hashable identity of a pure, region-free op; None for ops that are never merged."""
    if op.regions:
        return None
    ids = [v.id for v in op.inputs]
    if op.opcode in COMMUTATIVE and len(ids) == 2:
        ids.sort()
    attrs = tuple(sorted((k, _freeze(v)) for k, v in op.attrs.items()))
    return op.opcode, tuple(ids), attrs, tuple(o.type for o in op.outputs)


def _freeze(x: Any) -> Any:
    """A hashable, type-exact stand-in for an attribute value (tuple != list, 1 != True)."""
    if isinstance(x, np.ndarray | np.generic):
        arr = np.asarray(x)
        raw = arr.tobytes()
        body = raw if len(raw) <= _INLINE_BYTES else hashlib.sha256(raw).digest()
        return ("nd", type(x) is np.ndarray, arr.dtype.str, arr.shape, body)
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, float):
        return ("float", x.hex())
    if isinstance(x, Enum):
        return (type(x).__name__, x.value)
    if isinstance(x, tuple):
        return ("tuple", tuple(_freeze(v) for v in x))
    if isinstance(x, list):
        return ("list", tuple(_freeze(v) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((str(k), _freeze(v)) for k, v in x.items())))
    try:
        hash(x)
    except TypeError:
        return ("repr", type(x).__name__, repr(x))
    return (type(x).__name__, x)
