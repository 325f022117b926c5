"""exp and expm1: SPU's Taylor form (default) and an accurate clamped method (PADE mode)."""

from __future__ import annotations

import math

import numpy as np

from veil.config import ExpMode, RuntimeConfig
from veil.dtypes import DType
from veil.errors import ConfigError
from veil.hal import ring as hr
from veil.hal.approx._kit import (
    as_fxp,
    mul_batch,
    plain_map,
    poly_eval,
    pub_fxp,
    pub_int,
    round_scaled,
    trunc_batch,
    with_bits,
)
from veil.hal.approx.exp_prime import exp_prime
from veil.hal.compare import clamp
from veil.hal.fxp import constant
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP = DType.FXP

# minimax coefficients (relative error) of e^t, t = x / 2^m on the clamped range; see exp_pade
_EXP_FM64 = (
    4,
    (  # m = 4, t in [-0.833, 1.112], relative error 8.2e-9
        1.0000000033883591,
        0.9999999327413587,
        0.49999978763703873,
        0.16666757045220237,
        0.04166835264036889,
        0.008329910377934291,
        0.0013848921334415343,
        0.00020355420035450544,
        2.7840280738655743e-05,
    ),
)
_EXP_FM128 = (
    6,
    (  # m = 6, t in [-0.302, 0.805], relative error 1.7e-9
        1.0000000016721005,
        1.0000000069943813,
        0.49999977100636606,
        0.16666645972718047,
        0.04167169622976666,
        0.008329889329401485,
        0.0013600288516574383,
        0.00025296284456016727,
    ),
)


def exp_range(config: RuntimeConfig) -> tuple[float, float]:
    """(lo, hi): below lo exp(x) < 2^-(f+1) rounds to 0; above hi a squaring would overflow."""
    f, k = config.f, config.ring_bits
    return -(f + 1) * math.log(2.0), 2.0 * math.log(2.0) * ((k - 2.5) / 2 - f) - 0.05


def _square_chain(
    ctx: ProtocolContext, y: Value, steps: int, bound: float, out_bits: int | None = None
) -> Value:
    """y^(2^steps) as FXP with out_bits (default f) bits, for y <= bound."""
    return _power_chain(ctx, y, [2] * steps, bound, out_bits)


def _power_chain(
    ctx: ProtocolContext, y: Value, powers: list[int], bound: float, out_bits: int | None = None
) -> Value:
    """y^(prod powers) as FXP with out_bits (default f) bits, for y <= bound; each power is a
    square (the square kernel) or a cube (one cube opening).

    Each step keeps as many fraction bits as the ring allows for the largest value at that
    step and the next power (relative precision where it matters), capped at 32 (cheaper
    truncations)."""
    f, k = ctx.config.f, ctx.k
    last = f if out_bits is None else out_bits
    e = 1  # y is at most bound^e
    for i, p in enumerate(powers):
        e *= p
        if i == len(powers) - 1:
            nxt = last
        else:
            room = math.floor((k - 2.5) / powers[i + 1] - e * math.log2(bound))
            nxt = max(f, min(y.fxp_bits, room, max(32, f + 2)))
        raw = mul_batch(ctx, [(y, y)])[0] if p == 2 else hr._cube(ctx, y)[1]
        y = trunc_batch(ctx, [raw], p * y.fxp_bits - nxt)[0]
    return y


def _base_bits(ctx: ProtocolContext, bound: float, power: int = 2) -> int:
    """Fraction bits for a value <= bound that is about to be squared (or cubed)."""
    return min(ctx.config.f + 12, math.floor((ctx.k - 2.5) / power - math.log2(bound)))


def _cube_plan(ctx: ProtocolContext, n: int, hi: float) -> tuple[list[int], int] | None:
    """(powers, N) for (1 + x/N)^N with N = 3^c 4 >= 2^n in cubes then two squares, where the
    protocol has a cube kernel and the ring keeps the base precise (N 2^-p0 below 2^-(f+2)):
    semi2k FM128. None: use n squarings."""
    if not hr.has_cube(ctx) or n < 3:
        return None
    c = math.ceil((n - 2) / math.log2(3))
    big_n = 3**c * 4
    bound = 1.0 + hi / big_n
    p0 = _base_bits(ctx, bound, 3)
    if p0 < ctx.config.f + math.log2(big_n) + 2:
        return None
    return [3] * c + [2, 2], big_n


def exp_taylor(
    ctx: ProtocolContext, x: Value, iters: int | None = None, out_bits: int | None = None
) -> Value:
    """exp(x) ~ (1 + x/2^n)^(2^n), n = exp_taylor_iters (SPU's default method).

    The base is formed without a truncation when f + n fits the working precision, then n
    squarings, each keeping as many fraction bits as the ring allows. Where the protocol has a
    cube kernel and the ring is wide (semi2k FM128), N = 3^c 4 >= 2^n instead (324 for n = 8):
    the base costs one truncation (x / 324 is not a shift), then c cubes and 2 squarings, each
    cube one opening: 13 rounds, 124 B, and the method's error x^2 / 2N is smaller.
    Valid: -2^n < x <= hi (hi = 17.7 on FM64 f=18, 50.9 on FM128 f=26); the method's own error
    is relative ~x^2 / 2^(n+1): measured max abs 7.0 at x = 5 (n = 8, as SPU's 7.1), relative
    1e-4 at |x| <= 0.2. Cost: n squarings + n truncations; semi2k FM64, n = 8: 16 rounds, 96 B
    per element per party (SPU: 17 rounds, 100 B). Source: SPU `exp_taylor` (fxp_approx.cc).
    """
    n = ctx.config.approx.exp_taylor_iters if iters is None else iters
    f = ctx.config.f
    hi = exp_range(ctx.config)[1]
    plan = _cube_plan(ctx, n, hi)
    if plan is not None:
        powers, big_n = plan
        bound = 1.0 + hi / big_n
        p0 = _base_bits(ctx, bound, 3)
        extra = 40  # bits of 1/N's encoding beyond the base's
        scale = pub_int(ctx, round_scaled(1.0 / big_n, p0 - f + extra), ())
        t = hr._mul(ctx, x, scale, dtype=FXP, fxp_bits=p0 + extra)
        t = trunc_batch(ctx, [t], extra)[0]
        base = hr._add(ctx, t, pub_fxp(ctx, 1.0, p0), dtype=FXP, fxp_bits=p0)
        return _power_chain(ctx, base, powers, bound, out_bits)
    bound = 1.0 + hi / 2**n
    p0 = _base_bits(ctx, bound)
    t = hr.make(x, x.payload, fxp_bits=f + n)  # the same ring value read as x / 2^n
    t = with_bits(ctx, t, p0)
    base = hr._add(ctx, t, pub_fxp(ctx, 1.0, p0), dtype=FXP, fxp_bits=p0)
    return _square_chain(ctx, base, n, bound, out_bits)


def exp_pade(ctx: ProtocolContext, x: Value) -> Value:
    """exp(x), accurate: clamp to [lo, hi], e^t by a minimax polynomial at t = x/2^m, m squarings.

    veil's PADE mode plays the role of SPU's `exp_pade` (the accurate, range-reduced exp), with a
    minimax polynomial (degree 8, m = 4 on FM64; degree 7, m = 6 on FM128) instead of a Pade
    quotient (a quotient costs a reciprocal).
    Valid: all x; x < lo = -(f+1) ln 2 gives ~0, x > hi (17.7 on FM64, 50.9 on FM128) saturates.
    Error (measured, semi2k): relative 3e-6 plus 1-2 LSB (FM64), 2e-7 (FM128); max abs on
    [-5, 5] 1.4e-4 at x = 5 (SPU's Pade: 0.013). Cost (2PC semi2k FM64): clamp (1 sign-test
    batch, 1 product) + 3 product rounds + 4 truncations + 4 squarings: 19 rounds, 242 B per
    element per party (SPU's Pade: 46 rounds, 553 B).
    """
    lo, hi = exp_range(ctx.config)
    xc = clamp(ctx, x, constant(ctx, lo), constant(ctx, hi))
    return _exp_clamped(ctx, xc, lo, hi)


def _exp_clamped(ctx: ProtocolContext, xc: Value, lo: float, hi: float, out_bits: int | None = None) -> Value:
    """The PADE-mode polynomial + squarings for x already in [lo, hi]."""
    f = ctx.config.f
    m, coeffs = _EXP_FM64 if ctx.k == 64 else _EXP_FM128
    bound = math.exp(hi / 2**m) * 1.01
    p0 = _base_bits(ctx, bound)
    t = with_bits(ctx, hr.make(xc, xc.payload, fxp_bits=f + m), max(p0, f + m))
    base = poly_eval(ctx, t, coeffs, p0, bound=max(-lo, hi) / 2**m)
    return _square_chain(ctx, base, m, bound, out_bits)


def exp_nonpositive(ctx: ProtocolContext, v: Value, out_bits: int | None = None) -> Value:
    """exp(v) for v already known to lie in [lo, 0] (sigmoid callers), by the configured mode.

    Where the protocol exponentiates shares locally (semi2k 2PC, kernel `exp_prime_s`), that
    kernel runs whatever the mode: [lo, 0] lies inside its valid range, so it needs no clamp and
    costs 3 rounds and 84 B per element (Taylor: 16 rounds, 96 B), with < 1 LSB error.
    """
    if (
        v.is_secret
        and ctx.table.has("exp_prime_s")
        and hr.exp_prime_range(ctx)[0] <= exp_range(ctx.config)[0]
    ):
        keep = hr.to_secret(ctx, hr.public(ctx, hr.ring_int(ctx, v.shape, 1), DType.INT))
        e = hr._exp_prime(ctx, as_fxp(ctx, v), keep)
        return e if out_bits is None else with_bits(ctx, e, out_bits)
    mode = ctx.config.approx.exp
    if mode is ExpMode.TAYLOR:
        return exp_taylor(ctx, v, out_bits=out_bits)
    if mode is ExpMode.PADE:
        return _exp_clamped(ctx, v, exp_range(ctx.config)[0], 0.0, out_bits)
    return f_exp(ctx, v)


def f_exp(ctx: ProtocolContext, x: Value) -> Value:
    """exp(x) with the configured method (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, np.exp, x)
    if local is not None:
        return local
    x = as_fxp(ctx, x)
    mode = ctx.config.approx.exp
    if mode is ExpMode.TAYLOR:
        return exp_taylor(ctx, x)
    if mode is ExpMode.PADE:
        return exp_pade(ctx, x)
    if mode is ExpMode.PRIME:
        return exp_prime(ctx, x)
    raise ConfigError(f"f_exp: unknown exp mode {mode!r}")


def f_expm1(ctx: ProtocolContext, x: Value) -> Value:
    """exp(x) - 1 (same method and absolute error as f_exp)."""
    local = plain_map(ctx, np.expm1, x)
    if local is not None:
        return local
    return hr._sub(ctx, f_exp(ctx, x), constant(ctx, 1.0), dtype=FXP)
