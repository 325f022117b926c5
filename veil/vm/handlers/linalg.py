"""Handler of dot_general (one matmul and one truncation per output, see hal.linalg)."""

from __future__ import annotations

from typing import Any

from veil.hal.linalg import dot_general
from veil.hal.value import Value
from veil.ir.program import Op


def _dot_general(m: Any, op: Op, args: list[Value]) -> list[Value]:
    a = op.attrs
    return [
        dot_general(m.ctx, args[0], args[1], a["contracting"], a.get("batch", ((), ())), a.get("trunc_bits"))
    ]


HANDLERS = {"dot_general": _dot_general}
