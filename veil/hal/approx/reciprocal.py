"""Reciprocal and division: Goldschmidt iterations after normalisation (SPU's default method)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from veil.config import ReciprocalMode
from veil.dtypes import DType
from veil.errors import ConfigError
from veil.hal import ring as hr
from veil.hal.approx._kit import as_fxp, check_budget, mul_batch, plain_map, pub_fxp, trunc_batch
from veil.hal.approx.normalize import Scale, normalize
from veil.hal.fxp import decode_public, f_div_const, f_mul
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP = DType.FXP
INIT_A = 2.928203230275509  # -4 + sqrt(48): w0 = a - 2y is minimax for slope 2 on [0.5, 1], |e0| <= 0.0718


def _bits(ctx: ProtocolContext) -> tuple[int, int, int]:
    """(bits of y and e_i, bits of the scale 2^-e, bits of the running product) for the ring."""
    f = ctx.config.f
    if ctx.k == 64:
        return f + 2, f + 4, f + 4
    return f + 10, f + 14, f + 14


def reciprocal_goldschmidt(
    ctx: ProtocolContext, x: Value, iters: int | None = None, out_bits: int | None = None, signed: bool = True
) -> Value:
    """1/x by Goldschmidt's iteration after normalising |x| = y 2^e, y in [0.5, 1].

    Formula: w = a - 2y (a = 2.9282, exact: no truncation), e_0 = 1 - y w, and
    1/x = sign(x) 2^-e w (1 + e_0)(1 + e_0^2)...(1 + e_0^(2^(n-1))) = (1 - e_0^(2^n)) / x.
    The scale sign(x) 2^-e comes out of the normalisation and joins w in the first round, so the
    n iterations cost n + 1 product rounds after normalising.
    Valid: 2^-f <= |x| < 2^30 (FM64; 2^40 on FM128); 1/x underflows to 0 above 2^(f+4); x = 0 -> 0.
    Error (measured, n = 2, semi2k): relative <= 3e-5 (|e_0|^4 = 2.7e-5) plus 1-2 LSB; max abs
    1.9e-4 on [0.1, 10] (SPU: 4e-4). n = 3: relative 3e-6 (FM64), 2e-7 (FM128).
    Cost (2PC semi2k FM64, n = 2): 16 rounds, 405 B per element sent by each party (SPU: 36
    rounds, 505 B): 19 sign tests (5 coarse for each sign, the sign, 8 fine), 5 product rounds.
    `signed=False` (x known >= 0, e.g. 1 + exp(-z)): 13 sign tests instead of 19.
    Source: SPU `reciprocal_goldschmidt` (normalise by the highest bit, then Goldschmidt);
    veil finds the highest bit with a two-stage thermometer of sign tests.
    """
    n = ctx.config.approx.reciprocal_iters if iters is None else iters
    by, bh, bu = _bits(ctx)
    nz = normalize(ctx, x, y_bits=by, scales=[Scale(-1.0, bh, signed=signed)], signed=signed)
    y, scale = nz.y, nz.scales[0]
    two_y = hr._lshift(ctx, y, 1, fxp_bits=by)
    w = hr._sub(ctx, pub_fxp(ctx, INIT_A, by), two_y, dtype=FXP, fxp_bits=by)
    return _goldschmidt_chain(ctx, y, w, scale, n, bu, ctx.config.f if out_bits is None else out_bits)


def _goldschmidt_chain(
    ctx: ProtocolContext, y: Value, w: Value, scale: Value, n: int, bu: int, out: int
) -> Value:
    """scale * w * prod_i (1 + e_0^(2^i)) with e_0 = 1 - y w; one truncation shift per round."""
    f, by = ctx.config.f, y.fxp_bits
    check_budget(ctx, 1.0 + by + scale.fxp_bits + f, "reciprocal scale product")
    shift = by + scale.fxp_bits - bu  # the same shift for e_0 and w * scale: one truncation call
    be = 2 * by - shift
    yw, wh = mul_batch(ctx, [(y, w), (w, scale)])
    one = pub_fxp(ctx, 1.0, 2 * by)
    e = hr._sub(ctx, one, yw, dtype=FXP, fxp_bits=2 * by)
    e, u = trunc_batch(ctx, [e, wh], shift)  # e at be bits, u at bu bits
    one_e = pub_fxp(ctx, 1.0, be)
    for i in range(n):
        factor = hr._add(ctx, e, one_e, dtype=FXP, fxp_bits=be)
        last = i == n - 1
        check_budget(ctx, f + 1 + bu + be, "reciprocal chain")
        pairs = [(u, factor)] if last else [(u, factor), (e, e)]
        prods = mul_batch(ctx, pairs)
        if last:
            return trunc_batch(ctx, prods, bu + be - out)[0]
        u, e = trunc_batch(ctx, prods, be)
        u = hr.make(u, u.payload, fxp_bits=bu)
        e = hr.make(e, e.payload, fxp_bits=be)
    return trunc_batch(ctx, [u], bu - out)[0]  # n == 0: the initial estimate only


def div_goldschmidt(
    ctx: ProtocolContext, x: Value, d: Value, iters: int | None = None, signed: bool = True
) -> Value:
    """x / d with d = sign 2^e y normalised: x 2^-e sign times the Goldschmidt product for 1/y.

    x 2^-e joins the first round (next to e_0), the Goldschmidt product w (1 + e_0)... stays in
    [1, 2] with relative precision, and one last product combines them: the result keeps the
    relative precision of x / d instead of x times an absolute-precision 1/d.
    Valid: d as for the reciprocal, |x / d| < 2^20 (FM64; 2^60 on FM128).
    Error (measured, n = 2, semi2k FM64): relative 3e-5 plus 1-2 LSB.
    Cost: the reciprocal's normalisation + n + 2 product rounds (semi2k FM64, n = 2: 18 rounds,
    425 B per element per party; SPU's division: 38 rounds, 525 B).
    """
    n = ctx.config.approx.reciprocal_iters if iters is None else iters
    by, bh, _ = _bits(ctx)
    shape = tuple(np.broadcast_shapes(x.shape, d.shape))
    x, d = hr.bcast(x, shape), hr.bcast(d, shape)
    nz = normalize(ctx, d, y_bits=by, scales=[Scale(-1.0, bh, signed=signed)], signed=signed)
    return goldschmidt_quotient(ctx, x, nz.y, nz.scales[0], n)


def goldschmidt_quotient(
    ctx: ProtocolContext,
    x: Value,
    y: Value,
    scale: Value,
    n: int,
    widen: Callable[[Value], Value] = lambda v: v,
) -> Value:
    """x * scale / y for y normalised into [1/2, 1) with `by` bits: the shared Goldschmidt chain.

    `scale` is the divisor's sign times 2^-e (y's shape); `widen` maps y-shaped values to x's
    shape (identity for elementwise division, a broadcast for `div_bcast`), so the chain runs on
    the divisor's elements and only the two products involving x run at x's size.
    """
    f = ctx.config.f
    by, bh, _ = _bits(ctx)
    w = hr._sub(ctx, pub_fxp(ctx, INIT_A, by), hr._lshift(ctx, y, 1, fxp_bits=by), dtype=FXP, fxp_bits=by)
    shift = x.fxp_bits + bh - by
    be = 2 * by - shift
    yw, xh = mul_batch(ctx, [(y, w), (x, widen(scale))])
    e = hr._sub(ctx, pub_fxp(ctx, 1.0, 2 * by), yw, dtype=FXP, fxp_bits=2 * by)
    e, xh = trunc_batch(ctx, [e, xh], shift)
    r = w
    one_e = pub_fxp(ctx, 1.0, be)
    for i in range(n):
        factor = hr._add(ctx, e, one_e, dtype=FXP, fxp_bits=be)
        pairs = [(r, factor)] if i == n - 1 else [(r, factor), (e, e)]
        outs = trunc_batch(ctx, mul_batch(ctx, pairs), be)
        r = outs[0]
        if i < n - 1:
            e = outs[1]
    return trunc_batch(ctx, mul_batch(ctx, [(xh, widen(r))]), 2 * by - f)[0]


def f_reciprocal(ctx: ProtocolContext, x: Value, nonneg: bool = False) -> Value:
    """1/x with the configured method (PUBLIC/PRIVATE inputs: exact float64); `nonneg`: x is
    known to be >= 0 (the sign tests for negative values are skipped)."""
    local = plain_map(ctx, lambda v: 1.0 / v, x)
    if local is not None:
        return local
    mode = ctx.config.approx.reciprocal
    if mode is ReciprocalMode.GOLDSCHMIDT:
        return reciprocal_goldschmidt(ctx, as_fxp(ctx, x), signed=not nonneg)
    raise ConfigError(f"f_reciprocal: unknown reciprocal mode {mode!r}; use 'goldschmidt'")


def f_div(ctx: ProtocolContext, x: Value, y: Value, nonneg: bool = False) -> Value:
    """x / y: a public y divides by a constant; a secret y uses `div_goldschmidt`.

    A PRIVATE y is inverted by its owner in plaintext, then multiplied in.
    Valid while |x / y| < 2^20 (FM64). Error (measured, semi2k FM64): relative 3e-5 plus a few
    LSB. Cost: 18 rounds (SPU: 38).
    """
    local = plain_map(ctx, np.divide, x, y)
    if local is not None:
        return local
    x = as_fxp(ctx, x)
    if y.is_public:
        return f_div_const(ctx, x, decode_public(y))
    if y.is_secret and ctx.config.approx.reciprocal is ReciprocalMode.GOLDSCHMIDT:
        return div_goldschmidt(ctx, x, as_fxp(ctx, y), signed=not nonneg)
    return f_mul(ctx, x, f_reciprocal(ctx, y, nonneg))
