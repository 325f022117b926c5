"""Division by a broadcast divisor: x / broadcast(d) with d smaller than x (softmax's row sums).

The divisor is normalised and inverted once per element of d; only the two products that involve
x run at x's size. The frontend emits this (IR op `div_bcast`) for `x / d` whenever d is a
broadcast of a smaller value.
"""

from __future__ import annotations

from collections.abc import Sequence

from veil.config import ReciprocalMode
from veil.dtypes import DType
from veil.errors import ConfigError
from veil.hal import ring as hr
from veil.hal.approx._kit import as_fxp
from veil.hal.approx.normalize import Scale, normalize
from veil.hal.approx.reciprocal import _bits, goldschmidt_quotient
from veil.hal.shape import broadcast_in_dim
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP = DType.FXP


def div_bcast_goldschmidt(
    ctx: ProtocolContext,
    x: Value,
    d: Value,
    shape: Sequence[int],
    dims: Sequence[int],
    iters: int | None = None,
    signed: bool = True,
) -> Value:
    """x / broadcast_in_dim(d, shape, dims) by Goldschmidt's iteration on the small d.

    Formula (as `div_goldschmidt`): |d| = y 2^e normalised, w = a - 2y, e_0 = 1 - y w; the
    Goldschmidt product r = w (1 + e_0)(1 + e_0^2)... ~ 1/y stays in [1, 2] with relative
    precision, and x 2^-e sign(d) times r gives the quotient with the relative precision of x/d.
    Only x 2^-e (first round) and the last product run at x's size.
    Valid: 2^-f <= |d| < 2^30 (FM64; 2^40 on FM128), |x / d| < 2^20 (FM64; 2^60 on FM128).
    Error (measured, semi2k FM64, n = 2): relative 3e-5 plus 1-2 LSB, as the elementwise division.
    Cost: the same 18 rounds as the elementwise division (semi2k FM64 2PC, n = 2), but the
    normalisation (19 sign tests) and the chain run on d only: per element of x, 2 products and
    2 truncations (about 48 B per element per party instead of 425 B when d is 100x smaller).
    Source: SPU's Goldschmidt division, with the divisor's work shared by its broadcast.
    """
    n = ctx.config.approx.reciprocal_iters if iters is None else iters
    by, bh, _ = _bits(ctx)
    shape, dims = tuple(int(s) for s in shape), tuple(int(a) for a in dims)
    nz = normalize(ctx, d, y_bits=by, scales=[Scale(-1.0, bh, signed=signed)], signed=signed)
    return goldschmidt_quotient(
        ctx, x, nz.y, nz.scales[0], n, widen=lambda v: broadcast_in_dim(ctx, v, shape, dims)
    )


def f_div_bcast(
    ctx: ProtocolContext, x: Value, d: Value, shape: Sequence[int], dims: Sequence[int], nonneg: bool = False
) -> Value:
    """x / broadcast_in_dim(d, shape, dims) for a secret d, by the configured reciprocal method
    (`nonneg`: d is known to be >= 0, e.g. a sum of exps)."""
    x, d = as_fxp(ctx, hr.bcast(x, tuple(shape))), as_fxp(ctx, d)
    mode = ctx.config.approx.reciprocal
    if mode is ReciprocalMode.GOLDSCHMIDT:
        return div_bcast_goldschmidt(ctx, x, d, shape, dims, signed=not nonneg)
    raise ConfigError(f"f_div_bcast: unknown reciprocal mode {mode!r}; use 'goldschmidt'")
