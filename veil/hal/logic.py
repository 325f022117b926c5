"""Logical ops on BOOL Values (arithmetic 0/1: and = a*b, or = a+b-ab, xor = a+b-2ab, not = 1-a)
and bitwise ops on INT Values (boolean shares for secrets: a2b, and/xor kernels, b2a)."""

from __future__ import annotations

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

BOOL, INT = DType.BOOL, DType.INT


def _bools(x: Value, y: Value) -> bool:
    return x.dtype is BOOL and y.dtype is BOOL


def _one(ctx: ProtocolContext) -> Value:
    return hr.public(ctx, hr.ring_int(ctx, (), 1), BOOL)


def logical_and(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    if not _bools(x, y):
        return hb._bitwise(ctx, x, y, "and")
    return hr._mul(ctx, x, y, dtype=BOOL, fxp_bits=0)


def logical_or(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    if not _bools(x, y):
        return hb._bitwise(ctx, x, y, "or")
    both = hr._mul(ctx, x, y, dtype=BOOL, fxp_bits=0)
    return hr._sub(ctx, hr._add(ctx, x, y), both, dtype=BOOL, fxp_bits=0)


def logical_xor(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    if not _bools(x, y):
        return hb._bitwise(ctx, x, y, "xor")
    both = hr._mul_int(ctx, hr._mul(ctx, x, y, dtype=BOOL, fxp_bits=0), 2)
    return hr._sub(ctx, hr._add(ctx, x, y), both, dtype=BOOL, fxp_bits=0)


def logical_not(ctx: ProtocolContext, x: Value) -> Value:
    """1 - x for BOOL; bitwise not (~x = -x - 1) for INT. Local."""
    if x.dtype is BOOL:
        return hr._sub(ctx, _one(ctx), x, dtype=BOOL, fxp_bits=0)
    minus_one = hr.public(ctx, hr.ring_int(ctx, (), -1), INT)
    return hr._add(ctx, hr._neg(ctx, x), minus_one, dtype=x.dtype, fxp_bits=x.fxp_bits)
