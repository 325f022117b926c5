"""Handlers of reductions, scans and sorts (sums local; secret max/min as radix-4 tournaments,
arg* as comparison trees, sort / top_k as sorting networks: hal.reduce, hal.sort)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veil.hal import reduce as Rd
from veil.hal import sort as So
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


def _extremum(take_max: bool) -> Handler:
    """Secret inputs: radix-4 tournament (5 rounds per factor 4); others: hal.reduce (local)."""
    plain = Rd.reduce_max if take_max else Rd.reduce_min

    def run(m: Any, op: Op, args: list[Value]) -> list[Value]:
        x, axes = args[0], op.attrs.get("axes")
        if x.is_secret and x.size > 0:
            return [So.tournament(m.ctx, x, axes, take_max)]
        return [plain(m.ctx, x, axes)]

    return run


def _sort(m: Any, op: Op, args: list[Value]) -> list[Value]:
    a = op.attrs
    return So.sort(m.ctx, args, int(a["dimension"]), int(a["num_keys"]), bool(a.get("descending", False)))


def _top_k(m: Any, op: Op, args: list[Value]) -> list[Value]:
    return list(So.top_k(m.ctx, args[0], int(op.attrs["k"]), int(op.attrs["axis"])))


HANDLERS: dict[str, Handler] = {
    "reduce_sum": _axes(Rd.reduce_sum),
    "reduce_max": _extremum(True),
    "reduce_min": _extremum(False),
    "sort": _sort,
    "top_k": _top_k,
    "argmax": _axis(Rd.argmax),
    "argmin": _axis(Rd.argmin),
    "cumsum": _scan(Rd.cumsum),
    "cummax": _scan(Rd.cummax),
}
