"""sin and cos: exact range reduction by a public 1/(2 pi), then one odd polynomial.

y = x / (2 pi) (+ 1/4 for cos) is formed with many fraction bits (a public product, no round).
One truncation gives an integer k within 1 of round(y) (in either direction, whatever the
protocol), so z = y - k lies in [-3/2, 3/2] and sin(2 pi z) = sin(2 pi y): the truncation's
error is a whole period and costs nothing. One batched sign test folds z into w in [-1/2, 1/2]
(w = z - [z > 1/2] + [z < -1/2]), a second truncation brings w to the working precision, and
sin(2 pi w) is a minimax odd polynomial on one period.
"""

from __future__ import annotations

import math

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.approx._kit import (
    as_fxp,
    as_int,
    check_budget,
    lincomb,
    msb_rows,
    plain_map,
    poly_eval,
    pub_int,
    round_scaled,
    trunc_batch,
)
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP, INT = DType.FXP, DType.INT

# sin(2 pi w) on w in [-0.502, 0.502], minimax absolute error; odd coefficients only
_SIN11 = (  # 1.0e-7
    0.0,
    6.283182700071528,
    0.0,
    -41.34141034980121,
    0.0,
    81.5959014813468,
    0.0,
    -76.5772021765636,
    0.0,
    41.19254575213748,
    0.0,
    -12.25076098321806,
)
_SIN15 = (  # 1.1e-11
    0.0,
    6.2831853067960814,
    0.0,
    -41.34170216709532,
    0.0,
    81.60524518807657,
    0.0,
    -76.70575732645045,
    0.0,
    42.05733128011753,
    0.0,
    -15.084334285988813,
    0.0,
    3.7753236810721744,
    0.0,
    -0.6143352401302613,
)


def _limits(ctx: ProtocolContext) -> tuple[int, int, int]:
    """(log2 of the largest |x|, extra bits F of 1/(2 pi), working bits b of w)."""
    f, k = ctx.config.f, ctx.k
    if k == 64:
        return 12, min(34, math.floor(k - 2.5 - 12 - f + 2.65)), f + 10
    return 30, min(38, math.floor(k - 2.5 - 30 - f + 2.65)), f + 14


def sin_polynomial(ctx: ProtocolContext, x: Value, phase: float = 0.0) -> Value:
    """sin(x + 2 pi phase): range reduction (truncation, sign test, truncation) + odd polynomial.

    Degree 11 on FM64 (fit 1e-7), 15 on FM128 (1e-11). Valid: |x| < 2^12 (FM64), 2^30
    (FM128); the reduction's angle error grows as |x| 2^-31 (FM64). Error (measured, semi2k):
    max abs 6e-6 on [-100, 100] (FM64), 2.3e-8 (FM128). Cost (2PC semi2k FM64): 2 truncations,
    1 sign-test batch (2 tests), 4 product rounds + 5 truncations: 14 rounds, 194 B per element
    per party. Source: veil.
    """
    f = ctx.config.f
    lx, fe, b = _limits(ctx)
    coeffs = _SIN11 if ctx.k == 64 else _SIN15
    check_budget(ctx, lx - 2.65 + f + fe + 0.1, "sin range reduction")
    g = f + fe  # fraction bits of y
    r = hr._mul(
        ctx, as_int(x), pub_int(ctx, round_scaled(1.0 / (2 * math.pi), fe), ()), dtype=FXP, fxp_bits=g
    )
    if phase:
        r = hr._add(ctx, r, pub_int(ctx, round_scaled(phase, g), ()), dtype=FXP, fxp_bits=g)
    k = trunc_batch(ctx, [r], g)[0]  # round(y) within 1
    z = hr._sub(
        ctx,
        r,
        hr._lshift(ctx, hr.make(k, k.payload, dtype=INT, fxp_bits=0), g, fxp_bits=0),
        dtype=FXP,
        fxp_bits=g,
    )
    half = 1 << (g - 1)
    bits = msb_rows(ctx, z, [-1, 1], [half, half])  # [z > 1/2], [z < -1/2]
    w = hr._add(
        ctx, z, lincomb(ctx, bits, [-(1 << g), 1 << g], 0, fxp_bits=g, dtype=FXP), dtype=FXP, fxp_bits=g
    )
    w = trunc_batch(ctx, [w], g - b)[0]
    return poly_eval(ctx, w, coeffs, f, bound=0.502)


def f_sin(ctx: ProtocolContext, x: Value) -> Value:
    """sin(x) (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, np.sin, x)
    if local is not None:
        return local
    return sin_polynomial(ctx, as_fxp(ctx, x))


def f_cos(ctx: ProtocolContext, x: Value) -> Value:
    """cos(x) = sin(x + pi/2): the quarter period is a public addition (PUBLIC/PRIVATE: float64)."""
    local = plain_map(ctx, np.cos, x)
    if local is not None:
        return local
    return sin_polynomial(ctx, as_fxp(ctx, x), phase=0.25)
