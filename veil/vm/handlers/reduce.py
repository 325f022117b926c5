"""Handlers of reductions and scans (sums local; max/min/arg* as comparison trees, hal.reduce)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veil.hal import reduce as Rd
from veil.hal.value import Value
from veil.ir.program import Op

Handler = Callable[[Any, Op, list[Value]], list[Value]]


def _axes(fn: Callable[..., Value]) -> Handler:
    return lambda m, op, args: [fn(m.ctx, args[0], op.attrs.get("axes"))]


def _axis(fn: Callable[..., Value]) -> Handler:
    return lambda m, op, args: [fn(m.ctx, args[0], int(op.attrs["axis"]))]


def _scan(fn: Callable[..., Value]) -> Handler:
    return lambda m, op, args: [
        fn(m.ctx, args[0], int(op.attrs["axis"]), bool(op.attrs.get("reverse", False)))
    ]


HANDLERS: dict[str, Handler] = {
    "reduce_sum": _axes(Rd.reduce_sum),
    "reduce_max": _axes(Rd.reduce_max),
    "reduce_min": _axes(Rd.reduce_min),
    "argmax": _axis(Rd.argmax),
    "argmin": _axis(Rd.argmin),
    "cumsum": _scan(Rd.cumsum),
    "cummax": _scan(Rd.cummax),
}
