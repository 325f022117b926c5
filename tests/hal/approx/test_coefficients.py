"""The coefficient tables in float64: each meets the fit error its comment states (so a typo in
a coefficient fails here, before any protocol runs). Fits: Lawson-reweighted least squares on
Chebyshev nodes (near-minimax)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from veil.hal.approx import erf as E
from veil.hal.approx import exp as X
from veil.hal.approx import log as L
from veil.hal.approx import sigmoid as S
from veil.hal.approx import sqrt as Q
from veil.hal.approx import trig as T

Case = tuple[
    tuple[float, ...],
    Callable[[np.ndarray], np.ndarray],
    float,
    float,
    Callable[[np.ndarray], np.ndarray],
    float,
    bool,
]


def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


# name: (coefficients, f, lo, hi, variable, claimed max error, relative?)
CASES: dict[str, Case] = {
    "exp_fm64": (X._EXP_FM64[1], np.exp, -0.8331, 1.1115, lambda t: t, 8.2e-9, True),
    "exp_fm128": (X._EXP_FM128[1], np.exp, -0.3024, 0.8052, lambda t: t, 1.7e-9, True),
    "log6": (L._LOG6, np.log, 0.5, 1.0, lambda y: y - 0.75, 1.3e-6, False),
    "log8": (L._LOG8, np.log, 0.5, 1.0, lambda y: y - 0.75, 2.9e-8, False),
    "rsqrt6": (Q._RSQRT6, lambda y: y**-0.5, 0.5, 1.0, lambda y: y - 0.75, 1.9e-6, True),
    "rsqrt8": (Q._RSQRT8, lambda y: y**-0.5, 0.5, 1.0, lambda y: y - 0.75, 4.8e-8, True),
    "sqrt5": (Q._SQRT5, np.sqrt, 0.5, 1.0, lambda y: y - 0.75, 1.1e-6, True),
    "sqrt8": (Q._SQRT8, np.sqrt, 0.5, 1.0, lambda y: y - 0.75, 2.9e-9, True),
    "inv7": (S._INV7, lambda t: 1 / (1 + t), 0.0, 1.0, lambda t: t - 0.5, 1.5e-6, True),
    "inv11": (S._INV11, lambda t: 1 / (1 + t), 0.0, 1.0, lambda t: t - 0.5, 1.3e-9, True),
    "sigmoid_poly": (S._SIG_POLY, _sig, 0.0, 10.0, lambda u: (u - 5) / 8, 1.5e-4, False),
    "erf12": (E._ERF12[1], np.vectorize(math.erf), 0.0, 3.5, lambda u: (u - 1.75) / 2, 1.3e-6, False),
    "erf16": (E._ERF16[1], np.vectorize(math.erf), 0.0, 4.0, lambda u: (u - 2) / 2, 9.9e-8, False),
    "sin11": (T._SIN11, lambda w: np.sin(2 * np.pi * w), -0.502, 0.502, lambda w: w, 1.0e-7, False),
    "sin15": (T._SIN15, lambda w: np.sin(2 * np.pi * w), -0.502, 0.502, lambda w: w, 1.2e-11, False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_error_as_stated(name: str) -> None:
    coeffs, fn, lo, hi, var, claimed, rel = CASES[name]
    x = np.linspace(lo, hi, 20001)
    want = fn(x)
    err = np.abs(np.polynomial.polynomial.polyval(var(x), coeffs) - want)
    if rel:
        err = err / np.abs(want)
    assert err.max() <= claimed * 1.02
    assert err.max() >= claimed * 0.5  # the stated number is the real one, not a loose bound


def test_segments_error() -> None:
    """The piecewise-linear sigmoid's lines, evaluated as sigmoid_segments combines them."""
    x = np.linspace(-12, 12, 48001)
    knots = [-k for k in reversed(S._SEG_KNOTS)] + list(S._SEG_KNOTS)
    lines = [(1.0 - a, b) for a, b in reversed(S._SEG_LINES)] + list(S._SEG_LINES[1:])
    seg = np.searchsorted(np.asarray(knots), x, side="right")
    a = np.asarray([ln[0] for ln in lines])[seg]
    b = np.asarray([ln[1] for ln in lines])[seg]
    err = np.abs(a + b * x - _sig(x))
    assert 4.0e-3 < err.max() < 4.6e-3
