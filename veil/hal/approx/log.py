"""Natural logarithm and log1p: minimax polynomial after normalising by the highest set bit."""

from __future__ import annotations

import math

import numpy as np

from veil.config import LogMode
from veil.dtypes import DType
from veil.errors import ConfigError
from veil.hal import ring as hr
from veil.hal.approx._kit import as_fxp, plain_map, poly_eval, pub_fxp
from veil.hal.approx.normalize import hmax_of, normalize
from veil.hal.fxp import constant
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP = DType.FXP

# minimax (absolute error) coefficients of log(y) in u = y - 0.75, y in [0.5, 1]
_LOG6 = (  # error 1.3e-6 (FM64: 1/3 LSB)
    -0.28768169690136935,
    1.3333673546560032,
    -0.8890369342722513,
    0.7858517245319862,
    -0.7805029876400835,
    0.9743760842211571,
    -1.1396922747659202,
)
_LOG8 = (  # error 2.9e-8 (FM128: 2 LSB)
    -0.2876820812971166,
    1.3333323319109798,
    -0.8888831532593356,
    0.7903340398982103,
    -0.7907394753122811,
    0.8309536769124417,
    -0.912902821869844,
    1.3112180787574717,
    -1.612786109713677,
)


def log_polynomial(ctx: ProtocolContext, x: Value) -> Value:
    """log(x) = P(y - 3/4) + e ln 2 for x = y 2^e, y in [0.5, 1] (x > 0).

    P: minimax polynomial of degree 6 (FM64) / 8 (FM128) on [0.5, 1]; the exponent term joins
    the polynomial's single final truncation. Valid: 2^-f <= x < 2^30 (FM64; 2^40 on FM128);
    x = 0 gives log(2^-(f+1)); x < 0 is undefined (garbage).
    Error (measured, semi2k): max abs 8e-6 on [2^-10, 2^20] (FM64), 5e-8 (FM128); SPU: 3e-5.
    Cost (2PC semi2k FM64): normalisation (13 sign tests, 2 product rounds), then u^2 and u^3
    from one cube opening + 1 truncation, 1 product level and the final truncation: 14 rounds,
    283 B per element per party (SPU: 26 rounds, 510 B). aby3 (no cube kernel): 26 rounds.
    Source: SPU's log (normalise by the highest bit, then a polynomial on the mantissa), with
    veil's comparison-based normalisation.
    """
    f = ctx.config.f
    coeffs, by = (_LOG6, f + 2) if ctx.k == 64 else (_LOG8, f + 10)
    nz = normalize(ctx, x, y_bits=by)
    u = hr._sub(ctx, nz.y, pub_fxp(ctx, 0.75, by), dtype=FXP, fxp_bits=by)
    e_bound = (hmax_of(ctx.config) + 1) * math.log(2.0)
    return poly_eval(ctx, u, coeffs, f, bound=0.25, extras=[(nz.exponent, math.log(2.0), e_bound)])


def f_log(ctx: ProtocolContext, x: Value) -> Value:
    """log(x) with the configured method (PUBLIC/PRIVATE inputs: exact float64)."""
    local = plain_map(ctx, np.log, x)
    if local is not None:
        return local
    mode = ctx.config.approx.log
    if mode is LogMode.POLYNOMIAL:
        return log_polynomial(ctx, as_fxp(ctx, x))
    raise ConfigError(f"f_log: unknown log mode {mode!r}; use 'polynomial'")


def f_log1p(ctx: ProtocolContext, x: Value) -> Value:
    """log(1 + x) for x > -1 (absolute error as f_log; the sum 1 + x is local)."""
    local = plain_map(ctx, np.log1p, x)
    if local is not None:
        return local
    x = as_fxp(ctx, x)
    return f_log(ctx, hr._add(ctx, x, constant(ctx, 1.0), dtype=FXP))
