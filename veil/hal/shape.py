"""Shape ops on HAL Values: plain numpy on payloads (see the payload invariant in `value.py`).

All are local (no messages) except where PUBLIC/PRIVATE operands must join SECRET ones
(concatenate, dynamic_update_slice, pad with a secret pad value): those are shared first.
Dynamic start indices must be PUBLIC; they are clamped like `jax.lax`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from veil.dtypes import DType
from veil.errors import UnsupportedOpError
from veil.hal import ring as hr
from veil.hal.compare import unify
from veil.hal.fxp import align, constant, to_fxp
from veil.hal.value import Value
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext


def _map(x: Value, fn: Callable[[np.ndarray], np.ndarray], shape: Sequence[int]) -> Value:
    out = None if x.payload is None else R.c_order(fn(x.payload))
    return hr.make(x, out, shape=tuple(shape))


def reshape(ctx: ProtocolContext, x: Value, new_sizes: Sequence[int]) -> Value:
    shape = tuple(int(d) for d in new_sizes)
    if math.prod(shape) != x.size:
        raise ValueError(f"hal.reshape: cannot reshape {x.shape} to {shape}")
    return _map(x, lambda p: p.reshape(shape), shape)


def transpose(ctx: ProtocolContext, x: Value, permutation: Sequence[int]) -> Value:
    perm = tuple(int(p) for p in permutation)
    return _map(x, lambda p: np.transpose(p, perm), tuple(x.shape[p] for p in perm))


def broadcast_in_dim(
    ctx: ProtocolContext, x: Value, shape: Sequence[int], broadcast_dimensions: Sequence[int]
) -> Value:
    """lax.broadcast_in_dim: x's dim i goes to output dim broadcast_dimensions[i]."""
    shape = tuple(int(d) for d in shape)
    inter = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        inter[int(d)] = x.shape[i]
    return _map(x, lambda p: np.broadcast_to(p.reshape(inter), shape), shape)


def squeeze(ctx: ProtocolContext, x: Value, dimensions: Sequence[int]) -> Value:
    dims = {int(d) % max(1, len(x.shape)) for d in dimensions}
    shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
    return reshape(ctx, x, shape)


def expand_dims(ctx: ProtocolContext, x: Value, axis: int) -> Value:
    shape = list(x.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return reshape(ctx, x, shape)


def concatenate(ctx: ProtocolContext, values: Sequence[Value], dimension: int) -> Value:
    """Join along `dimension`; mixed visibilities are shared first, encodings aligned to the widest."""
    vals = list(values)
    if any(v.dtype is DType.FXP for v in vals):
        fb = max(v.fxp_bits for v in vals if v.dtype is DType.FXP)
        vals = [to_fxp(ctx, v, fb) for v in vals]
    vals = unify(ctx, vals)
    axis = int(dimension)
    shape = list(vals[0].shape)
    shape[axis] = sum(v.shape[axis] for v in vals)
    if any(v.payload is None for v in vals):
        return hr.make(vals[0], None, shape=shape)
    out = np.concatenate([v.payload for v in vals], axis=axis)
    return hr.make(vals[0], out, shape=shape)


def slice_(
    ctx: ProtocolContext,
    x: Value,
    start_indices: Sequence[int],
    limit_indices: Sequence[int],
    strides: Sequence[int] | None = None,
) -> Value:
    st = strides or [1] * len(start_indices)
    sl = tuple(slice(int(a), int(b), int(s)) for a, b, s in zip(start_indices, limit_indices, st))
    shape = tuple(len(range(*s.indices(d))) for s, d in zip(sl, x.shape))
    return _map(x, lambda p: p[sl], shape)


def rev(ctx: ProtocolContext, x: Value, dimensions: Sequence[int]) -> Value:
    axes = tuple(int(d) for d in dimensions)
    return _map(x, lambda p: np.flip(p, axes) if axes else p, x.shape)


def _pad_index(d: int, lo: int, hi: int, interior: int) -> np.ndarray:
    """Source index per output position along one dim (-1 = padding), lax.pad semantics."""
    n = d + max(0, d - 1) * interior
    src = np.full(n, -1, dtype=np.int64)
    src[:: interior + 1] = np.arange(d)
    src = np.concatenate([np.full(max(lo, 0), -1), src, np.full(max(hi, 0), -1)])
    return src[max(-lo, 0) : len(src) + min(hi, 0)]


def pad(ctx: ProtocolContext, x: Value, pad_value: Value, padding_config: Sequence[Sequence[int]]) -> Value:
    """lax.pad: (lo, hi, interior) per dim; negative lo/hi crop. Pad value may be secret."""
    idx = [_pad_index(d, int(lo), int(hi), int(it)) for d, (lo, hi, it) in zip(x.shape, padding_config)]
    shape = tuple(len(i) for i in idx)
    grids = np.ix_(*idx) if idx else ()
    holes = np.zeros(shape, dtype=bool)
    for g in grids:
        holes = holes | (g < 0)
    safe = tuple(np.maximum(g, 0) for g in grids)

    def place(p: np.ndarray) -> np.ndarray:
        out = p[safe] if p.size else np.zeros(shape, p.dtype)
        out[holes] = np.zeros((), p.dtype)
        return out

    body = _map(x, place, shape)
    x_al, pv = align(ctx, body, pad_value)
    if pv.is_public and not np.any(R.to_int64(pv.payload)) or not holes.any():
        return x_al
    mask = Value(shape, DType.INT, hr.PUBLIC, 0, R.from_int64(ctx.field, holes.astype(np.int64)))
    fill = hr._mul(ctx, hr.bcast(pv, shape), mask, dtype=pv.dtype, fxp_bits=pv.fxp_bits)
    return hr._add(ctx, x_al, fill, dtype=x_al.dtype, fxp_bits=x_al.fxp_bits)


def public_ints(values: Sequence[Value | int], op: str) -> list[int]:
    """Decode public integer scalars (dynamic indices); secret ones cannot drive indexing."""
    out = []
    for v in values:
        if isinstance(v, Value):
            if not v.is_public:
                raise UnsupportedOpError(
                    op,
                    hint="the start index is secret: veil needs public indices for dynamic slicing; "
                    "compute the index from public data or use a one-hot mask product instead",
                )
            raw = R.to_int64(np.asarray(v.payload)).reshape(-1)
            out.append(int(raw[0]) >> v.fxp_bits if v.dtype is DType.FXP else int(raw[0]))
        else:
            out.append(int(v))
    return out


def _clamped(starts: list[int], shape: Sequence[int], sizes: Sequence[int]) -> list[int]:
    return [min(max(s, 0), d - z) for s, d, z in zip(starts, shape, sizes)]


def dynamic_slice(
    ctx: ProtocolContext, x: Value, starts: Sequence[Value | int], slice_sizes: Sequence[int]
) -> Value:
    sizes = [int(s) for s in slice_sizes]
    st = _clamped(public_ints(starts, "dynamic_slice"), x.shape, sizes)
    return slice_(ctx, x, st, [s + z for s, z in zip(st, sizes)])


def dynamic_update_slice(
    ctx: ProtocolContext, x: Value, update: Value, starts: Sequence[Value | int]
) -> Value:
    st = _clamped(public_ints(starts, "dynamic_update_slice"), x.shape, update.shape)
    x, update = align(ctx, x, update)
    x, update = unify(ctx, [x, update])
    if x.payload is None or update.payload is None:
        return hr.make(x, None)
    out = np.array(x.payload, copy=True)
    out[tuple(slice(s, s + d) for s, d in zip(st, update.shape))] = update.payload
    return hr.make(x, out)


def iota(ctx: ProtocolContext, shape: Sequence[int], dimension: int, dtype: DType = DType.INT) -> Value:
    """Public 0, 1, 2, ... along `dimension`, broadcast to `shape`."""
    shape = tuple(int(d) for d in shape)
    ar = np.arange(shape[dimension]).reshape([-1 if i == dimension else 1 for i in range(len(shape))])
    return constant(ctx, np.broadcast_to(ar, shape), shape, dtype=dtype)
