"""Reductions and scans on HAL Values.

Sums are local. Max/min/argmax/argmin are comparison trees: each round pairs neighbours
(positions 2i, 2i+1) and compares all pairs in one batched MSB + product, so n elements take
ceil(log2 n) rounds; pairing neighbours keeps every candidate block contiguous, which is how
argmax/argmin return the lowest index on ties (like jnp). cummax is a Hillis-Steele scan
(ceil(log2 n) rounds of batched maxima). cumsum is local.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.compare import less, maximum, minimum, mul_many, select
from veil.hal.layout import linear_map
from veil.hal.shape import concatenate, iota, reshape, rev, slice_, transpose
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext


def _norm_axes(x: Value, axes: int | Sequence[int] | None) -> list[int]:
    nd = len(x.shape)
    if axes is None:
        return list(range(nd))
    seq = [axes] if isinstance(axes, int) else list(axes)
    return sorted({int(a) % max(nd, 1) for a in seq})


def _to_last(ctx: ProtocolContext, x: Value, axes: list[int]) -> tuple[Value, tuple[int, ...]]:
    """Move `axes` to the end and merge them: shape (*rest, n)."""
    rest = [d for d in range(len(x.shape)) if d not in axes]
    rest_shape = tuple(x.shape[d] for d in rest)
    n = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    return reshape(ctx, transpose(ctx, x, rest + axes), (*rest_shape, n)), rest_shape


def _last(ctx: ProtocolContext, v: Value, start: int, stop: int, step: int = 1) -> Value:
    nd = len(v.shape)
    return slice_(ctx, v, [0] * (nd - 1) + [start], [*v.shape[:-1], stop], [1] * (nd - 1) + [step])


def _pairs(ctx: ProtocolContext, v: Value) -> tuple[Value, Value, Value | None]:
    n = v.shape[-1]
    h = n // 2
    tail = _last(ctx, v, 2 * h, n) if n % 2 else None
    return _last(ctx, v, 0, 2 * h, 2), _last(ctx, v, 1, 2 * h, 2), tail


def _join(ctx: ProtocolContext, head: Value, tail: Value | None) -> Value:
    return head if tail is None else concatenate(ctx, [head, tail], len(head.shape) - 1)


def reduce_sum(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None = None) -> Value:
    return hr._sum(ctx, x, _norm_axes(x, axes))


def _reduce_tree(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None, take_max: bool) -> Value:
    ax = _norm_axes(x, axes)
    v, rest = _to_last(ctx, x, ax)
    if v.shape[-1] == 0:
        raise ValueError("hal.reduce_max/min: empty reduction has no identity in fixed point")
    while v.shape[-1] > 1:
        a, b, tail = _pairs(ctx, v)
        v = _join(ctx, maximum(ctx, a, b) if take_max else minimum(ctx, a, b), tail)
    return reshape(ctx, v, rest)


def reduce_max(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None = None) -> Value:
    """Max over `axes` in ceil(log2 n) comparison rounds."""
    return _reduce_tree(ctx, x, axes, True)


def reduce_min(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None = None) -> Value:
    return _reduce_tree(ctx, x, axes, False)


def _arg_tree(ctx: ProtocolContext, x: Value, axis: int, take_max: bool) -> Value:
    v, rest = _to_last(ctx, x, _norm_axes(x, axis))
    idx = iota(ctx, v.shape, len(v.shape) - 1, DType.INT)
    while v.shape[-1] > 1:
        a, b, tail = _pairs(ctx, v)
        ia, ib, itail = _pairs(ctx, idx)
        pred = less(ctx, a, b) if take_max else less(ctx, b, a)  # strict: ties keep the lower index
        dv, di = hr._sub(ctx, b, a), hr._sub(ctx, ib, ia)
        if di.is_public:  # public index offsets: their product with pred is local
            pv, pi = hr._mul(ctx, pred, dv), hr._mul(ctx, pred, di)
        else:
            pv, pi = mul_many(ctx, [(pred, dv), (pred, di)])
        v = _join(ctx, hr._add(ctx, a, pv, dtype=a.dtype, fxp_bits=a.fxp_bits), tail)
        idx = _join(ctx, hr._add(ctx, ia, pi, dtype=DType.INT, fxp_bits=0), itail)
    return reshape(ctx, idx, rest)


def argmax(ctx: ProtocolContext, x: Value, axis: int) -> Value:
    """Index of the max along `axis` (INT; lowest index on ties, like jnp.argmax)."""
    return _arg_tree(ctx, x, axis, True)


def argmin(ctx: ProtocolContext, x: Value, axis: int) -> Value:
    return _arg_tree(ctx, x, axis, False)


def _along_last(ctx: ProtocolContext, x: Value, axis: int, reverse: bool):  # type: ignore[no-untyped-def]
    nd = len(x.shape)
    axis = int(axis) % nd
    perm = [d for d in range(nd) if d != axis] + [axis]
    inv = list(np.argsort(perm))
    v = transpose(ctx, x, perm)
    if reverse:
        v = rev(ctx, v, [nd - 1])

    def back(out: Value) -> Value:
        if reverse:
            out = rev(ctx, out, [nd - 1])
        return transpose(ctx, out, inv)

    return v, back


def cumsum(ctx: ProtocolContext, x: Value, axis: int, reverse: bool = False) -> Value:
    """Inclusive prefix sum along `axis` (local, exact mod 2^k for any payload)."""
    v, back = _along_last(ctx, x, axis, reverse)
    out = (
        None if v.payload is None else linear_map(v.payload, lambda a: np.cumsum(a, axis=-1, dtype=np.uint64))
    )
    return back(hr.make(v, out))


def cummax(ctx: ProtocolContext, x: Value, axis: int, reverse: bool = False) -> Value:
    """Inclusive prefix max along `axis`: ceil(log2 n) rounds of batched maxima."""
    v, back = _along_last(ctx, x, axis, reverse)
    n, s = v.shape[-1], 1
    while s < n:
        head = _last(ctx, v, 0, s)
        body = maximum(ctx, _last(ctx, v, s, n), _last(ctx, v, 0, n - s))
        v = concatenate(ctx, [head, body], len(v.shape) - 1)
        s *= 2
    return back(v)


__all__ = ["argmax", "argmin", "cummax", "cumsum", "reduce_max", "reduce_min", "reduce_sum", "select"]
