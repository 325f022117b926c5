"""Integer ops (i_*) on INT Values: ring arithmetic plus division/remainder by public divisors.

JAX integer division truncates toward zero and `rem` takes the dividend's sign; veil matches
that. Secret / public division: a reciprocal estimate, an exact floor, and one batched sign
test to correct it (exact for |x| < 2^(k/2 - 2)). Secret divisors are not supported.
"""

from __future__ import annotations

import numpy as np

from veil.dtypes import DType
from veil.errors import UnsupportedOpError
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.compare import msb_many
from veil.hal.fxp import floor_int
from veil.hal.value import Value
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

INT = DType.INT


def i_add(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return hr._add(ctx, x, y, dtype=INT, fxp_bits=0)


def i_sub(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return hr._sub(ctx, x, y, dtype=INT, fxp_bits=0)


def i_mul(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return hr._mul(ctx, x, y, dtype=INT, fxp_bits=0)


def i_neg(ctx: ProtocolContext, x: Value) -> Value:
    return hr._neg(ctx, x)


def _pub(ctx: ProtocolContext, ints: np.ndarray) -> Value:
    return Value(tuple(ints.shape), INT, hr.PUBLIC, 0, R.from_int64(ctx.field, ints.astype(np.int64)))


def _plain_div(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Truncating int64 division; x / 0 = -1 like XLA."""
    safe = np.where(c == 0, 1, c)
    q = np.abs(a) // np.abs(safe) * np.sign(a) * np.sign(safe)
    return np.where(c == 0, -1, q)


def i_div(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """x / y rounded toward zero (lax.div on ints). y must be public unless x is public too."""
    if not y.is_public:
        raise UnsupportedOpError(
            "div",
            hint="integer division by a secret divisor is not supported: divide as floats "
            "(x.astype(float) / y) or make the divisor public",
        )
    c = np.broadcast_to(R.to_int64(y.payload), tuple(np.broadcast_shapes(x.shape, y.shape)))
    if not x.is_secret:
        out = None if x.payload is None else R.from_int64(ctx.field, _plain_div(R.to_int64(x.payload), c))
        return hr.make(hr.bcast(x, c.shape), out, dtype=INT, fxp_bits=0)
    if np.any(c == 0):
        raise ZeroDivisionError("hal.i_div: integer division of a secret by a public zero")
    x = hr.bcast(x, c.shape)
    ac = np.abs(c)
    g = ctx.k // 2 - 2
    t = hr._mul(ctx, x, _pub(ctx, np.rint(2.0**g / ac).astype(np.int64)), dtype=INT, fxp_bits=0)
    q = floor_int(ctx, t, g)  # floor(x / |c|) up to +-1
    r = i_sub(ctx, x, i_mul(ctx, q, _pub(ctx, ac)))
    low, high, neg = msb_many(ctx, [r, i_sub(ctx, _pub(ctx, ac - 1), r), x])
    q = hr._add(ctx, hr._sub(ctx, q, low, dtype=INT), high, dtype=INT)
    r = i_sub(ctx, r, i_mul(ctx, hr._sub(ctx, high, low, dtype=INT), _pub(ctx, ac)))
    nonzero = hr._sub(ctx, _pub(ctx, np.ones((), np.int64)), hb._eqz(ctx, r), dtype=INT)
    q = i_add(ctx, q, hr._mul(ctx, neg, nonzero, dtype=INT))  # floor -> toward zero when x < 0
    return i_mul(ctx, q, _pub(ctx, np.sign(c)))


def i_rem(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """x - y * (x / y) with truncating division (sign of the dividend, like lax.rem)."""
    if x.is_public and y.is_public:
        a, c = R.to_int64(x.payload), R.to_int64(y.payload)
        return _pub(ctx, a - c * _plain_div(a, c))
    return i_sub(ctx, x, i_mul(ctx, y, i_div(ctx, x, y)))
