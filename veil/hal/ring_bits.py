"""Raw bit ops on HAL Values: sign bit, zero test and bitwise and/or/xor.

Part of the ring layer (with `veil.hal.ring`, the only HAL code that calls `veil.mpc.api`): the
same visibility dispatch as `hal.ring`, for ops whose secret kernels go through comparison
circuits or boolean shares. Split off `ring.py` only to keep each module small.
"""

from __future__ import annotations

import numpy as np

from veil.dtypes import DType
from veil.hal.ring import _binary, _unary
from veil.hal.value import Value
from veil.mpc import api
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext


def _msb(ctx: ProtocolContext, x: Value) -> Value:
    """The sign bit [x < 0] as a BOOL 0/1 Value (secret for secret input)."""
    return _unary(ctx, x, R.msb, lambda a: api.msb_s(ctx, a), dtype=DType.BOOL, fxp_bits=0)


def _eqz(ctx: ProtocolContext, x: Value) -> Value:
    """[x == 0] as a BOOL 0/1 Value."""

    def plain(a: np.ndarray) -> np.ndarray:
        eq = R.equal(a, R.zeros(R.field_of(a), a.shape))
        return R.from_int64(R.field_of(a), eq.astype(np.int64))

    return _unary(ctx, x, plain, lambda a: api.eqz_s(ctx, a), dtype=DType.BOOL, fxp_bits=0)


# ---------------------------------------------------------------------------------------------
# bitwise ops on integers (boolean shares for secrets)


def _bitwise(ctx: ProtocolContext, x: Value, y: Value, which: str) -> Value:
    """Bitwise and/or/xor of two integer Values (secret: a2b, boolean kernel, b2a)."""
    plain = {"and": R.and_, "or": R.or_, "xor": R.xor}[which]

    def ss(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ba, bb = api.a2b(ctx, a), api.a2b(ctx, b)
        if which == "and":
            return api.b2a(ctx, api.and_bb(ctx, ba, bb))
        if which == "xor":
            return api.b2a(ctx, api.xor_bb(ctx, ba, bb))
        both = api.and_bb(ctx, ba, bb)  # a | b = a ^ b ^ (a & b)
        return api.b2a(ctx, api.xor_bb(ctx, api.xor_bb(ctx, ba, bb), both))

    def sp(a: np.ndarray, p: np.ndarray) -> np.ndarray:
        ba = api.a2b(ctx, a)
        if which == "and":
            return api.b2a(ctx, api.and_bp(ctx, ba, p))
        if which == "xor":
            return api.b2a(ctx, api.xor_bp(ctx, ba, p))
        return api.b2a(ctx, api.xor_bp(ctx, api.and_bp(ctx, ba, R.not_(p)), p))  # a|p = (a & ~p) ^ p

    dtype = DType.BOOL if x.dtype is DType.BOOL and y.dtype is DType.BOOL else DType.INT
    return _binary(ctx, x, y, plain, ss, sp, lambda p, a: sp(a, p), dtype, 0)
