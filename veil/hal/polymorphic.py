"""dtype-polymorphic arithmetic: dispatch add/sub/mul/neg/div/convert on FXP / INT / BOOL.

Any FXP operand makes the op fixed point (INT/BOOL sides are shifted in locally); INT x INT
stays in the ring. Division: FXP by a public value multiplies by its reciprocal (local + one
truncation), FXP by a secret value calls the approximation `veil.hal.approx.f_div`, INT by a
public INT truncates toward zero (see `integer.i_div`). Conversions follow JAX: float -> int
truncates toward zero, anything -> bool is `!= 0`, bool -> number is 0/1.
"""

from __future__ import annotations

from veil.dtypes import DType
from veil.hal import fxp as F
from veil.hal import integer as I
from veil.hal import ring as hr
from veil.hal.compare import not_equal
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP, INT, BOOL = DType.FXP, DType.INT, DType.BOOL


def _any_fxp(x: Value, y: Value) -> bool:
    return x.dtype is FXP or y.dtype is FXP


def add(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    if _any_fxp(x, y):
        return F.f_add(ctx, x, y)
    return I.i_add(ctx, x, y)


def sub(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    if _any_fxp(x, y):
        return F.f_sub(ctx, x, y)
    return I.i_sub(ctx, x, y)


def neg(ctx: ProtocolContext, x: Value) -> Value:
    return hr._neg(ctx, x)


def mul(ctx: ProtocolContext, x: Value, y: Value, trunc_bits: int | None = None) -> Value:
    """x * y; `trunc_bits` (from the compiler) overrides the default truncation of FXP x FXP."""
    if x.dtype is BOOL and y.dtype is BOOL:
        return hr._mul(ctx, x, y, dtype=BOOL, fxp_bits=0)
    if not _any_fxp(x, y):
        return I.i_mul(ctx, x, y)
    if trunc_bits is None:
        return F.f_mul(ctx, x, y)
    return hr._mul_trunc(ctx, x, y, int(trunc_bits), dtype=FXP)


def div(ctx: ProtocolContext, x: Value, y: Value, nonneg: bool = False) -> Value:
    """x / y by dtype and visibility (see module docstring); `nonneg`: y is known >= 0."""
    if not _any_fxp(x, y):
        return I.i_div(ctx, x, y)
    if y.is_public:
        return F.f_div_const(ctx, F.to_fxp(ctx, x), F.decode_public(y))
    from veil.hal.approx import f_div  # lazy: written in parallel, depends on this core

    return f_div(ctx, F.to_fxp(ctx, x), F.to_fxp(ctx, y), nonneg)


def convert(ctx: ProtocolContext, x: Value, dtype: DType) -> Value:
    """Change element kind with JAX semantics (float -> int truncates toward zero)."""
    if dtype is FXP:
        if x.dtype is FXP and x.fxp_bits == ctx.config.f:
            return x
        return F.to_fxp(ctx, x)
    if dtype is BOOL:
        if x.dtype is BOOL:
            return x
        zero = hr.public(ctx, hr.ring_int(ctx, (), 0), x.dtype, x.fxp_bits)
        return not_equal(ctx, x, zero)
    if x.dtype is FXP:
        return F.trunc_int(ctx, x)
    return hr.make(x, x.payload, dtype=INT, fxp_bits=0)
