"""dot_general on HAL Values: transposes/reshapes to (batched) 2-D ring matmuls, one truncation.

Cost: one protocol matmul (secret x secret) or none (public operand), plus one truncation of
the output (not per product) when both sides are fixed point. `dot_general_many` runs several
independent requests (a `batch` op of dot_generals) with the rounds of one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from veil.dtypes import DType, Visibility
from veil.hal import ring as hr
from veil.hal.layout import concat_flat, split_flat
from veil.hal.shape import reshape, transpose
from veil.hal.value import Value
from veil.mpc import api
from veil.mpc.context import ProtocolContext
from veil.mpc.kernels import OperandKey


def default_trunc_bits(ctx: ProtocolContext, x: Value, y: Value) -> int:
    """Bits to drop after a product: back to f when both sides are FXP, none otherwise."""
    if x.dtype is DType.FXP and y.dtype is DType.FXP:
        return max(0, x.fxp_bits + y.fxp_bits - ctx.config.f)
    return 0


def _prod(shape: Sequence[int], dims: Sequence[int]) -> int:
    return math.prod([shape[d] for d in dims])


def _cache_keys(
    ctx: ProtocolContext,
    x: Value,
    y: Value,
    xperm: list[int],
    yperm: list[int],
    xshape: tuple[int, ...],
    yshape: tuple[int, ...],
) -> tuple[OperandKey | None, OperandKey | None] | None:
    """Beaver-cache keys of a secret x secret product (config.beaver_cache, protocol kernel
    present): an operand is named by its payload and transpose when it needs no reshape."""
    if not (ctx.config.beaver_cache and x.is_secret and y.is_secret):
        return None
    if not ctx.table.has("matmul_ss_cached"):
        return None

    def key(v: Value, perm: list[int], shape: tuple[int, ...]) -> OperandKey | None:
        if v.payload is None or tuple(v.shape[d] for d in perm) != tuple(shape):
            return None
        return OperandKey(v.payload, tuple(perm))

    return key(x, xperm, xshape), key(y, yperm, yshape)


class Dot(NamedTuple):
    """One dot_general request of `dot_general_many` (the arguments of `dot_general`)."""

    x: Value
    y: Value
    contracting: tuple[Sequence[int], Sequence[int]]
    batch: tuple[Sequence[int], Sequence[int]] = ((), ())
    trunc_bits: int | None = None


def _lower(
    ctx: ProtocolContext, d: Dot
) -> tuple[Value, Value, tuple[OperandKey | None, OperandKey | None] | None, list[int]]:
    """The (batched) 2-D matmul of a request: transposed/reshaped operands, cache keys, and the
    output shape (batch, lhs free, rhs free)."""
    x, y = d.x, d.y
    lc, rc = [int(i) for i in d.contracting[0]], [int(i) for i in d.contracting[1]]
    lb, rb = [int(i) for i in d.batch[0]], [int(i) for i in d.batch[1]]
    nx, ny = len(x.shape), len(y.shape)
    lf = [i for i in range(nx) if i not in lc and i not in lb]
    rf = [i for i in range(ny) if i not in rc and i not in rb]
    bsz, m, kk, n = _prod(x.shape, lb), _prod(x.shape, lf), _prod(x.shape, lc), _prod(y.shape, rf)
    if kk != _prod(y.shape, rc) or bsz != _prod(y.shape, rb):
        raise ValueError(
            f"hal.dot_general: shapes {x.shape} and {y.shape} do not match on contracting/batch dims"
        )
    xt = transpose(ctx, x, lb + lf + lc)
    yt = transpose(ctx, y, rb + rc + rf)
    if lb:
        xt, yt = reshape(ctx, xt, (bsz, m, kk)), reshape(ctx, yt, (bsz, kk, n))
    else:
        xt, yt = reshape(ctx, xt, (m, kk)), reshape(ctx, yt, (kk, n))
    keys = _cache_keys(ctx, x, y, lb + lf + lc, rb + rc + rf, xt.shape, yt.shape)
    shape = [x.shape[i] for i in lb] + [x.shape[i] for i in lf] + [y.shape[i] for i in rf]
    return xt, yt, keys, shape


def _bits(ctx: ProtocolContext, d: Dot) -> int:
    return default_trunc_bits(ctx, d.x, d.y) if d.trunc_bits is None else int(d.trunc_bits)


def dot_general(
    ctx: ProtocolContext,
    x: Value,
    y: Value,
    contracting: tuple[Sequence[int], Sequence[int]],
    batch: tuple[Sequence[int], Sequence[int]] = ((), ()),
    trunc_bits: int | None = None,
) -> Value:
    """lax.dot_general: output dims = batch, lhs free, rhs free; truncated once by `trunc_bits`."""
    d = Dot(x, y, contracting, batch, trunc_bits)
    xt, yt, keys, shape = _lower(ctx, d)
    out = reshape(ctx, hr._matmul(ctx, xt, yt, keys=keys or ()), shape)
    bits = _bits(ctx, d)
    return hr._trunc(ctx, out, bits) if bits else out


def dot_general_many(ctx: ProtocolContext, dots: Sequence[Dot]) -> list[Value]:
    """Several independent dot_generals with the rounds of one where the protocol allows.

    The secret x secret products go to `matmul_ss_many` together (semi2k: every Beaver opening
    in one message, the cache respected); other products run as in `dot_general` (local). The
    truncations of secret results then run together, one call per (bits, fxp_bits, dtype)."""
    raws: list[Value | None] = [None] * len(dots)
    lowered = [(i, _lower(ctx, d)) for i, d in enumerate(dots) if d.x.is_secret and d.y.is_secret]
    if lowered:
        payloads = api.matmul_ss_many(
            ctx,
            [(xt.payload, yt.payload) for _, (xt, yt, _, _) in lowered],
            [k for _, (_, _, k, _) in lowered],
        )
        for (i, (_, _, _, shape)), out in zip(lowered, payloads, strict=True):
            x, y = dots[i].x, dots[i].y
            flat = Value(
                tuple(out.shape), hr._prod_dtype(x, y), Visibility.SECRET, x.fxp_bits + y.fxp_bits, out
            )
            raws[i] = reshape(ctx, flat, shape)
    results: list[Value | None] = [None] * len(dots)
    groups: dict[tuple[int, int, DType], list[int]] = defaultdict(list)
    for i, d in enumerate(dots):
        if raws[i] is None:
            results[i] = dot_general(ctx, d.x, d.y, d.contracting, d.batch, d.trunc_bits)
            continue
        bits, raw = _bits(ctx, d), raws[i]
        if bits:
            groups[(bits, raw.fxp_bits, raw.dtype)].append(i)  # type: ignore[union-attr]
        else:
            results[i] = raw
    for (bits, _, _), members in groups.items():
        vals = [raws[i] for i in members]
        cut = split_flat(hr._trunc(ctx, concat_flat(vals), bits), vals)  # type: ignore[arg-type]
        for i, v in zip(members, cut, strict=True):
            results[i] = v
    return results  # type: ignore[return-value]


def matmul(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """x @ y for 2-D operands (fixed-point truncation included)."""
    return dot_general(ctx, x, y, ((len(x.shape) - 1,), (0,)))
