"""Square root and reciprocal square root: normalisation, a minimax polynomial, one scale product.

x = y 2^e with y in [0.5, 1]: sqrt(x) = sqrt(y) 2^(e/2) and rsqrt(x) = y^(-1/2) 2^(-e/2). The
scale 2^(+-e/2) (with its sqrt(2) for odd e) comes out of the normalisation in the same round
as y, so after the polynomial one product gives the result. SPU instead runs Newton steps from a
polynomial guess (rsqrt) and sqrt = x * rsqrt(x); veil's direct polynomials are as accurate
with fewer rounds.
"""

from __future__ import annotations

import numpy as np

from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.approx._kit import as_fxp, check_budget, mul_batch, plain_map, poly_eval, pub_fxp, trunc_batch
from veil.hal.approx.normalize import Scale, hmax_of, normalize
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP = DType.FXP

# minimax (relative error) coefficients in u = y - 0.75, y in [0.5, 1]
_RSQRT6 = (  # 1.9e-6
    1.1547002202796817,
    -0.7698593033043786,
    0.7699658488709505,
    -0.847946583578091,
    0.9847246503200575,
    -1.423922708908206,
    1.7888472148217822,
)
_RSQRT8 = (  # 4.8e-8
    1.1547005469069214,
    -0.769798381257256,
    0.7697934820135169,
    -0.8557491750650035,
    0.9987659977137848,
    -1.1741507496939152,
    1.4250386064969212,
    -2.284175268289882,
    2.9354973403449622,
)
_SQRT5 = (  # 1.1e-6
    0.8660245581066887,
    0.577359102775893,
    -0.19220675908471244,
    0.12753377101225633,
    -0.11707514092090492,
    0.11701907362886395,
)
_SQRT8 = (  # 2.9e-9
    0.8660254026670626,
    0.5773501878040201,
    -0.19244942288442887,
    0.128317341977052,
    -0.10698243253741223,
    0.09880911443250068,
    -0.09749313499276926,
    0.12465321774304865,
    -0.14558216190594406,
)


def _scaled_poly(
    ctx: ProtocolContext,
    x: Value,
    alpha: float,
    coeffs: tuple[float, ...],
    bits: tuple[int, int, int],
    at_zero: float | None,
) -> Value:
    """P(y - 3/4) * 2^(alpha e) for x = y 2^e; bits = (y, polynomial output, scale)."""
    by, bp, bh = bits
    nz = normalize(ctx, x, y_bits=by, scales=[Scale(alpha, bh, at_zero=at_zero)])
    u = hr._sub(ctx, nz.y, pub_fxp(ctx, 0.75, by), dtype=FXP, fxp_bits=by)
    p = poly_eval(ctx, u, coeffs, bp, bound=0.25)
    top = max(alpha * (h + 1 - ctx.config.f) for h in (0, hmax_of(ctx.config)))
    check_budget(ctx, 0.6 + bp + top + bh, "sqrt/rsqrt scale product")
    prod = mul_batch(ctx, [(p, nz.scales[0])])
    return trunc_batch(ctx, prod, bp + bh - ctx.config.f)[0]


def rsqrt_polynomial(ctx: ProtocolContext, x: Value) -> Value:
    """1/sqrt(x) = P(y - 3/4) 2^(-e/2), P minimax of degree 6 (FM64) / 8 (FM128) on [0.5, 1].

    Valid: 2^-f <= x < 2^30 (FM64; 2^40 on FM128); x = 0 gives rsqrt(2^-f) = 2^(f/2).
    Error (measured, semi2k): relative <= 4e-6 plus 1 LSB (FM64), max abs 1.2e-5 on (0.1, 10).
    Cost (2PC semi2k FM64): normalisation + the polynomial (cube opening, 1 truncation,
    1 product level) + 1 scale product: 16 rounds, 323 B per element per party (SPU: 26
    rounds, 429 B).
    Source: SPU's rsqrt (normalise by the highest bit, polynomial on the mantissa).
    """
    f = ctx.config.f
    if ctx.k == 64:
        return _scaled_poly(ctx, x, -0.5, _RSQRT6, (f + 2, f + 2, f + 12), None)
    return _scaled_poly(ctx, x, -0.5, _RSQRT8, (f + 10, f + 12, f + 14), None)


def sqrt_polynomial(ctx: ProtocolContext, x: Value) -> Value:
    """sqrt(x) = Q(y - 3/4) 2^(e/2), Q minimax of degree 5 (FM64) / 8 (FM128) on [0.5, 1].

    Valid: 0 <= x < 2^30 (FM64; 2^40 on FM128); sqrt(0) = 0 exactly; x < 0 is undefined.
    Error (measured, semi2k): relative <= 2e-6 plus 1-2 LSB (FM64), max abs 1.1e-5 on (0.1, 10).
    Cost (2PC semi2k FM64): as rsqrt, 16 rounds, 307 B (SPU: 35 rounds, 513 B).
    """
    f = ctx.config.f
    if ctx.k == 64:
        return _scaled_poly(ctx, x, 0.5, _SQRT5, (f + 2, f + 5, f + 5), 0.0)
    return _scaled_poly(ctx, x, 0.5, _SQRT8, (f + 10, f + 12, f + 14), 0.0)


def f_rsqrt(ctx: ProtocolContext, x: Value) -> Value:
    """1/sqrt(x) for x > 0 (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, lambda v: 1.0 / np.sqrt(v), x)
    if local is not None:
        return local
    return rsqrt_polynomial(ctx, as_fxp(ctx, x))


def f_sqrt(ctx: ProtocolContext, x: Value) -> Value:
    """sqrt(x) for x >= 0 (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, np.sqrt, x)
    if local is not None:
        return local
    return sqrt_polynomial(ctx, as_fxp(ctx, x))
