"""Handlers of shape and indexing ops: local numpy on payloads (see hal.shape, hal.indexing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veil.hal import indexing as X
from veil.hal import shape as S
from veil.hal.value import Value
from veil.ir.program import Op

Handler = Callable[[Any, Op, list[Value]], list[Value]]


def _bid(m: Any, op: Op, args: list[Value]) -> list[Value]:
    a = op.attrs
    return [S.broadcast_in_dim(m.ctx, args[0], a["shape"], a["broadcast_dimensions"])]


def _slice(m: Any, op: Op, args: list[Value]) -> list[Value]:
    a = op.attrs
    return [S.slice_(m.ctx, args[0], a["start_indices"], a["limit_indices"], a.get("strides"))]


def _gather(m: Any, op: Op, args: list[Value]) -> list[Value]:
    a = op.attrs
    return [
        X.gather(
            m.ctx,
            args[0],
            args[1],
            a["dimension_numbers"],
            a["slice_sizes"],
            a.get("mode"),
            a.get("fill_value"),
        )
    ]


def _scatter(fn: Callable[..., Value]) -> Handler:
    def run(m: Any, op: Op, args: list[Value]) -> list[Value]:
        return [fn(m.ctx, args[0], args[1], args[2], op.attrs["dimension_numbers"], op.attrs.get("mode"))]

    return run


HANDLERS: dict[str, Handler] = {
    "broadcast_in_dim": _bid,
    "reshape": lambda m, op, args: [S.reshape(m.ctx, args[0], op.attrs["new_sizes"])],
    "transpose": lambda m, op, args: [S.transpose(m.ctx, args[0], op.attrs["permutation"])],
    "squeeze": lambda m, op, args: [S.squeeze(m.ctx, args[0], op.attrs["dimensions"])],
    "concatenate": lambda m, op, args: [S.concatenate(m.ctx, args, int(op.attrs["dimension"]))],
    "slice": _slice,
    "dynamic_slice": lambda m, op, args: [S.dynamic_slice(m.ctx, args[0], args[1:], op.attrs["slice_sizes"])],
    "dynamic_update_slice": lambda m, op, args: [S.dynamic_update_slice(m.ctx, args[0], args[1], args[2:])],
    "pad": lambda m, op, args: [S.pad(m.ctx, args[0], args[1], op.attrs["padding_config"])],
    "rev": lambda m, op, args: [S.rev(m.ctx, args[0], op.attrs["dimensions"])],
    "gather": _gather,
    "scatter_add": _scatter(X.scatter_add),
    "scatter": _scatter(X.scatter),
}
