"""dot_general on HAL Values: transposes/reshapes to (batched) 2-D ring matmuls, one truncation.

Cost: one protocol matmul (secret x secret) or none (public operand), plus one truncation of
the output (not per product) when both sides are fixed point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.shape import reshape, transpose
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext
from veil.mpc.kernels import OperandKey


def default_trunc_bits(ctx: ProtocolContext, x: Value, y: Value) -> int:
    """Bits to drop after a product: back to f when both sides are FXP, none otherwise."""
    if x.dtype is DType.FXP and y.dtype is DType.FXP:
        return max(0, x.fxp_bits + y.fxp_bits - ctx.config.f)
    return 0


def _prod(shape: Sequence[int], dims: Sequence[int]) -> int:
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


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


def dot_general(
    ctx: ProtocolContext,
    x: Value,
    y: Value,
    contracting: tuple[Sequence[int], Sequence[int]],
    batch: tuple[Sequence[int], Sequence[int]] = ((), ()),
    trunc_bits: int | None = None,
) -> Value:
    """lax.dot_general: output dims = batch, lhs free, rhs free; truncated once by `trunc_bits`."""
    lc, rc = [int(d) for d in contracting[0]], [int(d) for d in contracting[1]]
    lb, rb = [int(d) for d in batch[0]], [int(d) for d in batch[1]]
    nx, ny = len(x.shape), len(y.shape)
    lf = [d for d in range(nx) if d not in lc and d not in lb]
    rf = [d for d in range(ny) if d not in rc and d not in rb]
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
    out = hr._matmul(ctx, xt, yt, keys=keys or ())
    shape = [x.shape[d] for d in lb] + [x.shape[d] for d in lf] + [y.shape[d] for d in rf]
    out = reshape(ctx, out, shape)
    bits = default_trunc_bits(ctx, x, y) if trunc_bits is None else int(trunc_bits)
    return hr._trunc(ctx, out, bits) if bits else out


def matmul(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """x @ y for 2-D operands (fixed-point truncation included)."""
    return dot_general(ctx, x, y, ((len(x.shape) - 1,), (0,)))
