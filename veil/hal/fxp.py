"""Fixed-point arithmetic on HAL Values: encoding, mul + truncation, constants, rounding.

A FXP Value with `fxp_bits = f` holds round(x * 2^f) in two's complement mod 2^k. Products of
two FXP values carry 2f bits and are truncated back to `ctx.config.f` (one truncation per
product). INT/BOOL operands join FXP ones after a local left shift. Rounding (floor, ceil,
round, trunc) is exact for secrets: a probabilistic truncation estimate corrected with one
batched sign test.
"""

from __future__ import annotations

import math

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.layout import concat_flat, split_flat
from veil.hal.value import Value
from veil.mpc import fxp_codec
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

FXP, INT, BOOL = DType.FXP, DType.INT, DType.BOOL


def constant(
    ctx: ProtocolContext,
    value: float | int | np.ndarray,
    shape: tuple[int, ...] | None = None,
    dtype: DType = FXP,
    fxp_bits: int | None = None,
) -> Value:
    """A PUBLIC Value holding `value` (broadcast to `shape`), encoded with the config's f for FXP."""
    arr = np.asarray(value)
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape))
    if dtype is FXP:
        fb = ctx.config.f if fxp_bits is None else fxp_bits
        payload = fxp_codec.encode_fxp(ctx.field, np.asarray(arr, dtype=np.float64), fb)
        return Value(tuple(arr.shape), FXP, hr.PUBLIC, fb, payload)
    ints = np.trunc(arr).astype(np.int64) if arr.dtype.kind == "f" else arr.astype(np.int64)
    if dtype is BOOL:
        ints = (ints != 0).astype(np.int64)
    return Value(tuple(arr.shape), dtype, hr.PUBLIC, 0, R.from_int64(ctx.field, ints))


def decode_public(x: Value) -> np.ndarray:
    """The float64 plaintext of a PUBLIC (or locally held PRIVATE) Value."""
    if x.payload is None or x.is_secret:
        raise ValueError(f"hal.decode_public: value is {x.vis.value}; reveal it first")
    if x.dtype is FXP:
        return fxp_codec.decode_fxp(x.payload, x.fxp_bits)
    return R.to_int64(x.payload).astype(np.float64)


def to_fxp(ctx: ProtocolContext, x: Value, fxp_bits: int | None = None) -> Value:
    """Re-encode as FXP with `fxp_bits` (default f): left shift, or truncate if it has more bits."""
    fb = ctx.config.f if fxp_bits is None else fxp_bits
    cur = x.fxp_bits if x.dtype is FXP else 0
    if cur <= fb:
        return hr._lshift(ctx, x, fb - cur, dtype=FXP, fxp_bits=fb)
    return hr._trunc(ctx, x, cur - fb, dtype=FXP, fxp_bits=fb)


def align(ctx: ProtocolContext, x: Value, y: Value) -> tuple[Value, Value]:
    """Bring two Values to one encoding: FXP wins over INT/BOOL, and the larger fxp_bits wins."""
    if x.dtype is not FXP and y.dtype is not FXP:
        return x, y
    fb = max(v.fxp_bits for v in (x, y) if v.dtype is FXP)
    return to_fxp(ctx, x, fb), to_fxp(ctx, y, fb)


def f_add(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    x, y = align(ctx, x, y)
    return hr._add(ctx, x, y)


def f_sub(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    x, y = align(ctx, x, y)
    return hr._sub(ctx, x, y)


def f_neg(ctx: ProtocolContext, x: Value) -> Value:
    return hr._neg(ctx, x)


def f_mul(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """x * y: FXP x FXP is truncated back to f bits; with an INT/BOOL side it stays exact."""
    if x.dtype is FXP and y.dtype is FXP:
        bits = max(0, x.fxp_bits + y.fxp_bits - ctx.config.f)
        return hr._mul_trunc(ctx, x, y, bits, dtype=FXP)
    return hr._mul(ctx, x, y)


def f_square(ctx: ProtocolContext, x: Value) -> Value:
    if x.dtype is not FXP:
        return hr._square(ctx, x)
    sq = hr._square(ctx, x)
    return hr._trunc(ctx, sq, max(0, sq.fxp_bits - ctx.config.f))


def f_mul_const(ctx: ProtocolContext, x: Value, c: float | np.ndarray) -> Value:
    """x * c for a public constant c (scalar or array broadcastable to x); local plus one trunc.

    Integral c multiplies exactly with no truncation. Otherwise c is encoded with f + e fraction
    bits, e = up to f extra bits for |c| < 1 (keeps ~f significant bits of small constants).
    """
    c_arr = np.asarray(c, dtype=np.float64)
    if np.all(c_arr == np.round(c_arr)) and np.max(np.abs(c_arr), initial=0.0) < 2.0**31:
        cv = Value(c_arr.shape, INT, hr.PUBLIC, 0, R.from_int64(ctx.field, c_arr.astype(np.int64)))
        return hr._mul(ctx, x, cv, dtype=x.dtype, fxp_bits=x.fxp_bits)
    if x.dtype is not FXP:
        x = to_fxp(ctx, x)
    f = ctx.config.f
    top = float(np.max(np.abs(c_arr)))
    extra = 0 if top >= 1.0 else min(f, int(math.floor(-math.log2(top))))
    g = f + extra
    cv = Value(c_arr.shape, FXP, hr.PUBLIC, g, fxp_codec.encode_fxp(ctx.field, c_arr, g))
    return hr._trunc(ctx, hr._mul(ctx, x, cv), g, fxp_bits=x.fxp_bits)


def f_div_const(ctx: ProtocolContext, x: Value, c: float | np.ndarray) -> Value:
    """x / c for a public nonzero constant c."""
    c_arr = np.asarray(c, dtype=np.float64)
    if np.any(c_arr == 0):
        raise ZeroDivisionError("hal.f_div_const: division by a public zero")
    return f_mul_const(ctx, x, 1.0 / c_arr)


def floor_int(ctx: ProtocolContext, x: Value, bits: int | None = None) -> Value:
    """floor(x / 2^bits) as an exact INT Value (bits default: x.fxp_bits).

    Secret: probabilistic truncation gives q within 1 of the floor; r = x - q * 2^bits then tells
    which way to correct ([r < 0] and [r >= 2^bits]) in one batched sign test.
    """
    b = x.fxp_bits if bits is None else bits
    q = hr._trunc(ctx, x, b, dtype=INT, fxp_bits=0)
    if not x.is_secret or b == 0:
        return q
    raw = hr.make(x, x.payload, dtype=INT, fxp_bits=0)
    r = hr._sub(ctx, raw, hr._lshift(ctx, q, b, fxp_bits=0))
    top = hr.public(ctx, hr.ring_int(ctx, (), (1 << b) - 1), INT)
    over = hr._sub(ctx, top, r)
    low, high = split_flat(hb._msb(ctx, concat_flat([r, over])), [r, over])
    return hr._add(ctx, hr._sub(ctx, q, low, dtype=INT), high, dtype=INT)


def f_floor(ctx: ProtocolContext, x: Value) -> Value:
    """Largest integer <= x, same encoding (exact)."""
    if x.dtype is not FXP or x.fxp_bits == 0:
        return x
    return hr._lshift(ctx, floor_int(ctx, x), x.fxp_bits, dtype=FXP, fxp_bits=x.fxp_bits)


def f_ceil(ctx: ProtocolContext, x: Value) -> Value:
    """Smallest integer >= x (= -floor(-x)), exact."""
    return hr._neg(ctx, f_floor(ctx, hr._neg(ctx, x)))


def trunc_int(ctx: ProtocolContext, x: Value) -> Value:
    """x rounded toward zero, as an INT Value (JAX float -> int conversion)."""
    if x.dtype is not FXP:
        return hr.make(x, x.payload, dtype=INT, fxp_bits=0)
    neg = hb._msb(ctx, x)
    bias = hr._mul_int(ctx, hr.make(neg, neg.payload, dtype=INT), (1 << x.fxp_bits) - 1)
    return floor_int(ctx, hr._add(ctx, x, bias, dtype=FXP, fxp_bits=x.fxp_bits))


def f_trunc(ctx: ProtocolContext, x: Value) -> Value:
    """x rounded toward zero (jnp.trunc), same encoding."""
    if x.dtype is not FXP:
        return x
    return hr._lshift(ctx, trunc_int(ctx, x), x.fxp_bits, dtype=FXP, fxp_bits=x.fxp_bits)


def f_round(ctx: ProtocolContext, x: Value, to_even: bool = True) -> Value:
    """Round to nearest integer; ties to even (jnp.round) or away from zero (lax.round default)."""
    if x.dtype is not FXP or x.fxp_bits == 0:
        return x
    fb = x.fxp_bits
    half = hr.public(ctx, hr.ring_int(ctx, (), 1 << (fb - 1)), FXP, fb)
    if not to_even:
        neg = hb._msb(ctx, x)
        shifted = hr._sub(ctx, hr._add(ctx, x, half), hr.make(neg, neg.payload, dtype=INT), fxp_bits=fb)
        return hr._lshift(
            ctx, floor_int(ctx, hr.make(shifted, shifted.payload, dtype=FXP)), fb, dtype=FXP, fxp_bits=fb
        )
    y = hr._add(ctx, x, half)
    q = floor_int(ctx, y)
    rem = hr._sub(ctx, hr.make(y, y.payload, dtype=INT, fxp_bits=0), hr._lshift(ctx, q, fb, fxp_bits=0))
    tie = hb._eqz(ctx, rem)
    odd = hr._sub(ctx, q, hr._lshift(ctx, floor_int(ctx, q, 1), 1, fxp_bits=0))
    fixed = hr._sub(ctx, q, hr._mul(ctx, tie, odd, dtype=INT), dtype=INT)
    return hr._lshift(ctx, fixed, fb, dtype=FXP, fxp_bits=fb)
