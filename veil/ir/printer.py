"""A readable, MLIR-like text dump of IR programs, used in error messages and golden tests.

One op per line (`%3 = mul(%1, %2) {trunc_bits=18} : secret<4x3xfxp>`), nested regions
indented under their op, constant arrays summarized rather than dumped in full. The output
is deterministic: attributes are sorted by name.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np

from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import TensorType, Visibility

__all__ = ["format_attr", "format_op", "format_program", "format_type"]

_INLINE_ELEMENTS = 8  # const arrays up to this many elements are printed in full
_INDENT = "  "


def format_type(t: TensorType) -> str:
    """`secret<4x3xfxp>`, `public<int>` for scalars, `private@1<3xbool>`."""
    vis = f"private@{t.owner}" if t.vis is Visibility.PRIVATE else t.vis.value
    dims = "".join(f"{d}x" for d in t.shape)
    return f"{vis}<{dims}{t.dtype.value}>"


def _array(a: np.ndarray | np.generic) -> str:
    arr = np.asarray(a)
    head = f"{arr.dtype.name} {'x'.join(map(str, arr.shape)) or 'scalar'}"
    if arr.size <= _INLINE_ELEMENTS:
        return f"dense<{head}: {arr.ravel().tolist()}>"
    if arr.dtype.kind == "b":
        return f"dense<{head}: {int(arr.sum())} true>"
    return f"dense<{head}: min={arr.min().item()!r} max={arr.max().item()!r}>"


def format_attr(value: Any) -> str:
    """One attribute value: tuples as `(a, b)`, lists as `[a, b]`, arrays summarized."""
    if isinstance(value, np.ndarray | np.generic):
        return _array(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        inner = ", ".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_attr(v)}" for k, v in sorted(value.items(), key=_key)) + "}"
    return repr(value)


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _values(vs: list[Value]) -> str:
    return ", ".join(f"%{v.id}" for v in vs)


def _params(vs: list[Value], names: list[str] | None = None) -> str:
    if names is None:
        return ", ".join(f"%{v.id}: {format_type(v.type)}" for v in vs)
    return ", ".join(f'%{v.id} "{n}": {format_type(v.type)}' for v, n in zip(vs, names, strict=False))


def _region_names(op: Op) -> list[str]:
    if op.opcode == "while":
        return ["cond", "body"]
    if op.opcode == "cond":
        return [f"branch{k}" for k in range(len(op.regions))]
    return ["body"] * len(op.regions)


def format_op(op: Op, show_locs: bool = True) -> str:
    """The single line of `op` (without its regions)."""
    lhs = f"{_values(op.outputs)} = " if op.outputs else ""
    attrs = ", ".join(f"{k}={format_attr(v)}" for k, v in sorted(op.attrs.items(), key=_key))
    attrs = f" {{{attrs}}}" if attrs else ""
    types = ", ".join(format_type(v.type) for v in op.outputs)
    loc = f'  loc("{op.loc}")' if show_locs and op.loc else ""
    return f"{lhs}{op.opcode}({_values(op.inputs)}){attrs} : {types or '()'}{loc}"


def _region_lines(region: Region, depth: int, show_locs: bool) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for op in region.ops:
        lines.append(pad + format_op(op, show_locs))
        for name, sub in zip(_region_names(op), op.regions, strict=True):
            lines.append(f"{pad}{_INDENT}{name}({_params(sub.params)}) {{")
            lines += _region_lines(sub, depth + 2, show_locs)
            lines.append(f"{pad}{_INDENT * 2}yield {_values(sub.results)}")
            lines.append(f"{pad}{_INDENT}}}")
    return lines


def format_program(program: Program, show_locs: bool = True) -> str:
    """The whole program as text; ends without a trailing newline."""
    body = program.body
    lines = []
    if program.meta:
        lines.append(f"// meta: {format_attr(program.meta)}")
    lines.append(f"program({_params(body.params, program.input_names)}) {{")
    lines += _region_lines(body, 1, show_locs)
    outs = ", ".join(f'%{v.id} "{n}"' for v, n in zip(body.results, program.output_names, strict=False))
    lines.append(f"{_INDENT}return {outs}")
    lines.append("}")
    return "\n".join(lines)
