"""Shape rules: broadcast, reshape, transpose, squeeze, concatenate, stack, tile, split, slice, rev, pad, iota."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from veil.dtypes import Visibility
from veil.frontend.avals import ints, out_dtype, out_shape, plain_value
from veil.frontend.rules.common import Rule
from veil.ir.program import Value
from veil.ir.types import TensorType

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering


def _same(ctx: Lowering, eqn: Any, opcode: str, x: Value, **attrs: Any) -> Value:
    """A one-input shape op: the result keeps the operand's visibility and kind."""
    t = x.type.with_shape(out_shape(eqn))
    return ctx.emit(opcode, [x], [t], attrs)[0]


def _broadcast_in_dim(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    shape, dims = ints(eqn.params["shape"]), ints(eqn.params["broadcast_dimensions"])
    if x.type.shape == shape and dims == tuple(range(len(shape))):
        return [x]
    out = _same(ctx, eqn, "broadcast_in_dim", x, shape=shape, broadcast_dimensions=dims)
    k = ctx.known.get(x.id)
    if k is not None:
        expanded = [1] * len(shape)
        for src, dst in enumerate(dims):
            expanded[dst] = k.shape[src]
        ctx.known[out.id] = np.broadcast_to(k.reshape(expanded), shape)
    return [out]


def _reshape(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    dims = eqn.params.get("dimensions")
    if dims is not None:
        perm = ints(dims)
        x = ctx.emit(
            "transpose", [x], [x.type.with_shape(tuple(x.type.shape[d] for d in perm))], {"permutation": perm}
        )[0]
    return [ctx.reshape(x, out_shape(eqn))]


def _transpose(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    perm = ints(eqn.params["permutation"])
    if perm == tuple(range(len(perm))):
        return [ins[0]]
    return [_same(ctx, eqn, "transpose", ins[0], permutation=perm)]


def _squeeze(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    return [_same(ctx, eqn, "squeeze", ins[0], dimensions=ints(eqn.params["dimensions"]))]


def _concatenate(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    if len(ins) == 1:
        return [ins[0]]
    return [
        ctx.emit1("concatenate", ins, out_shape(eqn), out_dtype(eqn), dimension=int(eqn.params["dimension"]))
    ]


def _slice_attrs(
    shape: tuple[int, ...], start: tuple[int, ...], limit: tuple[int, ...], strides: Any
) -> dict[str, Any]:
    return {
        "start_indices": start,
        "limit_indices": limit,
        "strides": ints(strides) if strides is not None else (1,) * len(shape),
    }


def _slice(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    p = eqn.params
    attrs = _slice_attrs(x.type.shape, ints(p["start_indices"]), ints(p["limit_indices"]), p.get("strides"))
    if out_shape(eqn) == x.type.shape:
        return [x]
    return [_same(ctx, eqn, "slice", x, **attrs)]


def _split(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """split(x, sizes, axis) -> one slice per piece."""
    x = ins[0]
    axis, sizes = int(eqn.params["axis"]), ints(eqn.params["sizes"])
    outs, offset = [], 0
    for i, size in enumerate(sizes):
        start = tuple(offset if d == axis else 0 for d in range(x.type.ndim))
        limit = tuple(offset + size if d == axis else n for d, n in enumerate(x.type.shape))
        attrs = _slice_attrs(x.type.shape, start, limit, None)
        outs.append(ctx.emit("slice", [x], [x.type.with_shape(out_shape(eqn, i))], attrs)[0])
        offset += size
    return outs


def _rev(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    dims = ints(eqn.params["dimensions"])
    if not dims:
        return [ins[0]]
    return [_same(ctx, eqn, "rev", ins[0], dimensions=dims)]


def _pad(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    config = tuple(ints(c) for c in eqn.params["padding_config"])
    return [ctx.emit1("pad", ins, out_shape(eqn), out_dtype(eqn), padding_config=config)]


def _iota(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    shape, dim = ints(eqn.params["shape"]), int(eqn.params["dimension"])
    t = TensorType(shape, out_dtype(eqn), Visibility.PUBLIC)
    (out,) = ctx.emit("iota", [], [t], {"shape": shape, "dimension": dim})
    expanded = [1] * len(shape)
    expanded[dim] = shape[dim]
    ramp = plain_value(np.arange(shape[dim]), t.dtype).reshape(expanded)
    ctx.known[out.id] = np.broadcast_to(ramp, shape)
    return [out]


def _stack(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """stack(*xs, axis) -> insert a unit axis in each operand, then concatenate along it."""
    axis = int(eqn.params["axis"])
    parts = []
    for x in ins:
        shape = list(x.type.shape)
        shape.insert(axis, 1)
        parts.append(ctx.reshape(x, shape))
    if len(parts) == 1:
        return [ctx.reshape(parts[0], out_shape(eqn))]
    return [ctx.emit1("concatenate", parts, out_shape(eqn), out_dtype(eqn), dimension=axis)]


def _tile(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """tile(x, reps) -> broadcast to interleaved (rep, size) axes, then merge each pair."""
    x = ins[0]
    reps = ints(eqn.params["reps"])
    x = ctx.reshape(x, (1,) * (len(reps) - x.type.ndim) + x.type.shape)
    wide = tuple(d for r, n in zip(reps, x.type.shape) for d in (r, n))
    dims = tuple(2 * i + 1 for i in range(len(reps)))
    b = ctx.emit(
        "broadcast_in_dim", [x], [x.type.with_shape(wide)], {"shape": wide, "broadcast_dimensions": dims}
    )
    return [ctx.reshape(b[0], out_shape(eqn))]


RULES: dict[str, Rule] = {
    "stack": _stack,
    "tile": _tile,
    "broadcast_in_dim": _broadcast_in_dim,
    "reshape": _reshape,
    "transpose": _transpose,
    "squeeze": _squeeze,
    "concatenate": _concatenate,
    "slice": _slice,
    "split": _split,
    "rev": _rev,
    "pad": _pad,
    "iota": _iota,
}
