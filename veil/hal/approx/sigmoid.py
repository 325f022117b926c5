"""Sigmoid (logistic): exact form 1/(1 + exp(-x)), piecewise-linear segments, or a polynomial.

The exact and polynomial forms use the symmetry sigmoid(x) = 1 - sigmoid(-x): one batched sign
test gives [x < 0] and the clamp bits, u = min(|x|, T) costs one product, and the answer for
negative x is 1 - sigmoid(u) (one product with the sign bit, no truncation). On u >= 0,
exp(-u) lies in (0, 1], so the reciprocal 1/(1 + exp(-u)) runs on the known range [1, 2]
without normalisation.
"""

from __future__ import annotations

import numpy as np

from veil.config import SigmoidMode
from veil.dtypes import DType
from veil.errors import ConfigError
from veil.hal import ring as hr
from veil.hal.approx._kit import (
    as_fxp,
    as_int,
    lincomb,
    msb_rows,
    mul_batch,
    plain_map,
    poly_eval,
    pub_fxp,
    round_scaled,
    row,
    trunc_batch,
    with_bits,
)
from veil.hal.approx.exp import exp_nonpositive, exp_range
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP, INT = DType.FXP, DType.INT

# 1/(1 + t) on t in [0, 1], minimax relative error, in v = t - 1/2
_INV7 = (  # 1.5e-6
    0.6666656654451206,
    -0.4444437770174256,
    0.2964240075150598,
    -0.19761600328280143,
    0.12918088254579946,
    -0.08612060217618095,
    0.07381767642999325,
    -0.04921175272424231,
)
_INV11 = (  # 1.3e-9
    0.6666666657990564,
    -0.44444444386611137,
    0.29629654578224623,
    -0.1975310305155923,
    0.131675693018015,
    -0.0877837954774461,
    0.058721538707630416,
    -0.039147691264753,
    0.024563254748181287,
    -0.016375507991707658,
    0.016375510624417715,
    -0.010917000064406397,
)
# sigmoid(u) on u in [0, 10], minimax absolute error 1.5e-4, in v = (u - 5) / 8
_SIG_POLY_T = 10.0
_SIG_POLY = (
    0.9932740136271238,
    0.05547821718359716,
    -0.2061174820407916,
    0.4507622113052835,
    -1.072492906391923,
    2.5125087944095945,
    -1.6539909018731107,
    -3.606361459165651,
    4.277479555726561,
)
# segments: knots +-k, minimax line per segment (0.5 + b x through 0), constant beyond the last
_SEG_KNOTS = (0.9889209452034016, 1.8606400817458177, 2.916392729918176, 4.753067857887645)
_SEG_LINES = (
    (0.5, 0.23597107177944657),
    (0.5785080693440271, 0.15658346304018747),
    (0.7230835006295743, 0.07888147589232286),
    (0.8851758810282382, 0.023301725508175018),
    (0.9957242820436211, 0.0),
)


def abs_clamp(ctx: ProtocolContext, x: Value, t: float) -> tuple[Value, Value]:
    """([x < 0] as INT 0/1, min(|x|, t) as FXP with x's bits): one sign-test batch, one product.

    u = x s + t ([x < -t] + [x > t]) with s = 1 - 2[x < 0] - [x > t] + [x < -t] in {-1, 0, 1}.
    """
    te = round_scaled(t, x.fxp_bits)
    bits = msb_rows(ctx, x, [1, 1, -1], [0, te, te])  # [x < 0], [x < -t], [x > t]
    s = lincomb(ctx, bits, [-2, 1, -1], 1)
    out = lincomb(ctx, bits, [0, te, te], 0, fxp_bits=x.fxp_bits, dtype=FXP)
    xs = mul_batch(ctx, [(as_int(x), s)])[0]
    u = hr._add(
        ctx, hr.make(xs, xs.payload, dtype=FXP, fxp_bits=x.fxp_bits), out, dtype=FXP, fxp_bits=x.fxp_bits
    )
    return row(bits, 0, INT), u


def reflect(ctx: ProtocolContext, neg: Value, s: Value, odd: bool) -> Value:
    """Undo the symmetry: odd: s (1 - 2 neg); sigmoid-like: s + neg (1 - 2 s). One product."""
    if odd:
        diff = hr._mul_int(ctx, s, -2)
    else:
        one = pub_fxp(ctx, 1.0, s.fxp_bits)
        diff = hr._sub(ctx, one, hr._lshift(ctx, s, 1, fxp_bits=s.fxp_bits), dtype=FXP, fxp_bits=s.fxp_bits)
    flip = mul_batch(ctx, [(neg, diff)])[0]
    return hr._add(
        ctx, s, hr.make(flip, flip.payload, dtype=FXP, fxp_bits=s.fxp_bits), dtype=FXP, fxp_bits=s.fxp_bits
    )


def inv_one_plus(ctx: ProtocolContext, e: Value, out_bits: int) -> Value:
    """1 / (1 + e) for e in [0, 1]: minimax polynomial in e - 1/2 (degree 7 FM64, 11 FM128)."""
    coeffs = _INV7 if ctx.k == 64 else _INV11
    v = hr._sub(ctx, e, pub_fxp(ctx, 0.5, e.fxp_bits), dtype=FXP, fxp_bits=e.fxp_bits)
    return poly_eval(ctx, v, coeffs, out_bits, bound=0.5)


def sigmoid_exact(ctx: ProtocolContext, x: Value) -> Value:
    """1 / (1 + exp(-x)) via the symmetry: u = min(|x|, T), s = 1/(1 + exp(-u)), flip for x < 0.

    T = (f+1) ln 2 (exp(-T) is half an LSB). exp uses the configured method on [-T, 0]; the
    reciprocal on [1, 2] is a degree-7 minimax polynomial (relative error 1.5e-6).
    Error (measured, semi2k FM64): max abs 8.6e-4 with exp TAYLOR (from exp's own error near
    |x| = 2; SPU: 1e-3), 6.3e-6 with exp PADE (FM128: 4.7e-8). Cost (2PC semi2k FM64, TAYLOR):
    1 sign-test batch, 1 product, exp (16 rounds), 3 product rounds, 1 product: 27 rounds,
    275 B per element per party (SPU: 53 rounds, 605 B); with PADE 26 rounds, 367 B.
    """
    f = ctx.config.f
    neg, u = abs_clamp(ctx, x, -exp_range(ctx.config)[0])
    e = exp_nonpositive(ctx, hr._neg(ctx, u), out_bits=f + 4)
    s = inv_one_plus(ctx, e, f)
    return reflect(ctx, neg, s, odd=False)


def sigmoid_polynomial(ctx: ProtocolContext, x: Value) -> Value:
    """sigmoid(x) ~ P(min(|x|, 10)), P of degree 8 on [0, 10] (minimax), flipped for x < 0.

    Valid: all x. Error (measured): max abs 1.6e-4 (fit 1.5e-4, tail 4.5e-5).
    Cost (2PC semi2k FM64): 1 sign-test batch + 1 + 3 + 1 product rounds: 11 rounds, ~200 B.
    """
    f = ctx.config.f
    neg, u = abs_clamp(ctx, x, _SIG_POLY_T)
    b = f + 3 if ctx.k == 64 else f + 12  # FM64: lets the last power level skip its truncation
    v = hr._sub(ctx, with_bits(ctx, u, b - 3), pub_fxp(ctx, 5.0, b - 3), dtype=FXP, fxp_bits=b - 3)
    v = hr.make(v, v.payload, fxp_bits=b)  # (u - 5) / 8: the same ring value with 3 more bits
    s = poly_eval(ctx, v, _SIG_POLY, f, bound=0.625)
    return reflect(ctx, neg, s, odd=False)


def sigmoid_segments(ctx: ProtocolContext, x: Value) -> Value:
    """Piecewise linear: 8 knots +-k, the minimax line on each segment, 0 / 1 beyond +-4.75.

    All segments' lines combine into slope(x) x + offset(x), where slope and offset are public
    combinations of the sign-test bits: one product. Valid: all x. Error (measured): max abs
    4.5e-3. Cost (2PC semi2k FM64): 1 sign-test batch (8 tests), 1 product, 1 truncation:
    5 rounds, 123 B.
    """
    f = ctx.config.f
    knots = [-k for k in reversed(_SEG_KNOTS)] + list(_SEG_KNOTS)
    lines = [(1.0 - a, b) for a, b in reversed(_SEG_LINES)] + list(_SEG_LINES[1:])
    ke = [round_scaled(k, f) for k in knots]
    bits = msb_rows(ctx, x, [-1] * len(ke), [k - 1 for k in ke])  # [x >= k]
    g = f + 12
    slopes = [round_scaled(b, g) for _, b in lines]
    offsets = [round_scaled(a, f + g) for a, _ in lines]
    slope = lincomb(
        ctx, bits, [slopes[i] - slopes[i - 1] for i in range(1, len(lines))], slopes[0], fxp_bits=g, dtype=FXP
    )
    offset = lincomb(
        ctx,
        bits,
        [offsets[i] - offsets[i - 1] for i in range(1, len(lines))],
        offsets[0],
        fxp_bits=f + g,
        dtype=FXP,
    )
    total = hr._add(ctx, mul_batch(ctx, [(x, slope)])[0], offset, dtype=FXP, fxp_bits=f + g)
    return trunc_batch(ctx, [total], g)[0]


def f_sigmoid(ctx: ProtocolContext, x: Value) -> Value:
    """sigmoid(x) with the configured method (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, lambda v: 0.5 * (1.0 + np.tanh(0.5 * v)), x)
    if local is not None:
        return local
    x = as_fxp(ctx, x)
    mode = ctx.config.approx.sigmoid
    if mode is SigmoidMode.EXACT:
        return sigmoid_exact(ctx, x)
    if mode is SigmoidMode.SEGMENTS:
        return sigmoid_segments(ctx, x)
    if mode is SigmoidMode.POLYNOMIAL:
        return sigmoid_polynomial(ctx, x)
    raise ConfigError(f"f_sigmoid: unknown sigmoid mode {mode!r}; use exact, segments or polynomial")
