"""Polynomial evaluation with few rounds: powers in log depth, one truncation for the sum.

polynomial(x, c) = sum_i c_i x^i. Powers x^2..x^d are built in ceil(log2 d) rounds of batched
fixed-point products (round r computes x^(2^r + j) = x^(2^r) * x^j for j <= 2^r, all at once),
each power truncated once; the public-coefficient combination is local and truncated once.
Cost (secret x): ceil(log2 d) batched mul+trunc rounds + 1 truncation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.fxp import constant, decode_public, f_mul, to_fxp
from veil.hal.layout import concat_flat, split_flat
from veil.hal.value import Value
from veil.mpc import fxp_codec
from veil.mpc.context import ProtocolContext


def powers(ctx: ProtocolContext, x: Value, degree: int) -> dict[int, Value]:
    """{i: x^i} for i = 1..degree (FXP, f bits each) in ceil(log2(degree)) batched product rounds."""
    if x.dtype is not DType.FXP or x.fxp_bits != ctx.config.f:
        x = to_fxp(ctx, x)
    out = {1: x}
    top = 1
    while top < degree:
        js = list(range(1, min(top, degree - top) + 1))
        if len(js) == 1:
            out[top + 1] = f_mul(ctx, out[top], out[1])
        else:
            left = concat_flat([out[top]] * len(js))
            right = concat_flat([out[j] for j in js])
            prods = split_flat(f_mul(ctx, left, right), [out[j] for j in js])
            out.update({top + j: p for j, p in zip(js, prods)})
        top = min(2 * top, degree)
    return out


def polynomial(
    ctx: ProtocolContext, x: Value, coeffs: Sequence[float], coeff_bits: int | None = None
) -> Value:
    """sum_i coeffs[i] * x^i as FXP with f bits; `coeff_bits` (default f) encodes the coefficients.

    Public x is evaluated in float64 and re-encoded (free). The sum is held with f + coeff_bits
    fraction bits before its single truncation, so keep |sum| well below 2^(k - 2 - f - coeff_bits).
    """
    f = ctx.config.f
    g = f if coeff_bits is None else coeff_bits
    cs = [float(c) for c in coeffs]
    if not cs:
        raise ValueError("hal.polynomial: empty coefficient list")
    if x.is_public:
        return constant(ctx, np.polynomial.polynomial.polyval(decode_public(x), cs), x.shape)
    degree = max((i for i, c in enumerate(cs) if c != 0.0), default=0)
    if degree == 0:
        return hr._add(ctx, hr._mul_int(ctx, to_fxp(ctx, x), 0), constant(ctx, cs[0]))
    pw = powers(ctx, x, degree)
    acc: Value | None = None
    for i in range(1, degree + 1):
        if cs[i] == 0.0:
            continue
        c = Value((), DType.FXP, hr.PUBLIC, g, fxp_codec.encode_fxp(ctx.field, np.float64(cs[i]), g))
        term = hr._mul(ctx, pw[i], c)
        acc = term if acc is None else hr._add(ctx, acc, term)
    if acc is None:  # unreachable: degree > 0 has a nonzero coefficient
        raise ValueError("hal.polynomial: no nonzero coefficient")
    if cs[0] != 0.0:
        acc = hr._add(ctx, acc, constant(ctx, cs[0], fxp_bits=f + g))
    return hr._trunc(ctx, acc, g, fxp_bits=f)
