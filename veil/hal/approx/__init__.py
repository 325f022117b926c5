"""Nonlinear functions on FXP HAL Values: one function per method, one dispatcher per function.

Each dispatcher `f_*(ctx, x[, y]) -> Value` picks its method from `ctx.config.approx`
(`veil.config.ApproxConfig`) and evaluates PUBLIC inputs (and PRIVATE ones, at their owner) in
float64 plaintext for free. Secret inputs run the method over the protocol; every method's
docstring states its formula, valid range, measured error, cost and source. Shared pieces:
`normalize` (|x| = y 2^e by a thermometer of sign tests) and `_kit` (batched products,
truncations, polynomials at a chosen precision).
"""

from __future__ import annotations

from veil.hal.approx.erf import f_erf
from veil.hal.approx.exp import f_exp, f_expm1
from veil.hal.approx.log import f_log, f_log1p
from veil.hal.approx.power import f_pow
from veil.hal.approx.reciprocal import f_div, f_reciprocal
from veil.hal.approx.sigmoid import f_sigmoid
from veil.hal.approx.sqrt import f_rsqrt, f_sqrt
from veil.hal.approx.tanh import f_tanh
from veil.hal.approx.trig import f_cos, f_sin

__all__ = [
    "f_cos",
    "f_div",
    "f_erf",
    "f_exp",
    "f_expm1",
    "f_log",
    "f_log1p",
    "f_pow",
    "f_reciprocal",
    "f_rsqrt",
    "f_sigmoid",
    "f_sin",
    "f_sqrt",
    "f_tanh",
]
